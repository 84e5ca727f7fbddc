//! Opening a store file, step two: the schema, by refinery migrations.
//!
//! The schema history is read with a plain read; when it is current nothing
//! else happens, so re-opening a current file is a few microseconds of
//! reads and writes nothing. Otherwise refinery runs every pending migration
//! and its history row in one `BEGIN IMMEDIATE` transaction
//! (`set_grouped(true)`).
//!
//! Compatibility promises:
//! - a file whose history names a migration newer than this build is refused
//!   with [`Error::SchemaTooNew`] before anything is written;
//! - an applied migration whose checksum differs from this build's is
//!   refused with [`Error::Migration`], untouched;
//! - several processes migrating the same file at once all succeed: refinery
//!   reads the applied list outside its write transaction, so the loser of
//!   that race fails (for instance "table plugins already exists") with its
//!   transaction rolled back; the store then re-reads the history and retries
//!   while another process is making progress.

use std::path::Path;
use std::sync::OnceLock;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Error, Fallible, show};
use crate::open::HISTORY_TABLE;
use crate::schema;

refinery::embed_migrations!("migrations");

/// The newest schema version this build knows.
pub(crate) fn newest_version() -> i64 {
    migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0)
}

/// The migrations this build embeds, as `(version, name, checksum)` in
/// version order: what a file's history is compared with.
pub(crate) fn known_migrations() -> Vec<(i64, String, u64)> {
    let mut known = known(&migrations::runner());
    known.sort();
    known
}

/// What the history table says: each applied migration, in version order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct History {
    applied: Vec<Applied>,
}

impl History {
    /// The newest migration applied (0 for none).
    pub(crate) fn version(&self) -> i64 {
        self.applied.iter().map(|a| a.version).max().unwrap_or(0)
    }
}

/// One history row.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Applied {
    pub(crate) version: i64,
    pub(crate) name: String,
    pub(crate) checksum: u64,
}

/// What opening learned of a file's history, read once: the history, and
/// whether every migration of this build is applied.
#[derive(Debug)]
pub(crate) struct Examined {
    pub(crate) history: History,
    pub(crate) current: bool,
    /// The objects the first read of the file found (`open::check_file`).
    pub(crate) seen: schema::Listing,
}

/// A migration this build embeds: version, name, checksum.
type Known = (i64, String, u64);

/// This build's migrations.
#[cfg(test)]
pub(crate) fn runner() -> refinery::Runner {
    migrations::runner()
}

/// Reads and checks the history rows exactly as refinery will read them
/// (refinery panics on a checksum that is not a `u64` and on an
/// `applied_on` its RFC 3339 parser refuses, so the store checks both
/// first, with the same parser, and names the bad row).
fn read_history(conn: &Connection, path: &Path) -> Fallible<History> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [HISTORY_TABLE],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(History {
            applied: Vec::new(),
        });
    }
    let mut stmt = conn.prepare(HISTORY_ROWS)?;
    let mut rows = stmt.query([])?;
    let mut applied = Vec::new();
    while let Some(row) = rows.next()? {
        applied.push(read_history_row(row, path)?);
    }
    Ok(History { applied })
}

/// The history rows, read by [`read_history_row`] (in rowid order).
pub(crate) const HISTORY_ROWS: &str = "SELECT rowid, version, name, applied_on, checksum \
     FROM refinery_schema_history ORDER BY rowid";

/// One row of [`HISTORY_ROWS`], checked column by column as refinery will
/// read it; a bad value is [`Error::BadData`] naming the row. (`verify`
/// reads the table with the same function, reporting every bad row.)
pub(crate) fn read_history_row(row: &rusqlite::Row<'_>, path: &Path) -> Fallible<Applied> {
    use rusqlite::types::ValueRef;
    let rowid: i64 = row.get(0)?;
    let bad = |column: &'static str, value: ValueRef<'_>, reason: &str| Error::BadData {
        path: path.to_path_buf(),
        table: HISTORY_TABLE,
        column,
        row: rowid,
        value: show(value),
        reason: reason.to_owned(),
    };
    let text = |idx: usize| match row.get_ref(idx) {
        Ok(ValueRef::Text(t)) => std::str::from_utf8(t).ok(),
        _ => None,
    };
    let version = match row.get_ref(1)? {
        ValueRef::Integer(v) if i32::try_from(v).is_ok() => v,
        other => return Err(bad("version", other, "not a migration version (an i32)").into()),
    };
    let Some(name) = text(2) else {
        return Err(bad("name", row.get_ref(2)?, "not text").into());
    };
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    if text(3).is_none_or(|t| time::OffsetDateTime::parse(t, rfc3339).is_err()) {
        return Err(bad(
            "applied_on",
            row.get_ref(3)?,
            "not an RFC 3339 timestamp as refinery reads it",
        )
        .into());
    }
    let Some(checksum) = text(4).and_then(|t| t.parse::<u64>().ok()) else {
        return Err(bad("checksum", row.get_ref(4)?, "not an unsigned integer").into());
    };
    Ok(Applied {
        version,
        name: name.to_owned(),
        checksum,
    })
}

/// Compares the file's history with the migrations this build knows:
/// `Ok(true)` when every one is applied, `Ok(false)` when some are pending,
/// an error when the history is another application's (names or versions
/// that are not ours), when the file is newer than this build, or when an
/// applied migration differs from this build's (migrated by another build).
fn is_current(history: &History, known: &[Known], path: &Path) -> Fallible<bool> {
    let newest = known.iter().map(|k| k.0).max().unwrap_or(0);
    let foreign = |reason: String| Error::NotAStore {
        path: path.into(),
        reason,
    };
    for a in &history.applied {
        match known.iter().find(|k| k.0 == a.version) {
            Some((_, ours, _)) if *ours != a.name => {
                return Err(foreign(format!(
                    "its {HISTORY_TABLE} is another application's: migration V{} is {:?}, \
                     plugin-metastore's is {ours:?}",
                    a.version, a.name
                ))
                .into());
            }
            Some((_, _, ours)) if *ours != a.checksum => {
                return Err(Error::Migration {
                    path: path.into(),
                    reason: format!(
                        "migration V{} recorded in the file differs from this build's \
                         (checksum {}, expected {ours}); the file was migrated by another build",
                        a.version, a.checksum
                    ),
                    source: None,
                }
                .into());
            }
            Some(_) => {}
            None if a.version <= newest => {
                return Err(foreign(format!(
                    "its {HISTORY_TABLE} lists migration V{} {:?}, which is not \
                     plugin-metastore's",
                    a.version, a.name
                ))
                .into());
            }
            None => {}
        }
    }
    if let Some(found) = history.applied.iter().map(|a| a.version).max()
        && found > newest
    {
        return Err(Error::SchemaTooNew {
            path: path.into(),
            found,
            supported: newest,
        }
        .into());
    }
    Ok(known
        .iter()
        .all(|k| history.applied.iter().any(|a| a.version == k.0)))
}

/// [`read_history`], refusing a lost history ([`check_history_not_lost`]),
/// from one snapshot: read apart, another process's first migration could
/// commit in between and make its new tables look like a lost history.
fn read_whole_history(conn: &Connection, path: &Path) -> Fallible<History> {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Deferred)?;
    let history = read_history(&tx, path)?;
    check_history_not_lost(&tx, &history, path)?;
    tx.commit()?;
    Ok(history)
}

/// Refuses, untouched, a file whose history is empty although it holds
/// tables: its history was deleted (refinery would try to create every
/// table again and fail).
fn check_history_not_lost(conn: &Connection, history: &History, path: &Path) -> Fallible<()> {
    if !history.applied.is_empty() {
        return Ok(());
    }
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> ?1 \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )?
        .query_map([HISTORY_TABLE], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<_>>()?;
    if tables.is_empty() {
        return Ok(());
    }
    Err(Error::Damaged {
        path: path.into(),
        reason: format!(
            "its migration history ({HISTORY_TABLE}) is empty or missing, but it holds tables \
             ({}); it was left untouched",
            tables.join(", ")
        ),
    }
    .into())
}

/// Reads the file's history once and compares it with this build's
/// migrations: refuses, before anything is written, a file whose history
/// is another application's, lost, unreadable to refinery, or from a newer
/// build. What it learned is what the rest of the open needs
/// ([`bring_current`], [`require_current`]).
pub(crate) fn examine(conn: &Connection, path: &Path, seen: schema::Listing) -> Fallible<Examined> {
    let history = read_whole_history(conn, path)?;
    let current = is_current(&history, build_known(), path)?;
    Ok(Examined {
        history,
        current,
        seen,
    })
}

/// For a store opened read-only: refuses a file this build would migrate
/// (that needs writing), then checks the schema.
pub(crate) fn require_current(conn: &Connection, path: &Path, examined: &Examined) -> Fallible<()> {
    if examined.current {
        return check_objects(conn, path, None, Some(&examined.seen));
    }
    Err(Error::ReadOnly {
        path: path.into(),
        reason: format!(
            "its schema is at version {} and needs migrating to version {}, which needs \
             write access: open it once with write access (for example `plugin-metastore init`)",
            examined.history.version(),
            newest_version()
        ),
    }
    .into())
}

/// This build's expected objects ([`schema::expected_by`]), computed once
/// per process.
static OURS: OnceLock<std::result::Result<schema::Expected, String>> = OnceLock::new();

/// Refuses ([`Error::Damaged`]) a store whose schema lacks an object or
/// column `runner`'s migrations create ([`schema::lacks`]; `seen`: what
/// the open read already); this build's expected objects are computed once
/// per process.
fn check_objects(
    conn: &Connection,
    path: &Path,
    runner: Option<&refinery::Runner>,
    seen: Option<&schema::Listing>,
) -> Fallible<()> {
    let theirs;
    let expected = match runner.filter(|r| known(r) != build_known()) {
        Some(runner) => {
            theirs = schema::expected_by(refinery::Runner::new(runner.get_migrations()));
            &theirs
        }
        None => OURS.get_or_init(|| schema::expected_by(migrations::runner())),
    };
    let lacks = match expected {
        Ok(expected) => schema::lacks(conn, expected, seen).map(|reason| Error::Damaged {
            path: path.into(),
            reason,
        }),
        Err(reason) => Some(migration_failed(path, reason.clone())),
    };
    lacks.map_or(Ok(()), |e| Err(e.into()))
}

/// Whether every trigger in the file is one this build's migrations
/// create, by name and by text: no person's or other tool's own trigger
/// (nor one of ours recreated with another body), which the library's
/// writes must then fire too. False when this build's objects cannot be
/// computed.
pub(crate) fn only_own_triggers(conn: &Connection) -> Fallible<bool> {
    let Ok(ours) = OURS.get_or_init(|| schema::expected_by(migrations::runner())) else {
        return Ok(false);
    };
    let mut stmt =
        conn.prepare_cached("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (name, sql): (String, Option<String>) = (row.get(0)?, row.get(1)?);
        if !ours.made("trigger", &name, sql.as_deref()) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The migrations of `runner` as [`Known`].
fn known(runner: &refinery::Runner) -> Vec<Known> {
    runner
        .get_migrations()
        .iter()
        .map(|m| (i64::from(m.version()), m.name().to_owned(), m.checksum()))
        .collect()
}

/// This build's migrations as [`Known`], computed once (building a
/// runner parses and hashes every migration's SQL).
fn build_known() -> &'static [Known] {
    static KNOWN: OnceLock<Vec<Known>> = OnceLock::new();
    KNOWN.get_or_init(|| known(&migrations::runner()))
}

/// An [`Error::Migration`] of the file at `path` without a tool's error.
fn migration_failed(path: &Path, reason: String) -> Error {
    Error::Migration {
        path: path.into(),
        reason,
        source: None,
    }
}

/// Brings the schema of `conn` (the file at `path`, whose history
/// [`examine`] read) up to date with this build's migrations. A current
/// file (the usual open) costs only the schema check; refinery is built
/// only when something is pending.
pub(crate) fn bring_current(
    conn: &mut Connection,
    path: &Path,
    examined: Examined,
) -> Fallible<()> {
    if examined.current {
        return check_objects(conn, path, None, Some(&examined.seen));
    }
    // Migration V9 edits two tables' stored CHECK text (`writable_schema`),
    // which a SQLite built to start connections defensive would refuse:
    // off while migrating, then as it was.
    let defensive = rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE;
    let was = conn.db_config(defensive)?;
    conn.set_db_config(defensive, false)?;
    let migrated = migrate_from(conn, path, migrations::runner(), Some(examined.history));
    conn.set_db_config(defensive, was)?;
    migrated
}

/// Step two: run the pending migrations of `runner`, atomically, or refuse a
/// file that is newer than `runner` knows.
#[cfg(test)]
pub(crate) fn migrate(
    conn: &mut Connection,
    path: &Path,
    runner: refinery::Runner,
) -> Fallible<()> {
    migrate_from(conn, path, runner, None)
}

/// [`migrate`], starting from the history `read` when the caller has
/// read it already.
fn migrate_from(
    conn: &mut Connection,
    path: &Path,
    runner: refinery::Runner,
    read: Option<History>,
) -> Fallible<()> {
    let runner = runner.set_grouped(true);
    migrate_using(conn, path, &runner, read, |conn| {
        runner.run(conn).map(|_| ()).map_err(|e| {
            Error::Migration {
                path: path.into(),
                reason: refinery_reason(&e),
                source: Some(Box::new(e)),
            }
            .into()
        })
    })
}

/// refinery's error in one line: its message and the database error
/// behind it (not the migration's SQL).
fn refinery_reason(e: &refinery::Error) -> String {
    match e.kind() {
        refinery::error::Kind::Connection(message, source) => format!("{message}: {source}"),
        other => other.to_string(),
    }
}

/// [`migrate`] with the refinery run as a closure, so a unit test can play
/// the other process that wins the race between refinery's read of the
/// applied list and its write.
fn migrate_using(
    conn: &mut Connection,
    path: &Path,
    runner: &refinery::Runner,
    mut read: Option<History>,
    mut run: impl FnMut(&mut Connection) -> Fallible<()>,
) -> Fallible<()> {
    let known = known(runner);

    // Each retry follows progress made by another process; a failure with
    // no progress elsewhere is final.
    const MAX_ATTEMPTS: usize = 20;
    let mut attempt = 0;
    loop {
        let before = match read.take() {
            Some(history) => history,
            None => read_whole_history(conn, path)?,
        };
        if is_current(&before, &known, path)? {
            return check_objects(conn, path, Some(runner), None);
        }
        conn.set_transaction_behavior(TransactionBehavior::Immediate);
        let outcome = run(conn);
        conn.set_transaction_behavior(TransactionBehavior::Deferred);
        match outcome {
            Ok(_) => return check_objects(conn, path, Some(runner), None),
            Err(e) => {
                attempt += 1;
                let after = read_history(conn, path)?;
                if after != before && attempt < MAX_ATTEMPTS {
                    continue;
                }
                if is_current(&after, &known, path)? {
                    return check_objects(conn, path, Some(runner), None);
                }
                return Err(match e {
                    e @ crate::error::Fault::Whole(Error::Migration { .. }) => e,
                    other => {
                        let site = crate::error::Site {
                            path,
                            busy_timeout: std::time::Duration::ZERO,
                        };
                        migration_failed(path, other.at(site).to_string()).into()
                    }
                });
            }
        }
    }
}

/// The schema version recorded in the file (the newest applied migration).
pub(crate) fn schema_version(conn: &Connection, path: &Path) -> Fallible<i64> {
    Ok(read_history(conn, path)?.version())
}

#[cfg(test)]
mod tests;
