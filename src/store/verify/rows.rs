//! The row checks of [`MetadataStore::verify`](crate::MetadataStore::verify):
//! every row the library reads, decoded as it decodes them; every CHECK
//! constraint; the change feed's state row.

use super::*;

impl Checker {
    /// Every row the library reads, decoded as it decodes them.
    pub(super) fn rows(&mut self, tables: &[String]) -> Fallible<()> {
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
        if has("remote_resources") {
            // The list rows read other columns (updated_at) than a plugin.
            let summary_sql = format!(
                "SELECT {} FROM plugins p LEFT JOIN remote_resources r ON r.plugin_id = p.id",
                sql::SUMMARY_COLUMNS
            );
            self.decode_all(&summary_sql, (), |r| decode_summary(r, path).map(drop))?;
        }
        if has("change_log") {
            let changes = "SELECT seq, category, name, op FROM change_log";
            self.decode_all(changes, (), |r| decode_change(r, path).map(drop))?;
        }
        if has("remote_status_history") {
            let history = "SELECT category, name, at, seq, provider, instance_id, status, \
                           cost_per_hour FROM remote_status_history ORDER BY category, name, at, seq";
            let ahead = future_after();
            let mut future = Vec::new();
            self.decode_all(history, (), |r| {
                let entry = decode_history(r, path)?;
                let at: String = r.get(2)?;
                if at > ahead {
                    future.push(format!(
                        "remote_status_history row of ({:?}, {:?}) at {at} is dated in the \
                         future (written while the clock was ahead?): cost reports leave it out; \
                         delete it once the clock is right",
                        entry.category, entry.name
                    ));
                }
                Ok(())
            })?;
            for detail in future {
                self.problem("future row", detail);
            }
        }
        Ok(())
    }

    /// The tables' CHECK constraints, row by row. SQLite's integrity_check
    /// skips them on a read-only connection, so they run on a private
    /// in-memory copy of the file (made by `VACUUM INTO`, which reads one
    /// snapshot and writes nothing here), without its triggers.
    pub(super) fn constraints(&mut self, tables: &[String]) -> Fallible<()> {
        static COPIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!(
            "file:plugin-metastore-verify-{}-{n}?mode=memory&cache=shared",
            std::process::id()
        );
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
            | rusqlite::OpenFlags::SQLITE_OPEN_CREATE
            | rusqlite::OpenFlags::SQLITE_OPEN_URI
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let copy = Connection::open_with_flags(&name, flags)?;
        self.conn.execute("VACUUM INTO ?1", [&name])?;
        // Orphans are foreign_key_check's to name.
        copy.execute_batch("PRAGMA foreign_keys = OFF")?;
        let triggers: Vec<String> = {
            let mut stmt = copy.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for t in triggers {
            copy.execute_batch(&format!("DROP TRIGGER \"{}\"", t.replace('"', "\"\"")))?;
        }
        for table in tables.iter().filter(|t| !t.starts_with("sqlite_")) {
            // A row a decoder already named is not named twice.
            let named = format!("table {table},");
            if self
                .report
                .problems
                .iter()
                .any(|p| p.detail.contains(&named))
            {
                continue;
            }
            let quoted = format!("\"{}\"", table.replace('"', "\"\""));
            let columns: Vec<String> = {
                let mut stmt = copy.prepare("SELECT name FROM pragma_table_info(?1)")?;
                let rows = stmt.query_map([table], |r| r.get::<_, String>(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            if columns.is_empty() {
                continue;
            }
            // Rewriting every column of every row to itself runs every
            // CHECK and NOT NULL on it (SQLite skips the CHECKs of columns
            // an UPDATE does not set); the first failure names the
            // constraint.
            let set: Vec<String> = columns
                .iter()
                .map(|c| {
                    let c = format!("\"{}\"", c.replace('"', "\"\""));
                    format!("{c} = {c}")
                })
                .collect();
            let rewrite = format!("UPDATE {quoted} SET {}", set.join(", "));
            if let Err(e) = copy.execute(&rewrite, [])
                && sqlite_code(&e) == Some(rusqlite::ErrorCode::ConstraintViolation)
            {
                {
                    let e = e
                        .to_string()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ");
                    self.problem(
                        "check constraint",
                        format!(
                            "a row of {table} holds a value its constraints refuse ({e}), \
                             forced in by hand: the next write of that row fails"
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// Decodes every row of `sql` with `decode`; each failure is a problem.
    /// Returns the number of rows.
    pub(super) fn decode_all(
        &mut self,
        sql: &str,
        params: impl rusqlite::Params,
        mut decode: impl FnMut(&Row<'_>) -> Fallible<()>,
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
    pub(super) fn feed(&mut self, tables: &[String]) -> Fallible<()> {
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
        let (capacity, pruned): (rusqlite::types::Value, rusqlite::types::Value) = self
            .conn
            .query_row(
                "SELECT capacity, pruned_through FROM change_feed LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap_or((
                rusqlite::types::Value::Integer(1),
                rusqlite::types::Value::Integer(0),
            ));
        use rusqlite::types::Value;
        match capacity {
            Value::Integer(c) if c >= 1 => {}
            other => self.problem(
                "change feed",
                format!(
                    "change_feed.capacity is {}, not a whole number of rows >= 1: \
                     UPDATE change_feed SET capacity = 10000",
                    show((&other).into())
                ),
            ),
        }
        match pruned {
            Value::Integer(p) if p >= 0 => {}
            other => self.problem(
                "change feed",
                format!(
                    "change_feed.pruned_through is {}, not a seq >= 0",
                    show((&other).into())
                ),
            ),
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
