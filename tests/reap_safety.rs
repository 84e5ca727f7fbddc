//! What reaping must never do, with real processes: signal the reaping
//! process, its ancestors or a kernel thread; record a thread id as a
//! process; call a multithreaded process whose main thread ended a
//! zombie; call a process hidden by `hidepid` exited; report a PID another
//! reaper removed as "recorded again"; lose what it did when the store
//! stays locked; claim the holders of imported PIDs.
//!
//! Every process signalled here is one this test started (a `sleep`, a
//! `sh`, a `python3` child), or this test process itself in the cases
//! that prove it is *not* signalled.
#![cfg(target_os = "linux")]

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use plugin_metastore::{Error, MetadataStore, PidState, ReapAction, ReapOptions, StoreOptions};
use serde_json::{Value, json};
use support::{
    Sleeper, alive_and_dead, is_zombie, metastore, metastore_ok, pool_store, proc_stat, sqlite3,
    store_with_pool, wait_within,
};

/// `reap --kill --json` rows as `(pid, action, reason)`.
fn reap_rows(out: &str) -> Vec<(u64, String, String)> {
    let rows: Vec<Value> = serde_json::from_str(out).unwrap();
    rows.iter()
        .map(|r| {
            (
                r["pid"].as_u64().unwrap(),
                r["action"].as_str().unwrap().to_owned(),
                r["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn reap_kill_never_signals_the_reaping_process_or_its_shell() {
    let (_dir, db, _store) = pool_store("self.db");
    let bin = env!("CARGO_BIN_EXE_plugin-metastore");
    // The shell records itself, then becomes the reaper (`exec`): the
    // recorded PID is the reaping process.
    let script = "\"$0\" --db \"$1\" pid add workers_pool $$ >/dev/null && \
                  exec \"$0\" --db \"$1\" reap --kill --grace 1 --json";
    let out = Command::new("sh")
        .args(["-c", script, bin, db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = reap_rows(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, "kept", "{rows:?}");
    assert!(rows[0].2.contains("reaping process itself"), "{rows:?}");

    // The shell records itself and runs the reaper as its child: the
    // recorded PID is the reaper's parent.
    sqlite3(&db, "DELETE FROM plugin_pids");
    let script = "\"$0\" --db \"$1\" pid add workers_pool $$ >/dev/null && \
                  \"$0\" --db \"$1\" reap --kill --grace 1 --json; echo rc=$?";
    let out = Command::new("sh")
        .args(["-c", script, bin, db.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success() && text.ends_with("rc=0\n"), "{text}");
    let json = text.trim_end().strip_suffix("rc=0").unwrap();
    let rows = reap_rows(json);
    assert_eq!(rows[0].1, "kept", "{rows:?}");
    assert!(rows[0].2.contains("ancestor"), "{rows:?}");
}

#[test]
fn reap_kill_never_signals_an_ancestor_of_the_reaper() {
    let (_dir, db, store) = pool_store("ancestor.db");
    // This test process records itself; the CLI reaping is its child.
    let me = std::process::id();
    store.add_pid("workers", "pool", me).unwrap();
    let out = metastore_ok(&db, &["reap", "--kill", "--grace", "1", "--json"]);
    let rows = reap_rows(&out);
    assert_eq!(
        rows,
        [(u64::from(me), "kept".to_owned(), rows[0].2.clone())]
    );
    assert!(rows[0].2.contains("ancestor"), "{rows:?}");
    assert_eq!(
        store.get("workers", "pool").unwrap().unwrap().spawned_pids,
        [me]
    );
}

#[test]
fn reap_kill_never_signals_a_kernel_thread() {
    // kthreadd is PID 2 outside a PID namespace; find a kernel thread by
    // its flag rather than trust the number.
    let flags = |pid: u32| proc_stat(pid)?[6].parse::<u64>().ok();
    let Some(kthread) = (2..64).find(|&pid| flags(pid).is_some_and(|f| f & 0x0020_0000 != 0))
    else {
        eprintln!("skipped: no kernel thread is visible in this PID namespace");
        return;
    };
    let (_dir, db, _store) = pool_store("kthread.db");
    metastore_ok(&db, &["pid", "add", "workers_pool", &kthread.to_string()]);
    let check: Vec<Value> = serde_json::from_str(&metastore_ok(&db, &["check", "--json"])).unwrap();
    assert_eq!(check[0]["state"], "alive", "{check:?}");
    let out = metastore(&db)
        .args(["reap", "--kill", "--grace", "1", "--json"])
        .output()
        .unwrap();
    let rows = reap_rows(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(rows[0].1, "kept", "{rows:?}");
    assert!(rows[0].2.contains("kernel thread"), "{rows:?}");
    assert!(out.status.success());
}

/// The thread ids of this process other than its main thread's.
fn other_thread_ids() -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&tid| tid != me)
        .collect()
}

#[test]
fn a_thread_id_is_refused_by_add_pid_in_words_and_never_claimed_by_save() {
    let (_dir, db, store) = pool_store("tid.db");
    let (stop, parked) = std::sync::mpsc::channel::<()>();
    let before = other_thread_ids();
    let thread = std::thread::spawn(move || {
        let _ = parked.recv();
    });
    // The new thread's id: present now, not before.
    let mut tid = None;
    for _ in 0..500 {
        tid = other_thread_ids().into_iter().find(|t| !before.contains(t));
        if tid.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let tid = tid.expect("the thread's id");
    let dump = sqlite3(&db, ".dump");
    let me = std::process::id();
    match store.add_pid("workers", "pool", tid) {
        Err(Error::InvalidInput { field, reason, .. }) => {
            assert_eq!(field, "pid");
            assert!(
                reason.contains(&format!("{tid} is a thread of process {me}")),
                "{reason}"
            );
        }
        other => panic!("a thread id was accepted: {other:?}"),
    }
    assert_eq!(sqlite3(&db, ".dump"), dump, "nothing was written");
    // A whole record saved is not refused for a number that happens to be
    // a thread here: it is stored unclaimed, and the check says why.
    let mut p = store.get("workers", "pool").unwrap().unwrap();
    p.spawned_pids = vec![tid];
    store.save(&p).unwrap();
    let check = store.check_pids().unwrap();
    assert_eq!(check[0].state, PidState::Unverified, "{check:?}");
    assert_eq!(
        check[0].detail,
        format!("{tid} is a thread of process {me}, not a process")
    );
    stop.send(()).unwrap();
    thread.join().unwrap();
}

/// A `python3` child whose main thread has ended while another thread
/// sleeps on; `None` (with the reason printed) if python3 cannot do that.
fn process_without_main_thread() -> Option<std::process::Child> {
    let script = "import ctypes, threading, time\n\
                  threading.Thread(target=time.sleep, args=(600,)).start()\n\
                  ctypes.CDLL(None).pthread_exit(None)\n";
    let Ok(mut child) = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        eprintln!("skipped: python3 is not available");
        return None;
    };
    let pid = child.id();
    for _ in 0..1000 {
        let main_gone = is_zombie(pid);
        let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count());
        if main_gone && threads >= 2 {
            return Some(child);
        }
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    eprintln!("skipped: python3 could not end its main thread alone");
    None
}

#[test]
fn a_process_whose_main_thread_ended_is_alive_not_a_zombie() {
    let (_dir, _db, store) = pool_store("threads.db");
    // Recorded while whole: the identity is the process's.
    let Some(mut child) = process_without_main_thread() else {
        return;
    };
    let pid = child.id();
    store.add_pid("workers", "pool", pid).unwrap();
    let check = store.check_pids().unwrap();
    assert_eq!(check[0].state, PidState::Alive, "{check:?}");
    // Reaping without kill keeps it; with kill, it is stopped for real.
    let kept = store.reap(&ReapOptions::new()).unwrap();
    assert_eq!(kept[0].action, ReapAction::Kept);
    assert!(matches!(child.try_wait(), Ok(None)), "it was signalled");
    let done = store
        .reap(&ReapOptions::new().kill(true).grace(Duration::from_secs(2)))
        .unwrap();
    assert_eq!(done[0].action, ReapAction::Killed, "{done:?}");
    let status = wait_within(&mut child, Duration::from_secs(10));
    assert!(!status.success());
}

#[test]
fn a_pid_removed_by_another_reaper_meanwhile_is_not_called_recorded_again() {
    let (dir, db, store) = pool_store("two.db");
    // A process that notes SIGTERM in a file and keeps running: the other
    // "reaper" removes the row after the first reaper checked and signalled.
    let mark = dir.path().join("term");
    let script = "trap 'echo term > \"$0\"' TERM; while :; do sleep 0.05; done";
    let mut child = Command::new("sh")
        .args(["-c", script, mark.to_str().unwrap()])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    store.add_pid("workers", "pool", child.id()).unwrap();
    let reaped = std::thread::scope(|scope| {
        let reaper = scope.spawn(|| {
            let store = MetadataStore::open(&db).unwrap();
            store
                .reap(&ReapOptions::new().kill(true).grace(Duration::from_secs(2)))
                .unwrap()
        });
        let mut seen = false;
        for _ in 0..1000 {
            if mark.exists() {
                seen = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(seen, "the first reaper never sent SIGTERM");
        assert!(store.remove_pid("workers", "pool", child.id()).unwrap());
        reaper.join().unwrap()
    });
    wait_within(&mut child, Duration::from_secs(10));
    assert_eq!(reaped[0].action, ReapAction::Killed, "{reaped:?}");
    assert_eq!(reaped[0].reason, None, "{reaped:?}");
}

#[test]
fn a_locked_store_after_signals_reports_what_was_done() {
    let (_dir, db, store) = pool_store("locked.db");
    let (mut alive, _gone) = alive_and_dead(&store);
    let impatient = MetadataStore::open_with(
        &db,
        StoreOptions::new().busy_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    // Another app holds the write lock for the whole reap.
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let done = impatient
        .reap(&ReapOptions::new().kill(true).grace(Duration::from_secs(2)))
        .unwrap();
    holder.execute_batch("ROLLBACK").unwrap();
    assert!(!alive.is_running(), "the alive process was stopped");
    assert_eq!(done[0].action, ReapAction::Failed, "{done:?}");
    let why = done[0].reason.as_deref().unwrap();
    assert!(
        why.starts_with("stopped, but its row could not be removed"),
        "{why}"
    );
    assert_eq!(done[1].action, ReapAction::Kept, "{done:?}");
    assert!(
        done[1]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("not removed")
    );
    // Both rows are still there; the next reap removes them.
    assert_eq!(
        store
            .get("workers", "pool")
            .unwrap()
            .unwrap()
            .spawned_pids
            .len(),
        2
    );
    let again = store.reap(&ReapOptions::new()).unwrap();
    let actions: Vec<ReapAction> = again.iter().map(|r| r.action).collect();
    assert_eq!(actions, [ReapAction::Removed, ReapAction::Removed]);
}

#[test]
fn import_stores_pids_unverified_unless_claimed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("import.db");
    let holder = Sleeper::start();
    let record = json!([{
        "name": "pool", "category": "workers", "title": "Pool", "config_schema": {},
        "spawned_pids": [holder.pid()]
    }]);
    let file = dir.path().join("plugins.json");
    std::fs::write(&file, record.to_string()).unwrap();
    let out = metastore_ok(&db, &["import", file.to_str().unwrap()]);
    assert!(out.contains("1 PID stored unverified"), "{out}");
    let check: Vec<Value> = serde_json::from_str(&metastore_ok(&db, &["check", "--json"])).unwrap();
    assert_eq!(check[0]["state"], "unverified", "{check:?}");
    assert_eq!(
        sqlite3(
            &db,
            "SELECT start_time IS NULL, boot_id IS NULL, recorded_at IS NOT NULL FROM plugin_pids"
        ),
        "1|1|1"
    );
    // Unverified is never signalled.
    metastore_ok(&db, &["reap", "--kill", "--grace", "1"]);
    let mut holder = holder;
    assert!(holder.is_running());

    let claimed = dir.path().join("claimed.db");
    let out = metastore_ok(&claimed, &["import", "--claim", file.to_str().unwrap()]);
    assert!(!out.contains("unverified"), "{out}");
    let check: Vec<Value> =
        serde_json::from_str(&metastore_ok(&claimed, &["check", "--json"])).unwrap();
    assert_eq!(check[0]["state"], "alive", "{check:?}");
}

/// Whether this test may build a mount namespace with a `hidepid=2`
/// `/proc` and run a command as another user there (root, `unshare`,
/// `setpriv`); prints why not.
fn can_hide_pids() -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root (a mount namespace with hidepid=2)");
        return false;
    }
    let works = support::runs_here(Command::new("unshare").args([
        "--mount",
        "--fork",
        "sh",
        "-c",
        "mount -t proc -o hidepid=2 proc /proc && setpriv --help >/dev/null",
    ]));
    if !works {
        eprintln!("skipped: unshare --mount with a hidepid=2 /proc, or setpriv, is not available");
    }
    works
}

#[test]
fn a_process_hidden_by_hidepid_is_unverified_not_exited() {
    if !can_hide_pids() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (db, store) = store_with_pool(dir.path(), "hidden.db");
    let root_owned = Sleeper::start();
    store.add_pid("workers", "pool", root_owned.pid()).unwrap();
    drop(store);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    }
    // `nobody`, under a /proc that hides root's processes from it.
    let script = "mount -t proc -o hidepid=2 proc /proc && \
                  exec setpriv --reuid=65534 --regid=65534 --clear-groups \"$0\" --db \"$1\" check --json";
    let out = support::output_ok(
        Command::new("unshare")
            .args(["--mount", "--fork", "sh", "-c", script])
            .arg(env!("CARGO_BIN_EXE_plugin-metastore"))
            .arg(&db)
            .env_remove("PLUGIN_METASTORE_DB"),
    );
    let check: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(check[0]["state"], "unverified", "{check:?}");
}
