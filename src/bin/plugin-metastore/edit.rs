//! Changing one plugin: `delete`, `pid add|remove|clear` and
//! `container set|clear`. Each names the plugin by its key only, so one
//! with a bad value in the file can still be repaired or deleted.

use clap::{Args, Subcommand};

use crate::db::Db;
use crate::failure::{CliResult, Failure};
use crate::output::print;
use crate::target::{Target, find_key, not_found};

/// The arguments of `delete`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  plugin-metastore delete transcription_whisper_tiny")]
pub(crate) struct DeleteArgs {
    #[command(flatten)]
    target: Target,
}

impl DeleteArgs {
    /// Deletes the plugin with its PIDs and remote resource.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let store = db.open_existing()?;
        let p = find_key(&store, &self.target)?;
        if !store.delete(&p.category, &p.name)? {
            return Err(not_found(&self.target.id));
        }
        print(&format!("deleted {}\n", p.unique_id()))
    }
}

/// The `pid` subcommands.
#[derive(Debug, Subcommand)]
#[command(
    arg_required_else_help = false,
    after_help = "\
Examples:
  plugin-metastore pid add transcription_voxtral_vllm 4242
  plugin-metastore pid remove transcription_voxtral_vllm 4242
  plugin-metastore pid clear transcription_voxtral_vllm"
)]
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

impl PidCommand {
    /// `pid add|remove|clear`.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let store = db.open_existing()?;
        match self {
            PidCommand::Add { target, pid } => {
                let p = find_key(&store, target)?;
                let what = if store.add_pid(&p.category, &p.name, *pid)? {
                    "added PID"
                } else {
                    "re-recorded the process identity of PID"
                };
                print(&format!("{what} {pid} to {}\n", p.unique_id()))
            }
            PidCommand::Remove { target, pid } => {
                let p = find_key(&store, target)?;
                if !store.remove_pid(&p.category, &p.name, *pid)? {
                    return Err(Failure(format!(
                        "PID {pid} is not recorded for {}",
                        p.unique_id()
                    )));
                }
                print(&format!("removed PID {pid} from {}\n", p.unique_id()))
            }
            PidCommand::Clear { target } => {
                let p = find_key(&store, target)?;
                let n = store.clear_pids(&p.category, &p.name)?;
                let s = if n == 1 { "" } else { "s" };
                print(&format!("removed {n} PID{s} from {}\n", p.unique_id()))
            }
        }
    }
}

/// Parses a PID: 1 ..= 4294967295, every other value the same usage error.
fn parse_pid(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(0) => Err("PID 0 is not a process".to_owned()),
        Ok(pid) => Ok(pid),
        Err(_) => Err(format!("{s:?} is not a PID (1 ..= 4294967295)")),
    }
}

/// The `container` subcommands.
#[derive(Debug, Subcommand)]
#[command(
    arg_required_else_help = false,
    after_help = "\
Examples:
  plugin-metastore container set transcription_whisper_tiny 3f4e5d6c7b8a
  plugin-metastore container clear transcription_whisper_tiny"
)]
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

impl ContainerCommand {
    /// `container set|clear`.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let store = db.open_existing()?;
        match self {
            ContainerCommand::Set {
                target,
                container_id,
            } => {
                let p = find_key(&store, target)?;
                store.set_container_id(&p.category, &p.name, Some(container_id))?;
                print(&format!(
                    "container of {} set to {container_id:?}\n",
                    p.unique_id()
                ))
            }
            ContainerCommand::Clear { target } => {
                let p = find_key(&store, target)?;
                store.set_container_id(&p.category, &p.name, None)?;
                print(&format!("container of {} cleared\n", p.unique_id()))
            }
        }
    }
}
