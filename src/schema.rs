//! Is the schema whole? A store's tables, columns, views, indexes and
//! triggers are what its migrations made them; one dropped by hand (a view,
//! a column through a table rebuild) would otherwise be found only when a
//! query fails. The expected objects are the ones this build's migrations
//! create, read once per process from an in-memory database; a file may hold
//! more (a person's own index or view), never fewer.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use rusqlite::Connection;

use crate::error::{Error, Result};

/// One schema object (`table plugins`) or one column (`column
/// plugins.title`), as words for a message.
type Objects = BTreeSet<String>;

/// Every object and column of the file, but SQLite's own.
const OBJECTS: &str = "SELECT m.type, m.name, p.name FROM sqlite_master m \
     LEFT JOIN pragma_table_info(m.name) p ON m.type IN ('table', 'view') \
     WHERE m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";

fn read_objects(conn: &Connection) -> rusqlite::Result<Objects> {
    let mut stmt = conn.prepare_cached(OBJECTS)?;
    let mut rows = stmt.query([])?;
    let mut found = Objects::new();
    while let Some(row) = rows.next()? {
        let (kind, name): (String, String) = (row.get(0)?, row.get(1)?);
        if let Some(column) = row.get::<_, Option<String>>(2)? {
            found.insert(format!("column {name}.{column}"));
        }
        found.insert(format!("{kind} {name}"));
    }
    Ok(found)
}

/// The objects `runner`'s migrations create on an empty database.
fn expected_by(runner: refinery::Runner) -> Result<Objects> {
    let mut conn = Connection::open_in_memory()?;
    runner
        .set_grouped(true)
        .run(&mut conn)
        .map_err(|e| Error::Migration {
            path: ":memory:".into(),
            reason: e.to_string(),
            source: Some(e),
        })?;
    Ok(read_objects(&conn)?)
}

/// The objects this build's migrations create, computed once.
fn expected() -> Result<&'static Objects> {
    static EXPECTED: OnceLock<std::result::Result<Objects, String>> = OnceLock::new();
    EXPECTED
        .get_or_init(|| expected_by(crate::migrate::runner()).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::Migration {
            path: ":memory:".into(),
            reason: e.clone(),
            source: None,
        })
}

/// Refuses a store whose schema lacks something this build's migrations
/// made, naming each missing object or column; `runner` is the set of
/// migrations the file is current with (this build's, but for tests).
pub(crate) fn check_objects(
    conn: &Connection,
    path: &Path,
    runner: Option<refinery::Runner>,
) -> Result<()> {
    let owned;
    let expected = match runner {
        None => expected()?,
        Some(runner) => {
            owned = expected_by(runner)?;
            &owned
        }
    };
    let damaged = |reason: String| Error::Damaged {
        path: path.into(),
        reason,
    };
    // A view whose table lost a column fails here, inside SQLite.
    let found =
        read_objects(conn).map_err(|e| damaged(format!("its schema cannot be read: {e}")))?;
    let missing: Vec<&str> = expected
        .iter()
        .filter(|o| !found.contains(*o))
        .map(String::as_str)
        .collect();
    // A missing table or view is named once, not with each of its columns.
    let gone = |column: &str| {
        column
            .strip_prefix("column ")
            .and_then(|c| c.split_once('.'))
            .is_some_and(|(object, _)| {
                missing.contains(&format!("table {object}").as_str())
                    || missing.contains(&format!("view {object}").as_str())
            })
    };
    let missing: Vec<&str> = missing.iter().copied().filter(|m| !gone(m)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(damaged(format!(
        "its schema lacks {} (changed by hand?); the file was left as it is",
        missing.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expected_schema_names_tables_columns_and_views() {
        let expected = expected().unwrap();
        for object in [
            "table plugins",
            "column plugins.title",
            "column plugin_pids.start_time",
            "view plugin_overview",
            "index plugins_by_execution_mode",
        ] {
            assert!(expected.contains(object), "{object}: {expected:?}");
        }
    }
}
