//! The command line: clap's types, and what the flags mean as a library
//! [`PluginQuery`].

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use plugin_metastore::{
    CloudProviderType, CostGrouping, CostQuery, PluginExecutionMode, PluginQuery,
};

use crate::failure::reason;

/// Shown under the top-level `--help`.
pub(crate) const MAIN_EXAMPLES: &str = "\
Examples:
  plugin-metastore demo                          # example plugins, then the table
  plugin-metastore list --cloud --active         # what is costing money right now
  plugin-metastore cost --since 2026-11-01 --by day
  plugin-metastore show transcription_whisper_tiny
  plugin-metastore export > plugins.json
  plugin-metastore --db other.db import plugins.json

The store is --db PATH, else $PLUGIN_METASTORE_DB, else plugins.db in the
platform's data directory (created on first use).";

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "plugin-metastore",
    version,
    about = "Inspect and edit a plugin-metastore database: plugins, their PIDs, containers and cloud resources",
    after_help = MAIN_EXAMPLES,
    subcommand_required = true,
    arg_required_else_help = false
)]
pub(crate) struct Cli {
    /// The store file [default: $PLUGIN_METASTORE_DB, else plugins.db in the
    /// platform's data directory]
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) db: Option<PathBuf>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the store (or bring it to the current schema) and say where it is
    #[command(after_help = "Example:\n  plugin-metastore --db plugins.db init")]
    Init,

    /// Save the example plugins of the Python original, then list the store
    #[command(after_help = "Example:\n  plugin-metastore --db /tmp/demo.db demo")]
    Demo,

    /// List plugins as a table (or JSON), optionally filtered
    #[command(after_help = "\
Filters combine with AND; a repeated --mode, --provider, --category or
--status means any of them.

Examples:
  plugin-metastore list
  plugin-metastore list --mode cloud_gpu --provider aws --provider lambda_labs
  plugin-metastore list --active --local
  plugin-metastore list --category transcription --json")]
    List(ListArgs),

    /// Show one plugin in full
    #[command(after_help = "\
Examples:
  plugin-metastore show transcription_whisper_tiny
  plugin-metastore show finetuning_llm_finetune_aws --json")]
    Show {
        #[command(flatten)]
        target: Target,
        /// Print the record as JSON (the Python field layout)
        #[arg(long)]
        json: bool,
    },

    /// Import plugins from JSON (an array or one object, Python field layout), all or nothing
    #[command(after_help = "\
Records replace the plugins with the same (category, name). If any record is
invalid nothing is written.

Examples:
  plugin-metastore import plugins.json
  python3 dump_plugins.py | plugin-metastore import -")]
    Import {
        /// The JSON file, or - for standard input
        #[arg(value_name = "FILE|-")]
        file: String,
    },

    /// Print every plugin as a JSON array (imports back unchanged)
    #[command(after_help = "\
A plugin with a value that cannot be read (forced into the file by hand)
stops the export; --skip-bad exports the rest and names each bad row on
stderr.

Examples:
  plugin-metastore export > plugins.json
  plugin-metastore export | plugin-metastore --db copy.db import -")]
    Export {
        /// Leave out plugins that cannot be read, naming each on stderr
        #[arg(long)]
        skip_bad: bool,
    },

    /// Delete a plugin with its PIDs and remote resource
    #[command(after_help = "Example:\n  plugin-metastore delete transcription_whisper_tiny")]
    Delete {
        #[command(flatten)]
        target: Target,
    },

    /// Record or forget child process PIDs of a plugin
    #[command(
        subcommand,
        arg_required_else_help = false,
        after_help = "\
Examples:
  plugin-metastore pid add transcription_voxtral_vllm 4242
  plugin-metastore pid remove transcription_voxtral_vllm 4242
  plugin-metastore pid clear transcription_voxtral_vllm"
    )]
    Pid(PidCommand),

    /// Set or clear the Docker container id of a plugin
    #[command(
        subcommand,
        arg_required_else_help = false,
        after_help = "\
Examples:
  plugin-metastore container set transcription_whisper_tiny 3f4e5d6c7b8a
  plugin-metastore container clear transcription_whisper_tiny"
    )]
    Container(ContainerCommand),

    /// Set the status of a plugin's remote resource (e.g. running, stopped)
    #[command(after_help = "\
Only exactly \"running\" counts as active (and is billed). Every change is
kept in the plugin's history (see `history`). With --at, the transition is
recorded when it happened: if that is before the newest entry of the
history, it is inserted in its place and the current status stays as it is.

Examples:
  plugin-metastore remote-status finetuning_llm_finetune_aws stopped
  plugin-metastore remote-status finetuning_llm_finetune_aws stopped --at 2026-11-01T08:00:00Z")]
    RemoteStatus {
        #[command(flatten)]
        target: Target,
        /// The new status (free text: provisioning, running, stopping, stopped, ...)
        status: String,
        /// When it happened: RFC 3339 (2026-11-01T08:00:00Z) or a date (UTC
        /// midnight) [default: now]
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        at: Option<DateTime<Utc>>,
    },

    /// Running hours and cost of remote resources, per provider, plugin or day
    #[command(after_help = "\
Billed time is time in status exactly \"running\", at the hourly rate in force
then; hours at an unknown rate make the cost unknown, never $0. Deleted
plugins count. TIME is RFC 3339 (2026-11-01T08:00:00Z) or a date (UTC
midnight). The table ends with the totals and the burn rate now.

Examples:
  plugin-metastore cost
  plugin-metastore cost --since 2026-11-01 --by day
  plugin-metastore cost --since 2026-11-01 --until 2026-12-01 --by plugin --json")]
    Cost(CostArgs),

    /// The remote status history of one plugin, oldest first
    #[command(after_help = "\
Each entry says: from then on, the resource was in this status at this
hourly rate. Deleted plugins keep their history.

Examples:
  plugin-metastore history finetuning_llm_finetune_aws
  plugin-metastore history finetuning_llm_finetune_aws --json")]
    History {
        #[command(flatten)]
        target: Target,
        /// Print a JSON array, one object per entry
        #[arg(long)]
        json: bool,
    },

    /// Tell which stored PIDs are still the processes that were recorded
    #[command(after_help = "\
Each stored PID is alive (the recorded process), exited (gone, a zombie, or
recorded on another boot), reused (the number now belongs to another process)
or unverified (a process holds it but no identity was recorded). Changes
nothing; exits 0 whatever it finds.

Examples:
  plugin-metastore check
  plugin-metastore check --json")]
    Check {
        /// Print a JSON array, one object per stored PID
        #[arg(long)]
        json: bool,
    },

    /// Remove stored PIDs whose process is gone or not ours; with --kill also stop live ones
    #[command(after_help = "\
exited and reused PIDs are removed and never signalled; unverified PIDs are
kept and never signalled; alive ones are kept, or with --kill stopped
(SIGTERM, --grace seconds, then SIGKILL, the identity re-checked through a
pidfd before each signal) and removed. Exits non-zero if a process could not
be stopped.

Examples:
  plugin-metastore reap --dry-run
  plugin-metastore reap
  plugin-metastore reap --kill --grace 2 --json")]
    Reap(ReapArgs),

    /// Print one JSON line per plugin change (by any process, or by hand) as it happens
    #[command(after_help = "\
Each line is {\"seq\":N,\"unique_id\":…,\"category\":…,\"name\":…,\"op\":\"insert\"|\"update\"|\"delete\"},
in commit order. A line {\"reset\":true,\"seq\":N} means the change log no longer
reaches back to where the watch was: re-read everything, then carry on. Starts
at the newest change (or replays from --since SEQ). Stops on Ctrl-C, SIGTERM,
or when its output is closed.

Examples:
  plugin-metastore watch
  plugin-metastore watch --since 0 --interval-ms 50")]
    Watch(WatchArgs),

    /// Write a consistent, checked copy of the store to a new file (mode 0600)
    #[command(after_help = "\
Safe while other processes write: the copy holds every change committed before
it started. It never overwrites a file, and is checked with integrity_check.

Example:
  plugin-metastore backup ~/plugins-$(date +%F).db")]
    Backup {
        /// The new file (must not exist)
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },

    /// Check the store file without changing it: integrity, foreign keys, migrations, every row
    #[command(after_help = "\
Never migrates and never writes. Exits 0 when the file is sound (pending
migrations are only a note); otherwise prints each problem on its own line
and exits 1.

Examples:
  plugin-metastore verify
  plugin-metastore --db bug-report.db verify --json")]
    Verify {
        /// Print the findings as one JSON object
        #[arg(long)]
        json: bool,
    },
}

/// The flags of `watch`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// How often to look for changes, in milliseconds (one cheap check each time)
    #[arg(long, value_name = "N", default_value = "100",
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub(crate) interval_ms: u64,
    /// Replay the changes after this seq first (0: the whole log)
    #[arg(long, value_name = "SEQ")]
    pub(crate) since: Option<u64>,
}

/// The flags of `cost`.
#[derive(Debug, Args)]
pub(crate) struct CostArgs {
    /// Count from TIME on [default: the start of the history]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub(crate) since: Option<DateTime<Utc>>,
    /// Count up to TIME (excluded) [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub(crate) until: Option<DateTime<Utc>>,
    /// Group by provider, plugin (unique id) or day (UTC)
    #[arg(long, value_name = "GROUPING", default_value = "provider", value_parser = parse_grouping)]
    pub(crate) by: CostGrouping,
    /// Print a JSON array, one object per group
    #[arg(long)]
    pub(crate) json: bool,
}

impl CostArgs {
    /// The library query these flags mean.
    pub(crate) fn query(&self) -> CostQuery {
        let mut q = CostQuery::new().by(self.by);
        if let Some(t) = self.since {
            q = q.since(t);
        }
        if let Some(t) = self.until {
            q = q.until(t);
        }
        q
    }
}

/// The flags of `reap`.
#[derive(Debug, Args)]
pub(crate) struct ReapArgs {
    /// Report what would happen and change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Also stop alive processes, then remove them
    #[arg(long)]
    pub(crate) kill: bool,
    /// Seconds a process has to exit after SIGTERM before SIGKILL
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_grace)]
    pub(crate) grace: Duration,
    /// Print a JSON array, one object per stored PID
    #[arg(long)]
    pub(crate) json: bool,
}

/// The `pid` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum PidCommand {
    /// Append a PID to the plugin's list
    #[command(after_help = "Example:\n  plugin-metastore pid add transcription_voxtral_vllm 4242")]
    Add {
        #[command(flatten)]
        target: Target,
        /// The process id (> 0)
        #[arg(value_parser = parse_pid)]
        pid: u32,
    },
    /// Remove a PID from the plugin's list
    #[command(
        after_help = "Example:\n  plugin-metastore pid remove transcription_voxtral_vllm 4242"
    )]
    Remove {
        #[command(flatten)]
        target: Target,
        /// The process id
        #[arg(value_parser = parse_pid)]
        pid: u32,
    },
    /// Remove every PID of the plugin
    #[command(after_help = "Example:\n  plugin-metastore pid clear transcription_voxtral_vllm")]
    Clear {
        #[command(flatten)]
        target: Target,
    },
}

/// The `container` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ContainerCommand {
    /// Set the plugin's container id
    #[command(
        after_help = "Example:\n  plugin-metastore container set transcription_whisper_tiny 3f4e5d6c7b8a"
    )]
    Set {
        #[command(flatten)]
        target: Target,
        /// The container id
        #[arg(value_name = "CID")]
        container_id: String,
    },
    /// Clear the plugin's container id
    #[command(
        after_help = "Example:\n  plugin-metastore container clear transcription_whisper_tiny"
    )]
    Clear {
        #[command(flatten)]
        target: Target,
    },
}

/// Which plugin a command is about.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// The plugin's unique id, CATEGORY_NAME (e.g. transcription_whisper_tiny)
    #[arg(value_name = "ID")]
    pub(crate) id: String,
    /// The plugin's category, to pick one plugin when ID is ambiguous
    #[arg(long, value_name = "CATEGORY")]
    pub(crate) category: Option<String>,
}

/// The filters and format of `list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only this execution mode (repeatable): in_process, subprocess, docker,
    /// conda_env, external_service, cloud_gpu, cloud_api, remote_server, hybrid
    #[arg(long = "mode", value_name = "MODE", value_parser = parse_mode)]
    pub(crate) modes: Vec<PluginExecutionMode>,
    /// Only this cloud provider (repeatable): aws, gcp, azure, lambda_labs,
    /// runpod, vast_ai, paperspace, coreweave, custom
    #[arg(long = "provider", value_name = "PROVIDER", value_parser = parse_provider)]
    pub(crate) providers: Vec<CloudProviderType>,
    /// Only this category (repeatable)
    #[arg(long = "category", value_name = "CATEGORY")]
    pub(crate) categories: Vec<String>,
    /// Only this remote resource status, e.g. running (repeatable)
    #[arg(long = "status", value_name = "STATUS")]
    pub(crate) statuses: Vec<String>,
    /// Only plugins holding active resources (PIDs, a container, a running remote resource)
    #[arg(long, conflicts_with = "inactive")]
    pub(crate) active: bool,
    /// Only plugins holding no active resources
    #[arg(long)]
    pub(crate) inactive: bool,
    /// Only local execution modes
    #[arg(long, conflicts_with = "cloud")]
    pub(crate) local: bool,
    /// Only cloud and remote execution modes
    #[arg(long)]
    pub(crate) cloud: bool,
    /// Print a JSON array of full records instead of the table
    #[arg(long)]
    pub(crate) json: bool,
    /// Leave out plugins that cannot be read, naming each on stderr
    #[arg(long)]
    pub(crate) skip_bad: bool,
}

impl ListArgs {
    /// The library query these flags mean.
    pub(crate) fn query(&self) -> PluginQuery {
        let mut q = PluginQuery::new();
        for &m in &self.modes {
            q = q.execution_mode(m);
        }
        for &p in &self.providers {
            q = q.provider(p);
        }
        for c in &self.categories {
            q = q.category(c.clone());
        }
        for s in &self.statuses {
            q = q.remote_status(s.clone());
        }
        if self.active || self.inactive {
            q = q.active(self.active);
        }
        if self.local || self.cloud {
            q = q.local(self.local);
        }
        q
    }
}

/// Parses `--mode` with the model's `FromStr` (its error names the value and
/// lists the valid ones).
fn parse_mode(s: &str) -> Result<PluginExecutionMode, String> {
    s.parse().map_err(|e| reason(&e))
}

/// Parses `--provider` with the model's `FromStr`.
fn parse_provider(s: &str) -> Result<CloudProviderType, String> {
    s.parse().map_err(|e| reason(&e))
}

/// Parses a TIME with the library's [`plugin_metastore::parse_time`].
fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    plugin_metastore::parse_time(s).map_err(|e| reason(&e))
}

/// Parses `--by` with the library's `FromStr`.
fn parse_grouping(s: &str) -> Result<CostGrouping, String> {
    s.parse().map_err(|e| reason(&e))
}

/// Parses `--grace`: seconds, fractions allowed, at most a day.
fn parse_grace(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("{s} is not between 0 and 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a PID: 1 ..= 4294967295, every other value the same usage error.
fn parse_pid(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(0) => Err("PID 0 is not a process".to_owned()),
        Ok(pid) => Ok(pid),
        Err(_) => Err(format!("{s:?} is not a PID (1 ..= 4294967295)")),
    }
}
