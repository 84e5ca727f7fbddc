//! The store's foundation, through the public API on real files: round
//! trips, upserts, cascades, refused input, the Python JSON layout, and the
//! file as seen by the real `sqlite3` binary. (Files the store must refuse,
//! and hand edits the schema refuses, are in `reliability.rs`.)

mod support;

use plugin_metastore::{
    CloudProviderType, Error, MetadataStore, PluginExecutionMode, PluginMetadata,
    RemoteResourceInfo, seed,
};
use serde_json::json;
use support::{
    ambiguous_pair, migration_files, schema, seed_store, sqlite3, table_rows, temp_store,
    unusual_plugin,
};

#[test]
fn every_field_round_trips_exactly() {
    let (_dir, db, store) = temp_store("plugins.db");
    let full = unusual_plugin();
    let bare = PluginMetadata::new("bare", "c", "", json!({}));
    store.save(&full).unwrap();
    store.save(&bare).unwrap();
    assert_eq!(
        store.get(&full.category, &full.name).unwrap(),
        Some(full.clone())
    );
    assert_eq!(store.get("c", "bare").unwrap(), Some(bare.clone()));
    // Again from a fresh connection, so nothing comes from a cache.
    drop(store);
    let store = MetadataStore::open(&db).unwrap();
    let got = store.get(&full.category, &full.name).unwrap().unwrap();
    assert_eq!(got, full);
    // JSON key order survives (the config schema is a form's field order).
    assert_eq!(
        serde_json::to_string(&got.config_schema).unwrap(),
        serde_json::to_string(&full.config_schema).unwrap()
    );
    assert_eq!(got.description.as_deref(), Some(""));
    assert_eq!(got.remote_resource.as_ref().unwrap().ssh_host, None);
    assert_eq!(store.list().unwrap(), vec![bare, full]);
}

#[test]
fn every_enum_value_and_edge_numbers_round_trip() {
    let store = MetadataStore::open_in_memory().unwrap();
    let costs = [
        0.0,
        5e-324,
        f64::MIN_POSITIVE,
        0.1,
        12.24,
        1e15 + 0.5,
        f64::MAX,
    ];
    let mut saved = Vec::new();
    for (i, mode) in PluginExecutionMode::ALL.iter().enumerate() {
        for (j, provider) in CloudProviderType::ALL.iter().enumerate() {
            let mut p = PluginMetadata::new(format!("p{i}_{j}"), "enums", "t", json!({}));
            p.execution_mode = *mode;
            let mut r = RemoteResourceInfo::new(*provider);
            r.estimated_cost_per_hour = Some(costs[(i + j) % costs.len()]);
            r.ssh_port = 0;
            p.remote_resource = Some(r);
            saved.push(p);
        }
    }
    store.save_all(&saved).unwrap();
    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 81);
    saved.sort_by(|a, b| (&a.category, &a.name).cmp(&(&b.category, &b.name)));
    for (got, want) in listed.iter().zip(&saved) {
        assert_eq!(got, want);
        let (g, w) = (
            got.remote_resource
                .as_ref()
                .unwrap()
                .estimated_cost_per_hour
                .unwrap(),
            want.remote_resource
                .as_ref()
                .unwrap()
                .estimated_cost_per_hour
                .unwrap(),
        );
        assert_eq!(g.to_bits(), w.to_bits(), "cost {w} changed");
    }
}

#[test]
fn a_megabyte_of_json_round_trips() {
    let store = MetadataStore::open_in_memory().unwrap();
    let big: serde_json::Map<String, serde_json::Value> = (0..20_000)
        .map(|i| {
            (
                format!("field_{i:05}"),
                json!({"type": "string", "default": "x".repeat(20)}),
            )
        })
        .collect();
    let schema = serde_json::Value::Object(big);
    assert!(serde_json::to_string(&schema).unwrap().len() > 1_000_000);
    let p = PluginMetadata::new("big", "json", "Big", schema);
    store.save(&p).unwrap();
    assert_eq!(store.get("json", "big").unwrap(), Some(p));
}

/// Saves Voxtral (three PIDs) with an AWS resource: where the tests of
/// changing and deleting a plugin start. Returns what was saved.
fn saved_voxtral_on_aws(store: &MetadataStore) -> PluginMetadata {
    let mut p = seed::voxtral_vllm();
    p.remote_resource = Some(seed::aws_resource());
    store.save(&p).unwrap();
    p
}

#[test]
fn save_replaces_fields_pids_and_remote_and_keeps_created_at() {
    let (_dir, db, store) = temp_store("plugins.db");
    let mut p = saved_voxtral_on_aws(&store);
    let created = sqlite3(&db, "SELECT created_at FROM plugins");
    p.title = "New title".into();
    p.spawned_pids = vec![7, 5];
    p.remote_resource = Some(seed::lambda_resource());
    store.save(&p).unwrap();
    assert_eq!(store.get(&p.category, &p.name).unwrap(), Some(p.clone()));
    assert_eq!(table_rows(&db, "plugins"), 1);
    assert_eq!(
        sqlite3(
            &db,
            "SELECT position, pid FROM plugin_pids ORDER BY position"
        ),
        "0|7\n1|5"
    );
    assert_eq!(
        sqlite3(&db, "SELECT provider FROM remote_resources"),
        "lambda_labs"
    );
    assert_eq!(sqlite3(&db, "SELECT created_at FROM plugins"), created);
    let updated = sqlite3(&db, "SELECT updated_at > created_at FROM plugins");
    assert_eq!(updated, "1");

    p.spawned_pids.clear();
    p.remote_resource = None;
    store.save(&p).unwrap();
    assert_eq!(table_rows(&db, "plugin_pids"), 0);
    assert_eq!(table_rows(&db, "remote_resources"), 0);
    assert_eq!(store.get(&p.category, &p.name).unwrap(), Some(p));
}

#[test]
fn delete_cascades_to_pids_and_remote_resource() {
    let (_dir, db, store) = temp_store("plugins.db");
    let p = saved_voxtral_on_aws(&store);
    store.save(&seed::llm_finetune_aws()).unwrap();
    assert_eq!(table_rows(&db, "plugin_pids"), 3);
    assert_eq!(table_rows(&db, "remote_resources"), 2);
    assert!(store.delete(&p.category, &p.name).unwrap());
    assert!(!store.delete(&p.category, &p.name).unwrap());
    assert_eq!(table_rows(&db, "plugins"), 1);
    assert_eq!(table_rows(&db, "plugin_pids"), 0);
    assert_eq!(table_rows(&db, "remote_resources"), 1);
    assert_eq!(store.get(&p.category, &p.name).unwrap(), None);
}

#[test]
fn bad_input_is_refused_and_nothing_is_written() {
    let (_dir, db, store) = temp_store("plugins.db");
    store.save(&seed::whisper_tiny()).unwrap();
    let before = sqlite3(&db, ".dump");

    let mut cases: Vec<(PluginMetadata, &str)> = Vec::new();
    let ok = seed::voxtral_vllm();
    let mut p = ok.clone();
    p.name.clear();
    cases.push((p, "name: must not be empty"));
    let mut p = ok.clone();
    p.category.clear();
    cases.push((p, "category: must not be empty"));
    for (schema, kind) in [
        (json!([]), "an array"),
        (json!("s"), "a string"),
        (json!(null), "null"),
    ] {
        let mut p = ok.clone();
        p.config_schema = schema;
        cases.push((p, kind));
    }
    let mut p = ok.clone();
    p.spawned_pids = vec![1, 0];
    cases.push((p, "PID 0"));
    let mut p = ok.clone();
    p.spawned_pids = vec![9, 8, 9];
    cases.push((p, "PID 9 is listed twice"));
    for (cost, shown) in [
        (f64::NAN, "NaN"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
        (-0.01, "-0.01"),
    ] {
        let mut p = seed::llm_finetune_aws();
        p.remote_resource.as_mut().unwrap().estimated_cost_per_hour = Some(cost);
        cases.push((p, shown));
    }

    for (bad, needle) in &cases {
        let err = store.save(bad).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert!(
            err.to_string().contains(needle),
            "{err} should mention {needle}"
        );
        // save_all with a good plugin first: still nothing written.
        let err = store.save_all([&ok, bad]).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    }
    assert_eq!(
        sqlite3(&db, ".dump"),
        before,
        "a refused save wrote something"
    );
    assert_eq!(store.list().unwrap(), vec![seed::whisper_tiny()]);
}

#[test]
fn save_all_is_all_or_nothing_when_sqlite_fails_midway() {
    let (_dir, db, store) = temp_store("plugins.db");
    // A trigger (added by hand, as a person could) makes the third insert fail
    // inside SQLite, after two plugins were written in the transaction.
    sqlite3(
        &db,
        "CREATE TRIGGER refuse_c AFTER INSERT ON plugins WHEN NEW.name = 'c' \
         BEGIN SELECT RAISE(ABORT, 'no c'); END;",
    );
    let plugins: Vec<PluginMetadata> = ["a", "b", "c"]
        .iter()
        .map(|n| PluginMetadata::new(*n, "x", "t", json!({})))
        .collect();
    let err = store.save_all(&plugins).unwrap_err();
    assert!(err.to_string().contains("no c"), "{err}");
    assert_eq!(table_rows(&db, "plugins"), 0);
    assert_eq!(store.list().unwrap(), vec![]);
}

#[test]
fn unique_id_lookup_and_ambiguity() {
    let store = MetadataStore::open_in_memory().unwrap();
    store.save_all(&seed::plugins()).unwrap();
    let p = store
        .get_by_unique_id("transcription_whisper_tiny")
        .unwrap();
    assert_eq!(p, Some(seed::whisper_tiny()));
    assert_eq!(store.get_by_unique_id("transcription_nope").unwrap(), None);
    assert_eq!(store.get_by_unique_id("noseparator").unwrap(), None);

    store.save_all(&ambiguous_pair()).unwrap();
    match store.get_by_unique_id("a_b_c") {
        Err(Error::AmbiguousId { id, candidates }) => {
            assert_eq!(id, "a_b_c");
            assert_eq!(
                candidates,
                vec![
                    ("a".to_owned(), "b_c".to_owned()),
                    ("a_b".to_owned(), "c".to_owned())
                ]
            );
        }
        other => panic!("expected AmbiguousId, got {other:?}"),
    }
}

#[test]
fn python_layout_json_minimal_and_full() {
    // Minimal: only the required fields; everything else takes Python's defaults.
    let minimal = r#"{"name": "n", "category": "c", "title": "T", "config_schema": {}}"#;
    let p: PluginMetadata = serde_json::from_str(minimal).unwrap();
    assert_eq!(p, PluginMetadata::new("n", "c", "T", json!({})));
    assert_eq!(p.execution_mode, PluginExecutionMode::InProcess);

    // Full: what `json.dumps(dataclasses.asdict(p), default=lambda e: e.value)`
    // prints for the seed's cloud plugin, key order included.
    let full = r#"{"name": "llm_finetune_aws", "category": "finetuning", "title": "AWS LLM Finetuning", "config_schema": {"type": "object", "properties": {}}, "description": null, "version": null, "is_configured": false, "execution_mode": "cloud_gpu", "manages_child_processes": false, "manages_external_resources": true, "spawned_pids": [], "container_id": null, "conda_env_name": null, "remote_resource": {"provider": "aws", "region": null, "instance_id": "i-abcd1234", "job_id": null, "endpoint_url": null, "ssh_host": null, "ssh_port": 22, "status": "running", "resource_type": null, "gpu_count": 8, "gpu_type": "A100", "estimated_cost_per_hour": 24.5, "metadata": {}}}"#;
    let p: PluginMetadata = serde_json::from_str(full).unwrap();
    assert_eq!(p, seed::llm_finetune_aws());
    // Back to the same JSON: Python's separators are ", " and ": ".
    let back = serde_json::to_string(&p).unwrap();
    let python_style = back.replace("\":", "\": ").replace(",\"", ", \"");
    assert_eq!(python_style, full);

    let bad = r#"{"name": "n", "category": "c", "title": "T", "config_schema": {}, "execution_mode": "Docker"}"#;
    let err = serde_json::from_str::<PluginMetadata>(bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Docker"), "{err}");
}

#[test]
fn the_file_reads_well_in_sqlite3() {
    let (_dir, db, _store) = seed_store("plugins.db");

    // The tables and views people query are there (later migrations may
    // add more), and the history lists every migration the build has.
    let objects: Vec<(String, String)> =
        schema(&db).into_iter().map(|o| (o.kind, o.name)).collect();
    for (kind, name) in [
        ("table", "plugins"),
        ("table", "plugin_pids"),
        ("table", "remote_resources"),
        ("table", "refinery_schema_history"),
        ("view", "plugin_overview"),
        ("view", "active_resources"),
        ("view", "remote_overview"),
    ] {
        let object = (kind.to_owned(), name.to_owned());
        assert!(objects.contains(&object), "no {kind} {name} in {objects:?}");
    }
    let migrations = migration_files();
    let versions: Vec<String> = migrations.iter().map(|(v, _)| v.to_string()).collect();
    assert_eq!(
        sqlite3(
            &db,
            "SELECT version FROM refinery_schema_history ORDER BY version"
        ),
        versions.join("\n")
    );
    assert_eq!(
        migrations.last().map(|(v, _)| *v),
        Some(MetadataStore::latest_schema_version()),
        "the build embeds the migrations in migrations/"
    );
    assert_eq!(sqlite3(&db, "PRAGMA journal_mode"), "wal");
    let row = sqlite3(
        &db,
        "SELECT execution_mode, config_schema, is_configured, typeof(created_at) \
         FROM plugins WHERE name = 'whisper_tiny'",
    );
    assert_eq!(
        row,
        r#"in_process|{"type":"object","properties":{"device":{"type":"string","enum":["cpu","cuda"],"default":"cpu"}}}|1|text"#
    );
    let row = sqlite3(
        &db,
        "SELECT r.provider, r.status, r.estimated_cost_per_hour, r.metadata \
         FROM remote_resources r JOIN plugins p ON p.id = r.plugin_id WHERE p.name = 'whisper_large_aws'",
    );
    assert_eq!(row, "aws|running|12.24|{}");
    // Timestamps are RFC 3339 UTC that SQLite's date functions understand.
    let ts = sqlite3(&db, "SELECT updated_at FROM plugins LIMIT 1");
    assert!(chrono::DateTime::parse_from_rfc3339(&ts).is_ok(), "{ts}");
    assert!(ts.ends_with('Z'), "{ts}");
    assert_eq!(
        sqlite3(
            &db,
            "SELECT julianday(updated_at) > 2460000 FROM plugins LIMIT 1"
        ),
        "1"
    );
    // The store's integrity: foreign keys and the file itself.
    assert_eq!(sqlite3(&db, "PRAGMA foreign_key_check"), "");
    assert_eq!(sqlite3(&db, "PRAGMA integrity_check"), "ok");
}

#[test]
fn reopening_a_current_file_writes_nothing() {
    let (_dir, db, store) = seed_store("plugins.db");
    drop(store);
    // The last close checkpointed the WAL into the file.
    let bytes = std::fs::read(&db).unwrap();
    let again = MetadataStore::open(&db).unwrap();
    assert_eq!(
        again.schema_version().unwrap(),
        MetadataStore::latest_schema_version()
    );
    assert_eq!(again.list().unwrap(), seed::plugins());
    drop(again);
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
}

#[cfg(unix)]
#[test]
fn a_new_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, db, store) = temp_store("plugins.db");
    store.save(&seed::whisper_tiny()).unwrap();
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let wal = dir.path().join("plugins.db-wal");
    let mode = std::fs::metadata(&wal).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the WAL holds the same data");
}

#[test]
fn any_busy_timeout_is_accepted() {
    use plugin_metastore::StoreOptions;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    for timeout in [Duration::ZERO, Duration::from_millis(1), Duration::MAX] {
        let store = MetadataStore::open_with(
            dir.path().join("plugins.db"),
            StoreOptions::new().busy_timeout(timeout),
        )
        .unwrap();
        store.save(&seed::whisper_tiny()).unwrap();
        assert_eq!(store.list().unwrap(), vec![seed::whisper_tiny()]);
    }
}

/// Every error is whole where the caller gets it: it names the file it
/// happened in (also for a bad row, an unreadable file, a locked store),
/// and it serializes as `{kind, message}` with a stable kind word, so an
/// app (a Tauri command) can hand it to a web view as it is.
#[test]
fn errors_name_their_file_and_serialize_as_kind_and_message() {
    let (dir, db, store) = temp_store("plugins.db");
    let shown = db.display().to_string();
    let as_json = |e: &Error| serde_json::to_value(e).unwrap();

    let missing = store.set_container_id("nope", "x", Some("c")).unwrap_err();
    assert_eq!(
        as_json(&missing),
        json!({"kind": "not_found", "message": "no plugin with category \"nope\" and name \"x\""})
    );

    let bad_pid = store.add_pid("nope", "x", 0).unwrap_err();
    assert_eq!(as_json(&bad_pid)["kind"], "invalid_input");

    // A value forced into the file by hand: the error names the file,
    // table, column, row and value, with no patching by the caller.
    store
        .save(&PluginMetadata::new("p", "c", "P", json!({})))
        .unwrap();
    sqlite3(
        &db,
        "PRAGMA ignore_check_constraints = 1; UPDATE plugins SET is_configured = 7 WHERE name = 'p'",
    );
    let bad = store.get("c", "p").unwrap_err();
    let Error::BadData {
        path,
        table,
        column,
        value,
        ..
    } = &bad
    else {
        panic!("{bad:?}");
    };
    assert_eq!(
        (path, *table, *column, value.as_str()),
        (&db, "plugins", "is_configured", "7")
    );
    let json = as_json(&bad);
    assert_eq!(json["kind"], "bad_data");
    assert!(json["message"].as_str().unwrap().contains(&shown), "{json}");
    // The same row read through a list skipping bad rows: the same, whole.
    let skipped = store
        .for_each_readable(&plugin_metastore::PluginQuery::new(), |_| Ok(()))
        .unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].to_string(), bad.to_string());

    // Not a store at all.
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "hello, this is not a database at all, not even close\n".repeat(100),
    )
    .unwrap();
    let refused = MetadataStore::open(&text).unwrap_err();
    assert_eq!(as_json(&refused)["kind"], "not_a_store");
    assert!(refused.to_string().contains("notes.txt"), "{refused}");

    // Another connection holds the write lock past the busy timeout.
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let waited = std::time::Duration::from_millis(50);
    let impatient = MetadataStore::open_with(
        &db,
        plugin_metastore::StoreOptions::new().busy_timeout(waited),
    )
    .unwrap();
    let busy = impatient
        .save(&PluginMetadata::new("q", "c", "Q", json!({})))
        .unwrap_err();
    assert!(
        matches!(&busy, Error::Busy { path, waited: w } if *path == db && *w == waited),
        "{busy:?}"
    );
    assert_eq!(as_json(&busy)["kind"], "busy");
    holder.execute_batch("ROLLBACK").unwrap();

    let kinds: Vec<&str> = [missing, bad_pid, bad, refused, busy]
        .iter()
        .map(Error::kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "not_found",
            "invalid_input",
            "bad_data",
            "not_a_store",
            "busy"
        ]
    );
}
