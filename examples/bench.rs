//! Benchmark: the store's public API against hand-written rusqlite doing the
//! same work on the same schema, in the same process.
//!
//! ```sh
//! cargo run --release --example bench -- [--n N] [--json]
//! ```
//!
//! Builds a deterministic data set of N plugins (default 100,000) and times
//! each operation twice: through [`MetadataStore`], and through a baseline
//! that a careful engineer would write by hand with rusqlite (cached
//! prepared statements, one transaction wherever the store uses one, the
//! same upserts, the same one-pass list, the same connection pragmas). The
//! two run on separate files with the same schema (the baseline's file is
//! created by opening a `MetadataStore` on it) and alternate, so machine
//! drift hits both. Every figure is a median.
//!
//! Output: one JSON line per operation,
//! `{"bench":"save_all","n":100000,"store_ms":…,"raw_ms":…,"ratio":…,"rows":…}`
//! (`ratio` = store / raw; `rows` = plugins returned or written, or for the
//! per-call benches `save_one`, `get` and `open_existing` the number of
//! calls timed, whose median is shown), then one line with the peak
//! resident memory of the run and the core count. Without `--json` a table
//! follows.
//!
//! The targets (issue 6): `save_all` ≤ 1.25, `save_one` and `get` ≤ 1.3,
//! `list_all` ≤ 1.25, the three queries ≤ 1.3, `open_existing` ≤ 2 ms.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use plugin_metastore::{
    CloudProviderType, MetadataStore, PluginExecutionMode, PluginMetadata, PluginQuery,
    RemoteResourceInfo,
};
use rusqlite::types::ToSql;
use rusqlite::{Connection, Row, Rows, Transaction, TransactionBehavior, params};
use serde_json::json;

type R<T> = std::result::Result<T, Box<dyn Error>>;

// ---------------------------------------------------------------------------
// Deterministic data.

/// xorshift64*: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const CATEGORIES: &[&str] = &[
    "transcription",
    "translation",
    "diarization",
    "summarization",
    "finetuning",
    "embedding",
    "vision",
    "speech_synthesis",
    "ocr",
    "retrieval",
    "classification",
    "audio_cleanup",
];

const WORDS: &[&str] = &[
    "whisper", "voxtral", "llama", "mistral", "bert", "clip", "sam", "yolo", "t5", "bark", "xtts",
    "pyannote", "nemo", "faster", "tiny", "large", "turbo", "distil",
];

const STATUSES: &[&str] = &["stopped", "provisioning", "terminated", "pending"];
const REGIONS: &[&str] = &["us-west-2", "us-east-1", "eu-central-1", "asia-east1"];
const GPUS: &[&str] = &["A100", "H100", "V100", "L4", "T4"];

fn make_plugin(rng: &mut Rng, i: usize) -> PluginMetadata {
    let (a, b) = (rng.pick(WORDS), rng.pick(WORDS));
    let category = rng.pick(CATEGORIES);
    // A realistic ~150-byte JSON schema.
    let config = json!({
        "type": "object",
        "properties": {
            "device": {"type": "string", "enum": ["cpu", "cuda"], "default": "cpu"},
            "batch_size": {"type": "integer", "minimum": 1, "default": 1 + rng.below(64)}
        }
    });
    let mut p = PluginMetadata::new(
        format!("{a}_{b}_{i:06}"),
        category,
        format!("{} {} model #{i}", capitalize(a), capitalize(b)),
        config,
    );
    if rng.chance(70) {
        p.description = Some(format!(
            "{} plugin built on {a} and {b}; runs batched inference and reports progress.",
            capitalize(category)
        ));
    }
    if rng.chance(80) {
        p.version = Some(format!(
            "{}.{}.{}",
            rng.below(4),
            rng.below(20),
            rng.below(10)
        ));
    }
    p.is_configured = rng.chance(50);
    p.execution_mode = PluginExecutionMode::ALL[rng.below(PluginExecutionMode::ALL.len())];
    if rng.chance(30) {
        let base = 1000 + rng.below(4_000_000) as u32;
        p.spawned_pids = (0..1 + rng.below(3) as u32).map(|k| base + k).collect();
        p.manages_child_processes = true;
    }
    match rng.below(100) {
        0..10 => p.container_id = Some(format!("{:012x}", rng.next() >> 16)),
        10..15 => p.container_id = Some(String::new()),
        _ => {}
    }
    if p.execution_mode == PluginExecutionMode::CondaEnv {
        p.conda_env_name = Some(format!("{a}-env"));
    }
    if rng.chance(30) {
        let provider = CloudProviderType::ALL[rng.below(CloudProviderType::ALL.len())];
        let mut r = RemoteResourceInfo::new(provider);
        r.status = if rng.below(3) == 0 {
            "running".to_owned()
        } else {
            rng.pick(STATUSES).to_owned()
        };
        r.region = Some(rng.pick(REGIONS).to_owned());
        r.instance_id = Some(format!("i-{:016x}", rng.next()));
        r.resource_type = Some(format!("gpu.{}x", 1 + rng.below(8)));
        r.gpu_count = 1 + rng.below(8) as u32;
        r.gpu_type = Some(rng.pick(GPUS).to_owned());
        r.estimated_cost_per_hour = Some((rng.below(5000) as f64) / 100.0);
        if rng.chance(50) {
            r.ssh_host = Some(format!(
                "10.{}.{}.{}",
                rng.below(256),
                rng.below(256),
                rng.below(256)
            ));
        }
        r.metadata.insert("owner".into(), json!("bench"));
        r.metadata.insert("job".into(), json!(i));
        p.remote_resource = Some(r);
        p.manages_external_resources = true;
    }
    p
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A changed copy of a saved plugin, for `save_one`: new title and version,
/// and every fourth one gains or loses its PIDs and remote resource.
fn changed(rng: &mut Rng, p: &PluginMetadata, k: usize) -> PluginMetadata {
    let mut p = p.clone();
    p.title = format!("{} (rev {k})", p.title);
    p.version = Some(format!("2.{k}.0"));
    if k.is_multiple_of(4) {
        if p.spawned_pids.is_empty() {
            p.spawned_pids = vec![5_000_000 + k as u32, 5_000_001 + k as u32];
        } else {
            p.spawned_pids.clear();
        }
        if p.remote_resource.is_some() {
            p.remote_resource = None;
        } else {
            let mut r = RemoteResourceInfo::new(CloudProviderType::Gcp);
            r.status = "running".into();
            r.region = Some(rng.pick(REGIONS).to_owned());
            p.remote_resource = Some(r);
        }
    }
    p
}

// ---------------------------------------------------------------------------
// The hand-written rusqlite baseline.

/// Opens a connection configured as the store configures its own (WAL,
/// `synchronous=NORMAL`, foreign keys, busy timeout, WAL size limit, 64 MiB
/// page cache), so the ratios measure the store's code, not its pragmas.
fn raw_open(path: &Path) -> R<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -65536;",
    )?;
    conn.pragma_update(None, "journal_size_limit", 8 * 1024 * 1024)?;
    Ok(conn)
}

fn raw_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

const RAW_UPSERT_PLUGIN: &str = "INSERT INTO plugins (category, name, title, config_schema, \
         description, version, is_configured, execution_mode, manages_child_processes, \
         manages_external_resources, container_id, conda_env_name, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13) \
     ON CONFLICT (category, name) DO UPDATE SET title = excluded.title, \
         config_schema = excluded.config_schema, description = excluded.description, \
         version = excluded.version, is_configured = excluded.is_configured, \
         execution_mode = excluded.execution_mode, \
         manages_child_processes = excluded.manages_child_processes, \
         manages_external_resources = excluded.manages_external_resources, \
         container_id = excluded.container_id, conda_env_name = excluded.conda_env_name, \
         updated_at = excluded.updated_at \
     RETURNING id";

const RAW_UPSERT_REMOTE: &str = "INSERT INTO remote_resources (plugin_id, provider, region, \
         instance_id, job_id, endpoint_url, ssh_host, ssh_port, status, resource_type, gpu_count, \
         gpu_type, estimated_cost_per_hour, metadata) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
     ON CONFLICT (plugin_id) DO UPDATE SET provider = excluded.provider, \
         region = excluded.region, instance_id = excluded.instance_id, \
         job_id = excluded.job_id, endpoint_url = excluded.endpoint_url, \
         ssh_host = excluded.ssh_host, ssh_port = excluded.ssh_port, status = excluded.status, \
         resource_type = excluded.resource_type, gpu_count = excluded.gpu_count, \
         gpu_type = excluded.gpu_type, estimated_cost_per_hour = excluded.estimated_cost_per_hour, \
         metadata = excluded.metadata";

/// Upsert plugin, replace its PIDs, upsert or delete its remote resource.
fn raw_save_in(conn: &Connection, p: &PluginMetadata, at: &str) -> R<()> {
    let config = serde_json::to_string(&p.config_schema)?;
    let id: i64 = conn.prepare_cached(RAW_UPSERT_PLUGIN)?.query_row(
        params![
            p.category,
            p.name,
            p.title,
            config,
            p.description,
            p.version,
            p.is_configured,
            p.execution_mode.as_str(),
            p.manages_child_processes,
            p.manages_external_resources,
            p.container_id,
            p.conda_env_name,
            at,
        ],
        |r| r.get(0),
    )?;
    conn.prepare_cached("DELETE FROM plugin_pids WHERE plugin_id = ?1")?
        .execute([id])?;
    if !p.spawned_pids.is_empty() {
        let mut ins = conn.prepare_cached(
            "INSERT INTO plugin_pids (plugin_id, position, pid) VALUES (?1, ?2, ?3)",
        )?;
        for (pos, pid) in p.spawned_pids.iter().enumerate() {
            ins.execute(params![id, pos as i64, pid])?;
        }
    }
    match &p.remote_resource {
        Some(r) => {
            let metadata = serde_json::to_string(&r.metadata)?;
            conn.prepare_cached(RAW_UPSERT_REMOTE)?.execute(params![
                id,
                r.provider.as_str(),
                r.region,
                r.instance_id,
                r.job_id,
                r.endpoint_url,
                r.ssh_host,
                r.ssh_port,
                r.status,
                r.resource_type,
                r.gpu_count,
                r.gpu_type,
                r.estimated_cost_per_hour,
                metadata,
            ])?;
        }
        None => {
            conn.prepare_cached("DELETE FROM remote_resources WHERE plugin_id = ?1")?
                .execute([id])?;
        }
    }
    Ok(())
}

fn raw_save_all(conn: &mut Connection, plugins: &[PluginMetadata]) -> R<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let at = raw_now();
    for p in plugins {
        raw_save_in(&tx, p, &at)?;
    }
    tx.commit()?;
    Ok(())
}

fn raw_save(conn: &mut Connection, p: &PluginMetadata) -> R<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    raw_save_in(&tx, p, &raw_now())?;
    tx.commit()?;
    Ok(())
}

const RAW_SELECT: &str = "SELECT p.id, p.category, p.name, p.title, p.config_schema, \
     p.description, p.version, p.is_configured, p.execution_mode, p.manages_child_processes, \
     p.manages_external_resources, p.container_id, p.conda_env_name, \
     r.plugin_id, r.provider, r.region, r.instance_id, r.job_id, r.endpoint_url, r.ssh_host, \
     r.ssh_port, r.status, r.resource_type, r.gpu_count, r.gpu_type, \
     r.estimated_cost_per_hour, r.metadata \
     FROM plugins p LEFT JOIN remote_resources r ON r.plugin_id = p.id";

fn bad(what: &str) -> Box<dyn Error> {
    format!("bad {what}").into()
}

/// The straightforward decoder: `row.get` for every column, JSON parsed
/// straight from the borrowed text.
fn raw_decode(row: &Row<'_>) -> R<(i64, PluginMetadata)> {
    let id: i64 = row.get(0)?;
    let remote = match row.get::<_, Option<i64>>(13)? {
        None => None,
        Some(_) => Some(RemoteResourceInfo {
            provider: row.get_ref(14)?.as_str()?.parse()?,
            region: row.get(15)?,
            instance_id: row.get(16)?,
            job_id: row.get(17)?,
            endpoint_url: row.get(18)?,
            ssh_host: row.get(19)?,
            ssh_port: row.get(20)?,
            status: row.get(21)?,
            resource_type: row.get(22)?,
            gpu_count: row.get(23)?,
            gpu_type: row.get(24)?,
            estimated_cost_per_hour: row.get(25)?,
            metadata: serde_json::from_str(row.get_ref(26)?.as_str()?)?,
        }),
    };
    let config: serde_json::Value = serde_json::from_str(row.get_ref(4)?.as_str()?)?;
    if !config.is_object() {
        return Err(bad("config_schema"));
    }
    Ok((
        id,
        PluginMetadata {
            category: row.get(1)?,
            name: row.get(2)?,
            title: row.get(3)?,
            config_schema: config,
            description: row.get(5)?,
            version: row.get(6)?,
            is_configured: row.get(7)?,
            execution_mode: row.get_ref(8)?.as_str()?.parse()?,
            manages_child_processes: row.get(9)?,
            manages_external_resources: row.get(10)?,
            spawned_pids: Vec::new(),
            container_id: row.get(11)?,
            conda_env_name: row.get(12)?,
            remote_resource: remote,
        },
    ))
}

/// A filtered list, hand-written: the plugins (joined with their remote
/// resources) and their PIDs, two statements in the same order.
struct RawQuery {
    plugins: String,
    pids: String,
}

impl RawQuery {
    fn new(filter: &str) -> Self {
        RawQuery {
            plugins: format!("{RAW_SELECT} {filter} ORDER BY p.category, p.name"),
            pids: format!(
                "SELECT pp.plugin_id, pp.pid FROM plugins p \
                 JOIN plugin_pids pp ON pp.plugin_id = p.id \
                 {filter} ORDER BY p.category, p.name, pp.position"
            ),
        }
    }
}

const RAW_ACTIVE: &str = "WHERE p.id IN (SELECT plugin_id FROM plugin_pids \
     UNION ALL SELECT id FROM plugins WHERE container_id > '' \
     UNION ALL SELECT plugin_id FROM remote_resources WHERE status = 'running')";

fn next_pid(rows: &mut Rows<'_>) -> R<Option<(i64, u32)>> {
    Ok(match rows.next()? {
        Some(row) => Some((row.get(0)?, row.get(1)?)),
        None => None,
    })
}

/// Streams the plugins of `q` to `f`, one read transaction, merging the
/// PIDs in as they go.
fn raw_each(
    conn: &Connection,
    q: &RawQuery,
    args: &[&dyn ToSql],
    mut f: impl FnMut(PluginMetadata),
) -> R<()> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Deferred)?;
    {
        let mut plugin_stmt = tx.prepare_cached(&q.plugins)?;
        let mut pid_stmt = tx.prepare_cached(&q.pids)?;
        let mut rows = plugin_stmt.query(args)?;
        let mut pids = pid_stmt.query(args)?;
        let mut next = next_pid(&mut pids)?;
        while let Some(row) = rows.next()? {
            let (id, mut p) = raw_decode(row)?;
            while let Some((owner, pid)) = next {
                if owner != id {
                    break;
                }
                p.spawned_pids.push(pid);
                next = next_pid(&mut pids)?;
            }
            f(p);
        }
    }
    tx.commit()?;
    Ok(())
}

fn raw_list(conn: &Connection, q: &RawQuery, args: &[&dyn ToSql]) -> R<Vec<PluginMetadata>> {
    let mut out = Vec::new();
    raw_each(conn, q, args, |p| out.push(p))?;
    Ok(out)
}

fn raw_get(conn: &Connection, sql: &str, category: &str, name: &str) -> R<Option<PluginMetadata>> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Deferred)?;
    let found = {
        let mut stmt = tx.prepare_cached(sql)?;
        let mut rows = stmt.query([category, name])?;
        match rows.next()? {
            None => None,
            Some(row) => {
                let (id, mut p) = raw_decode(row)?;
                let mut pids = tx.prepare_cached(
                    "SELECT pid FROM plugin_pids WHERE plugin_id = ?1 ORDER BY position",
                )?;
                let mut pid_rows = pids.query([id])?;
                while let Some(r) = pid_rows.next()? {
                    p.spawned_pids.push(r.get(0)?);
                }
                Some(p)
            }
        }
    };
    tx.commit()?;
    Ok(found)
}

fn raw_count_active(conn: &Connection) -> R<u64> {
    let n: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM plugins p {RAW_ACTIVE}"))?
        .query_row([], |r| r.get(0))?;
    Ok(n as u64)
}

// ---------------------------------------------------------------------------
// Timing.

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn timed<T>(f: impl FnOnce() -> R<T>) -> R<(f64, T)> {
    let start = Instant::now();
    let out = f()?;
    Ok((ms(start.elapsed()), out))
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

struct Line {
    bench: &'static str,
    store_ms: f64,
    raw_ms: f64,
    rows: usize,
}

/// Runs `store` and `raw` `reps` times each, alternating which goes first;
/// each returns its own time in ms and the rows it handled, which must
/// agree.
fn pair(
    bench: &'static str,
    reps: usize,
    mut store: impl FnMut() -> R<(f64, usize)>,
    mut raw: impl FnMut() -> R<(f64, usize)>,
) -> R<Line> {
    let (mut s, mut r) = (Vec::new(), Vec::new());
    let mut rows = None;
    for i in 0..reps {
        let (a, b) = if i % 2 == 0 {
            let a = store()?;
            (a, raw()?)
        } else {
            let b = raw()?;
            (store()?, b)
        };
        if a.1 != b.1 {
            return Err(format!("{bench}: store handled {} rows, raw {}", a.1, b.1).into());
        }
        rows = Some(a.1);
        s.push(a.0);
        r.push(b.0);
    }
    Ok(Line {
        bench,
        store_ms: median(s),
        raw_ms: median(r),
        rows: rows.unwrap_or(0),
    })
}

// ---------------------------------------------------------------------------

struct Args {
    n: usize,
    json: bool,
}

fn parse_args() -> R<Args> {
    let mut args = Args {
        n: 100_000,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => args.json = true,
            "--n" => {
                let v = it.next().ok_or("--n needs a number")?;
                args.n = v.replace('_', "").parse()?;
            }
            other => {
                return Err(
                    format!("unknown argument {other:?}; usage: bench [--n N] [--json]").into(),
                );
            }
        }
    }
    if args.n == 0 {
        return Err("--n must be at least 1".into());
    }
    Ok(args)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

fn emit(line: &Line, n: usize) {
    let ratio = line.store_ms / line.raw_ms;
    let text = format!(
        "{{\"bench\":\"{}\",\"n\":{n},\"store_ms\":{:.4},\"raw_ms\":{:.4},\"ratio\":{:.3},\"rows\":{}}}",
        line.bench, line.store_ms, line.raw_ms, ratio, line.rows
    );
    println!("{text}");
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

fn run() -> R<()> {
    let args = parse_args()?;
    let n = args.n;
    let dir = tempfile::tempdir()?;
    let progress = |what: &str| eprintln!("bench: {what}");

    progress(&format!("generating {n} plugins"));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let plugins: Vec<PluginMetadata> = (0..n).map(|i| make_plugin(&mut rng, i)).collect();
    let mut table = Vec::new();
    let mut out = |line: Line| {
        emit(&line, n);
        table.push(line);
    };

    // save_all: all N into an empty file, one call. Opening the file and
    // closing it (the WAL checkpoint) are not timed.
    progress("save_all");
    let reps = if n >= 50_000 { 5 } else { 7 };
    let (mut s_rep, mut r_rep) = (0, 0);
    let line = pair(
        "save_all",
        reps,
        || {
            s_rep += 1;
            let path = dir.path().join(format!("save-all-store-{s_rep}.db"));
            let store = MetadataStore::open(&path)?;
            let (t, ()) = timed(|| Ok(store.save_all(&plugins)?))?;
            drop(store);
            remove_db(&path);
            Ok((t, n))
        },
        || {
            r_rep += 1;
            let path = dir.path().join(format!("save-all-raw-{r_rep}.db"));
            drop(MetadataStore::open(&path)?);
            let mut conn = raw_open(&path)?;
            let (t, ()) = timed(|| raw_save_all(&mut conn, &plugins))?;
            drop(conn);
            remove_db(&path);
            Ok((t, n))
        },
    )?;
    out(line);

    // The filled files every later bench works on.
    let store_path = dir.path().join("store.db");
    let raw_path = dir.path().join("raw.db");
    drop(MetadataStore::open(&raw_path)?);
    let store = MetadataStore::open(&store_path)?;
    store.save_all(&plugins)?;
    let mut raw = raw_open(&raw_path)?;
    raw_save_all(&mut raw, &plugins)?;

    // save_one: single saves (each its own transaction) into the filled
    // store; median per save.
    progress("save_one");
    const CALLS: usize = 2000;
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let changes: Vec<PluginMetadata> = (0..CALLS)
        .map(|k| {
            let i = rng.below(n);
            changed(&mut rng, &plugins[i], k)
        })
        .collect();
    let mut k = 0;
    let mut j = 0;
    let line = pair(
        "save_one",
        CALLS,
        || {
            let p = &changes[k];
            k += 1;
            let (t, ()) = timed(|| Ok(store.save(p)?))?;
            Ok((t, CALLS))
        },
        || {
            let p = &changes[j];
            j += 1;
            let (t, ()) = timed(|| raw_save(&mut raw, p))?;
            Ok((t, CALLS))
        },
    )?;
    out(line);

    // get: by key, median per call.
    progress("get");
    let keys: Vec<(&str, &str)> = (0..CALLS)
        .map(|_| {
            let p = &plugins[rng.below(n)];
            (p.category.as_str(), p.name.as_str())
        })
        .collect();
    let get_sql = format!("{RAW_SELECT} WHERE p.category = ?1 AND p.name = ?2");
    let (mut k, mut j) = (0, 0);
    let line = pair(
        "get",
        CALLS,
        || {
            let (c, nm) = keys[k];
            k += 1;
            let (t, found) = timed(|| Ok(store.get(c, nm)?))?;
            found.ok_or("store: not found")?;
            Ok((t, CALLS))
        },
        || {
            let (c, nm) = keys[j];
            j += 1;
            let (t, found) = timed(|| raw_get(&raw, &get_sql, c, nm))?;
            found.ok_or("raw: not found")?;
            Ok((t, CALLS))
        },
    )?;
    out(line);

    // The baseline must return exactly what the store returns.
    let all = RawQuery::new("");
    let everything = PluginQuery::new();
    {
        let want = raw_list(&raw, &all, &[])?;
        if want.len() != n {
            return Err(format!("listed {} of {n} plugins", want.len()).into());
        }
        let mut at = 0;
        store.for_each(&everything, |p| {
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
    }

    let list_reps = 7;
    progress("list_all");
    let line = pair(
        "list_all",
        list_reps,
        || {
            let (t, v) = timed(|| Ok(store.list()?))?;
            Ok((t, v.len()))
        },
        || {
            let (t, v) = timed(|| raw_list(&raw, &all, &[]))?;
            Ok((t, v.len()))
        },
    )?;
    out(line);

    progress("for_each_all");
    let line = pair(
        "for_each_all",
        list_reps,
        || {
            let mut rows = 0;
            let (t, ()) = timed(|| {
                Ok(store.for_each(&everything, |p| {
                    rows += usize::from(!p.name.is_empty());
                    Ok(())
                })?)
            })?;
            Ok((t, rows))
        },
        || {
            let mut rows = 0;
            let (t, ()) =
                timed(|| raw_each(&raw, &all, &[], |p| rows += usize::from(!p.name.is_empty())))?;
            Ok((t, rows))
        },
    )?;
    out(line);

    let query_reps = 11;
    let by_mode = RawQuery::new("WHERE p.execution_mode = ?1");
    progress("query_mode");
    let line = pair(
        "query_mode",
        query_reps,
        || {
            let (t, v) =
                timed(|| Ok(store.find_by_execution_mode(PluginExecutionMode::CloudGpu)?))?;
            Ok((t, v.len()))
        },
        || {
            let (t, v) = timed(|| raw_list(&raw, &by_mode, &[&"cloud_gpu"]))?;
            Ok((t, v.len()))
        },
    )?;
    out(line);

    let by_provider =
        RawQuery::new("WHERE p.id IN (SELECT plugin_id FROM remote_resources WHERE provider = ?1)");
    progress("query_provider");
    let line = pair(
        "query_provider",
        query_reps,
        || {
            let (t, v) = timed(|| Ok(store.find_by_provider(CloudProviderType::Aws)?))?;
            Ok((t, v.len()))
        },
        || {
            let (t, v) = timed(|| raw_list(&raw, &by_provider, &[&"aws"]))?;
            Ok((t, v.len()))
        },
    )?;
    out(line);

    let active = RawQuery::new(RAW_ACTIVE);
    progress("query_active");
    let line = pair(
        "query_active",
        query_reps,
        || {
            let (t, v) = timed(|| Ok(store.find_active()?))?;
            Ok((t, v.len()))
        },
        || {
            let (t, v) = timed(|| raw_list(&raw, &active, &[]))?;
            Ok((t, v.len()))
        },
    )?;
    out(line);

    progress("count_active");
    let active_query = PluginQuery::new().active(true);
    let line = pair(
        "count_active",
        query_reps,
        || {
            let (t, c) = timed(|| Ok(store.count(&active_query)?))?;
            Ok((t, c as usize))
        },
        || {
            let (t, c) = timed(|| raw_count_active(&raw))?;
            Ok((t, c as usize))
        },
    )?;
    out(line);

    // open_existing: open a current file (pragmas + migration check) while
    // the long-lived connections above stay open, as in an app.
    progress("open_existing");
    const OPENS: usize = 300;
    let line = pair(
        "open_existing",
        OPENS,
        || {
            let (t, s) = timed(|| Ok(MetadataStore::open(&store_path)?))?;
            drop(s);
            Ok((t, OPENS))
        },
        || {
            let (t, c) = timed(|| raw_open(&raw_path))?;
            drop(c);
            Ok((t, OPENS))
        },
    )?;
    out(line);

    drop(store);
    drop(raw);

    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    let rss = peak_rss_kib().unwrap_or(0);
    println!(
        "{{\"peak_rss_mib\":{:.1},\"cores\":{cores},\"cpu\":{:?}}}",
        rss as f64 / 1024.0,
        cpu_model()
    );

    if !args.json {
        println!();
        println!("N = {n}, {cores} cores, {}", cpu_model());
        println!(
            "{:<15} {:>12} {:>12} {:>7} {:>8}",
            "bench", "store ms", "raw ms", "ratio", "rows"
        );
        for l in &table {
            println!(
                "{:<15} {:>12.4} {:>12.4} {:>7.3} {:>8}",
                l.bench,
                l.store_ms,
                l.raw_ms,
                l.store_ms / l.raw_ms,
                l.rows
            );
        }
        println!("peak RSS {:.1} MiB", rss as f64 / 1024.0);
    }
    Ok(())
}
