//! The resource lifecycle: PIDs, the container id and the remote resource,
//! one atomic change at a time (the remote status, with its history, is in
//! `history.rs`). Each change bumps the plugin's `updated_at`
//! in the same transaction and answers [`Error::NotFound`] when the plugin
//! is missing.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Transaction, params, params_from_iter};

use super::identity::StoredIdentity;
use super::sql;
use super::transitions::{self, Key};
use super::{MetadataStore, WriteTx};
use crate::error::{Error, Fallible, Result};
use crate::model::ChangeOp;
use crate::model::{RemoteResourceInfo, unique_id, validate_pid};
use crate::process;
use crate::time::now;

impl MetadataStore {
    /// Records `pid` as one of the plugin's processes, with the identity of
    /// the process that holds it now (start time and boot id; see
    /// [`check_pids`](Self::check_pids)): appended to the list, or, if the
    /// plugin already lists it, re-recorded in place — adding a PID is a
    /// fresh claim. PID 0 is refused. Returns true if the PID was new to
    /// the plugin, false if it was re-recorded.
    pub fn add_pid(&self, category: &str, name: &str, pid: u32) -> Result<bool> {
        validate_pid(pid).map_err(|e| e.for_plugin(|| unique_id(category, name)))?;
        self.checked(|| {
            let tx = self.write()?;
            let at = now();
            let id = touch_at(&tx, category, name, &at)?;
            let plugin = || unique_id(category, name);
            let identity = fresh_identity(pid, &at, Some(&plugin))?;
            let new = record_pid(&tx, id, pid, &identity)?;
            tx.commit()?;
            Ok(new)
        })
    }

    /// Removes `pid` from the plugin's PIDs; true if it was there.
    pub fn remove_pid(&self, category: &str, name: &str, pid: u32) -> Result<bool> {
        self.checked(|| {
            let tx = self.write()?;
            let id = touch(&tx, category, name)?;
            let n = tx
                .prepare_cached(sql::REMOVE_PID)?
                .execute(params![id, pid])?;
            if n == 0 {
                // Nothing changed: dropping the transaction rolls back the
                // updated_at bump too.
                return Ok(false);
            }
            tx.commit()?;
            Ok(true)
        })
    }

    /// Removes every PID of the plugin; returns how many there were.
    pub fn clear_pids(&self, category: &str, name: &str) -> Result<usize> {
        self.change_plugin(category, name, |tx, id| {
            Ok(tx.prepare_cached(sql::DELETE_PIDS)?.execute([id])?)
        })
    }

    /// Sets the plugin's container id (`None` clears it).
    pub fn set_container_id(
        &self,
        category: &str,
        name: &str,
        container_id: Option<&str>,
    ) -> Result<()> {
        self.change_plugin(category, name, |tx, id| {
            tx.prepare_cached(sql::SET_CONTAINER)?
                .execute(params![container_id, id])?;
            Ok(())
        })
    }

    /// Sets (`Some`) or removes (`None`) the plugin's remote resource.
    pub fn set_remote_resource(
        &self,
        category: &str,
        name: &str,
        remote: Option<&RemoteResourceInfo>,
    ) -> Result<()> {
        if let Some(remote) = remote {
            remote
                .validate()
                .map_err(|e| e.for_plugin(|| unique_id(category, name)))?;
        }
        self.change_plugin(category, name, |tx, id| {
            write_remote(tx, id, Key { category, name }, remote)
        })
    }
}

impl MetadataStore {
    /// One change to plugin `(category, name)`: a write transaction that
    /// bumps the plugin's row ([`touch`], `NotFound` if there is none),
    /// runs `f` with its id, and commits what `f` did.
    fn change_plugin<T>(
        &self,
        category: &str,
        name: &str,
        f: impl FnOnce(&WriteTx<'_>, i64) -> Fallible<T>,
    ) -> Result<T> {
        self.checked(|| {
            let tx = self.write()?;
            let id = touch(&tx, category, name)?;
            let done = f(&tx, id)?;
            tx.commit()?;
            Ok(done)
        })
    }
}

/// Appends `pid` to plugin `id`'s list with `identity`, or re-records it
/// in place if the plugin lists it already; true if it was new.
pub(super) fn record_pid(
    tx: &Transaction<'_>,
    id: i64,
    pid: u32,
    identity: &StoredIdentity,
) -> Fallible<bool> {
    let exists: bool = tx
        .prepare_cached(sql::PID_EXISTS)?
        .query_row(params![id, pid], |r| r.get(0))?;
    let statement = if exists {
        sql::RERECORD_PID
    } else {
        sql::APPEND_PID
    };
    let key: [&dyn rusqlite::ToSql; 2] = [&id, &pid];
    tx.prepare_cached(statement)?
        .execute(params_from_iter(key.into_iter().chain(identity.values())))?;
    Ok(!exists)
}

/// The identity to store for `pid`, recorded at `at`: the live process's
/// start time and boot id, or NULLs when it is not alive or not readable.
/// A thread id that is not its process's main thread is not a process:
/// with `plugin` (a claim of this one PID, `add_pid`) it is refused, the
/// error naming the plugin; without (a whole record saved, whose numbers
/// may mean nothing here) it is stored with no identity, `unverified`.
pub(super) fn fresh_identity(
    pid: u32,
    at: &str,
    plugin: Option<&dyn Fn() -> String>,
) -> Fallible<StoredIdentity> {
    let id = process::identity(pid);
    // Only a live id can be a thread's; a PID no process holds costs no
    // second read.
    if id.start_time.is_some()
        && let Some(process) = process::thread_of(pid)
    {
        let Some(plugin) = plugin else {
            return Ok(StoredIdentity {
                recorded_at: Some(at.to_owned()),
                ..StoredIdentity::default()
            });
        };
        return Err(Error::invalid_in(
            plugin(),
            "pid",
            format!(
                "{pid} is a thread of process {process}, not a process (record the process, {process})"
            ),
        )
        .into());
    }
    Ok(StoredIdentity::new(id, at))
}

/// Starts a resource change: bumps `updated_at` and returns the plugin's
/// id, or [`Error::NotFound`]; the plugin is recorded as changed.
fn touch(tx: &WriteTx<'_>, category: &str, name: &str) -> Fallible<i64> {
    touch_at(tx, category, name, &now())
}

/// [`touch`] with the time given. Records the change for the feed (a
/// call that then changes nothing rolls back, and logs nothing).
pub(super) fn touch_at(tx: &WriteTx<'_>, category: &str, name: &str, at: &str) -> Fallible<i64> {
    let id = tx
        .prepare_cached(sql::TOUCH_PLUGIN)?
        .query_row(params![at, category, name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::not_found(category, name))?;
    tx.changed(id, category, name, ChangeOp::Update);
    Ok(id)
}

/// Writes (upserts) or removes the remote resource of plugin `id` (`key`),
/// with its history row, inside the caller's transaction; shared with
/// saving whole plugins.
pub(super) fn write_remote(
    tx: &WriteTx<'_>,
    id: i64,
    key: Key<'_>,
    remote: Option<&RemoteResourceInfo>,
) -> Fallible<()> {
    match remote {
        Some(r) => {
            let before = transitions::before_write(tx, id, r)?;
            let metadata = serde_json::to_string(&r.metadata)?;
            tx.prepare_cached(sql::UPSERT_REMOTE)?.execute(params![
                id,
                r.provider.as_str(),
                r.region,
                r.instance_id,
                r.job_id,
                r.endpoint_url,
                r.ssh_host,
                r.ssh_port,
                r.status,
                r.resource_type,
                r.gpu_count,
                r.gpu_type,
                r.estimated_cost_per_hour,
                metadata,
            ])?;
            transitions::written(tx, key, before, r)?;
        }
        None => {
            let gone: Option<(Value, Value)> = tx
                .prepare_cached(sql::DELETE_REMOTE)?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((provider, instance_id)) = gone {
                transitions::removed(tx, key, &provider, &instance_id)?;
            }
        }
    }
    Ok(())
}
