//! The async handle's figures (built with `--features async`):
//!
//! - `async_get` (a case in the table): the median `get` through an
//!   [`AsyncStore`] (awaited with `futures::executor::block_on`, so each
//!   call is one hand-off to a reader thread and back) against
//!   `MetadataStore::get` on the same file; beside it, `handoff`: the
//!   median bare round trip between two threads over a std channel in the
//!   same run, the floor of any hand-off. Aim: the handle's overhead
//!   (`async_get` − `get`) within 2× `handoff`.
//! - `async_stall`: a 1 ms ticker task on a current-thread tokio runtime
//!   while a `save_all` of N (into a fresh file) runs on the same runtime:
//!   its worst lateness through the handle, and with the same save called
//!   directly on the runtime (which blocks it). Aim: ≤ 5 ms through the
//!   handle.
//! - `read_during_write`: `get`s awaited one after another through the
//!   handle while a `save_all` of N (updates of every plugin) runs: their
//!   p99 latency. Aim: ≤ 10 ms.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use plugin_metastore::{AsyncStore, MetadataStore, PluginMetadata};

use crate::{CALLS, Case, Files, R, Report, median, remove_db, timed};

/// Runs the three figures and adds them to `report`.
pub fn run(
    report: &mut Report,
    files: &Files,
    keys: &[(&str, &str)],
    dir: &Path,
    plugins: &[PluginMetadata],
) -> R<()> {
    let handle = AsyncStore::open(&files.store_path)?;
    warm(&handle, keys)?;
    report.run(vec![async_get(&handle, &files.store, keys)])?;
    futures::executor::block_on(handle.close())?;
    let get = report
        .lines
        .last()
        .map(|l| (l.store_ms, l.raw_ms))
        .ok_or("async_get left no line")?;
    eprintln!("bench: handoff");
    let noop_us = noop_round_trip(&files.store_path)?;
    report.note(handoff(get, noop_us)?);
    eprintln!("bench: async_stall");
    report.note(async_stall(dir, plugins)?);
    eprintln!("bench: read_during_write");
    report.note(read_during_write(dir, plugins, keys)?);
    Ok(())
}

/// Reads every key on every reader once, untimed: the direct store's
/// page cache is warm from filling the file, and each reader connection
/// has a cache of its own.
fn warm(handle: &AsyncStore, keys: &[(&str, &str)]) -> R<()> {
    for &(c, name) in keys {
        // Issued together, the calls go to different readers.
        let calls: Vec<_> = (0..handle.readers().max(1))
            .map(|_| handle.get(c, name))
            .collect();
        for found in futures::executor::block_on(futures::future::join_all(calls)) {
            found?.ok_or("warm-up: not found")?;
        }
    }
    Ok(())
}

/// `async_get`: per-call `get` through the handle against the direct one.
fn async_get<'a>(
    handle: &'a AsyncStore,
    store: &'a MetadataStore,
    keys: &'a [(&str, &str)],
) -> Case<'a> {
    Case::new(
        "async_get",
        None,
        keys.len().min(CALLS),
        move |i| {
            let (c, name) = keys[i];
            timed(
                || Ok(futures::executor::block_on(handle.get(c, name))?.ok_or("handle: not found")?),
                |_| 1,
            )
        },
        move |i| {
            let (c, name) = keys[i];
            timed(|| Ok(store.get(c, name)?.ok_or("store: not found")?), |_| 1)
        },
    )
    .per_call()
}

/// The median round trip (µs) of an empty `read` closure through the
/// handle: its own machinery, without SQLite.
fn noop_round_trip(path: &Path) -> R<f64> {
    let handle = AsyncStore::open(path)?;
    let mut times = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let start = Instant::now();
        futures::executor::block_on(handle.read(|_| Ok(())))?;
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    futures::executor::block_on(handle.close())?;
    Ok(median(times))
}

/// `handoff`: the bare round trip to another thread and back over std
/// channels, median of `CALLS`; with the handle's overhead beside it
/// (`async_get` − `get`), and the round trip of an empty closure through
/// the handle.
fn handoff((async_ms, direct_ms): (f64, f64), noop_us: f64) -> R<String> {
    let (ask, asked) = mpsc::channel::<u64>();
    let (answer, answered) = mpsc::channel::<u64>();
    let echo = std::thread::spawn(move || {
        while let Ok(v) = asked.recv() {
            if answer.send(v).is_err() {
                break;
            }
        }
    });
    let mut times = Vec::with_capacity(CALLS);
    for i in 0..CALLS as u64 {
        let start = Instant::now();
        ask.send(i)?;
        if answered.recv()? != i {
            return Err("handoff: answer out of order".into());
        }
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    drop(ask);
    let _ = echo.join();
    let handoff_us = median(times);
    let overhead_us = (async_ms - direct_ms) * 1000.0;
    Ok(format!(
        "{{\"bench\":\"handoff\",\"handoff_us\":{handoff_us:.1},\"async_get_us\":{:.1},\"get_us\":{:.1},\"overhead_us\":{overhead_us:.1},\"overhead_per_handoff\":{:.2},\"noop_us\":{noop_us:.1},\"noop_per_handoff\":{:.2},\"target\":\"<= 2\"}}",
        async_ms * 1000.0,
        direct_ms * 1000.0,
        overhead_us / handoff_us,
        noop_us / handoff_us
    ))
}

/// The worst lateness (ms) of a 1 ms ticker on a current-thread runtime
/// while `work` runs on it; and how long `work` took.
fn ticker_during<F>(work: F) -> R<(f64, f64)>
where
    F: Future<Output = R<()>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    rt.block_on(async {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let ticker = tokio::spawn(async move {
            let tick = Duration::from_millis(1);
            let mut worst = Duration::ZERO;
            loop {
                let start = Instant::now();
                let stop = tokio::select! {
                    _ = tokio::time::sleep(tick) => false,
                    _ = &mut stopped => true,
                };
                // A tick still waiting when the stop comes was late by as
                // much (a runtime that was blocked fires neither before).
                worst = worst.max(start.elapsed().saturating_sub(tick));
                if stop {
                    break;
                }
            }
            worst
        });
        // Let the ticker start before the work does.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let start = Instant::now();
        work.await?;
        let took = start.elapsed();
        let _ = stop.send(());
        let worst = ticker.await?;
        Ok((worst.as_secs_f64() * 1000.0, took.as_secs_f64() * 1000.0))
    })
}

/// Repetitions of the `async_stall` measurements (medians reported).
const STALL_REPS: usize = 3;

/// `async_stall`: the ticker during a `save_all` of N through the handle,
/// and during the same save called directly on the runtime; each side's
/// worst lateness is the median over [`STALL_REPS`] runs, alternating.
fn async_stall(dir: &Path, plugins: &[PluginMetadata]) -> R<String> {
    let mut late_runs: [Vec<f64>; 4] = Default::default();
    let mut save_runs: [Vec<f64>; 2] = Default::default();
    for _ in 0..STALL_REPS {
        let (late, saves) = stall_once(dir, plugins)?;
        late_runs
            .iter_mut()
            .zip(late)
            .for_each(|(all, v)| all.push(v));
        save_runs
            .iter_mut()
            .zip(saves)
            .for_each(|(all, v)| all.push(v));
    }
    let [handle_late, idle_late, busy_late, direct_late] = late_runs.map(median);
    let [handle_ms, direct_ms] = save_runs.map(median);
    Ok(format!(
        "{{\"bench\":\"async_stall\",\"n\":{},\"reps\":{STALL_REPS},\"handle_worst_late_ms\":{handle_late:.2},\"idle_worst_late_ms\":{idle_late:.2},\"busy_core_worst_late_ms\":{busy_late:.2},\"direct_worst_late_ms\":{direct_late:.2},\"handle_save_ms\":{handle_ms:.1},\"direct_save_ms\":{direct_ms:.1},\"target_ms\":5}}",
        plugins.len()
    ))
}

/// One run of each `async_stall` side: the worst lateness through the
/// handle, idle, beside a busy core, and with the direct save; and the
/// two saves' times, the handle's first (all ms).
fn stall_once(dir: &Path, plugins: &[PluginMetadata]) -> R<([f64; 4], [f64; 2])> {
    let handle_path = dir.join("stall-handle.db");
    let handle = AsyncStore::open(&handle_path)?;
    let batch = plugins.to_vec();
    let save = handle.save_all(batch);
    let (handle_late, handle_ms) = ticker_during(async move { Ok(save.await?) })?;
    futures::executor::block_on(handle.close())?;
    remove_db(&handle_path);

    // The same ticker for as long with nothing else to do, and while
    // another thread only burns CPU: this machine's own lateness, without
    // and with a busy core (what the writer thread is during the save).
    let idle = Duration::from_secs_f64(handle_ms / 1000.0);
    let (idle_late, _) = ticker_during(async move {
        tokio::time::sleep(idle).await;
        Ok(())
    })?;
    let (busy_late, _) = ticker_during(async move {
        let (done, finished) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < idle {
                std::hint::spin_loop();
            }
            let _ = done.send(());
        });
        finished.await?;
        Ok(())
    })?;

    let direct_path = dir.join("stall-direct.db");
    let direct = MetadataStore::open(&direct_path)?;
    let (direct_late, direct_ms) = ticker_during(async { Ok(direct.save_all(plugins)?) })?;
    drop(direct);
    remove_db(&direct_path);
    let late = [handle_late, idle_late, busy_late, direct_late];
    Ok((late, [handle_ms, direct_ms]))
}

/// `read_during_write`: `get`s through the handle while a `save_all` of N
/// runs on the writer; their p99 and median.
fn read_during_write(dir: &Path, plugins: &[PluginMetadata], keys: &[(&str, &str)]) -> R<String> {
    let path = dir.join("read-during-write.db");
    MetadataStore::open(&path)?.save_all(plugins)?;
    let handle = AsyncStore::open(&path)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()?;
    let batch = plugins.to_vec();
    let keys: Vec<(String, String)> = keys
        .iter()
        .map(|&(c, n)| (c.to_owned(), n.to_owned()))
        .collect();
    let reader = handle.clone();
    let (mut times, save_ms) = rt.block_on(async move {
        let start = Instant::now();
        let save = tokio::spawn(handle.save_all(batch));
        let mut times = Vec::new();
        let mut i = 0;
        while !save.is_finished() {
            let (c, n) = &keys[i % keys.len()];
            let t = Instant::now();
            reader
                .get(c.clone(), n.clone())
                .await?
                .ok_or("read_during_write: not found")?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            i += 1;
        }
        save.await??;
        let save_ms = start.elapsed().as_secs_f64() * 1000.0;
        handle.close().await?;
        Ok::<_, Box<dyn std::error::Error>>((times, save_ms))
    })?;
    remove_db(&path);
    if times.is_empty() {
        return Err("read_during_write: the save ended before one get".into());
    }
    times.sort_by(f64::total_cmp);
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    let worst = times[times.len() - 1];
    let gets = times.len();
    let med = median(times);
    Ok(format!(
        "{{\"bench\":\"read_during_write\",\"n\":{},\"gets\":{gets},\"p99_ms\":{p99:.3},\"median_ms\":{med:.3},\"worst_ms\":{worst:.2},\"save_ms\":{save_ms:.1},\"target_ms\":10}}",
        plugins.len()
    ))
}
