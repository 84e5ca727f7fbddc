//! Helpers shared by the integration tests: the real `sqlite3` binary.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// Runs `sql` with the real `sqlite3` CLI on `db`; stdout (trimmed) or the
/// error text.
pub fn sqlite3_result(db: &Path, sql: &str) -> Result<String, String> {
    let out = Command::new("sqlite3")
        .arg("-bail")
        .arg(db)
        .arg(sql)
        .output()
        .map_err(|e| format!("cannot run sqlite3 (apt-get install sqlite3): {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).trim_end().to_owned();
    if out.status.success() && stderr.is_empty() {
        Ok(stdout)
    } else {
        Err(format!("{stderr}{stdout}"))
    }
}

/// Runs `sql` with the real `sqlite3` CLI and returns its output; panics
/// (failing the test) on an error.
pub fn sqlite3(db: &Path, sql: &str) -> String {
    match sqlite3_result(db, sql) {
        Ok(out) => out,
        Err(e) => panic!("sqlite3 {} {sql:?} failed: {e}", db.display()),
    }
}

/// `SELECT count(*) FROM table`, through the sqlite3 CLI.
pub fn table_rows(db: &Path, table: &str) -> i64 {
    sqlite3(db, &format!("SELECT count(*) FROM {table}"))
        .parse()
        .unwrap_or(-1)
}
