//! The remote status history benches.
//!
//! `cost_report` and `cost_report_by_day`: a year of daily transitions for
//! N plugins (at most [`PLUGINS`]): every plugin has a remote resource, and
//! each day of 2025 one row at its own time of day says it is running
//! (45%), stopped (45%) or provisioning; its rate changes every 60 days and
//! 5% of the plugins have no known rate. The rows go in day by day, as an
//! app appends them, so the table's pages are as full as in real use. The
//! report covers the whole year (until 2026-01-01, so every run counts the
//! same hours). The baseline is hand-written rusqlite doing the same one
//! pass: the same ordered statement, chrono's RFC 3339 parser, a map per
//! group. Before timing, both must agree on every group.
//!
//! `history_size`: the history table's bytes on disk (SQLite's `dbstat`),
//! for the rows written.
//!
//! What the history costs a save is in `breakdown.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use plugin_metastore::{
    CloudProviderType, CostGrouping, CostQuery, CostReport, MetadataStore, PluginExecutionMode,
    PluginMetadata, RemoteResourceInfo,
};
use rusqlite::Connection;
use serde_json::json;

use crate::raw::RawStore;
use crate::{Case, R, timed};

/// The most plugins the history benches use (DESIGN: N = 10,000).
pub const PLUGINS: usize = 10_000;
/// Days of history.
const DAYS: i64 = 365;
/// Repetitions of each report.
const REPS: usize = 5;

/// The file with a year of history, and a store and a plain connection on
/// it.
pub struct HistoryFile {
    n: usize,
    path: PathBuf,
    store: MetadataStore,
    raw: Connection,
    rows: usize,
}

/// The first day of the history, and the report's end.
fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default() // 2025-01-01
}

fn until() -> DateTime<Utc> {
    start() + Duration::days(DAYS)
}

impl HistoryFile {
    /// `n` cloud plugins saved through the store, then their year of
    /// history in one transaction.
    pub fn build(dir: &Path, n: usize) -> R<Self> {
        let path = dir.join("history.db");
        let store = MetadataStore::open(&path)?;
        let plugins: Vec<_> = (0..n).map(cloud_plugin).collect();
        store.save_all(&plugins)?;
        let raw = RawStore::connection(&path)?;
        raw.execute_batch("PRAGMA cache_size = -1048576")?;
        let mut rows = 0;
        let tx = raw.unchecked_transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO remote_status_history \
                 (category, name, at, seq, provider, instance_id, status, cost_per_hour) \
                 VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7)",
            )?;
            for day in 0..DAYS {
                for (i, p) in plugins.iter().enumerate() {
                    let r = p.remote_resource.as_ref().ok_or("no resource")?;
                    let h = mix((i as u64) << 20 | day as u64);
                    let at = start()
                        + Duration::days(day)
                        + Duration::microseconds((mix(i as u64) % 86_400_000_000) as i64);
                    let status = match h % 100 {
                        0..45 => "running",
                        45..90 => "stopped",
                        _ => "provisioning",
                    };
                    let rate = r
                        .estimated_cost_per_hour
                        .map(|base| base + (day / 60) as f64 * 0.25);
                    insert.execute(rusqlite::params![
                        p.category,
                        p.name,
                        at.to_rfc3339_opts(SecondsFormat::Micros, true),
                        r.provider.as_str(),
                        r.instance_id,
                        status,
                        rate,
                    ])?;
                    rows += 1;
                }
            }
        }
        tx.commit()?;
        raw.execute_batch("PRAGMA cache_size = -65536; PRAGMA wal_checkpoint(TRUNCATE)")?;
        Ok(HistoryFile {
            n,
            path,
            store,
            raw,
            rows,
        })
    }

    /// `{"bench":"history_size",…}`: the history's bytes on disk.
    pub fn size_line(&self) -> R<String> {
        let bytes: i64 = self.raw.query_row(
            "SELECT sum(pgsize) FROM dbstat WHERE name = 'remote_status_history'",
            [],
            |r| r.get(0),
        )?;
        let file = std::fs::metadata(&self.path)?.len();
        Ok(format!(
            "{{\"bench\":\"history_size\",\"n\":{},\"rows\":{},\"history_bytes\":{bytes},\
             \"bytes_per_row\":{:.1},\"file_bytes\":{file}}}",
            self.n,
            self.rows,
            bytes as f64 / self.rows as f64
        ))
    }

    /// The store's report and the baseline's must agree on every group.
    fn check(&self, by: CostGrouping) -> R<()> {
        let ours = self.store.cost_report(&query(by))?;
        let theirs = raw_report(&self.raw, by)?;
        if ours.groups.len() != theirs.len() {
            return Err(format!(
                "{by}: {} groups, baseline {}",
                ours.groups.len(),
                theirs.len()
            )
            .into());
        }
        for (g, (key, running, unknown, cost)) in ours.groups.iter().zip(&theirs) {
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(1.0);
            let same = g.key == *key
                && close(g.running_hours, *running)
                && close(g.unknown_rate_hours, *unknown)
                && close(g.priced_cost_usd, *cost);
            if !same {
                return Err(format!(
                    "{by}: {g:?} but the baseline says {key} {running} {unknown} {cost}"
                )
                .into());
            }
        }
        Ok(())
    }
}

/// The report both sides compute: the year, grouped `by`.
fn query(by: CostGrouping) -> CostQuery {
    CostQuery::new().until(until()).by(by)
}

/// `cost_report` (by provider) and `cost_report_by_day`.
pub fn cases(file: &HistoryFile) -> R<Vec<Case<'_>>> {
    let mut cases = Vec::new();
    for (name, by) in [
        ("cost_report", CostGrouping::Provider),
        ("cost_report_by_day", CostGrouping::Day),
    ] {
        file.check(by)?;
        let q = query(by);
        let case = Case::new(
            name,
            None,
            REPS,
            move |_| timed(|| Ok(file.store.cost_report(&q)?), groups),
            move |_| timed(|| raw_report(&file.raw, by), Vec::len),
        );
        cases.push(case.with_n(file.n));
    }
    Ok(cases)
}

fn groups(r: &CostReport) -> usize {
    r.groups.len()
}

/// Plugin `i` of the history bench: a cloud GPU plugin on one of the
/// providers, running, 5% of them without a known rate.
fn cloud_plugin(i: usize) -> PluginMetadata {
    let h = mix(i as u64 ^ 0xC057);
    let mut p = PluginMetadata::new(format!("gpu_job_{i:05}"), "history", "GPU job", json!({}));
    p.execution_mode = PluginExecutionMode::CloudGpu;
    let providers = CloudProviderType::ALL;
    let mut r = RemoteResourceInfo::new(providers[(h % providers.len() as u64) as usize]);
    r.instance_id = Some(format!("i-{h:016x}"));
    r.status = "running".into();
    r.estimated_cost_per_hour = (h % 100 >= 5).then(|| (h % 3000) as f64 / 100.0 + 0.5);
    p.remote_resource = Some(r);
    p
}

/// splitmix64: a fixed, well-mixed function of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// One group of the baseline: `(key, running hours, unknown-rate hours,
/// priced cost)`.
type RawGroup = (String, f64, f64, f64);

/// The report by hand: one ordered pass, RFC 3339 parsed by chrono, a map
/// per group; then the burn rate, in the same read transaction.
fn raw_report(conn: &Connection, by: CostGrouping) -> R<Vec<RawGroup>> {
    let end = until().timestamp_micros();
    let tx = conn.unchecked_transaction()?;
    let mut acc: BTreeMap<String, (i64, i64, f64)> = BTreeMap::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT category, name, at, provider, status, cost_per_hour \
             FROM remote_status_history WHERE at < ?1 ORDER BY category, name, at, seq",
        )?;
        let mut rows = stmt.query([until().to_rfc3339_opts(SecondsFormat::Micros, true)])?;
        // (category, name, at µs, running, rate, provider) of the open row.
        let mut open: Option<(String, String, i64, bool, Option<f64>, String)> = None;
        while let Some(row) = rows.next()? {
            let (category, name): (String, String) = (row.get(0)?, row.get(1)?);
            let at = DateTime::parse_from_rfc3339(row.get_ref(2)?.as_str()?)?.timestamp_micros();
            if let Some((c, n, from, running, rate, provider)) = open.take() {
                let to = if c == category && n == name { at } else { end };
                if running {
                    add(&mut acc, by, &provider, from, to.min(end), rate);
                }
            }
            let status: String = row.get(4)?;
            open = Some((
                category,
                name,
                at,
                status == "running",
                row.get(5)?,
                row.get(3)?,
            ));
        }
        if let Some((_, _, from, true, rate, provider)) = open {
            add(&mut acc, by, &provider, from, end, rate);
        }
    }
    let _burn: (i64, f64) = tx.query_row(
        "SELECT count(*), total(r.estimated_cost_per_hour) FROM remote_resources r \
         JOIN plugins p ON p.id = r.plugin_id WHERE r.status = 'running'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    tx.commit()?;
    let hours = |us: i64| us as f64 / 3.6e9;
    Ok(acc
        .into_iter()
        .map(|(k, (run, unknown, cost))| (k, hours(run), hours(unknown), cost))
        .collect())
}

/// Adds the running interval `[from, to)` to its group(s).
fn add(
    acc: &mut BTreeMap<String, (i64, i64, f64)>,
    by: CostGrouping,
    provider: &str,
    mut from: i64,
    to: i64,
    rate: Option<f64>,
) {
    const DAY: i64 = 86_400_000_000;
    while from < to {
        let (key, piece_end) = match by {
            CostGrouping::Day => {
                let day = from.div_euclid(DAY);
                let date = DateTime::from_timestamp(day * 86_400, 0).unwrap_or_default();
                (date.format("%Y-%m-%d").to_string(), to.min((day + 1) * DAY))
            }
            _ => (provider.to_owned(), to),
        };
        let us = piece_end - from;
        let e = acc.entry(key).or_default();
        e.0 += us;
        match rate {
            Some(r) => e.2 += r * us as f64 / 3.6e9,
            None => e.1 += us,
        }
        from = piece_end;
    }
}
