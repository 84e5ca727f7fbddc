//! Process identity in the store: which stored PIDs are still the
//! processes that were recorded ([`MetadataStore::check_pids`]), and
//! removing (or stopping) the rest ([`MetadataStore::reap`]).
//!
//! Checking reads the stored PIDs in one snapshot, then asks the OS about
//! each (see `process.rs`); it writes nothing. Reaping acts on that check:
//! a removal deletes the PID's row only if it is still the row that was
//! checked (same rowid, `recorded_at` and identity), so two apps reaping at
//! once, or an app re-adding a PID in between, never lose a fresh claim.

use std::collections::HashMap;
use std::time::Duration;

use rusqlite::params;
use serde::Serialize;

use super::identity::{PidClaim, decode_pid_claim};
use super::sql;
use super::{MetadataStore, WriteTx};
use crate::error::{Error, Fallible, Result};
use crate::model::{string_enum, unique_id};
use crate::process::tree::{self, Member, TreeClaim};
use crate::process::{self, Here, PidState, Protected, Stopped};
use crate::time::now;

mod stop;

use stop::not_removed;
pub(crate) use stop::stop_alive;

/// One stored PID and what it is now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PidCheck {
    /// The plugin's display id, `category_name`.
    pub unique_id: String,
    /// The plugin's category.
    pub category: String,
    /// The plugin's name.
    pub name: String,
    /// The stored PID.
    pub pid: u32,
    /// What it is now.
    pub state: PidState,
    /// Why, in words (empty for `alive`).
    pub detail: String,
    /// When the store recorded it (RFC 3339 UTC), `None` for a PID stored
    /// before identities were kept.
    pub recorded_at: Option<String>,
    /// The recorded start time (the OS's own value), if any.
    pub start_time: Option<u64>,
    /// The recorded boot id, if any.
    pub boot_id: Option<String>,
    /// The process group this PID leads as a recorded tree
    /// ([`MetadataStore::spawn`]); `None` for a single-process claim.
    pub pgid: Option<u32>,
    /// For a tree: the live processes that are provably ours, the leader
    /// excluded — its workers, or after the leader died its orphans (by
    /// their token). Empty for a single-process claim, or when the leader
    /// is `unverified` or from another boot. In a reap's answer for a
    /// `killed` row: the members signalled.
    pub group: Vec<u32>,
    /// For a tree: processes in its group that are not provably ours
    /// (the leader gone and no token, or their environment unreadable):
    /// reported, never signalled.
    pub unproven: Vec<u32>,
    /// The row checked, so a removal applies only to it.
    #[serde(skip)]
    claim: ClaimKey,
    /// The tree, and its members of ours with their identities.
    #[serde(skip)]
    tree: Option<(TreeClaim, Vec<Member>)>,
}

/// What identifies the checked row of `plugin_pids`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ClaimKey {
    plugin_id: i64,
    rowid: i64,
    start_time: Option<i64>,
    pidfd_inode: Option<u64>,
}

/// How [`MetadataStore::reap`] works.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReapOptions {
    /// Also stop `alive` processes (SIGTERM, [`grace`](Self::grace), then
    /// SIGKILL), and the trees of rows recorded by
    /// [`MetadataStore::spawn`] (leader alive or not), then remove them.
    /// Default: false.
    pub kill: bool,
    /// How long a process has to exit after SIGTERM. Default: 5 seconds.
    pub grace: Duration,
    /// Report the plan and change nothing (no signal, no removal).
    /// Default: false.
    pub dry_run: bool,
}

impl Default for ReapOptions {
    fn default() -> Self {
        ReapOptions {
            kill: false,
            grace: Duration::from_secs(5),
            dry_run: false,
        }
    }
}

impl ReapOptions {
    /// The defaults: remove `exited` and `reused` PIDs, stop nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`kill`](Self::kill).
    pub fn kill(mut self, kill: bool) -> Self {
        self.kill = kill;
        self
    }

    /// Sets [`grace`](Self::grace).
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Sets [`dry_run`](Self::dry_run).
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }
}

string_enum! {
    /// What [`MetadataStore::reap`] did with one stored PID (or, in a dry
    /// run, would do); as a word: `removed`, `killed`, `kept`, `failed`.
    ReapAction, "action" {
        /// Removed from its plugin (it was `exited` or `reused`, and
        /// nothing of its tree runs); never signalled.
        Removed => "removed",
        /// Stopped (it, or its tree, was ours and running), then removed.
        Killed => "killed",
        /// Left as it is.
        Kept => "kept",
        /// Could not be stopped (or, stopped, could not be removed); still
        /// recorded.
        Failed => "failed",
    }
}

/// One stored PID, what it was, and what reaping did with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Reaped {
    /// The PID as checked.
    #[serde(flatten)]
    pub check: PidCheck,
    /// What was done.
    pub action: ReapAction,
    /// Why, when the action is not the obvious one (`kept`, `failed`).
    pub reason: Option<String>,
}

impl MetadataStore {
    /// What every stored PID is now: `alive`, `exited`, `reused` or
    /// `unverified` (see [`PidState`]), in `(category, name)` and PID-list
    /// order. Writes nothing.
    pub fn check_pids(&self) -> Result<Vec<PidCheck>> {
        self.check(None)
    }

    /// [`check_pids`](Self::check_pids) for one plugin;
    /// [`Error::NotFound`] if it does not exist.
    pub fn check_plugin_pids(&self, category: &str, name: &str) -> Result<Vec<PidCheck>> {
        self.check(Some((category, name)))
    }

    /// Removes the stored PIDs whose process is gone (`exited`) or not
    /// ours (`reused`) — never signalling them — and, with
    /// [`ReapOptions::kill`], stops the `alive` ones and removes them once
    /// gone. `unverified` PIDs are always kept and never signalled. A tree
    /// row ([`spawn`](Self::spawn)) is removed only when its leader is gone
    /// and none of its processes that are ours runs; with kill its whole
    /// tree is stopped (see the README, "Process trees"). Never signalled,
    /// on any row: the reaping process, its ancestors, PID 1 and kernel
    /// threads — a row containing one is kept whole, the PID named. If the
    /// store stays locked after signals were sent, the stopped rows are
    /// [`ReapAction::Failed`] and the rest [`ReapAction::Kept`], each with
    /// the reason, rather than an error that would hide what was done. Each
    /// removal bumps its plugin's `updated_at`. Returns one [`Reaped`] per
    /// stored PID; a process that could not be stopped is
    /// [`ReapAction::Failed`] and stays recorded.
    pub fn reap(&self, options: &ReapOptions) -> Result<Vec<Reaped>> {
        let mut plan = self.reap_plan(options)?;
        if options.dry_run {
            return Ok(plan);
        }
        if options.kill {
            stop_alive(&mut plan, options.grace);
        }
        self.reap_remove(plan)
    }

    /// [`reap`](Self::reap)'s first step, which only reads: the check, and
    /// what to do with each PID (a row holding a process never to be
    /// signalled is kept). (The async handle runs the three steps on
    /// different threads, so the grace period holds up no write.)
    pub(crate) fn reap_plan(&self, options: &ReapOptions) -> Result<Vec<Reaped>> {
        let checks = self.check_pids()?;
        let protected = Protected::now();
        Ok(checks
            .into_iter()
            .map(|c| plan(c, options, &protected))
            .collect())
    }

    /// [`reap`](Self::reap)'s last step: removes the rows of the PIDs the
    /// plan removed or killed, in one write transaction. If that fails
    /// after signals were sent (a `killed` row), what was done is told
    /// rather than lost behind the error: the stopped rows become
    /// `failed`, the rest `kept`, each with the reason.
    pub(crate) fn reap_remove(&self, mut plan: Vec<Reaped>) -> Result<Vec<Reaped>> {
        let signalled = plan.iter().any(|r| r.action == ReapAction::Killed);
        let removed = self.checked(|| {
            let tx = self.write()?;
            remove_reaped(&tx, &mut plan)?;
            tx.commit()?;
            Ok(())
        });
        match removed {
            Ok(()) => Ok(plan),
            Err(e) if signalled => {
                not_removed(&mut plan, &e);
                Ok(plan)
            }
            Err(e) => Err(e),
        }
    }

    fn check(&self, plugin: Option<(&str, &str)>) -> Result<Vec<PidCheck>> {
        let claims = self.checked(|| {
            let tx = self.read()?;
            if let Some((category, name)) = plugin {
                let exists = tx
                    .prepare_cached(sql::PLUGIN_ID)?
                    .exists([category, name])?;
                if !exists {
                    return Err(Error::not_found(category, name).into());
                }
            }
            let mut stmt = tx.prepare_cached(match plugin {
                Some(_) => sql::PLUGIN_PID_CLAIMS,
                None => sql::PID_CLAIMS,
            })?;
            let mut rows = match plugin {
                Some((category, name)) => stmt.query([category, name])?,
                None => stmt.query([])?,
            };
            let mut claims = Vec::new();
            while let Some(row) = rows.next()? {
                claims.push(decode_pid_claim(row, &self.path)?);
            }
            drop(rows);
            drop(stmt);
            tx.commit()?;
            Ok(claims)
        })?;
        let here = Here::now();
        let mut checks: Vec<PidCheck> = claims.into_iter().map(|c| check_claim(c, here)).collect();
        // One /proc scan for every tree of this check, each environment
        // read at most once.
        if checks.iter().any(|c| c.tree.is_some()) {
            let procs = tree::scan();
            let mut tokens = HashMap::new();
            for c in &mut checks {
                if let Some((claim, found)) = &mut c.tree {
                    let (ours, unproven) = tree::members(claim, c.pid, &procs, &mut tokens);
                    c.group = ours.iter().map(|m| m.pid).collect();
                    c.unproven = unproven;
                    *found = ours;
                }
            }
        }
        Ok(checks)
    }
}

/// Asks the OS about one stored PID.
fn check_claim(claim: PidClaim, here: Here<'_>) -> PidCheck {
    let recorded = claim.identity.recorded();
    let (mut state, mut detail) = process::classify(&recorded, process::probe(claim.pid), here);
    if state == PidState::Unverified
        && let Some(process) = process::thread_of(claim.pid)
    {
        detail = format!(
            "{} is a thread of process {process}, not a process",
            claim.pid
        );
    }
    // Same start tick: where the kernel numbers processes (pidfs), the
    // pidfd's inode tells two processes of one tick apart.
    if state == PidState::Alive
        && let Some(then) = recorded.pidfd_inode
        && let Some(now) = process::open_pidfd(claim.pid)
            .as_ref()
            .and_then(process::pidfd_inode)
        && now != then
    {
        state = PidState::Reused;
        detail = format!(
            "the process started in the recorded clock tick but is another one (pidfd inode {now}, the recorded one {then})"
        );
    }
    // A tree is looked at on the recorded boot in the recorded PID
    // namespace, when its leader is ours (alive, or a zombie of ours) or
    // gone; a PID held by another process leaves only the token to prove
    // a process ours.
    let stored = claim.identity;
    let tree = match (stored.pgid, stored.spawn_token, recorded.start_time) {
        (Some(pgid), Some(token), Some(leader_start))
            if matches!(state, PidState::Alive | PidState::Exited | PidState::Reused)
                && here.boot.is_some()
                && recorded.boot_id.as_deref() == here.boot
                && recorded.pid_ns.is_none_or(|ns| Some(ns) == here.pid_ns) =>
        {
            let leader_verified = state == PidState::Alive
                || (state == PidState::Exited
                    && process::read_stat(claim.pid)
                        .is_some_and(|s| s.is_terminated() && s.start_time == Some(leader_start)));
            u32::try_from(pgid).ok().map(|pgid| {
                (
                    TreeClaim {
                        pgid,
                        token,
                        leader_start,
                        leader_verified,
                    },
                    Vec::new(),
                )
            })
        }
        _ => None,
    };
    PidCheck {
        pgid: stored.pgid.and_then(|g| u32::try_from(g).ok()),
        group: Vec::new(),
        unproven: Vec::new(),
        tree,
        unique_id: unique_id(&claim.category, &claim.name),
        category: claim.category,
        name: claim.name,
        pid: claim.pid,
        state,
        detail,
        recorded_at: stored.recorded_at,
        start_time: recorded.start_time,
        boot_id: recorded.boot_id,
        claim: ClaimKey {
            plugin_id: claim.plugin_id,
            rowid: claim.rowid,
            start_time: stored.start_time,
            pidfd_inode: recorded.pidfd_inode,
        },
    }
}

/// What reaping does with one checked PID, before any signal.
fn plan(check: PidCheck, options: &ReapOptions, protected: &Protected) -> Reaped {
    // A row holding a process never to be signalled is left whole.
    let shielded = std::iter::once(check.pid)
        .filter(|_| check.state == PidState::Alive)
        .chain(check.group.iter().copied())
        .chain(check.unproven.iter().copied())
        .find_map(|pid| protected.why(pid));
    let running = check.group.len();
    let (action, reason) = match check.state {
        _ if options.kill
            && shielded.is_some()
            && (check.state == PidState::Alive || running > 0) =>
        {
            (
                ReapAction::Kept,
                shielded.map(|why| format!("{why}; nothing in this row was signalled")),
            )
        }
        PidState::Exited | PidState::Reused if running > 0 && !options.kill => (
            ReapAction::Kept,
            Some(format!(
                "the leader is gone but {running} of its processes still run{} (stop them with kill)",
                list(&check.group)
            )),
        ),
        PidState::Exited | PidState::Reused if running > 0 => (ReapAction::Killed, None),
        PidState::Exited | PidState::Reused => (ReapAction::Removed, None),
        PidState::Alive if options.kill => (ReapAction::Killed, None),
        PidState::Alive => (
            ReapAction::Kept,
            Some("the process is running (stop it with kill)".to_owned()),
        ),
        PidState::Unverified => (
            ReapAction::Kept,
            Some("the PID's owner cannot be verified; it is never signalled".to_owned()),
        ),
    };
    Reaped {
        check,
        action,
        reason,
    }
}

/// ` (PIDs 1, 2, 3)`.
fn list(pids: &[u32]) -> String {
    let shown: Vec<String> = pids.iter().take(10).map(u32::to_string).collect();
    let more = if pids.len() > 10 { ", …" } else { "" };
    format!(
        " (PID{} {}{more})",
        if pids.len() == 1 { "" } else { "s" },
        shown.join(", ")
    )
}

/// Deletes the rows planned as `removed` or `killed`, each only if it is
/// still the row that was checked, and bumps their plugins' `updated_at`.
fn remove_reaped(tx: &WriteTx<'_>, plan: &mut [Reaped]) -> Fallible<()> {
    let at = now();
    let mut remove = tx.prepare_cached(sql::REMOVE_CHECKED_PID)?;
    let mut still_there = tx.prepare_cached(sql::PID_EXISTS)?;
    for reaped in plan.iter_mut() {
        if !matches!(reaped.action, ReapAction::Removed | ReapAction::Killed) {
            continue;
        }
        let (c, key) = (&reaped.check, &reaped.check.claim);
        let n = remove.execute(params![
            key.rowid,
            key.plugin_id,
            c.pid,
            c.recorded_at,
            key.start_time,
            c.boot_id
        ])?;
        if n > 0 {
            tx.touch_id(key.plugin_id, &c.category, &c.name, &at)?;
        } else if still_there.query_row(params![key.plugin_id, c.pid], |r| r.get::<_, bool>(0))? {
            // Re-recorded since the check (a fresh claim): not ours to drop.
            reaped.action = ReapAction::Kept;
            reaped.reason =
                Some("the PID was recorded again since the check; left as it is".to_owned());
        }
        // Otherwise another reaper (or the app) removed it already.
    }
    Ok(())
}
