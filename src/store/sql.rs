//! Every SQL statement the repository runs on the store's tables, by
//! table: find a statement here by the table's name. The filter conditions
//! of a [`PluginQuery`] are built by `query.rs`; [`ReadSql`] puts them into
//! the two reading statements.

use std::sync::LazyLock;

use crate::query::PluginQuery;

/// A column of a statement's result, as its reader needs it: the position
/// and the name errors give it.
pub(super) type Column = (usize, &'static str);

/// Declares a column list once, with its positions: a module holding
/// `LIST` (the columns for a `SELECT`, `alias.name, …`) and one
/// [`Column`] constant per column, numbered in order. A column is added or
/// moved here only; its reader in `decode.rs` uses the constants.
macro_rules! columns {
    ($(#[$meta:meta])* $module:ident { $($konst:ident = $alias:ident . $name:ident),+ $(,)? }) => {
        $(#[$meta])*
        pub(super) mod $module {
            #![allow(dead_code)]
            /// The columns, for a `SELECT`.
            pub(crate) const LIST: &str = columns!(@list $($alias . $name),+);
            columns!(@index 0usize; $($konst $name)+);
        }
    };
    ($(#[$meta:meta])* $module:ident { $($konst:ident = $name:ident),+ $(,)? }) => {
        $(#[$meta])*
        pub(super) mod $module {
            #![allow(dead_code)]
            /// The columns, for a `SELECT`.
            pub(crate) const LIST: &str = columns!(@plain $($name),+);
            columns!(@index 0usize; $($konst $name)+);
        }
    };
    (@list $a:ident . $n:ident $(, $ra:ident . $rn:ident)*) => {
        concat!(stringify!($a), ".", stringify!($n) $(, ", ", stringify!($ra), ".", stringify!($rn))*)
    };
    (@plain $n:ident $(, $rn:ident)*) => {
        concat!(stringify!($n) $(, ", ", stringify!($rn))*)
    };
    (@index $i:expr; $konst:ident $name:ident $($rest:ident)*) => {
        pub(crate) const $konst: super::Column = ($i, stringify!($name));
        columns!(@index $i + 1usize; $($rest)*);
    };
    (@index $i:expr;) => {};
}

// ---------------------------------------------------------------------------
// plugins (joined with remote_resources for reading)

columns! {
    /// The columns every read of whole plugins selects, from `plugins p
    /// LEFT JOIN remote_resources r`
    /// ([`decode_plugin`](super::decode::decode_plugin)).
    plugin {
        ID = p.id, CATEGORY = p.category, NAME = p.name, TITLE = p.title,
        CONFIG_SCHEMA = p.config_schema, DESCRIPTION = p.description, VERSION = p.version,
        IS_CONFIGURED = p.is_configured, EXECUTION_MODE = p.execution_mode,
        MANAGES_CHILD_PROCESSES = p.manages_child_processes,
        MANAGES_EXTERNAL_RESOURCES = p.manages_external_resources,
        CONTAINER_ID = p.container_id, CONDA_ENV_NAME = p.conda_env_name,
        REMOTE = r.plugin_id, PROVIDER = r.provider, REGION = r.region,
        INSTANCE_ID = r.instance_id, JOB_ID = r.job_id, ENDPOINT_URL = r.endpoint_url,
        SSH_HOST = r.ssh_host, SSH_PORT = r.ssh_port, STATUS = r.status,
        RESOURCE_TYPE = r.resource_type, GPU_COUNT = r.gpu_count, GPU_TYPE = r.gpu_type,
        COST = r.estimated_cost_per_hour, METADATA = r.metadata,
    }
}

/// [`plugin::LIST`].
pub(super) const PLUGIN_COLUMNS: &str = plugin::LIST;

pub(super) const UPSERT_PLUGIN: &str = "INSERT INTO plugins (category, name, title, config_schema, description, \
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
     RETURNING id, created_at = updated_at";

/// Deletes one plugin; its PIDs and remote resource go with it (`ON DELETE
/// CASCADE`).
pub(super) const DELETE_PLUGIN: &str =
    "DELETE FROM plugins WHERE category = ?1 AND name = ?2 RETURNING id";

/// Bumps `updated_at` of one plugin and returns its id: the first statement
/// of every resource change, which also proves the plugin exists.
pub(super) const TOUCH_PLUGIN: &str =
    "UPDATE plugins SET updated_at = ?1 WHERE category = ?2 AND name = ?3 RETURNING id";

/// A plugin's id by key.
pub(super) const PLUGIN_ID: &str = "SELECT id FROM plugins WHERE category = ?1 AND name = ?2";

/// Updates a plugin's definition and leaves its resources (PIDs, container
/// id, remote resource) as they are: [`MetadataStore::register`] of a
/// plugin already stored.
///
/// [`MetadataStore::register`]: crate::MetadataStore::register
pub(super) const UPDATE_DEFINITION: &str = "UPDATE plugins SET title = ?2, config_schema = ?3, \
         description = ?4, version = ?5, is_configured = ?6, execution_mode = ?7, \
         manages_child_processes = ?8, manages_external_resources = ?9, \
         conda_env_name = ?10, updated_at = ?11 \
     WHERE id = ?1";

/// Sets (or, with NULL, clears) a plugin's container id.
pub(super) const SET_CONTAINER: &str = "UPDATE plugins SET container_id = ?1 WHERE id = ?2";

/// The plugin with one key: [`PLUGIN_COLUMNS`] by `(category, name)`.
/// Built once rather than formatted on every [`MetadataStore::get`].
pub(super) static GET_PLUGIN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {PLUGIN_COLUMNS} FROM plugins p \
         LEFT JOIN remote_resources r ON r.plugin_id = p.id \
         WHERE p.category = ?1 AND p.name = ?2"
    )
});

// ---------------------------------------------------------------------------
// plugin_pids

pub(super) const DELETE_PIDS: &str = "DELETE FROM plugin_pids WHERE plugin_id = ?1";

/// The identity columns of `plugin_pids`, in the order
/// [`StoredIdentity`](super::identity::StoredIdentity) binds and decodes them.
macro_rules! identity_columns {
    () => {
        "start_time, boot_id, recorded_at, pid_ns, pidfd_inode, pgid, spawn_token"
    };
}

/// A PID at a position, with the identity of its process (and its tree).
pub(super) const INSERT_PID: &str = concat!(
    "INSERT INTO plugin_pids (plugin_id, position, pid, ",
    identity_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
);

/// The identity recorded for each PID of one plugin, kept when a save
/// keeps the PID.
pub(super) const PID_IDENTITIES: &str = concat!(
    "SELECT rowid, pid, ",
    identity_columns!(),
    " FROM plugin_pids WHERE plugin_id = ?1"
);

/// Re-records the identity of a PID already stored (a fresh claim).
pub(super) const RERECORD_PID: &str = "UPDATE plugin_pids \
     SET start_time = ?3, boot_id = ?4, recorded_at = ?5, pid_ns = ?6, pidfd_inode = ?7, \
         pgid = ?8, spawn_token = ?9 WHERE plugin_id = ?1 AND pid = ?2";

/// The stored PIDs with their plugin and recorded identity, in
/// `(category, name, position)` order, `WHERE` the given condition.
macro_rules! pid_claims {
    ($condition:literal) => {
        concat!(
            "SELECT pp.plugin_id, pp.rowid, p.category, p.name, pp.pid, ",
            identity_columns!(),
            " FROM plugin_pids pp JOIN plugins p ON p.id = pp.plugin_id WHERE ",
            $condition,
            " ORDER BY p.category, p.name, pp.position"
        )
    };
}

/// Every stored PID ([`pid_claims!`]).
pub(super) const PID_CLAIMS: &str = pid_claims!("1");

/// The stored PIDs of plugin `(?1, ?2)`: one seek in the key's index, not a
/// walk over every plugin.
pub(super) const PLUGIN_PID_CLAIMS: &str = pid_claims!("p.category = ?1 AND p.name = ?2");

/// Removes a checked PID only if its row is still the one checked: a PID
/// removed and re-added in between has another `recorded_at`.
pub(super) const REMOVE_CHECKED_PID: &str = "DELETE FROM plugin_pids \
     WHERE rowid = ?1 AND plugin_id = ?2 AND pid = ?3 \
         AND recorded_at IS ?4 AND start_time IS ?5 AND boot_id IS ?6";

/// Bumps `updated_at` of the plugin with this id.
pub(super) const TOUCH_PLUGIN_ID: &str = "UPDATE plugins SET updated_at = ?1 WHERE id = ?2";

/// One plugin's PIDs, in order, as `(plugin_id, pid, rowid)`.
pub(super) const GET_PIDS: &str =
    "SELECT plugin_id, pid, rowid FROM plugin_pids WHERE plugin_id = ?1 ORDER BY position";

/// Whether a plugin already holds a PID.
pub(super) const PID_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM plugin_pids WHERE plugin_id = ?1 AND pid = ?2)";

/// Appends a PID after the plugin's last one, with its identity (and
/// tree).
pub(super) const APPEND_PID: &str = "INSERT INTO plugin_pids \
         (plugin_id, position, pid, start_time, boot_id, recorded_at, pid_ns, pidfd_inode, pgid, \
          spawn_token) \
     SELECT ?1, coalesce(max(position) + 1, 0), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 \
     FROM plugin_pids WHERE plugin_id = ?1";

pub(super) const REMOVE_PID: &str = "DELETE FROM plugin_pids WHERE plugin_id = ?1 AND pid = ?2";

// ---------------------------------------------------------------------------
// remote_resources

pub(super) const UPSERT_REMOTE: &str = "INSERT INTO remote_resources (plugin_id, provider, region, instance_id, \
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

/// Removes plugin `?1`'s remote resource; what the history's removal row
/// needs of it: `(provider, instance_id)`.
pub(super) const DELETE_REMOTE: &str =
    "DELETE FROM remote_resources WHERE plugin_id = ?1 RETURNING provider, instance_id";

/// Whether plugin `?1`'s remote resource, if it has one, already has
/// provider `?2`, instance `?3`, status `?4` and rate `?5` (what the
/// history records of it).
pub(super) const REMOTE_SAME: &str = "SELECT provider IS ?2 AND instance_id IS ?3 \
     AND status IS ?4 AND estimated_cost_per_hour IS ?5 \
     FROM remote_resources WHERE plugin_id = ?1";

/// The remote resource of plugin `(?1, ?2)` as its removal row records it:
/// `(provider, instance_id)`.
pub(super) const REMOTE_OF_KEY: &str = "SELECT r.provider, r.instance_id \
     FROM remote_resources r JOIN plugins p ON p.id = r.plugin_id \
     WHERE p.category = ?1 AND p.name = ?2";

/// Sets the status of plugin `?2`'s remote resource (a dated transition
/// records its history row first; the trigger then finds it recorded).
pub(super) const SET_REMOTE_STATUS: &str =
    "UPDATE remote_resources SET status = ?1 WHERE plugin_id = ?2";

// ---------------------------------------------------------------------------
// remote_status_history (the library appends to it on every change it makes
// to remote_resources, the triggers of migration V8 on everyone else's; these
// statements are the library's transitions and its reads)

/// Where a transition of `(?1, ?2)` made at `?3` goes, and whether it is
/// recorded already: the newest row not dated after `?4` (`?3` plus a
/// second; a row dated further ahead is in the future), by one reverse
/// seek on the primary key, gives `(at, seq, same)` — `max(?3, its at)`,
/// the next seq if that is not before `?3` (else 0), and whether it says
/// provider `?5`, instance `?6`, status `?7`, rate `?8`. No row: the
/// transition is at `?3`, seq 0. The arithmetic is the history triggers'
/// (migration V8), so the library's rows are theirs.
pub(super) const PLACE_TRANSITION: &str = "SELECT max(?3, at), \
         CASE WHEN at >= ?3 THEN seq + 1 ELSE 0 END, \
         provider IS ?5 AND instance_id IS ?6 AND status IS ?7 AND cost_per_hour IS ?8 \
     FROM remote_status_history WHERE category = ?1 AND name = ?2 AND at <= ?4 \
     ORDER BY at DESC, seq DESC LIMIT 1";

/// Appends one row to the history: `(?1, ?2)` from `?3` (seq `?4`) in
/// provider `?5`, instance `?6`, status `?7`, rate `?8`.
pub(super) const APPEND_TRANSITION: &str = "INSERT INTO remote_status_history \
         (category, name, at, seq, provider, instance_id, status, cost_per_hour) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// The status of plugin `?1`'s remote resource, if it has one.
pub(super) const REMOTE_STATUS: &str = "SELECT status FROM remote_resources WHERE plugin_id = ?1";

/// The newest history row of `(?1, ?2)` at or before `?3` (now plus a second; a row
/// dated in the future is never the newest): `(at, seq, status)`.
pub(super) const NEWEST_HISTORY: &str = "SELECT at, seq, status FROM remote_status_history \
     WHERE category = ?1 AND name = ?2 AND at <= ?3 ORDER BY at DESC, seq DESC LIMIT 1";

/// The history row of `(?1, ?2)` in force at `?3` (the newest at or before
/// it), else the oldest row: `(at, seq, status)`.
pub(super) const HISTORY_IN_FORCE: &str = "SELECT at, seq, status FROM ( \
         SELECT at, seq, status, 0 AS fallback FROM ( \
             SELECT at, seq, status FROM remote_status_history \
             WHERE category = ?1 AND name = ?2 AND at <= ?3 ORDER BY at DESC, seq DESC LIMIT 1) \
         UNION ALL \
         SELECT at, seq, status, 1 FROM ( \
             SELECT at, seq, status FROM remote_status_history \
             WHERE category = ?1 AND name = ?2 ORDER BY at, seq LIMIT 1)) \
     ORDER BY fallback LIMIT 1";

/// The `seq` a new row of `(?1, ?2)` at `?3` takes: after every row at
/// that instant.
pub(super) const NEXT_SEQ: &str = "SELECT coalesce(max(seq) + 1, 0) FROM remote_status_history \
     WHERE category = ?1 AND name = ?2 AND at = ?3";

/// Records `(?1, ?2)` in status `?5` from `?3` (seq `?4`) with the
/// provider, instance and rate of plugin `?6`'s remote resource now.
pub(super) const APPEND_FROM_RESOURCE: &str = "INSERT INTO remote_status_history \
         (category, name, at, seq, provider, instance_id, status, cost_per_hour) \
     SELECT ?1, ?2, ?3, ?4, provider, instance_id, ?5, estimated_cost_per_hour \
     FROM remote_resources WHERE plugin_id = ?6";

/// Records `(?1, ?2)` in status `?5` from `?3` (seq `?4`) with the
/// provider, instance and rate of its history row `(?6, ?7)`.
pub(super) const INSERT_FROM_HISTORY: &str = "INSERT INTO remote_status_history \
         (category, name, at, seq, provider, instance_id, status, cost_per_hour) \
     SELECT category, name, ?3, ?4, provider, instance_id, ?5, cost_per_hour \
     FROM remote_status_history WHERE category = ?1 AND name = ?2 AND at = ?6 AND seq = ?7";

columns! {
    /// The columns of a history row
    /// ([`decode_history`](super::decode::decode_history)).
    history {
        CATEGORY = category, NAME = name, AT = at, SEQ = seq, PROVIDER = provider,
        INSTANCE_ID = instance_id, STATUS = status, COST = cost_per_hour,
    }
}

const HISTORY_COLUMNS: &str = history::LIST;

/// One plugin's history, oldest first.
pub(super) static HISTORY_OF: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {HISTORY_COLUMNS} FROM remote_status_history \
         WHERE category = ?1 AND name = ?2 ORDER BY at, seq"
    )
});

/// Every history row before `?1`, each plugin's timeline in order: the
/// one pass of a cost report, along the primary key (no sort).
/// Rows after `?2` (now) come too: the report names them as dated in the
/// future and does not count them.
pub(super) const COST_ROWS: &str = "SELECT category, name, at, seq, provider, \
         status = 'running', cost_per_hour \
     FROM remote_status_history WHERE at < ?1 OR at > ?2 ORDER BY category, name, at, seq";

/// The burn rate now, from the view sqlite3 users see: `(running,
/// priced $/h, unpriced running)`.
pub(super) const BURN_RATE: &str = "SELECT coalesce(sum(running), 0), \
         total(priced_usd_per_hour), coalesce(sum(unpriced_running), 0) \
     FROM remote_burn_rate";

// ---------------------------------------------------------------------------
// change_feed and change_log (the change feed; the log's rows are written
// by the triggers of the change-feed migration)

/// Numbers the write transaction just begun: the next seq, so the number
/// is that of its first log row (if it writes one). Re-creates the state
/// row if it was deleted by hand. Returns the number, `pruned_through` and
/// `capacity`.
pub(super) const BEGIN_LOGGED_WRITE: &str = "INSERT INTO change_feed (id, writing_txn) \
     VALUES (1, coalesce((SELECT max(seq) FROM change_log), 0) + 1) \
     ON CONFLICT (id) DO UPDATE SET writing_txn = excluded.writing_txn \
     RETURNING writing_txn, pruned_through, capacity";

/// One change-log row of a library write transaction, at seq `?1`.
pub(super) const INSERT_CHANGE: &str = "INSERT INTO change_log (seq, txn, plugin_id, category, name, op) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// Clears the transaction number just before the commit.
pub(super) const END_LOGGED_WRITE: &str = "UPDATE change_feed SET writing_txn = NULL";

/// Deletes the log's rows up to and including seq `?1`.
pub(super) const PRUNE_CHANGES: &str = "DELETE FROM change_log WHERE seq <= ?1";

/// Records that the log no longer holds seqs up to `?1`.
pub(super) const SET_PRUNED_THROUGH: &str =
    "UPDATE change_feed SET pruned_through = max(pruned_through, ?1)";

/// The log's newest seq (0 when empty) and how far it was pruned.
pub(super) const FEED_POSITION: &str = "SELECT coalesce((SELECT max(seq) FROM change_log), 0), \
     coalesce((SELECT pruned_through FROM change_feed), 0)";

/// The log after a cursor, oldest first.
pub(super) const CHANGES_SINCE: &str =
    "SELECT seq, category, name, op FROM change_log WHERE seq > ?1 ORDER BY seq";

// ---------------------------------------------------------------------------
// Reading many plugins

/// The two statements that read the plugins matching a query, in
/// `(category, name)` order: plugins joined with their remote resources, and
/// the PIDs of exactly those plugins in the same order (merged as they go).
pub(super) struct ReadSql {
    pub(super) plugins: String,
    pub(super) pids: String,
    pub(super) params: Vec<rusqlite::types::Value>,
}

impl ReadSql {
    pub(super) fn new(query: &PluginQuery) -> Self {
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

/// The columns a summary reads, from `plugins p LEFT JOIN
/// remote_resources r`; [`decode_summary`](super::decode::decode_summary)
/// reads them by these positions. No JSON column.
pub(super) const SUMMARY_COLUMNS: &str = summary::LIST;

columns! {
    /// The columns of a summary row, from `plugins p LEFT JOIN
    /// remote_resources r` ([`decode_summary`](super::decode::decode_summary)).
    summary {
        ID = p.id, CATEGORY = p.category, NAME = p.name, TITLE = p.title,
        EXECUTION_MODE = p.execution_mode, IS_CONFIGURED = p.is_configured,
        CONTAINER_ID = p.container_id, UPDATED_AT = p.updated_at,
        REMOTE = r.plugin_id, PROVIDER = r.provider, STATUS = r.status,
        COST = r.estimated_cost_per_hour,
    }
}

/// The two statements that read the summaries of a query: the plugins with
/// their remote resources, and their PIDs as `(plugin_id, position, pid,
/// rowid)`. Without a limit or offset neither has an `ORDER BY`: SQLite
/// reads in row-id order and the store sorts in memory, which at 100,000
/// plugins is about twice as fast as walking the `(category, name)` index
/// (one random table seek per row). A page (limit, offset) is chosen in
/// SQL, in index order.
pub(super) struct SummarySql {
    pub(super) plugins: String,
    pub(super) pids: String,
    pub(super) params: Vec<rusqlite::types::Value>,
    /// Whether the plugins come in `(category, name)` order already.
    pub(super) ordered: bool,
}

impl SummarySql {
    pub(super) fn new(query: &PluginQuery) -> Self {
        let (condition, params) = query.where_sql();
        let from = "FROM plugins p LEFT JOIN remote_resources r ON r.plugin_id = p.id";
        let pid_columns = "SELECT pp.plugin_id, pp.position, pp.pid, pp.rowid FROM plugin_pids pp";
        let ordered = query.is_paged();
        let (plugins, pids) = if ordered {
            let page = query.page_sql();
            (
                format!(
                    "SELECT {SUMMARY_COLUMNS} {from} WHERE {condition} \
                     ORDER BY p.category, p.name{page}"
                ),
                format!(
                    "{pid_columns} WHERE pp.plugin_id IN (SELECT p.id FROM plugins p \
                     WHERE {condition} ORDER BY p.category, p.name{page})"
                ),
            )
        } else if params.is_empty() && condition == "1" {
            (
                format!("SELECT {SUMMARY_COLUMNS} {from}"),
                pid_columns.to_owned(),
            )
        } else {
            (
                format!("SELECT {SUMMARY_COLUMNS} {from} WHERE {condition}"),
                format!(
                    "{pid_columns} WHERE pp.plugin_id IN (SELECT p.id FROM plugins p \
                     WHERE {condition})"
                ),
            )
        };
        SummarySql {
            plugins,
            pids,
            params,
            ordered,
        }
    }
}

/// `SELECT count(*)` of what a query returns, limit and offset included.
pub(super) fn count_sql(query: &PluginQuery) -> (String, Vec<rusqlite::types::Value>) {
    let (condition, params) = query.where_sql();
    let sql = format!(
        "SELECT count(*) FROM (SELECT 1 FROM plugins p WHERE {condition}{})",
        query.page_sql()
    );
    (sql, params)
}
