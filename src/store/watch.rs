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
//!
//! # A replaced file
//!
//! Restoring a backup with `mv` puts another file under the store's name;
//! a connection keeps reading the old one (its descriptors point at the
//! deleted inode) and would never hear of a change again. So each poll
//! also compares the file's device and inode number (one `stat`, no
//! descriptor) with those it opened; when they differ it reopens on the
//! new file and the next read is [`Changes::Reset`]: re-read everything.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::MetadataStore;
use super::changes::{position, since};
use crate::connect::{self, Mode};
use crate::error::{Error, Fallible, Fault, Result, Site};
use crate::model::Changes;
use crate::open::StoreOptions;

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
    /// How to reopen the file.
    options: StoreOptions,
    /// The file's device and inode number when opened.
    identity: Option<(u64, u64)>,
    /// The file was replaced since the last read: the next one is a reset.
    replaced: bool,
}

/// The device and inode number of the file at `path` (one `stat`, no
/// descriptor: closing a descriptor would drop this process's locks on
/// it); `None` where there are none, or when nothing is there now.
fn identity(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
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
        let identity = identity(path);
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
            options: self.options.clone(),
            identity,
            replaced: false,
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
    /// last poll (or since the watcher was made), or if another file was
    /// put under its name (then the watcher reopens on it, and the next
    /// read is [`Changes::Reset`]).
    pub fn poll(&mut self) -> Result<bool> {
        let now = identity(&self.path);
        if now.is_some() && now != self.identity {
            // Replaced (a backup restored with mv): the old connection
            // reads a file nobody writes any more.
            self.reopen()?;
            self.identity = now;
            self.replaced = true;
            return Ok(true);
        }
        let version = match data_version(&self.conn).map_err(|e| self.named(e)) {
            Ok(v) => v,
            Err(Error::Damaged { .. }) => {
                // Written over in place (cp): see `changes`.
                self.reopen()?;
                self.replaced = true;
                return Ok(true);
            }
            Err(e) => return Err(e),
        };
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
        match self.read_changes() {
            Err(Error::Damaged { .. }) => {
                // A file written over in place (cp) reads as damaged
                // through this connection's WAL index of the old file:
                // start afresh, and re-read everything.
                self.reopen()?;
                self.replaced = true;
                self.read_changes()
            }
            other => other,
        }
    }

    fn read_changes(&mut self) -> Result<Changes> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)
            .map_err(|e| self.named(e.into()))?;
        if self.replaced {
            let head = position(&tx).map_err(|e| self.named(e))?.0;
            tx.commit().map_err(|e| self.named(e.into()))?;
            self.replaced = false;
            self.cursor = head;
            self.read_once = true;
            return Ok(Changes::Reset { cursor: head });
        }
        let changes = since(&tx, &self.path, self.cursor)
            .and_then(|c| Ok(tx.commit().map(|()| c)?))
            .map_err(|e| self.named(e))?;
        let went_back = matches!(changes, Changes::Reset { cursor } if cursor < self.cursor);
        self.cursor = changes.cursor();
        self.read_once = true;
        if went_back {
            // The log is behind the cursor: the file was replaced in place
            // (an older copy written over it). This connection's view of
            // it (its WAL index) is the old file's, and its lock would keep
            // every other opener from switching the copy to WAL: start
            // afresh.
            self.reopen()?;
        }
        Ok(changes)
    }

    /// Closes the connection, then opens a new one on the file now under
    /// the path (the old one first: it never keeps the old file's locks
    /// while the new one is opened).
    fn reopen(&mut self) -> Result<()> {
        let closed = Connection::open_in_memory().map_err(|e| self.named(e.into()))?;
        drop(std::mem::replace(&mut self.conn, closed));
        let opened = connect::open(&self.path, Mode::Watcher, &self.options)?;
        self.seen = data_version(&opened.conn).map_err(|e| self.named(e))?;
        self.conn = opened.conn;
        Ok(())
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
