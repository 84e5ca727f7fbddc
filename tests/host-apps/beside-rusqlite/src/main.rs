//! An app with its own rusqlite 0.32.1 and the store in one build: both
//! work on the one SQLite cargo linked.

#[path = "../../round_trip.rs"]
mod round_trip;

fn main() -> Result<(), String> {
    let conn = rusqlite::Connection::open_in_memory().map_err(|e| e.to_string())?;
    let version: String = conn
        .query_row("SELECT sqlite_version()", [], |row| row.get(0))
        .map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("beside-rusqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = round_trip::store_round_trip(Some(&dir.join("plugins.db")));
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    println!("beside rusqlite 0.32.1 (SQLite {version}): the store saved and read back a plugin");
    Ok(())
}
