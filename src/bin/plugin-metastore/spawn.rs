//! `spawn ID [--log FILE] -- CMD [ARGS…]`: starts a plugin's process,
//! detached, as a recorded tree; and the hidden helper that detaches it.
//!
//! The CLI starts itself again as `spawn-exec -- CMD [ARGS…]`
//! ([`MetadataStore::spawn_setsid`]): the helper calls `setsid()` (a new
//! session and process group, no controlling terminal) and then `exec`s
//! the command, so the command's PID is the one recorded, no external
//! program is needed, and nothing here needs `unsafe`.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Args;
use plugin_metastore::MetadataStore;

use crate::db::Db;
use crate::failure::{CliResult, Failure};
use crate::output::print;
use crate::target::{Target, find_key};

/// The name of the hidden helper subcommand.
pub(crate) const HELPER: &str = "spawn-exec";

/// `spawn`'s arguments.
#[derive(Debug, Args)]
#[command(after_help = "\
The command leads a new session and process group and carries a random token
in its environment (PLUGIN_METASTORE_SPAWN), inherited by its descendants:
`check` lists the tree's members and `reap --kill` stops all of them, even
after the command itself has died. Its output goes to --log FILE (appended)
or /dev/null. A missing plugin or program is an error and nothing is started.

Examples:
  plugin-metastore spawn transcription_voxtral_vllm -- vllm serve mistralai/Voxtral
  plugin-metastore spawn workers_pool --log pool.log -- sh -c 'worker & worker &'")]
pub(crate) struct SpawnArgs {
    #[command(flatten)]
    target: Target,
    /// Append the command's stdout and stderr to FILE (default: /dev/null)
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// The command and its arguments (after --)
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

/// The hidden helper's arguments: the command to exec.
#[derive(Debug, Args)]
pub(crate) struct SpawnExecArgs {
    /// The command and its arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "CMD"
    )]
    command: Vec<OsString>,
}

impl SpawnArgs {
    /// `spawn`: checks the plugin and the program, starts the command detached
    /// and recorded, and prints its PID alone.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let store = db.open_existing()?;
        let key = find_key(&store, &self.target)?;
        let (program, rest) = self
            .command
            .split_first()
            .ok_or_else(|| Failure("spawn: no command given (put it after --)".to_owned()))?;
        // A missing program is an error with nothing started (the helper
        // could only fail after its PID was recorded).
        if find_program(Path::new(program)).is_none() {
            return Err(Failure(format!(
                "cannot start {}: no such program (not a path to an executable file, nor on PATH)",
                Path::new(program).display()
            )));
        }
        let mut command = detached(program, rest, self.log.as_deref())?;
        let child = store.spawn_setsid(&key.category, &key.name, &mut command)?;
        // Not waited for: the process runs on after this CLI exits.
        print(&format!("{}\n", child.id()))
    }
}

/// Starts the plugin's `sleep 600` for `demo` the way `spawn` would; the
/// PID, or why it could not.
pub(crate) fn spawn_sleep(
    store: &MetadataStore,
    category: &str,
    name: &str,
) -> Result<u32, String> {
    let sleep = OsString::from("sleep");
    if find_program(Path::new(&sleep)).is_none() {
        return Err("`sleep` is not on PATH".to_owned());
    }
    let mut command = detached(&sleep, &[OsString::from("600")], None).map_err(|e| e.0)?;
    store
        .spawn_setsid(category, name, &mut command)
        .map(|child| child.id())
        .map_err(|e| e.to_string())
}

/// This CLI as the detaching helper of `program ARGS…`, stdin from
/// /dev/null, stdout and stderr to `log` (appended) or /dev/null.
fn detached(program: &OsString, rest: &[OsString], log: Option<&Path>) -> CliResult<Command> {
    let me = std::env::current_exe()
        .map_err(|e| Failure(format!("cannot find this program to start the helper: {e}")))?;
    let mut command = Command::new(me);
    command.arg(HELPER).arg("--").arg(program).args(rest);
    command.stdin(Stdio::null());
    match log {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| Failure(format!("cannot open {}: {e}", path.display())))?;
            let err = file
                .try_clone()
                .map_err(|e| Failure(format!("cannot open {}: {e}", path.display())))?;
            command.stdout(file).stderr(err);
        }
        None => {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    Ok(command)
}

/// Where `program` is: itself if it names a path (has a `/`), else the
/// first executable file of that name on PATH.
fn find_program(program: &Path) -> Option<PathBuf> {
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| {
            #[cfg(unix)]
            let runs = {
                use std::os::unix::fs::PermissionsExt;
                m.permissions().mode() & 0o111 != 0
            };
            #[cfg(not(unix))]
            let runs = true;
            m.is_file() && runs
        })
    };
    if program.as_os_str().as_encoded_bytes().contains(&b'/') {
        return executable(program).then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

impl SpawnExecArgs {
    /// The hidden helper: a new session (so a new process group, no
    /// controlling terminal), then `exec` of the command; returns only if the
    /// exec failed.
    #[cfg(unix)]
    pub(crate) fn run(&self) -> CliResult {
        use std::os::unix::process::CommandExt;
        rustix::process::setsid().map_err(|e| Failure(format!("{HELPER}: setsid: {e}")))?;
        let (program, rest) = self
            .command
            .split_first()
            .ok_or_else(|| Failure(format!("{HELPER}: no command")))?;
        let e = Command::new(program).args(rest).exec();
        Err(Failure(format!(
            "cannot start {}: {e}",
            Path::new(program).display()
        )))
    }

    /// Elsewhere there is no `setsid`: the helper refuses.
    #[cfg(not(unix))]
    pub(crate) fn run(&self) -> CliResult {
        Err(Failure(format!("{HELPER}: needs a Unix system")))
    }
}
