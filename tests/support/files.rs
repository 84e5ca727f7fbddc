//! Files the store did not make in this run: a store left by an old
//! version, and the list of migrations a build embeds.

use std::path::Path;

/// Creates at `path` a store file as a build with only the first migration
/// (V1) left it: the committed snapshot `tests/fixtures/v1_snapshot.sql`
/// (`sqlite3 .dump` of such a file, never edited), loaded in WAL mode as
/// that build had set it. Its history holds V1 with the checksum of
/// `migrations/V1__initial_schema.sql`, so an edit to that migration makes
/// the upgrade fail.
///
/// It holds four plugins: `transcription/whisper_tiny`,
/// `transcription/voxtral_vllm` (PIDs 54321, 54322, 54323, an empty
/// container id), `finetuning/llm_finetune_aws` (a running AWS resource)
/// and `tools/docker_tool` (container `c0ffee`, a stopped custom resource
/// on port 2222 with `{"note": "ünï"}` as metadata).
pub fn old_version_file(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.execute_batch(include_str!("../fixtures/v1_snapshot.sql"))
        .unwrap();
}

/// The migrations in `migrations/` as `(version, name)` in version order:
/// `V2__query_indexes_and_views.sql` is `(2, "query_indexes_and_views")`.
/// What a store file's history must say once the store has opened it, so
/// tests need no edit when a migration is added.
pub fn migration_files() -> Vec<(i64, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut found: Vec<(i64, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|entry| {
            let file = entry.unwrap().file_name().into_string().ok()?;
            let (version, name) = file
                .strip_prefix('V')?
                .strip_suffix(".sql")?
                .split_once("__")?;
            Some((version.parse().ok()?, name.to_owned()))
        })
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no V*__*.sql in {}", dir.display());
    found
}

/// Every entry in `dir` with the bytes of each regular file (a FIFO is
/// listed, never read: reading it would block): what a refused open must
/// leave as it was.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let regular = std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file());
            let bytes = if regular {
                std::fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            (p, bytes)
        })
        .collect()
}
