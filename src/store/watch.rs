//! [`ChangeWatcher`]: blocks until another connection commits to the store,
//! then reads the change feed.
//!
//! Waiting is polling, one cheap check per poll: `PRAGMA data_version` on
//! the watcher's own connection, a number SQLite changes whenever another
//! connection (this process's store, another process, `sqlite3`) has
//! committed since the last time this connection asked. It reads the WAL
//! index in shared memory and no table, so an idle watcher costs a few
//! microseconds of CPU per poll; at the default 100 ms interval it wakes
//! within 100 ms of a commit. The watcher never keeps a read transaction
//! open between polls, so it never holds back the WAL checkpoint.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::MetadataStore;
use super::changes::since;
use crate::connect::{self, Mode};
use crate::error::{Error, Fallible, Fault, Result, Site};
use crate::model::Changes;

/// Waits for changes to a store file and reads them, on a connection of its
/// own (see [`MetadataStore::watch`]).
///
/// ```
/// # fn main() -> plugin_metastore::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// use std::time::Duration;
/// use plugin_metastore::{Changes, MetadataStore, PluginMetadata};
///
/// let store = MetadataStore::open(dir.path().join("plugins.db"))?;
/// let mut watcher = store.watch(store.change_cursor()?)?;
/// // Elsewhere (another thread, process, or sqlite3), something changes:
/// store.save(&PluginMetadata::new("tiny", "asr", "Tiny", serde_json::json!({})))?;
/// match watcher.next_changes(Duration::from_secs(1))? {
///     Changes::Since { changes, .. } => assert_eq!(changes[0].unique_id, "asr_tiny"),
///     Changes::Reset { .. } => { /* re-read everything */ }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ChangeWatcher {
    conn: Connection,
    path: PathBuf,
    busy_timeout: Duration,
    interval: Duration,
    cursor: u64,
    /// `PRAGMA data_version` at the last poll.
    seen: i64,
    /// Whether the log was read since the watcher was made.
    read_once: bool,
}

impl MetadataStore {
    /// A watcher of this store's file that reports changes committed after
    /// `cursor` ([`change_cursor`](Self::change_cursor) for "from now
    /// on"), by any connection, this store's included. It opens its own
    /// connection to the file, so it can be moved to another thread.
    ///
    /// An in-memory store cannot be watched (no other connection can
    /// change it): [`Error::InvalidInput`].
    pub fn watch(&self, cursor: u64) -> Result<ChangeWatcher> {
        let Some(path) = self.path() else {
            return Err(Error::invalid(
                "watch",
                "an in-memory store cannot be watched: no other connection can change it",
            ));
        };
        let opened = connect::open(path, Mode::Watcher, &self.options)?;
        let busy_timeout = self.options.busy_timeout;
        let site = Site { path, busy_timeout };
        let seen = data_version(&opened.conn).map_err(|f| f.at(site))?;
        Ok(ChangeWatcher {
            conn: opened.conn,
            path: opened.path,
            busy_timeout,
            interval: ChangeWatcher::DEFAULT_INTERVAL,
            cursor,
            seen,
            read_once: false,
        })
    }
}

impl ChangeWatcher {
    /// How often [`wait`](Self::wait) polls unless told otherwise.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);

    /// Polls every `interval` (at least 1 ms): the longest a commit goes
    /// unnoticed.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The cursor the next read starts after.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// One poll: true if another connection committed to the file since the
    /// last poll (or since the watcher was made).
    pub fn poll(&mut self) -> Result<bool> {
        let version = data_version(&self.conn).map_err(|e| self.named(e))?;
        let changed = version != self.seen;
        self.seen = version;
        Ok(changed)
    }

    /// Blocks until another connection commits to the file (true) or
    /// `timeout` has passed (false), polling every interval.
    pub fn wait(&mut self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.poll()? {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            std::thread::sleep(self.interval.min(deadline - now));
        }
    }

    /// Reads the changes after the cursor now, and moves the cursor past
    /// them (see [`MetadataStore::changes_since`]).
    pub fn changes(&mut self) -> Result<Changes> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)
            .map_err(|e| self.named(e.into()))?;
        let changes = since(&tx, &self.path, self.cursor)
            .and_then(|c| Ok(tx.commit().map(|()| c)?))
            .map_err(|e| self.named(e))?;
        self.cursor = changes.cursor();
        self.read_once = true;
        Ok(changes)
    }

    /// The next changes: the first call reads the log at once (changes
    /// after the starting cursor may already be there); after that, waits
    /// up to `timeout` for a commit and reads what it logged. Returns an
    /// empty [`Changes::Since`] if nothing was logged in time (a commit
    /// that changed no plugin, such as a migration, logs nothing).
    pub fn next_changes(&mut self, timeout: Duration) -> Result<Changes> {
        let deadline = Instant::now() + timeout;
        if !self.read_once {
            let changes = self.changes()?;
            if !changes.is_empty() {
                return Ok(changes);
            }
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if !self.wait(left)? {
                return Ok(Changes::Since {
                    changes: Vec::new(),
                    cursor: self.cursor,
                });
            }
            let changes = self.changes()?;
            if !changes.is_empty() {
                return Ok(changes);
            }
        }
    }

    fn named(&self, fault: Fault) -> Error {
        fault.at(Site {
            path: &self.path,
            busy_timeout: self.busy_timeout,
        })
    }
}

/// `PRAGMA data_version` of `conn`.
fn data_version(conn: &Connection) -> Fallible<i64> {
    Ok(conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?)
}
