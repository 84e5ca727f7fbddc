//! Is the schema whole? A store's tables, columns, views, indexes and
//! triggers are what its migrations made them; one dropped by hand (a view,
//! a column through a table rebuild) would otherwise be found only when a
//! query fails. The expected objects are the ones the migrations create on
//! an in-memory database (`migrate` computes this build's once per
//! process); a file may hold more (a person's own index or view), never
//! fewer.

use std::collections::BTreeSet;

use rusqlite::Connection;

/// One schema object (`table plugins`) or one column (`column
/// plugins.title`), as words for a message.
pub(crate) type Objects = BTreeSet<String>;

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

/// The objects `runner`'s migrations create on an empty database, or why
/// they could not be made (the caller names the file it was checking).
pub(crate) fn expected_by(runner: refinery::Runner) -> Result<Objects, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        format!("this build's migrations could not be {what} in memory: {e}")
    };
    let mut conn = Connection::open_in_memory().map_err(|e| fail("run", &e))?;
    runner
        .set_grouped(true)
        .run(&mut conn)
        .map_err(|e| fail("run", &e))?;
    read_objects(&conn).map_err(|e| fail("read back", &e))
}

/// Why a store's schema is not whole — it lacks some of the `expected`
/// objects (see [`expected_by`]), each missing object or column named, or
/// it cannot be read — or `None` when it is whole. The caller names the
/// file.
pub(crate) fn lacks(conn: &Connection, expected: &Objects) -> Option<String> {
    // A view whose table lost a column fails here, inside SQLite.
    let found = match read_objects(conn) {
        Ok(found) => found,
        Err(e) => return Some(format!("its schema cannot be read: {e}")),
    };
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
    (!missing.is_empty()).then(|| {
        format!(
            "its schema lacks {} (changed by hand?); the file was left as it is",
            missing.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expected_schema_names_tables_columns_and_views() {
        let expected = expected_by(crate::migrate::runner()).unwrap();
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
