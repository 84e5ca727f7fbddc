//! A Tauri-shaped app: sqlx 0.8 on SQLite (what tauri-plugin-sql 2 uses) and
//! the store in one build, and the app's own serde_json parsing `1.5` into
//! the shapes serde_json's `arbitrary_precision` breaks (cargo would turn it
//! on for the whole app if the crate enabled it).

use std::collections::BTreeMap;

use serde::Deserialize;

#[path = "../../round_trip.rs"]
mod round_trip;

#[derive(Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum Untagged {
    Number(f64),
    Text(String),
}

#[derive(Debug, PartialEq, Deserialize)]
struct Flattened {
    name: String,
    #[serde(flatten)]
    rest: BTreeMap<String, f64>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "kind")]
enum Tagged {
    Scale { factor: f64 },
}

/// The app's own parsing, as it behaves without the crate.
fn host_serde_json() -> Result<(), String> {
    let untagged: Untagged = serde_json::from_str("1.5").map_err(|e| format!("untagged: {e}"))?;
    if untagged != Untagged::Number(1.5) {
        return Err(format!("untagged: {untagged:?}"));
    }
    let flattened: Flattened =
        serde_json::from_str(r#"{"name": "n", "x": 1.5}"#).map_err(|e| format!("flatten: {e}"))?;
    if flattened.rest.get("x") != Some(&1.5) || flattened.name != "n" {
        return Err(format!("flatten: {flattened:?}"));
    }
    let tagged: Tagged = serde_json::from_str(r#"{"kind": "Scale", "factor": 1.5}"#)
        .map_err(|e| format!("internally tagged: {e}"))?;
    if tagged != (Tagged::Scale { factor: 1.5 }) {
        return Err(format!("internally tagged: {tagged:?}"));
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    host_serde_json()?;
    let pool = sqlx::SqlitePool::connect("sqlite::memory:")
        .await
        .map_err(|e| e.to_string())?;
    let (version,): (String,) = sqlx::query_as("SELECT sqlite_version()")
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
    // The store blocks while SQLite works: off the async threads.
    tokio::task::spawn_blocking(|| round_trip::store_round_trip(None))
        .await
        .map_err(|e| e.to_string())??;
    println!(
        "beside sqlx 0.8 (SQLite {version}): the store saved and read back a plugin; \
         the app's serde_json parsed 1.5 untagged, flattened and internally tagged"
    );
    Ok(())
}
