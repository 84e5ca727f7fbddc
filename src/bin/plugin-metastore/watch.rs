//! `watch`: one JSON line per change to the store, until SIGINT, SIGTERM or
//! a closed output.
//!
//! The loop makes one cheap check per interval (the library's
//! `ChangeWatcher`) and sleeps in slices of at most 50 ms between checks,
//! looking at the stop flag each time, so a signal ends it within 50 ms
//! whatever the interval. Each line is written and flushed on its own; a
//! write to a closed pipe ends the command with exit code 0 (the reader
//! has stopped reading, which is not a failure).

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use plugin_metastore::Changes;

use crate::db::Db;
use crate::failure::{CliResult, Failure};

/// The longest the loop sleeps before looking at the stop flag.
const SLICE: Duration = Duration::from_millis(50);

/// The flags of `watch`.
#[derive(Debug, Args)]
#[command(after_help = "\
Each line is {\"seq\":N,\"unique_id\":…,\"category\":…,\"name\":…,\"op\":\"insert\"|\"update\"|\"delete\"},
in commit order. A line {\"reset\":true,\"seq\":N} means the change log no longer
reaches back to where the watch was, or the store was replaced (by mv): re-read
everything, then carry on. Starts
at the newest change (or replays from --since SEQ). Stops on Ctrl-C, SIGTERM,
or when its output is closed.

Examples:
  plugin-metastore watch
  plugin-metastore watch --since 0 --interval-ms 50")]
pub(crate) struct WatchArgs {
    /// How often to look for changes, in milliseconds (one cheap check each time)
    #[arg(long, value_name = "N", default_value = "100",
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    interval_ms: u64,
    /// Replay the changes after this seq first (0: the whole log)
    #[arg(long, value_name = "SEQ")]
    since: Option<u64>,
}

impl WatchArgs {
    /// Runs `watch` on the store until stopped.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let store = db.open_existing()?;
        let writing = Arc::new(AtomicBool::new(false));
        let stop = stop_on_signals(&writing)?;
        let interval = Duration::from_millis(self.interval_ms);
        let start = match self.since {
            Some(seq) => seq,
            None => store.change_cursor()?,
        };
        let mut watcher = store.watch(start)?.interval(interval);
        let _ = writeln!(
            io::stderr().lock(),
            "watching {} after change {start} (Ctrl-C stops)",
            crate::output::display_path(&store)
        );
        // The watcher's connection is then the only one this process keeps:
        // when the file is replaced (mv), closing it cleans up the old -wal.
        drop(store);
        let mut out = io::stdout().lock();
        while !stop.load(Ordering::Relaxed) {
            let checked = Instant::now();
            let changes = watcher.next_changes(Duration::ZERO)?;
            // A reader that stopped reading leaves the write blocked on a
            // full pipe, where the stop flag is never looked at: a signal
            // that comes then ends the process at once.
            writing.store(true, Ordering::SeqCst);
            let written = write_changes(&mut out, &changes);
            writing.store(false, Ordering::SeqCst);
            match written {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(Failure(format!("cannot write to standard output: {e}"))),
            }
            sleep_until(checked + interval, &stop);
        }
        Ok(())
    }
}

/// One line per change, or the reset line; flushed.
fn write_changes(out: &mut impl Write, changes: &Changes) -> io::Result<()> {
    match changes {
        Changes::Reset { .. } => {
            let line = serde_json::to_string(changes).map_err(io::Error::other)?;
            writeln!(out, "{line}")?;
        }
        Changes::Since { changes, .. } => {
            for change in changes {
                let line = serde_json::to_string(change).map_err(io::Error::other)?;
                writeln!(out, "{line}")?;
            }
        }
    }
    out.flush()
}

/// Sleeps until `deadline` or until `stop` is set, whichever is first.
fn sleep_until(deadline: Instant, stop: &AtomicBool) {
    loop {
        let now = Instant::now();
        if now >= deadline || stop.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(SLICE.min(deadline - now));
    }
}

/// A flag set by the first SIGINT or SIGTERM; a second one ends the
/// process at once (exit code 1), for a loop that does not stop; the first
/// one while `writing` is set ends it at once with exit code 0 (a write
/// blocked on a full pipe never returns to look at the flag).
#[cfg(unix)]
fn stop_on_signals(writing: &Arc<AtomicBool>) -> CliResult<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Exit code 0, as for a stop between writes: a stop asked for.
        flag::register_conditional_shutdown(signal, 0, Arc::clone(writing))
            .and_then(|_| flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop)))
            .and_then(|_| flag::register(signal, Arc::clone(&stop)))
            .map_err(|e| Failure(format!("cannot handle signal {signal}: {e}")))?;
    }
    Ok(stop)
}

/// Elsewhere the default handling (the process ends) stays.
#[cfg(not(unix))]
fn stop_on_signals(_writing: &Arc<AtomicBool>) -> CliResult<Arc<AtomicBool>> {
    Ok(Arc::new(AtomicBool::new(false)))
}
