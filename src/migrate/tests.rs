//! Unit tests of migrating: a failure halfway, all or nothing, and the
//! first-start race, played deterministically.

use super::*;
use crate::connect::{self, Mode};
use crate::error::Fault;
use crate::open::{self, StoreOptions};

/// A file opened and brought up to date, as a store opens it.
fn open_current(path: &Path) -> Connection {
    connect::open(path, Mode::ReadWrite, &StoreOptions::default())
        .unwrap()
        .conn
}

/// A connection to `path` with the store's checks and settings, its
/// schema left as it is.
fn configured(path: &Path) -> Connection {
    let options = StoreOptions::default();
    let (conn, _) = open::read_write(path).unwrap();
    conn.busy_timeout(options.busy_timeout).unwrap();
    open::check_file(&conn, path).unwrap();
    open::switch_to_wal(&conn, &options).unwrap();
    open::apply_pragmas(&conn, &options).unwrap();
    conn
}

/// This build's migrations plus one more that creates a table and then
/// fails on its second statement.
fn broken_runner() -> refinery::Runner {
    let mut all = migrations::runner().get_migrations().clone();
    all.push(
        refinery::Migration::unapplied(
            &format!("V{}__broken", newest_version() + 1),
            "CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table VALUES (1);",
        )
        .unwrap(),
    );
    refinery::Runner::new(&all)
}

fn dump(conn: &Connection) -> Vec<(String, String)> {
    let mut stmt = conn
        .prepare("SELECT name, coalesce(sql, '') FROM sqlite_master ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn newest_version_is_the_highest_migration_file() {
    let highest = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_prefix('V')?
                .split_once("__")?
                .0
                .parse::<i64>()
                .ok()
        })
        .max();
    assert_eq!(Some(newest_version()), highest);
    assert!(newest_version() >= 3);
}

#[test]
fn a_migration_failing_halfway_leaves_the_database_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let mut conn = open_current(&path);
    conn.execute_batch(
        "INSERT INTO plugins (category, name, title, config_schema, is_configured, execution_mode,
             manages_child_processes, manages_external_resources, created_at, updated_at)
         VALUES ('c', 'n', 't', '{}', 0, 'docker', 0, 0, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
    )
    .unwrap();
    let before = dump(&conn);
    let err = migrate(&mut conn, &path, broken_runner()).unwrap_err();
    assert!(
        matches!(err, Fault::Whole(Error::Migration { .. })),
        "{err:?}"
    );
    assert_eq!(dump(&conn), before);
    assert_eq!(schema_version(&conn, &path).unwrap(), newest_version());
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM plugins", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
    let history: i64 = conn
        .query_row(&format!("SELECT count(*) FROM {HISTORY_TABLE}"), [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        history,
        known_migrations().len() as i64,
        "no history row for the broken migration"
    );
    drop(conn);

    // Byte for byte: once closed (WAL checkpointed away), a failed
    // migration run leaves the file exactly as it was.
    let bytes = std::fs::read(&path).unwrap();
    let mut conn = open_current(&path);
    migrate(&mut conn, &path, broken_runner()).unwrap_err();
    drop(conn);
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

/// From version 1, the later migrations and a broken one are pending:
/// grouped, they fail together, so V2 is not applied either, and the
/// file still opens.
#[test]
fn pending_migrations_apply_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    let all = migrations::runner().get_migrations().clone();
    let v1: Vec<_> = all.iter().filter(|m| m.version() == 1).cloned().collect();
    let mut conn = open_file_with_runner(&path, refinery::Runner::new(&v1));
    let before = dump(&conn);
    assert_eq!(schema_version(&conn, &path).unwrap(), 1);
    let err = migrate(&mut conn, &path, broken_runner()).unwrap_err();
    assert!(
        matches!(err, Fault::Whole(Error::Migration { .. })),
        "{err:?}"
    );
    assert_eq!(dump(&conn), before, "V2 was applied without V3");
    assert_eq!(schema_version(&conn, &path).unwrap(), 1);
    drop(conn);
    // The real runner still upgrades it.
    let conn = open_current(&path);
    assert_eq!(schema_version(&conn, &path).unwrap(), newest_version());
}

/// The race refinery leaves open: this process read the applied list
/// (empty), another process then applied every migration, and this one
/// runs its stale plan and fails ("table plugins already exists"). The
/// store must notice the other's progress and open without error.
#[test]
fn losing_the_migration_race_to_another_process_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db");
    let mut conn = configured(&path);
    examine(&conn, &path, Default::default()).unwrap();
    let runner = migrations::runner().set_grouped(true);
    let v1 = runner.get_migrations()[0].sql().unwrap().to_owned();
    let mut runs = 0;
    migrate_using(&mut conn, &path, &runner, None, |conn| {
        runs += 1;
        if runs > 1 {
            return migrate(conn, &path, migrations::runner());
        }
        // The other process wins...
        drop(open_current(&path));
        // ...and this one applies V1 from its stale list.
        let tx = conn.transaction()?;
        tx.execute_batch(&v1)?;
        Ok(tx.commit()?)
    })
    .unwrap();
    assert_eq!(runs, 1, "the re-read history showed nothing left to do");
    assert_eq!(schema_version(&conn, &path).unwrap(), newest_version());
    let rows: i64 = conn
        .query_row(&format!("SELECT count(*) FROM {HISTORY_TABLE}"), [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(rows, known_migrations().len() as i64);
}

fn open_file_with_runner(path: &Path, runner: refinery::Runner) -> Connection {
    let mut conn = configured(path);
    migrate(&mut conn, path, runner).unwrap();
    conn
}
