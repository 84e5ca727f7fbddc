//! The `plugin-metastore` command-line tool: a thin layer over the library
//! for people and scripts (see the README, section "CLI").
//!
//! Every command parses its arguments, opens the store, makes one library
//! call (or a few reads) and prints. Output goes to stdout in one write; a
//! failure is one line `plugin-metastore: <message>` on stderr and a
//! non-zero exit code (1 for a runtime error, 2 for a usage error), never a
//! panic.
//!
//! Plugins are named on the command line by their unique id,
//! `{category}_{name}`. Since that id can be split more than one way, an
//! ambiguous id is an error that lists the candidates, and `--category`
//! picks one.

use std::process::ExitCode;

use clap::Parser;

mod args;
mod backup;
mod commands;
mod cost;
mod datasette;
mod failure;
mod output;
mod processes;
mod spawn;
mod target;
mod text;
mod watch;

use args::Cli;
use failure::{Failure, report};

/// Parses the command line, runs the command, and turns any failure into
/// one line on stderr and a non-zero exit code.
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match commands::run(cli) {
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
