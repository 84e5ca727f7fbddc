//! Process identity on the command line: `check` (which stored PIDs are
//! still the recorded processes) and `reap` (forget, or stop, the rest).

use std::time::Duration;

use clap::Args;
use comfy_table::{ContentArrangement, Table, presets};
use plugin_metastore::{PidCheck, ReapAction, ReapOptions, Reaped};

use crate::db::Db;
use crate::failure::{CliResult, Failure};
use crate::output::{print, to_json};
use crate::text::printable;

/// The flags of `check`.
#[derive(Debug, Args)]
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
pub(crate) struct CheckArgs {
    /// Print a JSON array, one object per stored PID
    #[arg(long)]
    json: bool,
}

impl CheckArgs {
    /// `check [--json]`: the state of every stored PID, a table with
    /// counts or a JSON array.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let checks = db.open_reading()?.check_pids()?;
        if self.json {
            return print(&to_json(&checks)?);
        }
        if checks.is_empty() {
            return print("no stored PIDs\n");
        }
        let mut t = new_table(&["unique id", "PID", "state", "tree", "recorded at", "why"]);
        for c in &checks {
            t.add_row([
                printable(&c.unique_id),
                c.pid.to_string(),
                c.state.to_string(),
                tree(c),
                recorded(c),
                c.detail.clone(),
            ]);
        }
        let mut counts = Vec::new();
        for state in ["alive", "exited", "reused", "unverified"] {
            let n = checks.iter().filter(|c| c.state.as_str() == state).count();
            if n > 0 {
                counts.push(format!("{n} {state}"));
            }
        }
        print(&format!(
            "{t}\n{} stored PID{}: {}\n",
            checks.len(),
            if checks.len() == 1 { "" } else { "s" },
            counts.join(", ")
        ))
    }
}

/// The flags of `reap`.
#[derive(Debug, Args)]
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
pub(crate) struct ReapArgs {
    /// Report what would happen and change nothing
    #[arg(long)]
    dry_run: bool,
    /// Also stop alive processes, then remove them
    #[arg(long)]
    kill: bool,
    /// Seconds a process has to exit after SIGTERM before SIGKILL
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_grace)]
    grace: Duration,
    /// Print a JSON array, one object per stored PID
    #[arg(long)]
    json: bool,
}

impl ReapArgs {
    /// `reap [--dry-run] [--kill] [--grace SECS] [--json]`; fails (after
    /// printing) if a process could not be stopped.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let options = ReapOptions::new()
            .kill(self.kill)
            .grace(self.grace)
            .dry_run(self.dry_run);
        let reaped = db.open_existing()?.reap(&options)?;
        if self.json {
            print(&to_json(&reaped)?)?;
        } else {
            print(&reap_table(&reaped, self.dry_run))?;
        }
        let failed = reaped
            .iter()
            .filter(|r| r.action == ReapAction::Failed)
            .count();
        if failed > 0 {
            return Err(Failure(format!(
                "{failed} process{} could not be stopped and stay recorded",
                if failed == 1 { "" } else { "es" }
            )));
        }
        Ok(())
    }
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

/// The `reap` table and its summary line.
fn reap_table(reaped: &[Reaped], dry_run: bool) -> String {
    if reaped.is_empty() {
        return "no stored PIDs\n".to_owned();
    }
    let action = if dry_run { "would be" } else { "action" };
    let mut t = new_table(&["unique id", "PID", "state", action, "why"]);
    for r in reaped {
        let why = r.reason.clone().unwrap_or_else(|| r.check.detail.clone());
        t.add_row([
            printable(&r.check.unique_id),
            r.check.pid.to_string(),
            r.check.state.to_string(),
            r.action.to_string(),
            why,
        ]);
    }
    let counts: Vec<String> = [
        ReapAction::Removed,
        ReapAction::Killed,
        ReapAction::Kept,
        ReapAction::Failed,
    ]
    .iter()
    .map(|a| {
        let n = reaped.iter().filter(|r| r.action == *a).count();
        format!("{n} {a}")
    })
    .collect();
    let note = if dry_run {
        " (dry run: nothing was changed)"
    } else {
        ""
    };
    format!("{t}\n{}{note}\n", counts.join(", "))
}

/// A tree row's counts: `group 3, unproven 1`; `-` for a single process.
fn tree(c: &PidCheck) -> String {
    match c.pgid {
        None => "-".to_owned(),
        Some(_) => format!("group {}, unproven {}", c.group.len(), c.unproven.len()),
    }
}

/// When the PID was recorded, `-` for rows from before identities.
fn recorded(c: &PidCheck) -> String {
    c.recorded_at.clone().unwrap_or_else(|| "-".to_owned())
}

fn new_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}
