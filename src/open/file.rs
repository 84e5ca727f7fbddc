//! The store's file on disk, before SQLite reads it: is the path a file
//! the store can use (said in words when not), creating it owner-only,
//! tightening a store file that others can read, telling a store this
//! process cannot write, and removing what a failed open created.
//!
//! Nothing here opens a descriptor on an existing store file: closing any
//! descriptor of a file drops every POSIX lock this process holds on it,
//! the locks of other stores on the same file included.

use std::io;
use std::path::{Path, PathBuf};

/// Why `path` cannot be a store file, in words; `None` when it can (it
/// exists as a regular file, or it does not exist and its directory does).
pub(crate) fn unusable(path: &Path) -> Option<String> {
    let text = path.to_string_lossy();
    if text.is_empty() {
        return Some("the path is empty".to_owned());
    }
    if text == ":memory:" || text.starts_with("file:") {
        return Some(format!(
            "it is not a file path (SQLite would take {text:?} for an in-memory database or a \
             URI, and the data would be gone on exit); write ./{text} for a file of that name"
        ));
    }
    match std::fs::symlink_metadata(path) {
        Ok(link) if link.file_type().is_symlink() => {
            if let Err(e) = std::fs::metadata(path) {
                let target = std::fs::read_link(path).unwrap_or_default();
                return Some(format!(
                    "it is a symbolic link to {}, which {}",
                    target.display(),
                    if e.kind() == io::ErrorKind::NotFound {
                        "does not exist".to_owned()
                    } else {
                        format!("cannot be read ({})", describe(&e))
                    }
                ));
            }
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return missing_parent(path),
        Err(e) => return Some(describe(&e)),
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Some("it is a directory".to_owned()),
        Ok(m) if !m.is_file() => Some(format!("it is not a regular file ({})", kind(&m))),
        Ok(_) => None,
        Err(e) => Some(describe(&e)),
    }
}

/// For a path that does not exist: why it cannot be created, if its
/// directory is missing.
fn missing_parent(path: &Path) -> Option<String> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty())?;
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => None,
        Ok(_) => Some(format!("{} is not a directory", parent.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Some(format!("the directory {} does not exist", parent.display()))
        }
        Err(e) => Some(describe(&e)),
    }
}

/// What kind of non-regular file this is.
fn kind(m: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = m.file_type();
        if t.is_fifo() {
            return "a named pipe";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    let _ = m;
    "a special file"
}

/// An I/O error in words a user can act on.
pub(crate) fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        io::ErrorKind::ReadOnlyFilesystem => "the file system is read-only".to_owned(),
        io::ErrorKind::InvalidFilename => "the path (or one of its names) is too long".to_owned(),
        io::ErrorKind::NotADirectory => "a part of the path is not a directory".to_owned(),
        io::ErrorKind::StorageFull => "the disk is full".to_owned(),
        _ => e.to_string(),
    }
}

/// Creates `path` with mode 0600 on Unix if it does not exist yet; true
/// if it created it.
pub(crate) fn create_owner_only(path: &Path) -> io::Result<bool> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600);
    }
    match open.open(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// The store file and its WAL companions.
fn with_companions(path: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        PathBuf::from(p)
    };
    [path.to_path_buf(), with("-wal"), with("-shm")]
}

/// Removes a store file this open created, with any `-wal` / `-shm`, after
/// the open failed: a failed open leaves nothing behind.
pub(crate) fn remove_created(path: &Path) {
    for p in with_companions(path) {
        let _ = std::fs::remove_file(p);
    }
}

/// Why this process cannot write the store at `path` (an existing file),
/// or `None` when it can: the file is not writable, or its directory is
/// not and SQLite would need to create the `-shm` file there.
pub(crate) fn read_only_reason(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use rustix::fs::{Access, access};
        if let Err(e) = access(path, Access::WRITE_OK) {
            return Some(format!(
                "the file is not writable ({})",
                describe(&e.into())
            ));
        }
        let [_, _, shm] = with_companions(path);
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !shm.exists()
            && let Err(e) = access(dir, Access::WRITE_OK)
        {
            return Some(format!(
                "its directory {} is not writable ({})",
                dir.display(),
                describe(&e.into())
            ));
        }
    }
    #[cfg(not(unix))]
    {
        if std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly()) {
            return Some("the file is read-only".to_owned());
        }
    }
    None
}

/// Makes the store file and its `-wal` / `-shm` owner-only when others may
/// read them (a file made by hand, or under a loose umask), so a store is
/// never left world-readable. Files another user owns are not changed.
pub(crate) fn tighten(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let me = rustix::process::geteuid().as_raw();
        for p in with_companions(path) {
            let Ok(m) = std::fs::metadata(&p) else {
                continue;
            };
            let mode = m.mode() & 0o7777;
            if mode & 0o077 == 0 || m.uid() != me {
                continue;
            }
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode & 0o700)).map_err(
                |e| {
                    format!(
                        "{} is readable by others (mode {mode:04o}) and cannot be made \
                         owner-only: {}",
                        p.display(),
                        describe(&e)
                    )
                },
            )?;
        }
    }
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_are_not_store_files_are_named_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let say = |p: &Path| unusable(p).unwrap_or_default();
        assert!(say(Path::new(":memory:")).contains("not a file path"));
        assert!(say(Path::new("file:x.db?mode=memory")).contains("URI"));
        assert!(say(dir.path()).contains("directory"));
        assert!(say(&dir.path().join("nope/x.db")).contains("does not exist"));
        assert_eq!(unusable(&dir.path().join("new.db")), None);
        #[cfg(unix)]
        {
            let link = dir.path().join("dangling.db");
            std::os::unix::fs::symlink(dir.path().join("gone.db"), &link).unwrap();
            assert!(say(&link).contains("symbolic link"), "{}", say(&link));
            assert!(say(Path::new("/dev/null")).contains("character device"));
            let long = dir.path().join("x".repeat(300));
            assert!(say(&long).contains("too long"), "{}", say(&long));
        }
    }
}
