//! The one way to open a connection to a store: [`open`] with a [`Mode`].
//!
//! Every kind of connection the crate makes — a store that migrates its
//! file, a read-only store, a private in-memory store, a change watcher's
//! connection, a look at a file that must not change (verify, checking a
//! backup), an async handle's readers — is one of the modes below, put
//! together from the same steps, in this order, going down the layers and
//! never back up:
//!
//! 1. the file and the connection ([`crate::open`]): refuse what cannot be
//!    a store file before anything is created, create a new file
//!    owner-only, the busy timeout, and the first reads that tell SQLite,
//!    whole files and other applications' databases apart;
//! 2. the migration history ([`crate::migrate::examine`]), read once,
//!    before the first write: another application's history, a lost one
//!    or a newer build's is refused byte for byte;
//! 3. the WAL switch and the pragmas, outside any transaction;
//! 4. the schema ([`crate::migrate::bring_current`]): pending migrations
//!    in one transaction, or the check that a current file's schema is
//!    whole.
//!
//! What a step learned is returned to the next (the history read in step
//! 2 decides step 4), never captured by callbacks; every error is whole
//! and names the file.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::error::{Fallible, Fault, Result};
use crate::migrate;
use crate::open::{self, StoreOptions};

/// What a connection is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A store: creates the file if absent, migrates it, checks its schema.
    ReadWrite,
    /// A store that never writes: the file must exist and be current; its
    /// schema is checked (an async handle's readers are this too).
    ReadOnly,
    /// A private database in memory, migrated.
    InMemory,
    /// A change watcher's connection to a store another connection opened:
    /// the history is checked, nothing is migrated.
    Watcher,
    /// A look at a file that must not change by a byte (verify, checking
    /// a backup): read-only, no pragma, no check; the caller checks.
    Inspect,
}

/// An open connection and what opening it learned.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) conn: Connection,
    /// The file (or `:memory:`), as errors name it.
    pub(crate) path: PathBuf,
}

/// The name errors give an in-memory store.
pub(crate) const IN_MEMORY: &str = ":memory:";

/// Opens a connection to the store at `path` (ignored for
/// [`Mode::InMemory`]) for `mode` (see the module doc).
pub(crate) fn open(path: &Path, mode: Mode, options: &StoreOptions) -> Result<Opened> {
    let path = match mode {
        Mode::InMemory => Path::new(IN_MEMORY),
        _ => path,
    };
    let site = options.site(path);
    let opened = |conn| Opened {
        conn,
        path: path.to_path_buf(),
    };
    match mode {
        Mode::ReadWrite | Mode::Watcher => {
            let (mut conn, created) = open::read_write(path)?;
            match settle(&mut conn, path, mode, options) {
                Ok(()) => Ok(opened(conn)),
                Err(fault) => {
                    drop(conn);
                    if created {
                        // A failed open leaves nothing behind.
                        open::remove_created(path);
                    }
                    Err(fault.at(site))
                }
            }
        }
        Mode::ReadOnly => {
            let (conn, seen) = open::read_only(path, options)?;
            migrate::examine(&conn, path, seen)
                .and_then(|examined| migrate::require_current(&conn, path, &examined))
                .map_err(|f| f.at(site))?;
            Ok(opened(conn))
        }
        Mode::InMemory => {
            let conn = (|| {
                let mut conn = open::memory(options)?;
                let examined = migrate::examine(&conn, path, Default::default())?;
                migrate::bring_current(&mut conn, path, examined)?;
                Ok::<_, Fault>(conn)
            })()
            .map_err(|f| f.at(site))?;
            Ok(opened(conn))
        }
        Mode::Inspect => Ok(opened(open::inspect(path, options)?)),
    }
}

/// Steps 1–4 on a read-write connection.
fn settle(conn: &mut Connection, path: &Path, mode: Mode, options: &StoreOptions) -> Fallible<()> {
    conn.busy_timeout(options.sqlite_busy_timeout())?;
    let seen = open::check_file(conn, path)?;
    let examined = migrate::examine(conn, path, seen)?;
    open::switch_to_wal(conn, options)?;
    open::apply_pragmas(conn, options)?;
    if mode == Mode::Watcher {
        return Ok(());
    }
    migrate::bring_current(conn, path, examined)
}
