//! What every fixture app does with the store: save a plugin and read it
//! back, from a file when `path` is given, else in memory. Shared by the
//! apps through `#[path]` (each app is its own cargo project).

use std::path::Path;

use plugin_metastore::{MetadataStore, PluginMetadata};

/// Saves one plugin, reads it back and checks it is the same.
pub fn store_round_trip(path: Option<&Path>) -> Result<(), String> {
    let store = match path {
        Some(path) => MetadataStore::open(path),
        None => MetadataStore::open_in_memory(),
    }
    .map_err(|e| format!("open: {e}"))?;
    let mut plugin = PluginMetadata::new(
        "whisper_tiny",
        "transcription",
        "Whisper (tiny)",
        serde_json::json!({"type": "object", "properties": {"beam": {"default": 1.5}}}),
    );
    plugin.spawned_pids = vec![4242];
    store.save(&plugin).map_err(|e| format!("save: {e}"))?;
    let back = store
        .get("transcription", "whisper_tiny")
        .map_err(|e| format!("get: {e}"))?
        .ok_or("get: the saved plugin is missing")?;
    if back != plugin {
        return Err(format!("read back {back:?}, saved {plugin:?}"));
    }
    Ok(())
}
