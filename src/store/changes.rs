//! The change feed: which plugins were inserted, updated or deleted since a
//! cursor, in commit order, whoever changed them.
//!
//! The change-feed migration explains the schema: `change_log` rows whose
//! `seq` is assigned under the database's write lock, and so orders them by
//! commit. This module does the library's side:
//!
//! - **Writing** ([`begin_write`], [`Pending`], [`end_write`], run by every
//!   [`WriteTx`](super::WriteTx)): a library write transaction writes its
//!   number into `change_feed.writing_txn` first, which turns the
//!   change-log triggers off for it; it collects the plugins it changes,
//!   one entry per plugin whatever it did to it, and just before it commits
//!   writes one log row per plugin and clears the number. Changes made by
//!   anything else (sqlite3) are logged by the triggers, one row per table
//!   row. Library rows cost half what trigger rows would on a large save
//!   (no trigger program per table row).
//! - **Bounding**: when a write transaction starts and finds the log more
//!   than a quarter over its capacity, it deletes the oldest rows down to
//!   the capacity in one range delete and raises
//!   `change_feed.pruned_through`. Never per row in a trigger.
//! - **Reading** ([`since`]): the rows after a cursor, oldest first, or
//!   [`Changes::Reset`] when rows after the cursor were pruned (or the
//!   cursor is ahead of the log, as after restoring an older copy): the
//!   reader must re-read everything, never work from a partial list.
//!
//! # Compatibility
//! A cursor is a `seq`: it stays valid for as long as the log holds rows
//! after it, across processes and restarts. Seqs only grow (the newest row
//! is never pruned), so a cursor never points at another change later.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::{Connection, params};

use super::MetadataStore;
use super::decode::decode_change;
use super::sql;
use crate::error::{Error, Fallible, Result, show};
use crate::model::{ChangeOp, Changes};

impl MetadataStore {
    /// The cursor of the newest change now: start a feed here to hear only
    /// about what changes from now on.
    pub fn change_cursor(&self) -> Result<u64> {
        self.checked(|| Ok(position(&self.conn)?.0))
    }

    /// Every plugin inserted, updated or deleted after `cursor` (a seq from
    /// an earlier answer, [`change_cursor`](Self::change_cursor), or 0 for
    /// the whole log), in commit order, by any process or by hand; or
    /// [`Changes::Reset`] when the log no longer holds everything after
    /// `cursor`. Reads one snapshot; writes nothing.
    pub fn changes_since(&self, cursor: u64) -> Result<Changes> {
        self.checked(|| {
            let tx = self.read()?;
            let changes = since(&tx, &self.path, cursor)?;
            tx.commit()?;
            Ok(changes)
        })
    }
}

/// The log's newest seq and the newest seq pruned from it.
pub(super) fn position(conn: &Connection) -> Fallible<(u64, u64)> {
    let (head, pruned): (i64, i64) = conn
        .prepare_cached(sql::FEED_POSITION)?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (head, pruned) = (seq(head), seq(pruned));
    Ok((head.max(pruned), pruned))
}

/// A seq read from the file as a cursor (seqs are row ids, never negative
/// unless written by hand; a negative one counts as 0).
fn seq(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// [`MetadataStore::changes_since`] on any connection (the store's, or a
/// watcher's), inside the caller's read transaction.
pub(super) fn since(conn: &Connection, path: &Path, cursor: u64) -> Fallible<Changes> {
    let (head, pruned) = position(conn)?;
    if cursor < pruned || cursor > head {
        return Ok(Changes::Reset { cursor: head });
    }
    let after = i64::try_from(cursor).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(sql::CHANGES_SINCE)?;
    let mut rows = stmt.query([after])?;
    let mut changes = Vec::new();
    while let Some(row) = rows.next()? {
        changes.push(decode_change(row, path)?);
    }
    let cursor = changes.last().map_or(cursor, |c| c.seq);
    Ok(Changes::Since { changes, cursor })
}

/// The plugins a library write transaction changed, one entry per plugin
/// in the order first changed, with what happened to it over the whole
/// transaction: a delete wins over what came before it; an insert stays an
/// insert when the plugin is then changed again.
#[derive(Debug, Default)]
pub(super) struct Pending {
    rows: Vec<(i64, String, String, ChangeOp)>,
    by_id: HashMap<i64, usize>,
}

impl Pending {
    /// Records that plugin `id` (`category`, `name`) had `op` done to it.
    pub(super) fn record(&mut self, id: i64, category: &str, name: &str, op: ChangeOp) {
        match self.by_id.get(&id) {
            Some(&at) => {
                let row = &mut self.rows[at];
                row.3 = match (row.3, op) {
                    (_, ChangeOp::Delete) => ChangeOp::Delete,
                    (ChangeOp::Delete, later) => later,
                    (earlier, _) => earlier,
                };
            }
            None => {
                self.by_id.insert(id, self.rows.len());
                self.rows
                    .push((id, category.to_owned(), name.to_owned(), op));
            }
        }
    }
}

/// A library write transaction's place in the log: its number (the seq of
/// its first row) and the log's capacity, read when it started.
#[derive(Clone, Copy, Debug)]
pub(super) struct LogSlot {
    txn: i64,
    capacity: i64,
}

/// A write transaction's start: number it (which turns the change-log
/// triggers off for it), and prune the log if it has grown a quarter past
/// its capacity.
pub(super) fn begin_write(conn: &Connection) -> Fallible<LogSlot> {
    let (txn, pruned, capacity): (i64, i64, Value) = conn
        .prepare_cached(sql::BEGIN_LOGGED_WRITE)?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let capacity = match capacity {
        Value::Integer(c) => c.max(1),
        other => {
            return Err(Error::BadData {
                path: conn.path().map(PathBuf::from).unwrap_or_default(),
                table: "change_feed",
                column: "capacity",
                row: 1,
                value: show((&other).into()),
                reason: "not a whole number of rows; set it with \
                         UPDATE change_feed SET capacity = 10000"
                    .to_owned(),
            }
            .into());
        }
    };
    // Values from the file: no arithmetic on them may overflow.
    let head = txn.saturating_sub(1);
    let limit = capacity.saturating_add(capacity / 4);
    if head.saturating_sub(pruned.max(0)) > limit {
        let through = head.saturating_sub(capacity);
        conn.prepare_cached(sql::PRUNE_CHANGES)?
            .execute([through])?;
        conn.prepare_cached(sql::SET_PRUNED_THROUGH)?
            .execute(params![through])?;
    }
    Ok(LogSlot { txn, capacity })
}

/// A write transaction's end, just before its commit: one log row per
/// plugin it changed, then the number cleared.
///
/// A transaction that changed more plugins than the log keeps writes only
/// the newest `capacity` rows, with the seqs they would have had, and marks
/// the rest (and everything before) as pruned: exactly what writing them all
/// and pruning would leave, without writing rows only to delete them (a
/// 100,000-plugin `save_all` writes 10,000 rows). Every cursor from before
/// the transaction is then told to re-read everything.
pub(super) fn end_write(conn: &Connection, slot: LogSlot, pending: &Pending) -> Fallible<()> {
    let LogSlot { txn, capacity } = slot;
    let count = i64::try_from(pending.rows.len()).unwrap_or(i64::MAX);
    let skip = count.saturating_sub(capacity).max(0);
    if skip > 0 {
        let through = txn.saturating_sub(1).saturating_add(skip);
        conn.prepare_cached(sql::PRUNE_CHANGES)?
            .execute([through])?;
        conn.prepare_cached(sql::SET_PRUNED_THROUGH)?
            .execute([through])?;
    }
    if count > 0 {
        let mut insert = conn.prepare_cached(sql::INSERT_CHANGE)?;
        let kept = pending.rows.iter().skip(usize::try_from(skip).unwrap_or(0));
        let mut seq = txn.saturating_add(skip);
        for (id, category, name, op) in kept {
            insert.execute(params![seq, txn, id, category, name, op.as_str()])?;
            seq = seq.checked_add(1).ok_or_else(|| Error::BadData {
                path: conn.path().map(PathBuf::from).unwrap_or_default(),
                table: "change_log",
                column: "seq",
                row: seq,
                value: seq.to_string(),
                reason: "the change log's seqs have reached the largest integer".to_owned(),
            })?;
        }
    }
    conn.prepare_cached(sql::END_LOGGED_WRITE)?.execute([])?;
    Ok(())
}
