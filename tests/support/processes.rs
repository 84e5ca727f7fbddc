//! Real child processes for process-identity tests, and what Linux's
//! `/proc` says about a process.

use std::process::{Child, Command, Stdio};

/// A `sleep 600` child of the test, killed and waited for when dropped, so
/// no test leaves a process behind.
pub struct Sleeper {
    child: Child,
}

impl Sleeper {
    /// Starts `sleep 600`.
    pub fn start() -> Sleeper {
        let child = Command::new("sleep")
            .arg("600")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sleep");
        Sleeper { child }
    }

    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while it has not terminated (a signal it received shows here).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills it and leaves it a zombie (not waited for).
    pub fn kill_leaving_zombie(&mut self) {
        self.child.kill().expect("kill sleep");
        // Wait until the kernel shows it as a zombie.
        for _ in 0..500 {
            if is_zombie(self.pid()) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("sleep {} did not become a zombie", self.pid());
    }

    /// Kills it and waits for it: its PID is free again.
    pub fn kill_and_wait(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        self.kill_and_wait();
    }
}

/// The fields of `/proc/PID/stat` after the command name (which may hold
/// spaces and parentheses): `fields[0]` is field 3 of proc(5), the state
/// (`R`, `S`, `Z`, …), and `fields[n - 3]` is field `n` (4 the parent, 5
/// the process group, 6 the session, 9 the flags, 22 the start time).
/// None when no such process is visible.
pub fn proc_stat(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// True while `pid` is a zombie: it has exited and is not waited for yet.
pub fn is_zombie(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|f| f[0] == "Z")
}

/// A store at `dir/name` with one plugin, `workers/pool`, and no PIDs:
/// the stage of the process tests.
pub fn store_with_pool(
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, plugin_metastore::MetadataStore) {
    let path = dir.join(name);
    let store = plugin_metastore::MetadataStore::open(&path).unwrap();
    store
        .save(&plugin_metastore::PluginMetadata::new(
            "pool",
            "workers",
            "Pool",
            serde_json::json!({}),
        ))
        .unwrap();
    (path, store)
}

/// Two new processes added to `workers/pool`, the second then killed and
/// waited for: `(alive, dead)`, a live PID listed before a dead one.
pub fn alive_and_dead(store: &plugin_metastore::MetadataStore) -> (Sleeper, Sleeper) {
    let alive = Sleeper::start();
    let mut dead = Sleeper::start();
    store.add_pid("workers", "pool", alive.pid()).unwrap();
    store.add_pid("workers", "pool", dead.pid()).unwrap();
    dead.kill_and_wait();
    (alive, dead)
}
