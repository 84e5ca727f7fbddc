//! Is the schema whole? A store's tables, columns, views, indexes and
//! triggers are what its migrations made them; one dropped by hand (a view,
//! a column through a table rebuild) would otherwise be found only when a
//! query fails. The expected objects are the ones the migrations create on
//! an in-memory database (`migrate` computes this build's once per
//! process); a file may hold more (a person's own index or view), never
//! fewer.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;

/// One schema object (`table plugins`) or one column (`column
/// plugins.title`), as words for a message.
pub(crate) type Objects = BTreeSet<String>;

/// A file's schema objects as `sqlite_master` lists them, but SQLite's
/// own: `(type, name, sql)` (`sql` for tables and views only), in
/// `(type, name)` order. One plain scan, the
/// first read of every open (`open::check_file`).
pub(crate) type Listing = Vec<(String, String, Option<String>)>;

/// Reads the [`Listing`] of the file.
pub(crate) fn list(conn: &Connection) -> rusqlite::Result<Listing> {
    let mut stmt = conn.prepare_cached(
        "SELECT type, name, CASE WHEN type IN ('table', 'view') THEN sql END FROM sqlite_master \
         WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
}

/// What a store's schema must hold: its objects and the columns of its
/// tables and views ([`Objects`]), and each object's `CREATE` text by
/// `(type, name)`.
#[derive(Debug)]
pub(crate) struct Expected {
    pub(crate) objects: Objects,
    texts: BTreeMap<(String, String), Option<String>>,
}

impl Expected {
    /// Whether `(kind, name)` is an object this build's migrations create,
    /// with exactly this `CREATE` text.
    pub(crate) fn made(&self, kind: &str, name: &str, sql: Option<&str>) -> bool {
        self.texts
            .get(&(kind.to_owned(), name.to_owned()))
            .is_some_and(|text| text.as_deref() == sql)
    }
}

/// The objects and columns of a file with `listing`. A table or view
/// whose `CREATE` text is the one `expected` has (every one of a store
/// nobody altered) has exactly the expected columns: SQLite keeps an
/// object's columns in that text (`ALTER TABLE` rewrites it), so only one
/// with another text is asked for its columns (`pragma_table_info`, which
/// compiles its definition, a view's whole SELECT: most of the time of this
/// check when done for all). A view that no longer compiles (its table
/// lost a column) fails there.
fn objects_of(
    conn: &Connection,
    listing: &Listing,
    expected: Option<&Expected>,
) -> rusqlite::Result<Objects> {
    let mut found = Objects::new();
    for (kind, name, sql) in listing {
        found.insert(format!("{kind} {name}"));
        if kind != "table" && kind != "view" {
            continue;
        }
        match expected {
            Some(e) if e.made(kind, name, sql.as_deref()) => {
                let prefix = format!("column {name}.");
                let columns = e.objects.range(prefix.clone()..);
                found.extend(columns.take_while(|c| c.starts_with(&prefix)).cloned());
            }
            _ => {
                let mut stmt = conn.prepare_cached("SELECT name FROM pragma_table_info(?1)")?;
                let columns = stmt.query_map([name], |r| r.get::<_, String>(0))?;
                for column in columns {
                    found.insert(format!("column {name}.{}", column?));
                }
            }
        }
    }
    Ok(found)
}

/// The objects `runner`'s migrations create on an empty database, or why
/// they could not be made (the caller names the file it was checking).
pub(crate) fn expected_by(runner: refinery::Runner) -> Result<Expected, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        format!("this build's migrations could not be {what} in memory: {e}")
    };
    let mut conn = Connection::open_in_memory().map_err(|e| fail("run", &e))?;
    // As for a file (`migrate::bring_current`): V9 needs `writable_schema`.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, false)
        .map_err(|e| fail("run", &e))?;
    runner
        .set_grouped(true)
        .run(&mut conn)
        .map_err(|e| fail("run", &e))?;
    let read = || {
        let objects = objects_of(&conn, &list(&conn)?, None)?;
        let mut stmt = conn.prepare(
            "SELECT type, name, sql FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )?;
        let texts = stmt
            .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok::<_, rusqlite::Error>(Expected { objects, texts })
    };
    read().map_err(|e| fail("read back", &e))
}

/// Why a store's schema is not whole — it lacks some of the `expected`
/// objects (see [`expected_by`]), each missing object or column named, or
/// it cannot be read — or `None` when it is whole. `seen` is what an
/// earlier step of the open listed (the first read of the file); when it
/// lacks something, the file is listed again (another process may have
/// migrated it since). The caller names the file.
pub(crate) fn lacks(
    conn: &Connection,
    expected: &Expected,
    seen: Option<&Listing>,
) -> Option<String> {
    let missing_from =
        |found: &Objects| -> Vec<String> { expected.objects.difference(found).cloned().collect() };
    if let Some(Ok(found)) = seen.map(|seen| objects_of(conn, seen, Some(expected)))
        && missing_from(&found).is_empty()
    {
        return None;
    }
    let missing = match list(conn).and_then(|now| objects_of(conn, &now, Some(expected))) {
        Ok(found) => missing_from(&found),
        Err(e) => return Some(format!("its schema cannot be read: {e}")),
    };
    // A missing table or view is named once, not with each of its columns.
    let gone = |column: &str| {
        column
            .strip_prefix("column ")
            .and_then(|c| c.split_once('.'))
            .is_some_and(|(object, _)| {
                missing.iter().any(|m| *m == format!("table {object}"))
                    || missing.iter().any(|m| *m == format!("view {object}"))
            })
    };
    let named: Vec<&str> = missing
        .iter()
        .map(String::as_str)
        .filter(|m| !gone(m))
        .collect();
    (!named.is_empty()).then(|| {
        format!(
            "its schema lacks {} (changed by hand?); the file was left as it is",
            named.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expected_schema_names_tables_columns_and_views() {
        let expected = expected_by(crate::migrate::runner()).unwrap().objects;
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
