//! Files a store refuses or keeps safe, each tested as a class with
//! several instances: paths that cannot be a store are refused in words
//! and leave nothing behind; a store is owner-only whatever the umask or
//! the file it started from; a store this process cannot write can still
//! be read; another application's database (or a history refinery cannot
//! read) is refused untouched and never makes `open` panic; a store
//! missing part of its schema is reported as damaged.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use plugin_metastore::{Error, MetadataStore};
use support::{cli_outcome, old_version_file, sample, sample_store, snapshot, sqlite3};

const BIN: &str = env!("CARGO_BIN_EXE_plugin-metastore");

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
        let (code, out, stderr) = cli_outcome(&["--db", path.to_str().unwrap(), "init"]);
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
    let (code, out, err) = cli_outcome(&["--db", db, "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let listed: Vec<plugin_metastore::PluginMetadata> = serde_json::from_str(&out).unwrap();
    assert_eq!(listed, (0..3).map(sample).collect::<Vec<_>>());
    assert_eq!(cli_outcome(&["--db", db, "export"]).0, 0);
    let (code, _, err) = cli_outcome(&["--db", db, "pid", "add", "sample_plugin0", "7"]);
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
        sqlite3(&path, sql);
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
        (
            "DROP VIEW remote_burn_rate; CREATE VIEW remote_burn_rate AS \
             SELECT provider, count(*) AS running FROM remote_resources GROUP BY 1",
            "column remote_burn_rate.priced_usd_per_hour",
        ),
    ];
    for (i, (edit, words)) in cases.iter().enumerate() {
        let path = sample_store(dir.path(), &format!("s{i}.db"), 2);
        sqlite3(&path, edit);
        let bytes = sqlite3(&path, ".dump");
        let err = MetadataStore::open(&path).unwrap_err();
        assert!(matches!(err, Error::Damaged { .. }), "{edit}: {err}");
        let text = err.to_string();
        assert!(text.contains(words), "{edit}: {text}");
        assert!(text.len() < 400, "{edit}: a long message: {text}");
        assert_eq!(sqlite3(&path, ".dump"), bytes, "{edit}: changed");
        // `init` reports it rather than "store is ready".
        let (code, out, err) = cli_outcome(&["--db", path.to_str().unwrap(), "init"]);
        assert_eq!(code, 1, "{edit}: {out}");
        assert!(err.contains("damaged"), "{edit}: {err}");
    }
}
