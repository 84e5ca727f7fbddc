//! Opening a store: file checks, pragmas, and the refinery migrations.
//!
//! Opening happens in two steps. First the connection is configured outside
//! any transaction (`journal_mode=WAL`, `synchronous`, `foreign_keys=ON`, a
//! busy timeout, a WAL size limit, a 64 MiB page cache limit). Then the
//! schema history is read with a plain read; when it is current nothing else
//! happens, so re-opening a current file is a few microseconds of reads and
//! writes nothing. Otherwise refinery runs every pending migration and its
//! history row in one `BEGIN IMMEDIATE` transaction (`set_grouped(true)`).
//!
//! Compatibility promises:
//! - a file whose history names a migration newer than this build is refused
//!   with [`Error::SchemaTooNew`] before anything is written;
//! - a file that is not SQLite, or is another application's SQLite database,
//!   is refused with [`Error::NotAStore`] and not modified;
//! - several processes migrating the same file at once all succeed: refinery
//!   reads the applied list outside its write transaction, so the loser of
//!   that race fails (for instance "table plugins already exists") with its
//!   transaction rolled back; the store then re-reads the history and retries
//!   while another process is making progress.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use crate::error::{Error, Result};
use crate::store::show;

refinery::embed_migrations!("migrations");

/// The name of refinery's history table.
pub(crate) const HISTORY_TABLE: &str = "refinery_schema_history";

/// How hard SQLite works to make a commit durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Synchronous {
    /// `synchronous=NORMAL` in WAL mode (the default): an application crash,
    /// even `kill -9`, loses no committed transaction and never corrupts the
    /// file; on power loss or an OS crash the last few commits may roll back,
    /// but the file stays consistent.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is synced to disk before it returns,
    /// so it survives power loss too, at the cost of an fsync per commit.
    Full,
}

/// Settings for [`MetadataStore::open_with`](crate::MetadataStore::open_with).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOptions {
    /// How long a statement waits for another connection's write lock before
    /// it fails with "database is locked". Default: 10 seconds.
    pub busy_timeout: Duration,
    /// Durability of commits. Default: [`Synchronous::Normal`].
    pub synchronous: Synchronous,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            busy_timeout: Duration::from_secs(10),
            synchronous: Synchronous::Normal,
        }
    }
}

impl StoreOptions {
    /// The defaults (see the fields).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`busy_timeout`](Self::busy_timeout).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Sets [`synchronous`](Self::synchronous).
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// The `PRAGMA` statements a store runs on its connection after
    /// switching the file to WAL (`synchronous`, `foreign_keys`, the page
    /// cache and WAL size limits), as one SQL batch: for tools that open the
    /// file themselves and want the store's exact settings (the benchmark's
    /// hand-written baseline, a `sqlite3` session). The busy timeout is not
    /// a statement; set it through your driver.
    pub fn pragma_sql(&self) -> String {
        let synchronous = match self.synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        format!(
            "PRAGMA synchronous = {synchronous};\n\
             PRAGMA foreign_keys = ON;\n\
             PRAGMA cache_size = -{CACHE_SIZE_KIB};\n\
             PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT};\n"
        )
    }
}

/// The WAL file is truncated back to this size after a checkpoint, so one
/// long-lived reader cannot leave a huge `-wal` file behind for good.
const JOURNAL_SIZE_LIMIT: i64 = 8 * 1024 * 1024;

/// The most page cache one connection keeps, in KiB (`PRAGMA cache_size`
/// takes a negative number as KiB). SQLite's default, 2 MiB, holds about
/// 4,000 plugins' pages: with more, every list re-reads the file through
/// the OS, which made listing 100,000 plugins 1.5× slower (see
/// `examples/bench.rs`). Pages are only allocated as they are read, so a
/// small store uses little; a list of every plugin needs several times this
/// much for the plugins themselves.
const CACHE_SIZE_KIB: i64 = 64 * 1024;

/// The newest schema version this build knows.
pub(crate) fn newest_version() -> i64 {
    migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0)
}

/// Opens (creating if absent, owner-only) the database file at `path`,
/// configures it and brings its schema up to date.
pub(crate) fn open_file(path: &Path, options: &StoreOptions) -> Result<Connection> {
    let cannot = |reason: String| Error::CannotOpen {
        path: path.to_path_buf(),
        reason,
    };
    if path.as_os_str().is_empty() {
        return Err(cannot("the path is empty".to_owned()));
    }
    if path.is_dir() {
        return Err(cannot("it is a directory".to_owned()));
    }
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
        && !parent.is_dir()
    {
        return Err(cannot(format!(
            "the directory {} does not exist",
            parent.display()
        )));
    }
    create_owner_only(path).map_err(|e| cannot(e.to_string()))?;

    // No SQLITE_OPEN_CREATE: the file exists now, and if it vanished in
    // between we would rather fail than create it with the default mode.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| cannot(e.to_string()))?;
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        return Err(cannot("the file is read-only".to_owned()));
    }
    configure(&conn, &path.display().to_string(), Some(path), options)?;
    let mut conn = conn;
    migrate(&mut conn, &path.display().to_string(), migrations::runner())?;
    Ok(conn)
}

/// Opens a configured, migrated in-memory database.
pub(crate) fn open_memory(options: &StoreOptions) -> Result<Connection> {
    let mut conn = Connection::open_in_memory()?;
    configure(&conn, ":memory:", None, options)?;
    migrate(&mut conn, ":memory:", migrations::runner())?;
    Ok(conn)
}

/// Refuses an SQLite file whose size is not a whole number of pages: it was
/// cut short (a failed copy or download, a full disk). SQLite itself
/// refuses a file shorter than the page count in its header, but a file
/// missing only part of its last page opens and reads zeros there. Called
/// once SQLite has read the header (so the file is SQLite and `page_size`
/// is the file's); costs one `stat`.
///
/// The file is never opened here: closing any descriptor of a file drops
/// every POSIX lock this process holds on it, including the locks of other
/// stores on the same file, which would let another process delete the
/// WAL under them.
///
/// The size is checked against `min(page size, 4096)`: SQLite writes whole
/// pages, but while another process extends the file with pages larger
/// than 4 KiB the size can momentarily stop at a 4 KiB boundary, which is
/// not damage.
fn check_whole_pages(conn: &Connection, file: &Path) -> Result<()> {
    let len = std::fs::metadata(file)?.len();
    let page_size = conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))?;
    let page_size = u64::try_from(page_size).unwrap_or(4096).clamp(512, 65536);
    if len % page_size.min(4096) != 0 {
        return Err(Error::NotAStore {
            path: file.to_path_buf(),
            reason: format!(
                "the database is damaged: its size ({len} bytes) is not a whole number of \
                 {page_size}-byte pages, so it was probably cut short"
            ),
        });
    }
    Ok(())
}

/// Creates `path` with mode 0600 on Unix if it does not exist yet.
fn create_owner_only(path: &Path) -> std::io::Result<()> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600);
    }
    match open.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn sqlite_code(e: &rusqlite::Error) -> Option<ErrorCode> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    }
}

/// Step one: connection settings, all outside any transaction. Also the
/// first read of the file, which tells whether it is a database at all.
fn configure(
    conn: &Connection,
    path: &str,
    file: Option<&Path>,
    options: &StoreOptions,
) -> Result<()> {
    // SQLite takes the timeout in milliseconds as a C int: cap it (about 24
    // days; `Duration::MAX` means "wait as long as you can").
    let busy_timeout = options
        .busy_timeout
        .min(Duration::from_millis(i32::MAX.unsigned_abs().into()));
    conn.busy_timeout(busy_timeout)?;
    let not_a_store = |reason: String| Error::NotAStore {
        path: path.into(),
        reason,
    };

    // The first read of the file: SQLite checks its header here.
    let tables: Vec<String> = match read_table_names(conn) {
        Ok(t) => t,
        Err(e) => {
            return Err(match sqlite_code(&e) {
                Some(ErrorCode::NotADatabase) => {
                    not_a_store("the file is not an SQLite database".to_owned())
                }
                Some(ErrorCode::DatabaseCorrupt) => {
                    not_a_store(format!("the database is damaged ({e})"))
                }
                _ => Error::Sqlite(e),
            });
        }
    };
    if !tables.is_empty() && !tables.iter().any(|t| t == HISTORY_TABLE) {
        return Err(not_a_store(format!(
            "it holds other tables ({}) and no {HISTORY_TABLE}",
            tables.join(", ")
        )));
    }
    if let Some(file) = file {
        check_whole_pages(conn, file)?;
    }

    // Switching a new file to WAL needs an exclusive lock, and a concurrent
    // opener can make it answer SQLITE_BUSY at once, without the busy
    // handler: retry until the busy timeout has passed.
    let deadline = Instant::now() + busy_timeout;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(_) => break,
            Err(e)
                if matches!(
                    sqlite_code(&e),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e.into()),
        }
    }
    // execute_batch steps each statement, so pragmas that return a row
    // (journal_size_limit) are fine.
    conn.execute_batch(&options.pragma_sql())?;
    Ok(())
}

fn read_table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    names.collect()
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
fn is_current(history: &History, known: &[(i64, u64)], path: &str) -> Result<bool> {
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

/// Step two: run the pending migrations of `runner`, atomically, or refuse a
/// file that is newer than `runner` knows.
pub(crate) fn migrate(conn: &mut Connection, path: &str, runner: refinery::Runner) -> Result<()> {
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
    path: &str,
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

    /// This build's migrations plus a V3 that creates a table and then fails
    /// on its second statement.
    fn broken_runner() -> refinery::Runner {
        let mut all = migrations::runner().get_migrations().clone();
        all.push(
            refinery::Migration::unapplied(
                "V3__broken",
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
        assert_eq!(newest_version(), 2);
    }

    #[test]
    fn a_migration_failing_halfway_leaves_the_database_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = open_file(&path, &StoreOptions::default()).unwrap();
        conn.execute_batch(
            "INSERT INTO plugins (category, name, title, config_schema, is_configured, execution_mode,
                 manages_child_processes, manages_external_resources, created_at, updated_at)
             VALUES ('c', 'n', 't', '{}', 0, 'docker', 0, 0, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        )
        .unwrap();
        let before = dump(&conn);
        let err = migrate(&mut conn, "m.db", broken_runner()).unwrap_err();
        assert!(matches!(err, Error::Migration { .. }), "{err}");
        assert_eq!(dump(&conn), before);
        assert_eq!(schema_version(&conn).unwrap(), 2);
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM plugins", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
        let history: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {HISTORY_TABLE}"), [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(history, 2, "no history row for the broken V3");
        drop(conn);

        // Byte for byte: once closed (WAL checkpointed away), a failed
        // migration run leaves the file exactly as it was.
        let bytes = std::fs::read(&path).unwrap();
        let mut conn = open_file(&path, &StoreOptions::default()).unwrap();
        migrate(&mut conn, "m.db", broken_runner()).unwrap_err();
        drop(conn);
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    /// From version 1, V2 and a broken V3 are pending: grouped, they fail
    /// together, so V2 is not applied either, and the file still opens.
    #[test]
    fn pending_migrations_apply_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let all = migrations::runner().get_migrations().clone();
        let v1: Vec<_> = all.iter().filter(|m| m.version() == 1).cloned().collect();
        let mut conn = open_file_with_runner(&path, refinery::Runner::new(&v1));
        let before = dump(&conn);
        assert_eq!(schema_version(&conn).unwrap(), 1);
        let err = migrate(&mut conn, "v1.db", broken_runner()).unwrap_err();
        assert!(matches!(err, Error::Migration { .. }), "{err}");
        assert_eq!(dump(&conn), before, "V2 was applied without V3");
        assert_eq!(schema_version(&conn).unwrap(), 1);
        drop(conn);
        // The real runner still upgrades it.
        let conn = open_file(&path, &StoreOptions::default()).unwrap();
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
        configure(&conn, "race.db", Some(&path), &StoreOptions::default()).unwrap();
        let runner = migrations::runner().set_grouped(true);
        let v1 = runner.get_migrations()[0].sql().unwrap().to_owned();
        let mut runs = 0;
        migrate_using(&mut conn, "race.db", &runner, |conn| {
            runs += 1;
            if runs > 1 {
                return migrate(conn, "race.db", migrations::runner());
            }
            // The other process wins...
            drop(open_file(&path, &StoreOptions::default()).unwrap());
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
        assert_eq!(rows, newest_version());
    }

    fn open_file_with_runner(path: &Path, runner: refinery::Runner) -> Connection {
        create_owner_only(path).unwrap();
        let mut conn = Connection::open(path).unwrap();
        configure(&conn, "v1.db", Some(path), &StoreOptions::default()).unwrap();
        migrate(&mut conn, "v1.db", runner).unwrap();
        conn
    }
}
