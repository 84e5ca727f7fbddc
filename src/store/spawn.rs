//! Starting a plugin's process so that its whole tree is the store's to
//! find and stop later ([`MetadataStore::spawn`]).
//!
//! The process leads a new process group and carries a fresh random token
//! in its environment (`PLUGIN_METASTORE_SPAWN`), which every descendant
//! that keeps its environment inherits. Its PID, identity, group and token
//! are recorded in one transaction before `spawn` returns, so there is no
//! moment at which the tree runs unrecorded once the call has returned;
//! if recording fails the group is killed and the child waited for.

use std::process::{Child, Command};

use super::MetadataStore;
use super::identity::StoredIdentity;
use super::resources::record_pid;
use crate::error::{Error, Result};
use crate::process;
use crate::time::now;

/// The environment variable that carries a spawned tree's token.
pub const SPAWN_TOKEN_ENV: &str = process::SPAWN_TOKEN_VAR;

/// How the spawned process gets its own process group.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    /// The store makes it a group leader (`process_group(0)`).
    New,
    /// The command calls `setsid()` itself first, which a group leader
    /// may not: the store leaves its group alone.
    BySetsid,
}

impl MetadataStore {
    /// Starts `command` as one of the plugin's processes and records it as
    /// a tree: the process leads a new process group
    /// (`CommandExt::process_group(0)`) and gets a fresh random token in
    /// its environment (`PLUGIN_METASTORE_SPAWN=<32 hex digits>`); its
    /// PID, identity (read from the child held, even if it already exited),
    /// group and token are recorded in one transaction before this
    /// returns. [`check_pids`](Self::check_pids) then lists the tree's
    /// members and [`reap`](Self::reap) with kill stops all of them, even
    /// after the leader died. [`Error::NotFound`] if the plugin does not
    /// exist (nothing is started); if recording fails, the child's group
    /// is killed, the child waited for, and the error returned. The caller
    /// owns the returned [`Child`] (wait for it, or let it run).
    ///
    /// Elsewhere than Linux the process is recorded as by
    /// [`add_pid`](Self::add_pid) (no tree).
    pub fn spawn(&self, category: &str, name: &str, command: &mut Command) -> Result<Child> {
        self.spawn_as(category, name, command, Group::New)
    }

    /// [`spawn`](Self::spawn) for a command that makes itself a session
    /// (and so group) leader with `setsid()` before anything else, as the
    /// CLI's detaching helper does: a process that already leads a group
    /// may not call `setsid()`, so the store leaves its group alone and
    /// records the PID as the group's number. Use it only for such a
    /// command: for any other the recorded group is simply never found.
    pub fn spawn_setsid(&self, category: &str, name: &str, command: &mut Command) -> Result<Child> {
        self.spawn_as(category, name, command, Group::BySetsid)
    }

    fn spawn_as(
        &self,
        category: &str,
        name: &str,
        command: &mut Command,
        group: Group,
    ) -> Result<Child> {
        // The plugin first: a missing one starts nothing.
        if self.get(category, name)?.is_none() {
            return Err(Error::NotFound {
                category: category.to_owned(),
                name: name.to_owned(),
            });
        }
        let token = process::new_spawn_token()?;
        command.env(SPAWN_TOKEN_ENV, &token);
        #[cfg(unix)]
        if group == Group::New {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command.spawn().map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("cannot start {program:?}: {e}"),
            ))
        })?;
        let pid = child.id();
        match self.record_spawned(category, name, pid, &token) {
            Ok(()) => Ok(child),
            Err(e) => {
                // The child is not waited for, so its number (and so its group's)
                // cannot have passed to anyone else.
                process::kill_group_of_unwaited_child(pid);
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }

    fn record_spawned(&self, category: &str, name: &str, pid: u32, token: &str) -> Result<()> {
        self.checked(|| {
            let tx = self.write()?;
            let at = now();
            let id = super::resources::touch_at(&tx, category, name, &at)?;
            let mut identity = StoredIdentity::new(process::child_identity(pid), &at);
            if cfg!(target_os = "linux") && identity.start_time.is_some() {
                identity.pgid = Some(i64::from(pid));
                identity.spawn_token = Some(token.to_owned());
            }
            record_pid(&tx, id, pid, &identity)?;
            tx.commit()
        })
    }
}
