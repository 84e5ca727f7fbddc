//! `demo` run by a test, and the `sleep 600` it starts: stopped when the
//! test ends, pass or fail, so no test run leaves a demo child behind.

use std::path::Path;
use std::time::Duration;

/// What `demo` said, and the child process it started (if it started
/// one), killed when this is dropped.
///
/// Only that one process is ever signalled: its PID is read from demo's
/// own output, and it is killed only if it is still the process that was
/// there when the guard was made (same start time) and carries the
/// `PLUGIN_METASTORE_SPAWN` token that `spawn` gives its trees. A child a
/// test already stopped (say with `reap --kill`) is left alone.
pub struct Demo {
    /// demo's standard output.
    pub stdout: String,
    child: Option<Child>,
}

/// demo's child as it was when the guard was made.
struct Child {
    pid: u32,
    /// Its start time (field 22 of `/proc/PID/stat`).
    started: Option<u64>,
}

impl Demo {
    /// Runs `plugin-metastore --db DB demo`, fails the test unless it
    /// succeeded, and guards the child it started.
    #[track_caller]
    pub fn run(db: &Path) -> Demo {
        Demo::of(super::metastore_ok(db, &["demo"]))
    }

    /// Guards the child named in `stdout`, the output of a `demo` the test
    /// ran its own way (another environment, umask, or runner).
    pub fn of(stdout: impl Into<String>) -> Demo {
        let stdout = stdout.into();
        let child = child_pid(&stdout).map(|pid| Child {
            pid,
            started: start_time(pid),
        });
        Demo { stdout, child }
    }

    /// The PID of the child demo started and recorded, if it started one.
    pub fn child(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.pid)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            child.stop();
        }
    }
}

impl Child {
    /// Kills the process if it is still demo's child, and waits (briefly)
    /// until it is gone.
    fn stop(&self) {
        if !self.is_still_ours() {
            return;
        }
        let Some(pid) = rustix::process::Pid::from_raw(self.pid as i32) else {
            return;
        };
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        // Its parent (the CLI) has exited, so init reaps it; until then it
        // is a zombie, which no longer runs.
        for _ in 0..500 {
            if !self.is_still_ours() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// True while the PID still holds the process demo started: the same
    /// start time, not a zombie, the spawn token in its environment.
    fn is_still_ours(&self) -> bool {
        if self.started.is_none() || start_time(self.pid) != self.started {
            return false;
        }
        if super::is_zombie(self.pid) {
            return false;
        }
        let environ = std::fs::read(format!("/proc/{}/environ", self.pid)).unwrap_or_default();
        environ
            .split(|&b| b == 0)
            .any(|var| var.starts_with(b"PLUGIN_METASTORE_SPAWN="))
    }
}

/// The PID in demo's line "started `sleep 600` as PID N …".
fn child_pid(stdout: &str) -> Option<u32> {
    let (_, rest) = stdout.split_once("started `sleep 600` as PID ")?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The start time of process `pid` (field 22 of `/proc/PID/stat`).
fn start_time(pid: u32) -> Option<u64> {
    super::proc_stat(pid)?.get(19)?.parse().ok()
}
