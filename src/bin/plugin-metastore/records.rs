//! Plugins as records: `list` (a table or JSON, filtered), `show` one,
//! `export` all as JSON, and `import` JSON back, all or nothing.

use std::io::{self, Read};

use clap::Args;
use plugin_metastore::{
    CloudProviderType, Error, PluginExecutionMode, PluginMetadata, PluginQuery,
};

use crate::db::Db;
use crate::failure::{CliResult, Failure, plain, reason, warn};
use crate::output::{details, display_path, print, print_records, table, to_json};
use crate::target::{Target, find};

/// `--skip-bad`, the same flag for `list` and `export`.
#[derive(Debug, Args)]
struct SkipBad {
    /// Leave out plugins that cannot be read, naming each on stderr
    #[arg(long)]
    skip_bad: bool,
}

/// The filters and format of `list`.
#[derive(Debug, Args)]
#[command(after_help = "\
Filters combine with AND; a repeated --mode, --provider, --category or
--status means any of them.

Examples:
  plugin-metastore list
  plugin-metastore list --mode cloud_gpu --provider aws --provider lambda_labs
  plugin-metastore list --active --local
  plugin-metastore list --category transcription --json")]
pub(crate) struct ListArgs {
    /// Only this execution mode (repeatable): in_process, subprocess, docker,
    /// conda_env, external_service, cloud_gpu, cloud_api, remote_server, hybrid
    #[arg(long = "mode", value_name = "MODE", value_parser = parse_mode)]
    modes: Vec<PluginExecutionMode>,
    /// Only this cloud provider (repeatable): aws, gcp, azure, lambda_labs,
    /// runpod, vast_ai, paperspace, coreweave, custom
    #[arg(long = "provider", value_name = "PROVIDER", value_parser = parse_provider)]
    providers: Vec<CloudProviderType>,
    /// Only this category (repeatable)
    #[arg(long = "category", value_name = "CATEGORY")]
    categories: Vec<String>,
    /// Only this remote resource status, e.g. running (repeatable)
    #[arg(long = "status", value_name = "STATUS")]
    statuses: Vec<String>,
    /// Only plugins holding active resources (PIDs, a container, a running remote resource)
    #[arg(long, conflicts_with = "inactive")]
    active: bool,
    /// Only plugins holding no active resources
    #[arg(long)]
    inactive: bool,
    /// Only local execution modes
    #[arg(long, conflicts_with = "cloud")]
    local: bool,
    /// Only cloud and remote execution modes
    #[arg(long)]
    cloud: bool,
    /// Print a JSON array of full records instead of the table
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    bad: SkipBad,
}

impl ListArgs {
    /// The table of the plugins these flags select (or their full records
    /// as JSON); an unreadable row stops it unless `--skip-bad`.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let store = db.open_reading()?;
        let skip_bad = self.bad.skip_bad;
        if self.json {
            return print_records(&store, &self.query(), skip_bad);
        }
        let listed = if skip_bad {
            store
                .summaries_readable(&self.query())
                .map(|(rows, skipped)| {
                    for e in &skipped {
                        warn(&format!("skipped a plugin that cannot be read: {e}"));
                    }
                    rows
                })
        } else {
            store.summaries(&self.query())
        };
        match listed {
            Ok(rows) => print(&table(&rows)),
            Err(e @ Error::BadData { .. }) => Err(Failure(format!(
                "{e}; `list --skip-bad` lists the rest and names such rows"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// The library query these flags mean.
    fn query(&self) -> PluginQuery {
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

/// The arguments of `show`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  plugin-metastore show transcription_whisper_tiny
  plugin-metastore show finetuning_llm_finetune_aws --json")]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    target: Target,
    /// Print the record as JSON (the Python field layout)
    #[arg(long)]
    json: bool,
}

impl ShowArgs {
    /// One plugin in full, as text or JSON.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let plugin = find(&db.open_reading()?, &self.target)?;
        if self.json {
            print(&to_json(&plugin)?)
        } else {
            print(&details(&plugin))
        }
    }
}

/// The flags of `export`.
#[derive(Debug, Args)]
#[command(after_help = "\
A plugin with a value that cannot be read (forced into the file by hand)
stops the export; --skip-bad exports the rest and names each bad row on
stderr.

Examples:
  plugin-metastore export > plugins.json
  plugin-metastore export | plugin-metastore --db copy.db import -")]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    bad: SkipBad,
}

impl ExportArgs {
    /// Every plugin as one JSON array, which imports back unchanged.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        print_records(&db.open_reading()?, &PluginQuery::new(), self.bad.skip_bad)
    }
}

/// The arguments of `import`.
#[derive(Debug, Args)]
#[command(after_help = "\
Records replace the plugins with the same (category, name). If any record is
invalid nothing is written.

Examples:
  plugin-metastore import plugins.json
  python3 dump_plugins.py | plugin-metastore import -")]
pub(crate) struct ImportArgs {
    /// The JSON file, or - for standard input
    #[arg(value_name = "FILE|-")]
    file: String,
    /// Record the processes that hold the imported PIDs here now as the
    /// plugins' own (without it, new PIDs are stored unverified)
    #[arg(long)]
    claim: bool,
}

impl ImportArgs {
    /// `import FILE|-`: reads and checks every record before the store is
    /// even opened, then saves them all in one transaction. PIDs new to
    /// their plugin are stored unverified unless `--claim`.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let file = self.file.as_str();
        let (label, text) = if file == "-" {
            let mut text = String::new();
            io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Failure(format!("cannot read standard input: {e}")))?;
            ("<stdin>".to_owned(), text)
        } else {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Failure(format!("cannot read {file}: {e}")))?;
            (file.to_owned(), text)
        };
        let plugins = parse_records(&label, &text)?;
        // Two records with one key would store one plugin and report two.
        let mut seen = std::collections::HashMap::new();
        for (i, p) in plugins.iter().enumerate() {
            if let Some(first) = seen.insert((&p.category, &p.name), i + 1) {
                return Err(Failure(format!(
                    "{label}: records {first} and {} are the same plugin (category {:?}, name {:?})",
                    i + 1,
                    p.category,
                    p.name
                )));
            }
        }
        for (i, p) in plugins.iter().enumerate() {
            p.validate().map_err(|e| {
                Failure(format!(
                    "{label}: record {} ({}): {}",
                    i + 1,
                    p.unique_id(),
                    plain(&e)
                ))
            })?;
        }
        let store = db.open()?;
        let pids = if self.claim {
            store.save_all(&plugins)?;
            String::new()
        } else {
            match store.save_all_unclaimed(&plugins)? {
                0 => String::new(),
                n => format!(
                    "{n} PID{} stored unverified (not claimed: the processes holding them here \
                     are never signalled; `import --claim` records them as the plugins' own)\n",
                    if n == 1 { "" } else { "s" }
                ),
            }
        };
        let s = if plugins.len() == 1 { "" } else { "s" };
        print(&format!(
            "imported {} plugin{s} from {label} into {}\n{pids}",
            plugins.len(),
            display_path(&store)
        ))
    }
}

/// Reads records with the library's [`PluginMetadata::from_json_records`];
/// errors name the source, and the line and column when serde knows them
/// (its message names the offending value, e.g. an unknown enum string).
fn parse_records(label: &str, text: &str) -> CliResult<Vec<PluginMetadata>> {
    PluginMetadata::from_json_records(text).map_err(|e| match e {
        Error::Json(e) if e.line() > 0 => {
            let message = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let message = message.strip_suffix(&suffix).unwrap_or(&message);
            Failure(format!("{label}:{}:{}: {message}", e.line(), e.column()))
        }
        Error::Json(e) => Failure(format!("{label}: {e}")),
        other => Failure(format!("{label}: {}", reason(&other))),
    })
}
