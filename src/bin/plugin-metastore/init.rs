//! Making a store: `init`, and `demo` (the example plugins, with one real
//! child process recorded beside the seed's stale PIDs, so `check` has
//! something to tell apart).

use clap::Args;
use plugin_metastore::{MetadataStore, PluginQuery, pid_in_use, seed};

use crate::db::Db;
use crate::failure::CliResult;
use crate::output::{display_path, print, table};
use crate::text::printable;

/// `init` (no flags of its own).
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  plugin-metastore --db plugins.db init")]
pub(crate) struct InitArgs {}

impl InitArgs {
    /// Opens (creating or migrating) the store and says where it is.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let path = db.path()?;
        let existed = path.exists();
        let store = MetadataStore::open(&path)?;
        let version = store.schema_version()?;
        let what = if existed {
            "store is ready"
        } else {
            "created store"
        };
        print(&format!(
            "{what}: {} (schema version {version})\n",
            printable(&path.display().to_string())
        ))
    }
}

/// `demo` (no flags of its own).
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  plugin-metastore --db /tmp/demo.db demo")]
pub(crate) struct DemoArgs {}

impl DemoArgs {
    /// Saves the seed's example plugins that the store does not hold yet
    /// (an existing plugin is never changed), then starts `sleep 600` and
    /// records it as a real child process of the Voxtral plugin.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let store = db.open()?;
        let mut added = Vec::new();
        let mut skipped = Vec::new();
        for mut p in seed::plugins() {
            if store.get(&p.category, &p.name)?.is_some() {
                skipped.push(p.unique_id());
                continue;
            }
            // The seed's PIDs are made up: one that a process holds here
            // belongs to a stranger, and recording it would claim it.
            p.spawned_pids.retain(|&pid| !pid_in_use(pid));
            added.push(p);
        }
        store.save_all(&added)?;
        let mut out = format!(
            "saved {} example plugin{} to {}\n",
            added.len(),
            if added.len() == 1 { "" } else { "s" },
            display_path(&store)
        );
        if !skipped.is_empty() {
            out.push_str(&format!(
                "left alone (already stored): {}\n",
                skipped
                    .iter()
                    .map(|s| printable(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let voxtral = seed::voxtral_vllm();
        if added.iter().any(|p| p.unique_id() == voxtral.unique_id()) {
            out.push_str(&record_child(&store, &voxtral.category, &voxtral.name));
        }
        out.push_str(&table(&store.summaries(&PluginQuery::new())?));
        print(&out)
    }
}

/// Starts `sleep 600` as `spawn` would (detached, its tree recorded) for
/// the plugin; the line that says so, or why it could not.
fn record_child(store: &MetadataStore, category: &str, name: &str) -> String {
    match crate::spawn::spawn_sleep(store, category, name) {
        Ok(pid) => format!(
            "started `sleep 600` as PID {pid} (like `plugin-metastore spawn`) and recorded it for \
             {category}_{name} beside the seed's made-up PIDs: `plugin-metastore check` tells them \
             apart, `plugin-metastore reap --kill` stops it\n"
        ),
        Err(e) => format!("(could not start `sleep` to show a live child process: {e})\n"),
    }
}
