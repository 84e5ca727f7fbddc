//! [`MetadataStore`]: the repository.
//!
//! Every SQL statement on the store's tables is in [`sql`], by table; the
//! rest of this module runs them:
//! - `plugins.rs`: save, get, list, query, count, delete — whole plugins;
//! - `read.rs`: reading whole plugins, one by key or many side by side;
//! - `resources.rs`: the resource lifecycle (PIDs, container, remote
//!   resource), one atomic change at a time;
//! - `processes.rs`: which stored PIDs are still our processes (check),
//!   and removing or stopping the rest (reap); `spawn.rs`: starting a
//!   process whose whole tree is recorded;
//! - `history.rs`: the remote status history (dated transitions, one
//!   plugin's timeline) and the cost report over it;
//! - `summaries.rs`: list rows for a UI ([`PluginSummary`](crate::PluginSummary)), no JSON parsed;
//! - `changes.rs`: the change feed (which plugins changed since a cursor);
//!   `watch.rs`: a watcher that blocks until another connection commits;
//! - `backup.rs`: a consistent, checked copy of the file; `verify.rs`: a
//!   read-only check of a file;
//! - `decode.rs`: rows into the model, or [`Error::BadData`].
//!
//! # Transactions and locking
//!
//! Writes run in `BEGIN IMMEDIATE` transactions, so they take the write lock
//! up front and wait (up to the busy timeout) instead of failing with
//! "database is locked" when another connection writes; a wait that runs
//! out is [`Error::Busy`], naming the file. Every write transaction is a
//! [`WriteTx`], which does the change feed's bookkeeping at its start and
//! just before it commits (see `changes.rs`). Reads that need more than one
//! statement run in one deferred transaction, so they see one snapshot.
//!
//! # Errors name the file
//!
//! Inner code returns [`Fallible`]; a public method turns its fault into
//! an [`Error`] through [`MetadataStore::checked`], which names this
//! store's file (SQLite's "busy" and "corrupt" codes become
//! [`Error::Busy`] and [`Error::Damaged`]). The compiler sees to it: there
//! is no other way from a fault to an error. Row decoders get the path in
//! their [`Site`], so [`Error::BadData`] is whole where it is made.

use std::cell::RefCell;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::connect::{self, Mode};
#[cfg(doc)]
use crate::error::Error;
use crate::error::{Fallible, Result, Site};
use crate::migrate;
use crate::model::ChangeOp;
use crate::open::StoreOptions;

mod backup;
mod changes;
mod decode;
mod history;
mod identity;
mod plugins;
mod processes;
mod read;
mod resources;
mod spawn;
mod sql;
mod summaries;
#[cfg(test)]
mod tests;
mod transitions;
mod verify;
mod watch;

pub use backup::Backup;
pub use history::RecordedStatus;
#[cfg(feature = "async")]
pub(crate) use processes::stop_alive;
pub use processes::{PidCheck, ReapAction, ReapOptions, Reaped};
pub use spawn::SPAWN_TOKEN_ENV;
pub use verify::{Problem, Verification};
pub use watch::ChangeWatcher;

/// A plugin metadata store on one SQLite connection.
///
/// Open one per thread (a connection is not shared between threads); any
/// number of stores, in threads or processes, can work on the same file.
#[derive(Debug)]
pub struct MetadataStore {
    conn: Connection,
    /// The file, or `:memory:`; named in errors.
    path: PathBuf,
    in_memory: bool,
    options: StoreOptions,
    /// Who writes the history rows of this store's changes
    /// (`transitions.rs`).
    bookkeeping: transitions::Bookkeeping,
}

impl MetadataStore {
    /// Opens the store in the file at `path` with default
    /// [`StoreOptions`], creating the file (mode 0600 on Unix) if it does
    /// not exist and applying every pending migration in one transaction.
    ///
    /// Refuses, leaving the file untouched: a directory or a missing parent
    /// directory ([`Error::CannotOpen`](crate::Error::CannotOpen)), a file
    /// that is not a plugin-metastore database
    /// ([`Error::NotAStore`](crate::Error::NotAStore)), and a database
    /// written by a newer build
    /// ([`Error::SchemaTooNew`](crate::Error::SchemaTooNew)).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, StoreOptions::default())
    }

    /// [`open`](Self::open) with explicit options (busy timeout,
    /// durability).
    pub fn open_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        Self::opened(path.as_ref(), Mode::ReadWrite, options)
    }

    /// Opens an existing store for reading only: nothing is created,
    /// changed or migrated, so it works on a file or directory this process
    /// cannot write (a store left by another user, a read-only mount).
    /// Every write answers [`Error::ReadOnly`](crate::Error::ReadOnly); a
    /// file whose schema is older than this build is refused with it too
    /// (bringing it up to date needs writing).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_read_only_with(path, StoreOptions::default())
    }

    /// [`open_read_only`](Self::open_read_only) with explicit options (the
    /// busy timeout).
    pub fn open_read_only_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        Self::opened(path.as_ref(), Mode::ReadOnly, options)
    }

    /// A private store in memory, gone when dropped; for tests and examples.
    pub fn open_in_memory() -> Result<Self> {
        Self::opened(Path::new(""), Mode::InMemory, StoreOptions::default())
    }

    /// A store on a connection opened for `mode` ([`connect::open`]).
    fn opened(path: &Path, mode: Mode, options: StoreOptions) -> Result<Self> {
        let opened = connect::open(path, mode, &options)?;
        Ok(MetadataStore {
            conn: opened.conn,
            path: opened.path,
            in_memory: mode == Mode::InMemory,
            options,
            bookkeeping: transitions::Bookkeeping::default(),
        })
    }

    /// The file this store is in (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        (!self.in_memory).then_some(self.path.as_path())
    }

    /// The schema version of the file: the newest migration applied.
    pub fn schema_version(&self) -> Result<i64> {
        self.checked(|| migrate::schema_version(&self.conn, &self.path))
    }

    /// The newest schema version this build knows (and brings files to).
    pub fn latest_schema_version() -> i64 {
        migrate::newest_version()
    }

    /// Runs `f` and names this store's file in its error (see the module
    /// doc).
    fn checked<T>(&self, f: impl FnOnce() -> Fallible<T>) -> Result<T> {
        f().map_err(|fault| fault.at(self.site()))
    }

    /// This store's file, for errors made in it.
    fn site(&self) -> Site<'_> {
        self.options.site(&self.path)
    }

    /// Starts a write transaction: `BEGIN IMMEDIATE`, then the change
    /// feed's start (see [`WriteTx`]).
    fn write(&self) -> Fallible<WriteTx<'_>> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let own_history = self.bookkeeping.settle(&tx)?;
        let slot = changes::begin_write(&tx)?;
        Ok(WriteTx {
            tx,
            path: &self.path,
            slot,
            changed: RefCell::new(changes::Pending::default()),
            own_history,
        })
    }

    /// Starts a read transaction: one snapshot for several statements.
    fn read(&self) -> Fallible<Transaction<'_>> {
        Ok(Transaction::new_unchecked(
            &self.conn,
            TransactionBehavior::Deferred,
        )?)
    }
}

/// A write transaction of the store, and the change feed's part in it: it
/// decides who writes the history rows (`transitions.rs`), numbers itself
/// when it starts (which also turns the change-log triggers off for it,
/// should they be on: see `changes.rs`), collects the plugins changed through
/// [`changed`](Self::changed), and writes one log row per plugin and clears
/// its number just before it commits, so no other connection ever sees the
/// number set. Dropped without [`commit`](Self::commit), it rolls back like
/// any transaction.
///
/// Every library write goes through one, and every statement that changes
/// a plugin (its row, PIDs or remote resource) is followed by a
/// [`changed`](Self::changed) call for it; the lifecycle calls all bump the
/// plugin's row first (`touch`), which is where they record it.
pub(crate) struct WriteTx<'c> {
    tx: Transaction<'c>,
    /// The store's file, for errors made in the transaction.
    path: &'c Path,
    slot: changes::LogSlot,
    changed: RefCell<changes::Pending>,
    own_history: bool,
}

impl<'c> Deref for WriteTx<'c> {
    type Target = Transaction<'c>;

    fn deref(&self) -> &Transaction<'c> {
        &self.tx
    }
}

impl WriteTx<'_> {
    /// The store's file, for errors made in the transaction.
    pub(crate) fn store_path(&self) -> &Path {
        self.path
    }

    /// Whether the library writes the history rows of this transaction's
    /// changes (`transitions.rs`), rather than triggers.
    pub(crate) fn own_history(&self) -> bool {
        self.own_history
    }

    /// Records that this transaction changed plugin `id`.
    pub(crate) fn changed(&self, id: i64, category: &str, name: &str, op: ChangeOp) {
        self.changed.borrow_mut().record(id, category, name, op);
    }

    /// Bumps `updated_at` of plugin `id` (known to exist) to `at` and
    /// records it as changed: how every lifecycle change marks its plugin.
    pub(crate) fn touch_id(&self, id: i64, category: &str, name: &str, at: &str) -> Fallible<()> {
        self.tx
            .prepare_cached(sql::TOUCH_PLUGIN_ID)?
            .execute(rusqlite::params![at, id])?;
        self.changed(id, category, name, ChangeOp::Update);
        Ok(())
    }

    /// Writes the change log's rows and ends the feed's part, then commits.
    pub(crate) fn commit(self) -> Fallible<()> {
        changes::end_write(&self.tx, self.slot, &self.changed.borrow())?;
        Ok(self.tx.commit()?)
    }
}
