//! OS process identity: is PID 4242 still the process that was recorded?
//!
//! A PID is only a number; the OS hands it out again once its process is
//! gone. What identifies one process is the PID together with its start
//! time and the boot it started in. On Linux the start time is field 22 of
//! `/proc/<pid>/stat` (clock ticks since boot) and the boot is
//! `/proc/sys/kernel/random/boot_id`. Elsewhere no identity is read: a
//! process that exists is then [`PidState::Unverified`], never stopped.
//!
//! Stopping a process ([`stop`], Linux only) opens a pidfd first, then
//! compares the start time, then signals through the pidfd: the pidfd pins
//! the process the check saw, so a PID reused in between is never
//! signalled.

use crate::model::string_enum;

mod signal;
pub(crate) mod tree;

pub(crate) use signal::*;

/// The environment variable that carries a spawned tree's token.
pub(crate) const SPAWN_TOKEN_VAR: &str = "PLUGIN_METASTORE_SPAWN";

string_enum! {
    /// What a stored PID is now. Every stored PID is in exactly one state;
    /// as a word (`as_str`, `Display`, serde): `alive`, `exited`, `reused`,
    /// `unverified`.
    PidState, "state" {
        /// A process with this PID runs on this boot and started when the
        /// recorded one did: it is the recorded process.
        Alive => "alive",
        /// No process has this PID, it is a zombie (terminated, not yet
        /// waited for), or the PID was recorded on another boot.
        Exited => "exited",
        /// A process has this PID but started at another time (or, where
        /// the kernel tells, is another process of the same clock tick):
        /// it is not the recorded process.
        Reused => "reused",
        /// A process has this PID, but no identity was recorded, it cannot
        /// be read now, or the PID was recorded in another PID namespace:
        /// the store cannot tell whose it is.
        Unverified => "unverified",
    }
}

/// True if a live process (not a zombie) holds `pid` now, as far as this
/// OS lets the store tell (where it cannot tell: true). For an app about
/// to record PIDs it did not start itself, such as example data.
pub fn pid_in_use(pid: u32) -> bool {
    matches!(probe(pid), Probe::Running(_))
}

/// What the OS says about a PID right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Probe {
    /// No process has this PID.
    Absent,
    /// The process has terminated and waits for its parent: it runs nothing.
    Zombie,
    /// A process has this PID; its start time, when it can be read.
    Running(Option<u64>),
}

/// The identity recorded beside a PID.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) start_time: Option<u64>,
    pub(crate) boot_id: Option<String>,
    /// The PID namespace the PID was read in (the recorder's).
    pub(crate) pid_ns: Option<u64>,
    /// The process's pidfd inode, on kernels that keep pidfds on pidfs.
    pub(crate) pidfd_inode: Option<u64>,
}

/// The identity of the live process `pid` right now: its start time and
/// boot (both, or neither: not running, a zombie, or not readable here),
/// the PID namespace it was read in, and its pidfd inode where the kernel
/// has one per process.
pub(crate) fn identity(pid: u32) -> Identity {
    read_identity(pid, false)
}

/// [`identity`] for a child this process holds and has not waited for: a
/// child that already exited is a zombie whose start time is still its
/// own (its PID cannot be reused before it is waited for).
pub(crate) fn child_identity(pid: u32) -> Identity {
    read_identity(pid, true)
}

fn read_identity(pid: u32, zombie_too: bool) -> Identity {
    // The pidfd first: it pins the process whose stat is read next. The
    // kernel saying no process has the PID (in this namespace; a zombie
    // still has one) needs no second look.
    let Some(pidfd) = pidfd_unless_absent(pid) else {
        return Identity::default();
    };
    let start_time = if zombie_too {
        read_stat(pid).and_then(|f| f.start_time)
    } else {
        match probe(pid) {
            Probe::Running(start) => start,
            _ => None,
        }
    };
    match (start_time, boot_id()) {
        (Some(start_time), Some(boot)) => Identity {
            start_time: Some(start_time),
            boot_id: Some(boot.to_owned()),
            pid_ns: pid_namespace(),
            pidfd_inode: pidfd.as_ref().and_then(pidfd_inode),
        },
        _ => Identity::default(),
    }
}

/// This process's PID namespace (the inode of `/proc/self/ns/pid`), read
/// once: a process never changes its own PID namespace.
pub(crate) fn pid_namespace() -> Option<u64> {
    static NS: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *NS.get_or_init(read_pid_namespace)
}

#[cfg(target_os = "linux")]
fn read_pid_namespace() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/pid").ok().map(|m| m.ino())
}

#[cfg(not(target_os = "linux"))]
fn read_pid_namespace() -> Option<u64> {
    None
}

/// A pidfd for `pid`, if one can be opened (Linux).
#[cfg(target_os = "linux")]
pub(crate) fn open_pidfd(pid: u32) -> Option<rustix::fd::OwnedFd> {
    pidfd_unless_absent(pid).flatten()
}

/// Elsewhere there are no pidfds.
#[cfg(not(target_os = "linux"))]
pub(crate) fn open_pidfd(_pid: u32) -> Option<std::convert::Infallible> {
    None
}

/// [`open_pidfd`], but `None` when the kernel says no process has `pid`
/// (`ESRCH`): `Some(None)` when it could not say (no pidfds on this kernel,
/// a thread id, ...).
#[cfg(target_os = "linux")]
fn pidfd_unless_absent(pid: u32) -> Option<Option<rustix::fd::OwnedFd>> {
    let Some(raw) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return Some(None);
    };
    match rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => Some(Some(fd)),
        Err(rustix::io::Errno::SRCH) => None,
        Err(_) => Some(None),
    }
}

#[cfg(not(target_os = "linux"))]
fn pidfd_unless_absent(_pid: u32) -> Option<Option<std::convert::Infallible>> {
    Some(None)
}

/// The inode of a pidfd when pidfds live on pidfs (Linux 6.9 and later):
/// one per process, never reused during a boot. `None` on older kernels,
/// where every pidfd shares one anonymous inode.
#[cfg(target_os = "linux")]
pub(crate) fn pidfd_inode(fd: &rustix::fd::OwnedFd) -> Option<u64> {
    /// `PIDFS_MAGIC` from the kernel's `magic.h`.
    const PIDFS_MAGIC: i64 = 0x5049_4446;
    let fs = rustix::fs::fstatfs(fd).ok()?;
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    if i64::from(fs.f_type) != PIDFS_MAGIC {
        return None;
    }
    let st = rustix::fs::fstat(fd).ok()?;
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    u64::try_from(st.st_ino).ok().filter(|&ino| ino > 0)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn pidfd_inode(fd: &std::convert::Infallible) -> Option<u64> {
    match *fd {}
}

/// What the checking process knows of where it runs: its boot and PID
/// namespace.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Here<'a> {
    pub(crate) boot: Option<&'a str>,
    pub(crate) pid_ns: Option<u64>,
}

impl Here<'static> {
    /// This process's boot and PID namespace.
    pub(crate) fn now() -> Here<'static> {
        Here {
            boot: boot_id(),
            pid_ns: pid_namespace(),
        }
    }
}

/// Classifies a stored PID with its recorded identity against what the OS
/// says now; the `String` is why, in words. A PID recorded in another PID
/// namespace names another process (or none) here: `unverified`, unless
/// it was another boot.
pub(crate) fn classify(recorded: &Identity, now: Probe, here: Here<'_>) -> (PidState, String) {
    let other_boot = matches!(
        (recorded.boot_id.as_deref(), here.boot),
        (Some(then), Some(b)) if b != then
    );
    if !other_boot
        && let (Some(then), Some(ns)) = (recorded.pid_ns, here.pid_ns)
        && then != ns
    {
        return (
            PidState::Unverified,
            format!(
                "recorded in another PID namespace (pid:[{then}]; this is pid:[{ns}]): \
                 the number names another process here"
            ),
        );
    }
    match now {
        Probe::Absent => (PidState::Exited, "no process has this PID".to_owned()),
        Probe::Zombie => (
            PidState::Exited,
            "the process has terminated (a zombie)".to_owned(),
        ),
        Probe::Running(_) if other_boot => (
            PidState::Exited,
            "recorded on another boot; the PID now belongs to another process".to_owned(),
        ),
        Probe::Running(start_now) => match (recorded.start_time, recorded.boot_id.as_deref()) {
            (Some(then), Some(_)) => match start_now {
                Some(start) if start == then => (PidState::Alive, String::new()),
                Some(start) => (
                    PidState::Reused,
                    format!("the process started at {start}, the recorded one at {then}"),
                ),
                None => (
                    PidState::Unverified,
                    "the process's start time cannot be read".to_owned(),
                ),
            },
            _ => (
                PidState::Unverified,
                "no identity was recorded for this PID".to_owned(),
            ),
        },
    }
}

/// This machine's boot id, read once per process (a reboot ends every
/// process, this one included).
pub(crate) fn boot_id() -> Option<&'static str> {
    static BOOT_ID: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    BOOT_ID.get_or_init(read_boot_id).as_deref()
}

#[cfg(target_os = "linux")]
fn read_boot_id() -> Option<String> {
    let text = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let id = text.trim();
    (!id.is_empty()).then(|| id.to_owned())
}

#[cfg(not(target_os = "linux"))]
fn read_boot_id() -> Option<String> {
    None
}

/// What the OS says about `pid` now.
///
/// `/proc/<pid>/stat` missing is not proof that no process has the PID:
/// under `hidepid` another user's processes are hidden. Then `kill(pid,
/// 0)` decides: ESRCH is [`Probe::Absent`], anything else (EPERM: it
/// exists, not ours to signal) a process whose start time cannot be read.
#[cfg(target_os = "linux")]
pub(crate) fn probe(pid: u32) -> Probe {
    match std::fs::read(format!("/proc/{pid}/stat")) {
        Ok(stat) => match parse_stat(&stat) {
            // The main thread has ended; the process lives while any of
            // its other threads runs (their start times are their own).
            Probe::Zombie if other_thread_runs(pid) => {
                Probe::Running(stat_fields(&stat).and_then(|f| f.start_time))
            }
            probe => probe,
        },
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                // ESRCH: the process went away while the file was being read.
                || e.raw_os_error() == Some(3) =>
        {
            signal_zero(pid)
        }
        Err(_) => Probe::Running(None),
    }
}

/// Whether a thread of process `pid` other than its main thread has not
/// terminated.
#[cfg(target_os = "linux")]
fn other_thread_runs(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        let tid = task.file_name();
        tid.to_str() != Some(&pid.to_string())
            && std::fs::read(task.path().join("stat"))
                .is_ok_and(|stat| matches!(parse_stat(&stat), Probe::Running(_)))
    })
}

/// `kill(pid, 0)`: ESRCH is [`Probe::Absent`]; success or EPERM mean a
/// process holds the PID.
#[cfg(unix)]
fn signal_zero(pid: u32) -> Probe {
    let Some(raw) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return Probe::Absent;
    };
    match rustix::process::test_kill_process(raw) {
        Err(rustix::io::Errno::SRCH) => Probe::Absent,
        _ => Probe::Running(None),
    }
}

/// Elsewhere on Unix: whether the PID exists (signal 0), no start time.
#[cfg(all(unix, not(target_os = "linux")))]
pub(crate) fn probe(pid: u32) -> Probe {
    signal_zero(pid)
}

/// Elsewhere: nothing can be told, so a stored PID is never "exited" and
/// never stopped.
#[cfg(not(unix))]
pub(crate) fn probe(_pid: u32) -> Probe {
    Probe::Running(None)
}

/// The fields of `/proc/<pid>/stat` the store reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StatFields {
    /// Field 3: `R`, `S`, `Z`, …
    pub(crate) state: u8,
    /// Field 4.
    pub(crate) ppid: u32,
    /// Field 5: the process group.
    pub(crate) pgrp: u32,
    /// Field 9: the kernel's `PF_*` flags.
    pub(crate) flags: u64,
    /// Field 22, when it parses.
    pub(crate) start_time: Option<u64>,
}

/// The kernel's flag for its own threads (`PF_KTHREAD`).
const PF_KTHREAD: u64 = 0x0020_0000;

impl StatFields {
    /// A kernel thread (kthreadd and its children): never a plugin's.
    pub(crate) fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }

    /// Terminated (a zombie or dead): runs nothing.
    pub(crate) fn is_terminated(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

/// Parses `/proc/<pid>/stat`: `pid (comm) state ppid … starttime …`. The
/// command name may hold spaces and parentheses, so the fields are counted
/// after the last `)`: state is field 3, the start time field 22.
pub(crate) fn stat_fields(stat: &[u8]) -> Option<StatFields> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    // Fields 6, 7, 8, then the flags (9).
    let flags = fields.nth(3)?.parse().ok()?;
    // The flags were field 9; the start time is 13 fields further.
    let start_time = fields.nth(22 - 9 - 1).and_then(|f| f.parse().ok());
    Some(StatFields {
        state,
        ppid,
        pgrp,
        flags,
        start_time,
    })
}

/// What `/proc/<pid>/stat` says of the process (its main thread).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_stat(stat: &[u8]) -> Probe {
    match stat_fields(stat) {
        Some(f) if f.is_terminated() => Probe::Zombie,
        Some(f) => Probe::Running(f.start_time),
        None => Probe::Running(None),
    }
}

/// The stat fields of the process (or thread) `pid`, if readable.
#[cfg(target_os = "linux")]
pub(crate) fn read_stat(pid: u32) -> Option<StatFields> {
    stat_fields(&std::fs::read(format!("/proc/{pid}/stat")).ok()?)
}

/// Elsewhere there is no `/proc`.
#[cfg(not(target_os = "linux"))]
pub(crate) fn read_stat(_pid: u32) -> Option<StatFields> {
    None
}

/// The thread group (the process) that `pid` belongs to, when `pid` is a
/// thread id that is not its process's main thread: such an id is not a
/// process and must not be recorded as one. `None` when `pid` leads its
/// thread group, holds no thread, or cannot be read.
#[cfg(target_os = "linux")]
pub(crate) fn thread_of(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let tgid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))?
        .trim()
        .parse()
        .ok()?;
    (tgid != pid).then_some(tgid)
}

/// Elsewhere threads cannot be told from processes.
#[cfg(not(target_os = "linux"))]
pub(crate) fn thread_of(_pid: u32) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests;
