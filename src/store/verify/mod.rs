//! [`MetadataStore::verify`]: checks a store file without changing it.
//!
//! For a file a user sends with a bug report, or an app's own store before
//! it trusts it: SQLite's `integrity_check` and `foreign_key_check`, the
//! migration history against this build, and every row decoded as the
//! library decodes it (each bad row is reported, not just the first).
//!
//! It never migrates and never writes. The file is opened read-only; when
//! no `-wal` file is beside it (no connection has it open, and the last
//! one checkpointed), it is opened `immutable`, so SQLite does not even
//! create the `-wal` and `-shm` files a read-only WAL reader otherwise
//! leaves behind. A file with pending migrations is sound, with a note: a
//! store applies them when it opens the file.
//!
//! It never judges a half-written state: a file with a rollback journal
//! beside it (a write cut short, or in progress) is refused with an error
//! naming the journal, since read as it is the file is half written and
//! read as SQLite reads it the journal would be rolled back (a write). A
//! file another connection keeps locked is an error too ("could not
//! look"), never a problem of the file. A `-wal` that ends in part of a
//! frame is a note. The tables' CHECK constraints, which `integrity_check`
//! skips on a read-only connection, run on a private in-memory copy.

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, Row};
use serde::Serialize;

use super::MetadataStore;
use super::decode::{decode_change, decode_history, decode_plugin, decode_summary, read_pid};
use super::history::future_after;
use super::identity::decode_pid_claim;
use super::sql;
use crate::connect::{self, Mode};
use crate::error::{Error, Fallible, Result, Site, show, sqlite_code};
use crate::migrate;
use crate::open::{HISTORY_TABLE, StoreOptions, whole_pages};

mod rows;

/// One thing wrong with a store file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Problem {
    /// The check that found it: `file`, `integrity_check`,
    /// `foreign_key_check`, `migration history`, `bad row` or `change
    /// feed`.
    pub check: &'static str,
    /// What is wrong, naming the table, row and value where there is one.
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.check, self.detail)
    }
}

/// What [`MetadataStore::verify`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Verification {
    /// The file checked.
    pub path: PathBuf,
    /// The newest migration recorded in it (0 for none).
    pub schema_version: i64,
    /// How many plugin rows it holds.
    pub plugins: u64,
    /// Everything wrong with it; empty when it is sound.
    pub problems: Vec<Problem>,
    /// Things worth knowing that are not wrong (pending migrations).
    pub notes: Vec<String>,
}

impl Verification {
    /// True when no check found a problem.
    pub fn is_sound(&self) -> bool {
        self.problems.is_empty()
    }
}

impl MetadataStore {
    /// Checks the store file at `path` and changes nothing (not a byte,
    /// nor a file beside it when no connection has it open): SQLite's
    /// `integrity_check` and `foreign_key_check`, the migration history
    /// against this build (a migration this build does not know, or one
    /// that differs from this build's, is a problem; pending ones are a
    /// note), and every plugin, PID, remote resource and change-log row
    /// read as the library reads them, each bad row reported.
    ///
    /// What it finds is in the [`Verification`]; an error means it could
    /// not look at all (no such file, a directory, no permission, another
    /// connection holding a lock on it the whole busy timeout, or a
    /// rollback journal beside it: a write cut short, which verify never
    /// judges — any store opening the file rolls it back first).
    pub fn verify(path: impl AsRef<Path>) -> Result<Verification> {
        let path = path.as_ref();
        refuse_half_written(path)?;
        let conn = connect::open(path, Mode::Inspect, &StoreOptions::default())?.conn;
        let mut checker = Checker {
            conn,
            report: Verification {
                path: path.to_path_buf(),
                schema_version: 0,
                plugins: 0,
                problems: Vec::new(),
                notes: Vec::new(),
            },
            blocked: None,
        };
        if let Some(note) = torn_wal(path) {
            checker.report.notes.push(note);
        }
        checker.run();
        if let Some(reason) = checker.blocked {
            return Err(Error::CannotOpen {
                path: path.to_path_buf(),
                reason: format!(
                    "verify could not look at it: {reason}; nothing was checked, try again when \
                     the other connection lets go of it"
                ),
            });
        }
        Ok(checker.report)
    }
}

/// One check of [`Checker::run`], given the file's tables.
type Check = fn(&mut Checker, &[String]) -> Fallible<()>;

struct Checker {
    conn: Connection,
    report: Verification,
    /// Set when another connection's lock kept a check from reading: then
    /// nothing the checks found counts.
    blocked: Option<String>,
}

/// Whether a SQLite error is another connection's lock.
fn is_lock(code: Option<rusqlite::ErrorCode>) -> bool {
    matches!(
        code,
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Refuses a file with a rollback journal beside it (a write cut short,
/// or one in progress): read as it is, the file is half written, and read
/// as SQLite would (rolling the journal back) it would change.
fn refuse_half_written(path: &Path) -> Result<()> {
    let mut journal = path.as_os_str().to_owned();
    journal.push("-journal");
    let journal = PathBuf::from(journal);
    match std::fs::metadata(&journal) {
        Ok(m) if m.len() > 0 => Err(Error::CannotOpen {
            path: path.to_path_buf(),
            reason: format!(
                "a rollback journal {} ({} bytes) is beside it: a write was cut short (or is \
                 in progress), and verify never judges a half-written file; opening the store \
                 once (any command, e.g. `list`) rolls the journal back, then verify again",
                journal.display(),
                m.len()
            ),
        }),
        _ => Ok(()),
    }
}

/// A note when the `-wal` beside the file ends in part of a frame (a
/// write cut short by a crash, or a copy taken while it was written).
fn torn_wal(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    let len = std::fs::metadata(&wal).ok()?.len();
    if len == 0 {
        return None;
    }
    let mut header = [0u8; 32];
    std::fs::File::open(&wal)
        .ok()?
        .read_exact(&mut header)
        .ok()?;
    let page = u64::from(u32::from_be_bytes([
        header[8], header[9], header[10], header[11],
    ]));
    if !(512..=65536).contains(&page) {
        return Some(format!(
            "{} does not start with a WAL header SQLite can use; it is ignored",
            wal.display()
        ));
    }
    let frame = page + 24;
    let tail = len.saturating_sub(32) % frame;
    (tail != 0).then(|| {
        format!(
            "{} ends in {tail} bytes that are not a whole frame: it was cut mid-write (a \
             crash, or a copy taken while it was written); SQLite ignores them, and the \
             transaction they belonged to is not in the file",
            wal.display()
        )
    })
}

impl Checker {
    /// The file, for errors found in it.
    fn site(&self) -> Site<'_> {
        Site {
            path: &self.report.path,
            busy_timeout: std::time::Duration::ZERO,
        }
    }

    /// Records a problem, once (a row read by two readers fails in both).
    fn problem(&mut self, check: &'static str, detail: impl Into<String>) {
        let problem = Problem {
            check,
            detail: detail.into(),
        };
        if !self.report.problems.contains(&problem) {
            self.report.problems.push(problem);
        }
    }

    /// Runs every check that the file's state allows.
    fn run(&mut self) {
        let Some(tables) = self.file() else { return };
        if tables.is_empty() {
            self.report
                .notes
                .push("the file is empty: a store opening it creates the schema".to_owned());
            return;
        }
        if !tables.iter().any(|t| t == HISTORY_TABLE) {
            let list = tables.join(", ");
            self.problem(
                "file",
                format!("not a plugin-metastore database: it holds other tables ({list}) and no {HISTORY_TABLE}"),
            );
            return;
        }
        let checks: [(&'static str, Check); 6] = [
            ("integrity_check", Checker::integrity),
            ("foreign_key_check", Checker::foreign_keys),
            ("migration history", Checker::history),
            ("bad row", Checker::rows),
            ("change feed", Checker::feed),
            ("check constraint", Checker::constraints),
        ];
        for (name, check) in checks {
            if let Err(fault) = check(self, &tables) {
                if is_lock(fault.sqlite_code()) {
                    self.blocked = Some(fault.at(self.site()).to_string());
                    return;
                }
                let e = fault.at(self.site());
                self.problem(name, format!("the check could not finish: {e}"));
            }
        }
    }

    /// The first read: is it SQLite, and whole? Returns its tables, or
    /// None when nothing more can be checked.
    fn file(&mut self) -> Option<Vec<String>> {
        let tables =
            self.strings("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
        let tables = match tables {
            Ok(t) => t,
            Err(e) if is_lock(sqlite_code(&e)) => {
                self.blocked = Some(format!("another connection holds a lock on it ({e})"));
                return None;
            }
            Err(e) => {
                let reason = match sqlite_code(&e) {
                    Some(rusqlite::ErrorCode::NotADatabase) => "not an SQLite database".to_owned(),
                    _ => format!("cannot read its schema: {e}"),
                };
                self.problem("file", reason);
                return None;
            }
        };
        let len = std::fs::metadata(&self.report.path).map_or(0, |m| m.len());
        let page: i64 = self
            .conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap_or(4096);
        if let Some(reason) = whole_pages(len, page) {
            self.problem("file", reason);
        }
        Some(tables)
    }

    fn strings(&self, sql: &str) -> rusqlite::Result<Vec<String>> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect()
    }

    fn integrity(&mut self, _: &[String]) -> Fallible<()> {
        let report = self.strings("PRAGMA integrity_check")?;
        if report != ["ok"] {
            for line in report {
                self.problem("integrity_check", line);
            }
        }
        Ok(())
    }

    fn foreign_keys(&mut self, _: &[String]) -> Fallible<()> {
        let mut orphans: Vec<(String, Option<i64>, String)> = Vec::new();
        {
            let mut stmt = self.conn.prepare("PRAGMA foreign_key_check")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                orphans.push((row.get(0)?, row.get(1)?, row.get(2)?));
            }
        }
        for (table, rowid, parent) in orphans {
            let owner: Option<String> = match (table.as_str(), rowid) {
                ("plugin_pids" | "remote_resources", Some(rowid)) => self
                    .conn
                    .query_row(
                        &format!("SELECT plugin_id FROM {table} WHERE rowid = ?1"),
                        [rowid],
                        |r| Ok(show(r.get_ref(0)?)),
                    )
                    .ok(),
                _ => None,
            };
            let row = rowid.map_or_else(|| "a row".to_owned(), |r| format!("row {r}"));
            let detail = match owner {
                Some(id) => {
                    format!("{table} {row} belongs to plugin id {id}, but {parent} has no such row")
                }
                None => format!("{table} {row} refers to a {parent} row that does not exist"),
            };
            self.problem("foreign_key_check", detail);
        }
        Ok(())
    }

    /// The history rows against the migrations this build embeds.
    fn history(&mut self, _: &[String]) -> Fallible<()> {
        let known = migrate::known_migrations();
        let newest = known.last().map_or(0, |k| k.0);
        let mut applied: Vec<i64> = Vec::new();
        let mut rows = Vec::new();
        {
            let path = &self.report.path;
            let mut stmt = self.conn.prepare(migrate::HISTORY_ROWS)?;
            let mut cursor = stmt.query([])?;
            while let Some(row) = cursor.next()? {
                rows.push(migrate::read_history_row(row, path));
            }
        }
        for row in rows {
            let migrate::Applied {
                version,
                name,
                checksum,
            } = match row {
                Ok(r) => r,
                Err(fault) => {
                    let e = fault.at(self.site());
                    self.problem("migration history", e.to_string());
                    continue;
                }
            };
            applied.push(version);
            match known.iter().find(|k| k.0 == version) {
                None if version > newest => self.problem(
                    "migration history",
                    format!(
                        "V{version} {name:?} is newer than this build, which knows up to V{newest}: \
                         the file was written by a newer plugin-metastore, and this build will not open it"
                    ),
                ),
                None => self.problem(
                    "migration history",
                    format!("V{version} {name:?} is not a migration this build knows"),
                ),
                Some((_, ours, sum)) if *sum != checksum => self.problem(
                    "migration history",
                    format!(
                        "V{version} {name:?} differs from this build's {ours:?} (checksum {checksum}, \
                         expected {sum}): the file was migrated by another build"
                    ),
                ),
                Some(_) => {}
            }
        }
        self.report.schema_version = applied.iter().copied().max().unwrap_or(0);
        for (version, name, _) in known.iter().filter(|k| !applied.contains(&k.0)) {
            self.report.notes.push(format!(
                "migration V{version} {name} is not applied yet: a store opening the file applies it"
            ));
        }
        Ok(())
    }
}
