//! Opening a store file, step one: the file on disk and the connection to
//! it, with the settings made outside any transaction.
//!
//! - [`options`]: [`StoreOptions`], and the pragmas and busy timeout made
//!   from them;
//! - `file`: is a path a file the store can use, creating it owner-only,
//!   telling a store this process cannot write;
//! - `connection`: the connections (read-write, read-only, for
//!   inspection, in memory), the first reads that refuse what is not a
//!   store file (not SQLite, another application's database, a file cut
//!   short), the WAL switch and the pragmas.
//!
//! Nothing here reads the migration history or the schema: step two is
//! [`crate::migrate`], and [`crate::connect`] puts the steps together.

mod connection;
mod file;
mod options;

pub(crate) use connection::{
    apply_pragmas, check_file, inspect, memory, read_only, read_write, set_triggers, switch_to_wal,
    whole_pages,
};
pub(crate) use file::{create_owner_only, describe, remove_created, unusable};
pub use options::{StoreOptions, Synchronous};

/// The name of refinery's history table: a file with tables but without
/// this one is another application's database.
pub(crate) const HISTORY_TABLE: &str = "refinery_schema_history";
