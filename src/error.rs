//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong, in words a user can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value handed to the store was refused; nothing was written.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// The plugin does not exist.
    #[error("no plugin with category {category:?} and name {name:?}")]
    NotFound {
        /// The category looked for.
        category: String,
        /// The name looked for.
        name: String,
    },

    /// A `category_name` display id matches no plugin.
    #[error("no plugin has the unique id {0:?}")]
    UnknownId(String),

    /// A `category_name` display id matches more than one plugin.
    #[error("the unique id {id:?} is ambiguous: it matches {}", .candidates.iter().map(|(c, n)| format!("(category {c:?}, name {n:?})")).collect::<Vec<_>>().join(", "))]
    AmbiguousId {
        /// The id looked for.
        id: String,
        /// Every `(category, name)` it matches.
        candidates: Vec<(String, String)>,
    },

    /// A row in the file holds a value the model cannot represent (written
    /// by hand or by a broken tool).
    #[error("bad data in table {table}, column {column}, row {row}: {value} ({reason})")]
    BadData {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The row: its `rowid` / `plugin_id`.
        row: i64,
        /// The offending value, as text.
        value: String,
        /// Why it cannot be read.
        reason: String,
    },

    /// The file was written by a newer build of plugin-metastore; it was left
    /// untouched.
    #[error(
        "the database {} has schema version {found}, newer than this build supports ({supported}); \
         it was left untouched: upgrade plugin-metastore to open it",
        path.display()
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The newest migration recorded in the file.
        found: i64,
        /// The newest migration this build knows.
        supported: i64,
    },

    /// The file is not a plugin-metastore database (not SQLite at all, or
    /// another application's SQLite database); it was left untouched.
    #[error("{path} is not a plugin-metastore database: {reason}; it was left untouched")]
    NotAStore {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The store could not be opened or created at this path.
    #[error("cannot open {path}: {reason}")]
    CannotOpen {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Applying a schema migration failed; the database is as it was.
    #[error("schema migration failed (nothing was applied): {0}")]
    Migration(String),

    /// An error from SQLite.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// JSON that could not be read or written.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// A file-system error.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// The crate's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
