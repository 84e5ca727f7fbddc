//! The rows of `plugin_pids` as the store keeps them: a PID's recorded
//! identity ([`StoredIdentity`]: what is bound when a PID is written, and
//! its one decoder), and a stored PID with its plugin ([`PidClaim`]), what
//! `check_pids` and `reap` start from.

use std::path::Path;

use rusqlite::Row;

use super::decode::Col;
use crate::error::Fallible;
use crate::process;

/// One row of [`PID_CLAIMS`](super::sql::PID_CLAIMS): a stored PID, its
/// plugin, and the identity recorded for it.
pub(super) struct PidClaim {
    pub(super) plugin_id: i64,
    pub(super) rowid: i64,
    pub(super) category: String,
    pub(super) name: String,
    pub(super) pid: u32,
    pub(super) identity: StoredIdentity,
}

/// Decodes one row of [`PID_CLAIMS`](super::sql::PID_CLAIMS).
pub(super) fn decode_pid_claim(row: &Row<'_>, path: &Path) -> Fallible<PidClaim> {
    let rowid: i64 = row.get(1)?;
    let col = Col::new(row, path, "plugin_pids", rowid);
    Ok(PidClaim {
        plugin_id: col.integer((0, "plugin_id"))?,
        rowid,
        category: col.text((2, "category"))?,
        name: col.text((3, "name"))?,
        pid: col.pid(4)?,
        identity: decode_identity(&col, 5)?,
    })
}

/// The identity columns of a `plugin_pids` row, as stored: the columns of
/// [`identity_columns!`](super::sql::identity_columns), in that order.
#[derive(Clone, Debug, Default)]
pub(super) struct StoredIdentity {
    pub(super) start_time: Option<i64>,
    pub(super) boot_id: Option<String>,
    pub(super) recorded_at: Option<String>,
    pub(super) pid_ns: Option<i64>,
    pub(super) pidfd_inode: Option<i64>,
    /// Set (with `spawn_token`) only by `spawn`: the row records a tree.
    pub(super) pgid: Option<i64>,
    pub(super) spawn_token: Option<String>,
}

/// Decodes the identity columns, the first at `first`: the one reader of a
/// stored identity, so a value no build writes (a negative start time, a
/// number as text) is refused by name wherever it is read.
pub(super) fn decode_identity(col: &Col<'_, '_>, first: usize) -> Fallible<StoredIdentity> {
    let start_time = col.opt_integer((first, "start_time"))?;
    if let Some(t) = start_time.filter(|&t| t < 0) {
        return Err(col.bad("start_time", t.to_string(), "a start time is >= 0"));
    }
    Ok(StoredIdentity {
        start_time,
        boot_id: col.opt_text((first + 1, "boot_id"))?,
        recorded_at: col.opt_text((first + 2, "recorded_at"))?,
        pid_ns: col.opt_integer((first + 3, "pid_ns"))?,
        pidfd_inode: col.opt_integer((first + 4, "pidfd_inode"))?,
        pgid: col.opt_integer((first + 5, "pgid"))?,
        spawn_token: col.opt_text((first + 6, "spawn_token"))?,
    })
}

impl StoredIdentity {
    /// The identity columns as the PID statements bind them, after the
    /// plugin id and the PID (and position).
    pub(super) fn values(&self) -> [&dyn rusqlite::ToSql; 7] {
        [
            &self.start_time,
            &self.boot_id,
            &self.recorded_at,
            &self.pid_ns,
            &self.pidfd_inode,
            &self.pgid,
            &self.spawn_token,
        ]
    }

    /// What the store keeps for `identity`, recorded at `at`, no tree.
    pub(super) fn new(identity: process::Identity, at: &str) -> StoredIdentity {
        let int = |v: Option<u64>| v.and_then(|v| i64::try_from(v).ok());
        StoredIdentity {
            start_time: int(identity.start_time),
            boot_id: identity.boot_id,
            recorded_at: Some(at.to_owned()),
            pid_ns: int(identity.pid_ns),
            pidfd_inode: int(identity.pidfd_inode),
            pgid: None,
            spawn_token: None,
        }
    }

    /// The recorded identity as the process checks compare it: the
    /// inverse of [`new`](Self::new) (a value out of range is unknown).
    pub(super) fn recorded(&self) -> process::Identity {
        let int = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
        process::Identity {
            start_time: int(self.start_time),
            boot_id: self.boot_id.clone(),
            pid_ns: int(self.pid_ns),
            pidfd_inode: int(self.pidfd_inode),
        }
    }
}
