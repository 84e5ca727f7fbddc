//! [`MetadataStore::backup`]: a consistent copy of the store while other
//! connections keep writing.
//!
//! Copying `plugins.db` with `cp` while an app has it open is wrong twice
//! over: the newest commits may still be in `plugins.db-wal`, and a copy
//! taken during a checkpoint mixes two states. `VACUUM INTO` instead writes
//! a fresh, compact database from one read transaction of the store: every
//! commit before it started, none after, whatever writers do meanwhile
//! (WAL readers never block writers, nor the other way round).
//!
//! The copy is created owner-only before SQLite writes to it (`VACUUM
//! INTO` would create it with the process's umask, usually world-readable),
//! an existing file is never overwritten, and the copy is synced to disk
//! and passes `PRAGMA integrity_check` before the call returns. A copy
//! that fails is removed (the store made it, and it is not a backup).

use std::path::{Path, PathBuf};

use super::MetadataStore;
use crate::connect::{self, Mode};
use crate::error::{Error, Fallible, Result};
use crate::migrate;
use crate::open::{StoreOptions, create_owner_only};

/// What [`MetadataStore::backup`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backup {
    /// The copy.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// How many plugins it holds.
    pub plugins: u64,
    /// Its schema version (the store's).
    pub schema_version: i64,
}

impl MetadataStore {
    /// Writes a consistent copy of the store's committed data to `path`, a
    /// file that must not exist yet: created with mode 0600 on Unix,
    /// written by SQLite's `VACUUM INTO` from one snapshot while other
    /// connections and processes keep writing, synced to disk and checked
    /// with `PRAGMA integrity_check`. The copy opens as a normal store.
    ///
    /// Refuses ([`Error::InvalidInput`], nothing written) a path that
    /// exists, or beside which a `-wal` or `-journal` file exists (SQLite
    /// would apply it to the copy). If the copy cannot be made or fails its
    /// check it is removed, and the error says why.
    pub fn backup(&self, path: impl AsRef<Path>) -> Result<Backup> {
        let path = path.as_ref();
        let target = path.to_str().ok_or_else(|| {
            Error::invalid("path", format!("{} is not valid UTF-8", path.display()))
        })?;
        refuse_existing(path)?;
        create_owner_only(path).map_err(|e| Error::CannotOpen {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let made = self
            .checked(|| {
                self.conn.execute("VACUUM INTO ?1", [target])?;
                Ok(())
            })
            .and_then(|()| check_copy(path));
        if made.is_err() {
            // Ours, and not a backup: it must not be mistaken for one.
            let _ = std::fs::remove_file(path);
        }
        made
    }
}

/// Refuses a target that exists, or whose journal files do.
fn refuse_existing(path: &Path) -> Result<()> {
    let mut taken: Vec<String> = Vec::new();
    for suffix in ["", "-wal", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let candidate = PathBuf::from(name);
        // symlink_metadata: a dangling link is a file that exists too.
        if std::fs::symlink_metadata(&candidate).is_ok() {
            taken.push(candidate.display().to_string());
        }
    }
    if taken.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(
        "path",
        format!(
            "{} already exists; a backup never overwrites a file: choose a new name",
            taken.join(" and ")
        ),
    ))
}

/// Syncs the copy at `path` to disk and checks it; errors name the copy.
fn check_copy(path: &Path) -> Result<Backup> {
    let options = StoreOptions::default();
    check_copy_in(path, &options).map_err(|fault| fault.at(options.site(path)))
}

fn check_copy_in(path: &Path, options: &StoreOptions) -> Fallible<Backup> {
    std::fs::File::open(path)?.sync_all()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The new directory entry must survive a crash too; not every
        // platform can open a directory, so this one is best effort.
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    let damaged = |reason: String| Error::Damaged {
        path: path.to_path_buf(),
        reason,
    };
    let conn = connect::open(path, Mode::Inspect, options)?.conn;
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let report: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    drop(stmt);
    if report != ["ok"] {
        return Err(damaged(format!(
            "the backup failed its integrity check: {}",
            report.join("; ")
        ))
        .into());
    }
    let plugins: i64 = conn.query_row("SELECT count(*) FROM plugins", [], |r| r.get(0))?;
    Ok(Backup {
        path: path.to_path_buf(),
        bytes: std::fs::metadata(path)?.len(),
        plugins: u64::try_from(plugins).unwrap_or(0),
        schema_version: migrate::schema_version(&conn, path)?,
    })
}
