//! The crate's one error type.
//!
//! Every variant is data a caller can match on: what was refused and why
//! ([`Error::InvalidInput`]), which plugin is missing ([`Error::NotFound`]),
//! which file is busy or damaged and where ([`Error::Busy`],
//! [`Error::Damaged`], [`Error::BadData`]). Messages are one readable line.
//! Errors from SQLite that the store cannot say more about are
//! [`Error::Sqlite`], with SQLite's extended result code and message as
//! data: the public type names no type of the SQLite driver or of the
//! migration tool, so an app can match every error and upgrade either
//! crate without depending on them.
//!
//! # Born whole
//!
//! Inside the crate, code returns [`Fallible`]: its error is a [`Fault`],
//! either a whole [`Error`] (made where the problem is found, with the
//! file named — [`Error::BadData`] gets its path from the row decoder's
//! [`Site`]) or a raw SQLite error that still needs the file to become
//! one. There is no `From<Fault> for Error`: the only way out is
//! [`Fault::at`], which maps SQLite's codes to [`Error::Busy`],
//! [`Error::ReadOnly`], [`Error::Damaged`] or [`Error::Sqlite`] with the
//! path, so the compiler makes every public method name its file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::ser::SerializeStruct;

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
        /// The migration tool's own error, when it reported one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// An error SQLite reported that the store cannot say more about.
    #[error("SQLite, on {}: {message}", path.display())]
    Sqlite {
        /// The database file (`:memory:` for an in-memory store).
        path: PathBuf,
        /// SQLite's extended result code (see
        /// <https://sqlite.org/rescode.html>), when SQLite itself failed;
        /// `None` for a value the driver could not convert.
        extended_code: Option<i32>,
        /// SQLite's message.
        message: String,
    },

    /// JSON that could not be read or written.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// A file-system error.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),

    /// The store was closed (`AsyncStore::close`, with the `async` feature):
    /// no more work is taken.
    #[error("the store is closed")]
    Closed,

    /// Code run for the caller panicked; the store keeps working.
    #[error("a store call panicked: {message}")]
    Panicked {
        /// The panic's message.
        message: String,
    },
}

/// How an [`Error`] serializes: `{"kind": …, "message": …}`, so an app
/// (a Tauri command) can return `Result<T, Error>` to a web view as it is.
impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Error", 2)?;
        s.serialize_field("kind", self.kind())?;
        s.serialize_field("message", &self.to_string())?;
        s.end()
    }
}

impl Error {
    /// A stable word for the variant, for programs: `invalid_input`,
    /// `not_found`, `ambiguous_id`, `bad_data`, `damaged`, `busy`,
    /// `schema_too_new`, `not_a_store`, `read_only`, `cannot_open`,
    /// `migration`, `sqlite`, `json`, `io`, `closed`, `panicked`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "invalid_input",
            Error::NotFound { .. } => "not_found",
            Error::AmbiguousId { .. } => "ambiguous_id",
            Error::BadData { .. } => "bad_data",
            Error::Damaged { .. } => "damaged",
            Error::Busy { .. } => "busy",
            Error::SchemaTooNew { .. } => "schema_too_new",
            Error::NotAStore { .. } => "not_a_store",
            Error::ReadOnly { .. } => "read_only",
            Error::CannotOpen { .. } => "cannot_open",
            Error::Migration { .. } => "migration",
            Error::Sqlite { .. } => "sqlite",
            Error::Json(_) => "json",
            Error::Io(_) => "io",
            Error::Closed => "closed",
            Error::Panicked { .. } => "panicked",
        }
    }

    /// [`Error::NotFound`] for the plugin `(category, name)`.
    pub(crate) fn not_found(category: &str, name: &str) -> Self {
        Error::NotFound {
            category: category.to_owned(),
            name: name.to_owned(),
        }
    }

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
}

/// The crate's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The result of the crate's inner code (see the module doc).
pub(crate) type Fallible<T> = std::result::Result<T, Fault>;

/// An error on its way to a public method: whole already, or from SQLite
/// and still to be told its file ([`Fault::at`]).
#[derive(Debug)]
pub(crate) enum Fault {
    /// A whole error.
    Whole(Error),
    /// An error of the SQLite driver.
    Sqlite(rusqlite::Error),
}

impl From<Error> for Fault {
    fn from(e: Error) -> Self {
        Fault::Whole(e)
    }
}

impl From<rusqlite::Error> for Fault {
    fn from(e: rusqlite::Error) -> Self {
        Fault::Sqlite(e)
    }
}

impl From<serde_json::Error> for Fault {
    fn from(e: serde_json::Error) -> Self {
        Fault::Whole(Error::Json(e))
    }
}

impl From<std::io::Error> for Fault {
    fn from(e: std::io::Error) -> Self {
        Fault::Whole(Error::Io(e))
    }
}

/// The file an error happened in, and how long a statement waited for its
/// lock there: what a [`Fault`] needs to become an [`Error`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Site<'a> {
    pub(crate) path: &'a Path,
    pub(crate) busy_timeout: Duration,
}

impl Fault {
    /// The public error, with the file named: SQLite's lock timeouts
    /// become [`Error::Busy`], "read-only" [`Error::ReadOnly`], corruption
    /// [`Error::Damaged`], anything else [`Error::Sqlite`]. The one place
    /// SQLite's codes are read for a caller.
    pub(crate) fn at(self, site: Site<'_>) -> Error {
        let e = match self {
            Fault::Whole(e) => return e,
            Fault::Sqlite(e) => e,
        };
        let path = site.path.to_path_buf();
        use rusqlite::ErrorCode;
        match e {
            rusqlite::Error::SqliteFailure(f, message) => match f.code {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => Error::Busy {
                    path,
                    waited: site.busy_timeout,
                },
                ErrorCode::ReadOnly => Error::ReadOnly {
                    path,
                    reason: "the store was opened read-only, or its file is".to_owned(),
                },
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => Error::Damaged {
                    path,
                    reason: message.unwrap_or_else(|| f.to_string()),
                },
                _ => Error::Sqlite {
                    path,
                    extended_code: Some(f.extended_code),
                    message: message.unwrap_or_else(|| f.to_string()),
                },
            },
            other => Error::Sqlite {
                path,
                extended_code: None,
                message: other.to_string(),
            },
        }
    }

    /// SQLite's primary result code, for the few callers that decide by it.
    pub(crate) fn sqlite_code(&self) -> Option<rusqlite::ErrorCode> {
        match self {
            Fault::Sqlite(e) => sqlite_code(e),
            Fault::Whole(_) => None,
        }
    }
}

/// SQLite's primary result code of a driver error.
pub(crate) fn sqlite_code(e: &rusqlite::Error) -> Option<rusqlite::ErrorCode> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    }
}

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
