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
//! The target is a plain file path, never a URI: `file:NAME`,
//! `file:x.db?immutable=1` and `:memory:` are refused in words, as a store
//! path is (SQLite would take them for a URI or an in-memory database).
//!
//! The copy is written under a temporary name in the target's directory
//! (`.NAME.partial-PID-N`, created owner-only before SQLite writes to it:
//! `VACUUM INTO` would create it with the process's umask, usually
//! world-readable), synced to disk, checked with `PRAGMA
//! integrity_check`, and only then linked under the chosen name, which
//! must not exist (an existing file is never overwritten). So a backup
//! killed part way leaves nothing that opens as a store under the chosen
//! name — at most a `.partial-` file beside it, which can be deleted. A
//! copy that fails is removed (the store made it, and it is not a backup).
//! The store may be read-only (opened with
//! [`open_read_only`](MetadataStore::open_read_only)): a backup only reads.

use std::path::{Path, PathBuf};

use super::MetadataStore;
use crate::connect::{self, Mode};
use crate::error::{Error, Fallible, Result};
use crate::migrate;
use crate::open::{StoreOptions, create_owner_only, describe, unusable};

/// What [`MetadataStore::backup`] wrote.
///
/// Serializes as `{path, bytes, plugins, schema_version}` (a path that is
/// not UTF-8 is written lossily).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Backup {
    /// The copy.
    #[serde(serialize_with = "path_lossy")]
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// How many plugins it holds.
    pub plugins: u64,
    /// Its schema version (the store's).
    pub schema_version: i64,
}

/// A path as text, lossily if it is not UTF-8 (serde refuses such a path).
fn path_lossy<S: serde::Serializer>(
    path: &std::path::Path,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

impl MetadataStore {
    /// Writes a consistent copy of the store's committed data to `path`, a
    /// plain file path that must not exist yet: written by SQLite's
    /// `VACUUM INTO` from one snapshot while other connections and
    /// processes keep writing, under a temporary name beside `path`
    /// (mode 0600 on Unix), synced to disk and checked with `PRAGMA
    /// integrity_check`, then linked under `path`. The copy opens as a
    /// normal store. Works on a read-only store too.
    ///
    /// Refuses ([`Error::InvalidInput`], nothing written) a path that is
    /// not a plain file path (`:memory:`, a `file:` URI, a directory, a
    /// missing directory), a path that exists, or beside which a `-wal` or
    /// `-journal` file exists (SQLite would apply it to the copy). If the
    /// copy cannot be made or fails its check it is removed, and the error
    /// says why; `path` is never created unless the copy passed.
    pub fn backup(&self, path: impl AsRef<Path>) -> Result<Backup> {
        let path = path.as_ref();
        if let Some(reason) = unusable(path) {
            return Err(Error::invalid(
                "path",
                format!("cannot back up to {}: {reason}", path.display()),
            ));
        }
        refuse_existing(path)?;
        let partial = Partial::create(path)?;
        let target = partial.path.to_str().ok_or_else(|| {
            Error::invalid("path", format!("{} is not valid UTF-8", path.display()))
        })?;
        self.checked(|| {
            self.conn.execute("VACUUM INTO ?1", [target])?;
            Ok(())
        })?;
        let mut made = check_copy(&partial.path)?;
        partial.publish(path)?;
        made.path = path.to_path_buf();
        Ok(made)
    }
}

/// The copy under its temporary name; removed when dropped unless
/// published.
struct Partial {
    /// Absolute, so SQLite never takes it for a URI.
    path: PathBuf,
    published: bool,
}

impl Partial {
    /// Creates `.NAME.partial-PID-N` owner-only in the directory of
    /// `final_path`.
    fn create(final_path: &Path) -> Result<Partial> {
        let cannot = |reason: String| Error::CannotOpen {
            path: final_path.to_path_buf(),
            reason,
        };
        let name = final_path.file_name().ok_or_else(|| {
            Error::invalid("path", format!("{} names no file", final_path.display()))
        })?;
        let dir = final_path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dir = std::path::absolute(dir).map_err(|e| cannot(e.to_string()))?;
        for n in 0..1000 {
            let mut file = std::ffi::OsString::from(".");
            file.push(name);
            file.push(format!(".partial-{}-{n}", std::process::id()));
            let candidate = dir.join(file);
            if std::fs::symlink_metadata(&candidate).is_ok() {
                continue;
            }
            match create_owner_only(&candidate) {
                Ok(true) => {
                    return Ok(Partial {
                        path: candidate,
                        published: false,
                    });
                }
                Ok(false) => continue,
                Err(e) => {
                    return Err(cannot(format!(
                        "cannot create {}: {}",
                        candidate.display(),
                        describe(&e)
                    )));
                }
            }
        }
        Err(cannot("no free temporary name beside it".to_owned()))
    }

    /// Puts the checked copy under `final_path`, never over an existing
    /// file: a hard link (which fails if the name is taken), or where the
    /// file system has none, a rename after checking the name is free.
    fn publish(mut self, final_path: &Path) -> Result<()> {
        match std::fs::hard_link(&self.path, final_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return refuse_existing(final_path);
            }
            Err(_) => {
                refuse_existing(final_path)?;
                std::fs::rename(&self.path, final_path)?;
            }
        }
        self.published = true;
        let _ = std::fs::remove_file(&self.path);
        if let Some(dir) = final_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The new directory entry must survive a crash too; not every
            // platform can open a directory, so this one is best effort.
            if let Ok(dir) = std::fs::File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.published {
            // Ours, and not a backup: it must not be mistaken for one.
            for suffix in ["", "-journal", "-wal", "-shm"] {
                let mut name = self.path.as_os_str().to_owned();
                name.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(name));
            }
        }
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
