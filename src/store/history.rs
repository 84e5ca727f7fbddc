//! The remote status history in the store: dated transitions
//! ([`MetadataStore::set_remote_status_at`]), one plugin's timeline
//! ([`MetadataStore::remote_history`]) and what it all cost
//! ([`MetadataStore::cost_report`]).
//!
//! # Who writes the history
//!
//! Every change of `remote_resources` (and every plugin delete or rename)
//! gets its row in the transaction that makes it: written by the library
//! for its own saves, imports and `set_remote_resource` (`transitions.rs`,
//! its connection's triggers off), and by the triggers of migration V8 for
//! everyone else's, hand edits in sqlite3 included. Both stamp a row now
//! (at millisecond precision, padded to six digits), after the plugin's
//! newest row that is not dated in the future. A row dated in the future
//! (a clock that jumped ahead) is left where it is and never freezes the
//! history: later transitions are recorded at their real time, billing
//! follows them, and `cost_report` and `verify` name it. For a status
//! change dated by its caller, this module inserts the row with the
//! caller's time, then (if the row is the newest) updates
//! `remote_resources`, which needs no further row: the newest one already
//! says so.
//!
//! # Order
//!
//! A plugin's history is ordered by `(at, seq)`; `seq` orders rows with the
//! same `at`. The resource's current status is that of its newest row.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::decode::{decode_cost_row, decode_history};
use super::sql;
use super::{MetadataStore, WriteTx};
use crate::cost::{BurnRate, CostQuery, CostReport, RemoteStatusEntry, Tally};
use crate::error::{Error, Fallible, Fault, Result};
use crate::model::unique_id;
use crate::time::{self, timestamp};

/// What [`MetadataStore::set_remote_status_at`] did.
///
/// Serializes as `{"recorded": "current"}`, `{"recorded": "unchanged"}` or
/// `{"recorded": "backdated", "current_status": …, "newest_at": …}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "recorded", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecordedStatus {
    /// The transition is the newest: the resource is now in the status
    /// given, and the history has a row for it.
    Current,
    /// The resource already was in that status then (at or after its
    /// newest row: its current status; earlier: the status in force at
    /// that time); nothing was written.
    Unchanged,
    /// The transition is older than the newest row: it was inserted in its
    /// place in the history, and the current status stays as it is.
    Backdated {
        /// The resource's current status (unchanged).
        current_status: String,
        /// When the newest row starts.
        #[serde(serialize_with = "time::serialize")]
        newest_at: DateTime<Utc>,
    },
}

/// When a transition happened.
#[derive(Clone, Copy, Debug)]
enum When {
    /// Now, or at the newest row not dated in the future if that is
    /// later (by less than a second): the newest such row.
    Now,
    /// At this time, as the caller says.
    At(DateTime<Utc>),
}

impl MetadataStore {
    /// Sets the status of the plugin's remote resource now, and records the
    /// change in its history (see [`set_remote_status_at`]; a transition
    /// made now is always the newest, so this never backdates). A plugin
    /// without a remote resource is an [`Error::InvalidInput`].
    ///
    /// [`set_remote_status_at`]: Self::set_remote_status_at
    pub fn set_remote_status(
        &self,
        category: &str,
        name: &str,
        status: &str,
    ) -> Result<RecordedStatus> {
        self.record_status(category, name, status, When::Now)
    }

    /// Records that the plugin's remote resource went into `status` at
    /// `at` — for an app that learns of a transition later, by polling its
    /// provider.
    ///
    /// - At or after the newest row of its history: the resource's status
    ///   becomes `status` ([`RecordedStatus::Current`]), unless it already
    ///   is ([`RecordedStatus::Unchanged`], nothing written).
    /// - Before it: the row is inserted in its place in the history and the
    ///   current status stays as it is ([`RecordedStatus::Backdated`]);
    ///   unless the status in force at `at` already was `status`
    ///   ([`RecordedStatus::Unchanged`]).
    ///
    /// The row takes the provider, instance and rate in force at `at`.
    /// Refused ([`Error::InvalidInput`], nothing written): an `at` in the
    /// future or before year 1, a plugin without a remote resource;
    /// [`Error::NotFound`] if there is no such plugin.
    pub fn set_remote_status_at(
        &self,
        category: &str,
        name: &str,
        status: &str,
        at: DateTime<Utc>,
    ) -> Result<RecordedStatus> {
        let id = || unique_id(category, name);
        let now = Utc::now();
        if at > now {
            return Err(Error::invalid_in(
                id(),
                "at",
                format!(
                    "{} is in the future (now is {})",
                    timestamp(at),
                    timestamp(now)
                ),
            ));
        }
        time::refuse_leap_second(&timestamp(at), at).map_err(|e| e.for_plugin(id))?;
        if at.timestamp() < EARLIEST {
            return Err(Error::invalid_in(
                id(),
                "at",
                format!("{} is before the year 1", timestamp(at)),
            ));
        }
        self.record_status(category, name, status, When::At(at))
    }

    /// The plugin's remote status history, oldest first; empty if it never
    /// had a remote resource. Works for deleted plugins too: the history
    /// outlives them.
    pub fn remote_history(&self, category: &str, name: &str) -> Result<Vec<RemoteStatusEntry>> {
        self.checked(|| {
            let mut stmt = self.conn.prepare_cached(&sql::HISTORY_OF)?;
            let mut rows = stmt.query([category, name])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(decode_history(row, &self.path)?);
            }
            Ok(out)
        })
    }

    /// [`remote_history`](Self::remote_history), but a row that cannot be
    /// read (a value forced into the file by hand) is left out instead of
    /// failing the call: returns the readable rows, oldest first, and one
    /// [`Error::BadData`] naming each row left out.
    pub fn remote_history_readable(
        &self,
        category: &str,
        name: &str,
    ) -> Result<(Vec<RemoteStatusEntry>, Vec<Error>)> {
        self.checked(|| {
            let mut stmt = self.conn.prepare_cached(&sql::HISTORY_OF)?;
            let mut rows = stmt.query([category, name])?;
            let (mut out, mut bad) = (Vec::new(), Vec::new());
            while let Some(row) = rows.next()? {
                match decode_history(row, &self.path) {
                    Ok(entry) => out.push(entry),
                    Err(fault @ Fault::Whole(Error::BadData { .. })) => {
                        bad.push(fault.at(self.site()))
                    }
                    Err(fault) => return Err(fault),
                }
            }
            Ok((out, bad))
        })
    }

    /// Running hours and their cost per provider, plugin or day over a
    /// window ([`CostQuery`]; how they are counted: [`CostReport`]), with
    /// the burn rate now. One pass over the history in one statement,
    /// never one query per plugin; deleted plugins count too. A row that
    /// cannot be read (a value forced in by hand) is left out and named in
    /// [`CostReport::unreadable_rows`], a row dated after now in
    /// [`CostReport::future_rows`]; neither fails the report. A window
    /// that does not start before it ends is an [`Error::InvalidInput`].
    pub fn cost_report(&self, query: &CostQuery) -> Result<CostReport> {
        let window = query.window(time::now_utc())?;
        let end = time::from_micros(window.end_us)
            .map(timestamp)
            .ok_or_else(|| Error::invalid("until", "out of range"))?;
        let now = future_after();
        self.checked(|| {
            let tx = self.read()?;
            let mut tally = Tally::new(window, query.grouping());
            let (mut unreadable, mut future) = (Vec::new(), Vec::new());
            {
                let mut stmt = tx.prepare_cached(sql::COST_ROWS)?;
                let mut rows = stmt.query([&end, &now])?;
                while let Some(row) = rows.next()? {
                    match decode_cost_row(row, &self.path) {
                        Ok(r) if r.at_text > now.as_str() => future.push(format!(
                            "the history row of ({:?}, {:?}) at {} is dated in the future \
                             (more than a second after now): not counted",
                            r.category, r.name, r.at_text
                        )),
                        Ok(r) => tally.row(r.category, r.name, r.at, r.running, r.rate, r.provider),
                        Err(fault @ Fault::Whole(Error::BadData { .. })) => {
                            unreadable.push(fault.at(self.site()).to_string())
                        }
                        Err(fault) => return Err(fault),
                    }
                }
            }
            let burn_rate = burn_rate_in(&tx)?;
            tx.commit()?;
            let mut report = tally.finish(burn_rate);
            report.unreadable_rows = unreadable;
            report.future_rows = future;
            Ok(report)
        })
    }

    /// What is costing money right now: the remote resources whose status
    /// is exactly `running`, and their hourly rates (the view
    /// `remote_burn_rate`, summed over providers).
    pub fn burn_rate(&self) -> Result<BurnRate> {
        self.checked(|| {
            let tx = self.read()?;
            let rate = burn_rate_in(&tx)?;
            tx.commit()?;
            Ok(rate)
        })
    }

    /// [`set_remote_status`](Self::set_remote_status) and
    /// [`set_remote_status_at`](Self::set_remote_status_at), in one write
    /// transaction.
    fn record_status(
        &self,
        category: &str,
        name: &str,
        status: &str,
        when: When,
    ) -> Result<RecordedStatus> {
        self.checked(|| {
            let tx = self.write()?;
            let id = plugin_id(&tx, category, name)?;
            let current: Option<String> = tx
                .prepare_cached(sql::REMOTE_STATUS)?
                .query_row([id], |r| r.get(0))
                .optional()?;
            let Some(current) = current else {
                return Err(Error::invalid_in(
                    unique_id(category, name),
                    "remote_resource",
                    format!("the plugin has no remote resource to set the status {status:?} on"),
                )
                .into());
            };
            let key = Key { category, name };
            // Rows dated in the future (a clock that jumped ahead) are
            // left where they are: a transition is recorded at its real
            // time, after the newest row that is not in the future.
            let now = time::now();
            let newest = key.row(&tx, sql::NEWEST_HISTORY, Some(&future_after()))?;
            let at = match when {
                When::At(at) => timestamp(at),
                When::Now => newest
                    .as_ref()
                    .map_or(now.clone(), |n| n.at.clone().max(now)),
            };
            let outcome = match newest {
                Some(newest) if at < newest.at => {
                    key.backdate(&tx, &self.path, status, &at, current, newest)?
                }
                newest => key.advance(&tx, id, status, &at, &current, newest)?,
            };
            if outcome != RecordedStatus::Unchanged {
                tx.commit()?;
            }
            Ok(outcome)
        })
    }
}

/// A history row dated after this (now plus a second, in the stored
/// format) is dated in the future: written while the clock was ahead.
/// The second covers the triggers' millisecond stamps next to the
/// library's microsecond ones, as the history triggers do.
pub(crate) fn future_after() -> String {
    timestamp(time::now_utc() + chrono::Duration::seconds(1))
}

/// `0001-01-01T00:00:00Z` in seconds since the Unix epoch: the earliest
/// time the store's timestamp format can hold that people mean.
const EARLIEST: i64 = -62_135_596_800;

/// The plugin's id, or [`Error::NotFound`].
fn plugin_id(tx: &Transaction<'_>, category: &str, name: &str) -> Fallible<i64> {
    tx.prepare_cached(sql::PLUGIN_ID)?
        .query_row([category, name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::not_found(category, name).into())
}

/// The burn rate, inside the caller's transaction.
fn burn_rate_in(tx: &Transaction<'_>) -> Fallible<BurnRate> {
    let (running, priced, unpriced): (i64, f64, i64) = tx
        .prepare_cached(sql::BURN_RATE)?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(BurnRate {
        running: u64::try_from(running).unwrap_or(0),
        priced_usd_per_hour: priced,
        unpriced_running: u64::try_from(unpriced).unwrap_or(0),
    })
}

/// A history row as the transitions need it: `(at, seq, status)`.
struct Row {
    at: String,
    seq: i64,
    status: String,
}

/// One plugin's key in the history.
struct Key<'a> {
    category: &'a str,
    name: &'a str,
}

impl Key<'_> {
    /// The row a statement ([`sql::NEWEST_HISTORY`] or
    /// [`sql::HISTORY_IN_FORCE`] with `at`) picks, if any.
    fn row(
        &self,
        tx: &Transaction<'_>,
        statement: &str,
        at: Option<&str>,
    ) -> Fallible<Option<Row>> {
        let mut stmt = tx.prepare_cached(statement)?;
        let read = |r: &rusqlite::Row<'_>| {
            Ok(Row {
                at: r.get(0)?,
                seq: r.get(1)?,
                status: r.get(2)?,
            })
        };
        Ok(match at {
            None => stmt.query_row([self.category, self.name], read),
            Some(at) => stmt.query_row([self.category, self.name, at], read),
        }
        .optional()?)
    }

    /// A transition at or after the newest row: the new newest row, and the
    /// resource's status, unless it already is `status`.
    fn advance(
        &self,
        tx: &WriteTx<'_>,
        id: i64,
        status: &str,
        at: &str,
        current: &str,
        newest: Option<Row>,
    ) -> Fallible<RecordedStatus> {
        if current == status {
            return Ok(RecordedStatus::Unchanged);
        }
        let seq = newest.filter(|n| n.at == at).map_or(0, |n| n.seq + 1);
        tx.prepare_cached(sql::APPEND_FROM_RESOURCE)?
            .execute(params![self.category, self.name, at, seq, status, id])?;
        tx.prepare_cached(sql::SET_REMOTE_STATUS)?
            .execute(params![status, id])?;
        tx.touch_id(id, self.category, self.name, &time::now())?;
        Ok(RecordedStatus::Current)
    }

    /// A transition before the newest row: inserted in its place, with the
    /// provider, instance and rate in force then (or, before the first
    /// row, those of the first row).
    fn backdate(
        &self,
        tx: &Transaction<'_>,
        path: &std::path::Path,
        status: &str,
        at: &str,
        current: String,
        newest: Row,
    ) -> Fallible<RecordedStatus> {
        let in_force = self.row(tx, sql::HISTORY_IN_FORCE, Some(at))?;
        let Some(in_force) = in_force else {
            return Err(Error::invalid("at", "no history row to date the transition by").into());
        };
        if in_force.at.as_str() <= at && in_force.status == status {
            return Ok(RecordedStatus::Unchanged);
        }
        let seq: i64 = tx
            .prepare_cached(sql::NEXT_SEQ)?
            .query_row([self.category, self.name, at], |r| r.get(0))?;
        tx.prepare_cached(sql::INSERT_FROM_HISTORY)?
            .execute(params![
                self.category,
                self.name,
                at,
                seq,
                status,
                in_force.at,
                in_force.seq
            ])?;
        let newest_at = time::parse_stored_micros(&newest.at)
            .and_then(time::from_micros)
            .ok_or_else(|| Error::BadData {
                path: path.to_path_buf(),
                table: "remote_status_history",
                column: "at",
                row: newest.seq,
                value: format!("{:?}", newest.at),
                reason: format!(
                    "not a timestamp YYYY-MM-DDTHH:MM:SS.ffffffZ; the newest row of ({:?}, {:?})",
                    self.category, self.name
                ),
            })?;
        Ok(RecordedStatus::Backdated {
            current_status: current,
            newest_at,
        })
    }
}
