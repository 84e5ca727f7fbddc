//! The benches for what a desktop UI needs (issue 12): list rows without
//! JSON, the price of parsing JSON, a checked backup, and the change feed's
//! cost and speed.
//!
//! Cases (store against `raw_ui.rs`, as every case):
//! - `summaries_all`: every plugin as a `PluginSummary`; the baseline reads
//!   the same columns into a plain struct, in row-id order, sorted in
//!   memory. Targets: ≤ 1.3× its baseline, and ≤ 0.5× `list_all`'s store
//!   time in the same run (printed as the `summaries_vs_list` line).
//! - `list_all_text`: the store's full `list()` against the baseline's
//!   list with `config_schema` and `metadata` left as text. `list_all`'s
//!   baseline parses the JSON as the store does; the gap between the two
//!   baselines is the price of parsing it.
//! - `backup`: `MetadataStore::backup` against the same steps by hand.
//!
//! Figures (one JSON line each, no baseline):
//! - `watch_idle`: CPU time of one `ChangeWatcher::poll` (the
//!   `PRAGMA data_version` check), of a watcher waiting idle for 2 s at
//!   the default interval, per poll, and of the same sleeps without a poll
//!   (what a wake-up costs on the machine).
//! - `watch_wake`: from just before a commit in another thread to the
//!   watcher returning it, over 100 commits at random moments; median and
//!   maximum, at the default interval.

use std::path::Path;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use plugin_metastore::{ChangeWatcher, MetadataStore, PluginMetadata, PluginQuery};

use crate::{Case, Files, Line, R, Target, median, raw_ui, remove_db, timed};

/// Repetitions of a backup of the whole store.
const BACKUP_REPS: usize = 3;

/// The list and backup cases, on the filled files.
pub fn cases<'a>(files: &'a Files, dir: &'a Path, reps: usize) -> Vec<Case<'a>> {
    let (store, raw) = (&files.store, &files.raw);
    let all = PluginQuery::new();
    let copy = move |side: &str, rep: usize| dir.join(format!("backup-{side}-{rep}.db"));
    vec![
        Case::new(
            "summaries_all",
            Some(Target::Ratio(1.3)),
            reps,
            move |_| timed(|| Ok(store.summaries(&all)?), Vec::len),
            move |_| timed(|| raw_ui::summaries(raw.conn()), Vec::len),
        ),
        Case::new(
            "list_all_text",
            None,
            reps,
            move |_| timed(|| Ok(store.list()?), Vec::len),
            move |_| timed(|| raw_ui::list_text(raw.conn()), Vec::len),
        ),
        Case::new(
            "backup",
            None,
            BACKUP_REPS,
            move |rep| {
                let path = copy("store", rep);
                let sample = timed(|| Ok(store.backup(&path)?), |b| b.plugins as usize);
                remove_db(&path);
                sample
            },
            move |rep| {
                let path = copy("raw", rep);
                let sample = timed(|| raw_ui::backup(raw.conn(), &path), |&n| n as usize);
                remove_db(&path);
                sample
            },
        ),
    ]
}

/// The baselines must return what the store returns: the summaries field
/// by field, and the text list equal to the store's list once its JSON is
/// parsed (checked here, outside the timing).
pub fn check_baseline(files: &Files) -> R<()> {
    let store = files.store.summaries(&PluginQuery::new())?;
    let raw = raw_ui::summaries(files.raw.conn())?;
    let same = store.len() == raw.len()
        && store.iter().zip(&raw).all(|(s, r)| {
            s.category == r.category
                && s.name == r.name
                && s.title == r.title
                && s.execution_mode == r.execution_mode
                && s.provider == r.provider
                && s.remote_status == r.remote_status
                && s.spawned_pids == r.pids
                && s.container_id == r.container_id
                && s.cost_per_hour == r.cost_per_hour
                && s.is_configured == r.is_configured
                && s.has_active_resources == r.active
                && s.updated_at.len() == r.updated_at.len()
        });
    if !same {
        return Err("the baseline's summaries differ from the store's".into());
    }
    let listed = files.store.list()?;
    let text = raw_ui::list_text(files.raw.conn())?;
    if listed.len() != text.len() {
        return Err("the baseline's text list has another length".into());
    }
    for (p, t) in listed.iter().zip(&text) {
        if *p != t.parsed()? {
            return Err(format!("the baseline's text list differs at {}", p.unique_id()).into());
        }
    }
    Ok(())
}

/// `summaries_all` against `list_all` in the same run (target ≤ 0.5).
pub fn summaries_vs_list(lines: &[Line]) {
    let ms = |name: &str| lines.iter().find(|l| l.bench == name).map(|l| l.store_ms);
    if let (Some(s), Some(l)) = (ms("summaries_all"), ms("list_all")) {
        println!(
            "{{\"bench\":\"summaries_vs_list\",\"summaries_ms\":{s:.1},\"list_ms\":{l:.1},\"ratio\":{:.3},\"target\":0.5}}",
            s / l
        );
    }
}

/// This thread's CPU time so far, in ns (`/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// `watch_idle` and `watch_wake`.
pub fn watch_figures(files: &Files, dir: &Path) -> R<()> {
    let store = &files.store;
    let mut watcher = store.watch(store.change_cursor()?)?;
    const POLLS: u64 = 20_000;
    let before = thread_cpu_ns().ok_or("no /proc/thread-self/schedstat")?;
    for _ in 0..POLLS {
        watcher.poll()?;
    }
    let poll_us = (thread_cpu_ns().unwrap_or(before) - before) as f64 / POLLS as f64 / 1000.0;
    let idle = Duration::from_secs(2);
    let polls = idle.as_millis() / ChangeWatcher::DEFAULT_INTERVAL.as_millis();
    let before = thread_cpu_ns().unwrap_or(0);
    if watcher.wait(idle)? {
        return Err("the store changed during the idle measurement".into());
    }
    let idle_us = (thread_cpu_ns().unwrap_or(before) - before) as f64 / 1000.0;
    // The same sleeps without a poll: what waking up costs on this machine.
    let before = thread_cpu_ns().unwrap_or(0);
    for _ in 0..polls {
        std::thread::sleep(ChangeWatcher::DEFAULT_INTERVAL);
    }
    let sleep_us = (thread_cpu_ns().unwrap_or(before) - before) as f64 / 1000.0;
    println!(
        "{{\"bench\":\"watch_idle\",\"poll_cpu_us\":{poll_us:.2},\"idle_cpu_us_per_poll\":{:.1},\"sleep_only_cpu_us_per_wake\":{:.1},\"idle_cpu_us_per_s\":{:.1},\"interval_ms\":{}}}",
        idle_us / polls as f64,
        sleep_us / polls as f64,
        idle_us / idle.as_secs_f64(),
        ChangeWatcher::DEFAULT_INTERVAL.as_millis()
    );
    wake_latency(dir)
}

/// 100 commits by another thread at random moments; how long each took to
/// reach the watcher.
fn wake_latency(dir: &Path) -> R<()> {
    const CHANGES: usize = 100;
    let path = dir.join("wake.db");
    let store = MetadataStore::open(&path)?;
    let mut watcher = store.watch(store.change_cursor()?)?;
    let (send, commits) = channel::<Instant>();
    let writer_path = path.clone();
    let writer = std::thread::spawn(move || -> plugin_metastore::Result<()> {
        let store = MetadataStore::open(&writer_path)?;
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for i in 0..CHANGES {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            std::thread::sleep(Duration::from_micros(state % 200_000));
            let p = PluginMetadata::new(format!("p{i}"), "wake", "t", serde_json::json!({}));
            let _ = send.send(Instant::now());
            store.save(&p)?;
        }
        Ok(())
    });
    let mut latencies = Vec::new();
    while latencies.len() < CHANGES {
        let changes = watcher.next_changes(Duration::from_secs(5))?;
        let woke = Instant::now();
        if changes.is_empty() {
            return Err("the watcher heard nothing for 5 s".into());
        }
        for _ in changes.changes() {
            let before = commits.recv()?;
            latencies.push(woke.saturating_duration_since(before).as_secs_f64() * 1000.0);
        }
    }
    writer.join().map_err(|_| "the writer panicked")??;
    let max = latencies.iter().copied().fold(0.0, f64::max);
    println!(
        "{{\"bench\":\"watch_wake\",\"changes\":{CHANGES},\"median_ms\":{:.1},\"max_ms\":{max:.1},\"interval_ms\":{}}}",
        median(latencies),
        ChangeWatcher::DEFAULT_INTERVAL.as_millis()
    );
    drop(store);
    remove_db(&path);
    Ok(())
}
