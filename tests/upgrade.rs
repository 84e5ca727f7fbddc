//! The schema upgrade: a store written by the first release (version 1)
//! opens with this build, every migration since applied in one
//! transaction, its data kept, its schema the same as a new store's.

mod support;

use plugin_metastore::MetadataStore;
use serde_json::json;
use support::{history, migration_files, old_version_file, schema, sqlite3};

#[test]
fn a_version_1_database_upgrades_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("v1.db");
    old_version_file(&old);
    assert_eq!(
        sqlite3(&old, "SELECT max(version) FROM refinery_schema_history"),
        "1"
    );
    let before_plugins = sqlite3(&old, "SELECT * FROM plugins ORDER BY id");
    let before_pids = sqlite3(
        &old,
        "SELECT * FROM plugin_pids ORDER BY plugin_id, position",
    );
    let before_remote = sqlite3(&old, "SELECT * FROM remote_resources ORDER BY plugin_id");

    let store = MetadataStore::open(&old).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        MetadataStore::latest_schema_version()
    );
    drop(store);
    assert_eq!(
        sqlite3(&old, "SELECT * FROM plugins ORDER BY id"),
        before_plugins
    );
    assert_eq!(
        sqlite3(
            &old,
            "SELECT plugin_id, position, pid FROM plugin_pids ORDER BY plugin_id, position"
        ),
        before_pids
    );
    // Rows older than the identity columns keep NULLs there.
    assert_eq!(
        sqlite3(
            &old,
            "SELECT count(*) FROM plugin_pids \
             WHERE start_time IS NULL AND boot_id IS NULL AND recorded_at IS NULL"
        ),
        sqlite3(&old, "SELECT count(*) FROM plugin_pids")
    );
    assert_eq!(
        sqlite3(&old, "SELECT * FROM remote_resources ORDER BY plugin_id"),
        before_remote
    );
    assert_eq!(history(&old), migration_files());

    let fresh = dir.path().join("fresh.db");
    drop(MetadataStore::open(&fresh).unwrap());
    assert_eq!(schema(&old), schema(&fresh));

    // The old rows read back through the library, views included.
    let store = MetadataStore::open(&old).unwrap();
    let tool = store.get("tools", "docker_tool").unwrap().unwrap();
    assert_eq!(tool.container_id.as_deref(), Some("c0ffee"));
    assert_eq!(tool.description.as_deref(), Some(""));
    let remote = tool.remote_resource.unwrap();
    assert_eq!(
        (remote.ssh_port, remote.estimated_cost_per_hour),
        (2222, Some(0.0))
    );
    assert_eq!(remote.metadata.get("note"), Some(&json!("ünï")));
    assert_eq!(
        store
            .get("transcription", "voxtral_vllm")
            .unwrap()
            .unwrap()
            .spawned_pids,
        [54321, 54322, 54323]
    );
    assert_eq!(
        sqlite3(
            &old,
            "SELECT unique_id FROM active_resources ORDER BY unique_id"
        ),
        "finetuning_llm_finetune_aws\ntools_docker_tool\ntranscription_voxtral_vllm"
    );
}
