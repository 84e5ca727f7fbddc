//! [`StoreOptions`]: how a store opens, and the connection settings it
//! makes from them (one home for the busy timeout and the pragmas).

use std::path::Path;
use std::time::Duration;

use crate::error::Site;

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

impl StoreOptions {
    /// The file at `path` opened with these options, for the errors made
    /// in it ([`Fault::at`](crate::error::Fault::at)).
    pub(crate) fn site<'a>(&self, path: &'a Path) -> Site<'a> {
        Site {
            path,
            busy_timeout: self.busy_timeout,
        }
    }

    /// The busy timeout as SQLite can take it: milliseconds in a C int
    /// (about 24 days; `Duration::MAX` means "wait as long as you can").
    pub(crate) fn sqlite_busy_timeout(&self) -> Duration {
        self.busy_timeout
            .min(Duration::from_millis(i32::MAX.unsigned_abs().into()))
    }
}
