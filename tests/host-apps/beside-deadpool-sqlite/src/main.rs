//! An app with a deadpool-sqlite 0.13 pool and the store in one build.

#[path = "../../round_trip.rs"]
mod round_trip;

#[tokio::main]
async fn main() -> Result<(), String> {
    let pool = deadpool_sqlite::Config::new(":memory:")
        .create_pool(deadpool_sqlite::Runtime::Tokio1)
        .map_err(|e| e.to_string())?;
    let conn = pool.get().await.map_err(|e| e.to_string())?;
    let version: String = conn
        .interact(|conn| conn.query_row("SELECT sqlite_version()", [], |row| row.get(0)))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    // The store blocks while SQLite works: off the async threads.
    tokio::task::spawn_blocking(|| round_trip::store_round_trip(None))
        .await
        .map_err(|e| e.to_string())??;
    println!(
        "beside deadpool-sqlite 0.13 (SQLite {version}): the store saved and read back a plugin"
    );
    Ok(())
}
