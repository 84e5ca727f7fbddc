//! Unit tests of the repository that need its connection: statement
//! counts, and a disk that fills up mid-save (`max_page_count` is a
//! per-connection limit, so only a test inside the crate can set it).

use std::cell::Cell;

use serde_json::json;

use super::*;
use crate::model::{CloudProviderType, PluginMetadata, RemoteResourceInfo};
use crate::query::PluginQuery;
use crate::{Error, StoreOptions};

thread_local! {
    static STATEMENTS: Cell<usize> = const { Cell::new(0) };
}

// A trigger's statements are reported with a leading `--` comment; they
// are not counted.
fn count_statement(sql: &str) {
    if !sql.starts_with("--") {
        STATEMENTS.with(|n| n.set(n.get() + 1));
    }
}

/// How many statements SQLite started while `f` ran.
///
/// rusqlite below 0.41 (0.32 has no `trace_v2`) offers the legacy `trace`
/// hook (deprecated from 0.33); 0.41 replaced both with a `trace_v2` taking
/// a closure. `build.rs` sets `rusqlite_legacy_trace` from the lock file.
#[cfg(rusqlite_legacy_trace)]
#[allow(deprecated)]
fn statements_run(store: &mut MetadataStore, f: impl FnOnce(&MetadataStore)) -> usize {
    store.conn.trace(Some(count_statement));
    STATEMENTS.with(|n| n.set(0));
    f(store);
    store.conn.trace(None);
    STATEMENTS.with(Cell::get)
}

/// How many statements SQLite started while `f` ran.
#[cfg(not(rusqlite_legacy_trace))]
fn statements_run(store: &mut MetadataStore, f: impl FnOnce(&MetadataStore)) -> usize {
    use rusqlite::trace::{TraceEvent, TraceEventCodes};
    let hook = |event: TraceEvent<'_>| {
        if let TraceEvent::Stmt(_, sql) = event {
            count_statement(sql);
        }
    };
    store
        .conn
        .trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(hook))
        .unwrap();
    STATEMENTS.with(|n| n.set(0));
    f(store);
    store
        .conn
        .trace_v2(TraceEventCodes::empty(), None::<fn(TraceEvent<'_>)>)
        .unwrap();
    STATEMENTS.with(Cell::get)
}

/// An in-memory store holding [`plugins`]`(n)`.
fn filled(n: usize) -> MetadataStore {
    let store = MetadataStore::open_in_memory().unwrap();
    store.save_all(&plugins(n)).unwrap();
    store
}

/// Stores of 1, 10 and 1000 plugins ([`filled`]), with their size: what a
/// fixed-cost test compares.
fn growing_stores() -> impl Iterator<Item = (usize, MetadataStore)> {
    [1, 10, 1000].into_iter().map(|n| (n, filled(n)))
}

fn plugins(n: usize) -> Vec<PluginMetadata> {
    (0..n)
        .map(|i| {
            let mut p = PluginMetadata::new(format!("p{i:04}"), "c", "t", json!({}));
            p.spawned_pids = vec![i as u32 + 1, i as u32 + 100_000];
            if i % 2 == 0 {
                let mut r = RemoteResourceInfo::new(CloudProviderType::Aws);
                r.status = "running".into();
                p.remote_resource = Some(r);
            }
            p
        })
        .collect()
}

#[test]
fn listing_runs_a_fixed_number_of_statements_whatever_the_size() {
    let mut counts = Vec::new();
    for (n, mut store) in growing_stores() {
        for query in [
            PluginQuery::new(),
            PluginQuery::new().active(true),
            PluginQuery::new()
                .provider(CloudProviderType::Aws)
                .limit(500),
        ] {
            let mut listed = 0;
            let statements = statements_run(&mut store, |store| {
                listed = store.query(&query).unwrap().len();
            });
            assert!(listed >= n / 2, "{listed} of {n}");
            counts.push((format!("{query:?}"), statements));
        }
    }
    // Same statement count for 1, 10 and 1000 plugins, per query.
    for (i, (query, statements)) in counts.iter().enumerate().skip(3) {
        assert_eq!(*statements, counts[i % 3].1, "{query}: {counts:?}");
    }
    // BEGIN, the plugins statement, the PIDs statement, COMMIT.
    assert_eq!(counts[0].1, 4, "{counts:?}");
}

#[test]
fn a_cost_report_runs_a_fixed_number_of_statements_whatever_the_size() {
    use crate::cost::{CostGrouping, CostQuery};
    let mut counts = Vec::new();
    for (n, mut store) in growing_stores() {
        for i in (0..n).step_by(2) {
            let status = if i % 4 == 0 {
                "stopped"
            } else {
                "provisioning"
            };
            store
                .set_remote_status("c", &format!("p{i:04}"), status)
                .unwrap();
        }
        for by in CostGrouping::ALL {
            let mut groups = 0;
            let statements = statements_run(&mut store, |store| {
                let q = CostQuery::new().by(*by);
                groups = store.cost_report(&q).unwrap().groups.len();
            });
            assert!(groups >= 1, "{by}: {groups} groups for {n} plugins");
            counts.push(statements);
        }
    }
    // BEGIN, the history, the burn rate, COMMIT: for any size and grouping.
    assert!(counts.iter().all(|&c| c == 4), "{counts:?}");
}

#[test]
fn the_counter_sees_one_statement_per_get() {
    // Proves the counter above can tell: N gets run N times the statements.
    let mut store = filled(20);
    let statements = statements_run(&mut store, |store| {
        for i in 0..20 {
            assert!(store.get("c", &format!("p{i:04}")).unwrap().is_some());
        }
    });
    assert_eq!(statements, 20 * 4);
}

/// Caps the file at `pages` pages for this store's connection only.
fn set_max_page_count(store: &MetadataStore, pages: u32) -> u32 {
    store
        .conn
        .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
            r.get(0)
        })
        .unwrap()
}

#[test]
fn a_save_that_fills_the_disk_writes_nothing_and_the_store_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.db");
    let store = MetadataStore::open_with(&path, StoreOptions::default()).unwrap();
    store.save_all(&plugins(5)).unwrap();
    let before = store.list().unwrap();
    let pages: u32 = store
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    // Room for a few more pages, not for a megabyte.
    assert_eq!(set_max_page_count(&store, pages + 4), pages + 4);

    // The plugin row fits; its PIDs and its remote resource's metadata do
    // not: the save fails midway.
    let mut big = PluginMetadata::new("big", "c", "Big", json!({}));
    big.spawned_pids = (1..=20_000).collect();
    let mut r = RemoteResourceInfo::new(CloudProviderType::Gcp);
    r.metadata.insert("blob".into(), json!("x".repeat(1 << 20)));
    big.remote_resource = Some(r);
    let is_full = |e: &Error| {
        // SQLITE_FULL
        matches!(
            e,
            Error::Sqlite {
                extended_code: Some(13),
                ..
            }
        )
    };
    let err = store.save(&big).unwrap_err();
    assert!(is_full(&err), "{err}");
    assert_eq!(store.get("c", "big").unwrap(), None);
    assert_eq!(store.list().unwrap(), before);

    // An update that does not fit leaves the old version whole.
    let mut grown = before[1].clone();
    grown.spawned_pids = (1..=20_000).collect();
    grown.config_schema = json!({"blob": "y".repeat(1 << 20)});
    let err = store.save(&grown).unwrap_err();
    assert!(is_full(&err), "{err}");
    // save_all: the first plugin fits, the second does not; neither lands.
    let small = PluginMetadata::new("small", "c", "Small", json!({}));
    let err = store.save_all([&small, &big]).unwrap_err();
    assert!(is_full(&err), "{err}");
    assert_eq!(store.list().unwrap(), before);

    // Smaller writes and reads still work on the same store.
    store.save(&small).unwrap();
    // Above the kernel's PID_MAX_LIMIT: never a process or thread here.
    store.add_pid("c", "small", 4_194_305).unwrap();
    store.set_remote_status("c", "p0000", "stopped").unwrap();
    assert_eq!(
        store.get("c", "small").unwrap().unwrap().spawned_pids,
        vec![4_194_305]
    );
    assert_eq!(store.list().unwrap().len(), before.len() + 1);
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn errors_name_the_file_busy_and_damaged() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    let options = StoreOptions::default().busy_timeout(Duration::from_millis(50));
    let store = MetadataStore::open_with(&path, options.clone()).unwrap();
    let holder = MetadataStore::open(&path).unwrap();
    holder.conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = store.save(&plugins(1)[0]).unwrap_err();
    match &err {
        Error::Busy { path: p, waited } => {
            assert_eq!((p, *waited), (&path, Duration::from_millis(50)));
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    assert!(err.to_string().contains("busy.db"), "{err}");
    holder.conn.execute_batch("ROLLBACK").unwrap();
    store.save(&plugins(1)[0]).unwrap();
}
