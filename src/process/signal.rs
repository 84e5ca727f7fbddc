//! Signalling processes: who must never be signalled ([`Protected`]), a
//! spawned tree's token, and stopping one verified process through its
//! pidfd ([`stop`]).

use std::time::Duration;

use super::*;

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
