//! Process identity with real processes: `check_pids` tells alive, exited
//! (killed and waited for, a zombie, another boot), reused and unverified
//! PIDs apart; `reap` removes what is gone or not ours and, with kill,
//! stops only the processes that are provably ours; `register` keeps the
//! resources of a crashed run. Identities are planted with the `sqlite3`
//! CLI, as a person (or a reboot) would leave them.
#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use plugin_metastore::{
    MetadataStore, PidState, ReapAction, ReapOptions, RemoteResourceInfo, seed,
};
use support::{Sleeper, alive_and_dead, old_version_file, pool_store, sqlite3, temp_store};

const BIN: &str = env!("CARGO_BIN_EXE_plugin-metastore");

/// `(pid, state)` of every stored PID, in list order.
fn states(store: &MetadataStore) -> Vec<(u32, PidState)> {
    store
        .check_pids()
        .unwrap()
        .into_iter()
        .map(|c| (c.pid, c.state))
        .collect()
}

/// The PIDs stored for `workers/pool`.
fn pool_pids(store: &MetadataStore) -> Vec<u32> {
    store.get("workers", "pool").unwrap().unwrap().spawned_pids
}

/// Plants `set` on the row of `pid` with the sqlite3 CLI.
fn plant(db: &Path, pid: u32, set: &str) {
    sqlite3(
        db,
        &format!("UPDATE plugin_pids SET {set} WHERE pid = {pid}"),
    );
}

/// Makes the stored identities of three live processes say, as after a
/// reboot or a reuse of the number: another start time (`reused`), another
/// boot (`other_boot`), none recorded (`unverified`).
fn plant_strangers(db: &Path, reused: &Sleeper, other_boot: &Sleeper, unverified: &Sleeper) {
    plant(db, reused.pid(), "start_time = start_time + 1");
    plant(
        db,
        other_boot.pid(),
        "boot_id = '00000000-0000-0000-0000-000000000000'",
    );
    plant(db, unverified.pid(), "start_time = NULL, boot_id = NULL");
}

#[test]
fn every_stored_pid_is_in_exactly_one_state() {
    let (_dir, db, store) = pool_store("states.db");
    let alive = Sleeper::start();
    let mut exited = Sleeper::start();
    let mut zombie = Sleeper::start();
    let reused = Sleeper::start();
    let other_boot = Sleeper::start();
    let unverified = Sleeper::start();
    for s in [&alive, &exited, &zombie, &reused, &other_boot, &unverified] {
        store.add_pid("workers", "pool", s.pid()).unwrap();
    }
    // What the store recorded for a live process: its start time and boot.
    let row = sqlite3(
        &db,
        &format!(
            "SELECT start_time > 0, length(boot_id), recorded_at LIKE '____-__-__T__:__:__.______Z' \
             FROM plugin_pids WHERE pid = {}",
            alive.pid()
        ),
    );
    assert_eq!(row, "1|36|1");

    exited.kill_and_wait();
    zombie.kill_leaving_zombie();
    plant_strangers(&db, &reused, &other_boot, &unverified);

    let before = sqlite3(&db, ".dump");
    assert_eq!(
        states(&store),
        [
            (alive.pid(), PidState::Alive),
            (exited.pid(), PidState::Exited),
            (zombie.pid(), PidState::Exited),
            (reused.pid(), PidState::Reused),
            (other_boot.pid(), PidState::Exited),
            (unverified.pid(), PidState::Unverified),
        ]
    );
    let checks = store.check_plugin_pids("workers", "pool").unwrap();
    assert!(checks[4].detail.contains("another boot"), "{checks:?}");
    assert!(checks[5].detail.contains("no identity"), "{checks:?}");
    assert!(matches!(
        store.check_plugin_pids("workers", "nope"),
        Err(plugin_metastore::Error::NotFound { .. })
    ));
    assert_eq!(sqlite3(&db, ".dump"), before, "checking writes nothing");
}

#[test]
fn reap_kill_stops_only_processes_that_are_provably_ours() {
    let (_dir, db, store) = pool_store("reap.db");
    let mut alive = Sleeper::start();
    let mut reused = Sleeper::start();
    let mut other_boot = Sleeper::start();
    let mut unverified = Sleeper::start();
    let mut gone = Sleeper::start();
    for s in [&alive, &reused, &other_boot, &unverified, &gone] {
        store.add_pid("workers", "pool", s.pid()).unwrap();
    }
    gone.kill_and_wait();
    plant_strangers(&db, &reused, &other_boot, &unverified);

    // A dry run reports the plan and changes nothing: no signal, no row.
    let before = sqlite3(&db, ".dump");
    let plan = store
        .reap(&ReapOptions::new().kill(true).dry_run(true))
        .unwrap();
    let actions: Vec<(u32, ReapAction)> = plan.iter().map(|r| (r.check.pid, r.action)).collect();
    let expected = [
        (alive.pid(), ReapAction::Killed),
        (reused.pid(), ReapAction::Removed),
        (other_boot.pid(), ReapAction::Removed),
        (unverified.pid(), ReapAction::Kept),
        (gone.pid(), ReapAction::Removed),
    ];
    assert_eq!(actions, expected);
    assert_eq!(sqlite3(&db, ".dump"), before);
    assert!(alive.is_running() && reused.is_running());

    let updated_before = sqlite3(&db, "SELECT updated_at FROM plugins");
    let done = store
        .reap(&ReapOptions::new().kill(true).grace(Duration::from_secs(2)))
        .unwrap();
    let actions: Vec<(u32, ReapAction)> = done.iter().map(|r| (r.check.pid, r.action)).collect();
    assert_eq!(actions, expected);
    // The alive one was stopped; the others were never signalled.
    std::thread::sleep(Duration::from_millis(50));
    assert!(!alive.is_running(), "the alive process was not stopped");
    assert!(reused.is_running(), "a reused PID was signalled");
    assert!(other_boot.is_running(), "another boot's PID was signalled");
    assert!(unverified.is_running(), "an unverified PID was signalled");
    assert_eq!(pool_pids(&store), [unverified.pid()]);
    assert!(sqlite3(&db, "SELECT updated_at FROM plugins") > updated_before);
}

#[test]
fn reap_without_kill_keeps_live_processes_and_removes_dead_ones() {
    let (_dir, _db, store) = pool_store("plain.db");
    let (mut alive, _dead) = alive_and_dead(&store);
    let done = store.reap(&ReapOptions::new()).unwrap();
    let actions: Vec<ReapAction> = done.iter().map(|r| r.action).collect();
    assert_eq!(actions, [ReapAction::Kept, ReapAction::Removed]);
    assert!(alive.is_running());
    assert_eq!(pool_pids(&store), [alive.pid()]);
}

#[test]
fn a_resave_keeps_a_pids_identity_and_add_pid_re_records_it() {
    let (_dir, db, store) = pool_store("resave.db");
    let first = Sleeper::start();
    let second = Sleeper::start();
    store.add_pid("workers", "pool", first.pid()).unwrap();
    // Make the stored identity recognisable, then re-save the plugin.
    plant(
        &db,
        first.pid(),
        "recorded_at = '2000-01-01T00:00:00.000000Z'",
    );
    let identity = |pid: u32| {
        sqlite3(
            &db,
            &format!("SELECT start_time, boot_id, recorded_at FROM plugin_pids WHERE pid = {pid}"),
        )
    };
    let kept = identity(first.pid());
    let mut p = store.get("workers", "pool").unwrap().unwrap();
    p.spawned_pids.push(second.pid());
    store.save(&p).unwrap();
    assert_eq!(
        identity(first.pid()),
        kept,
        "a re-save is not a fresh claim"
    );
    assert!(!identity(second.pid()).contains("2000-01-01"));
    // add_pid of a stored PID is a fresh claim: recorded again.
    store.add_pid("workers", "pool", first.pid()).unwrap();
    assert_ne!(identity(first.pid()), kept);
    assert_eq!(pool_pids(&store), [first.pid(), second.pid()]);
    // The identity is the store's knowledge, not the record's.
    let json = serde_json::to_value(store.get("workers", "pool").unwrap()).unwrap();
    assert!(!json.to_string().contains("start_time"), "{json}");
}

#[test]
fn a_resave_reads_again_an_identity_no_build_writes() {
    let (_dir, db, store) = pool_store("forced.db");
    let live = Sleeper::start();
    store.add_pid("workers", "pool", live.pid()).unwrap();
    // A start time forced below zero by hand, past the CHECK: checking
    // names it ...
    sqlite3(
        &db,
        "PRAGMA ignore_check_constraints = ON; UPDATE plugin_pids SET start_time = -5",
    );
    let err = store.check_pids().unwrap_err().to_string();
    assert!(err.contains("start_time") && err.contains("-5"), "{err}");
    // ... and a re-save does not keep it: the PID is recorded again, from
    // its live process, and checks alive.
    let p = store.get("workers", "pool").unwrap().unwrap();
    store.save(&p).unwrap();
    let start: i64 = sqlite3(&db, "SELECT start_time FROM plugin_pids")
        .parse()
        .unwrap();
    assert!(start > 0, "{start}");
    assert_eq!(states(&store), [(live.pid(), PidState::Alive)]);
}

#[test]
fn register_updates_the_definition_and_keeps_the_last_runs_resources() {
    let (_dir, _, store) = temp_store("register.db");
    let crashed = Sleeper::start();
    let mut last_run = seed::llm_finetune_aws();
    last_run.spawned_pids = vec![crashed.pid()];
    last_run.container_id = Some("c0ffee".into());
    store.save(&last_run).unwrap();

    // At start-up the app builds its plugins afresh: no resources yet.
    let mut fresh = seed::llm_finetune_aws();
    fresh.title = "AWS LLM Finetuning v2".into();
    fresh.version = Some("2.0".into());
    fresh.remote_resource = None;
    assert!(!store.register(&fresh).unwrap(), "it was already stored");
    let stored = store.get(&fresh.category, &fresh.name).unwrap().unwrap();
    assert_eq!(stored.title, "AWS LLM Finetuning v2");
    assert_eq!(stored.version.as_deref(), Some("2.0"));
    assert_eq!(stored.spawned_pids, [crashed.pid()]);
    assert_eq!(stored.container_id.as_deref(), Some("c0ffee"));
    assert_eq!(stored.remote_resource, last_run.remote_resource);
    assert_eq!(
        store.check_pids().unwrap()[0].state,
        PidState::Alive,
        "the crashed run's PID is still there to check"
    );

    // A plugin not stored yet is saved whole.
    let mut new = seed::whisper_tiny();
    new.remote_resource = Some(RemoteResourceInfo::new(
        plugin_metastore::CloudProviderType::Gcp,
    ));
    assert!(store.register(&new).unwrap());
    assert_eq!(store.get(&new.category, &new.name).unwrap(), Some(new));
    // save, by contrast, replaces the resources.
    store.save(&fresh).unwrap();
    let replaced = store.get(&fresh.category, &fresh.name).unwrap().unwrap();
    assert!(replaced.spawned_pids.is_empty() && replaced.remote_resource.is_none());
}

#[test]
fn an_old_store_upgrades_and_its_pids_are_classified() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    old_version_file(&path);
    // A PID recorded back then that a live process holds now.
    let holder = Sleeper::start();
    sqlite3(
        &path,
        &format!(
            "INSERT INTO plugin_pids (plugin_id, position, pid) \
             SELECT plugin_id, max(position) + 1, {} FROM plugin_pids GROUP BY plugin_id",
            holder.pid()
        ),
    );
    let store = MetadataStore::open(&path).unwrap();
    let states = states(&store);
    assert_eq!(states.len(), 4, "{states:?}");
    for (pid, state) in states {
        // The holder, or a seed PID a process here happens to hold.
        let want = if pid == holder.pid() || plugin_metastore::pid_in_use(pid) {
            PidState::Unverified
        } else {
            PidState::Exited
        };
        assert_eq!(state, want, "PID {pid}");
    }
    // Unverified is never signalled, even with kill.
    store.reap(&ReapOptions::new().kill(true)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut holder = holder;
    assert!(holder.is_running());
}

/// Two processes reap one store over and over while this one keeps
/// re-adding a live PID whose stored identity was made stale: a reaper
/// that checked the stale row must never remove the fresh one, and no
/// reaper fails.
#[test]
fn concurrent_reapers_never_remove_a_pid_re_added_in_between() {
    let (_dir, db, store) = pool_store("race.db");
    let live = Sleeper::start();
    let stop = AtomicBool::new(false);
    let (mut runs, mut failures, mut lost) = (0, Vec::new(), Vec::new());
    std::thread::scope(|scope| {
        let reapers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut outcomes = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let out = Command::new(BIN)
                            .args(["--db", db.to_str().unwrap(), "reap", "--json"])
                            .output()
                            .unwrap();
                        outcomes.push(out);
                    }
                    outcomes
                })
            })
            .collect();
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        for round in 0..150 {
            // The stored identity goes stale (as after a reboot)...
            conn.execute(
                "UPDATE plugin_pids SET start_time = start_time + 1 WHERE pid = ?1",
                [live.pid()],
            )
            .unwrap();
            // ...and the app re-adds the PID: a fresh claim.
            store.add_pid("workers", "pool", live.pid()).unwrap();
            std::thread::sleep(Duration::from_millis(if round % 10 == 0 { 30 } else { 2 }));
            // Not an assert here: the reapers must be stopped first.
            if pool_pids(&store) != [live.pid()] {
                lost.push(round);
                store.add_pid("workers", "pool", live.pid()).unwrap();
            }
        }
        stop.store(true, Ordering::Relaxed);
        for reaper in reapers {
            for out in reaper.join().unwrap() {
                runs += 1;
                if !out.status.success() {
                    failures.push(String::from_utf8_lossy(&out.stderr).into_owned());
                }
            }
        }
    });
    assert!(lost.is_empty(), "re-added PID removed in rounds {lost:?}");
    assert!(failures.is_empty(), "reapers failed: {failures:?}");
    assert!(runs >= 4, "the reapers ran only {runs} times");
    eprintln!("reaper runs: {runs}");
}
