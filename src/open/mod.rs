//! Opening a store file, step one: file checks, and connection settings
//! made outside any transaction.
//!
//! [`StoreOptions`] says how a store opens; [`open_file`] refuses what is
//! not a store file (a directory, a missing parent, a file that is not
//! SQLite, another application's database, a file cut short) before
//! anything is written, creates a new file owner-only, and configures the
//! connection (`journal_mode=WAL`, `synchronous`, `foreign_keys=ON`, a busy
//! timeout, a WAL size limit, a 64 MiB page cache limit, temporary files in
//! memory). Step two, the
//! schema, is [`crate::migrate`].

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::error::{Error, Result};

mod file;

pub(crate) use file::create_owner_only;

/// The name of refinery's history table: a file with tables but without
/// this one is another application's database.
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
    /// cache and WAL size limits, temporary files in memory), as one SQL
    /// batch: for tools that open the
    /// file themselves and want the store's exact settings (the benchmark's
    /// hand-written baseline, a `sqlite3` session). The busy timeout is not
    /// a statement; set it through your driver.
    pub fn pragma_sql(&self) -> String {
        let synchronous = match self.synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        // temp_store = MEMORY: SQLite's temporary files stay in memory. The
        // one that matters is the statement journal: the change-log
        // triggers (migration `change_feed`) make SQLite journal the pages
        // each write statement on the three plugin tables changes, so that
        // a foreign-key failure can undo just that statement. By default a
        // statement journal over 64 KiB moves to a file in /var/tmp and
        // stays there for the rest of the transaction: a 100,000-plugin
        // save_all then made a million pwrite calls (2 GB) and took twice
        // as long. In memory it holds one statement's pages at a time.
        format!(
            "PRAGMA synchronous = {synchronous};\n\
             PRAGMA foreign_keys = ON;\n\
             PRAGMA cache_size = -{CACHE_SIZE_KIB};\n\
             PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT};\n\
             PRAGMA temp_store = MEMORY;\n"
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
/// `examples/bench/`). Pages are only allocated as they are read, so a
/// small store uses little; a list of every plugin needs several times this
/// much for the plugins themselves.
const CACHE_SIZE_KIB: i64 = 64 * 1024;

/// Opens (creating if absent, owner-only) the database file at `path` and
/// configures the connection; the schema is brought up to date after. A
/// path that cannot be a store file is refused in words before anything
/// is created; a store this process cannot write is [`Error::ReadOnly`];
/// a file this call created is removed again if the open fails.
pub(crate) fn open_file(
    path: &Path,
    options: &StoreOptions,
    precheck: Precheck<'_>,
) -> Result<Connection> {
    let cannot = |reason: String| Error::CannotOpen {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(reason) = file::unusable(path) {
        return Err(cannot(reason));
    }
    if path.exists()
        && let Some(reason) = file::read_only_reason(path)
    {
        return Err(Error::ReadOnly {
            path: path.to_path_buf(),
            reason,
        });
    }
    let created = file::create_owner_only(path)
        .map_err(|e| cannot(format!("cannot create it: {}", file::describe(&e))))?;
    let opened = file::tighten(path).map_err(cannot).and_then(|()| {
        // No SQLITE_OPEN_CREATE: the file exists now, and if it vanished in
        // between we would rather fail than create it with the default mode.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| cannot(e.to_string()))?;
        configure(&conn, path, Some(path), options, precheck)?;
        Ok(conn)
    });
    if opened.is_err() && created {
        file::remove_created(path);
    }
    opened
}

/// Opens an existing store file for reading only: nothing is created,
/// changed or migrated. In WAL mode SQLite needs the `-shm` file; when it
/// is absent and cannot be created (a read-only directory), the file is
/// opened as immutable, which is exact for a store nobody can write.
pub(crate) fn open_file_read_only(path: &Path, options: &StoreOptions) -> Result<Connection> {
    let cannot = |reason: String| Error::CannotOpen {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(reason) = file::unusable(path) {
        return Err(cannot(reason));
    }
    if !path.exists() {
        return Err(cannot("it does not exist".to_owned()));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| cannot(e.to_string()))?;
    match configure_read_only(&conn, path, options) {
        Err(Error::Sqlite(e))
            if matches!(
                sqlite_code(&e),
                Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly)
            ) =>
        {
            drop(conn);
            let uri = format!("file:{}?immutable=1", uri_path(path));
            let conn = Connection::open_with_flags(&uri, flags | OpenFlags::SQLITE_OPEN_URI)
                .map_err(|e| cannot(e.to_string()))?;
            configure_read_only(&conn, path, options)?;
            Ok(conn)
        }
        Err(e) => Err(e),
        Ok(()) => Ok(conn),
    }
}

/// `path` percent-encoded for an SQLite `file:` URI.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Opens `path` read-only, for looking without changing anything: no
/// pragma is set, and when no `-wal` is beside the file (no connection has
/// it open, and the last one checkpointed) it is opened `immutable`, so
/// SQLite does not create the `-wal` and `-shm` files a read-only WAL
/// reader otherwise leaves behind.
pub(crate) fn open_read_only(path: &Path) -> Result<Connection> {
    let cannot = |reason: String| Error::CannotOpen {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| cannot(e.to_string()))?;
    if meta.is_dir() {
        return Err(cannot("it is a directory".to_owned()));
    }
    std::fs::File::open(path).map_err(|e| cannot(e.to_string()))?;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let live = Path::new(&wal).exists();
    let uri = file_uri(
        path,
        if live {
            "mode=ro"
        } else {
            "mode=ro&immutable=1"
        },
    )
    .ok_or_else(|| cannot("the path is not valid UTF-8".to_owned()))?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(uri, flags).map_err(|e| cannot(e.to_string()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

/// `file:` URI of `path` with `query`, every byte outside the unreserved
/// set and `/` percent-encoded.
fn file_uri(path: &Path, query: &str) -> Option<String> {
    let absolute = std::path::absolute(path).ok()?;
    let text = absolute.to_str()?;
    let mut uri = String::from("file:");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push('?');
    uri.push_str(query);
    Some(uri)
}

/// Opens a configured in-memory database.
pub(crate) fn open_memory(options: &StoreOptions) -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    configure(&conn, Path::new(":memory:"), None, options, &mut |_, _| {
        Ok(())
    })?;
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

pub(crate) fn sqlite_code(e: &rusqlite::Error) -> Option<ErrorCode> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    }
}

/// What the caller checks before the file is first written: that its
/// migration history is this tool's (see `migrate::precheck`), so another
/// application's database is refused byte for byte.
pub(crate) type Precheck<'a> = &'a mut dyn FnMut(&Connection, &Path) -> Result<()>;

/// Step one: connection settings, all outside any transaction. Also the
/// first read of the file, which tells whether it is a database at all.
pub(crate) fn configure(
    conn: &Connection,
    path: &Path,
    file: Option<&Path>,
    options: &StoreOptions,
    precheck: Precheck<'_>,
) -> Result<()> {
    conn.busy_timeout(busy_timeout(options))?;
    check_is_store(conn, path)?;
    if let Some(file) = file {
        check_whole_pages(conn, file)?;
    }
    // Before the first write (the WAL switch rewrites the header).
    precheck(conn, path)?;

    // Switching a new file to WAL needs an exclusive lock, and a concurrent
    // opener can make it answer SQLITE_BUSY at once, without the busy
    // handler: retry until the busy timeout has passed.
    let deadline = Instant::now() + busy_timeout(options);
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

/// [`configure`] for a read-only connection: the same checks and
/// settings, without switching the journal mode (a write).
fn configure_read_only(conn: &Connection, path: &Path, options: &StoreOptions) -> Result<()> {
    conn.busy_timeout(busy_timeout(options))?;
    check_is_store(conn, path)?;
    check_whole_pages(conn, path)?;
    conn.execute_batch(&options.pragma_sql())?;
    Ok(())
}

/// The busy timeout as SQLite can take it: milliseconds in a C int (about
/// 24 days; `Duration::MAX` means "wait as long as you can").
fn busy_timeout(options: &StoreOptions) -> Duration {
    options
        .busy_timeout
        .min(Duration::from_millis(i32::MAX.unsigned_abs().into()))
}

/// The first read of the file (SQLite checks its header here): refuses a
/// file that is not SQLite, or is another application's database (it holds
/// objects — tables, views, indexes, triggers — but no refinery history).
fn check_is_store(conn: &Connection, path: &Path) -> Result<()> {
    let not_a_store = |reason: String| Error::NotAStore {
        path: path.into(),
        reason,
    };
    let objects: Vec<(String, String)> = match read_objects(conn) {
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
    let has = |kind: &str, name: &str| objects.iter().any(|(k, n)| k == kind && n == name);
    if !has("table", HISTORY_TABLE) && has("table", "plugins") && has("table", "plugin_pids") {
        return Err(Error::Damaged {
            path: path.into(),
            reason: format!(
                "its migration history ({HISTORY_TABLE}) is missing, but it holds the store's \
                 tables; it was left untouched"
            ),
        });
    }
    if !objects.is_empty() && !has("table", HISTORY_TABLE) {
        let listed: Vec<String> = objects
            .iter()
            .take(8)
            .map(|(kind, name)| format!("{kind} {name}"))
            .collect();
        return Err(not_a_store(format!(
            "it holds other objects ({}{}) and no {HISTORY_TABLE}",
            listed.join(", "),
            if objects.len() > 8 { ", …" } else { "" }
        )));
    }
    Ok(())
}

/// Every schema object of the file but SQLite's own, as `(type, name)`.
fn read_objects(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         ORDER BY type, name",
    )?;
    let names = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    names.collect()
}
