//! The baseline: the store's work written by hand with rusqlite, as a
//! careful engineer would write it for the same result. Same file layout
//! (the schema is created by opening a `MetadataStore` on the file), same
//! connection settings (taken from [`StoreOptions`], not retyped), the same
//! upserts in the same transactions, cached prepared statements, and the
//! same one-pass list: the plugins joined with their remote resources and
//! their PIDs, two statements in the same order, merged as they go. What it
//! leaves out is what the store adds on top: input validation, decoding
//! errors that name table, column and row, the schema checks on open, and
//! building SQL from a [`PluginQuery`](plugin_metastore::PluginQuery).
//!
//! The remote status history costs both sides the same: its triggers
//! (migration V4) fire on every change of `remote_resources`, whoever
//! writes, so the baseline does the store's history work for free on the
//! same schema.
//!
//! It does the same work the store's design requires:
//! - **JSON**: its `list` / `get` parse `config_schema` and `metadata` into
//!   `serde_json` values, as the store must to return a
//!   [`PluginMetadata`] (`raw_ui.rs` has the list with JSON left as text).
//! - **Process identity**: a save reads `/proc` for each new PID and keeps
//!   the stored identity of PIDs it already had.
//! - **Change feed**: a write transaction numbers itself in `change_feed`
//!   (which turns the change-log triggers off; pruning the log when it is a
//!   quarter over capacity), and before committing writes one `change_log`
//!   row per plugin it saved and clears the number, as the store's
//!   `WriteTx` does. The triggers' remaining cost on these writes (their
//!   `WHEN` test per row, and the statement journal SQLite keeps for a
//!   table with triggers) is the same for both: same schema.

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use chrono::SubsecRound;

use plugin_metastore::{MetadataStore, PluginMetadata, RemoteResourceInfo, StoreOptions};
use rusqlite::{
    Connection, OptionalExtension, Row, Rows, Transaction, TransactionBehavior, params,
};

use crate::R;

const UPSERT_PLUGIN: &str = "INSERT INTO plugins (category, name, title, config_schema, \
         description, version, is_configured, execution_mode, manages_child_processes, \
         manages_external_resources, container_id, conda_env_name, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13) \
     ON CONFLICT (category, name) DO UPDATE SET title = excluded.title, \
         config_schema = excluded.config_schema, description = excluded.description, \
         version = excluded.version, is_configured = excluded.is_configured, \
         execution_mode = excluded.execution_mode, \
         manages_child_processes = excluded.manages_child_processes, \
         manages_external_resources = excluded.manages_external_resources, \
         container_id = excluded.container_id, conda_env_name = excluded.conda_env_name, \
         updated_at = excluded.updated_at \
     RETURNING id, created_at = updated_at";

const UPSERT_REMOTE: &str = "INSERT INTO remote_resources (plugin_id, provider, region, \
         instance_id, job_id, endpoint_url, ssh_host, ssh_port, status, resource_type, gpu_count, \
         gpu_type, estimated_cost_per_hour, metadata) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
     ON CONFLICT (plugin_id) DO UPDATE SET provider = excluded.provider, \
         region = excluded.region, instance_id = excluded.instance_id, \
         job_id = excluded.job_id, endpoint_url = excluded.endpoint_url, \
         ssh_host = excluded.ssh_host, ssh_port = excluded.ssh_port, status = excluded.status, \
         resource_type = excluded.resource_type, gpu_count = excluded.gpu_count, \
         gpu_type = excluded.gpu_type, estimated_cost_per_hour = excluded.estimated_cost_per_hour, \
         metadata = excluded.metadata";

/// Every column a read needs, by the positions [`decode`] reads.
const SELECT: &str = "SELECT p.id, p.category, p.name, p.title, p.config_schema, \
     p.description, p.version, p.is_configured, p.execution_mode, p.manages_child_processes, \
     p.manages_external_resources, p.container_id, p.conda_env_name, \
     r.plugin_id, r.provider, r.region, r.instance_id, r.job_id, r.endpoint_url, r.ssh_host, \
     r.ssh_port, r.status, r.resource_type, r.gpu_count, r.gpu_type, \
     r.estimated_cost_per_hour, r.metadata \
     FROM plugins p LEFT JOIN remote_resources r ON r.plugin_id = p.id";

/// "Holds active resources": has PIDs, a non-empty container id, or a
/// running remote resource.
const ACTIVE: &str = "WHERE p.id IN (SELECT plugin_id FROM plugin_pids \
     UNION ALL SELECT id FROM plugins WHERE container_id > '' \
     UNION ALL SELECT plugin_id FROM remote_resources WHERE status = 'running')";

/// Where a history row of `(?1, ?2)` made at `?3` goes: after the newest
/// row not dated after `?4` (`?3` + 1 s), as the history triggers place
/// theirs, and whether that row says provider `?5`, instance `?6`, status
/// `?7`, rate `?8` already.
const PLACE_HISTORY: &str = "SELECT max(?3, at), CASE WHEN at >= ?3 THEN seq + 1 ELSE 0 END, \
         provider IS ?5 AND instance_id IS ?6 AND status IS ?7 AND cost_per_hour IS ?8 \
     FROM remote_status_history WHERE category = ?1 AND name = ?2 AND at <= ?4 \
     ORDER BY at DESC, seq DESC LIMIT 1";

const INSERT_HISTORY: &str = "INSERT INTO remote_status_history \
         (category, name, at, seq, provider, instance_id, status, cost_per_hour) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// Part 1's schema: the store's first two migrations, as they landed.
pub const PART1_SCHEMA: &str = concat!(
    include_str!("../../migrations/V1__initial_schema.sql"),
    include_str!("../../migrations/V2__query_indexes_and_views.sql"),
);

/// Built once, not on every call.
static GET: LazyLock<String> =
    LazyLock::new(|| format!("{SELECT} WHERE p.category = ?1 AND p.name = ?2"));
static COUNT_ACTIVE: LazyLock<String> =
    LazyLock::new(|| format!("SELECT count(*) FROM plugins p {ACTIVE}"));

/// One hand-configured connection to a store file.
pub struct RawStore {
    conn: Connection,
    /// Whether saves do the change feed's work (see [`RawStore::without_change_log`]).
    log: bool,
    /// Whether saves record process identity (see [`RawStore::without_identity`]).
    identity: bool,
    /// Who writes the remote status history.
    history: History,
}

/// Who writes a [`RawStore`]'s remote status history.
#[derive(Clone, Copy, PartialEq, Eq)]
enum History {
    /// The saves, as the store does: the connection's triggers off, one
    /// row appended after each change of a remote resource.
    Own,
    /// The file's triggers (Part 2 before the library wrote its own rows).
    Triggers,
    /// Nobody (to measure what the history costs).
    None,
}

impl RawStore {
    /// Creates the schema at `path` by opening a [`MetadataStore`] there,
    /// then opens the file by hand.
    pub fn create(path: &Path) -> R<Self> {
        drop(MetadataStore::open(path)?);
        Self::open(path)
    }

    /// Opens an existing file configured as the store configures its own:
    /// the same busy timeout, WAL, then the store's own pragma batch. The
    /// ratios measure the store's code, not its settings.
    pub fn open(path: &Path) -> R<Self> {
        let conn = Self::connection(path)?;
        set_triggers(&conn, false)?;
        Ok(RawStore {
            conn,
            log: true,
            identity: true,
            history: History::Own,
        })
    }

    /// The floor: Part 1's schema (migrations V1 and V2, run by hand on a
    /// new file with the store's settings) and Part 1's save — the upserts
    /// and the PID rows, no process identity, no change log, no history.
    /// What saving cost before Part 2's bookkeeping.
    pub fn floor(path: &Path) -> R<Self> {
        Self::part1(path, PART1_SCHEMA)
    }

    /// [`floor`](Self::floor) on Part 1's schema with `schema` instead of
    /// migrations V1 and V2 (a variant, to measure what a schema detail costs).
    pub fn part1(path: &Path, schema: &str) -> R<Self> {
        let conn = Self::connection(path)?;
        conn.execute_batch(schema)?;
        Ok(RawStore {
            conn,
            log: false,
            identity: false,
            history: History::None,
        })
    }

    /// The same saves without process identity: PIDs are stored with
    /// their number and position only, and `/proc` is never read.
    pub fn without_identity(mut self) -> Self {
        self.identity = false;
        self
    }

    /// A connection to the file at `path` with the store's own settings.
    pub fn connection(path: &Path) -> R<Connection> {
        let options = StoreOptions::default();
        let conn = Connection::open(path)?;
        conn.busy_timeout(options.busy_timeout)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(&options.pragma_sql())?;
        // The store's one setting that is not a pragma: no re-preparing a
        // statement when new values are bound (`open/connection.rs`).
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        Ok(conn)
    }

    /// The connection.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The same store without the change feed: saves write no log rows.
    /// For measuring what the feed costs.
    pub fn without_change_log(mut self) -> Self {
        self.log = false;
        self
    }

    /// The same store without the remote status history: no rows written
    /// (the file is no longer a faithful store after). For measuring what
    /// the history costs.
    pub fn without_history(mut self) -> Self {
        self.history = History::None;
        self
    }

    /// The same store with its history written by the file's triggers, as
    /// Part 2 first did (the change-log triggers run too, finding
    /// `writing_txn` set): what the library's own rows save.
    pub fn with_triggers(mut self) -> R<Self> {
        set_triggers(&self.conn, true)?;
        self.history = History::Triggers;
        Ok(self)
    }

    /// What a save does besides the upserts.
    fn work(&self) -> Work {
        Work {
            identity: self.identity,
            history: self.history == History::Own,
        }
    }

    /// Saves every plugin in one `BEGIN IMMEDIATE` transaction.
    pub fn save_all(&self, plugins: &[PluginMetadata]) -> R<()> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let slot = if self.log { begin_logged(&tx)? } else { (0, 0) };
        let at = now();
        let mut changed = Changed::default();
        for p in plugins {
            let (id, created) = save_in(&tx, p, &at, self.work())?;
            changed.record(id, p, created);
        }
        if self.log {
            end_logged(&tx, slot, &changed)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Saves one plugin in its own `BEGIN IMMEDIATE` transaction.
    pub fn save(&self, p: &PluginMetadata) -> R<()> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let slot = begin_logged(&tx)?;
        let (id, created) = save_in(&tx, p, &now(), self.work())?;
        let mut changed = Changed::default();
        changed.record(id, p, created);
        end_logged(&tx, slot, &changed)?;
        tx.commit()?;
        Ok(())
    }

    /// One plugin by key with its PIDs, in one read transaction.
    pub fn get(&self, category: &str, name: &str) -> R<Option<PluginMetadata>> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)?;
        let found = {
            let mut stmt = tx.prepare_cached(&GET)?;
            let mut rows = stmt.query([category, name])?;
            match rows.next()? {
                None => None,
                Some(row) => {
                    let (id, mut p) = decode(row)?;
                    let mut pids = tx.prepare_cached(
                        "SELECT pid FROM plugin_pids WHERE plugin_id = ?1 ORDER BY position",
                    )?;
                    let mut pid_rows = pids.query([id])?;
                    while let Some(r) = pid_rows.next()? {
                        p.spawned_pids.push(r.get(0)?);
                    }
                    Some(p)
                }
            }
        };
        tx.commit()?;
        Ok(found)
    }

    /// Streams the plugins of `q` to `f` in `(category, name)` order, in
    /// one read transaction, merging the PIDs in as they go.
    pub fn for_each(&self, q: &RawQuery, mut f: impl FnMut(PluginMetadata)) -> R<()> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)?;
        {
            let mut plugin_stmt = tx.prepare_cached(&q.plugins)?;
            let mut pid_stmt = tx.prepare_cached(&q.pids)?;
            let mut rows = plugin_stmt.query(rusqlite::params_from_iter(q.arg))?;
            let mut pids = pid_stmt.query(rusqlite::params_from_iter(q.arg))?;
            let mut next = next_pid(&mut pids)?;
            while let Some(row) = rows.next()? {
                let (id, mut p) = decode(row)?;
                while let Some((owner, pid)) = next {
                    if owner != id {
                        break;
                    }
                    p.spawned_pids.push(pid);
                    next = next_pid(&mut pids)?;
                }
                f(p);
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The plugins of `q`, collected.
    pub fn list(&self, q: &RawQuery) -> R<Vec<PluginMetadata>> {
        let mut out = Vec::new();
        self.for_each(q, |p| out.push(p))?;
        Ok(out)
    }

    /// How many plugins hold active resources.
    pub fn count_active(&self) -> R<u64> {
        let n: i64 = self
            .conn
            .prepare_cached(&COUNT_ACTIVE)?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// What `check_pids` does, by hand: every stored PID with its plugin
    /// and recorded identity, then one read of `/proc/<pid>/stat` each,
    /// compared with the recorded start time. Returns how many are alive
    /// and how many PIDs were checked.
    pub fn check_pids(&self) -> R<(usize, usize)> {
        type Claim = (
            i64,
            i64,
            String,
            String,
            u32,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        let mut stmt = self.conn.prepare_cached(
            "SELECT pp.plugin_id, pp.rowid, p.category, p.name, pp.pid, pp.start_time, \
                 pp.boot_id, pp.recorded_at \
             FROM plugin_pids pp JOIN plugins p ON p.id = pp.plugin_id \
             ORDER BY p.category, p.name, pp.position",
        )?;
        let claims: Vec<Claim> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        // Every PID is looked up (exited and unverified differ only in
        // whether a process holds the number).
        let alive = claims
            .iter()
            .filter(|c| {
                let now = start_time(c.4);
                now.is_some() && now == c.5
            })
            .count();
        Ok((alive, claims.len()))
    }
}

/// A filtered list, hand-written: the two statements (plugins with their
/// remote resources; their PIDs in the same order) and the one argument
/// both take, if any. Built once, before the timing.
pub struct RawQuery {
    plugins: String,
    pids: String,
    arg: Option<&'static str>,
}

impl RawQuery {
    /// Every plugin.
    pub fn all() -> Self {
        Self::new("", None)
    }

    /// The plugins with this execution mode (its text in the file).
    pub fn by_mode(mode: &'static str) -> Self {
        Self::new("WHERE p.execution_mode = ?1", Some(mode))
    }

    /// The plugins whose remote resource has this provider.
    pub fn by_provider(provider: &'static str) -> Self {
        Self::new(
            "WHERE p.id IN (SELECT plugin_id FROM remote_resources WHERE provider = ?1)",
            Some(provider),
        )
    }

    /// The plugins that hold active resources.
    pub fn active() -> Self {
        Self::new(ACTIVE, None)
    }

    fn new(filter: &str, arg: Option<&'static str>) -> Self {
        RawQuery {
            plugins: format!("{SELECT} {filter} ORDER BY p.category, p.name"),
            pids: format!(
                "SELECT pp.plugin_id, pp.pid FROM plugins p \
                 JOIN plugin_pids pp ON pp.plugin_id = p.id \
                 {filter} ORDER BY p.category, p.name, pp.position"
            ),
            arg,
        }
    }
}

/// The plugins a write transaction changed: one log row each, an insert
/// staying an insert (a key saved twice in one `save_all`).
#[derive(Default)]
struct Changed<'a> {
    rows: Vec<(i64, &'a PluginMetadata, bool)>,
    by_id: HashMap<i64, usize>,
}

impl<'a> Changed<'a> {
    fn record(&mut self, id: i64, p: &'a PluginMetadata, created: bool) {
        if !self.by_id.contains_key(&id) {
            self.by_id.insert(id, self.rows.len());
            self.rows.push((id, p, created));
        }
    }
}

/// The change feed's start of a write transaction: its number (which
/// turns the change-log triggers off), and a range prune when the log is a
/// quarter over capacity.
fn begin_logged(conn: &Connection) -> R<(i64, i64)> {
    let (txn, pruned, capacity): (i64, i64, i64) = conn
        .prepare_cached(
            "INSERT INTO change_feed (id, writing_txn) \
             VALUES (1, coalesce((SELECT max(seq) FROM change_log), 0) + 1) \
             ON CONFLICT (id) DO UPDATE SET writing_txn = excluded.writing_txn \
             RETURNING writing_txn, pruned_through, capacity",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let head = txn - 1;
    if head - pruned > capacity + capacity / 4 {
        let through = head - capacity;
        conn.prepare_cached("DELETE FROM change_log WHERE seq <= ?1")?
            .execute([through])?;
        conn.prepare_cached("UPDATE change_feed SET pruned_through = max(pruned_through, ?1)")?
            .execute([through])?;
    }
    Ok((txn, capacity.max(1)))
}

/// The change feed's end of a write transaction, just before the commit:
/// one log row per plugin changed (only the newest `capacity` of them, the
/// rest marked pruned, when there are more), then the number cleared.
fn end_logged(conn: &Connection, (txn, capacity): (i64, i64), changed: &Changed<'_>) -> R<()> {
    let skip = (changed.rows.len() as i64 - capacity).max(0);
    if skip > 0 {
        let through = txn - 1 + skip;
        conn.prepare_cached("DELETE FROM change_log WHERE seq <= ?1")?
            .execute([through])?;
        conn.prepare_cached("UPDATE change_feed SET pruned_through = max(pruned_through, ?1)")?
            .execute([through])?;
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO change_log (seq, txn, plugin_id, category, name, op) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (seq, &(id, p, created)) in (txn + skip..).zip(changed.rows.iter().skip(skip as usize)) {
        let op = if created { "insert" } else { "update" };
        insert.execute(params![seq, txn, id, p.category, p.name, op])?;
    }
    conn.prepare_cached("UPDATE change_feed SET writing_txn = NULL")?
        .execute([])?;
    Ok(())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// What a save does besides the upserts: record the process identity of
/// new PIDs, append the remote status history's rows.
#[derive(Clone, Copy)]
struct Work {
    identity: bool,
    history: bool,
}

/// Upsert plugin, replace its PIDs (with their process identity if
/// `work.identity`), upsert or delete its remote resource (with its history
/// row if `work.history`). Returns the plugin's id and whether it was
/// created by this save.
fn save_in(conn: &Connection, p: &PluginMetadata, at: &str, work: Work) -> R<(i64, bool)> {
    let config = serde_json::to_string(&p.config_schema)?;
    let (id, created): (i64, bool) = conn.prepare_cached(UPSERT_PLUGIN)?.query_row(
        params![
            p.category,
            p.name,
            p.title,
            config,
            p.description,
            p.version,
            p.is_configured,
            p.execution_mode.as_str(),
            p.manages_child_processes,
            p.manages_external_resources,
            p.container_id,
            p.conda_env_name,
            at,
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if work.identity {
        save_pids(conn, id, &p.spawned_pids, at, created)?;
    } else {
        save_bare_pids(conn, id, &p.spawned_pids)?;
    }
    match &p.remote_resource {
        Some(r) => save_remote(conn, id, p, r, work.history)?,
        None => {
            let gone: Option<(Option<String>, Option<String>)> = conn
                .prepare_cached(
                    "DELETE FROM remote_resources WHERE plugin_id = ?1 \
                     RETURNING provider, instance_id",
                )?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let (Some((provider, instance)), true) = (gone, work.history) {
                append_history(
                    conn,
                    p,
                    provider.as_deref(),
                    instance.as_deref(),
                    "removed",
                    None,
                    false,
                )?;
            }
        }
    }
    Ok((id, created))
}

/// The identity columns of a PID row: start time, boot id, recorded at.
type Identity = (Option<i64>, Option<String>, Option<String>);

/// Replaces the plugin's PIDs, keeping the identity of PIDs it already had
/// and reading the process identity of new ones, as the store does.
fn save_pids(conn: &Connection, id: i64, pids: &[u32], at: &str, created: bool) -> R<()> {
    let mut kept: HashMap<u32, Identity> = HashMap::new();
    if !pids.is_empty() && !created {
        let mut stmt = conn.prepare_cached(
            "SELECT pid, start_time, boot_id, recorded_at FROM plugin_pids WHERE plugin_id = ?1",
        )?;
        let mut rows = stmt.query([id])?;
        while let Some(row) = rows.next()? {
            kept.insert(row.get(0)?, (row.get(1)?, row.get(2)?, row.get(3)?));
        }
    }
    conn.prepare_cached("DELETE FROM plugin_pids WHERE plugin_id = ?1")?
        .execute([id])?;
    if pids.is_empty() {
        return Ok(());
    }
    let mut ins = conn.prepare_cached(
        "INSERT INTO plugin_pids (plugin_id, position, pid, start_time, boot_id, recorded_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (pos, &pid) in pids.iter().enumerate() {
        let (start, boot, recorded) = kept.remove(&pid).unwrap_or_else(|| fresh_identity(pid, at));
        ins.execute(params![id, pos as i64, pid, start, boot, recorded])?;
    }
    Ok(())
}

/// Replaces the plugin's PIDs with bare rows: number and position, as
/// Part 1 stored them.
fn save_bare_pids(conn: &Connection, id: i64, pids: &[u32]) -> R<()> {
    conn.prepare_cached("DELETE FROM plugin_pids WHERE plugin_id = ?1")?
        .execute([id])?;
    let mut ins = conn
        .prepare_cached("INSERT INTO plugin_pids (plugin_id, position, pid) VALUES (?1, ?2, ?3)")?;
    for (pos, &pid) in pids.iter().enumerate() {
        ins.execute(params![id, pos as i64, pid])?;
    }
    Ok(())
}

/// A live process's start time (field 22 of `/proc/<pid>/stat`, counted
/// after the last `)`) and the boot id, or NULLs; recorded at `at`.
fn fresh_identity(pid: u32, at: &str) -> Identity {
    static BOOT: LazyLock<Option<String>> = LazyLock::new(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_owned())
    });
    match (start_time(pid), BOOT.as_ref()) {
        (Some(start), Some(boot)) => (Some(start), Some(boot.clone()), Some(at.to_owned())),
        _ => (None, None, Some(at.to_owned())),
    }
}

/// A live (not zombie) process's start time: field 22 of
/// `/proc/<pid>/stat`, counted after the last `)`.
fn start_time(pid: u32) -> Option<i64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = String::from_utf8_lossy(&stat[close + 1..]).into_owned();
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(18)?.parse::<i64>().ok()
}

/// Upserts the remote resource, and appends its history row: always for a
/// new resource, for a changed one unless the newest row says the same.
fn save_remote(
    conn: &Connection,
    id: i64,
    p: &PluginMetadata,
    r: &RemoteResourceInfo,
    history: bool,
) -> R<()> {
    let same: Option<bool> = if history {
        conn.prepare_cached(
            "SELECT provider IS ?2 AND instance_id IS ?3 AND status IS ?4 \
             AND estimated_cost_per_hour IS ?5 FROM remote_resources WHERE plugin_id = ?1",
        )?
        .query_row(
            params![
                id,
                r.provider.as_str(),
                r.instance_id,
                r.status,
                r.estimated_cost_per_hour
            ],
            |row| row.get(0),
        )
        .optional()?
    } else {
        Some(true)
    };
    let metadata = serde_json::to_string(&r.metadata)?;
    conn.prepare_cached(UPSERT_REMOTE)?.execute(params![
        id,
        r.provider.as_str(),
        r.region,
        r.instance_id,
        r.job_id,
        r.endpoint_url,
        r.ssh_host,
        r.ssh_port,
        r.status,
        r.resource_type,
        r.gpu_count,
        r.gpu_type,
        r.estimated_cost_per_hour,
        metadata,
    ])?;
    if same != Some(true) {
        let provider = Some(r.provider.as_str());
        let instance = r.instance_id.as_deref();
        let rate = r.estimated_cost_per_hour;
        append_history(conn, p, provider, instance, &r.status, rate, same.is_some())?;
    }
    Ok(())
}

/// Appends one row to the plugin's remote status history, stamped as the
/// history triggers stamp theirs (now, to the millisecond, or just after
/// the newest row not in the future), unless `only_if_new` and the newest
/// row says the same.
fn append_history(
    conn: &Connection,
    p: &PluginMetadata,
    provider: Option<&str>,
    instance: Option<&str>,
    status: &str,
    rate: Option<f64>,
    only_if_new: bool,
) -> R<()> {
    let now = chrono::Utc::now().trunc_subsecs(3);
    let (at, horizon) = (
        now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        (now + chrono::Duration::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    );
    let placed: Option<(String, i64, bool)> = conn
        .prepare_cached(PLACE_HISTORY)?
        .query_row(
            params![
                p.category, p.name, at, horizon, provider, instance, status, rate
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (at, seq) = match placed {
        Some((_, _, true)) if only_if_new => return Ok(()),
        Some((at, seq, _)) => (at, seq),
        None => (at, 0),
    };
    conn.prepare_cached(INSERT_HISTORY)?.execute(params![
        p.category, p.name, at, seq, provider, instance, status, rate
    ])?;
    Ok(())
}

/// Turns the connection's triggers on or off.
fn set_triggers(conn: &Connection, on: bool) -> R<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER,
        on,
    )?;
    Ok(())
}

fn next_pid(rows: &mut Rows<'_>) -> R<Option<(i64, u32)>> {
    Ok(match rows.next()? {
        Some(row) => Some((row.get(0)?, row.get(1)?)),
        None => None,
    })
}

/// The straightforward decoder: `row.get` for every column, JSON parsed
/// straight from the borrowed text.
fn decode(row: &Row<'_>) -> R<(i64, PluginMetadata)> {
    let id: i64 = row.get(0)?;
    let remote = match row.get::<_, Option<i64>>(13)? {
        None => None,
        Some(_) => Some(RemoteResourceInfo {
            provider: row.get_ref(14)?.as_str()?.parse()?,
            region: row.get(15)?,
            instance_id: row.get(16)?,
            job_id: row.get(17)?,
            endpoint_url: row.get(18)?,
            ssh_host: row.get(19)?,
            ssh_port: row.get(20)?,
            status: row.get(21)?,
            resource_type: row.get(22)?,
            gpu_count: row.get(23)?,
            gpu_type: row.get(24)?,
            estimated_cost_per_hour: row.get(25)?,
            metadata: serde_json::from_str(row.get_ref(26)?.as_str()?)?,
        }),
    };
    let config: serde_json::Value = serde_json::from_str(row.get_ref(4)?.as_str()?)?;
    if !config.is_object() {
        return Err("bad config_schema".into());
    }
    Ok((
        id,
        PluginMetadata {
            category: row.get(1)?,
            name: row.get(2)?,
            title: row.get(3)?,
            config_schema: config,
            description: row.get(5)?,
            version: row.get(6)?,
            is_configured: row.get(7)?,
            execution_mode: row.get_ref(8)?.as_str()?.parse()?,
            manages_child_processes: row.get(9)?,
            manages_external_resources: row.get(10)?,
            spawned_pids: Vec::new(),
            container_id: row.get(11)?,
            conda_env_name: row.get(12)?,
            remote_resource: remote,
        },
    ))
}
