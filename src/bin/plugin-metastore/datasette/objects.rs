//! What Datasette shows of each table and view: titles, descriptions of
//! the columns that need words (with their units), facets, label columns,
//! hidden internal tables.

use serde_json::{Map, Value, json};

/// One table or view as Datasette shows it.
pub(super) struct Described {
    pub(super) name: &'static str,
    pub(super) title: &'static str,
    pub(super) description: &'static str,
    pub(super) columns: &'static [(&'static str, &'static str)],
    pub(super) facets: &'static [&'static str],
    pub(super) label_column: Option<&'static str>,
    pub(super) hidden: bool,
}

impl Described {
    const fn new(
        name: &'static str,
        title: &'static str,
        description: &'static str,
        columns: &'static [(&'static str, &'static str)],
    ) -> Self {
        Described {
            name,
            title,
            description,
            columns,
            facets: &[],
            label_column: None,
            hidden: false,
        }
    }

    pub(super) fn to_json(&self) -> Value {
        let mut t = Map::new();
        t.insert("title".into(), self.title.into());
        t.insert("description".into(), self.description.into());
        if self.hidden {
            t.insert("hidden".into(), true.into());
        }
        if let Some(label) = self.label_column {
            t.insert("label_column".into(), label.into());
        }
        if !self.facets.is_empty() {
            t.insert("facets".into(), json!(self.facets));
        }
        let columns: Map<String, Value> = self
            .columns
            .iter()
            .map(|(c, d)| ((*c).to_owned(), (*d).into()))
            .collect();
        t.insert("columns".into(), columns.into());
        Value::Object(t)
    }
}

/// `$/h`: how every hourly rate is described. Units are said in the
/// descriptions, not with Datasette's `units` (Pint has no currency, and
/// Datasette shows Pint quantities "compact": 0.25 hours as "250 mh").
const RATE: &str = "$/h: dollars per hour; blank = no known rate (unknown, never $0)";

/// The schema, table by table and view by view (views first: they are what
/// people open).
pub(super) const OBJECTS: &[Described] = &[
    Described {
        facets: &["runs", "execution_mode", "provider", "remote_status"],
        ..Described::new(
            "plugin_overview",
            "Plugins",
            "One readable row per plugin, ordered by (category, name) as `plugin-metastore list`.",
            &[
                (
                    "unique_id",
                    "category_name: the id the CLI takes (may be ambiguous; the key is (category, name))",
                ),
                (
                    "execution_mode",
                    "in_process, subprocess, docker, conda_env, external_service (local); cloud_gpu, cloud_api, remote_server, hybrid (cloud)",
                ),
                ("runs", "local or cloud, from execution_mode"),
                (
                    "provider",
                    "Cloud provider of its remote resource (blank: none)",
                ),
                (
                    "remote_status",
                    "Status of its remote resource as last recorded; only exactly 'running' is billed",
                ),
                ("container_id", "Docker container id ('' or blank: none)"),
                ("cost_per_hour", RATE),
                (
                    "has_active_resources",
                    "1 if it holds a PID, a container, or a running remote resource (stored facts; `plugin-metastore check` tells whether PIDs are still ours)",
                ),
                ("updated_at", "Last change (RFC 3339 UTC)"),
            ],
        )
    },
    Described::new(
        "active_resources",
        "Holding something now",
        "Plugins that hold PIDs, a container or a running remote resource: what must be cleaned up. Ordered by (category, name).",
        &[
            ("pids", "Its PIDs, comma-separated, in order"),
            ("running_on", "Provider of its running remote resource"),
            ("cost_per_hour", RATE),
        ],
    ),
    Described {
        facets: &["provider", "status"],
        ..Described::new(
            "remote_overview",
            "Remote resources",
            "Every plugin's remote (cloud) resource, ordered by (category, name).",
            &[
                (
                    "status",
                    "Status as last recorded; only exactly 'running' is billed",
                ),
                ("cost_per_hour", RATE),
            ],
        )
    },
    Described::new(
        "remote_burn_rate",
        "Burn rate now",
        "What is costing money right now, per provider: the resources whose status is exactly 'running'.",
        &[
            ("running", "How many resources run"),
            (
                "usd_per_hour",
                "$/h: the sum of their rates; blank when any of them has no known rate (see priced_usd_per_hour)",
            ),
            ("priced_usd_per_hour", "$/h: the sum of the known rates"),
            ("unpriced_running", "How many run at an unknown rate"),
        ],
    ),
    Described {
        facets: &["status", "provider"],
        ..Described::new(
            "billed_intervals",
            "Billed intervals",
            "The cost rule of `plugin-metastore cost` in SQL: one row per interval of the status history, from a row to the next row of the same plugin (the newest to now). Only status exactly 'running' is billed, at the rate of the row that starts the interval. Sum cost_usd over status = 'running' for what `cost` reports; the canned queries cut intervals to a window and split days at UTC midnight.",
            &[
                (
                    "category",
                    "The plugin's category (kept after the plugin is deleted)",
                ),
                (
                    "status",
                    "Status during the interval; only exactly 'running' is billed",
                ),
                (
                    "started_at",
                    "Start (RFC 3339 UTC, microseconds): the history row's time",
                ),
                (
                    "ended_at",
                    "End: the next row of the same plugin, or now for the newest",
                ),
                (
                    "hours",
                    "Hours (h): the interval's length, exact to the microsecond",
                ),
                ("cost_per_hour", RATE),
                (
                    "cost_usd",
                    "$: hours × cost_per_hour when running; 0 when not running or 0 hours; blank when running at an unknown rate (unknown, never $0)",
                ),
            ],
        )
    },
    Described::new(
        "pid_identity",
        "Stored PIDs",
        "Every stored PID with the identity recorded for it, ordered by (category, name, position). SQL cannot see processes: `plugin-metastore check` tells alive, exited, reused or unverified.",
        &[
            (
                "start_time",
                "The process's start time when recorded (Linux: clock ticks since boot); blank: not read",
            ),
            (
                "boot_id",
                "The boot it ran in (Linux: /proc/sys/kernel/random/boot_id); blank: not read",
            ),
            ("recorded_at", "When the store recorded it (RFC 3339 UTC)"),
        ],
    ),
    Described::new(
        "recent_changes",
        "Recent changes",
        "The change log as people read it, newest first.",
        &[
            ("seq", "Position in commit order"),
            ("op", "insert, update or delete"),
            ("made", "library, or by hand (another tool)"),
        ],
    ),
    Described {
        label_column: Some("name"),
        facets: &["category", "execution_mode"],
        ..Described::new(
            "plugins",
            "plugins (table)",
            "One row per plugin; the key is (category, name). plugin_overview reads better.",
            &[
                ("id", "Row id (other tables refer to it)"),
                (
                    "config_schema",
                    "JSON object: the plugin's configuration schema",
                ),
                ("execution_mode", "How it runs (see plugin_overview)"),
                (
                    "manages_external_resources",
                    "1 if it manages external resources",
                ),
                ("container_id", "Docker container id ('' or blank: none)"),
                ("created_at", "Created (RFC 3339 UTC)"),
                ("updated_at", "Last change (RFC 3339 UTC)"),
            ],
        )
    },
    Described::new(
        "plugin_pids",
        "plugin_pids (table)",
        "One row per stored child PID; pid_identity reads better.",
        &[
            ("plugin_id", "The plugin (plugins.id)"),
            ("position", "Order in the plugin's PID list"),
            (
                "start_time",
                "Start time when recorded (Linux: clock ticks since boot)",
            ),
            ("boot_id", "Boot it ran in"),
            ("recorded_at", "When the store recorded it (RFC 3339 UTC)"),
        ],
    ),
    Described {
        facets: &["provider", "status"],
        ..Described::new(
            "remote_resources",
            "remote_resources (table)",
            "At most one remote (cloud) resource per plugin; remote_overview reads better.",
            &[
                ("plugin_id", "The plugin (plugins.id)"),
                ("status", "Status; only exactly 'running' is billed"),
                ("estimated_cost_per_hour", RATE),
                ("metadata", "JSON object"),
            ],
        )
    },
    Described {
        facets: &["provider", "status"],
        ..Described::new(
            "remote_status_history",
            "Remote status history",
            "Append-only: from `at` on, the plugin's resource is in `status` at `cost_per_hour`. Kept after a plugin is deleted. billed_intervals turns it into hours and dollars.",
            &[
                ("category", "The plugin's category"),
                ("at", "From when the row holds (RFC 3339 UTC, microseconds)"),
                ("seq", "Order of rows with the same `at`"),
                (
                    "status",
                    "Status, or 'removed' once the resource or plugin went away",
                ),
                ("cost_per_hour", RATE),
            ],
        )
    },
    Described {
        hidden: true,
        ..Described::new(
            "change_feed",
            "change_feed (internal)",
            "The change feed's state; do not edit.",
            &[
                ("id", "Always 1"),
                ("writing_txn", "Set only inside a library write transaction"),
                (
                    "pruned_through",
                    "The newest change-log seq deleted by pruning",
                ),
                ("capacity", "How many change-log rows are kept"),
            ],
        )
    },
    Described {
        hidden: true,
        ..Described::new(
            "change_log",
            "change_log (internal)",
            "One row per changed plugin, in commit order; recent_changes reads better. Do not edit.",
            &[
                ("seq", "Position in commit order"),
                (
                    "txn",
                    "The library transaction that wrote it (blank: by hand)",
                ),
                ("plugin_id", "The plugin's row id then"),
                ("category", "The plugin's category"),
                ("name", "The plugin's name"),
                ("op", "insert, update or delete"),
            ],
        )
    },
    Described {
        hidden: true,
        ..Described::new(
            "refinery_schema_history",
            "refinery_schema_history (internal)",
            "The migrations applied to this file (refinery's table).",
            &[
                ("version", "Migration version"),
                ("name", "Migration name"),
                ("applied_on", "When it was applied"),
                ("checksum", "Checksum of the migration's SQL"),
            ],
        )
    },
];
