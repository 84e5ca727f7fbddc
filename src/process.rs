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

use std::time::Duration;

use crate::model::string_enum;

pub(crate) mod tree;

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
    // The pidfd first: it pins the process whose stat is read next.
    let pidfd = open_pidfd(pid);
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
    let raw = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)?;
    rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()).ok()
}

/// Elsewhere there are no pidfds.
#[cfg(not(target_os = "linux"))]
pub(crate) fn open_pidfd(_pid: u32) -> Option<std::convert::Infallible> {
    None
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

/// The processes a reap must never signal: itself, its ancestors, PID 1
/// and kernel threads. Built once per reap (the ancestors are read then).
#[derive(Clone, Debug)]
pub(crate) struct Protected {
    me: u32,
    ancestors: Vec<u32>,
}

impl Protected {
    /// The reaping process and its ancestors as they are now.
    pub(crate) fn now() -> Protected {
        let me = std::process::id();
        let mut ancestors = Vec::new();
        let mut pid = me;
        // The chain ends at PID 1 (or 0, outside this PID namespace); the
        // bound guards against a cycle read while processes change.
        while ancestors.len() < 4096 {
            match read_stat(pid) {
                Some(f) if f.ppid > 0 && f.ppid != pid => {
                    ancestors.push(f.ppid);
                    pid = f.ppid;
                }
                _ => break,
            }
        }
        #[cfg(unix)]
        if ancestors.is_empty() {
            // No /proc: at least the parent.
            if let Some(parent) = rustix::process::getppid() {
                ancestors.push(parent.as_raw_nonzero().get().unsigned_abs());
            }
        }
        Protected { me, ancestors }
    }

    /// Why `pid` must never be signalled, or `None` if it may be.
    pub(crate) fn why(&self, pid: u32) -> Option<String> {
        if pid == self.me {
            Some(format!("PID {pid} is the reaping process itself"))
        } else if pid == 1 {
            Some("PID 1 (init) is never signalled".to_owned())
        } else if self.ancestors.contains(&pid) {
            Some(format!("PID {pid} is an ancestor of the reaping process"))
        } else if read_stat(pid).is_some_and(|f| f.is_kernel_thread()) {
            Some(format!("PID {pid} is a kernel thread"))
        } else {
            None
        }
    }
}

/// A fresh spawn token: 128 random bits from the OS (`/dev/urandom`), as
/// 32 lowercase hex digits.
pub(crate) fn new_spawn_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot read /dev/urandom: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// SIGKILL to the process group `pid` of a child this process started and
/// has not waited for (its number, and so its group's, cannot belong to
/// anyone else yet). No group of that number: nothing happens.
#[cfg(unix)]
pub(crate) fn kill_group_of_unwaited_child(pid: u32) {
    if let Some(raw) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(raw, rustix::process::Signal::KILL);
    }
}

#[cfg(not(unix))]
pub(crate) fn kill_group_of_unwaited_child(_pid: u32) {}

/// How an attempt to stop a process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// It is gone (exited or a zombie), by our signal or on its own.
    Gone,
    /// The PID no longer holds the recorded process; nothing was signalled
    /// after that was seen.
    NotOurs(String),
    /// It could not be stopped; why.
    Failed(String),
}

/// Stops the process `pid` that started at `start_time`: SIGTERM, up to
/// `grace` to exit, then SIGKILL, re-checking its identity through a pidfd
/// right before each signal.
#[cfg(target_os = "linux")]
pub(crate) fn stop(pid: u32, start_time: u64, inode: Option<u64>, grace: Duration) -> Stopped {
    use rustix::io::Errno;
    use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

    let Some(raw) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return Stopped::Failed(format!("{pid} is not a PID this OS can signal"));
    };
    let fd = match pidfd_open(raw, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(Errno::SRCH) => return Stopped::Gone,
        Err(e) => return Stopped::Failed(format!("cannot open a pidfd: {e}")),
    };
    // Where the kernel numbers pidfds per process, the pidfd itself says
    // which process it pins.
    if let (Some(then), Some(now)) = (inode, pidfd_inode(&fd))
        && then != now
    {
        return Stopped::NotOurs(format!(
            "the PID now holds another process (pidfd inode {now}, the recorded one {then})"
        ));
    }
    for (signal, wait) in [
        (Signal::TERM, grace),
        (Signal::KILL, Duration::from_secs(5)),
    ] {
        // The pidfd pins the process: if the start time still matches now,
        // the signal reaches the recorded process or nobody.
        match probe(pid) {
            Probe::Absent | Probe::Zombie => return Stopped::Gone,
            Probe::Running(Some(now)) if now == start_time => {}
            Probe::Running(Some(now)) => {
                return Stopped::NotOurs(format!(
                    "the PID now holds a process started at {now}, not {start_time}"
                ));
            }
            Probe::Running(None) => {
                return Stopped::Failed("the process's start time cannot be read".to_owned());
            }
        }
        match pidfd_send_signal(&fd, signal) {
            Ok(()) => {}
            Err(Errno::SRCH) => return Stopped::Gone,
            Err(Errno::PERM) => {
                return Stopped::Failed("no permission to signal the process".to_owned());
            }
            Err(e) => return Stopped::Failed(format!("cannot signal the process: {e}")),
        }
        if wait_gone(pid, start_time, wait) {
            return Stopped::Gone;
        }
    }
    Stopped::Failed("still running after SIGKILL".to_owned())
}

/// Elsewhere no identity is recorded, so no process is ever `alive` and
/// this is not reached; it refuses rather than signal by number.
#[cfg(not(target_os = "linux"))]
pub(crate) fn stop(_pid: u32, _start_time: u64, _inode: Option<u64>, _grace: Duration) -> Stopped {
    Stopped::Failed("stopping processes safely needs Linux (pidfd)".to_owned())
}

/// Polls until the process `pid` started at `start_time` is gone (or the
/// PID holds another process), for at most `wait`.
#[cfg(target_os = "linux")]
fn wait_gone(pid: u32, start_time: u64, wait: Duration) -> bool {
    let deadline = std::time::Instant::now() + wait;
    loop {
        match probe(pid) {
            Probe::Running(Some(now)) if now == start_time => {}
            Probe::Running(None) => {}
            _ => return true,
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        // A command name with spaces and parentheses, as `prctl` allows.
        let mut stat = b"4242 (evil) 1 2 (x) S 1 4242 4242 0 -1 4194560 ".to_vec();
        // Fields 10..=21 (12 of them), then start time (22), then more.
        stat.extend_from_slice(b"100 0 0 0 5 1 0 0 20 0 1 0 987654 1000 200\n");
        assert_eq!(parse_stat(&stat), Probe::Running(Some(987654)));
        let zombie = b"7 (a) b) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0\n";
        assert_eq!(parse_stat(zombie), Probe::Zombie);
        assert_eq!(parse_stat(b"garbage"), Probe::Running(None));
    }

    #[test]
    fn classification_follows_the_design_table() {
        let rec = Identity {
            start_time: Some(10),
            boot_id: Some("b1".into()),
            pid_ns: Some(7),
            pidfd_inode: None,
        };
        let none = Identity::default();
        let state = |r: &Identity, p, b| {
            classify(
                r,
                p,
                Here {
                    boot: b,
                    pid_ns: Some(7),
                },
            )
            .0
        };
        let elsewhere = Here {
            boot: Some("b1"),
            pid_ns: Some(8),
        };
        // Another namespace: unverified, whatever the number holds here.
        for probe in [Probe::Absent, Probe::Zombie, Probe::Running(Some(10))] {
            assert_eq!(classify(&rec, probe, elsewhere).0, PidState::Unverified);
        }
        assert_eq!(state(&rec, Probe::Absent, Some("b1")), PidState::Exited);
        assert_eq!(state(&rec, Probe::Zombie, Some("b1")), PidState::Exited);
        assert_eq!(state(&none, Probe::Zombie, Some("b1")), PidState::Exited);
        let running = |s| Probe::Running(Some(s));
        assert_eq!(state(&rec, running(10), Some("b1")), PidState::Alive);
        assert_eq!(state(&rec, running(11), Some("b1")), PidState::Reused);
        assert_eq!(state(&rec, running(10), Some("b2")), PidState::Exited);
        assert_eq!(state(&none, running(10), Some("b1")), PidState::Unverified);
        assert_eq!(
            state(&rec, Probe::Running(None), Some("b1")),
            PidState::Unverified
        );
    }

    #[test]
    fn the_reaper_its_parent_and_pid_1_are_protected() {
        let protected = Protected::now();
        let me = std::process::id();
        assert!(
            protected
                .why(me)
                .unwrap()
                .contains("reaping process itself")
        );
        assert!(protected.why(1).unwrap().contains("PID 1"));
        #[cfg(unix)]
        {
            let parent = rustix::process::getppid().map(|p| p.as_raw_nonzero().get() as u32);
            if let Some(parent) = parent.filter(|&p| p > 1) {
                assert!(protected.why(parent).unwrap().contains("ancestor"));
            }
        }
        // A process this test starts is not.
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        assert_eq!(protected.why(child.id()), None);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_an_identity() {
        let me = std::process::id();
        let id = identity(me);
        assert!(id.start_time.is_some() && id.boot_id.is_some(), "{id:?}");
        assert_eq!(
            classify(&id, probe(me), Here::now()).0,
            PidState::Alive,
            "{id:?}"
        );
    }
}
