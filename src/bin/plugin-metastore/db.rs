//! The store a command works on: the global `--db` flag, what it means
//! when absent, and the three ways a command opens the store.

use std::path::{Path, PathBuf};

use clap::Args;
use plugin_metastore::{Error, MetadataStore};

use crate::failure::{CliResult, Failure};

/// The environment variable that names the store when `--db` is absent.
const DB_ENV: &str = "PLUGIN_METASTORE_DB";

/// The app name whose data directory holds the CLI's default store.
const APP_NAME: &str = "plugin-metastore";

/// `--db PATH`, global: it may come before or after the command.
#[derive(Debug, Args)]
pub(crate) struct Db {
    /// The store file [default: $PLUGIN_METASTORE_DB, else plugins.db in the
    /// platform's data directory]
    #[arg(long, global = true, value_name = "PATH")]
    db: Option<PathBuf>,
}

impl Db {
    /// The store path: `--db`, else `$PLUGIN_METASTORE_DB` (an empty value
    /// counts as unset), else `plugins.db` in the platform's data
    /// directory, which is created if missing.
    pub(crate) fn path(&self) -> CliResult<PathBuf> {
        if let Some(path) = &self.db {
            return Ok(path.clone());
        }
        if let Some(path) = std::env::var_os(DB_ENV).filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(path));
        }
        // The library's default for an app, owner-only whatever the umask.
        plugin_metastore::default_path(APP_NAME).map_err(|e| match e {
            Error::Io(e) => Failure(format!("{e}; pass --db PATH or set {DB_ENV}")),
            other => Failure(other.to_string()),
        })
    }

    /// Opens (creating and migrating) the store.
    pub(crate) fn open(&self) -> CliResult<MetadataStore> {
        open(&self.path()?)
    }

    /// Opens a store that must already exist: commands that read or change
    /// plugins never create a file (a mistyped `--db` would otherwise leave
    /// an empty store behind and answer "no plugin").
    pub(crate) fn open_existing(&self) -> CliResult<MetadataStore> {
        let path = self.path()?;
        must_exist(&path)?;
        open(&path)
    }

    /// [`Db::open_existing`] for commands that only read: a store this
    /// process cannot write (a read-only file or directory) is opened
    /// read-only.
    pub(crate) fn open_reading(&self) -> CliResult<MetadataStore> {
        let path = self.path()?;
        must_exist(&path)?;
        match MetadataStore::open(&path) {
            Err(Error::ReadOnly { .. }) => Ok(MetadataStore::open_read_only(&path)?),
            other => Ok(other?),
        }
    }
}

/// Opens (creating and migrating) the store at `path`.
fn open(path: &Path) -> CliResult<MetadataStore> {
    Ok(MetadataStore::open(path)?)
}

/// "no store at …" unless something is at `path` (a dangling symbolic
/// link counts: the library then says what is wrong with it).
fn must_exist(path: &Path) -> CliResult {
    if std::fs::symlink_metadata(path).is_err() {
        return Err(Failure(format!(
            "no store at {}; create it with `plugin-metastore init` (or `demo`)",
            path.display()
        )));
    }
    Ok(())
}
