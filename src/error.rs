//! The crate's one error type.
//!
//! Every variant is data a caller can match on: what was refused and why
//! ([`Error::InvalidInput`]), which plugin is missing ([`Error::NotFound`]),
//! which file is busy or damaged and where ([`Error::Busy`],
//! [`Error::Damaged`], [`Error::BadData`]). Messages are one readable line.
//! Errors from SQLite that the store cannot say more about stay
//! [`Error::Sqlite`].

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong, in words a user can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value handed to the store was refused; nothing was written.
    ///
    /// Reads as `invalid input: config_schema of transcription_x: must be
    /// a JSON object, got an array`.
    #[error("invalid input: {field}{}: {reason}", plugin.as_ref().map(|p| format!(" of {p}")).unwrap_or_default())]
    InvalidInput {
        /// The plugin the value belongs to (its unique id), when there is
        /// one.
        plugin: Option<String>,
        /// The field or argument refused, as the model names it
        /// (`config_schema`, `spawned_pids`, `pid`, `execution_mode`,
        /// `remote_resource.estimated_cost_per_hour`, …).
        field: &'static str,
        /// Why, naming the value.
        reason: String,
    },

    /// No plugin has this key.
    #[error("no plugin with category {category:?} and name {name:?}")]
    NotFound {
        /// The category looked for.
        category: String,
        /// The name looked for.
        name: String,
    },

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
    #[error("bad data in {}, table {table}, column {column}, row {row}: {value} ({reason})", path.display())]
    BadData {
        /// The database file (`:memory:` for an in-memory store).
        path: PathBuf,
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

    /// SQLite found the file damaged while reading or writing it.
    #[error("the database {} is damaged: {reason}", path.display())]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported.
        reason: String,
    },

    /// Another connection held the write lock for longer than the busy
    /// timeout; nothing was written. Retrying later usually succeeds.
    #[error(
        "the database {} is locked: another process or connection held its write lock \
         for the whole busy timeout ({waited:?})",
        path.display()
    )]
    Busy {
        /// The database file.
        path: PathBuf,
        /// How long the store waited (its busy timeout).
        waited: Duration,
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
    #[error("{} is not a plugin-metastore database: {reason}; it was left untouched", path.display())]
    NotAStore {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// This process cannot write the store: the file or its directory is
    /// read-only, or its schema needs a migration that needs writing. A
    /// store opened with
    /// [`MetadataStore::open_read_only`](crate::MetadataStore::open_read_only)
    /// answers every write with this.
    #[error("cannot write to {}: {reason}", path.display())]
    ReadOnly {
        /// The database file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// The store could not be opened or created at this path.
    #[error("cannot open {}: {reason}", path.display())]
    CannotOpen {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Applying the schema migrations failed; the database is as it was.
    #[error("schema migration of {} failed (nothing was applied): {reason}", path.display())]
    Migration {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
        /// refinery's own error, when refinery reported it.
        #[source]
        source: Option<refinery::Error>,
    },

    /// An error from SQLite.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// JSON that could not be read or written.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// A file-system error.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),

    /// The `AsyncStore` (feature `async`) was closed: the call was made
    /// after `close()` began (or its work could not run because the store
    /// went away); nothing was done.
    #[error("the store was closed; nothing was done")]
    Closed,

    /// A closure or store call run by an
    /// `AsyncStore` (feature `async`) panicked; the handle keeps
    /// working. What the call committed before the panic stays committed.
    #[error("a store call panicked: {message}")]
    Panicked {
        /// The panic's message (`"a panic without a message"` when it had
        /// no text payload).
        message: String,
    },
}

impl Error {
    /// An [`Error::InvalidInput`] about `field`, not tied to one plugin.
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            plugin: None,
            field,
            reason: reason.into(),
        }
    }

    /// An [`Error::InvalidInput`] about `field` of the plugin `plugin`.
    pub(crate) fn invalid_in(
        plugin: impl Into<String>,
        field: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidInput {
            plugin: Some(plugin.into()),
            field,
            reason: reason.into(),
        }
    }

    /// The same error, tied to `plugin` if it is an input error that names
    /// no plugin yet.
    pub(crate) fn for_plugin(self, id: impl FnOnce() -> String) -> Self {
        match self {
            Error::InvalidInput {
                plugin: None,
                field,
                reason,
            } => Error::InvalidInput {
                plugin: Some(id()),
                field,
                reason,
            },
            other => other,
        }
    }

    /// An error from the file at `path`, with the file named: lock
    /// timeouts become [`Error::Busy`], corruption [`Error::Damaged`], and
    /// [`Error::BadData`] gets its path.
    pub(crate) fn in_file(self, path: &std::path::Path, busy_timeout: Duration) -> Self {
        use rusqlite::ErrorCode;
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(f, message)) => match f.code {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => Error::Busy {
                    path: path.to_path_buf(),
                    waited: busy_timeout,
                },
                ErrorCode::ReadOnly => Error::ReadOnly {
                    path: path.to_path_buf(),
                    reason: "the store was opened read-only, or its file is".to_owned(),
                },
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => Error::Damaged {
                    path: path.to_path_buf(),
                    reason: message.unwrap_or_else(|| f.to_string()),
                },
                _ => Error::Sqlite(rusqlite::Error::SqliteFailure(f, message)),
            },
            Error::BadData {
                path: p,
                table,
                column,
                row,
                value,
                reason,
            } if p.as_os_str().is_empty() => Error::BadData {
                path: path.to_path_buf(),
                table,
                column,
                row,
                value,
                reason,
            },
            other => other,
        }
    }
}

/// The crate's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A value read from the file, for an error message: text quoted, a blob
/// by its size.
pub(crate) fn show(v: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("a blob of {} bytes", b.len()),
    }
}
