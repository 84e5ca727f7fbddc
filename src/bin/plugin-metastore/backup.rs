//! `backup PATH` and `verify`: a checked copy of the store, and a check of
//! a store file that changes nothing.

use std::path::PathBuf;

use clap::Args;
use plugin_metastore::MetadataStore;

use crate::db::Db;
use crate::failure::{CliResult, Failure};
use crate::output::{print, to_json};
use crate::text::printable;

/// The argument of `backup`.
#[derive(Debug, Args)]
#[command(after_help = "\
Safe while other processes write: the copy holds every change committed before
it started. PATH is a plain file path, never a URI (file:…, :memory:). The copy
is written under a temporary name beside PATH, checked with integrity_check,
then put in place; it never overwrites a file. A read-only store can be backed up.

Example:
  plugin-metastore backup ~/plugins-$(date +%F).db")]
pub(crate) struct BackupArgs {
    /// The new file (must not exist)
    #[arg(value_name = "PATH")]
    path: PathBuf,
}

impl BackupArgs {
    /// `backup PATH`: the library's backup, then what it wrote.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let store = db.open_reading()?;
        let b = store.backup(&self.path)?;
        let s = if b.plugins == 1 { "" } else { "s" };
        print(&format!(
            "backed up {} to {}: {} plugin{s}, schema version {}, {} bytes, integrity_check ok\n",
            crate::output::display_path(&store),
            printable(&b.path.display().to_string()),
            b.plugins,
            b.schema_version,
            b.bytes
        ))
    }
}

/// The flags of `verify`.
#[derive(Debug, Args)]
#[command(after_help = "\
Never migrates and never writes. Exits 0 when the file is sound (pending
migrations are only a note); otherwise prints each problem on its own line
and exits 1.

Examples:
  plugin-metastore verify
  plugin-metastore --db bug-report.db verify --json")]
pub(crate) struct VerifyArgs {
    /// Print the findings as one JSON object
    #[arg(long)]
    json: bool,
}

impl VerifyArgs {
    /// `verify [--json]`: never opens the file as a store (that would migrate
    /// it). Every problem on its own line on stdout; non-zero exit if any.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let path = db.path()?;
        if !path.exists() {
            return Err(Failure(format!("no store at {}", path.display())));
        }
        let report = MetadataStore::verify(&path)?;
        let shown = printable(&path.display().to_string());
        if self.json {
            print(&to_json(&report)?)?;
        } else {
            let mut out = String::new();
            for problem in &report.problems {
                out.push_str(&format!("problem: {}\n", printable(&problem.to_string())));
            }
            for note in &report.notes {
                out.push_str(&format!("note: {}\n", printable(note)));
            }
            if report.is_sound() {
                let s = if report.plugins == 1 { "" } else { "s" };
                out.push_str(&format!(
                    "{shown} is sound: schema version {}, {} plugin{s}\n",
                    report.schema_version, report.plugins
                ));
            }
            print(&out)?;
        }
        match report.problems.len() {
            0 => Ok(()),
            1 => Err(Failure(format!("{shown} has 1 problem"))),
            n => Err(Failure(format!("{shown} has {n} problems"))),
        }
    }
}
