//! Opening a store file, step two: the schema, by refinery migrations.
//!
//! The schema history is read with a plain read; when it is current nothing
//! else happens, so re-opening a current file is a few microseconds of
//! reads and writes nothing. Otherwise refinery runs every pending migration
//! and its history row in one `BEGIN IMMEDIATE` transaction
//! (`set_grouped(true)`).
//!
//! Compatibility promises:
//! - a file whose history names a migration newer than this build is refused
//!   with [`Error::SchemaTooNew`] before anything is written;
//! - an applied migration whose checksum differs from this build's is
//!   refused with [`Error::Migration`], untouched;
//! - several processes migrating the same file at once all succeed: refinery
//!   reads the applied list outside its write transaction, so the loser of
//!   that race fails (for instance "table plugins already exists") with its
//!   transaction rolled back; the store then re-reads the history and retries
//!   while another process is making progress.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Error, Result, show};
use crate::open::HISTORY_TABLE;

refinery::embed_migrations!("migrations");

/// The newest schema version this build knows.
pub(crate) fn newest_version() -> i64 {
    migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0)
}

/// The migrations this build embeds, as `(version, name, checksum)` in
/// version order: what a file's history is compared with.
pub(crate) fn known_migrations() -> Vec<(i64, String, u64)> {
    let mut known: Vec<(i64, String, u64)> = migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| (i64::from(m.version()), m.name().to_owned(), m.checksum()))
        .collect();
    known.sort();
    known
}

/// What the history table says: the versions applied, in order, with the
/// checksums refinery recorded for them.
#[derive(Debug, PartialEq, Eq)]
struct History {
    versions: Vec<i64>,
    checksums: Vec<u64>,
}

/// Reads and checks the history rows (refinery itself would panic on a
/// malformed row, so the store checks them first).
fn read_history(conn: &Connection) -> Result<History> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [HISTORY_TABLE],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(History {
            versions: Vec::new(),
            checksums: Vec::new(),
        });
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT rowid, version, applied_on, checksum FROM {HISTORY_TABLE} ORDER BY version"
    ))?;
    let mut rows = stmt.query([])?;
    let (mut versions, mut checksums) = (Vec::new(), Vec::new());
    while let Some(row) = rows.next()? {
        let rowid: i64 = row.get(0)?;
        let bad = |column: &'static str, value: String, reason: &str| Error::BadData {
            path: std::path::PathBuf::new(),
            table: HISTORY_TABLE,
            column,
            row: rowid,
            value,
            reason: reason.to_owned(),
        };
        let version = match row.get_ref(1)? {
            rusqlite::types::ValueRef::Integer(v) => v,
            other => return Err(bad("version", show(other), "not an integer")),
        };
        let applied_on = row.get_ref(2)?;
        match applied_on {
            rusqlite::types::ValueRef::Text(t)
                if std::str::from_utf8(t)
                    .is_ok_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()) => {}
            other => {
                return Err(bad("applied_on", show(other), "not an RFC 3339 timestamp"));
            }
        }
        let checksum = match row.get_ref(3)? {
            rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(|t| t.parse::<u64>().ok()),
            _ => None,
        };
        let Some(checksum) = checksum else {
            return Err(bad(
                "checksum",
                show(row.get_ref(3)?),
                "not an unsigned integer",
            ));
        };
        versions.push(version);
        checksums.push(checksum);
    }
    Ok(History {
        versions,
        checksums,
    })
}

/// Compares the file's history with the migrations this build knows:
/// `Ok(true)` when every one is applied, `Ok(false)` when some are pending,
/// an error when the file is newer than this build or an applied migration
/// differs from this build's (the file was migrated by another build).
fn is_current(history: &History, known: &[(i64, u64)], path: &Path) -> Result<bool> {
    let newest = known.iter().map(|&(v, _)| v).max().unwrap_or(0);
    if let Some(&found) = history.versions.iter().max()
        && found > newest
    {
        return Err(Error::SchemaTooNew {
            path: path.into(),
            found,
            supported: newest,
        });
    }
    for (version, checksum) in history.versions.iter().zip(&history.checksums) {
        if let Some(&(_, ours)) = known.iter().find(|(v, _)| v == version)
            && ours != *checksum
        {
            return Err(Error::Migration {
                path: path.into(),
                reason: format!(
                    "migration V{version} recorded in the file differs from this build's \
                     (checksum {checksum}, expected {ours}); the file was migrated by another build"
                ),
                source: None,
            });
        }
    }
    Ok(known.iter().all(|(v, _)| history.versions.contains(v)))
}

/// Brings the schema of `conn` (the file at `path`) up to date with this
/// build's migrations.
pub(crate) fn migrate_to_current(conn: &mut Connection, path: &Path) -> Result<()> {
    migrate(conn, path, migrations::runner())
}

/// Step two: run the pending migrations of `runner`, atomically, or refuse a
/// file that is newer than `runner` knows.
pub(crate) fn migrate(conn: &mut Connection, path: &Path, runner: refinery::Runner) -> Result<()> {
    let runner = runner.set_grouped(true);
    migrate_using(conn, path, &runner, |conn| {
        runner.run(conn).map(|_| ()).map_err(|e| Error::Migration {
            path: path.into(),
            reason: refinery_reason(&e),
            source: Some(e),
        })
    })
}

/// refinery's error in one line: its message and the database error
/// behind it (not the migration's SQL).
fn refinery_reason(e: &refinery::Error) -> String {
    match e.kind() {
        refinery::error::Kind::Connection(message, source) => format!("{message}: {source}"),
        other => other.to_string(),
    }
}

/// [`migrate`] with the refinery run as a closure, so a unit test can play
/// the other process that wins the race between refinery's read of the
/// applied list and its write.
fn migrate_using(
    conn: &mut Connection,
    path: &Path,
    runner: &refinery::Runner,
    mut run: impl FnMut(&mut Connection) -> Result<()>,
) -> Result<()> {
    let known: Vec<(i64, u64)> = runner
        .get_migrations()
        .iter()
        .map(|m| (i64::from(m.version()), m.checksum()))
        .collect();

    // Each retry follows progress made by another process; a failure with
    // no progress elsewhere is final.
    const MAX_ATTEMPTS: usize = 20;
    let mut attempt = 0;
    loop {
        let before = read_history(conn)?;
        if is_current(&before, &known, path)? {
            return Ok(());
        }
        conn.set_transaction_behavior(TransactionBehavior::Immediate);
        let outcome = run(conn);
        conn.set_transaction_behavior(TransactionBehavior::Deferred);
        match outcome {
            Ok(_) => return Ok(()),
            Err(e) => {
                attempt += 1;
                let after = read_history(conn)?;
                if after != before && attempt < MAX_ATTEMPTS {
                    continue;
                }
                if is_current(&after, &known, path)? {
                    return Ok(());
                }
                return Err(match e {
                    e @ Error::Migration { .. } => e,
                    other => Error::Migration {
                        path: path.into(),
                        reason: other.to_string(),
                        source: None,
                    },
                });
            }
        }
    }
}

/// The schema version recorded in the file (the newest applied migration).
pub(crate) fn schema_version(conn: &Connection) -> Result<i64> {
    Ok(read_history(conn)?.versions.into_iter().max().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::open::{StoreOptions, configure, create_owner_only, open_file};

    /// A file opened and brought up to date, as a store opens it.
    fn open_current(path: &Path) -> Connection {
        let mut conn = open_file(path, &StoreOptions::default()).unwrap();
        migrate_to_current(&mut conn, path).unwrap();
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
        assert!(matches!(err, Error::Migration { .. }), "{err}");
        assert_eq!(dump(&conn), before);
        assert_eq!(schema_version(&conn).unwrap(), newest_version());
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
        assert_eq!(schema_version(&conn).unwrap(), 1);
        let err = migrate(&mut conn, &path, broken_runner()).unwrap_err();
        assert!(matches!(err, Error::Migration { .. }), "{err}");
        assert_eq!(dump(&conn), before, "V2 was applied without V3");
        assert_eq!(schema_version(&conn).unwrap(), 1);
        drop(conn);
        // The real runner still upgrades it.
        let conn = open_current(&path);
        assert_eq!(schema_version(&conn).unwrap(), newest_version());
    }

    /// The race refinery leaves open: this process read the applied list
    /// (empty), another process then applied every migration, and this one
    /// runs its stale plan and fails ("table plugins already exists"). The
    /// store must notice the other's progress and open without error.
    #[test]
    fn losing_the_migration_race_to_another_process_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("race.db");
        create_owner_only(&path).unwrap();
        let mut conn = Connection::open(&path).unwrap();
        configure(&conn, &path, Some(&path), &StoreOptions::default()).unwrap();
        let runner = migrations::runner().set_grouped(true);
        let v1 = runner.get_migrations()[0].sql().unwrap().to_owned();
        let mut runs = 0;
        migrate_using(&mut conn, &path, &runner, |conn| {
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
        assert_eq!(schema_version(&conn).unwrap(), newest_version());
        let rows: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {HISTORY_TABLE}"), [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(rows, known_migrations().len() as i64);
    }

    fn open_file_with_runner(path: &Path, runner: refinery::Runner) -> Connection {
        create_owner_only(path).unwrap();
        let mut conn = Connection::open(path).unwrap();
        configure(&conn, path, Some(path), &StoreOptions::default()).unwrap();
        migrate(&mut conn, path, runner).unwrap();
        conn
    }
}
