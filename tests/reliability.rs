//! Reliability in one process: hostile files (not a store, truncated, from
//! a newer or a different build, in a read-only directory), hand edits
//! through the real `sqlite3` CLI, and WAL growth under a long reader.
//! (Many processes, first start races and `kill -9` are in
//! `reliability_processes.rs`.)

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use plugin_metastore::{Error, MetadataStore, PluginQuery};
use serde_json::json;
use support::{Rng, sample, sample_store, sqlite3, sqlite3_output};

// ---------------------------------------------------------------------------
// Helpers

/// Every file in `dir` with its bytes: "modifies nothing" means this map is
/// the same before and after (no new `-wal`/`-shm`/`-journal` files either).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = if path.is_file() {
            Some(std::fs::read(&path).unwrap())
        } else {
            None
        };
        files.insert(path, bytes);
    }
    files
}

// ---------------------------------------------------------------------------
// Hostile files: refused with a clear error, nothing modified.

/// Opens `path` (inside `dir`), expects an error, and checks nothing in
/// `dir` changed.
fn refused(dir: &Path, path: &Path) -> Error {
    let before = snapshot(dir);
    let err = match MetadataStore::open(path) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(e) => e,
    };
    assert_eq!(
        snapshot(dir),
        before,
        "opening {} changed files",
        path.display()
    );
    // Refused again the same way: the first attempt left nothing behind
    // that would make a second one succeed.
    let again = MetadataStore::open(path).expect_err("opened the second time");
    assert_eq!(again.to_string(), err.to_string());
    assert_eq!(snapshot(dir), before);
    err
}

#[test]
fn files_that_are_not_stores_are_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut tried = Vec::new();

    let random = d.join("random.db");
    std::fs::write(&random, Rng::new(0x5eed).bytes(64 * 1024)).unwrap();
    let err = refused(d, &random);
    assert!(matches!(err, Error::NotAStore { .. }), "{err}");
    tried.push("64 KiB of random bytes");

    // Random bytes behind a valid SQLite magic string.
    let magic = d.join("magic.db");
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend(Rng::new(42).bytes(8192));
    std::fs::write(&magic, bytes).unwrap();
    let err = refused(d, &magic);
    assert!(matches!(err, Error::NotAStore { .. }), "{err}");
    tried.push("the SQLite magic string followed by random bytes");

    let text = d.join("notes.txt");
    std::fs::write(
        &text,
        "These are my plugin notes.\nNot a database.\n".repeat(50),
    )
    .unwrap();
    let err = refused(d, &text);
    assert!(matches!(err, Error::NotAStore { .. }), "{err}");
    tried.push("a text file");

    let other = d.join("other-app.db");
    {
        let conn = rusqlite::Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('x');")
            .unwrap();
    }
    let err = refused(d, &other);
    assert!(matches!(err, Error::NotAStore { .. }), "{err}");
    assert!(err.to_string().contains("contacts"), "{err}");
    tried.push("another application's SQLite database");

    let err = refused(d, d);
    assert!(matches!(err, Error::CannotOpen { .. }), "{err}");
    tried.push("a directory");

    let missing = d.join("no/such/dir/plugins.db");
    let err = refused(d, &missing);
    assert!(matches!(err, Error::CannotOpen { .. }), "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(!d.join("no").exists());
    tried.push("a path in a missing directory");

    eprintln!("hostile files tried: {}", tried.join("; "));
}

#[test]
fn truncated_databases_are_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let original = sample_store(dir.path(), "full.db", 300);
    let bytes = std::fs::read(&original).unwrap();
    let page = 4096;
    assert!(bytes.len() > 20 * page, "the store should span many pages");
    std::fs::remove_file(&original).unwrap();
    let mut cuts = vec![
        50,              // inside the 100-byte header
        100,             // the header and nothing else
        1000,            // inside page 1
        page,            // page 1 only
        page + 123,      // a partial page
        2 * page,        // page-aligned, most pages gone
        bytes.len() / 2, // half
        bytes.len() - page,
        // Part of the last page: SQLite alone would open these (its page
        // count rounds up) and read zeros; the store refuses them.
        bytes.len() - 512,
        bytes.len() - 1,
    ];
    cuts.dedup();
    for cut in &cuts {
        let cut_dir = tempfile::tempdir().unwrap();
        let path = cut_dir.path().join("truncated.db");
        std::fs::write(&path, &bytes[..*cut]).unwrap();
        let err = refused(cut_dir.path(), &path);
        assert!(
            matches!(err, Error::NotAStore { .. }),
            "cut at {cut} of {}: {err}",
            bytes.len()
        );
    }
    eprintln!(
        "truncated at {cuts:?} of {} bytes: all refused",
        bytes.len()
    );
}

#[test]
fn a_database_from_a_newer_build_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_store(dir.path(), "newer.db", 3);
    let newest = MetadataStore::latest_schema_version();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
             VALUES (?1, 'from_the_future', '2030-01-01T00:00:00Z', '12345')",
            [newest + 1],
        )
        .unwrap();
        conn.execute_batch("CREATE TABLE future_things (x INTEGER)")
            .unwrap();
    }
    let dump_before = sqlite3(&path, ".dump");
    let err = refused(dir.path(), &path);
    assert!(err.to_string().contains("newer than this build"), "{err}");
    match err {
        Error::SchemaTooNew {
            found, supported, ..
        } => {
            assert_eq!(found, newest + 1);
            assert_eq!(supported, newest);
        }
        other => panic!("expected SchemaTooNew, got {other}"),
    }
    assert_eq!(sqlite3(&path, ".dump"), dump_before);
    assert!(dump_before.contains("from_the_future"));
}

#[test]
fn a_file_migrated_by_a_different_build_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_store(dir.path(), "other-build.db", 3);
    let newest = MetadataStore::latest_schema_version();
    // The same version number, but a migration whose text differs from ours.
    sqlite3(
        &path,
        &format!("UPDATE refinery_schema_history SET checksum = '12345' WHERE version = {newest}"),
    );
    let err = refused(dir.path(), &path);
    assert!(matches!(err, Error::Migration { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("V{newest}")) && text.contains("12345"),
        "{text}"
    );
}

/// True when this process can write into a directory whose mode forbids it
/// (root, or a capability like CAP_DAC_OVERRIDE): then a read-only directory
/// cannot be tested.
fn permission_bits_are_ignored(dir: &Path) -> bool {
    let probe = dir.join("probe");
    match std::fs::write(&probe, b"x") {
        Ok(()) => {
            std::fs::remove_file(&probe).unwrap();
            true
        }
        Err(_) => false,
    }
}

/// Checks a read-only directory `ro` holding a read-only store
/// `existing.db` (two sample plugins): a new store cannot be created there
/// (said in words), the existing one is refused for writing as read-only,
/// yet it opens read-only and lists its plugins; nothing in `ro` changes.
fn check_read_only_dir(ro: &Path) {
    let err = refused(ro, &ro.join("new.db"));
    assert!(matches!(err, Error::CannotOpen { .. }), "{err}");
    assert!(err.to_string().contains("permission denied"), "{err}");
    let existing = ro.join("existing.db");
    let err = refused(ro, &existing);
    assert!(
        matches!(err, Error::ReadOnly { .. }),
        "an existing store in a read-only directory: {err}"
    );
    let before = snapshot(ro);
    let store = MetadataStore::open_read_only(&existing).unwrap();
    assert_eq!(store.list().unwrap(), [sample(0), sample(1)]);
    let err = store.save(&sample(7)).unwrap_err();
    assert!(matches!(err, Error::ReadOnly { .. }), "{err}");
    drop(store);
    assert_eq!(snapshot(ro), before, "reading changed files");
}

/// Where permission bits do not stop this process (root), the check runs
/// in a child process of this test binary as user `nobody` (65534).
#[cfg(unix)]
#[test]
fn a_read_only_directory_is_refused_and_left_alone() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    if let Some(ro) = std::env::var_os("PM_RO_DIR") {
        // The child, as nobody.
        check_read_only_dir(Path::new(&ro));
        println!("\nRO-CHECKED");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let existing = sample_store(&ro, "existing.db", 2);
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    if !permission_bits_are_ignored(&ro) {
        check_read_only_dir(&ro);
    } else if std::fs::metadata(&existing).unwrap().uid() == 0 {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_read_only_directory_is_refused_and_left_alone",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("PM_RO_DIR", &ro)
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("\nRO-CHECKED"),
            "the check as nobody failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!(
            "NOTE: skipping the read-only directory test: this process writes through \
             permission bits and is not root"
        );
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
}

// ---------------------------------------------------------------------------
// Hand edits with the sqlite3 CLI.

struct HandEdit {
    what: &'static str,
    /// SQL run against plugin `sample/plugin1` (id 2, pid rowids 3 and 4).
    sql: &'static str,
    table: &'static str,
    column: &'static str,
    /// Expected `row` of the error (plugin id, or the plugin_pids rowid).
    row: i64,
    value: &'static str,
}

const HAND_EDITS: &[HandEdit] = &[
    HandEdit {
        what: "unknown execution mode",
        sql: "UPDATE plugins SET execution_mode = 'teleport' WHERE name = 'plugin1'",
        table: "plugins",
        column: "execution_mode",
        row: 2,
        value: "teleport",
    },
    HandEdit {
        what: "an execution mode in the wrong case",
        sql: "UPDATE plugins SET execution_mode = 'Docker' WHERE name = 'plugin1'",
        table: "plugins",
        column: "execution_mode",
        row: 2,
        value: "Docker",
    },
    HandEdit {
        what: "unknown provider",
        sql: "UPDATE remote_resources SET provider = 'moon_base' WHERE plugin_id = 2",
        table: "remote_resources",
        column: "provider",
        row: 2,
        value: "moon_base",
    },
    HandEdit {
        what: "a provider in the wrong case",
        sql: "UPDATE remote_resources SET provider = 'AWS' WHERE plugin_id = 2",
        table: "remote_resources",
        column: "provider",
        row: 2,
        value: "AWS",
    },
    HandEdit {
        what: "invalid JSON in config_schema",
        sql: "UPDATE plugins SET config_schema = '{\"type\": ' WHERE name = 'plugin1'",
        table: "plugins",
        column: "config_schema",
        row: 2,
        value: "{\\\"type\\\": ",
    },
    HandEdit {
        what: "a JSON array as config_schema",
        sql: "UPDATE plugins SET config_schema = '[1, 2]' WHERE name = 'plugin1'",
        table: "plugins",
        column: "config_schema",
        row: 2,
        value: "[1, 2]",
    },
    HandEdit {
        what: "a JSON array as metadata",
        sql: "UPDATE remote_resources SET metadata = '[1, 2]' WHERE plugin_id = 2",
        table: "remote_resources",
        column: "metadata",
        row: 2,
        value: "[1, 2]",
    },
    HandEdit {
        what: "invalid JSON as metadata",
        sql: "UPDATE remote_resources SET metadata = 'nope' WHERE plugin_id = 2",
        table: "remote_resources",
        column: "metadata",
        row: 2,
        value: "nope",
    },
    HandEdit {
        what: "negative gpu_count",
        sql: "UPDATE remote_resources SET gpu_count = -1 WHERE plugin_id = 2",
        table: "remote_resources",
        column: "gpu_count",
        row: 2,
        value: "-1",
    },
    HandEdit {
        what: "an ssh_port above 65535",
        sql: "UPDATE remote_resources SET ssh_port = 70000 WHERE plugin_id = 2",
        table: "remote_resources",
        column: "ssh_port",
        row: 2,
        value: "70000",
    },
    HandEdit {
        what: "PID 0",
        sql: "UPDATE plugin_pids SET pid = 0 WHERE plugin_id = 2 AND position = 1",
        table: "plugin_pids",
        column: "pid",
        row: 4,
        value: "0",
    },
    HandEdit {
        what: "a negative PID",
        sql: "UPDATE plugin_pids SET pid = -5 WHERE plugin_id = 2 AND position = 1",
        table: "plugin_pids",
        column: "pid",
        row: 4,
        value: "-5",
    },
    HandEdit {
        what: "a PID that is text",
        sql: "UPDATE plugin_pids SET pid = 'abc' WHERE plugin_id = 2 AND position = 1",
        table: "plugin_pids",
        column: "pid",
        row: 4,
        value: "abc",
    },
    HandEdit {
        what: "negative cost",
        sql: "UPDATE remote_resources SET estimated_cost_per_hour = -2.5 WHERE plugin_id = 2",
        table: "remote_resources",
        column: "estimated_cost_per_hour",
        row: 2,
        value: "-2.5",
    },
    HandEdit {
        what: "an infinite cost",
        sql: "UPDATE remote_resources SET estimated_cost_per_hour = 1e999 WHERE plugin_id = 2",
        table: "remote_resources",
        column: "estimated_cost_per_hour",
        row: 2,
        value: "inf",
    },
    HandEdit {
        what: "is_configured 7",
        sql: "UPDATE plugins SET is_configured = 7 WHERE name = 'plugin1'",
        table: "plugins",
        column: "is_configured",
        row: 2,
        value: "7",
    },
];

/// Edits the schema refuses where reading has no second line of defence:
/// an empty key would only make the row another plugin, and the model does
/// not hold the timestamps.
const SCHEMA_ONLY_EDITS: &[&str] = &[
    "UPDATE plugins SET name = '' WHERE name = 'plugin1'",
    "UPDATE plugins SET category = '' WHERE name = 'plugin1'",
    "UPDATE plugins SET created_at = 'yesterday' WHERE name = 'plugin1'",
    "UPDATE plugins SET updated_at = 'yesterday' WHERE name = 'plugin1'",
];

/// Runs `sql` with the sqlite3 CLI on `path` and checks that a CHECK
/// constraint refused it and the file's content is unchanged.
fn assert_check_refuses(path: &Path, sql: &str) {
    let dump = sqlite3(path, ".dump");
    let out = sqlite3_output(path, sql);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("CHECK constraint failed"),
        "{sql}: sqlite3 accepted it ({stderr})"
    );
    assert_eq!(sqlite3(path, ".dump"), dump, "{sql} changed the file");
}

#[test]
fn hand_edits_are_refused_by_the_schema_and_read_as_bad_data_if_forced_in() {
    for edit in HAND_EDITS {
        let dir = tempfile::tempdir().unwrap();
        let path = sample_store(dir.path(), "edited.db", 3);
        let pid_rowids = sqlite3(
            &path,
            "SELECT group_concat(rowid) FROM plugin_pids WHERE plugin_id = 2",
        );
        assert_eq!(pid_rowids, "3,4", "the fixture's layout changed");

        // The schema refuses the edit...
        assert_check_refuses(&path, edit.sql);
        let store = MetadataStore::open(&path).unwrap();
        assert_eq!(store.get("sample", "plugin1").unwrap(), Some(sample(1)));
        drop(store);

        // ...unless told to ignore CHECK constraints.
        sqlite3(
            &path,
            &format!("PRAGMA ignore_check_constraints = ON; {}", edit.sql),
        );
        let store = MetadataStore::open(&path).unwrap();
        let check = |err: Error| match err {
            Error::BadData {
                table,
                column,
                row,
                value,
                ..
            } => {
                assert_eq!(
                    (table, column, row),
                    (edit.table, edit.column, edit.row),
                    "{}",
                    edit.what
                );
                assert!(value.contains(edit.value), "{}: value {value}", edit.what);
            }
            other => panic!("{}: expected BadData, got {other}", edit.what),
        };
        check(store.get("sample", "plugin1").unwrap_err());
        check(store.list().unwrap_err());
        check(store.get_by_unique_id("sample_plugin1").unwrap_err());
        check(store.find_active().unwrap_err());
        // The other plugins are still readable by key.
        assert_eq!(store.get("sample", "plugin0").unwrap(), Some(sample(0)));
        assert_eq!(store.get("sample", "plugin2").unwrap(), Some(sample(2)));
        // Saving the plugin again repairs it.
        store.save(&sample(1)).unwrap();
        assert_eq!(
            store.list().unwrap(),
            (0..3).map(sample).collect::<Vec<_>>()
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let path = sample_store(dir.path(), "edited.db", 3);
    for sql in SCHEMA_ONLY_EDITS {
        assert_check_refuses(&path, sql);
    }
    let store = MetadataStore::open(&path).unwrap();
    assert_eq!(
        store.list().unwrap(),
        (0..3).map(sample).collect::<Vec<_>>()
    );
    eprintln!(
        "hand edits tried: {} read back, {} refused by the schema only",
        HAND_EDITS.len(),
        SCHEMA_ONLY_EDITS.len()
    );
}

// ---------------------------------------------------------------------------
// WAL growth.

const JOURNAL_SIZE_LIMIT: u64 = 8 * 1024 * 1024;

fn wal_size(db: &Path) -> Option<u64> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).ok().map(|m| m.len())
}

#[test]
fn the_wal_shrinks_after_a_long_reader_lets_go_and_is_gone_after_the_last_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let writer = MetadataStore::open(&path).unwrap();
    let reader = MetadataStore::open(&path).unwrap();
    writer.save(&sample(0)).unwrap();
    let heavy = |i: usize| {
        let mut p = sample(i);
        p.config_schema = json!({"blob": format!("{i}").repeat(6000)});
        p
    };

    // The reader holds one snapshot (its read transaction is open while the
    // callback runs) across many writes, so no checkpoint can reset the WAL.
    let mut peak = 0;
    let mut seen = 0;
    reader
        .for_each(&PluginQuery::new(), |p| {
            seen += 1;
            assert_eq!(p, sample(0));
            for i in 1..=800 {
                writer.save(&heavy(i)).unwrap();
            }
            peak = wal_size(&path).unwrap();
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, 1, "the reader's snapshot saw only the first plugin");
    assert!(
        peak > JOURNAL_SIZE_LIMIT,
        "the WAL should have grown past {JOURNAL_SIZE_LIMIT} while the reader held it: {peak}"
    );

    // The reader let go: the next checkpoints reset the WAL and the
    // journal size limit truncates it.
    for i in 1..=300 {
        writer.save(&heavy(i)).unwrap();
        let _ = reader.count(&PluginQuery::new()).unwrap();
    }
    let after = wal_size(&path).unwrap();
    assert!(
        after <= JOURNAL_SIZE_LIMIT,
        "the WAL stayed at {after} bytes after the reader let go (peak {peak})"
    );
    assert_eq!(reader.list().unwrap().len(), 801);

    drop(reader);
    drop(writer);
    let left = wal_size(&path).unwrap_or(0);
    assert_eq!(left, 0, "closing the last store left a {left}-byte WAL");
    eprintln!("WAL: peak {peak} bytes with a reader, {after} after it let go, {left} after close");
}
