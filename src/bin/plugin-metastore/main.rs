//! The `plugin-metastore` command-line tool: a thin layer over the library
//! for people and scripts (see the README, section "CLI").
//!
//! Every command parses its arguments, opens the store, makes one library
//! call (or a few reads) and prints. Output goes to stdout in one write; a
//! failure is one line `plugin-metastore: <message>` on stderr and a
//! non-zero exit code (1 for a runtime error, 2 for a usage error), never a
//! panic.
//!
//! Each family of commands is one module holding its clap arguments (their
//! help and examples included) and the `run` of each command: `init`
//! (init, demo), `records` (list, show, export, import), `edit` (delete,
//! pid, container), `cost` (remote-status, cost, history), `processes`
//! (check, reap), `spawn`, `watch`, `backup` (backup, verify) and
//! `datasette`. The store flag `--db`, and how a command opens the store,
//! is `db`'s. This file holds the list of commands and the dispatch.
//!
//! Plugins are named on the command line by their unique id,
//! `{category}_{name}`. Since that id can be split more than one way, an
//! ambiguous id is an error that lists the candidates, and `--category`
//! picks one.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod backup;
mod cost;
mod datasette;
mod db;
mod edit;
mod failure;
mod init;
mod output;
mod processes;
mod records;
mod spawn;
mod target;
mod text;
mod watch;

use db::Db;
use failure::{CliResult, Failure, report};

/// Shown under the top-level `--help`.
const MAIN_EXAMPLES: &str = "\
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
struct Cli {
    #[command(flatten)]
    db: Db,

    #[command(subcommand)]
    command: Command,
}

/// The commands, each with its flags, help and handler in its own module.
#[derive(Debug, Subcommand)]
enum Command {
    /// Create the store (or bring it to the current schema) and say where it is
    Init(init::InitArgs),

    /// Save the example plugins of the Python original, then list the store
    Demo(init::DemoArgs),

    /// List plugins as a table (or JSON), optionally filtered
    List(records::ListArgs),

    /// Show one plugin in full
    Show(records::ShowArgs),

    /// Import plugins from JSON (an array or one object, Python field layout), all or nothing
    Import(records::ImportArgs),

    /// Print every plugin as a JSON array (imports back unchanged)
    Export(records::ExportArgs),

    /// Delete a plugin with its PIDs and remote resource
    Delete(edit::DeleteArgs),

    /// Record or forget child process PIDs of a plugin
    #[command(subcommand)]
    Pid(edit::PidCommand),

    /// Set or clear the Docker container id of a plugin
    #[command(subcommand)]
    Container(edit::ContainerCommand),

    /// Set the status of a plugin's remote resource (e.g. running, stopped)
    RemoteStatus(cost::RemoteStatusArgs),

    /// Running hours and cost of remote resources, per provider, plugin or day
    Cost(cost::CostArgs),

    /// The remote status history of one plugin, oldest first
    History(cost::HistoryArgs),

    /// Tell which stored PIDs are still the processes that were recorded
    Check(processes::CheckArgs),

    /// Start a plugin's process detached, recording its whole process tree; prints its PID
    Spawn(spawn::SpawnArgs),

    /// The detaching helper of `spawn` (setsid, then exec)
    #[command(name = "spawn-exec", hide = true)]
    SpawnExec(spawn::SpawnExecArgs),

    /// Remove stored PIDs whose process is gone or not ours; with --kill also stop live ones
    Reap(processes::ReapArgs),

    /// Print one JSON line per plugin change (by any process, or by hand) as it happens
    Watch(watch::WatchArgs),

    /// Write a consistent, checked copy of the store to a new file (mode 0600)
    Backup(backup::BackupArgs),

    /// Check the store file without changing it: integrity, foreign keys, migrations, every row
    Verify(backup::VerifyArgs),

    /// Print a Datasette metadata document (JSON) for this schema: titles, units, canned cost queries
    DatasetteMetadata(datasette::DatasetteArgs),
}

impl Cli {
    /// Runs the command on the store `--db` names.
    fn run(&self) -> CliResult {
        let db = &self.db;
        match &self.command {
            Command::Init(args) => args.run(db),
            Command::Demo(args) => args.run(db),
            Command::List(args) => args.run(db),
            Command::Show(args) => args.run(db),
            Command::Import(args) => args.run(db),
            Command::Export(args) => args.run(db),
            Command::Delete(args) => args.run(db),
            Command::Pid(cmd) => cmd.run(db),
            Command::Container(cmd) => cmd.run(db),
            Command::RemoteStatus(args) => args.run(db),
            Command::Cost(args) => args.run(db),
            Command::History(args) => args.run(db),
            Command::Check(args) => args.run(db),
            Command::Spawn(args) => args.run(db),
            Command::SpawnExec(args) => args.run(),
            Command::Reap(args) => args.run(db),
            Command::Watch(args) => args.run(db),
            Command::Backup(args) => args.run(db),
            Command::Verify(args) => args.run(db),
            Command::DatasetteMetadata(args) => args.run(db),
        }
    }
}

/// Parses the command line, runs the command, and turns any failure into
/// one line on stderr and a non-zero exit code.
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            report(&message);
            ExitCode::FAILURE
        }
    }
}

/// Handles a clap error: help and version go to stdout as clap renders them;
/// a usage error becomes one line on stderr, exit code 2.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // `plugin-metastore` alone: the help is the most useful answer,
            // but it is still a failed invocation.
            let _ = e.print();
            ExitCode::from(2)
        }
        _ => {
            // clap's message is its first paragraph, then maybe a "tip:"
            // paragraph, then the usage and a "try --help" hint; `report`
            // joins the lines.
            let rendered = e.to_string();
            let mut paragraphs = rendered.split("\n\n").map(str::trim);
            let first = paragraphs.next().unwrap_or_default();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let mut message = if first.is_empty() {
                "invalid command line".to_owned()
            } else {
                first.to_owned()
            };
            for tip in paragraphs.filter(|p| p.starts_with("tip:")) {
                message.push_str("; ");
                message.push_str(tip);
            }
            report(&format!("{message} (see --help)"));
            ExitCode::from(2)
        }
    }
}
