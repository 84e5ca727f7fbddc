//! Process trees with real processes: `spawn` records a tree, `check`
//! lists its members, `reap --kill` leaves nothing behind (leader alive,
//! leader crashed, a launcher that exits at once, a worker that ignores
//! SIGTERM, one that forks on SIGTERM, one that called `setsid`), and
//! never signals a stranger that reused an exited leader's number, nor the
//! reaper's own ancestors inside a tree. Identity in another PID namespace
//! is `unverified`; another pidfd inode is `reused`.
//!
//! Every process signalled here carries the test's own spawn token, or
//! was started by the test; a guard kills what a failed test leaves (by
//! token and PID, never by name).
#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use plugin_metastore::{MetadataStore, PidState, ReapAction, ReapOptions};
use serde_json::{Value, json};
use support::{Sleeper, is_zombie, metastore_ok, pool_store, proc_stat, sqlite3};

const BIN: &str = env!("CARGO_BIN_EXE_plugin-metastore");

/// The live processes (not zombies) whose environment carries `token`.
fn carriers(token: &str) -> Vec<u32> {
    let want = format!("PLUGIN_METASTORE_SPAWN={token}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // Gone, dead (X) or a zombie: not live.
        if proc_stat(pid).is_none_or(|f| f[0] == "Z" || f[0] == "X") {
            continue;
        }
        if std::fs::read(format!("/proc/{pid}/environ"))
            .is_ok_and(|e| e.split(|&b| b == 0).any(|v| v == want.as_bytes()))
        {
            found.push(pid);
        }
    }
    found
}

/// Kills, when dropped, every process still carrying the tree's token
/// (they are all this test's) and waits for the leader.
struct Tree {
    child: Child,
    token: String,
}

impl Tree {
    /// Spawns `sh -c script` for `workers/pool` through the store.
    fn spawn(store: &MetadataStore, db: &Path, script: &str, args: &[&str]) -> Tree {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .arg("sh")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = store.spawn("workers", "pool", &mut command).unwrap();
        let token = sqlite3(
            db,
            &format!(
                "SELECT spawn_token FROM plugin_pids WHERE pid = {}",
                child.id()
            ),
        );
        assert_eq!(token.len(), 32, "{token:?}");
        Tree { child, token }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `n` processes of the tree besides the leader carry the
    /// token.
    fn wait_for_members(&self, n: usize) {
        for _ in 0..1000 {
            if carriers(&self.token)
                .iter()
                .filter(|&&p| p != self.pid())
                .count()
                >= n
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the tree never had {n} members");
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        for pid in carriers(&self.token) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reaps with kill and a short grace; the single row's action.
fn reap_kill(store: &MetadataStore) -> Vec<plugin_metastore::Reaped> {
    store
        .reap(
            &ReapOptions::new()
                .kill(true)
                .grace(Duration::from_millis(500)),
        )
        .unwrap()
}

/// Reaps with kill, and asserts the tree was killed (its leader waited for),
/// left nothing behind (see [`assert_nothing_left`]) and is no longer stored.
#[track_caller]
fn kill_tree(store: &MetadataStore, tree: &mut Tree, pids: &[u32]) {
    let done = reap_kill(store);
    assert_eq!(done[0].action, ReapAction::Killed, "{done:?}");
    let _ = tree.child.wait();
    assert_nothing_left(tree, pids);
    assert!(store.check_pids().unwrap().is_empty());
}

/// Asserts the tree left nothing behind: no process carries its token and
/// none of `pids` (what the check listed) runs.
#[track_caller]
fn assert_nothing_left(tree: &Tree, pids: &[u32]) {
    let mut left = carriers(&tree.token);
    left.retain(|&p| p != tree.pid() || !is_zombie(p));
    assert!(left.is_empty(), "left behind: {left:?}");
    for &pid in pids {
        assert!(!runs(pid), "PID {pid} still runs");
    }
}

fn runs(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid)
}

#[test]
fn a_live_leader_and_its_workers_are_listed_and_all_stopped() {
    let (_dir, db, store) = pool_store("alive.db");
    let mut tree = Tree::spawn(&store, &db, "sleep 600 & sleep 600 & wait", &[]);
    tree.wait_for_members(2);
    let check = store.check_pids().unwrap();
    assert_eq!(check.len(), 1);
    assert_eq!(check[0].state, PidState::Alive);
    assert_eq!(check[0].pgid, Some(tree.pid()));
    assert_eq!(check[0].group.len(), 2, "{check:?}");
    assert!(check[0].unproven.is_empty(), "{check:?}");
    // Without kill, a live tree is kept.
    let kept = store.reap(&ReapOptions::new()).unwrap();
    assert_eq!(kept[0].action, ReapAction::Kept);
    kill_tree(&store, &mut tree, &check[0].group);
}

#[test]
fn the_orphans_of_a_crashed_leader_are_kept_then_stopped() {
    let (_dir, db, store) = pool_store("crashed.db");
    let mut tree = Tree::spawn(&store, &db, "sleep 600 & sleep 600 & wait", &[]);
    tree.wait_for_members(2);
    // kill -9 the leader and reap it: its workers are orphans now.
    tree.child.kill().unwrap();
    tree.child.wait().unwrap();
    let check = store.check_pids().unwrap();
    assert_eq!(check[0].state, PidState::Exited);
    assert_eq!(check[0].group.len(), 2, "{check:?}");
    let kept = store.reap(&ReapOptions::new()).unwrap();
    assert_eq!(kept[0].action, ReapAction::Kept, "{kept:?}");
    let why = kept[0].reason.as_deref().unwrap();
    assert!(why.contains("2 of its processes still run"), "{why}");
    kill_tree(&store, &mut tree, &check[0].group);
}

#[test]
fn a_launcher_that_exits_at_once_is_recorded_and_its_tree_stopped() {
    let (_dir, db, store) = pool_store("launcher.db");
    let mut tree = Tree::spawn(&store, &db, "sleep 60 & sleep 60 &", &[]);
    // Its identity was read from the held child even if it had exited.
    assert_eq!(
        sqlite3(&db, "SELECT start_time > 0, pgid = pid FROM plugin_pids"),
        "1|1"
    );
    tree.wait_for_members(2);
    // A zombie leader still holds its number: its group is ours.
    let check = store.check_pids().unwrap();
    assert_eq!(check[0].group.len(), 2, "{check:?}");
    tree.child.wait().unwrap();
    // Reaped: the token alone proves the orphans ours.
    let check = store.check_pids().unwrap();
    assert_eq!(check[0].state, PidState::Exited);
    assert_eq!(check[0].group.len(), 2, "{check:?}");
    kill_tree(&store, &mut tree, &check[0].group);
}

#[test]
fn workers_that_ignore_sigterm_fork_on_it_or_call_setsid_are_all_stopped() {
    let (dir, db, store) = pool_store("stubborn.db");
    let forker = dir.path().join("forker.sh");
    std::fs::write(
        &forker,
        "trap 'sleep 600 &' TERM\nwhile :; do sleep 0.05; done\n",
    )
    .unwrap();
    let has_setsid = support::runs_here(Command::new("setsid").arg("--version"));
    if !has_setsid {
        eprintln!("note: no setsid(1) here; the worker that leaves the group is left out");
    }
    let script = format!(
        "(trap '' TERM; exec sleep 600) & sh \"$1\" & {} wait",
        if has_setsid { "setsid sleep 600 &" } else { "" }
    );
    let mut tree = Tree::spawn(&store, &db, &script, &[forker.to_str().unwrap()]);
    tree.wait_for_members(if has_setsid { 3 } else { 2 });
    let check = store.check_pids().unwrap();
    let members = check[0].group.clone();
    if has_setsid {
        // The setsid worker is outside the group but carries the token.
        let group = |p: u32| proc_stat(p).map(|f| f[2].clone());
        let outside = members
            .iter()
            .filter(|&&p| group(p).is_some_and(|g| g != tree.pid().to_string()));
        assert_eq!(outside.count(), 1, "{check:?}");
    }
    kill_tree(&store, &mut tree, &members);
}

#[test]
fn a_tree_holding_the_reapers_ancestor_is_kept_whole() {
    let (dir, db, store) = pool_store("inside.db");
    let out = dir.path().join("reap.json");
    // The tree's leader runs the reaper as its child, then sleeps on.
    let mut tree = Tree::spawn(
        &store,
        &db,
        "sleep 600 & \"$1\" --db \"$2\" reap --kill --grace 1 --json > \"$3.tmp\"; \
         mv \"$3.tmp\" \"$3\"; wait",
        &[BIN, db.to_str().unwrap(), out.to_str().unwrap()],
    );
    let mut text = None;
    for _ in 0..2000 {
        if let Ok(t) = std::fs::read_to_string(&out) {
            text = Some(t);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let rows: Vec<Value> = serde_json::from_str(&text.expect("the reaper's output")).unwrap();
    assert_eq!(rows[0]["action"], "kept", "{rows:?}");
    let why = rows[0]["reason"].as_str().unwrap();
    assert!(why.contains("ancestor of the reaping process"), "{why}");
    assert!(runs(tree.pid()), "the reaper's ancestor was signalled");
    assert_eq!(carriers(&tree.token).len(), 2, "a member was signalled");
    // From outside the tree, it is stopped.
    kill_tree(&store, &mut tree, &[]);
}

#[test]
fn the_cli_spawns_detached_and_prints_the_pid_alone() {
    let (dir, db, store) = pool_store("cli.db");
    let log = dir.path().join("out.log");
    let out = metastore_ok(
        &db,
        &[
            "spawn",
            "workers_pool",
            "--log",
            log.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "echo started; sleep 600 & wait",
        ],
    );
    let pid: u32 = out.trim_end().parse().unwrap_or_else(|_| panic!("{out:?}"));
    assert_eq!(out, format!("{pid}\n"));
    let token = sqlite3(
        &db,
        &format!("SELECT spawn_token FROM plugin_pids WHERE pid = {pid}"),
    );
    let guard = Guard(token.clone());
    // A session and group of its own, the token in its environment.
    let fields = proc_stat(pid).unwrap();
    assert_eq!(
        (&*fields[2], &*fields[3]),
        (&*pid.to_string(), &*pid.to_string())
    );
    for _ in 0..500 {
        if carriers(&token).len() == 2
            && std::fs::read_to_string(&log).is_ok_and(|l| l == "started\n")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "started\n");
    let check = store.check_pids().unwrap();
    assert_eq!(
        (check[0].state, check[0].group.len()),
        (PidState::Alive, 1),
        "{check:?}"
    );
    // A missing program or plugin: an error, nothing started or recorded.
    for args in [
        ["spawn", "workers_pool", "--", "no-such-program-here"],
        ["spawn", "workers_nope", "--", "sleep"],
    ] {
        let out = support::metastore(&db).args(args).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert_eq!(store.check_pids().unwrap().len(), 1);
    metastore_ok(&db, &["reap", "--kill", "--grace", "1"]);
    assert!(carriers(&token).is_empty());
    drop(guard);
}

/// Kills, when dropped, every process carrying the token.
struct Guard(String);

impl Drop for Guard {
    fn drop(&mut self) {
        for pid in carriers(&self.0) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

#[test]
fn another_pidfd_inode_is_reused_and_never_signalled() {
    let (_dir, db, store) = pool_store("inode.db");
    let mut sleeper = Sleeper::start();
    store.add_pid("workers", "pool", sleeper.pid()).unwrap();
    if sqlite3(&db, "SELECT pidfd_inode IS NULL FROM plugin_pids") == "1" {
        eprintln!("skipped: this kernel keeps no pidfd per process (pidfs needs Linux 6.9)");
        return;
    }
    // Same start tick, another process: as a reuse within 10 ms looks.
    sqlite3(&db, "UPDATE plugin_pids SET pidfd_inode = pidfd_inode + 1");
    let check = store.check_pids().unwrap();
    assert_eq!(check[0].state, PidState::Reused, "{check:?}");
    assert!(check[0].detail.contains("pidfd inode"), "{check:?}");
    let done = reap_kill(&store);
    assert_eq!(done[0].action, ReapAction::Removed);
    assert!(sleeper.is_running());
}

/// Whether `unshare --pid --fork --mount-proc` works here (root); prints
/// why not.
fn can_unshare() -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root for unshare --pid");
        return false;
    }
    let ok = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: unshare --pid --fork --mount-proc is not available");
    }
    ok
}

#[test]
fn a_pid_recorded_in_another_pid_namespace_is_unverified() {
    if !can_unshare() {
        return;
    }
    let (_dir, db, store) = pool_store("ns.db");
    // Inside a new PID namespace the shell records itself (a small PID
    // there), then ends.
    let status = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c"])
        .arg("\"$0\" --db \"$1\" pid add workers_pool $$")
        .arg(BIN)
        .arg(&db)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let check = store.check_pids().unwrap();
    assert_eq!(check[0].state, PidState::Unverified, "{check:?}");
    assert!(
        check[0].detail.contains("another PID namespace"),
        "{check:?}"
    );
}

#[test]
fn a_stranger_reusing_an_exited_leaders_number_is_never_signalled() {
    if !can_unshare() {
        return;
    }
    if !Path::new("/proc/sys/kernel/ns_last_pid").exists() {
        eprintln!("skipped: no /proc/sys/kernel/ns_last_pid");
        return;
    }
    let (_dir, db, _store) = pool_store("reuse.db");
    // In a PID namespace of its own: spawn a leader that exits at once,
    // let init reap it, then hand its number to a double-forking stranger
    // (setsid: its own group N, with a child in it), and reap with kill.
    let script = r#"
        set -e
        bin="$0"; db="$1"
        n=$("$bin" --db "$db" spawn workers_pool -- true)
        # init (this shell) reaps the leader once the CLI has gone.
        while [ -e /proc/$n ] && ! grep -q '^[0-9]* (true) Z' /proc/$n/stat 2>/dev/null; do sleep 0.01; done
        wait
        sleep 0.2
        echo $((n - 1)) > /proc/sys/kernel/ns_last_pid
        setsid sh -c 'sleep 600 & exec sleep 600' &
        sleep 0.3
        stat=$(cat /proc/$n/stat)
        echo "stranger=$n $stat" >&2
        "$bin" --db "$db" check --json > "$db.check"
        "$bin" --db "$db" reap --kill --grace 1 --json > "$db.reap"
        for p in $(cat /proc/[0-9]*/stat 2>/dev/null | awk -v n=$n '$5 == n {print $1}'); do
            echo "member=$p $(cut -d' ' -f3 /proc/$p/stat)"
        done
        echo "leader_state=$(cut -d' ' -f3 /proc/$n/stat)"
    "#;
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c", script])
        .arg(BIN)
        .arg(&db)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    if !stderr.contains("stranger=") || !stderr.contains("(sleep)") {
        eprintln!("skipped: the number was not handed to the stranger ({stderr})");
        return;
    }
    let check: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(format!("{}.check", db.display())).unwrap())
            .unwrap();
    assert_eq!(check[0]["state"], "reused", "{check:?}");
    assert_eq!(check[0]["group"], json!([]), "{check:?}");
    let reap: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(format!("{}.reap", db.display())).unwrap())
            .unwrap();
    assert_eq!(reap[0]["action"], "removed", "{reap:?}");
    // The stranger and its child ran on, neither stopped nor killed.
    assert!(stdout.contains("leader_state=S"), "{stdout}");
    let members: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("member="))
        .collect();
    assert_eq!(members.len(), 2, "{stdout}");
    assert!(members.iter().all(|m| m.ends_with(" S")), "{stdout}");
}

#[test]
fn a_spawn_that_cannot_be_recorded_kills_its_group_and_waits() {
    let (_dir, db, store) = pool_store("ro.db");
    drop(store);
    // A read-only store finds the plugin but cannot record the process.
    let store = MetadataStore::open_read_only(&db).unwrap();
    let mark = format!("{}-{}", std::process::id(), db.display());
    let mut command = Command::new("sh");
    command
        .args(["-c", "sleep 600 & sleep 600 & wait"])
        .env("PM_TEST_MARK", &mark)
        .stdin(Stdio::null());
    let err = store.spawn("workers", "pool", &mut command).unwrap_err();
    assert!(
        matches!(err, plugin_metastore::Error::ReadOnly { .. }),
        "{err}"
    );
    // Nothing it started runs on (its group was killed, the leader waited).
    let want = format!("PM_TEST_MARK={mark}");
    let left: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| runs(pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|e| e.split(|&b| b == 0).any(|v| v == want.as_bytes()))
        })
        .collect();
    for pid in &left {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    assert!(left.is_empty(), "left running: {left:?}");
}
