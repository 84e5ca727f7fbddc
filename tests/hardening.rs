//! Issue 13's classes, each tested as a class with several instances:
//! paths that cannot be a store are refused in words and leave nothing
//! behind; a store is owner-only whatever the umask or the file it started
//! from; a store this process cannot write can still be read; another
//! application's database (or a history refinery cannot read) is refused
//! untouched and never makes `open` panic; a store missing part of its
//! schema is reported as damaged.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use plugin_metastore::{Error, MetadataStore};
use support::{old_version_file, sample, sample_store, sqlite3};

const BIN: &str = env!("CARGO_BIN_EXE_plugin-metastore");

/// Every entry in `dir` with the bytes of each regular file (a FIFO is
/// listed, never read: reading it would block).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
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

/// Runs the CLI; returns (exit code, stdout, stderr).
fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("PLUGIN_METASTORE_DB")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[cfg(unix)]
#[test]
fn paths_that_cannot_be_a_store_are_refused_in_words_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink(d.join("gone.db"), d.join("dangling.db")).unwrap();
    let fifo = d.join("pipe.db");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let long = d.join("n".repeat(300));
    let cases: Vec<(PathBuf, &str)> = vec![
        (PathBuf::from(":memory:"), "not a file path"),
        (PathBuf::from("file:x.db?mode=memory"), "URI"),
        (d.join("dangling.db"), "symbolic link"),
        (fifo.clone(), "named pipe"),
        (PathBuf::from("/dev/null"), "character device"),
        (long, "too long"),
        (d.join("no/such/dir.db"), "does not exist"),
        (d.to_path_buf(), "directory"),
    ];
    let before = snapshot(d);
    for (path, words) in &cases {
        let err = MetadataStore::open(path).unwrap_err();
        assert!(matches!(err, Error::CannotOpen { .. }), "{path:?}: {err}");
        assert!(err.to_string().contains(words), "{path:?}: {err}");
        // The CLI says the same, exit 1, and reports no success.
        let (code, out, stderr) = cli(&["--db", path.to_str().unwrap(), "init"]);
        assert_eq!(code, 1, "{path:?}: {out}{stderr}");
        assert!(
            out.is_empty() && stderr.contains(words),
            "{path:?}: {stderr}"
        );
    }
    assert_eq!(snapshot(d), before, "a refused open left something behind");
    assert!(!Path::new(":memory:").exists());
}

#[cfg(unix)]
#[test]
fn a_store_is_owner_only_whatever_the_umask_or_the_file_it_started_from() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    // A pre-existing empty file others can read, and a store whose WAL
    // files were left readable.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = MetadataStore::open(&empty).unwrap();
    store.save(&sample(0)).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", empty.display()));
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    drop(store);
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o666)).unwrap();
    MetadataStore::open(&empty).unwrap();
    assert_eq!(mode(&empty), 0o600);

    // The CLI under umask 000: its default data directory is 0700, the
    // store 0600 (run through sh to set the umask of the child only).
    let home = dir.path().join("home");
    let status = Command::new("sh")
        .args(["-c", "umask 000 && exec \"$0\" init", BIN])
        .env_remove("PLUGIN_METASTORE_DB")
        .env("HOME", &home)
        .env("XDG_DATA_HOME", dir.path().join("xdg"))
        .status()
        .unwrap();
    assert!(status.success());
    let data = dir.path().join("xdg/plugin-metastore");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("plugins.db")), 0o600);
}

#[cfg(unix)]
#[test]
fn a_store_this_process_cannot_write_can_still_be_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = sample_store(dir.path(), "ro.db", 3);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    if std::fs::OpenOptions::new().write(true).open(&path).is_ok() {
        // Permission bits do not bind this process (root): covered as
        // `nobody` by tests/reliability.rs.
        return;
    }
    let db = path.to_str().unwrap();
    let before = snapshot(dir.path());
    let (code, out, err) = cli(&["--db", db, "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let listed: Vec<plugin_metastore::PluginMetadata> = serde_json::from_str(&out).unwrap();
    assert_eq!(listed, (0..3).map(sample).collect::<Vec<_>>());
    assert_eq!(cli(&["--db", db, "export"]).0, 0);
    let (code, _, err) = cli(&["--db", db, "pid", "add", "sample_plugin0", "7"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot write to") && err.contains("not writable"),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn another_applications_database_is_refused_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (
            "view.db",
            "CREATE VIEW answers AS SELECT 42 AS answer;",
            "view answers",
        ),
        (
            "their-table.db",
            "CREATE TABLE notes (body TEXT); CREATE INDEX notes_by_body ON notes (body); \
             CREATE TRIGGER notes_touched AFTER INSERT ON notes BEGIN SELECT 1; END;",
            "index notes_by_body",
        ),
        (
            "their-history.db",
            "CREATE TABLE refinery_schema_history (version INT4 PRIMARY KEY, name VARCHAR(255), \
                 applied_on VARCHAR(255), checksum VARCHAR(255)); \
             INSERT INTO refinery_schema_history VALUES \
                 (1, 'create_users', '2026-01-01T00:00:00Z', '1'); \
             CREATE TABLE users (id INTEGER PRIMARY KEY);",
            "create_users",
        ),
        (
            "their-gap.db",
            "CREATE TABLE refinery_schema_history (version INT4 PRIMARY KEY, name VARCHAR(255), \
                 applied_on VARCHAR(255), checksum VARCHAR(255)); \
             INSERT INTO refinery_schema_history VALUES \
                 (0, 'bootstrap', '2026-01-01T00:00:00Z', '1');",
            "bootstrap",
        ),
    ];
    for (name, sql, words) in cases {
        let path = dir.path().join(name);
        let out = Command::new("sqlite3")
            .arg(&path)
            .arg(sql)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {out:?}");
        let bytes = std::fs::read(&path).unwrap();
        let err = MetadataStore::open(&path).unwrap_err();
        assert!(matches!(err, Error::NotAStore { .. }), "{name}: {err}");
        assert!(err.to_string().contains(words), "{name}: {err}");
        assert!(std::fs::read(&path).unwrap() == bytes, "{name} was changed");
    }
}

/// `applied_on` values that look like timestamps on a store with a pending
/// upgrade (refinery reads them while migrating and panics on one its
/// RFC 3339 parser refuses): `open` never panics; a value refinery cannot
/// read is refused as bad data naming the row, the file untouched.
#[test]
fn history_rows_refinery_cannot_read_never_make_open_panic() {
    let dir = tempfile::tempdir().unwrap();
    let surely_bad = [
        "yesterday",
        "",
        "2026-13-01T10:00:00Z",
        "2026-01-01T10:00:00",
    ];
    let borderline = [
        "2026-01-01 10:00:00Z",
        "2026-01-01t10:00:00z",
        "2026-12-31T23:59:60Z",
        "2026-01-01T10:00:00.1234567891234Z",
        "2026-01-01T10:00:00+24:00",
        "+002026-01-01T10:00:00Z",
        "2026-01-01T10:00:00.5+02:00",
    ];
    for (i, value) in surely_bad.iter().chain(&borderline).enumerate() {
        let path = dir.path().join(format!("h{i}.db"));
        old_version_file(&path);
        sqlite3(
            &path,
            &format!("UPDATE refinery_schema_history SET applied_on = '{value}'"),
        );
        let bytes = sqlite3(&path, ".dump");
        match MetadataStore::open(&path) {
            Ok(store) => {
                assert!(!surely_bad.contains(value), "{value:?} was accepted");
                assert_eq!(
                    store.schema_version().unwrap(),
                    MetadataStore::latest_schema_version()
                );
            }
            Err(Error::BadData { column, row, .. }) => {
                assert_eq!((column, row), ("applied_on", 1), "{value:?}");
                assert_eq!(sqlite3(&path, ".dump"), bytes, "{value:?}");
            }
            Err(other) => panic!("{value:?}: {other}"),
        }
    }
}

#[test]
fn a_store_missing_part_of_its_schema_is_damaged_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        ("DROP VIEW plugin_overview", "view plugin_overview"),
        (
            "DROP INDEX plugins_by_execution_mode",
            "index plugins_by_execution_mode",
        ),
        (
            "ALTER TABLE plugins DROP COLUMN conda_env_name",
            "column plugins.conda_env_name",
        ),
        ("DELETE FROM refinery_schema_history", "history"),
        ("DROP TABLE refinery_schema_history", "history"),
    ];
    for (i, (edit, words)) in cases.iter().enumerate() {
        let path = sample_store(dir.path(), &format!("s{i}.db"), 2);
        let out = Command::new("sqlite3")
            .arg(&path)
            .arg(edit)
            .output()
            .unwrap();
        assert!(out.status.success(), "{edit}: {out:?}");
        let bytes = sqlite3(&path, ".dump");
        let err = MetadataStore::open(&path).unwrap_err();
        assert!(matches!(err, Error::Damaged { .. }), "{edit}: {err}");
        let text = err.to_string();
        assert!(text.contains(words), "{edit}: {text}");
        assert!(text.len() < 400, "{edit}: a long message: {text}");
        assert_eq!(sqlite3(&path, ".dump"), bytes, "{edit}: changed");
        // `init` reports it rather than "store is ready".
        let (code, out, err) = cli(&["--db", path.to_str().unwrap(), "init"]);
        assert_eq!(code, 1, "{edit}: {out}");
        assert!(err.contains("damaged"), "{edit}: {err}");
    }
}

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
    assert_eq!(cli(&["--db", db, "import", file.to_str().unwrap()]).0, 0);
    let (code, exported, _) = cli(&["--db", db, "export"]);
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
        let (code, out, err) = cli(&["--db", db, "import", file.to_str().unwrap()]);
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
    let (code, _, err) = cli(&[
        "--db",
        db.to_str().unwrap(),
        "import",
        file.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("the number -1e400 at line 1 column "), "{err}");
    assert!(!db.exists());

    let dir = tempfile::tempdir().unwrap();
    let db = sample_store(dir.path(), "by-hand.db", 1);
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
        let (code, _, err) = cli(&["--db", db, "import", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let id = format!("c_n{i}{text}");
        for args in [
            vec!["list"],
            vec!["show", id.as_str()],
            vec!["check"],
            vec!["show", "c_nope"],
        ] {
            let (_, out, err) = cli(&[&["--db", db][..], &args[..]].concat());
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
            let (code, _, err) = cli(&["--db", db, "import", file.to_str().unwrap()]);
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
    assert_eq!(cli(&["--db", db, "demo"]).0, 0);
    let _ = cli(&["--db", db, "reap", "--kill", "--grace", "1"]);
    for bad in ["0", "-5", "x", "4294967296", "99999999999", "1.5", ""] {
        let (code, _, err) = cli(&["--db", db, "pid", "add", "transcription_whisper_tiny", bad]);
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
        let (code, _, err) = cli(&["--db", db, "import", file.to_str().unwrap()]);
        assert_eq!(code, 1, "{levels}");
        messages.push(err.contains("more than 100 levels deep"));
    }
    assert_eq!(messages, [true; 5]);

    let before = cli(&["--db", db, "export"]).1;
    let twice = r#"[{"name": "a", "category": "c", "title": "1", "config_schema": {}},
                    {"name": "b", "category": "c", "title": "2", "config_schema": {}},
                    {"name": "a", "category": "c", "title": "3", "config_schema": {}}]"#;
    std::fs::write(&file, twice).unwrap();
    let (code, out, err) = cli(&["--db", db, "import", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("records 1 and 3"), "{err}");
    assert_eq!(cli(&["--db", db, "export"]).1, before);
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
        let (code, _, err) = cli(&["--db", db, "export"]);
        assert_eq!(code, 1, "{sql}");
        assert!(
            err.contains(column) && err.contains("--skip-bad"),
            "{sql}: {err}"
        );
        for args in [
            vec!["list", "--json", "--skip-bad"],
            vec!["export", "--skip-bad"],
        ] {
            let (code, out, err) = cli(&[&["--db", db][..], &args[..]].concat());
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
            let (code, _, err) = cli(&["--db", db, "import", fixed.to_str().unwrap()]);
            assert_eq!(code, 0, "{sql}: {err}");
            let store = MetadataStore::open(&path).unwrap();
            assert_eq!(
                store.list().unwrap(),
                (0..3).map(sample).collect::<Vec<_>>()
            );
        } else {
            let (code, _, err) = cli(&["--db", db, "delete", "sample_plugin1"]);
            assert_eq!(code, 0, "{sql}: {err}");
            let store = MetadataStore::open(&path).unwrap();
            assert_eq!(store.list().unwrap(), [sample(0), sample(2)]);
        }
    }
}
