//! Process trees: which processes of a spawned tree are provably ours, and
//! stopping all of them.
//!
//! A spawned process leads group `pgid` (= its PID) and carries a token in
//! its environment. A process is *ours* when it is the verified leader; or
//! it is in group `pgid` while the leader is verified (alive, or a zombie
//! with the recorded start time: either way the leader still holds the
//! number, so the group cannot have emptied and changed hands); or its
//! `/proc/<pid>/environ` carries the token and it started at or after the
//! leader (same boot). Any other process in group `pgid` is *unproven*:
//! reported, never signalled.
//!
//! Stopping a tree: SIGTERM (then SIGCONT) to the leader, then to every
//! member, each through a pidfd opened and re-checked first; the grace
//! period; then, if anything of ours still runs, the group is *pinned* by
//! stopping one verified member through its pidfd (while a member exists
//! the group's number cannot change hands), checked for protected
//! processes, and killed at once (`kill(-pgid, SIGKILL)`, atomic against a
//! fork in progress); token carriers outside the group are killed one by
//! one through pidfds after their token is re-checked; a final scan
//! confirms.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{Protected, SPAWN_TOKEN_VAR, StatFields, read_stat};

/// A process a `/proc` scan saw.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seen {
    pub(crate) pid: u32,
    pub(crate) stat: StatFields,
}

/// Every process visible in `/proc` now (thread-group leaders only: the
/// directory lists no other threads), zombies and kernel threads left out.
#[cfg(target_os = "linux")]
pub(crate) fn scan() -> Vec<Seen> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = read_stat(pid)?;
            (!stat.is_terminated() && !stat.is_kernel_thread()).then_some(Seen { pid, stat })
        })
        .collect()
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn scan() -> Vec<Seen> {
    Vec::new()
}

/// The spawn token in the environment of `pid`, if it carries one and the
/// environment can be read.
#[cfg(target_os = "linux")]
pub(crate) fn token_of(pid: u32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{SPAWN_TOKEN_VAR}=");
    environ
        .split(|&b| b == 0)
        .find_map(|var| var.strip_prefix(prefix.as_bytes()))
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::to_owned)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn token_of(_pid: u32) -> Option<String> {
    None
}

/// A recorded tree, as the check needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TreeClaim {
    pub(crate) pgid: u32,
    pub(crate) token: String,
    /// The leader's recorded start time.
    pub(crate) leader_start: u64,
    /// Whether the leader still holds its number as the recorded process
    /// (alive, or a zombie with the recorded start time).
    pub(crate) leader_verified: bool,
}

/// A process of a tree that is ours, with what identifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) pid: u32,
    pub(crate) start_time: u64,
    /// In the tree's group when it was seen.
    pub(crate) in_group: bool,
}

/// The members of tree `claim` (leader excluded) that are ours, and the
/// PIDs in its group that are not provably ours, from one scan.
/// `tokens` caches environments read for other trees of the same check.
pub(crate) fn members(
    claim: &TreeClaim,
    leader: u32,
    procs: &[Seen],
    tokens: &mut HashMap<u32, Option<String>>,
) -> (Vec<Member>, Vec<u32>) {
    let mut ours = Vec::new();
    let mut unproven = Vec::new();
    for p in procs {
        if p.pid == leader {
            continue;
        }
        let in_group = p.stat.pgrp == claim.pgid;
        let Some(start_time) = p.stat.start_time else {
            if in_group {
                unproven.push(p.pid);
            }
            continue;
        };
        let member = Member {
            pid: p.pid,
            start_time,
            in_group,
        };
        if in_group && claim.leader_verified {
            ours.push(member);
            continue;
        }
        // Ticks are 10 ms: "at or after" the leader's start.
        let carries = start_time >= claim.leader_start
            && tokens
                .entry(p.pid)
                .or_insert_with(|| token_of(p.pid))
                .as_deref()
                == Some(claim.token.as_str());
        if carries {
            ours.push(member);
        } else if in_group {
            unproven.push(p.pid);
        }
    }
    (ours, unproven)
}

/// How stopping a tree ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TreeStopped {
    /// The members signalled (leader excluded).
    pub(crate) signalled: Vec<u32>,
    /// `None` if nothing of ours runs any more; else why not.
    pub(crate) failed: Option<String>,
}

/// One process of the tree held through a pidfd.
#[cfg(target_os = "linux")]
struct Held {
    pid: u32,
    start_time: u64,
    fd: rustix::fd::OwnedFd,
}

#[cfg(target_os = "linux")]
impl Held {
    /// A pidfd for `pid`, kept only if the process it pins is the one
    /// seen (start time, and the token for one outside the group).
    fn open(pid: u32, start_time: u64, token: Option<&str>) -> Option<Held> {
        let fd = super::open_pidfd(pid)?;
        let stat = read_stat(pid)?;
        if stat.is_terminated() || stat.start_time != Some(start_time) {
            return None;
        }
        if let Some(token) = token
            && token_of(pid).as_deref() != Some(token)
        {
            return None;
        }
        Some(Held {
            pid,
            start_time,
            fd,
        })
    }

    /// Whether the held process still runs (not exited, not a zombie).
    fn runs(&self) -> bool {
        read_stat(self.pid)
            .is_some_and(|s| !s.is_terminated() && s.start_time == Some(self.start_time))
    }

    fn signal(&self, signal: rustix::process::Signal) -> bool {
        rustix::process::pidfd_send_signal(&self.fd, signal).is_ok()
    }
}

/// The tree's processes of ours running now: the leader if `leader` (pid,
/// start) still runs, and every member by the rule of [`members`] (the
/// leader counted as verified while `pinned`).
#[cfg(target_os = "linux")]
fn ours_now(claim: &TreeClaim, leader: (u32, u64), pinned: bool) -> (Vec<Member>, Vec<Seen>) {
    let procs = scan();
    let leader_runs = procs
        .iter()
        .any(|p| p.pid == leader.0 && p.stat.start_time == Some(leader.1));
    let claim = TreeClaim {
        leader_verified: claim.leader_verified && (pinned || leader_runs),
        ..claim.clone()
    };
    let (mut ours, _) = members(&claim, leader.0, &procs, &mut HashMap::new());
    if leader_runs {
        ours.push(Member {
            pid: leader.0,
            start_time: leader.1,
            in_group: true,
        });
    }
    (ours, procs)
}

/// Stops tree `claim` whose leader is `leader` = (pid, recorded start) and
/// whose members a check found (`members`); never signals a process
/// `protected` names.
#[cfg(target_os = "linux")]
pub(crate) fn stop_tree(
    claim: &TreeClaim,
    leader: (u32, u64),
    found: &[Member],
    grace: Duration,
    protected: &Protected,
) -> TreeStopped {
    use rustix::process::Signal;
    let mut signalled: Vec<u32> = Vec::new();
    let token =
        |m: &Member| (!m.in_group || !claim.leader_verified).then_some(claim.token.as_str());
    // SIGTERM, then SIGCONT (a stopped process ignores SIGTERM until
    // continued): the leader first, so it may stop its workers itself.
    let mut held: Vec<Held> = Vec::new();
    if let Some(l) = Held::open(leader.0, leader.1, None) {
        l.signal(Signal::TERM);
        l.signal(Signal::CONT);
        held.push(l);
    }
    for m in found {
        if protected.why(m.pid).is_some() {
            continue;
        }
        if let Some(h) = Held::open(m.pid, m.start_time, token(m)) {
            h.signal(Signal::TERM);
            h.signal(Signal::CONT);
            signalled.push(m.pid);
            held.push(h);
        }
    }
    // The grace period, or until nothing of ours runs.
    let deadline = Instant::now() + grace;
    loop {
        let (ours, _) = ours_now(claim, leader, false);
        if ours.is_empty() {
            return TreeStopped {
                signalled,
                failed: None,
            };
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Kill what is left: the group at once, once pinned; the rest one by one.
    for _round in 0..3 {
        let (ours, _) = ours_now(claim, leader, false);
        if ours.is_empty() {
            break;
        }
        // Pin the group: stop one verified member of it through its pidfd.
        let pin = ours
            .iter()
            .filter(|m| m.in_group && protected.why(m.pid).is_none())
            .find_map(|m| {
                let h = Held::open(m.pid, m.start_time, None)?;
                h.signal(Signal::STOP).then_some(h)
            });
        if let Some(pin) = &pin
            && read_stat(pin.pid).is_some_and(|s| s.pgrp == claim.pgid)
        {
            let procs = scan();
            if let Some(p) = procs
                .iter()
                .find(|p| p.stat.pgrp == claim.pgid && protected.why(p.pid).is_some())
            {
                pin.signal(Signal::CONT);
                let why = protected.why(p.pid).unwrap_or_default();
                return TreeStopped {
                    signalled,
                    failed: Some(format!(
                        "group {} holds a process never signalled ({why}); the group was not killed",
                        claim.pgid
                    )),
                };
            }
            for p in procs.iter().filter(|p| p.stat.pgrp == claim.pgid) {
                if !signalled.contains(&p.pid) && p.pid != leader.0 {
                    signalled.push(p.pid);
                }
            }
            if let Some(raw) = i32::try_from(claim.pgid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process_group(raw, Signal::KILL);
            }
        }
        // Token carriers outside the group (a worker that called setsid),
        // one by one, their token re-checked through the pidfd.
        let (ours, _) = ours_now(claim, leader, pin.is_some());
        for m in ours.iter().filter(|m| protected.why(m.pid).is_none()) {
            let carrier = m.pid != leader.0 && !(m.in_group && claim.leader_verified);
            let h = Held::open(m.pid, m.start_time, carrier.then_some(claim.token.as_str()));
            if let Some(h) = h {
                h.signal(Signal::KILL);
                if m.pid != leader.0 && !signalled.contains(&m.pid) {
                    signalled.push(m.pid);
                }
            }
        }
        // Wait for them to go (zombies count as gone).
        let deadline = Instant::now() + Duration::from_secs(2);
        while held.iter().any(Held::runs) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let settle = Instant::now() + Duration::from_secs(2);
        while !ours_now(claim, leader, false).0.is_empty() && Instant::now() < settle {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    // The final scan.
    let (left, _) = ours_now(claim, leader, false);
    let failed = (!left.is_empty()).then(|| {
        let pids: Vec<String> = left.iter().map(|m| m.pid.to_string()).collect();
        let protected_left = left.iter().find_map(|m| protected.why(m.pid));
        match protected_left {
            Some(why) => format!("still running: {} ({why})", pids.join(", ")),
            None => format!("still running after SIGKILL: {}", pids.join(", ")),
        }
    });
    signalled.sort_unstable();
    TreeStopped { signalled, failed }
}

/// Elsewhere there are no trees to stop.
#[cfg(not(target_os = "linux"))]
pub(crate) fn stop_tree(
    _claim: &TreeClaim,
    _leader: (u32, u64),
    _found: &[Member],
    _grace: Duration,
    _protected: &Protected,
) -> TreeStopped {
    TreeStopped {
        signalled: Vec::new(),
        failed: Some("stopping process trees needs Linux (pidfd)".to_owned()),
    }
}
