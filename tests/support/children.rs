//! The CLI as a child process: its command line, its outcome, lines read
//! from its output with a deadline, and signals; and any command run to
//! its end and checked.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

/// `plugin-metastore --db DB` (the binary cargo built for these tests).
pub fn metastore(db: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plugin-metastore"));
    cmd.arg("--db").arg(db).env_remove("PLUGIN_METASTORE_DB");
    cmd
}

/// Runs `plugin-metastore --db DB ARGS…` to the end and fails the test
/// unless it succeeded; returns its stdout.
#[track_caller]
pub fn metastore_ok(db: &Path, args: &[&str]) -> String {
    output_ok(metastore(db).args(args))
}

/// Runs `plugin-metastore --db DB ARGS…` to the end: its exit code (None
/// if a signal ended it), stdout and stderr.
pub fn metastore_outcome(db: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = metastore(db).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `command` to the end and fails the test unless it succeeded
/// (showing its stderr); returns its stdout.
#[track_caller]
pub fn output_ok(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Whether `command` runs and succeeds here (its output thrown away): for
/// tests that need a tool (`setsid`, `unshare`) the machine may lack.
pub fn runs_here(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The lines a child writes to one of its pipes, read on a thread of their
/// own, so a test can wait for the next one with a deadline.
pub struct Lines {
    lines: Receiver<String>,
}

impl Lines {
    /// Starts reading `pipe` (a child's stdout or stderr) line by line.
    pub fn read(pipe: impl Read + Send + 'static) -> Lines {
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { lines }
    }

    /// The next line, or None if none came within `timeout` (or the pipe
    /// closed).
    pub fn next_within(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }
}

/// Sends `signal` to `child`.
pub fn signal(child: &Child, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_child(child);
    rustix::process::kill_process(pid, signal).unwrap();
}

/// Waits up to `timeout` for `child` to end; kills it and fails the test
/// if it does not.
#[track_caller]
pub fn wait_within(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child did not end within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs the CLI with `args` and no `$PLUGIN_METASTORE_DB`; returns (exit
/// code, stdout, stderr).
pub fn cli_outcome(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_plugin-metastore"))
        .args(args)
        .env_remove("PLUGIN_METASTORE_DB")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
