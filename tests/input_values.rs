//! Values handed to the store, each tested as a class: JSON numbers round
//! trip exactly or are refused by name, stored and imported text never
//! reaches the terminal raw, validation refuses what the schema refuses,
//! one class of mistake gets one answer, and a bad row blocks neither the
//! rest nor its own repair.

mod support;

use std::path::Path;

use plugin_metastore::{Error, MetadataStore};
use support::{Demo, cli_outcome, sample, sample_dir, sample_store, sqlite3};

/// JSON numbers in `config_schema` and `metadata` that the model holds
/// exactly (integers within `i64`/`u64`, any finite `f64`) come back as the
/// same number through the library and through import → export (a float's
/// spelling is normalised: `1e+2` is written `100.0`, `1e308` `1e+308`).
#[test]
fn json_numbers_within_64_bits_round_trip_exactly() {
    let numbers = [
        ("18446744073709551615", "18446744073709551615"),
        ("-9223372036854775808", "-9223372036854775808"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        ("1.090410406373076e225", "1.090410406373076e+225"),
        ("1e+2", "100.0"),
        ("1.0", "1.0"),
        ("-0.0", "-0.0"),
        ("0.1", "0.1"),
        ("5e-324", "5e-324"),
    ];
    let list = numbers.map(|(n, _)| n).join(", ");
    let back_list = numbers.map(|(_, b)| b).join(",");
    let record = format!(
        r#"{{"name": "n", "category": "c", "title": "t",
            "config_schema": {{"type": "object", "numbers": [{list}]}},
            "execution_mode": "cloud_gpu",
            "remote_resource": {{"provider": "aws", "metadata": {{"numbers": [{list}]}}}}}}"#
    );
    let plugin = plugin_metastore::PluginMetadata::from_json_records(&record).unwrap();
    let store = MetadataStore::open_in_memory().unwrap();
    store.save(&plugin[0]).unwrap();
    let back = serde_json::to_string(&store.get("c", "n").unwrap().unwrap()).unwrap();
    assert_eq!(back.matches(&format!("[{back_list}]")).count(), 2, "{back}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.json");
    std::fs::write(&file, &record).unwrap();
    let db = dir.path().join("n.db");
    let db = db.to_str().unwrap();
    assert_eq!(
        cli_outcome(&["--db", db, "import", file.to_str().unwrap()]).0,
        0
    );
    let (code, exported, _) = cli_outcome(&["--db", db, "export"]);
    assert_eq!(code, 0);
    for (_, n) in numbers {
        let lines = exported
            .lines()
            .filter(|l| l.trim().trim_end_matches(',') == n)
            .count();
        assert_eq!(lines, 2, "{n} in {exported}");
    }
}

/// An integer beyond 64 bits (Python writes them) cannot be held exactly
/// without serde_json's `arbitrary_precision`, which the crate leaves off:
/// reading records refuses it naming the field, its path, the number and
/// the record; a CLI import of it writes nothing; a stored one (written by
/// hand) is reported as bad data naming the column and the number. A float
/// beyond `f64` is refused by name as well.
#[test]
fn json_integers_beyond_64_bits_are_refused_by_name() {
    for (number, field, at) in [
        (
            "18446744073709551616",
            "config_schema",
            "config_schema.numbers[1]",
        ),
        (
            "-9223372036854775809",
            "remote_resource.metadata",
            "remote_resource.metadata.numbers[1]",
        ),
        (
            "123456789012345678901234567890",
            "config_schema",
            "config_schema.numbers[1]",
        ),
    ] {
        let (schema, metadata) = if field == "config_schema" {
            (format!("[1, {number}]"), "[1]".to_owned())
        } else {
            ("[1]".to_owned(), format!("[1, {number}]"))
        };
        let records = format!(
            r#"[{{"name": "ok", "category": "c", "title": "t", "config_schema": {{}}}},
                {{"name": "n", "category": "c", "title": "t",
                "config_schema": {{"numbers": {schema}}},
                "execution_mode": "cloud_gpu",
                "remote_resource": {{"provider": "aws", "metadata": {{"numbers": {metadata}}}}}}}]"#
        );
        match plugin_metastore::PluginMetadata::from_json_records(&records) {
            Err(Error::InvalidInput {
                field: got, reason, ..
            }) => {
                assert_eq!(got, field, "{reason}");
                assert!(reason.starts_with("record 2 (c_n): "), "{reason}");
                assert!(
                    reason.contains(&format!("integer {number} at {at} ")),
                    "{reason}"
                );
            }
            other => panic!("{number}: {other:?}"),
        }

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.json");
        std::fs::write(&file, &records).unwrap();
        let db = dir.path().join("n.db");
        let db = db.to_str().unwrap();
        let (code, out, err) = cli_outcome(&["--db", db, "import", file.to_str().unwrap()]);
        assert_ne!(code, 0, "{out}");
        assert!(err.contains("record 2 (c_n): "), "{err}");
        assert!(err.contains(&format!("integer {number} at {at} ")), "{err}");
        assert!(!Path::new(db).exists(), "a refused import created {db}");
    }

    // A float beyond f64 is refused too, by serde_json, and named.
    let records =
        r#"[{"name": "n", "category": "c", "title": "t", "config_schema": {"x": -1e400}}]"#;
    match plugin_metastore::PluginMetadata::from_json_records(records) {
        Err(Error::InvalidInput { reason, .. }) => {
            assert!(
                reason.starts_with("the number -1e400 at line 1 column "),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.json");
    std::fs::write(&file, records).unwrap();
    let db = dir.path().join("f.db");
    let (code, _, err) = cli_outcome(&[
        "--db",
        db.to_str().unwrap(),
        "import",
        file.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("the number -1e400 at line 1 column "), "{err}");
    assert!(!db.exists());

    let (_dir, db) = sample_dir("by-hand.db", 1);
    let plugin = MetadataStore::open(&db).unwrap().list().unwrap().remove(0);
    sqlite3(
        &db,
        &format!(
            "UPDATE plugins SET config_schema = '{{\"n\": [18446744073709551616]}}' WHERE name = '{}'",
            plugin.name
        ),
    );
    let store = MetadataStore::open(&db).unwrap();
    match store.get(&plugin.category, &plugin.name) {
        Err(Error::BadData {
            column,
            value,
            reason,
            ..
        }) => {
            assert_eq!(
                (column, value.as_str()),
                ("config_schema", "18446744073709551616")
            );
            assert!(reason.contains("beyond 64 bits at n[0]"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// Text a terminal would act on or hide — escape sequences, carriage
/// returns, bidi overrides, zero-width characters — never reaches it raw,
/// whichever way it is printed: the list table, `show`, `check`, and error
/// messages that quote an imported record (its id, serde's "unknown
/// variant" text).
#[test]
fn stored_and_imported_text_never_reaches_the_terminal_raw() {
    let hostile = [
        "\u{1b}[31mred\u{1b}[0m",
        "over\rwrite",
        "back\u{8}space",
        "\u{202e}desrever",
        "zero\u{200b}width",
        "bom\u{feff}",
        "c1\u{9b}31m",
        "tag\u{e0041}",
    ];
    let raw = |out: &str| {
        out.chars().find(|&c| {
            (c.is_control() && c != '\n')
                || ('\u{200b}'..='\u{202e}').contains(&c)
                || c == '\u{feff}'
                || ('\u{e0000}'..='\u{e007f}').contains(&c)
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let db = db.to_str().unwrap();
    for (i, text) in hostile.iter().enumerate() {
        let record = serde_json::json!({
            "name": format!("n{i}{text}"), "category": "c", "title": text,
            "config_schema": {"note": text}, "container_id": text,
            "description": text,
            "remote_resource": {"provider": "aws", "status": text, "metadata": {"k": text}}
        });
        let file = dir.path().join(format!("r{i}.json"));
        std::fs::write(&file, record.to_string()).unwrap();
        let (code, _, err) = cli_outcome(&["--db", db, "import", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let id = format!("c_n{i}{text}");
        for args in [
            vec!["list"],
            vec!["show", id.as_str()],
            vec!["check"],
            vec!["show", "c_nope"],
        ] {
            let (_, out, err) = cli_outcome(&[&["--db", db][..], &args[..]].concat());
            assert_eq!(raw(&out), None, "{args:?} printed {text:?} raw: {out}");
            assert_eq!(raw(&err), None, "{args:?} printed {text:?} raw: {err}");
        }
        // Refused imports quote the record: its id, serde's message.
        for bad in [
            serde_json::json!({"name": text, "category": "c", "title": "t",
                "config_schema": [] }),
            serde_json::json!({"name": "n", "category": "c", "title": "t",
                "config_schema": {}, "execution_mode": text}),
            serde_json::json!({"name": "n", "category": "c", "title": "t",
                "config_schema": {}, (*text): 1}),
        ] {
            std::fs::write(&file, bad.to_string()).unwrap();
            let (code, _, err) = cli_outcome(&["--db", db, "import", file.to_str().unwrap()]);
            assert_eq!(code, 1);
            assert_eq!(raw(&err), None, "{text:?} raw in: {err}");
        }
    }
}

/// Validation refuses exactly what the schema's CHECK constraints refuse:
/// for values at every column's edge, `validate()` and `save` agree, and a
/// refused save is an input error naming the field (and record), never a
/// raw SQLite error.
#[test]
fn validation_refuses_whatever_the_schema_refuses() {
    use plugin_metastore::{CloudProviderType, PluginMetadata, RemoteResourceInfo};
    let base = || {
        let mut p = PluginMetadata::new("n", "c", "t", serde_json::json!({}));
        p.remote_resource = Some(RemoteResourceInfo::new(CloudProviderType::Aws));
        p
    };
    let mut cases: Vec<(String, PluginMetadata)> = Vec::new();
    for key in ["", "\0", "\0a", "a\0", "a\0b", " ", "ü", "a_b"] {
        let mut p = base();
        p.category = key.to_owned();
        cases.push((format!("category {key:?}"), p));
        let mut p = base();
        p.name = key.to_owned();
        cases.push((format!("name {key:?}"), p));
    }
    for text in ["", "\0", "\0x"] {
        let mut p = base();
        p.title = text.to_owned();
        p.description = Some(text.to_owned());
        p.container_id = Some(text.to_owned());
        p.remote_resource.as_mut().unwrap().status = text.to_owned();
        cases.push((format!("texts {text:?}"), p));
    }
    for cost in [
        0.0,
        -0.0,
        5e-324,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::INFINITY,
        f64::NAN,
        -1.0,
    ] {
        let mut p = base();
        p.remote_resource.as_mut().unwrap().estimated_cost_per_hour = Some(cost);
        cases.push((format!("cost {cost:?}"), p));
    }
    for pids in [vec![1], vec![u32::MAX], vec![0], vec![7, 7]] {
        let mut p = base();
        p.spawned_pids = pids.clone();
        cases.push((format!("pids {pids:?}"), p));
    }
    for (port, gpus) in [(0, 0), (65535, u32::MAX)] {
        let mut p = base();
        let r = p.remote_resource.as_mut().unwrap();
        (r.ssh_port, r.gpu_count) = (port, gpus);
        cases.push((format!("port {port} gpus {gpus}"), p));
    }
    for json in [
        "{\"k\": \"\\u0000\"}",
        "{\"n\": 1.7976931348623157e308}",
        "{\"\": []}",
    ] {
        let mut p = base();
        p.config_schema = serde_json::from_str(json).unwrap();
        p.remote_resource.as_mut().unwrap().metadata = serde_json::from_str(json).unwrap();
        cases.push((format!("json {json}"), p));
    }
    let store = MetadataStore::open_in_memory().unwrap();
    for (what, plugin) in &cases {
        let valid = plugin.validate();
        let saved = store.save(plugin);
        assert_eq!(
            valid.is_ok(),
            saved.is_ok(),
            "{what}: {valid:?} vs {saved:?}"
        );
        if let Err(e) = saved {
            assert!(matches!(e, Error::InvalidInput { .. }), "{what}: {e}");
        } else {
            assert_eq!(
                store.get(&plugin.category, &plugin.name).unwrap().as_ref(),
                Some(plugin),
                "{what}"
            );
        }
    }
}

/// The same mistake gets the same answer whatever its value: every invalid
/// PID is a usage error (exit 2); JSON too deep says the same whatever the
/// depth; two records with one key are refused, nothing stored.
#[test]
fn one_class_of_mistake_one_answer() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let db = db.to_str().unwrap();
    let (code, out, err) = cli_outcome(&["--db", db, "demo"]);
    assert_eq!(code, 0, "{err}");
    let _demo = Demo::of(out);
    for bad in ["0", "-5", "x", "4294967296", "99999999999", "1.5", ""] {
        let (code, _, err) =
            cli_outcome(&["--db", db, "pid", "add", "transcription_whisper_tiny", bad]);
        assert_eq!(code, 2, "PID {bad:?}: {err}");
    }

    let nested = |levels: usize| {
        format!(
            r#"{{"name": "deep", "category": "c", "title": "t", "config_schema": {{"x": {}1{}}}}}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
    };
    let file = dir.path().join("deep.json");
    let mut messages = Vec::new();
    for levels in [100, 126, 127, 128, 1000] {
        std::fs::write(&file, nested(levels)).unwrap();
        let (code, _, err) = cli_outcome(&["--db", db, "import", file.to_str().unwrap()]);
        assert_eq!(code, 1, "{levels}");
        messages.push(err.contains("more than 100 levels deep"));
    }
    assert_eq!(messages, [true; 5]);

    let before = cli_outcome(&["--db", db, "export"]).1;
    let twice = r#"[{"name": "a", "category": "c", "title": "1", "config_schema": {}},
                    {"name": "b", "category": "c", "title": "2", "config_schema": {}},
                    {"name": "a", "category": "c", "title": "3", "config_schema": {}}]"#;
    std::fs::write(&file, twice).unwrap();
    let (code, out, err) = cli_outcome(&["--db", db, "import", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("records 1 and 3"), "{err}");
    assert_eq!(cli_outcome(&["--db", db, "export"]).1, before);
}

/// One plugin with a value forced into the file (each kind of bad value in
/// turn) neither blocks the rest nor itself: `list` / `export` say what is
/// wrong and how to get the rest, `--skip-bad` lists and exports the rest
/// naming the bad row, and the plugin can be overwritten (import) or
/// deleted by its id without being read.
#[test]
fn a_bad_row_blocks_neither_the_rest_nor_its_own_repair() {
    let forced = [
        (
            "UPDATE plugins SET execution_mode = 'teleport' WHERE name = 'plugin1'",
            "execution_mode",
        ),
        (
            "UPDATE plugins SET config_schema = '[1' WHERE name = 'plugin1'",
            "config_schema",
        ),
        (
            "UPDATE plugins SET title = x'ff00' WHERE name = 'plugin1'",
            "title",
        ),
        (
            "UPDATE plugin_pids SET pid = -5 WHERE position = 0 AND plugin_id = \
             (SELECT id FROM plugins WHERE name = 'plugin1')",
            "pid",
        ),
        (
            "UPDATE remote_resources SET provider = 'moon' WHERE plugin_id = \
             (SELECT id FROM plugins WHERE name = 'plugin1')",
            "provider",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let fixed = dir.path().join("fixed.json");
    std::fs::write(&fixed, serde_json::to_string(&sample(1)).unwrap()).unwrap();
    for (i, (sql, column)) in forced.iter().enumerate() {
        let path = sample_store(dir.path(), &format!("b{i}.db"), 3);
        sqlite3(
            &path,
            &format!("PRAGMA ignore_check_constraints = ON; {sql}"),
        );
        let db = path.to_str().unwrap();
        let (code, _, err) = cli_outcome(&["--db", db, "export"]);
        assert_eq!(code, 1, "{sql}");
        assert!(
            err.contains(column) && err.contains("--skip-bad"),
            "{sql}: {err}"
        );
        for args in [
            vec!["list", "--json", "--skip-bad"],
            vec!["export", "--skip-bad"],
        ] {
            let (code, out, err) = cli_outcome(&[&["--db", db][..], &args[..]].concat());
            assert_eq!(code, 0, "{sql}: {err}");
            let listed: Vec<plugin_metastore::PluginMetadata> = serde_json::from_str(&out).unwrap();
            assert_eq!(listed, [sample(0), sample(2)], "{sql}");
            assert!(
                err.contains("skipped") && err.contains(column),
                "{sql}: {err}"
            );
        }
        // Overwrite it with a good record, or delete it: neither reads it.
        if i % 2 == 0 {
            let (code, _, err) = cli_outcome(&["--db", db, "import", fixed.to_str().unwrap()]);
            assert_eq!(code, 0, "{sql}: {err}");
            let store = MetadataStore::open(&path).unwrap();
            assert_eq!(
                store.list().unwrap(),
                (0..3).map(sample).collect::<Vec<_>>()
            );
        } else {
            let (code, _, err) = cli_outcome(&["--db", db, "delete", "sample_plugin1"]);
            assert_eq!(code, 0, "{sql}: {err}");
            let store = MetadataStore::open(&path).unwrap();
            assert_eq!(store.list().unwrap(), [sample(0), sample(2)]);
        }
    }
}
