//! `backup PATH` and `verify`: a checked copy of the store, and a check of
//! a store file that changes nothing.

use std::path::Path;

use plugin_metastore::MetadataStore;

use crate::failure::{CliResult, Failure};
use crate::output::{print, to_json};
use crate::text::printable;

/// `backup PATH`: the library's backup, then what it wrote.
pub(crate) fn backup(store: &MetadataStore, path: &Path) -> CliResult {
    let b = store.backup(path)?;
    let s = if b.plugins == 1 { "" } else { "s" };
    print(&format!(
        "backed up {} to {}: {} plugin{s}, schema version {}, {} bytes, integrity_check ok\n",
        crate::output::display_path(store),
        printable(&b.path.display().to_string()),
        b.plugins,
        b.schema_version,
        b.bytes
    ))
}

/// `verify [--json]`: never opens the file as a store (that would migrate
/// it). Every problem on its own line on stdout; non-zero exit if any.
pub(crate) fn verify(path: &Path, json: bool) -> CliResult {
    if !path.exists() {
        return Err(Failure(format!("no store at {}", path.display())));
    }
    let report = MetadataStore::verify(path)?;
    let shown = printable(&path.display().to_string());
    if json {
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
