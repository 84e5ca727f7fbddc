//! The command line: clap's types, and what the flags mean as a library
//! [`PluginQuery`].

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

mod flags;

use crate::target::Target;
use flags::parse_time;
pub(crate) use flags::{ContainerCommand, CostArgs, ListArgs, PidCommand, ReapArgs, WatchArgs};

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
        /// Record the processes that hold the imported PIDs here now as the
        /// plugins' own (without it, new PIDs are stored unverified)
        #[arg(long)]
        claim: bool,
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
midnight). The table ends with the totals and the burn rate now; by day, each
day's cost is also a bar scaled to the largest day. --json prints the groups
as an array; --json --totals one object {groups, total, burn_rate, window}.

Examples:
  plugin-metastore cost
  plugin-metastore cost --since 2026-11-01 --by day
  plugin-metastore cost --since 2026-11-01 --until 2026-12-01 --by plugin --json
  plugin-metastore cost --since 2026-11-01 --json --totals")]
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
or unverified (a process holds it but no identity was recorded, or it was
recorded in another PID namespace). For a process started with `spawn`, the
tree column counts its members that are ours (group) and those in its process
group that cannot be proven ours (unproven, never signalled). Changes
nothing; exits 0 whatever it finds.

Examples:
  plugin-metastore check
  plugin-metastore check --json")]
    Check {
        /// Print a JSON array, one object per stored PID
        #[arg(long)]
        json: bool,
    },

    /// Start a plugin's process detached, recording its whole process tree; prints its PID
    #[command(after_help = "\
The command leads a new session and process group and carries a random token
in its environment (PLUGIN_METASTORE_SPAWN), inherited by its descendants:
`check` lists the tree's members and `reap --kill` stops all of them, even
after the command itself has died. Its output goes to --log FILE (appended)
or /dev/null. A missing plugin or program is an error and nothing is started.

Examples:
  plugin-metastore spawn transcription_voxtral_vllm -- vllm serve mistralai/Voxtral
  plugin-metastore spawn workers_pool --log pool.log -- sh -c 'worker & worker &'")]
    Spawn(crate::spawn::SpawnArgs),

    /// The detaching helper of `spawn` (setsid, then exec)
    #[command(name = "spawn-exec", hide = true)]
    SpawnExec(crate::spawn::SpawnExecArgs),

    /// Remove stored PIDs whose process is gone or not ours; with --kill also stop live ones
    #[command(after_help = "\
exited and reused PIDs are removed and never signalled; unverified PIDs are
kept and never signalled; alive ones are kept, or with --kill stopped
(SIGTERM, --grace seconds, then SIGKILL, the identity re-checked through a
pidfd before each signal) and removed. A tree started with `spawn` is kept
while any of its processes runs, and with --kill stopped whole (SIGTERM to
the leader, then the members; after the grace the group is killed at once,
and members that left the group one by one). Never signalled: this process,
its ancestors, PID 1, kernel threads (their row is kept). Exits non-zero if a
process could not be stopped.

Examples:
  plugin-metastore reap --dry-run
  plugin-metastore reap
  plugin-metastore reap --kill --grace 2 --json")]
    Reap(ReapArgs),

    /// Print one JSON line per plugin change (by any process, or by hand) as it happens
    #[command(after_help = "\
Each line is {\"seq\":N,\"unique_id\":…,\"category\":…,\"name\":…,\"op\":\"insert\"|\"update\"|\"delete\"},
in commit order. A line {\"reset\":true,\"seq\":N} means the change log no longer
reaches back to where the watch was, or the store was replaced (by mv): re-read
everything, then carry on. Starts
at the newest change (or replays from --since SEQ). Stops on Ctrl-C, SIGTERM,
or when its output is closed.

Examples:
  plugin-metastore watch
  plugin-metastore watch --since 0 --interval-ms 50")]
    Watch(WatchArgs),

    /// Write a consistent, checked copy of the store to a new file (mode 0600)
    #[command(after_help = "\
Safe while other processes write: the copy holds every change committed before
it started. PATH is a plain file path, never a URI (file:…, :memory:). The copy
is written under a temporary name beside PATH, checked with integrity_check,
then put in place; it never overwrites a file. A read-only store can be backed up.

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

    /// Print a Datasette metadata document (JSON) for this schema: titles, units, canned cost queries
    #[command(after_help = crate::datasette::EXAMPLES)]
    DatasetteMetadata(crate::datasette::DatasetteArgs),
}
