//! The library's own rows in the remote status history, and when it
//! writes them.
//!
//! The file's triggers record every change in the history (migration V8)
//! and the change log (V5), whoever makes it. For the library's own
//! writes that costs a trigger program per changed row, and a statement
//! journal for every statement on a table with triggers: a third of a
//! large save. So a store turns its connection's triggers off
//! ([`Bookkeeping`]) and writes those rows itself: the change log set-wise
//! at commit (`changes.rs`), and here, after (for a delete, before) each
//! statement of the library that changes `remote_resources` or deletes a
//! plugin, the row the history trigger would have appended, computed by
//! the same statement shape ([`sql::APPEND_TRANSITION`]): the same rows,
//! in the same order. Everyone else's writes (sqlite3, Datasette, other
//! tools) still fire the triggers.
//!
//! A trigger in the file that this build's migrations do not make (a
//! person's own audit or guard) must fire for the library's writes too:
//! while the file has one, the store keeps its triggers on and leaves the
//! history rows to them, as before. Which it is is decided again whenever
//! the schema changed (its `schema_version`), inside the write
//! transaction, so it holds for that whole transaction.

use std::cell::Cell;

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, ToSql, Transaction, params, params_from_iter};

use super::{WriteTx, sql};
use crate::error::Fallible;
use crate::migrate;
use crate::model::{CloudProviderType, RemoteResourceInfo};
use crate::open;
use crate::time;

/// Who writes a store's history rows, and the schema it was decided for.
#[derive(Debug, Default)]
pub(super) struct Bookkeeping {
    /// The `schema_version` the choice was made at (`None`: not yet).
    decided_at: Cell<Option<i64>>,
    /// The library (the connection's triggers off), or the triggers.
    own: Cell<bool>,
    /// Always the triggers (a test comparing the library's rows with
    /// theirs).
    #[cfg(test)]
    pub(super) triggers_only: bool,
}

impl Bookkeeping {
    /// Whether the library writes this write transaction's history rows:
    /// yes, with the connection's triggers off, unless the file holds a
    /// trigger of someone else's. Called first thing in the transaction
    /// (its write lock keeps the schema as it is until it ends); costs one
    /// read of the schema cookie unless the schema changed.
    pub(super) fn settle(&self, tx: &Transaction<'_>) -> Fallible<bool> {
        let cookie: i64 = tx
            .prepare_cached("PRAGMA schema_version")?
            .query_row([], |r| r.get(0))?;
        if self.decided_at.get() == Some(cookie) {
            return Ok(self.own.get());
        }
        #[cfg(not(test))]
        let own = migrate::only_own_triggers(tx)?;
        #[cfg(test)]
        let own = !self.triggers_only && migrate::only_own_triggers(tx)?;
        if self.decided_at.get().is_none() || own != self.own.get() {
            open::set_triggers(tx, !own)?;
        }
        self.own.set(own);
        self.decided_at.set(Some(cookie));
        Ok(own)
    }
}

/// A plugin's key in the history.
#[derive(Clone, Copy)]
pub(super) struct Key<'a> {
    pub(super) category: &'a str,
    pub(super) name: &'a str,
}

/// What plugin `id`'s remote resource is before `remote` is written over
/// it: `None` (no resource: the write creates one), `Some(true)` (the
/// same provider, instance, status and rate: the history has nothing to
/// add) or `Some(false)` (a change to record). Compared in SQL (`IS`), so
/// a value forced in by hand need not be decoded.
pub(super) fn before_write(
    tx: &WriteTx<'_>,
    id: i64,
    remote: &RemoteResourceInfo,
) -> Fallible<Option<bool>> {
    if !tx.own_history() {
        // The triggers record it: nothing for the library to add.
        return Ok(Some(true));
    }
    Ok(tx
        .prepare_cached(sql::REMOTE_SAME)?
        .query_row(
            params![
                id,
                remote.provider.as_str(),
                remote.instance_id,
                remote.status,
                remote.estimated_cost_per_hour
            ],
            |r| r.get(0),
        )
        .optional()?)
}

/// Records `remote`, just written, as [`before_write`] found the resource:
/// a new resource always, a changed one unless the newest row already
/// says so.
pub(super) fn written(
    tx: &WriteTx<'_>,
    key: Key<'_>,
    before: Option<bool>,
    remote: &RemoteResourceInfo,
) -> Fallible<()> {
    let only_if_new = match before {
        Some(true) => return Ok(()),
        Some(false) => true,
        None => false,
    };
    let state: [&dyn ToSql; 4] = [
        &remote.provider.as_str(),
        &remote.instance_id,
        &remote.status,
        &remote.estimated_cost_per_hour,
    ];
    append(tx, key, state, only_if_new)
}

/// Appends the transition of `key` into `state` (provider, instance,
/// status, rate) to the history, stamped now as the triggers stamp it:
/// placed by [`sql::PLACE_TRANSITION`], skipped if `only_if_new` and the
/// newest row already says the same.
fn append(
    tx: &WriteTx<'_>,
    key: Key<'_>,
    state: [&dyn ToSql; 4],
    only_if_new: bool,
) -> Fallible<()> {
    let (now, horizon) = time::now_as_triggers();
    let head: [&dyn ToSql; 4] = [&key.category, &key.name, &now, &horizon];
    let placed: Option<(Value, Value, bool)> = tx
        .prepare_cached(sql::PLACE_TRANSITION)?
        .query_row(params_from_iter(head.into_iter().chain(state)), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let (at, seq) = match placed {
        Some((_, _, true)) if only_if_new => return Ok(()),
        Some((at, seq, _)) => (at, seq),
        None => (Value::Text(now), Value::Integer(0)),
    };
    let head: [&dyn ToSql; 4] = [&key.category, &key.name, &at, &seq];
    tx.prepare_cached(sql::APPEND_TRANSITION)?
        .execute(params_from_iter(head.into_iter().chain(state)))?;
    Ok(())
}

/// Records that the plugin's remote resource (`provider`, `instance_id`,
/// as stored) went away: status `removed`, no rate. A provider this build
/// does not know (forced in by hand) is recorded as `custom`, the model's
/// "other provider".
pub(super) fn removed(
    tx: &WriteTx<'_>,
    key: Key<'_>,
    provider: &Value,
    instance_id: &Value,
) -> Fallible<()> {
    if !tx.own_history() {
        return Ok(());
    }
    let provider = match provider {
        Value::Text(p) if p.parse::<CloudProviderType>().is_ok() => p.as_str(),
        _ => CloudProviderType::Custom.as_str(),
    };
    let state: [&dyn ToSql; 4] = [&provider, instance_id, &"removed", &Option::<f64>::None];
    append(tx, key, state, false)
}

/// Before plugin `key` is deleted: its remote resource's removal, if it
/// has one.
pub(super) fn before_delete(tx: &WriteTx<'_>, key: Key<'_>) -> Fallible<()> {
    if !tx.own_history() {
        return Ok(());
    }
    let remote: Option<(Value, Value)> = tx
        .prepare_cached(sql::REMOTE_OF_KEY)?
        .query_row([key.category, key.name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match remote {
        Some((provider, instance_id)) => removed(tx, key, &provider, &instance_id),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
