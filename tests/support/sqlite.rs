//! The file as others see it: the real `sqlite3` CLI (the tool people
//! inspect and hand-edit the store with), for one statement or as a
//! session that holds what it took, and what the file holds besides
//! plugins: its schema, its migration history, its integrity.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Runs `sql` (statements or a dot-command) with the real `sqlite3` CLI on
/// `db`, with `-bail` so it stops at the first error, and returns its raw
/// output whatever happened: for tests that expect sqlite3 to refuse.
pub fn sqlite3_output(db: &Path, sql: &str) -> Output {
    Command::new("sqlite3")
        .arg("-bail")
        .arg(db)
        .arg(sql)
        .output()
        .expect("the sqlite3 CLI is needed for these tests (apt-get install sqlite3)")
}

/// Runs `sql` with the real `sqlite3` CLI on `db`: its stdout (trimmed) if
/// it succeeded without a word on stderr, else the error text (stderr, then
/// stdout).
pub fn sqlite3_result(db: &Path, sql: &str) -> Result<String, String> {
    let out = sqlite3_output(db, sql);
    let stdout = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).trim_end().to_owned();
    if out.status.success() && stderr.is_empty() {
        Ok(stdout)
    } else {
        Err(format!("{stderr}{stdout}"))
    }
}

/// Runs `sql` with the real `sqlite3` CLI on `db` and returns its stdout
/// (trimmed); fails the test if sqlite3 reports an error.
#[track_caller]
pub fn sqlite3(db: &Path, sql: &str) -> String {
    match sqlite3_result(db, sql) {
        Ok(out) => out,
        Err(e) => panic!("sqlite3 {} {sql:?} failed: {e}", db.display()),
    }
}

/// `SELECT count(*) FROM table`, through the sqlite3 CLI.
#[track_caller]
pub fn table_rows(db: &Path, table: &str) -> i64 {
    let count = sqlite3(db, &format!("SELECT count(*) FROM {table}"));
    count.parse().unwrap_or_else(|_| panic!("count: {count:?}"))
}

/// One row of `sqlite_master`: a table, index, view or trigger.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SchemaObject {
    /// `table`, `index`, `view` or `trigger`.
    pub kind: String,
    pub name: String,
    /// The table it belongs to (its own name for a table or view).
    pub table: String,
    /// The statement that made it, as SQLite keeps it.
    pub sql: String,
}

/// The schema of the file at `db`: every row of `sqlite_master` but
/// SQLite's own objects (`sqlite_autoindex_…`, `sqlite_stat1`, …, which
/// follow from the rest or from statistics), by kind and name. Two files
/// with equal schemas were made by the same migrations.
pub fn schema(db: &Path) -> Vec<SchemaObject> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(SchemaObject {
            kind: r.get(0)?,
            name: r.get(1)?,
            table: r.get(2)?,
            sql: r.get(3)?,
        })
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

/// The migrations recorded in the file at `db` (refinery's history), as
/// `(version, name)` in version order.
pub fn history(db: &Path) -> Vec<(i64, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT version, name FROM refinery_schema_history ORDER BY version")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// `PRAGMA integrity_check` on the file at `db`: `"ok"` for a sound file.
pub fn integrity_check(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// A `sqlite3` shell on a file that has run some statements and stays
/// open, holding what they took (a transaction, a lock, a half-done
/// write), until it is closed, killed or dropped (killed).
pub struct Sqlite3Session {
    child: Child,
}

impl Sqlite3Session {
    /// Starts `sqlite3 DB`, runs `sql` in it, and returns once the shell
    /// has run all of it (it then prints a marker line).
    #[track_caller]
    pub fn start(db: &Path, sql: &str) -> Sqlite3Session {
        const MARKER: &str = "plugin-metastore-test: ran";
        let mut child = Command::new("sqlite3")
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.as_mut().unwrap();
        writeln!(stdin, "{sql}\nSELECT '{MARKER}';").unwrap();
        let lines = super::Lines::read(child.stdout.take().unwrap());
        loop {
            match lines.next_within(Duration::from_secs(60)) {
                Some(line) if line == MARKER => break,
                Some(_) => continue,
                None => panic!("sqlite3 did not get through {sql:?}"),
            }
        }
        Sqlite3Session { child }
    }

    /// Closes its input: the shell ends as it would at the end of a
    /// script (an open transaction rolled back, its locks let go).
    pub fn close(mut self) {
        drop(self.child.stdin.take());
        self.child.wait().unwrap();
    }

    /// Kills it where it stands: what a crashed writer leaves behind.
    pub fn kill(self) {
        drop(self);
    }
}

impl Drop for Sqlite3Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
