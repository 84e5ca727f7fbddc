//! What a person sees: the `billed_intervals` view and the canned cost
//! queries of `datasette-metadata` give what `cost_report` gives on
//! generated histories; the views people open keep their columns and rows
//! and come in (category, name) order; the metadata describes the schema.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use plugin_metastore::{
    CloudProviderType, CostGroup, CostGrouping, CostQuery, MetadataStore, parse_time,
};
use rusqlite::Connection;
use rusqlite::types::Value;
use serde_json::Value as Json;
use support::{Rng, metastore_ok, migration_files, random_plugin, seeded};
use tempfile::TempDir;

/// Statuses of generated history rows: mostly billed, some that look
/// billed and are not.
const HISTORY_STATUSES: &[&str] = &[
    "running", "running", "running", "stopped", "Running", "pending", "removed",
];

/// The start of the generated histories.
fn base() -> DateTime<Utc> {
    parse_time("2026-10-28T00:00:00Z").unwrap()
}

/// The history row's timestamp text, as the store writes it.
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A store whose history holds random timelines for `plugins` plugins
/// (written straight into `remote_status_history`, as a person or another
/// tool could): 1 to 14 rows each, microsecond times from `base()` on over
/// about ten days (some rows at the same instant, told apart by `seq`),
/// any provider, unknown rates in about one row in six. With `end_idle`,
/// every timeline ends in a status that is not billed, so nothing runs
/// "now" and windows that end now are exact too.
fn generated(rng: &mut Rng, plugins: usize, end_idle: bool) -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("plugins.db");
    drop(MetadataStore::open(&path).unwrap());
    let mut conn = Connection::open(&path).unwrap();
    let tx = conn.transaction().unwrap();
    for i in 0..plugins {
        // A few categories and names that combine to the same unique id.
        let (category, name) = match i % 5 {
            0 => ("a_b".to_owned(), format!("c{i}")),
            1 => ("a".to_owned(), format!("b_c{}", i - 1)),
            _ => (format!("cat{}", i % 3), format!("p{i}")),
        };
        let mut at = base() + Duration::microseconds(rng.below(86_400_000_000) as i64);
        let mut seq = 0;
        let rows = 1 + rng.below(14);
        for k in 0..rows {
            let status = if end_idle && k + 1 == rows {
                "stopped"
            } else {
                *rng.pick(HISTORY_STATUSES)
            };
            let rate = (!rng.chance(17)).then(|| rng.below(1_000_000) as f64 / 1e4);
            let provider = rng.pick(CloudProviderType::ALL).as_str();
            tx.execute(
                "INSERT INTO remote_status_history \
                 (category, name, at, seq, provider, instance_id, status, cost_per_hour) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![
                    category,
                    name,
                    stamp(at),
                    seq,
                    provider,
                    format!("i-{i}"),
                    status,
                    rate
                ],
            )
            .unwrap();
            if rng.chance(10) {
                seq += 1;
            } else {
                seq = 0;
                at += Duration::microseconds(1 + rng.below(30 * 3_600_000_000) as i64);
            }
        }
    }
    tx.commit().unwrap();
    (dir, path)
}

/// The store at `db` through the library and through rusqlite, and the
/// canned queries of its Datasette document.
fn opened(db: &Path) -> (MetadataStore, Connection, BTreeMap<String, String>) {
    let store = MetadataStore::open(db).unwrap();
    let conn = Connection::open(db).unwrap();
    (store, conn, canned(db))
}

/// The canned queries of `plugin-metastore datasette-metadata` for the
/// store `db`, by name.
fn canned(db: &Path) -> BTreeMap<String, String> {
    let doc: Json = serde_json::from_str(&metastore_ok(db, &["datasette-metadata"])).unwrap();
    let queries = &doc["databases"]["plugins"]["queries"];
    queries
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, q)| (k.clone(), q["sql"].as_str().unwrap().to_owned()))
        .collect()
}

/// One group as the SQL gives it: key, running hours, cost, unknown-rate
/// hours, priced hours, priced cost.
type Figures = (String, f64, Option<f64>, f64, f64, f64);

fn figures(g: &CostGroup) -> Figures {
    (
        g.key.clone(),
        g.running_hours,
        g.cost_usd,
        g.unknown_rate_hours,
        g.priced_hours,
        g.priced_cost_usd,
    )
}

/// Runs the canned query `sql` with `:since` and `:until` (`""` = blank,
/// as Datasette passes an empty form field).
fn run_canned(conn: &Connection, sql: &str, since: &str, until: &str) -> Vec<Figures> {
    let mut stmt = conn.prepare(sql).unwrap();
    // column_name(i), not column_names(): the latter's type differs
    // across the rusqlite range the crate accepts.
    let names: Vec<String> = (0..stmt.column_count())
        .map(|i| stmt.column_name(i).unwrap().to_owned())
        .collect();
    let at = |n: &str| names.iter().position(|c| c == n).unwrap();
    let (hours, cost, unknown, priced, priced_cost) = (
        at("running_hours"),
        at("cost_usd"),
        at("unknown_rate_hours"),
        at("priced_hours"),
        at("priced_cost_usd"),
    );
    let mut rows = stmt
        .query(&[(":since", &since), (":until", &until)])
        .unwrap();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        out.push((
            r.get(0).unwrap(),
            r.get(hours).unwrap(),
            r.get(cost).unwrap(),
            r.get(unknown).unwrap(),
            r.get(priced).unwrap(),
            r.get(priced_cost).unwrap(),
        ));
    }
    out
}

/// Dollars agree to a relative 1e-9 (the sums add the same products in
/// another order) plus half a millionth (the canned queries round dollars
/// to six decimals); hours are exact (both add whole microseconds).
#[track_caller]
fn assert_same(sql: &[Figures], rust: &[Figures], context: &str) {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0) + 5e-7;
    assert_eq!(
        sql.len(),
        rust.len(),
        "{context}: groups\nsql  {sql:?}\nrust {rust:?}"
    );
    for (s, r) in sql.iter().zip(rust) {
        let same = s.0 == r.0
            && s.1 == r.1
            && s.3 == r.3
            && s.4 == r.4
            && match (s.2, r.2) {
                (Some(a), Some(b)) => close(a, b),
                (None, None) => true,
                _ => false,
            }
            && close(s.5, r.5);
        assert!(same, "{context}:\nsql  {s:?}\nrust {r:?}");
    }
}

fn report(
    store: &MetadataStore,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    by: CostGrouping,
) -> (Vec<Figures>, Figures) {
    let mut q = CostQuery::new().by(by);
    if let Some(s) = since {
        q = q.since(s);
    }
    if let Some(u) = until {
        q = q.until(u);
    }
    let r = store.cost_report(&q).unwrap();
    (r.groups.iter().map(figures).collect(), figures(&r.total))
}

/// The windows tried: whole seconds (the canned queries read their
/// parameters to the millisecond), inside, across and around the
/// histories; RFC 3339 times and plain dates.
fn windows(rng: &mut Rng) -> Vec<(Option<DateTime<Utc>>, DateTime<Utc>)> {
    let end = base() + Duration::days(30);
    let mut w = vec![
        (None, end),
        (
            Some(parse_time("2026-10-29").unwrap()),
            parse_time("2026-11-02").unwrap(),
        ),
        (
            Some(base() - Duration::days(3)),
            base() + Duration::hours(1),
        ),
    ];
    for _ in 0..6 {
        let a = base() + Duration::seconds(rng.below(12 * 86_400) as i64);
        let b = a + Duration::seconds(1 + rng.below(5 * 86_400) as i64);
        w.push((if rng.chance(20) { None } else { Some(a) }, b));
    }
    w
}

#[test]
fn the_canned_cost_queries_give_what_cost_report_gives_on_generated_histories() {
    let (seed, mut rng) = seeded();
    let (_dir, db) = generated(&mut rng, 40, false);
    let (store, conn, queries) = opened(&db);
    let mut compared = 0;
    for (since, until) in windows(&mut rng) {
        // A date where the time is midnight, as a person would type it.
        let text = |t: DateTime<Utc>| {
            if t.timestamp() % 86_400 == 0 {
                t.format("%Y-%m-%d").to_string()
            } else {
                t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            }
        };
        let since_text = since.map(text).unwrap_or_default();
        let until_text = text(until);
        for by in CostGrouping::ALL {
            let (rust, total) = report(&store, since, Some(until), *by);
            let sql = run_canned(
                &conn,
                &queries[&format!("cost_by_{by}")],
                &since_text,
                &until_text,
            );
            let context = format!("seed {seed}, by {by}, [{since_text}, {until_text})");
            assert_same(&sql, &rust, &context);
            compared += sql.len();
            // The groups add up to the total (hours exactly, as µs).
            let hours: f64 = sql.iter().map(|g| g.1).sum();
            assert!(
                (hours - total.1).abs() < 1e-6,
                "{context}: {hours} vs {}",
                total.1
            );
        }
    }
    assert!(
        compared > 50,
        "seed {seed}: only {compared} groups compared"
    );
}

#[test]
fn windows_ending_now_and_the_plain_view_sums_agree_when_nothing_runs_now() {
    let (seed, mut rng) = seeded();
    let (_dir, db) = generated(&mut rng, 30, true);
    let (store, conn, queries) = opened(&db);
    for by in CostGrouping::ALL {
        let (rust, _) = report(&store, None, None, *by);
        let sql = run_canned(&conn, &queries[&format!("cost_by_{by}")], "", "");
        assert_same(&sql, &rust, &format!("seed {seed}, by {by}, whole history"));
    }
    // The README's plain SQL over the view: per provider, no window.
    let mut stmt = conn
        .prepare(
            "SELECT provider, sum(hours), \
                    CASE WHEN count(*) = count(cost_usd) THEN sum(cost_usd) END \
             FROM billed_intervals WHERE status = 'running' AND hours > 0 \
             GROUP BY provider ORDER BY provider",
        )
        .unwrap();
    let plain: Vec<(String, f64, Option<f64>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let (rust, _) = report(&store, None, None, CostGrouping::Provider);
    assert_eq!(plain.len(), rust.len(), "seed {seed}");
    for (p, r) in plain.iter().zip(&rust) {
        assert_eq!(p.0, r.0, "seed {seed}");
        // Summing per-interval hours (floats) instead of microseconds.
        assert!(
            (p.1 - r.1).abs() < 1e-9 * r.1.max(1.0),
            "seed {seed}: {p:?} vs {r:?}"
        );
        match (p.2, r.2) {
            (Some(a), Some(b)) => assert!(
                (a - b).abs() < 1e-9 * b.max(1.0),
                "seed {seed}: {p:?} vs {r:?}"
            ),
            (a, b) => assert_eq!(a.is_none(), b.is_none(), "seed {seed}: {p:?} vs {r:?}"),
        }
    }
}

#[test]
fn billed_intervals_has_one_row_per_history_row_with_the_rules_of_cost() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("plugins.db");
    drop(MetadataStore::open(&db).unwrap());
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch(
        "INSERT INTO remote_status_history VALUES
         ('c', 'a', '2026-11-01T22:00:00.000000Z', 0, 'aws', 'i-1', 'running', 2.0),
         ('c', 'a', '2026-11-02T02:00:00.000001Z', 0, 'aws', 'i-1', 'running', NULL),
         ('c', 'a', '2026-11-02T02:00:00.000001Z', 1, 'aws', 'i-1', 'Running', NULL),
         ('c', 'a', '2026-11-02T04:00:00.000000Z', 0, 'gcp', 'i-2', 'stopped', 3.0),
         ('c', 'b', '2999-01-01T00:00:00.000000Z', 0, 'gcp', NULL, 'running', 1.0);",
    )
    .unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT unique_id, provider, status, started_at, ended_at, hours, cost_per_hour, cost_usd \
             FROM billed_intervals",
        )
        .unwrap();
    let rows: Vec<Vec<Value>> = stmt
        .query_map([], |r| (0..8).map(|i| r.get::<_, Value>(i)).collect())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let text = |s: &str| Value::Text(s.to_owned());
    let real = Value::Real;
    assert_eq!(rows.len(), 5);
    // 4 hours and a microsecond at $2.
    let h = (4.0 * 3_600_000_000.0 + 1.0) / 3_600_000_000.0;
    assert_eq!(
        rows[0],
        [
            text("c_a"),
            text("aws"),
            text("running"),
            text("2026-11-01T22:00:00.000000Z"),
            text("2026-11-02T02:00:00.000001Z"),
            real(h),
            real(2.0),
            real(2.0 * (4.0 * 3_600_000_000.0 + 1.0) / 3_600_000_000.0),
        ]
    );
    // Running at an unknown rate for 0 hours (the next row has the same
    // `at`): costs nothing.
    assert_eq!(rows[1][5], real(0.0));
    assert_eq!(rows[1][7], real(0.0));
    // 'Running' is not billed: 0 dollars though its rate is unknown.
    assert_eq!((&rows[2][2], &rows[2][7]), (&text("Running"), &real(0.0)));
    // The newest row runs to now.
    assert_eq!(rows[3][3], text("2026-11-02T04:00:00.000000Z"));
    assert!(matches!(&rows[3][4], Value::Text(t) if t.as_str() > "2026-12-01"));
    assert_eq!(rows[3][7], real(0.0));
    // A row dated in the future, the newest: 0 hours, $0.
    assert_eq!(
        (&rows[4][4], &rows[4][5], &rows[4][7]),
        (&text("2999-01-01T00:00:00.000000Z"), &real(0.0), &real(0.0))
    );
    // Running at an unknown rate for a while: cost unknown, never $0.
    conn.execute(
        "INSERT INTO remote_status_history VALUES ('c', 'a', '2026-11-02T05:00:00.000000Z', 0, 'aws', 'i-1', 'running', NULL)",
        [],
    )
    .unwrap();
    let cost: Option<f64> = conn
        .query_row(
            "SELECT cost_usd FROM billed_intervals WHERE unique_id = 'c_a' AND started_at LIKE '2026-11-02T05%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(cost, None);
}

#[test]
fn the_canned_cost_queries_refuse_a_value_that_is_not_a_time_by_giving_no_rows() {
    let mut rng = Rng::new(7);
    let (_dir, db) = generated(&mut rng, 5, false);
    let conn = Connection::open(&db).unwrap();
    let queries = canned(&db);
    assert!(!run_canned(&conn, &queries["cost_by_provider"], "", "").is_empty());
    assert!(run_canned(&conn, &queries["cost_by_provider"], "yesterday", "").is_empty());
    assert!(run_canned(&conn, &queries["cost_by_day"], "", "2026-13-45").is_empty());
}

/// Every row of `sql`, each as its values, and the column names.
fn rows_of(conn: &Connection, sql: &str) -> (Vec<String>, Vec<Vec<Value>>) {
    let mut stmt = conn.prepare(sql).unwrap();
    let names = (0..stmt.column_count())
        .map(|i| stmt.column_name(i).unwrap().to_owned())
        .collect();
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (names, rows)
}

/// The newest definition of view `name` in the migrations before
/// `before` (the `CREATE VIEW … ;` statement as written).
fn old_definition(name: &str, before: i64) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut found = None;
    for (version, file) in migration_files() {
        if version >= before {
            continue;
        }
        let text = std::fs::read_to_string(dir.join(format!("V{version}__{file}.sql"))).unwrap();
        let head = format!("CREATE VIEW {name} AS");
        if let Some(start) = text.find(&head) {
            let body = &text[start + head.len()..];
            let end = body.find(";\n").unwrap();
            found = Some(body[..end].to_owned());
        }
    }
    found.unwrap_or_else(|| panic!("no definition of {name} before V{before}"))
}

/// The views people open, and how each is ordered now: the columns of
/// its sort key.
const VIEWS: &[&str] = &[
    "plugin_overview",
    "active_resources",
    "remote_overview",
    "pid_identity",
    "remote_burn_rate",
    "recent_changes",
];

#[test]
fn the_people_views_keep_their_columns_and_rows_and_come_in_a_stable_order() {
    let (seed, mut rng) = seeded();
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("plugins.db");
    let store = MetadataStore::open(&db).unwrap();
    // Saved in random order, so insertion order is not (category, name).
    let mut plugins: Vec<_> = (0..60)
        .map(|i| {
            let category = ["zeta", "alpha", "mid", "a_b"][i % 4];
            random_plugin(&mut rng, category, &format!("n{}", (i * 37) % 61), i as u64)
        })
        .collect();
    for i in (1..plugins.len()).rev() {
        plugins.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for p in &plugins {
        store.save(p).unwrap();
    }
    let conn = Connection::open(&db).unwrap();
    // The views of this migration's predecessors, side by side.
    for view in VIEWS {
        let old = old_definition(view, 7);
        conn.execute_batch(&format!("CREATE TEMP VIEW old_{view} AS{old};"))
            .unwrap();
        let (new_cols, mut new_rows) = rows_of(&conn, &format!("SELECT * FROM {view}"));
        let (old_cols, mut old_rows) = rows_of(&conn, &format!("SELECT * FROM old_{view}"));
        assert_eq!(new_cols, old_cols, "{view}: columns");
        let ordered = new_rows.clone();
        let key = |r: &Vec<Value>| format!("{r:?}");
        new_rows.sort_by_key(key);
        old_rows.sort_by_key(key);
        assert_eq!(new_rows, old_rows, "seed {seed}: {view}: rows");
        // The order: the plugins' (category, name) order, as `list` gives.
        if new_cols.first().map(String::as_str) == Some("unique_id") {
            let list: Vec<String> = store
                .list()
                .unwrap()
                .iter()
                .map(|p| p.unique_id())
                .collect();
            let ids: Vec<String> = ordered
                .iter()
                .map(|r| match &r[0] {
                    Value::Text(t) => t.clone(),
                    other => panic!("{other:?}"),
                })
                .collect();
            let mut dedup = ids.clone();
            dedup.dedup();
            let expected: Vec<&String> = list.iter().filter(|id| dedup.contains(id)).collect();
            assert_eq!(
                dedup.iter().collect::<Vec<_>>(),
                expected,
                "seed {seed}: {view}: order"
            );
        }
    }
    let (_, feed) = rows_of(&conn, "SELECT seq FROM recent_changes");
    let seqs: Vec<i64> = feed
        .iter()
        .map(|r| match r[0] {
            Value::Integer(i) => i,
            _ => panic!(),
        })
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "recent_changes newest first: {seqs:?}"
    );
    assert!(!seqs.is_empty());
}

#[test]
fn the_datasette_metadata_describes_every_table_view_and_column_of_the_schema() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("store.db");
    drop(MetadataStore::open(&db).unwrap());
    let doc: Json = serde_json::from_str(&metastore_ok(&db, &["datasette-metadata"])).unwrap();
    // Named after the file, as Datasette names the database.
    let tables = doc["databases"]["store"]["tables"].as_object().unwrap();
    let conn = Connection::open(&db).unwrap();
    let (_, objects) = rows_of(
        &conn,
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite%' ORDER BY 1, p.cid",
    );
    let mut schema: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in objects {
        if let (Value::Text(t), Value::Text(c)) = (&r[0], &r[1]) {
            schema.entry(t.clone()).or_default().push(c.clone());
        }
    }
    let described: BTreeMap<String, Vec<String>> = tables
        .iter()
        .map(|(t, m)| {
            (
                t.clone(),
                m["columns"].as_object().unwrap().keys().cloned().collect(),
            )
        })
        .collect();
    // Every table and view described; the columns that need words (not
    // every column: Datasette lists the descriptions above the rows), each
    // of them a column of the schema.
    assert_eq!(
        described.keys().collect::<Vec<_>>(),
        schema.keys().collect::<Vec<_>>(),
        "described vs the schema's tables and views"
    );
    for (t, columns) in &described {
        for c in columns {
            assert!(
                schema[t].contains(c),
                "{t}.{c} is described but not in the schema"
            );
        }
    }
    // Every rate and dollar column says its unit.
    for (t, columns) in &schema {
        for c in columns {
            let unit = if c.contains("per_hour") {
                "$/h"
            } else if c.contains("usd") {
                "$"
            } else if c == "hours" {
                "(h)"
            } else {
                continue;
            };
            let text = tables[t]["columns"][c].as_str().unwrap_or_default();
            assert!(text.contains(unit), "{t}.{c}: {text:?} should say {unit}");
        }
    }
    for (t, m) in tables {
        assert!(!m["title"].as_str().unwrap().is_empty(), "{t}");
        assert!(!m["description"].as_str().unwrap().is_empty(), "{t}");
        let hidden = m["hidden"].as_bool().unwrap_or(false);
        let internal =
            ["change_feed", "change_log", "refinery_schema_history"].contains(&t.as_str());
        assert_eq!(hidden, internal, "{t}: hidden");
    }
    assert_eq!(tables["plugins"]["label_column"], "name");
    let version = MetadataStore::open(&db).unwrap().schema_version().unwrap();
    assert!(
        doc["description"]
            .as_str()
            .unwrap()
            .contains(&format!("schema version {version}"))
    );
    // --name names another database; an empty one is refused.
    let named: Json = serde_json::from_str(&metastore_ok(
        &db,
        &["datasette-metadata", "--name", "live"],
    ))
    .unwrap();
    assert!(named["databases"]["live"]["tables"].is_object());
    let out = support::metastore(&db)
        .args(["datasette-metadata", "--name", ""])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--name"),
        "{out:?}"
    );
}
