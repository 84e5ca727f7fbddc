//! The schema upgrade: a store written by the first release (version 1)
//! opens with this build, every migration since applied in one
//! transaction, its data kept, its schema the same as a new store's; a
//! version-8 store gets V9's CHECKs, which take the same values.

mod support;

use plugin_metastore::{CloudProviderType, MetadataStore, PluginExecutionMode};
use serde_json::json;
use support::{
    cloud_plugin, history, migration_files, old_version_file, sample_store, schema, sqlite3,
    sqlite3_result,
};

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

/// The `CREATE TABLE` statement of `table` in migration V1, as SQLite
/// keeps it.
fn v1_create(table: &str) -> String {
    let v1 = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/V1__initial_schema.sql"),
    )
    .unwrap();
    let start = v1.find(&format!("CREATE TABLE {table} (")).unwrap();
    let len = v1[start..].find(");").unwrap();
    v1[start..start + len + 1].to_owned()
}

#[test]
fn a_version_8_store_gets_its_checks_without_in_lists_and_keeps_their_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_store(dir.path(), "v8.db", 20);
    let store = MetadataStore::open(&path).unwrap();
    let mut cloud = cloud_plugin("gpu", "job", CloudProviderType::Coreweave, "running", None);
    cloud.execution_mode = PluginExecutionMode::Hybrid;
    store.save(&cloud).unwrap();
    drop(store);
    // Back to what a version-8 store holds: V1's texts, no V9 in the history.
    let quote = |s: &str| s.replace('\'', "''");
    sqlite3(
        &path,
        &format!(
            "BEGIN; PRAGMA writable_schema = ON; \
             UPDATE sqlite_master SET sql = '{}' WHERE type = 'table' AND name = 'plugins'; \
             UPDATE sqlite_master SET sql = '{}' WHERE type = 'table' AND name = 'remote_resources'; \
             PRAGMA writable_schema = RESET; \
             DELETE FROM refinery_schema_history WHERE version = 9; \
             CREATE TABLE bump (x); DROP TABLE bump; COMMIT;",
            quote(&v1_create("plugins")),
            quote(&v1_create("remote_resources"))
        ),
    );
    let in_lists = "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
                    AND (sql LIKE '%execution_mode IN (%' OR sql LIKE '%provider IN (%')";
    assert_eq!(sqlite3(&path, in_lists), "2");
    let rows = "SELECT * FROM plugins ORDER BY id; SELECT * FROM remote_resources; \
                SELECT * FROM plugin_pids ORDER BY rowid; SELECT * FROM remote_status_history";
    let before = sqlite3(&path, rows);

    let store = MetadataStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 9);
    drop(store);
    assert_eq!(sqlite3(&path, in_lists), "0");
    assert_eq!(sqlite3(&path, rows), before);
    assert_eq!(sqlite3(&path, "PRAGMA integrity_check"), "ok");
    let fresh = dir.path().join("fresh.db");
    drop(MetadataStore::open(&fresh).unwrap());
    assert_eq!(schema(&path), schema(&fresh));

    // Every value the old CHECKs took, and none other.
    for mode in PluginExecutionMode::ALL {
        sqlite3(
            &path,
            &format!(
                "UPDATE plugins SET execution_mode = '{}' WHERE id = 1",
                mode.as_str()
            ),
        );
    }
    for provider in CloudProviderType::ALL {
        sqlite3(
            &path,
            &format!(
                "UPDATE remote_resources SET provider = '{}'",
                provider.as_str()
            ),
        );
    }
    for bad in [
        "UPDATE plugins SET execution_mode = 'cloud' WHERE id = 1",
        "UPDATE plugins SET execution_mode = 'Docker' WHERE id = 1",
        "UPDATE remote_resources SET provider = 'ibm'",
        "UPDATE remote_resources SET provider = NULL",
    ] {
        let err = sqlite3_result(&path, bad).unwrap_err();
        assert!(err.contains("constraint failed"), "{bad}: {err}");
    }
}
