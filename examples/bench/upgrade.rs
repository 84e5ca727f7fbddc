//! `upgrade_v9`: how long opening a store of N plugins written before
//! migration V9 takes with this build (the migration runs then: it edits
//! two tables' CHECKs in place, rows untouched). The file is a store saved
//! with this build and put back to version 8 by hand: the two tables' V1
//! `CREATE` texts restored in `sqlite_master` and V9's history row
//! removed, which is exactly what a version-8 store holds. The line gives
//! the open's time and the time of an open of the same file once current.

use std::path::Path;
use std::time::Instant;

use plugin_metastore::{MetadataStore, PluginMetadata};
use rusqlite::Connection;

use crate::R;

/// The `CREATE TABLE` statement of `table` in migration V1, as SQLite
/// stores it (without the `;`).
fn v1_create(table: &str) -> R<&'static str> {
    let v1 = include_str!("../../migrations/V1__initial_schema.sql");
    let start = v1
        .find(&format!("CREATE TABLE {table} ("))
        .ok_or("V1 has no such table")?;
    let len = v1[start..].find(");").ok_or("V1's statement has no end")?;
    Ok(&v1[start..start + len + 1])
}

/// `{"bench":"upgrade_v9",…}` for `plugins` saved into a new file in `dir`.
pub fn run(dir: &Path, plugins: &[PluginMetadata]) -> R<String> {
    let path = dir.join("upgrade.db");
    let store = MetadataStore::open(&path)?;
    store.save_all(plugins)?;
    drop(store);
    let conn = Connection::open(&path)?;
    conn.execute_batch("BEGIN; PRAGMA writable_schema = ON;")?;
    for table in ["plugins", "remote_resources"] {
        conn.execute(
            "UPDATE sqlite_master SET sql = ?1 WHERE type = 'table' AND name = ?2",
            [v1_create(table)?, table],
        )?;
    }
    conn.execute_batch(
        "PRAGMA writable_schema = RESET; \
         DELETE FROM refinery_schema_history WHERE version = 9; \
         CREATE TABLE bench_bump (x); DROP TABLE bench_bump; COMMIT;",
    )?;
    drop(conn);
    let start = Instant::now();
    let store = MetadataStore::open(&path)?;
    let upgrade_ms = start.elapsed().as_secs_f64() * 1000.0;
    if store.schema_version()? != 9 || store.count(&Default::default())? != plugins.len() as u64 {
        return Err("the upgraded store is not whole".into());
    }
    drop(store);
    let conn = Connection::open(&path)?;
    let in_lists: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
         AND (sql LIKE '%execution_mode IN (%' OR sql LIKE '%provider IN (%')",
        [],
        |r| r.get(0),
    )?;
    if in_lists != 0 {
        return Err("V9 left an IN list in a CHECK".into());
    }
    drop(conn);
    let start = Instant::now();
    drop(MetadataStore::open(&path)?);
    let current_ms = start.elapsed().as_secs_f64() * 1000.0;
    crate::remove_db(&path);
    Ok(format!(
        "{{\"bench\":\"upgrade_v9\",\"n\":{},\"upgrade_open_ms\":{upgrade_ms:.1},\
         \"current_open_ms\":{current_ms:.1}}}",
        plugins.len()
    ))
}
