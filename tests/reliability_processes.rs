//! Reliability across real processes: many writers at once, eight processes
//! creating (or upgrading) the same file at the same instant, and `kill -9`
//! at random moments.
//!
//! Child processes are this test binary run again
//! (`current_exe() --exact worker_… --nocapture`) with `PM_WORKER` naming
//! the job and `PM_DB` the file. A `worker_…` test returns at once when it
//! is not the job asked for, so in a normal run they pass trivially.
//! Children and parent synchronise only through pipes: a child says
//! `READY` and waits for a line on stdin, and acknowledges each write on
//! stdout once the call has returned.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use plugin_metastore::{
    CloudProviderType, MetadataStore, PluginExecutionMode, PluginMetadata, PluginQuery,
    RemoteResourceInfo, StoreOptions,
};
use serde_json::json;
use support::{
    Rng, history, integrity_check, migration_files, old_version_file, random_plugin, schema,
    seeded, sqlite3, time_seed,
};

// ---------------------------------------------------------------------------
// Helpers: child processes, pipes.

/// The file this process works on when it is the worker `kind`.
///
/// A worker never outlives a broken parent: after two minutes it exits,
/// which the parent sees as an early end of its output (a failure, not a
/// hang). It also starts a fresh line, since libtest has printed
/// `test worker_… ... ` without a newline.
fn worker(kind: &str) -> Option<PathBuf> {
    match std::env::var("PM_WORKER") {
        Ok(k) if k == kind => {
            std::thread::spawn(|| {
                std::thread::sleep(Duration::from_secs(120));
                eprintln!("worker watchdog: two minutes passed, exiting");
                std::process::exit(3);
            });
            println!();
            Some(PathBuf::from(std::env::var_os("PM_DB").unwrap()))
        }
        _ => None,
    }
}

fn env_u64(name: &str) -> u64 {
    std::env::var(name).unwrap().parse().unwrap()
}

/// Starts this test binary again running only the test `test` as worker
/// `kind` on `db`.
fn spawn_worker(test: &str, kind: &str, db: &Path, env: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("PM_WORKER", kind)
        .env("PM_DB", db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Reads stdout lines until one starts with `prefix`; returns it, or None
/// at end of file.
fn read_until(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    prefix: &str,
) -> Option<String> {
    for line in lines {
        let line = line.unwrap();
        if line.starts_with(prefix) {
            return Some(line);
        }
    }
    None
}

/// Waits for a child and fails the test with its output if it failed.
fn finish(mut child: Child, stdout_rest: Option<BufReader<ChildStdout>>, what: &str) -> String {
    let mut out = String::new();
    if let Some(mut rest) = stdout_rest {
        rest.read_to_string(&mut out).unwrap();
    }
    let err = stderr_of(&mut child);
    let status = child.wait().unwrap();
    assert!(status.success(), "{what} failed ({status}):\n{out}\n{err}");
    out
}

/// All that `child` writes to its stderr (a pipe), to its end.
fn stderr_of(child: &mut Child) -> String {
    let mut err = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut err).unwrap();
    }
    err
}

/// Sends the "go" line to children that are all waiting on stdin.
fn release(children: &mut [Child]) {
    for child in children.iter_mut() {
        let stdin = child.stdin.as_mut().unwrap();
        stdin.write_all(b"go\n").unwrap();
        stdin.flush().unwrap();
    }
}

fn wait_for_go() {
    println!("READY");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "go");
}

// ---------------------------------------------------------------------------
// Contention: processes × threads, each thread its own store on one file.

const CONTENTION_PROCESSES: u64 = 3;
const CONTENTION_THREADS: u64 = 3;
const CONTENTION_OPS: u64 = 1000;
/// Own plugins per thread (names `n0` … `n5` in the thread's category).
const OWN_PLUGINS: u64 = 6;

/// A random plugin of this thread's, with a blob of up to 2000 bytes in
/// its config so that saves differ in size.
fn own_plugin(rng: &mut Rng, category: &str, name: &str, serial: u64) -> PluginMetadata {
    let mut p = random_plugin(rng, category, name, serial);
    p.config_schema["blob"] = json!("x".repeat(rng.below(2000) as usize));
    p
}

/// One thread's share of the contention workload; panics on any error and
/// returns what it expects the file to hold: its own plugins and the PIDs
/// it left on the shared plugin.
fn contention_thread(db: &Path, process: u64, thread: u64) -> (Vec<PluginMetadata>, Vec<u32>) {
    let store = MetadataStore::open_with(db, StoreOptions::new()).unwrap();
    let category = format!("p{process}t{thread}");
    let mut rng = Rng::new(time_seed() ^ (process << 40) ^ (thread << 32));
    let mut mine: BTreeMap<String, PluginMetadata> = BTreeMap::new();
    let mut shared: Vec<u32> = Vec::new();
    // PIDs above the kernel's PID_MAX_LIMIT (4194304): no process or thread
    // here holds them (a thread id would be refused by add_pid).
    let mut next_shared = ((process * 16 + thread) * 100_000) as u32 + 5_000_001;
    let mut serial = (process * 16 + thread) * 1_000_000;
    for _ in 0..CONTENTION_OPS {
        let name = format!("n{}", rng.below(OWN_PLUGINS));
        serial += 1;
        match rng.below(12) {
            0..=2 => {
                let p = own_plugin(&mut rng, &category, &name, serial);
                store.save(&p).unwrap();
                mine.insert(name, p);
            }
            3 => {
                if let Some(p) = mine.get_mut(&name) {
                    let pid = 5_000_000 + serial as u32 * 10 + 9;
                    store.add_pid(&category, &name, pid).unwrap();
                    p.spawned_pids.push(pid);
                }
            }
            4 => {
                if let Some(p) = mine.get_mut(&name)
                    && !p.spawned_pids.is_empty()
                {
                    let pid = p
                        .spawned_pids
                        .remove(rng.below(p.spawned_pids.len() as u64) as usize);
                    assert!(store.remove_pid(&category, &name, pid).unwrap());
                }
            }
            5 | 6 => {
                store.add_pid("shared", "all", next_shared).unwrap();
                shared.push(next_shared);
                next_shared += 1;
            }
            7 => {
                if !shared.is_empty() {
                    let pid = shared.remove(rng.below(shared.len() as u64) as usize);
                    assert!(store.remove_pid("shared", "all", pid).unwrap());
                }
            }
            8 => assert_eq!(
                store.get(&category, &name).unwrap().as_ref(),
                mine.get(&name)
            ),
            9 => {
                let q = PluginQuery::new().category(category.clone());
                let expected: Vec<_> = mine.values().cloned().collect();
                assert_eq!(store.query(&q).unwrap(), expected);
                let active = mine.values().filter(|p| p.has_active_resources()).count() as u64;
                assert_eq!(store.count(&q.active(true)).unwrap(), active);
            }
            10 => {
                // Reads across everyone's rows: must not fail or see torn plugins.
                let all = store.list().unwrap();
                assert!(all.iter().any(|p| p.category == "shared"));
                let shared_now = store.get("shared", "all").unwrap().unwrap();
                for pid in &shared {
                    assert!(shared_now.spawned_pids.contains(pid));
                }
            }
            _ => {
                assert_eq!(
                    store.delete(&category, &name).unwrap(),
                    mine.remove(&name).is_some()
                );
            }
        }
    }
    (mine.into_values().collect(), shared)
}

#[test]
fn worker_contention() {
    let Some(db) = worker("contention") else {
        return;
    };
    let process = env_u64("PM_PROCESS");
    wait_for_go();
    let threads: Vec<_> = (0..CONTENTION_THREADS)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || contention_thread(&db, process, t))
        })
        .collect();
    for t in threads {
        let (plugins, shared) = t.join().expect("a contention thread failed");
        println!(
            "EXPECT {}",
            serde_json::to_string(&(plugins, shared)).unwrap()
        );
    }
    std::io::stdout().flush().unwrap();
}

#[test]
fn many_processes_and_threads_write_one_file_without_errors_or_lost_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("contention.db");
    {
        let store = MetadataStore::open(&db).unwrap();
        let shared = PluginMetadata::new("all", "shared", "shared by everyone", json!({}));
        store.save(&shared).unwrap();
    }
    let started = Instant::now();
    let mut children: Vec<Child> = (0..CONTENTION_PROCESSES)
        .map(|p| {
            spawn_worker(
                "worker_contention",
                "contention",
                &db,
                &[("PM_PROCESS", p.to_string())],
            )
        })
        .collect();
    let mut readers = Vec::new();
    for child in &mut children {
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "a worker ended before READY"
            );
            if line.starts_with("READY") {
                break;
            }
        }
        readers.push(out);
    }
    release(&mut children);

    let mut expected: BTreeMap<(String, String), PluginMetadata> = BTreeMap::new();
    let mut expected_shared: BTreeSet<u32> = BTreeSet::new();
    let mut expectations = 0;
    for (child, out) in children.into_iter().zip(readers) {
        let output = finish(child, Some(out), "a contention worker");
        for line in output.lines().filter_map(|l| l.strip_prefix("EXPECT ")) {
            let (plugins, shared): (Vec<PluginMetadata>, Vec<u32>) =
                serde_json::from_str(line).unwrap();
            for p in plugins {
                expected.insert((p.category.clone(), p.name.clone()), p);
            }
            expected_shared.extend(shared);
            expectations += 1;
        }
    }
    assert_eq!(expectations, CONTENTION_PROCESSES * CONTENTION_THREADS);

    let store = MetadataStore::open(&db).unwrap();
    let mut all = store.list().unwrap();
    let shared = all.remove(all.iter().position(|p| p.category == "shared").unwrap());
    let got_shared: BTreeSet<u32> = shared.spawned_pids.iter().copied().collect();
    assert_eq!(
        shared.spawned_pids.len(),
        got_shared.len(),
        "a shared PID twice"
    );
    assert_eq!(got_shared, expected_shared);
    assert_eq!(all, expected.into_values().collect::<Vec<_>>());
    assert_eq!(integrity_check(&db), "ok");
    eprintln!(
        "contention: {CONTENTION_PROCESSES} processes × {CONTENTION_THREADS} threads × \
         {CONTENTION_OPS} ops in {:?}; {} plugins and {} shared PIDs at the end",
        started.elapsed(),
        all.len(),
        got_shared.len()
    );
}

// ---------------------------------------------------------------------------
// Concurrent first start: eight processes open one new or old file at once.

const OPENERS: usize = 8;

#[test]
fn worker_first_open() {
    let Some(db) = worker("first_open") else {
        return;
    };
    wait_for_go();
    let store = MetadataStore::open(&db).unwrap();
    println!("OPENED {}", store.schema_version().unwrap());
    std::io::stdout().flush().unwrap();
}

/// Starts eight openers on `db`, releases them together, and checks they
/// all succeed and the history and schema are those of a fresh store.
fn race_to_open(db: &Path, fresh_schema: &[support::SchemaObject]) {
    let mut children: Vec<Child> = (0..OPENERS)
        .map(|_| spawn_worker("worker_first_open", "first_open", db, &[]))
        .collect();
    let mut readers = Vec::new();
    for child in &mut children {
        let mut lines = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.starts_with("READY") {
            line.clear();
            assert!(
                lines.read_line(&mut line).unwrap() > 0,
                "an opener ended before READY"
            );
        }
        readers.push(lines);
    }
    release(&mut children);
    let newest = MetadataStore::latest_schema_version();
    for (child, out) in children.into_iter().zip(readers) {
        let output = finish(child, Some(out), "an opener");
        let mut lines = output.lines().map(|l| Ok(l.to_owned()));
        let opened = read_until(&mut lines, "OPENED ").expect("no OPENED line");
        assert_eq!(opened, format!("OPENED {newest}"));
    }
    let versions: Vec<i64> = history(db).into_iter().map(|(v, _)| v).collect();
    let embedded: Vec<i64> = migration_files().into_iter().map(|(v, _)| v).collect();
    assert_eq!(versions, embedded);
    assert_eq!(schema(db), fresh_schema);
    assert_eq!(integrity_check(db), "ok");
}

#[test]
fn eight_processes_create_or_upgrade_one_file_at_the_same_instant() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.db");
    drop(MetadataStore::open(&fresh).unwrap());
    let fresh_schema = schema(&fresh);
    const ROUNDS: usize = 4;
    for round in 0..ROUNDS {
        let new = dir.path().join(format!("new{round}.db"));
        race_to_open(&new, &fresh_schema);

        let old = dir.path().join(format!("old{round}.db"));
        old_version_file(&old);
        assert_eq!(history(&old).len(), 1);
        let rows = "SELECT * FROM plugins ORDER BY id";
        let plugins_before = sqlite3(&old, rows);
        race_to_open(&old, &fresh_schema);
        assert_eq!(sqlite3(&old, rows), plugins_before);
        let store = MetadataStore::open(&old).unwrap();
        let kept = store.get("tools", "docker_tool").unwrap().unwrap();
        assert_eq!(kept.container_id.as_deref(), Some("c0ffee"));
    }
    eprintln!(
        "first start: {ROUNDS} rounds × {OPENERS} processes on a new file and on a version-1 file"
    );
}

// ---------------------------------------------------------------------------
// Crash safety: kill -9 at random moments, then check every acknowledged
// save.

/// Revision `rev` of the plugin with serial number `key`: everything it
/// holds is derived from `(key, rev)`, so a torn plugin cannot match.
fn crash_plugin(key: u64, rev: u64) -> PluginMetadata {
    let mut p = PluginMetadata::new(
        format!("plugin{key:06}"),
        "crash",
        format!("plugin {key} revision {rev}"),
        json!({
            "type": "object",
            "key": key,
            "rev": rev,
            // Big enough that one save spans several pages of the WAL.
            "padding": format!("{key}-{rev}-").repeat(900),
        }),
    );
    p.version = Some(rev.to_string());
    p.execution_mode = PluginExecutionMode::CloudGpu;
    let pids = 12 + 5 * rev;
    p.spawned_pids = (1..=pids)
        .map(|i| (key * 1000 + rev * 100 + i) as u32)
        .collect();
    p.container_id = Some(format!("container-{key}-{rev}"));
    let mut remote = RemoteResourceInfo::new(CloudProviderType::ALL[(key % 9) as usize]);
    remote.instance_id = Some(format!("i-{key}-{rev}"));
    remote.status = "running".into();
    remote.gpu_count = (rev + 1) as u32;
    remote.estimated_cost_per_hour = Some(key as f64 + rev as f64 / 4.0);
    remote
        .metadata
        .insert("history".into(), json!(vec![rev; 200]));
    p.remote_resource = Some(remote);
    p
}

#[test]
fn worker_crash() {
    let Some(db) = worker("crash") else {
        return;
    };
    let first = env_u64("PM_FIRST_KEY");
    let store = MetadataStore::open(&db).unwrap();
    let mut out = std::io::stdout().lock();
    for key in first.. {
        store.save(&crash_plugin(key, 0)).unwrap();
        writeln!(out, "ACK {key} 0").unwrap();
        out.flush().unwrap();
        if key % 2 == 1 {
            // Rewrite the previous plugin: a crash must leave revision 0
            // or revision 1 of it, whole.
            store.save(&crash_plugin(key - 1, 1)).unwrap();
            writeln!(out, "ACK {} 1", key - 1).unwrap();
            out.flush().unwrap();
        }
    }
}

#[test]
fn kill_9_at_random_moments_loses_no_acknowledged_save() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let (seed, mut rng) = seeded();
    // key -> the newest acknowledged revision.
    let mut acked: BTreeMap<u64, u64> = BTreeMap::new();
    let mut next_key = 0;
    let mut total_acks = 0;
    const KILLS: usize = 25;
    for kill in 0..KILLS {
        let mut child = spawn_worker(
            "worker_crash",
            "crash",
            &db,
            &[("PM_FIRST_KEY", next_key.to_string())],
        );
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let wait_for = 1 + rng.below(12);
        for _ in 0..wait_for {
            let Some(line) = read_until(&mut lines, "ACK ") else {
                let err = stderr_of(&mut child);
                panic!("the crash worker died on its own (seed {seed}):\n{err}");
            };
            let mut parts = line.split(' ').skip(1).map(|s| s.parse::<u64>().unwrap());
            let (key, rev) = (parts.next().unwrap(), parts.next().unwrap());
            acked.insert(key, rev);
            total_acks += 1;
            next_key = next_key.max(key + 1);
        }
        // A random moment after the last ack we waited for: the child is
        // somewhere inside its next save (or between two).
        let spin = Instant::now();
        let spin_for = Duration::from_micros(rng.below(3000));
        while spin.elapsed() < spin_for {
            std::hint::spin_loop();
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Acks the child wrote before it died count too.
        for line in lines {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("ACK ") {
                let mut parts = rest.split(' ').map(|s| s.parse::<u64>().unwrap());
                let (key, rev) = (parts.next().unwrap(), parts.next().unwrap());
                acked.insert(key, rev);
                total_acks += 1;
                next_key = next_key.max(key + 1);
            }
        }
        // Keys the child may have started but not acknowledged are never
        // reused, so anything found beyond `next_key` is the in-flight one.

        assert_eq!(
            integrity_check(&db),
            "ok",
            "after kill {kill} (seed {seed})"
        );
        let store = MetadataStore::open(&db).unwrap();
        let found = store.list().unwrap();
        let mut seen = BTreeSet::new();
        for p in &found {
            let key: u64 = p.name["plugin".len()..].parse().unwrap();
            let rev: u64 = p.version.as_deref().unwrap().parse().unwrap();
            assert_eq!(p, &crash_plugin(key, rev), "a torn plugin (seed {seed})");
            match acked.get(&key) {
                // The acked revision, or the next one that was in flight.
                Some(&a) => assert!(rev == a || rev == a + 1, "key {key} rev {rev} acked {a}"),
                // Saved but killed before its ack.
                None => assert_eq!(rev, 0, "key {key} (seed {seed})"),
            }
            seen.insert(key);
        }
        for key in acked.keys() {
            assert!(
                seen.contains(key),
                "acknowledged plugin {key} lost (seed {seed})"
            );
        }
        // Whatever was saved but not acked is now in the file for good.
        next_key = next_key.max(seen.iter().max().map_or(0, |k| k + 1));
        for p in &found {
            let key: u64 = p.name["plugin".len()..].parse().unwrap();
            let rev: u64 = p.version.as_deref().unwrap().parse().unwrap();
            acked.insert(key, rev);
        }
    }
    eprintln!(
        "crash: {KILLS} kills, {total_acks} acknowledged saves, {} plugins checked after the last (seed {seed})",
        acked.len()
    );
}
