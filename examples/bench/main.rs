//! Benchmark: the store's public API against hand-written rusqlite doing the
//! same work on the same schema, in the same process.
//!
//! ```sh
//! cargo run --release --example bench -- [--n N] [--json]
//! ```
//!
//! Builds a deterministic data set of N plugins (default 100,000; see
//! `data.rs`) and times each operation twice: through [`MetadataStore`], and
//! through the baseline in `raw.rs`, which a careful engineer would write by
//! hand with rusqlite (cached prepared statements, one transaction wherever
//! the store uses one, the same upserts, the same one-pass list, the
//! store's own connection settings from
//! [`StoreOptions`](plugin_metastore::StoreOptions)). The two run on
//! separate files with the same schema and alternate, so machine drift hits
//! both. Every figure is a median. Before the listings are timed, the
//! baseline must list exactly what the store lists.
//!
//! Each operation is one [`Case`] in a table: its name, its target, how
//! many times it runs, and one closure per side that times its own
//! operation with [`timed`] (leaving out set-up such as creating a fresh
//! file, and dropping the result).
//!
//! Output: one JSON line per operation,
//! `{"bench":"save_all","n":100000,"store_ms":…,"raw_ms":…,"ratio":…,"rows":…}`
//! (`ratio` = store / raw; `rows` = plugins returned or written, or for the
//! per-call benches `save_one`, `get` and `open_existing` the number of
//! calls timed, whose median is shown), then one line with the peak
//! resident memory of the run and the core count. Without `--json` a table
//! follows.
//!
//! The targets (issue 6) are part of the cases and shown in the table:
//! `save_all` ≤ 1.25, `save_one` and `get` ≤ 1.3, `list_all` ≤ 1.25, the
//! three queries ≤ 1.3, `open_existing` ≤ 2 ms. The UI cases and figures
//! of issue 12 (`summaries_all`, `list_all_text`, `backup`, the change
//! log's cost, the watcher's idle cost and wake latency) are in `ui.rs`.
//! Built with `--features async`, the async handle's figures (`async_get`
//! beside `handoff`, `async_stall`, `read_during_write`) are in
//! `async_handle.rs`.

#[cfg(feature = "async")]
mod async_handle;
mod breakdown;
mod data;
mod history;
mod raw;
mod raw_ui;
// The tests' generator; the bench uses only part of it.
#[allow(dead_code)]
#[path = "../../tests/support/rng.rs"]
mod rng;
mod ui;
mod upgrade;

use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use plugin_metastore::{
    CloudProviderType, MetadataStore, PluginExecutionMode, PluginMetadata, PluginQuery,
};

use crate::raw::{RawQuery, RawStore};

type R<T> = std::result::Result<T, Box<dyn Error>>;

/// Calls timed by each per-call bench (`save_one`, `get`).
const CALLS: usize = 2000;
/// Opens timed by `open_existing`.
const OPENS: usize = 300;
/// Repetitions of each whole-store listing, and of each filtered query.
const LIST_REPS: usize = 7;
const QUERY_REPS: usize = 11;

fn main() {
    if let Err(e) = run() {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> R<()> {
    let args = parse_args()?;
    let n = args.n;
    let dir = tempfile::tempdir()?;
    eprintln!("bench: generating {n} plugins");
    let plugins = data::plugins(n);
    let mut report = Report {
        n,
        lines: Vec::new(),
        notes: Vec::new(),
    };

    eprintln!("bench: save_all breakdown");
    let breakdown = breakdown::run(dir.path(), &plugins)?;
    if args.breakdown {
        for line in breakdown {
            println!("{line}");
        }
        println!("{}", upgrade::run(dir.path(), &plugins)?);
        return Ok(());
    }
    report.run(vec![
        save_all(dir.path(), &plugins),
        save_all_floor(dir.path(), &plugins),
    ])?;

    // The filled files every later bench works on.
    let files = Files::fill(dir.path(), &plugins)?;
    let (edits, keys) = data::edits_and_keys(&plugins, CALLS);
    report.run(per_call_cases(&files, &edits, &keys))?;
    #[cfg(feature = "async")]
    async_handle::run(&mut report, &files, &keys, dir.path(), &plugins)?;

    check_baseline(&files, n)?;
    report.run(read_cases(&files))?;
    ui::check_baseline(&files)?;
    report.run(ui::cases(&files, dir.path(), LIST_REPS))?;
    ui::summaries_vs_list(&report.lines);
    eprintln!("bench: watch figures");
    ui::watch_figures(&files, dir.path())?;
    drop(files);

    eprintln!("bench: writing a year of history");
    let year = history::HistoryFile::build(dir.path(), n.min(history::PLUGINS))?;
    report.run(history::cases(&year)?)?;
    report.note(year.size_line()?);
    drop(year);
    for line in breakdown {
        report.note(line);
    }
    eprintln!("bench: upgrade_v9");
    report.note(upgrade::run(dir.path(), &plugins)?);

    report.finish(args.json);
    Ok(())
}

// ---------------------------------------------------------------------------
// The cases.

/// What a case is held to: store / raw at most this, or (for
/// `open_existing`, where the baseline skips the store's file checks) the
/// store's own median at most this many ms.
#[derive(Clone, Copy)]
enum Target {
    Ratio(f64),
    StoreMs(f64),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Ratio(r) => write!(f, "≤ {r}"),
            Target::StoreMs(ms) => write!(f, "≤ {ms} ms"),
        }
    }
}

/// One side of a case: given the repetition number, runs the operation
/// once and returns its time and the rows it handled.
type Side<'a> = Box<dyn FnMut(usize) -> R<Sample> + 'a>;

/// One operation, timed through the store and through the baseline.
struct Case<'a> {
    name: &'static str,
    /// The data set's size, when it is not the run's N.
    n: Option<usize>,
    target: Option<Target>,
    reps: usize,
    /// Each run is one call (rows: 1); the line reports `reps` as its rows.
    per_call: bool,
    store: Side<'a>,
    raw: Side<'a>,
}

impl<'a> Case<'a> {
    /// A case whose every run handles many rows (all, or a query's); see
    /// [`per_call`](Self::per_call) for single calls.
    fn new(
        name: &'static str,
        target: Option<Target>,
        reps: usize,
        store: impl FnMut(usize) -> R<Sample> + 'a,
        raw: impl FnMut(usize) -> R<Sample> + 'a,
    ) -> Self {
        Case {
            name,
            n: None,
            target,
            reps,
            per_call: false,
            store: Box::new(store),
            raw: Box::new(raw),
        }
    }

    /// The same case on a data set of `n` plugins (not the run's N).
    fn with_n(self, n: usize) -> Self {
        Case { n: Some(n), ..self }
    }

    /// The same case with runs that are single calls, `reps` of them.
    fn per_call(self) -> Self {
        Case {
            per_call: true,
            ..self
        }
    }
}

/// `save_all`: all N into an empty file, one call, against the baseline
/// doing the same work. Creating and opening the file and closing it (the
/// WAL checkpoint) are not timed.
fn save_all<'a>(dir: &'a Path, plugins: &'a [PluginMetadata]) -> Case<'a> {
    save_case("save_all", 1.25, dir, plugins, RawStore::create)
}

/// `save_all_floor`: the same `save_all` against the floor, Part 1's save
/// by hand on Part 1's schema (see [`RawStore::floor`]): what Part 2's
/// bookkeeping costs on top of the work Part 1 did.
fn save_all_floor<'a>(dir: &'a Path, plugins: &'a [PluginMetadata]) -> Case<'a> {
    save_case("save_all_floor", 1.5, dir, plugins, RawStore::floor)
}

/// A whole-set save into a new file: the store's `save_all` against the
/// baseline that `open_raw` makes on its own new file.
fn save_case<'a>(
    name: &'static str,
    target: f64,
    dir: &'a Path,
    plugins: &'a [PluginMetadata],
    open_raw: fn(&Path) -> R<RawStore>,
) -> Case<'a> {
    let reps = if plugins.len() >= 50_000 { 5 } else { 7 };
    let fresh = move |side: &str, rep: usize| dir.join(format!("{name}-{side}-{rep}.db"));
    Case::new(
        name,
        Some(Target::Ratio(target)),
        reps,
        move |rep| {
            let path = fresh("store", rep);
            let store = MetadataStore::open(&path)?;
            let sample = timed(|| Ok(store.save_all(plugins)?), |()| plugins.len())?;
            drop(store);
            remove_db(&path);
            Ok(sample)
        },
        move |rep| {
            let path = fresh("raw", rep);
            let raw = open_raw(&path)?;
            let sample = timed(|| raw.save_all(plugins), |()| plugins.len())?;
            drop(raw);
            remove_db(&path);
            Ok(sample)
        },
    )
}

/// `save_one`: single saves (each its own transaction) of changed plugins
/// into the filled files; `get`: by key. Medians per call.
fn per_call_cases<'a>(
    files: &'a Files,
    edits: &'a [PluginMetadata],
    keys: &'a [(&str, &str)],
) -> Vec<Case<'a>> {
    let (store, raw) = (&files.store, &files.raw);
    vec![
        Case::new(
            "save_one",
            Some(Target::Ratio(1.3)),
            edits.len(),
            move |i| timed(|| Ok(store.save(&edits[i])?), |()| 1),
            move |i| timed(|| raw.save(&edits[i]), |()| 1),
        )
        .per_call(),
        Case::new(
            "get",
            Some(Target::Ratio(1.3)),
            keys.len(),
            move |i| {
                let (c, name) = keys[i];
                timed(|| Ok(store.get(c, name)?.ok_or("store: not found")?), |_| 1)
            },
            move |i| {
                let (c, name) = keys[i];
                timed(|| raw.get(c, name)?.ok_or("raw: not found".into()), |_| 1)
            },
        )
        .per_call(),
    ]
}

/// The listings and queries (each query's SQL built before the timing),
/// then `open_existing`.
fn read_cases(files: &Files) -> Vec<Case<'_>> {
    let (store, raw) = (&files.store, &files.raw);
    let active = PluginQuery::new().active(true);
    // The three queries: the store's `find_…` and the baseline's SQL.
    let queries: [(&'static str, Listing, RawQuery); 3] = [
        (
            "query_mode",
            |s| s.find_by_execution_mode(PluginExecutionMode::CloudGpu),
            RawQuery::by_mode("cloud_gpu"),
        ),
        (
            "query_provider",
            |s| s.find_by_provider(CloudProviderType::Aws),
            RawQuery::by_provider("aws"),
        ),
        ("query_active", |s| s.find_active(), RawQuery::active()),
    ];
    let list_all = Some(Target::Ratio(1.25));
    let mut cases = vec![
        list_case(
            files,
            "list_all",
            list_all,
            LIST_REPS,
            |s| s.list(),
            RawQuery::all(),
        ),
        for_each_all(files),
    ];
    let query = Some(Target::Ratio(1.3));
    cases.extend(
        queries
            .into_iter()
            .map(|(name, op, q)| list_case(files, name, query, QUERY_REPS, op, q)),
    );
    cases.extend([
        Case::new(
            "count_active",
            None,
            QUERY_REPS,
            move |_| timed(|| Ok(store.count(&active)?), |&c| c as usize),
            move |_| timed(|| raw.count_active(), |&c| c as usize),
        ),
        Case::new(
            "check_pids",
            None,
            QUERY_REPS,
            move |_| timed(|| Ok(store.check_pids()?), |c| c.len()),
            move |_| timed(|| raw.check_pids(), |&(_, n)| n),
        ),
        open_existing(files),
    ]);
    cases
}

/// `for_each_all`: every plugin streamed, one at a time, none kept.
fn for_each_all(files: &Files) -> Case<'_> {
    let (store, raw) = (&files.store, &files.raw);
    let (everything, all) = (PluginQuery::new(), RawQuery::all());
    Case::new(
        "for_each_all",
        None,
        LIST_REPS,
        move |_| {
            let walk = || {
                let mut rows = 0;
                store.for_each(&everything, |p| {
                    rows += usize::from(!p.name.is_empty());
                    Ok(())
                })?;
                Ok(rows)
            };
            timed(walk, |&rows| rows)
        },
        move |_| {
            let walk = || {
                let mut rows = 0;
                raw.for_each(&all, |p| rows += usize::from(!p.name.is_empty()))?;
                Ok(rows)
            };
            timed(walk, |&rows| rows)
        },
    )
}

/// `open_existing`: opening a current file (pragmas + migration check)
/// while the long-lived connections stay open, as in an app. Closing it is
/// not timed.
fn open_existing(files: &Files) -> Case<'_> {
    Case::new(
        "open_existing",
        Some(Target::StoreMs(2.0)),
        OPENS,
        |_| timed(|| Ok(MetadataStore::open(&files.store_path)?), |_| 1),
        |_| timed(|| RawStore::open(&files.raw_path), |_| 1),
    )
    .per_call()
}

/// One of the store's listing calls (`list`, a `find_…`).
type Listing = fn(&MetadataStore) -> plugin_metastore::Result<Vec<PluginMetadata>>;

/// A listing: the store's `list` (or a `find_…`) against the baseline's
/// list of `q`.
fn list_case<'a>(
    files: &'a Files,
    name: &'static str,
    target: Option<Target>,
    reps: usize,
    store_op: Listing,
    q: RawQuery,
) -> Case<'a> {
    let (store, raw) = (&files.store, &files.raw);
    Case::new(
        name,
        target,
        reps,
        move |_| timed(|| Ok(store_op(store)?), Vec::len),
        move |_| timed(|| raw.list(&q), Vec::len),
    )
}

/// The two filled files (the store's and the baseline's), each with a
/// long-lived connection.
struct Files {
    store_path: PathBuf,
    raw_path: PathBuf,
    store: MetadataStore,
    raw: RawStore,
}

impl Files {
    fn fill(dir: &Path, plugins: &[PluginMetadata]) -> R<Self> {
        let (store_path, raw_path) = (dir.join("store.db"), dir.join("raw.db"));
        let raw = RawStore::create(&raw_path)?;
        let store = MetadataStore::open(&store_path)?;
        store.save_all(plugins)?;
        raw.save_all(plugins)?;
        Ok(Files {
            store_path,
            raw_path,
            store,
            raw,
        })
    }
}

/// The baseline must return exactly what the store returns: every plugin,
/// equal field by field and in the same order.
fn check_baseline(files: &Files, n: usize) -> R<()> {
    let want = files.raw.list(&RawQuery::all())?;
    if want.len() != n {
        return Err(format!("listed {} of {n} plugins", want.len()).into());
    }
    let mut at = 0;
    files.store.for_each(&PluginQuery::new(), |p| {
        if want.get(at) != Some(&p) {
            return Err(plugin_metastore::Error::InvalidInput {
                plugin: Some(p.unique_id()),
                field: "bench",
                reason: format!("the baseline's plugin #{at} differs from the store's"),
            });
        }
        at += 1;
        Ok(())
    })?;
    if at != n {
        return Err(format!("the store listed {at} of {n} plugins").into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Timing.

/// One run of one side: its time in ms and the rows it handled.
struct Sample {
    ms: f64,
    rows: usize,
}

/// Times `op` alone; `rows` reads its result after the clock stops, and the
/// result is dropped untimed.
fn timed<T>(op: impl FnOnce() -> R<T>, rows: impl FnOnce(&T) -> usize) -> R<Sample> {
    let start = Instant::now();
    let out = op()?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    Ok(Sample {
        ms,
        rows: rows(&out),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One printed result.
struct Line {
    bench: &'static str,
    n: Option<usize>,
    target: Option<Target>,
    store_ms: f64,
    raw_ms: f64,
    rows: usize,
}

impl Case<'_> {
    /// Runs both sides `reps` times each, alternating which goes first;
    /// they must agree on the rows of every run.
    fn measure(mut self) -> R<Line> {
        let (mut s, mut r) = (Vec::new(), Vec::new());
        let mut rows = 0;
        for i in 0..self.reps {
            let (a, b) = if i % 2 == 0 {
                let a = (self.store)(i)?;
                (a, (self.raw)(i)?)
            } else {
                let b = (self.raw)(i)?;
                ((self.store)(i)?, b)
            };
            if a.rows != b.rows {
                let name = self.name;
                return Err(
                    format!("{name}: store handled {} rows, raw {}", a.rows, b.rows).into(),
                );
            }
            rows = a.rows;
            s.push(a.ms);
            r.push(b.ms);
        }
        Ok(Line {
            bench: self.name,
            n: self.n,
            target: self.target,
            store_ms: median(s),
            raw_ms: median(r),
            rows: if self.per_call { self.reps } else { rows },
        })
    }
}

// ---------------------------------------------------------------------------
// Output.

struct Report {
    n: usize,
    lines: Vec<Line>,
    /// JSON lines of measurements that are not store-vs-baseline cases.
    notes: Vec<String>,
}

impl Report {
    /// Measures each case in turn and prints its JSON line.
    fn run(&mut self, cases: Vec<Case<'_>>) -> R<()> {
        for case in cases {
            eprintln!("bench: {}", case.name);
            let line = case.measure()?;
            println!(
                "{{\"bench\":\"{}\",\"n\":{},\"store_ms\":{:.4},\"raw_ms\":{:.4},\"ratio\":{:.3},\"rows\":{}}}",
                line.bench,
                line.n.unwrap_or(self.n),
                line.store_ms,
                line.raw_ms,
                line.store_ms / line.raw_ms,
                line.rows
            );
            self.lines.push(line);
        }
        Ok(())
    }

    /// Prints a JSON line that is not a case, and keeps it for the table.
    fn note(&mut self, line: String) {
        println!("{line}");
        self.notes.push(line);
    }

    /// The machine line, then (without `--json`) the table.
    fn finish(&self, json: bool) {
        let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
        let rss_mib = peak_rss_kib().unwrap_or(0) as f64 / 1024.0;
        let cpu = cpu_model();
        println!("{{\"peak_rss_mib\":{rss_mib:.1},\"cores\":{cores},\"cpu\":{cpu:?}}}");
        if json {
            return;
        }
        println!();
        println!("N = {}, {cores} cores, {cpu}", self.n);
        println!(
            "{:<19} {:>12} {:>12} {:>7} {:>9} {:>8}",
            "bench", "store ms", "raw ms", "ratio", "target", "rows"
        );
        for l in &self.lines {
            let target = l.target.map(|t| t.to_string()).unwrap_or_default();
            println!(
                "{:<19} {:>12.4} {:>12.4} {:>7.3} {:>9} {:>8}",
                l.bench,
                l.store_ms,
                l.raw_ms,
                l.store_ms / l.raw_ms,
                target,
                l.rows
            );
        }
        for note in &self.notes {
            println!("{note}");
        }
        println!("peak RSS {rss_mib:.1} MiB");
    }
}

/// The kernel's peak resident set size of this process, in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

// ---------------------------------------------------------------------------

struct Args {
    n: usize,
    json: bool,
    /// Only the `save_all` breakdown (`breakdown.rs`).
    breakdown: bool,
}

fn parse_args() -> R<Args> {
    let mut args = Args {
        n: 100_000,
        json: false,
        breakdown: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => args.json = true,
            "--breakdown" => args.breakdown = true,
            "--n" => {
                let v = it.next().ok_or("--n needs a number")?;
                args.n = v.replace('_', "").parse()?;
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: bench [--n N] [--json] [--breakdown]"
                )
                .into());
            }
        }
    }
    if args.n == 0 {
        return Err("--n must be at least 1".into());
    }
    Ok(args)
}
