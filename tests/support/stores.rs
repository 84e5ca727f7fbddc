//! New stores in temporary directories: the directory, the file and the
//! open store in one line, all gone when the directory is dropped.

use std::path::PathBuf;

use plugin_metastore::MetadataStore;
use tempfile::TempDir;

/// A new temporary directory holding the store file `name`, created and
/// open. Bind all three (`let (_dir, db, store) = …`): the directory is
/// removed when its binding goes, after the store (bound later) closes.
pub fn temp_store(name: &str) -> (TempDir, PathBuf, MetadataStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let store = MetadataStore::open(&path).unwrap();
    (dir, path, store)
}

/// [`temp_store`] holding the seed's example plugins.
pub fn seed_store(name: &str) -> (TempDir, PathBuf, MetadataStore) {
    let (dir, path, store) = temp_store(name);
    store.save_all(&plugin_metastore::seed::plugins()).unwrap();
    (dir, path, store)
}

/// [`temp_store`] with one plugin, `workers/pool`, and no PIDs: the stage
/// of the process tests (see [`super::store_with_pool`]).
pub fn pool_store(name: &str) -> (TempDir, PathBuf, MetadataStore) {
    let dir = tempfile::tempdir().unwrap();
    let (path, store) = super::store_with_pool(dir.path(), name);
    (dir, path, store)
}
