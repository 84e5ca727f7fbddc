//! Where an app keeps its store by default: `plugins.db` in the platform's
//! data directory for the app (what the CLI uses for itself).
//!
//! The platform rules come from the `directories` crate: `$XDG_DATA_HOME`
//! (else `~/.local/share`) on Linux and the BSDs, `~/Library/Application
//! Support` on macOS, the roaming `AppData` known folder on Windows.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::MetadataStore;

/// The file name of the store in the data directory.
const DEFAULT_FILE_NAME: &str = "plugins.db";

/// The default store path for the app `app_name`: `plugins.db` in the
/// platform's data directory for that app (the `directories` crate's
/// `ProjectDirs::from("", "", app_name)`: on Linux
/// `$XDG_DATA_HOME/<app>`, else `~/.local/share/<app>`, `<app>` being the
/// name lowercased without its spaces), so the path can be opened right
/// away.
///
/// The directory is created if missing, owner-only (mode 0700 on Unix,
/// whatever the umask: it will hold the store and its WAL); so are any of
/// its parents this call creates. An existing directory is left as it is.
///
/// Refused as [`Error::InvalidInput`] (field `app_name`, nothing created):
/// an empty (or all-blank) name, `.` or `..`, a name holding a path separator (`/`, `\`)
/// or a NUL byte. [`Error::Io`] if the platform has no data directory (no
/// home directory) or the directory cannot be created.
pub fn default_path(app_name: &str) -> Result<PathBuf> {
    check_app_name(app_name)?;
    let dirs = directories::ProjectDirs::from("", "", app_name).ok_or_else(|| {
        Error::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "cannot find the platform's data directory for {app_name:?} (no home directory?)"
            ),
        ))
    })?;
    let dir = dirs.data_dir();
    create_owner_only_dirs(dir).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("cannot create {}: {e}", dir.display()),
        ))
    })?;
    Ok(dir.join(DEFAULT_FILE_NAME))
}

impl MetadataStore {
    /// Opens (creating and migrating, as [`open`](Self::open) does) the
    /// store at [`default_path`]`(app_name)`: `plugins.db` in the
    /// platform's data directory for the app, the directory created
    /// owner-only if missing. Errors as [`default_path`] and
    /// [`open`](Self::open).
    pub fn open_default(app_name: &str) -> Result<Self> {
        MetadataStore::open(default_path(app_name)?)
    }
}

/// Refuses a name that is not one plain path component.
fn check_app_name(app_name: &str) -> Result<()> {
    // On Linux `directories` trims and lowercases the name and drops its
    // spaces: judge what it would use.
    let trimmed = app_name.trim();
    let why = if trimmed.is_empty() {
        Some("is empty")
    } else if trimmed == "." || trimmed == ".." {
        Some("is not a directory name")
    } else if app_name.contains(['/', '\\']) {
        Some("holds a path separator")
    } else if app_name.contains('\0') {
        Some("holds a NUL byte")
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::invalid(
            "app_name",
            format!("{app_name:?} {why}: the app's name must be one directory name"),
        )),
        None => Ok(()),
    }
}

/// Creates `dir` and its missing parents, each owner-only (0700 on Unix:
/// set after creation, since the umask may take bits off the mode asked).
fn create_owner_only_dirs(dir: &Path) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.exists() {
        missing.push(at);
        match at.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => at = parent,
            _ => break,
        }
    }
    for path in missing.into_iter().rev() {
        match std::fs::create_dir(path) {
            Ok(()) => set_owner_only(path)?,
            // Made meanwhile by someone else: theirs, left as it is.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    if !dir.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "it exists and is not a directory",
        ));
    }
    Ok(())
}

#[cfg(unix)]
fn set_owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn set_owner_only(_path: &Path) -> std::io::Result<()> {
    // A new directory under the user's profile is the user's own.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_that_are_not_one_directory_name_are_refused_by_name() {
        for (name, why) in [
            ("", "is empty"),
            ("  ", "is empty"),
            (" .. ", "is not a directory name"),
            (".", "is not a directory name"),
            ("..", "is not a directory name"),
            ("a/b", "holds a path separator"),
            ("../x", "holds a path separator"),
            ("a\\b", "holds a path separator"),
            ("a\0b", "holds a NUL byte"),
        ] {
            match default_path(name) {
                Err(Error::InvalidInput { field, reason, .. }) => {
                    assert_eq!(field, "app_name");
                    assert!(reason.starts_with(&format!("{name:?} {why}")), "{reason}");
                }
                other => panic!("{name:?}: {other:?}"),
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn missing_directories_are_made_owner_only_existing_ones_are_left() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let existing = tmp.path().join("existing");
        std::fs::create_dir(&existing).unwrap();
        std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o755)).unwrap();
        let leaf = existing.join("a").join("b");
        create_owner_only_dirs(&leaf).unwrap();
        assert_eq!(mode(&existing), 0o755);
        assert_eq!(mode(&existing.join("a")), 0o700);
        assert_eq!(mode(&leaf), 0o700);
        create_owner_only_dirs(&leaf).unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        let err = create_owner_only_dirs(&file).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    }
}
