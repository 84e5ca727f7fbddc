//! `datasette-metadata`: a Datasette metadata document (the 0.6x
//! `-m metadata.json` format) for this build's schema: titles and
//! descriptions of the tables, views and the columns that need one (with
//! their units: `$/h`, `$`, hours), the internal
//! tables hidden, label columns, facets, and canned queries (cost by day,
//! provider and plugin over `billed_intervals`; stale PIDs; what runs now).
//!
//! The canned cost queries are the SQL form of `cost`: the tests hold them
//! equal to the library's report on generated histories.

use std::path::{Path, PathBuf};

use clap::Args;
use plugin_metastore::MetadataStore;
use serde_json::{Map, Value, json};

use crate::db::Db;
use crate::failure::{CliResult, Failure};
use crate::output::{print, to_json};

mod objects;

use objects::OBJECTS;

/// The flags of `datasette-metadata`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct DatasetteArgs {
    /// The database name Datasette gives the store: its file name without
    /// the extension [default: that of the store path, e.g. plugins for
    /// plugins.db]
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
}

/// Shown under `datasette-metadata --help`.
const EXAMPLES: &str = "\
Prints JSON for Datasette's --metadata (-m) option (Datasette 0.6x format).
Datasette names a database after its file (plugins.db is \"plugins\"); the
document describes the database of that name: --db's, or --name's.

Examples:
  datasette serve plugins.db -m <(plugin-metastore --db plugins.db datasette-metadata)
  plugin-metastore --db /srv/store.db datasette-metadata > metadata.json";

impl DatasetteArgs {
    /// `datasette-metadata`: the document for the store at `--db` (which is
    /// not opened: the document describes this build's schema).
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let path = db.path()?;
        let name = match &self.name {
            Some(n) if n.is_empty() => {
                return Err(Failure(
                    "--name: the database name must not be empty".into(),
                ));
            }
            Some(n) => n.clone(),
            None => database_name(&path)?,
        };
        let version = MetadataStore::open_in_memory()?.schema_version()?;
        print(&to_json(&metadata(&name, version))?)
    }
}

/// Datasette's name for the database file `db`: the file name up to its
/// last dot (`plugins.db` → `plugins`).
fn database_name(db: &Path) -> CliResult<String> {
    let stem = db
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty());
    stem.map(str::to_owned).ok_or_else(|| {
        Failure(format!(
            "cannot tell Datasette's database name from the path {:?}; pass --name NAME",
            PathBuf::from(db)
        ))
    })
}

/// The window of the cost queries and each running interval cut to it.
const COST_WINDOW: &str = "\
-- Running hours and their cost in the window [:since, :until), as
-- `plugin-metastore cost` counts them. :since and :until are dates
-- (2026-11-01: UTC midnight) or times (2026-11-01T08:00:00Z), read to the
-- millisecond; blank: the start of the history, and now. Time after now is
-- never counted. A value that is not a time gives no rows.
WITH bounds AS (
    SELECT coalesce(strftime('%Y-%m-%dT%H:%M:%f', nullif(:since, '')) || '000Z',
                    '0000-01-01T00:00:00.000000Z') AS since,
           min(coalesce(strftime('%Y-%m-%dT%H:%M:%f', nullif(:until, '')) || '000Z',
                        '9999-12-31T23:59:59.999999Z'),
               strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z') AS until
    WHERE (nullif(:since, '') IS NULL OR strftime('%s', :since) IS NOT NULL)
      AND (nullif(:until, '') IS NULL OR strftime('%s', :until) IS NOT NULL)
),
-- Each running interval cut to the window (the timestamps are text in one
-- fixed format, so text order is time order). The bounds are scalar
-- subqueries, not a join, so the view is read in one pass, not copied.
pieces AS (
    SELECT b.category, b.name, b.unique_id, b.provider, b.cost_per_hour AS rate,
           max(b.started_at, (SELECT since FROM bounds)) AS s,
           min(b.ended_at, (SELECT until FROM bounds)) AS e
    FROM billed_intervals b
    WHERE b.status = 'running'
      AND b.started_at < (SELECT until FROM bounds)
      AND b.ended_at > (SELECT since FROM bounds)
),
";

/// Each piece split at UTC midnight (for the cost by day).
const DAYS: &str = "\
-- Each piece split at UTC midnight.
days AS (
    SELECT category, name, unique_id, provider, rate, s,
           CASE WHEN substr(e, 1, 10) = substr(s, 1, 10) THEN e
                ELSE min(e, date(s, '+1 day') || 'T00:00:00.000000Z') END AS e,
           e AS stop
    FROM pieces WHERE s < e
    UNION ALL
    SELECT category, name, unique_id, provider, rate, e,
           min(stop, date(e, '+1 day') || 'T00:00:00.000000Z'), stop
    FROM days WHERE e < stop
),
";

/// The microseconds of each piece of `from`.
fn timed(from: &str) -> String {
    format!(
        "\
-- The microseconds of each piece, exactly: whole seconds from julianday()
-- (exact once rounded), then the stored microseconds. MATERIALIZED (SQLite
-- 3.35+): computed once per piece, not once per use below.
timed AS MATERIALIZED (
    SELECT *,
           CAST(round((julianday(substr(e, 1, 19)) - julianday(substr(s, 1, 19))) * 86400) AS INTEGER) * 1000000
         + CAST(substr(e, 21, 6) AS INTEGER) - CAST(substr(s, 21, 6) AS INTEGER) AS us
    FROM {from} WHERE s < e
)
"
    )
}

/// The figures of one group, as `cost --json` names them; dollars rounded
/// to a millionth (so 13.2 does not read 13.200000000000003).
const FIGURES: &str = "       sum(us) / 3600000000.0 AS running_hours,
       CASE WHEN count(rate) = count(*) THEN round(total(rate * us / 3600000000.0), 6) END AS cost_usd,
       total(CASE WHEN rate IS NULL THEN us END) / 3600000000.0 AS unknown_rate_hours,
       total(CASE WHEN rate IS NOT NULL THEN us END) / 3600000000.0 AS priced_hours,
       round(total(rate * us / 3600000000.0), 6) AS priced_cost_usd";

/// The canned cost query grouped by `by` (`provider`, `plugin`, `day`).
pub(crate) fn cost_query(by: &str) -> String {
    match by {
        "day" => format!(
            "{COST_WINDOW}{DAYS}{}SELECT substr(s, 1, 10) AS day,\n{FIGURES}\n\
             FROM timed GROUP BY day ORDER BY day",
            timed("days")
        ),
        "plugin" => format!(
            "{COST_WINDOW}{}SELECT unique_id, category, name,\n{FIGURES}\n\
             FROM timed GROUP BY category, name ORDER BY category, name",
            timed("pieces")
        ),
        _ => format!(
            "{COST_WINDOW}{}SELECT provider,\n{FIGURES}\n\
             FROM timed GROUP BY provider ORDER BY provider",
            timed("pieces")
        ),
    }
}

/// PIDs that are probably stale, as far as the file can tell.
const STALE_PIDS: &str = "\
-- PIDs the file itself shows to be stale: recorded on another boot than
-- :boot_id (blank: the boot of the newest recorded PID; on Linux paste
-- `cat /proc/sys/kernel/random/boot_id`), or with no identity recorded (they
-- cannot be verified). SQL cannot see processes: `plugin-metastore check`
-- tells which are alive, exited, reused or unverified, and `reap` cleans up.
SELECT i.unique_id, i.pid, i.start_time, i.boot_id, i.recorded_at,
       CASE WHEN i.boot_id IS NULL OR i.start_time IS NULL
            THEN 'no identity recorded (not alive when recorded, or unreadable): cannot be verified'
            ELSE 'recorded on another boot' END AS why
FROM pid_identity i
WHERE i.boot_id IS NULL OR i.start_time IS NULL
   OR i.boot_id IS NOT coalesce(nullif(:boot_id, ''),
        (SELECT boot_id FROM plugin_pids WHERE boot_id IS NOT NULL
         ORDER BY recorded_at DESC LIMIT 1))";

/// What runs now, with the burn rate.
const RUNNING_NOW: &str = "\
-- What holds resources now (stored facts): PIDs, containers, running remote
-- resources and their hourly rate, ordered by (category, name).
SELECT unique_id, execution_mode, running_on AS provider, instance_id,
       cost_per_hour AS usd_per_hour, pids, container_id
FROM active_resources";

/// The canned queries.
fn queries() -> Value {
    let cost = |by: &str, title: &str, description: &str| {
        json!({
            "title": title,
            "description": format!(
                "{description} As `plugin-metastore cost --by {by}`: hours in status exactly \
                 'running' in [since, until) (dates or RFC 3339 times, blank = the start of \
                 the history / now), cost in $; cost_usd is blank when some hours had no \
                 known rate (see unknown_rate_hours and priced_cost_usd)."
            ),
            "sql": cost_query(by),
            "params": ["since", "until"],
            "hide_sql": true,
        })
    };
    json!({
        "cost_by_day": cost("day", "Cost by day", "Running hours and dollars per UTC day."),
        "cost_by_provider": cost("provider", "Cost by provider", "Running hours and dollars per cloud provider."),
        "cost_by_plugin": cost("plugin", "Cost by plugin", "Running hours and dollars per plugin (deleted plugins too)."),
        "stale_pids": {
            "title": "Stale PIDs",
            "description": "Stored PIDs recorded on another boot than boot_id (blank: the newest recorded boot), or with no identity. SQL cannot see processes: `plugin-metastore check` is the real check, `reap` cleans up.",
            "sql": STALE_PIDS,
            "params": ["boot_id"],
        },
        "running_now": {
            "title": "What runs now",
            "description": "Plugins holding PIDs, a container or a running remote resource, with its rate in $/h (stored facts).",
            "sql": RUNNING_NOW,
        },
    })
}

/// The whole document for the database `name` at schema `version`.
fn metadata(name: &str, version: i64) -> Value {
    let tables: Map<String, Value> = OBJECTS
        .iter()
        .map(|o| (o.name.to_owned(), o.to_json()))
        .collect();
    json!({
        "title": "Plugin metastore",
        "description": format!(
            "Plugins, their processes, containers and cloud resources, and what the resources \
             cost (schema version {version}). Costs are in $, rates in $/h; blank = unknown, \
             never $0. Read-only here; the app and `plugin-metastore` write."
        ),
        "databases": {
            name: {
                "title": "Plugin metastore",
                "description": format!(
                    "plugin-metastore store, schema version {version}. Start with Plugins \
                     (plugin_overview), Billed intervals and the canned cost queries."
                ),
                "tables": tables,
                "queries": queries(),
            }
        }
    })
}
