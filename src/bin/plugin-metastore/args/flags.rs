//! The flags of the commands that have more than a few, and the parsers
//! of their values: what each means for the library.

use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use plugin_metastore::{
    CloudProviderType, CostGrouping, CostQuery, PluginExecutionMode, PluginQuery,
};

use crate::failure::reason;
use crate::target::Target;

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
    /// With --json: print one object {groups, total, burn_rate, window} instead
    #[arg(long, requires = "json")]
    pub(crate) totals: bool,
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
pub(super) fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
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
