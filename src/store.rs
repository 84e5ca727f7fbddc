//! [`MetadataStore`]: the repository. Every SQL statement on the store's
//! tables lives in this file.
//!
//! Writes run in `BEGIN IMMEDIATE` transactions, so they take the write lock
//! up front and wait (up to the busy timeout) instead of failing with
//! "database is locked" when another connection writes. Reads that need
//! more than one statement run in one deferred transaction, so they see one
//! snapshot.
//!
//! Reading assembles plugins without one query per plugin: one statement
//! streams the plugins joined with their remote resources, a second streams
//! their PIDs in the same `(category, name)` order, and the two are merged
//! as they go. Memory use is one plugin at a time for
//! [`MetadataStore::for_each`].

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use crate::error::{Error, Result};
use crate::migrate::{self, StoreOptions};
use crate::model::{
    CloudProviderType, PluginExecutionMode, PluginMetadata, RemoteResourceInfo, validate_pid,
};
use crate::query::PluginQuery;

/// A plugin metadata store on one SQLite connection.
///
/// Open one per thread (a connection is not shared between threads); any
/// number of stores, in threads or processes, can work on the same file.
#[derive(Debug)]
pub struct MetadataStore {
    conn: Connection,
    path: Option<PathBuf>,
}

/// Formats a timestamp the way the store writes it: RFC 3339, UTC,
/// microseconds, `Z` (so text order is time order).
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn now() -> String {
    timestamp(Utc::now())
}

/// The columns every read selects, from `plugins p LEFT JOIN
/// remote_resources r`; [`decode_plugin`] reads them by these positions.
const PLUGIN_COLUMNS: &str = "p.id, p.category, p.name, p.title, p.config_schema, p.description, \
     p.version, p.is_configured, p.execution_mode, p.manages_child_processes, \
     p.manages_external_resources, p.container_id, p.conda_env_name, \
     r.plugin_id, r.provider, r.region, r.instance_id, r.job_id, r.endpoint_url, r.ssh_host, \
     r.ssh_port, r.status, r.resource_type, r.gpu_count, r.gpu_type, \
     r.estimated_cost_per_hour, r.metadata";

const UPSERT_PLUGIN: &str = "INSERT INTO plugins (category, name, title, config_schema, description, \
         version, is_configured, execution_mode, manages_child_processes, \
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
     RETURNING id";

const UPSERT_REMOTE: &str = "INSERT INTO remote_resources (plugin_id, provider, region, instance_id, \
         job_id, endpoint_url, ssh_host, ssh_port, status, resource_type, gpu_count, gpu_type, \
         estimated_cost_per_hour, metadata) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
     ON CONFLICT (plugin_id) DO UPDATE SET provider = excluded.provider, \
         region = excluded.region, instance_id = excluded.instance_id, job_id = excluded.job_id, \
         endpoint_url = excluded.endpoint_url, ssh_host = excluded.ssh_host, \
         ssh_port = excluded.ssh_port, status = excluded.status, \
         resource_type = excluded.resource_type, gpu_count = excluded.gpu_count, \
         gpu_type = excluded.gpu_type, estimated_cost_per_hour = excluded.estimated_cost_per_hour, \
         metadata = excluded.metadata";

const DELETE_REMOTE: &str = "DELETE FROM remote_resources WHERE plugin_id = ?1";
const DELETE_PIDS: &str = "DELETE FROM plugin_pids WHERE plugin_id = ?1";
const INSERT_PID: &str = "INSERT INTO plugin_pids (plugin_id, position, pid) VALUES (?1, ?2, ?3)";

/// Bumps `updated_at` of one plugin and returns its id: the first statement
/// of every resource change, which also proves the plugin exists.
const TOUCH_PLUGIN: &str =
    "UPDATE plugins SET updated_at = ?1 WHERE category = ?2 AND name = ?3 RETURNING id";

impl MetadataStore {
    /// Opens the store in the file at `path` with default
    /// [`StoreOptions`], creating the file (mode 0600 on Unix) if it does
    /// not exist and applying every pending migration in one transaction.
    ///
    /// Refuses, leaving the file untouched: a directory or a missing parent
    /// directory ([`Error::CannotOpen`]), a file that is not a
    /// plugin-metastore database ([`Error::NotAStore`]), and a database
    /// written by a newer build ([`Error::SchemaTooNew`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, StoreOptions::default())
    }

    /// [`open`](Self::open) with explicit options (busy timeout,
    /// durability).
    pub fn open_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        let path = path.as_ref();
        let conn = migrate::open_file(path, &options)?;
        Ok(MetadataStore {
            conn,
            path: Some(path.to_path_buf()),
        })
    }

    /// A private store in memory, gone when dropped; for tests and examples.
    pub fn open_in_memory() -> Result<Self> {
        let conn = migrate::open_memory(&StoreOptions::default())?;
        Ok(MetadataStore { conn, path: None })
    }

    /// The file this store is in (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version of the file: the newest migration applied.
    pub fn schema_version(&self) -> Result<i64> {
        migrate::schema_version(&self.conn)
    }

    /// The newest schema version this build knows (and brings files to).
    pub fn latest_schema_version() -> i64 {
        migrate::newest_version()
    }

    /// Test hook, not part of the API: caps the file at `pages` pages for
    /// this store's connection only (`PRAGMA max_page_count`, which is
    /// per-connection), so tests/reliability.rs can make a save fail with
    /// SQLITE_FULL midway. Returns the cap SQLite applied.
    #[doc(hidden)]
    pub fn debug_set_max_page_count(&self, pages: u32) -> Result<u32> {
        Ok(self
            .conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                r.get(0)
            })?)
    }

    fn write(&self) -> Result<Transaction<'_>> {
        Ok(Transaction::new_unchecked(
            &self.conn,
            TransactionBehavior::Immediate,
        )?)
    }

    fn read(&self) -> Result<Transaction<'_>> {
        Ok(Transaction::new_unchecked(
            &self.conn,
            TransactionBehavior::Deferred,
        )?)
    }

    /// Inserts the plugin, or replaces the one with the same
    /// `(category, name)`: its fields, its PID list and its remote resource
    /// (removed if `remote_resource` is `None`), in one transaction.
    /// `created_at` is kept, `updated_at` set to now. Invalid input is
    /// refused before anything is written.
    pub fn save(&self, plugin: &PluginMetadata) -> Result<()> {
        plugin.validate()?;
        let tx = self.write()?;
        save_in(&tx, plugin, &now())?;
        tx.commit()?;
        Ok(())
    }

    /// Saves every plugin in one transaction: all or nothing. Every plugin
    /// is validated before anything is written; when two share a key the
    /// later one wins.
    pub fn save_all<'a>(
        &self,
        plugins: impl IntoIterator<Item = &'a PluginMetadata>,
    ) -> Result<()> {
        let plugins: Vec<&PluginMetadata> = plugins.into_iter().collect();
        for plugin in &plugins {
            plugin.validate()?;
        }
        let tx = self.write()?;
        let at = now();
        for plugin in plugins {
            save_in(&tx, plugin, &at)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The plugin with this key, if any.
    pub fn get(&self, category: &str, name: &str) -> Result<Option<PluginMetadata>> {
        let tx = self.read()?;
        let found = get_in(&tx, category, name)?;
        tx.commit()?;
        Ok(found)
    }

    /// The plugin whose [`unique_id`](PluginMetadata::unique_id) is `id`, if
    /// any. Since `category_name` can be split more than one way, an id that
    /// matches several plugins is an [`Error::AmbiguousId`] listing them.
    /// Each split is an index lookup; the table is never scanned.
    pub fn get_by_unique_id(&self, id: &str) -> Result<Option<PluginMetadata>> {
        let tx = self.read()?;
        let mut found = Vec::new();
        for (at, _) in id.match_indices('_') {
            let (category, name) = (&id[..at], &id[at + 1..]);
            if category.is_empty() || name.is_empty() {
                continue;
            }
            if let Some(plugin) = get_in(&tx, category, name)? {
                found.push(plugin);
            }
        }
        tx.commit()?;
        match found.len() {
            0 | 1 => Ok(found.pop()),
            _ => Err(Error::AmbiguousId {
                id: id.to_owned(),
                candidates: found.into_iter().map(|p| (p.category, p.name)).collect(),
            }),
        }
    }

    /// Deletes the plugin with its PIDs and remote resource; true if it
    /// existed.
    pub fn delete(&self, category: &str, name: &str) -> Result<bool> {
        let tx = self.write()?;
        let n = tx
            .prepare_cached("DELETE FROM plugins WHERE category = ?1 AND name = ?2")?
            .execute([category, name])?;
        tx.commit()?;
        Ok(n > 0)
    }

    /// Every plugin, ordered by `(category, name)`.
    pub fn list(&self) -> Result<Vec<PluginMetadata>> {
        self.query(&PluginQuery::new())
    }

    /// The plugins matching `query`, ordered by `(category, name)`.
    pub fn query(&self, query: &PluginQuery) -> Result<Vec<PluginMetadata>> {
        let mut out = Vec::new();
        self.for_each(query, |p| {
            out.push(p);
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `f` with each plugin matching `query`, in `(category, name)`
    /// order, holding one plugin in memory at a time: the streaming form of
    /// [`query`](Self::query) for very large stores. An error from `f`
    /// stops the walk and is returned. All plugins come from one snapshot.
    /// `f` must not use this same store (its read transaction is open);
    /// another store on the same file is fine.
    pub fn for_each<F>(&self, query: &PluginQuery, mut f: F) -> Result<()>
    where
        F: FnMut(PluginMetadata) -> Result<()>,
    {
        let sql = ReadSql::new(query);
        let params = &sql.params;
        let (plugin_sql, pid_sql) = (&sql.plugins, &sql.pids);
        let tx = self.read()?;
        {
            let mut plugin_stmt = tx.prepare_cached(plugin_sql)?;
            let mut pid_stmt = tx.prepare_cached(pid_sql)?;
            let mut plugins = plugin_stmt.query(rusqlite::params_from_iter(params.iter()))?;
            let mut pids = pid_stmt.query(rusqlite::params_from_iter(params.iter()))?;
            let mut next_pid = read_pid(pids.next()?)?;
            while let Some(row) = plugins.next()? {
                let (id, mut plugin) = decode_plugin(row)?;
                while let Some((owner, pid)) = next_pid {
                    if owner != id {
                        break;
                    }
                    plugin.spawned_pids.push(pid);
                    next_pid = read_pid(pids.next()?)?;
                }
                f(plugin)?;
            }
            // Both cursors walk the same snapshot in the same order, so every
            // PID row was taken; a leftover means they fell out of step.
            if let Some((owner, pid)) = next_pid {
                return Err(Error::BadData {
                    path: PathBuf::new(),
                    table: "plugin_pids",
                    column: "plugin_id",
                    row: owner,
                    value: pid.to_string(),
                    reason: "PID row out of step with the plugins read".to_owned(),
                });
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// How many plugins [`query`](Self::query) would return (limit and
    /// offset included), without loading them.
    pub fn count(&self, query: &PluginQuery) -> Result<u64> {
        let (condition, params) = query.where_sql();
        let sql = format!(
            "SELECT count(*) FROM (SELECT 1 FROM plugins p WHERE {condition}{})",
            query.page_sql()
        );
        let n: i64 = self
            .conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(params.iter()), |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// SQLite's `EXPLAIN QUERY PLAN` for the statements that
    /// [`query`](Self::query) runs for `query` (the plugins statement, then
    /// the PIDs statement), one `detail` line each, indented by depth: a
    /// diagnostic showing which indexes a filter uses.
    pub fn query_plan(&self, query: &PluginQuery) -> Result<Vec<String>> {
        let sql = ReadSql::new(query);
        let mut lines = Vec::new();
        for statement in [&sql.plugins, &sql.pids] {
            let mut stmt = self
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {statement}"))?;
            let mut rows = stmt.query(rusqlite::params_from_iter(sql.params.iter()))?;
            let mut depth: Vec<(i64, usize)> = Vec::new();
            while let Some(row) = rows.next()? {
                let (id, parent, detail): (i64, i64, String) =
                    (row.get(0)?, row.get(1)?, row.get(3)?);
                while depth.last().is_some_and(|&(p, _)| p != parent) {
                    depth.pop();
                }
                let level = depth.last().map_or(0, |&(_, l)| l + 1);
                depth.push((id, level));
                lines.push(format!("{}{detail}", "  ".repeat(level)));
            }
        }
        Ok(lines)
    }

    /// The plugins with this execution mode.
    pub fn find_by_execution_mode(&self, mode: PluginExecutionMode) -> Result<Vec<PluginMetadata>> {
        self.query(&PluginQuery::new().execution_mode(mode))
    }

    /// The plugins whose remote resource has this provider.
    pub fn find_by_provider(&self, provider: CloudProviderType) -> Result<Vec<PluginMetadata>> {
        self.query(&PluginQuery::new().provider(provider))
    }

    /// The plugins that hold active resources (PIDs, a non-empty container
    /// id, or a remote resource whose status is exactly `"running"`).
    pub fn find_active(&self) -> Result<Vec<PluginMetadata>> {
        self.query(&PluginQuery::new().active(true))
    }

    /// Starts a resource change: bumps `updated_at` and returns the plugin's
    /// id, or [`Error::NotFound`].
    fn touch(tx: &Transaction<'_>, category: &str, name: &str) -> Result<i64> {
        tx.prepare_cached(TOUCH_PLUGIN)?
            .query_row(params![now(), category, name], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::NotFound {
                category: category.to_owned(),
                name: name.to_owned(),
            })
    }

    /// Appends `pid` to the plugin's PIDs. A PID of 0 or one already
    /// recorded for this plugin is refused.
    pub fn add_pid(&self, category: &str, name: &str, pid: u32) -> Result<()> {
        validate_pid(pid)?;
        let tx = self.write()?;
        let id = Self::touch(&tx, category, name)?;
        let exists: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM plugin_pids WHERE plugin_id = ?1 AND pid = ?2)",
            )?
            .query_row(params![id, pid], |r| r.get(0))?;
        if exists {
            return Err(Error::invalid_in(
                format!("{category}_{name}"),
                "pid",
                format!("PID {pid} is already recorded"),
            ));
        }
        tx.prepare_cached(
            "INSERT INTO plugin_pids (plugin_id, position, pid) \
             SELECT ?1, coalesce(max(position) + 1, 0), ?2 FROM plugin_pids WHERE plugin_id = ?1",
        )?
        .execute(params![id, pid])?;
        tx.commit()?;
        Ok(())
    }

    /// Removes `pid` from the plugin's PIDs; true if it was there.
    pub fn remove_pid(&self, category: &str, name: &str, pid: u32) -> Result<bool> {
        let tx = self.write()?;
        let id = Self::touch(&tx, category, name)?;
        let n = tx
            .prepare_cached("DELETE FROM plugin_pids WHERE plugin_id = ?1 AND pid = ?2")?
            .execute(params![id, pid])?;
        if n == 0 {
            // Nothing changed: roll back the updated_at bump too.
            return Ok(false);
        }
        tx.commit()?;
        Ok(true)
    }

    /// Removes every PID of the plugin; returns how many there were.
    pub fn clear_pids(&self, category: &str, name: &str) -> Result<usize> {
        let tx = self.write()?;
        let id = Self::touch(&tx, category, name)?;
        let n = tx.prepare_cached(DELETE_PIDS)?.execute([id])?;
        tx.commit()?;
        Ok(n)
    }

    /// Sets the plugin's container id (`None` clears it).
    pub fn set_container_id(
        &self,
        category: &str,
        name: &str,
        container_id: Option<&str>,
    ) -> Result<()> {
        let tx = self.write()?;
        let id = Self::touch(&tx, category, name)?;
        tx.prepare_cached("UPDATE plugins SET container_id = ?1 WHERE id = ?2")?
            .execute(params![container_id, id])?;
        tx.commit()?;
        Ok(())
    }

    /// Sets the status of the plugin's remote resource. A plugin without a
    /// remote resource is an [`Error::InvalidInput`].
    pub fn set_remote_status(&self, category: &str, name: &str, status: &str) -> Result<()> {
        let tx = self.write()?;
        let id = Self::touch(&tx, category, name)?;
        let n = tx
            .prepare_cached("UPDATE remote_resources SET status = ?1 WHERE plugin_id = ?2")?
            .execute(params![status, id])?;
        if n == 0 {
            return Err(Error::invalid_in(
                format!("{category}_{name}"),
                "remote_resource",
                format!("the plugin has no remote resource to set the status {status:?} on"),
            ));
        }
        tx.commit()?;
        Ok(())
    }

    /// Sets (`Some`) or removes (`None`) the plugin's remote resource.
    pub fn set_remote_resource(
        &self,
        category: &str,
        name: &str,
        remote: Option<&RemoteResourceInfo>,
    ) -> Result<()> {
        if let Some(remote) = remote {
            remote.validate()?;
        }
        let tx = self.write()?;
        let id = Self::touch(&tx, category, name)?;
        write_remote(&tx, id, remote)?;
        tx.commit()?;
        Ok(())
    }
}

/// The two statements that read the plugins matching a query, in
/// `(category, name)` order: plugins joined with their remote resources, and
/// the PIDs of exactly those plugins in the same order (merged as they go).
struct ReadSql {
    plugins: String,
    pids: String,
    params: Vec<rusqlite::types::Value>,
}

impl ReadSql {
    fn new(query: &PluginQuery) -> Self {
        let (condition, params) = query.where_sql();
        let page = query.page_sql();
        let plugins = format!(
            "SELECT {PLUGIN_COLUMNS} FROM plugins p \
             LEFT JOIN remote_resources r ON r.plugin_id = p.id \
             WHERE {condition} ORDER BY p.category, p.name{page}"
        );
        let pid_condition = if query.is_paged() {
            format!(
                "pp.plugin_id IN (SELECT p.id FROM plugins p WHERE {condition} \
                 ORDER BY p.category, p.name{page})"
            )
        } else {
            condition
        };
        let pids = format!(
            "SELECT pp.plugin_id, pp.pid, pp.rowid FROM plugins p \
             JOIN plugin_pids pp ON pp.plugin_id = p.id \
             WHERE {pid_condition} ORDER BY p.category, p.name, pp.position"
        );
        ReadSql {
            plugins,
            pids,
            params,
        }
    }
}

/// The upsert itself, inside the caller's transaction.
fn save_in(tx: &Transaction<'_>, p: &PluginMetadata, at: &str) -> Result<()> {
    let config = serde_json::to_string(&p.config_schema)?;
    let id: i64 = tx.prepare_cached(UPSERT_PLUGIN)?.query_row(
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
        |r| r.get(0),
    )?;
    tx.prepare_cached(DELETE_PIDS)?.execute([id])?;
    if !p.spawned_pids.is_empty() {
        let mut insert = tx.prepare_cached(INSERT_PID)?;
        for (position, pid) in p.spawned_pids.iter().enumerate() {
            insert.execute(params![id, position as i64, pid])?;
        }
    }
    write_remote(tx, id, p.remote_resource.as_ref())
}

fn write_remote(tx: &Transaction<'_>, id: i64, remote: Option<&RemoteResourceInfo>) -> Result<()> {
    match remote {
        Some(r) => {
            let metadata = serde_json::to_string(&r.metadata)?;
            tx.prepare_cached(UPSERT_REMOTE)?.execute(params![
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
        }
        None => {
            tx.prepare_cached(DELETE_REMOTE)?.execute([id])?;
        }
    }
    Ok(())
}

/// The plugin with one key: [`PLUGIN_COLUMNS`] by `(category, name)`.
/// Built once rather than formatted on every [`MetadataStore::get`].
static GET_PLUGIN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {PLUGIN_COLUMNS} FROM plugins p \
         LEFT JOIN remote_resources r ON r.plugin_id = p.id \
         WHERE p.category = ?1 AND p.name = ?2"
    )
});

/// One plugin by key, with its PIDs: two indexed statements.
fn get_in(tx: &Transaction<'_>, category: &str, name: &str) -> Result<Option<PluginMetadata>> {
    let mut stmt = tx.prepare_cached(&GET_PLUGIN)?;
    let mut rows = stmt.query([category, name])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let (id, mut plugin) = decode_plugin(row)?;
    let mut pids = tx.prepare_cached(
        "SELECT plugin_id, pid, rowid FROM plugin_pids WHERE plugin_id = ?1 ORDER BY position",
    )?;
    let mut pid_rows = pids.query([id])?;
    while let Some((_, pid)) = read_pid(pid_rows.next()?)? {
        plugin.spawned_pids.push(pid);
    }
    Ok(Some(plugin))
}

/// Decodes `(plugin_id, pid, rowid)`.
fn read_pid(row: Option<&Row<'_>>) -> Result<Option<(i64, u32)>> {
    let Some(row) = row else { return Ok(None) };
    let owner: i64 = row.get(0)?;
    let rowid: i64 = row.get(2)?;
    let col = Col {
        row,
        table: "plugin_pids",
        id: rowid,
    };
    let pid = col.integer(1, "pid")?;
    match u32::try_from(pid) {
        Ok(pid) if pid > 0 => Ok(Some((owner, pid))),
        _ => Err(col.bad("pid", pid.to_string(), "not a PID (1 ..= 4294967295)")),
    }
}

/// Typed access to one row's columns; every failure names the table,
/// column, row and value.
struct Col<'r, 's> {
    row: &'r Row<'s>,
    table: &'static str,
    id: i64,
}

impl Col<'_, '_> {
    fn bad(&self, column: &'static str, value: String, reason: &str) -> Error {
        Error::BadData {
            path: PathBuf::new(),
            table: self.table,
            column,
            row: self.id,
            value,
            reason: reason.to_owned(),
        }
    }

    fn value(&self, idx: usize, column: &'static str) -> Result<ValueRef<'_>> {
        self.row
            .get_ref(idx)
            .map_err(|e| self.bad(column, "?".to_owned(), &e.to_string()))
    }

    fn opt_text(&self, idx: usize, column: &'static str) -> Result<Option<String>> {
        match self.value(idx, column)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(bytes) => String::from_utf8(bytes.to_vec())
                .map(Some)
                .map_err(|_| self.bad(column, format!("{bytes:?}"), "not valid UTF-8")),
            other => Err(self.bad(column, show(other), "expected text")),
        }
    }

    /// A text column borrowed from the row, for values that are parsed
    /// rather than kept (JSON, enums): no copy.
    fn str(&self, idx: usize, column: &'static str) -> Result<&str> {
        match self.value(idx, column)? {
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .map_err(|_| self.bad(column, format!("{bytes:?}"), "not valid UTF-8")),
            ValueRef::Null => Err(self.bad(column, "NULL".to_owned(), "expected text")),
            other => Err(self.bad(column, show(other), "expected text")),
        }
    }

    fn text(&self, idx: usize, column: &'static str) -> Result<String> {
        self.opt_text(idx, column)?
            .ok_or_else(|| self.bad(column, "NULL".to_owned(), "expected text"))
    }

    fn opt_integer(&self, idx: usize, column: &'static str) -> Result<Option<i64>> {
        match self.value(idx, column)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(i) => Ok(Some(i)),
            other => Err(self.bad(column, show(other), "expected an integer")),
        }
    }

    fn integer(&self, idx: usize, column: &'static str) -> Result<i64> {
        self.opt_integer(idx, column)?
            .ok_or_else(|| self.bad(column, "NULL".to_owned(), "expected an integer"))
    }

    fn boolean(&self, idx: usize, column: &'static str) -> Result<bool> {
        match self.integer(idx, column)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.bad(column, other.to_string(), "expected 0 or 1")),
        }
    }

    fn json_object(
        &self,
        idx: usize,
        column: &'static str,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        let text = self.str(idx, column)?;
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            Ok(_) => Err(self.bad(column, clip(text), "not a JSON object")),
            Err(e) => Err(self.bad(column, clip(text), &format!("invalid JSON: {e}"))),
        }
    }

    fn parsed<T: std::str::FromStr>(&self, idx: usize, column: &'static str) -> Result<T> {
        let text = self.str(idx, column)?;
        text.parse::<T>()
            .map_err(|_| self.bad(column, format!("{text:?}"), "not a value this build knows"))
    }

    fn ranged<T: TryFrom<i64>>(&self, idx: usize, column: &'static str) -> Result<T> {
        let v = self.integer(idx, column)?;
        T::try_from(v).map_err(|_| self.bad(column, v.to_string(), "out of range"))
    }

    fn opt_cost(&self, idx: usize, column: &'static str) -> Result<Option<f64>> {
        let cost = match self.value(idx, column)? {
            ValueRef::Null => return Ok(None),
            ValueRef::Real(f) => f,
            ValueRef::Integer(i) => i as f64,
            other => return Err(self.bad(column, show(other), "expected a number")),
        };
        if cost.is_finite() && cost >= 0.0 {
            Ok(Some(cost))
        } else {
            Err(self.bad(column, cost.to_string(), "not a finite cost >= 0"))
        }
    }
}

/// A value from the file, for an error message.
pub(crate) fn show(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("a blob of {} bytes", b.len()),
    }
}

/// Long values are shortened in error messages.
fn clip(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{:?}…", &text[..at]),
        None => format!("{text:?}"),
    }
}

/// Decodes one row of [`PLUGIN_COLUMNS`] into `(id, plugin)`; PIDs are
/// added by the caller.
fn decode_plugin(row: &Row<'_>) -> Result<(i64, PluginMetadata)> {
    let id: i64 = row.get(0)?;
    let c = Col {
        row,
        table: "plugins",
        id,
    };
    let config: serde_json::Value = serde_json::Value::Object(c.json_object(4, "config_schema")?);
    let plugin = PluginMetadata {
        category: c.text(1, "category")?,
        name: c.text(2, "name")?,
        title: c.text(3, "title")?,
        config_schema: config,
        description: c.opt_text(5, "description")?,
        version: c.opt_text(6, "version")?,
        is_configured: c.boolean(7, "is_configured")?,
        execution_mode: c.parsed(8, "execution_mode")?,
        manages_child_processes: c.boolean(9, "manages_child_processes")?,
        manages_external_resources: c.boolean(10, "manages_external_resources")?,
        spawned_pids: Vec::new(),
        container_id: c.opt_text(11, "container_id")?,
        conda_env_name: c.opt_text(12, "conda_env_name")?,
        remote_resource: None,
    };
    let remote = match row.get::<_, Option<i64>>(13)? {
        None => None,
        Some(_) => {
            let r = Col {
                row,
                table: "remote_resources",
                id,
            };
            Some(RemoteResourceInfo {
                provider: r.parsed(14, "provider")?,
                region: r.opt_text(15, "region")?,
                instance_id: r.opt_text(16, "instance_id")?,
                job_id: r.opt_text(17, "job_id")?,
                endpoint_url: r.opt_text(18, "endpoint_url")?,
                ssh_host: r.opt_text(19, "ssh_host")?,
                ssh_port: r.ranged(20, "ssh_port")?,
                status: r.text(21, "status")?,
                resource_type: r.opt_text(22, "resource_type")?,
                gpu_count: r.ranged(23, "gpu_count")?,
                gpu_type: r.opt_text(24, "gpu_type")?,
                estimated_cost_per_hour: r.opt_cost(25, "estimated_cost_per_hour")?,
                metadata: r.json_object(26, "metadata")?,
            })
        }
    };
    Ok((
        id,
        PluginMetadata {
            remote_resource: remote,
            ..plugin
        },
    ))
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
