//! A desktop app shaped like a Tauri app, on the async handle.
//!
//! ```sh
//! cargo run --example desktop_app --features async -- [--db FILE] [--smoke]
//! ```
//!
//! What a Tauri app would do, without Tauri:
//! - at start-up, open the store (synchronously, once), `register` the
//!   app's plugins (keeping what a crashed run left), then `check_pids`
//!   and `reap` what is gone;
//! - keep one [`AsyncStore`] in the app's state (in Tauri:
//!   `app.manage(AppState { store })`, then `State<'_, AppState>` in each
//!   command) and call it from async "commands" on many tasks at once;
//! - forward the change feed to the UI through a channel (in Tauri:
//!   `app.emit("plugins-changed", …)`), so the window refreshes what
//!   changed, from this app or any other process;
//! - `close().await` before the process exits.
//!
//! `--smoke` (what CI runs) does a few rounds and exits in about a second;
//! without it the app runs for ten seconds. Without `--db` the store is in
//! a temporary directory.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt;
use plugin_metastore::{
    AsyncStore, Changes, CostQuery, PluginExecutionMode, PluginMetadata, PluginQuery,
    PluginSummary, ReapOptions, Result,
};
use serde_json::json;
use tokio::sync::mpsc;

/// What the app keeps in its state: `AsyncStore` is `Clone + Send + Sync`,
/// so it can be Tauri `State` as is.
struct AppState {
    store: AsyncStore,
}

/// A message to the UI.
#[derive(Debug)]
enum UiEvent {
    /// These plugins changed: refresh their rows.
    Changed(Vec<String>),
    /// The feed lost track: reload everything.
    Reload,
    /// The feed could not be read this time.
    FeedError(String),
}

// The "commands": what the webview would invoke. Each borrows the state
// only to clone what it needs and awaits the store without blocking the
// runtime.

/// The plugin list for the main window.
async fn list_plugins(state: &AppState) -> Result<Vec<PluginSummary>> {
    state.store.summaries(PluginQuery::new()).await
}

/// The user edits a plugin's configuration.
async fn configure(state: &AppState, category: &str, name: &str, round: u64) -> Result<bool> {
    let Some(mut plugin) = state.store.get(category, name).await? else {
        return Ok(false);
    };
    plugin.is_configured = true;
    plugin.description = Some(format!("configured in round {round}"));
    state.store.save(plugin).await?;
    Ok(true)
}

/// A plugin's cloud job changes state (a write with no method of its own).
async fn set_status(state: &AppState, category: &str, name: &str, status: &str) -> Result<()> {
    let (category, name, status) = (category.to_owned(), name.to_owned(), status.to_owned());
    state
        .store
        .write(move |s| s.set_remote_status(&category, &name, &status))
        .await?;
    Ok(())
}

/// Spend so far, for the status bar (0 while no rate is known).
async fn total_cost(state: &AppState) -> Result<f64> {
    let report = state.store.cost_report(CostQuery::new()).await?;
    Ok(report.total.cost_usd.unwrap_or(0.0))
}

/// The app's plugins, as it would declare them at start-up.
fn app_plugins() -> Vec<PluginMetadata> {
    let mut plugins = Vec::new();
    for i in 0..8u32 {
        let mut p = PluginMetadata::new(
            format!("model_{i}"),
            if i.is_multiple_of(2) {
                "transcription"
            } else {
                "llm"
            },
            format!("Model {i}"),
            json!({"type": "object", "properties": {"size": {"type": "string"}}}),
        );
        if i == 7 {
            p.execution_mode = PluginExecutionMode::CloudGpu;
            let mut r =
                plugin_metastore::RemoteResourceInfo::new(plugin_metastore::CloudProviderType::Aws);
            r.status = "stopped".into();
            r.estimated_cost_per_hour = Some(2.5);
            p.remote_resource = Some(r);
        }
        plugins.push(p);
    }
    plugins
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("desktop_app: {e}");
        std::process::exit(1);
    }
}

async fn run() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut db, mut smoke) = (None, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => smoke = true,
            "--db" => db = Some(PathBuf::from(args.next().ok_or("--db needs a file")?)),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let dir = tempfile::tempdir()?;
    let db = db.unwrap_or_else(|| dir.path().join("plugins.db"));

    // Start-up: open (sync, migrates), register, check, reap.
    let store = AsyncStore::open(&db)?;
    let mut new = 0;
    for plugin in app_plugins() {
        new += usize::from(store.register(plugin).await?);
    }
    let checks = store.check_pids().await?;
    let reaped = store.reap(ReapOptions::new()).await?;
    println!(
        "start-up: {new} new plugins, {} PIDs checked, {} reaped",
        checks.len(),
        reaped.len()
    );
    let state = AppState { store };

    // The change feed, forwarded to the UI's channel.
    let (ui, mut events) = mpsc::channel::<UiEvent>(64);
    let mut feed = state.store.changes_every(
        state.store.change_cursor().await?,
        Duration::from_millis(50),
    );
    let forwarder = tokio::spawn(async move {
        while let Some(item) = feed.next().await {
            let event = match item {
                Ok(Changes::Reset { .. }) => UiEvent::Reload,
                Ok(changes) => UiEvent::Changed(
                    changes
                        .changes()
                        .iter()
                        .map(|c| c.unique_id.clone())
                        .collect(),
                ),
                Err(e) => UiEvent::FeedError(e.to_string()),
            };
            if ui.send(event).await.is_err() {
                break; // the window is gone
            }
        }
    });
    let window = tokio::spawn(async move {
        let mut refreshed = 0usize;
        while let Some(event) = events.recv().await {
            match event {
                UiEvent::Changed(ids) => refreshed += ids.len(),
                UiEvent::Reload => println!("ui: reload everything"),
                UiEvent::FeedError(e) => println!("ui: change feed error: {e}"),
            }
        }
        refreshed
    });

    // The app runs: several commands at once, on the shared state.
    let state = std::sync::Arc::new(state);
    let run_for = if smoke {
        Duration::from_millis(800)
    } else {
        Duration::from_secs(10)
    };
    let started = Instant::now();
    let mut round = 0u64;
    while started.elapsed() < run_for {
        round += 1;
        let mut commands = tokio::task::JoinSet::new();
        for i in 0..8u64 {
            let state = state.clone();
            commands.spawn(async move {
                let category = if i.is_multiple_of(2) {
                    "transcription"
                } else {
                    "llm"
                };
                match i {
                    0 => list_plugins(&state).await.map(|rows| rows.len() as f64),
                    1 => total_cost(&state).await,
                    7 => {
                        let status = if round.is_multiple_of(2) {
                            "running"
                        } else {
                            "stopped"
                        };
                        set_status(&state, "llm", "model_7", status)
                            .await
                            .map(|()| 0.0)
                    }
                    _ => configure(&state, category, &format!("model_{i}"), round)
                        .await
                        .map(f64::from),
                }
            });
        }
        while let Some(done) = commands.join_next().await {
            done??;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Let the feed catch up with the last round, then close before exit:
    // it finishes queued work and ends the feed, which ends the UI task.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let plugins = list_plugins(&state).await?.len();
    state.store.close().await?;
    forwarder.await?;
    let refreshed = window.await?;
    println!("{round} rounds of 8 commands; {plugins} plugins; the UI refreshed {refreshed} rows");
    if refreshed == 0 {
        return Err("the UI heard of no change".into());
    }
    Ok(())
}
