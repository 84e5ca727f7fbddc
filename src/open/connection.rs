//! SQLite connections to a store file, and the checks and settings made on
//! them outside any transaction: the pieces [`crate::connect`] puts
//! together for each way of opening a store.
//!
//! Every function here that sees a path names it in its errors; what
//! SQLite reports without a word of ours is a [`Fault`] that the opener
//! turns into an [`Error`] with the same path.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::HISTORY_TABLE;
use super::file;
use super::options::StoreOptions;
use crate::error::{Error, Fallible, Fault, Result, sqlite_code};
use crate::schema::{self, Listing};

/// A connection to the store file at `path` for reading and writing,
/// creating the file (owner-only) if absent, and whether this call created
/// it (the caller removes it again if the open then fails: see
/// [`file::remove_created`]). A path that cannot be a store file is
/// refused in words before anything is created; a store this process
/// cannot write is [`Error::ReadOnly`].
pub(crate) fn read_write(path: &Path) -> Result<(Connection, bool)> {
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
        Connection::open_with_flags(path, flags).map_err(|e| cannot(e.to_string()))
    });
    match opened {
        Ok(conn) => Ok((conn, created)),
        Err(e) => {
            if created {
                file::remove_created(path);
            }
            Err(e)
        }
    }
}

/// A read-only connection to the existing store file at `path`, checked
/// as a store ([`check_file`]) and configured: nothing is created or
/// changed. In WAL mode SQLite needs the `-shm` file; when it is absent and
/// cannot be created (a read-only directory), the file is opened as
/// immutable, which is exact for a store nobody can write.
pub(crate) fn read_only(path: &Path, options: &StoreOptions) -> Result<(Connection, Listing)> {
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
    let site = options.site(path);
    let conn = Connection::open_with_flags(path, flags).map_err(|e| cannot(e.to_string()))?;
    let setup = |conn: &Connection| {
        conn.busy_timeout(options.sqlite_busy_timeout())?;
        let objects = check_file(conn, path)?;
        apply_pragmas(conn, options)?;
        Ok::<_, Fault>(objects)
    };
    match setup(&conn) {
        Err(f)
            if matches!(
                f.sqlite_code(),
                Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly)
            ) =>
        {
            drop(conn);
            let uri = file_uri(path, "immutable=1")
                .ok_or_else(|| cannot("the path is not valid UTF-8".to_owned()))?;
            let conn = Connection::open_with_flags(&uri, flags | OpenFlags::SQLITE_OPEN_URI)
                .map_err(|e| cannot(e.to_string()))?;
            let objects = setup(&conn).map_err(|f| f.at(site))?;
            Ok((conn, objects))
        }
        Err(f) => Err(f.at(site)),
        Ok(objects) => Ok((conn, objects)),
    }
}

/// A read-only connection for looking at a file without changing anything
/// (verify, checking a backup): nothing is checked or set but the busy
/// timeout, and when no `-wal` is beside the file (no connection has it
/// open, and the last one checkpointed) it is opened `immutable`, so SQLite
/// does not create the `-wal` and `-shm` files a read-only WAL reader
/// otherwise leaves behind.
pub(crate) fn inspect(path: &Path, options: &StoreOptions) -> Result<Connection> {
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
    let query = if live {
        "mode=ro"
    } else {
        "mode=ro&immutable=1"
    };
    let uri =
        file_uri(path, query).ok_or_else(|| cannot("the path is not valid UTF-8".to_owned()))?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(uri, flags).map_err(|e| cannot(e.to_string()))?;
    conn.busy_timeout(options.sqlite_busy_timeout())
        .map_err(|e| Fault::from(e).at(options.site(path)))?;
    Ok(conn)
}

/// A private database in memory.
pub(crate) fn memory(options: &StoreOptions) -> Fallible<Connection> {
    let conn = Connection::open_in_memory()?;
    conn.busy_timeout(options.sqlite_busy_timeout())?;
    apply_pragmas(&conn, options)?;
    Ok(conn)
}

/// `file:` URI of `path` (made absolute) with `query`, every byte outside
/// the unreserved set and `/` percent-encoded; `None` when the path is not
/// UTF-8 or has no absolute form.
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

/// The first reads of the file, before anything is written: that SQLite
/// takes it as a database ([`check_is_store`]), and that it is a whole
/// number of pages ([`whole_pages`]). Returns the objects it read
/// ([`schema::list`]), for the schema check at the end of the open.
pub(crate) fn check_file(conn: &Connection, path: &Path) -> Fallible<Listing> {
    let objects = check_is_store(conn, path)?;
    let len = std::fs::metadata(path)?.len();
    let page_size = conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))?;
    match whole_pages(len, page_size) {
        Some(reason) => Err(Error::NotAStore {
            path: path.to_path_buf(),
            reason: format!("the database is damaged: {reason}"),
        }
        .into()),
        None => Ok(objects),
    }
}

/// Why a file of `len` bytes with pages of `page_size` was cut short, or
/// `None` when it is a whole number of pages: SQLite itself refuses a file
/// shorter than the page count in its header, but a file missing only part
/// of its last page opens and reads zeros there.
///
/// The size is checked against `min(page size, 4096)`: SQLite writes whole
/// pages, but while another process extends the file with pages larger
/// than 4 KiB the size can momentarily stop at a 4 KiB boundary, which is
/// not damage. (The size is read with `stat`, never by opening the file:
/// closing any descriptor of a file drops every POSIX lock this process
/// holds on it, including the locks of other stores on the same file.)
pub(crate) fn whole_pages(len: u64, page_size: i64) -> Option<String> {
    let page_size = u64::try_from(page_size).unwrap_or(4096).clamp(512, 65536);
    (!len.is_multiple_of(page_size.min(4096))).then(|| {
        format!(
            "its size ({len} bytes) is not a whole number of {page_size}-byte pages, so it \
             was probably cut short"
        )
    })
}

/// Switches the file to WAL. Switching a new file needs an exclusive lock,
/// and a concurrent opener can make it answer SQLITE_BUSY at once, without
/// the busy handler: retried until the busy timeout has passed.
pub(crate) fn switch_to_wal(conn: &Connection, options: &StoreOptions) -> Fallible<()> {
    let deadline = Instant::now() + options.sqlite_busy_timeout();
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(e)
                if matches!(
                    sqlite_code(&e),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e)
                if matches!(
                    sqlite_code(&e),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) =>
            {
                // Not "held its write lock": the file is in rollback mode
                // under connections that hold it in WAL mode.
                return Err(Error::CannotOpen {
                    path: conn.path().map(Into::into).unwrap_or_default(),
                    reason: format!(
                        "it is not in WAL mode (a file copied there with cp while in use?), and \
                         switching it needs every other connection to let go of it: another \
                         connection (a running `watch`, an app) kept it open for the whole busy \
                         timeout ({:?}); stop them and retry. Restore a backup with mv, never \
                         cp over a store in use: SQLite would mix the copy with the old -wal",
                        options.busy_timeout
                    ),
                }
                .into());
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The store's pragmas ([`StoreOptions::pragma_sql`]). `execute_batch`
/// steps each statement, so pragmas that return a row
/// (`journal_size_limit`) are fine.
///
/// And the query planner stability guarantee: SQLite built with STAT4 (the
/// bundled build and most distributions' are) otherwise prepares a
/// statement again whenever a new value is bound to a parameter its plan
/// looked at — for the history's `category = ?1 AND name = ?2 AND at <= ?3`
/// seek, on every call: 16 µs of parsing for a 1 µs seek. The store's
/// statements are fixed and their plans do not depend on the values.
pub(crate) fn apply_pragmas(conn: &Connection, options: &StoreOptions) -> Fallible<()> {
    conn.execute_batch(&options.pragma_sql())?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Turns this connection's triggers on or off (off: the library writes
/// the bookkeeping they do itself; see the store's `transitions.rs`). Only
/// the main schema's triggers: SQLite 3.35 and later still run TEMP
/// triggers. Prepared statements are prepared again on their next use.
pub(crate) fn set_triggers(conn: &Connection, on: bool) -> Fallible<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER,
        on,
    )?;
    Ok(())
}

/// The first read of the file (SQLite checks its header here): refuses a
/// file that is not SQLite, or is another application's database (it holds
/// objects — tables, views, indexes, triggers — but no refinery history).
fn check_is_store(conn: &Connection, path: &Path) -> Fallible<Listing> {
    let not_a_store = |reason: String| Error::NotAStore {
        path: path.into(),
        reason,
    };
    let objects = match schema::list(conn) {
        Ok(t) => t,
        Err(e) => {
            return Err(match sqlite_code(&e) {
                Some(ErrorCode::NotADatabase) => {
                    not_a_store("the file is not an SQLite database".to_owned()).into()
                }
                Some(ErrorCode::DatabaseCorrupt) => {
                    not_a_store(format!("the database is damaged ({e})")).into()
                }
                _ => e.into(),
            });
        }
    };
    let has = |kind: &str, name: &str| objects.iter().any(|(k, n, _)| k == kind && n == name);
    if !has("table", HISTORY_TABLE) && has("table", "plugins") && has("table", "plugin_pids") {
        return Err(Error::Damaged {
            path: path.into(),
            reason: format!(
                "its migration history ({HISTORY_TABLE}) is missing, but it holds the store's \
                 tables; it was left untouched"
            ),
        }
        .into());
    }
    if !objects.is_empty() && !has("table", HISTORY_TABLE) {
        let listed: Vec<String> = objects
            .iter()
            .take(8)
            .map(|(kind, name, _)| format!("{kind} {name}"))
            .collect();
        return Err(not_a_store(format!(
            "it holds other objects ({}{}) and no {HISTORY_TABLE}",
            listed.join(", "),
            if objects.len() > 8 { ", …" } else { "" }
        ))
        .into());
    }
    Ok(objects)
}
