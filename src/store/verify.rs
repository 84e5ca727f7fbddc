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

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, Row};
use serde::Serialize;

use super::MetadataStore;
use super::decode::decode_change;
use super::decode::{decode_pid_claim, decode_plugin, read_pid};
use super::sql;
use crate::connect::{self, Mode};
use crate::error::{Fallible, Result, Site, show, sqlite_code};
use crate::migrate;
use crate::open::{HISTORY_TABLE, StoreOptions, whole_pages};

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
    /// not look at all (no such file, a directory, no permission).
    pub fn verify(path: impl AsRef<Path>) -> Result<Verification> {
        let path = path.as_ref();
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
        };
        checker.run();
        Ok(checker.report)
    }
}

/// One check of [`Checker::run`], given the file's tables.
type Check = fn(&mut Checker, &[String]) -> Fallible<()>;

struct Checker {
    conn: Connection,
    report: Verification,
}

impl Checker {
    /// The file, for errors found in it.
    fn site(&self) -> Site<'_> {
        Site {
            path: &self.report.path,
            busy_timeout: std::time::Duration::ZERO,
        }
    }

    fn problem(&mut self, check: &'static str, detail: impl Into<String>) {
        self.report.problems.push(Problem {
            check,
            detail: detail.into(),
        });
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
        let checks: [(&'static str, Check); 5] = [
            ("integrity_check", Checker::integrity),
            ("foreign_key_check", Checker::foreign_keys),
            ("migration history", Checker::history),
            ("bad row", Checker::rows),
            ("change feed", Checker::feed),
        ];
        for (name, check) in checks {
            if let Err(fault) = check(self, &tables) {
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

    /// Every row the library reads, decoded as it decodes them.
    fn rows(&mut self, tables: &[String]) -> Fallible<()> {
        let has = |t: &str| tables.iter().any(|n| n == t);
        if !has("plugins") {
            return Ok(());
        }
        let plugin_sql = format!(
            "SELECT {} FROM plugins p LEFT JOIN remote_resources r ON r.plugin_id = p.id",
            sql::PLUGIN_COLUMNS
        );
        let path = self.report.path.clone();
        let path = path.as_path();
        self.report.plugins =
            self.decode_all(&plugin_sql, (), |r| decode_plugin(r, path).map(drop))?;
        if has("plugin_pids") {
            let identity: bool = self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM pragma_table_info('plugin_pids') WHERE name = 'start_time')",
                [],
                |r| r.get(0),
            )?;
            if identity {
                self.decode_all(sql::PID_CLAIMS, (), |r| decode_pid_claim(r, path).map(drop))?;
            } else {
                let pids = "SELECT plugin_id, pid, rowid FROM plugin_pids";
                self.decode_all(pids, (), |r| read_pid(Some(r), path).map(drop))?;
            }
        }
        if has("change_log") {
            let changes = "SELECT seq, category, name, op FROM change_log";
            self.decode_all(changes, (), |r| decode_change(r, path).map(drop))?;
        }
        Ok(())
    }

    /// Decodes every row of `sql` with `decode`; each failure is a problem.
    /// Returns the number of rows.
    fn decode_all(
        &mut self,
        sql: &str,
        params: impl rusqlite::Params,
        decode: impl Fn(&Row<'_>) -> Fallible<()>,
    ) -> Fallible<u64> {
        let mut bad = Vec::new();
        let mut count = 0;
        {
            let mut stmt = self.conn.prepare(sql)?;
            let mut rows = stmt.query(params)?;
            while let Some(row) = rows.next()? {
                count += 1;
                if let Err(e) = decode(row) {
                    bad.push(e);
                }
            }
        }
        for fault in bad {
            let e = fault.at(self.site());
            self.problem("bad row", e.to_string());
        }
        Ok(count)
    }

    /// The change feed's state row.
    fn feed(&mut self, tables: &[String]) -> Fallible<()> {
        if !tables.iter().any(|t| t == "change_feed") {
            return Ok(());
        }
        let rows: i64 = self
            .conn
            .query_row("SELECT count(*) FROM change_feed", [], |r| r.get(0))?;
        if rows != 1 {
            self.problem(
                "change feed",
                format!("change_feed holds {rows} rows instead of 1 (a store re-creates it on its next write)"),
            );
        }
        let stale: Option<i64> = self
            .conn
            .query_row(
                "SELECT writing_txn FROM change_feed WHERE writing_txn IS NOT NULL LIMIT 1",
                [],
                |r| r.get(0),
            )
            .ok();
        if let Some(txn) = stale {
            self.problem(
                "change feed",
                format!(
                    "change_feed.writing_txn is {txn}, but it is only ever set inside a library write \
                     transaction: while it is set, changes made outside the library are not logged"),
            );
        }
        Ok(())
    }
}
