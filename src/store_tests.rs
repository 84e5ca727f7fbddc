//! Unit tests of the repository that need its connection.

use std::cell::Cell;

use rusqlite::trace::{TraceEvent, TraceEventCodes};
use serde_json::json;

use super::*;

thread_local! {
    static STATEMENTS: Cell<usize> = const { Cell::new(0) };
}

fn count_statement(event: TraceEvent<'_>) {
    if let TraceEvent::Stmt(_, sql) = event
        && !sql.starts_with("--")
    {
        STATEMENTS.with(|n| n.set(n.get() + 1));
    }
}

/// How many statements SQLite started while `f` ran.
fn statements_run(store: &MetadataStore, f: impl FnOnce()) -> usize {
    store
        .conn
        .trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(count_statement));
    STATEMENTS.with(|n| n.set(0));
    f();
    store.conn.trace_v2(TraceEventCodes::empty(), None);
    STATEMENTS.with(Cell::get)
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
    for n in [1, 10, 1000] {
        let store = MetadataStore::open_in_memory().unwrap();
        store.save_all(&plugins(n)).unwrap();
        for query in [
            PluginQuery::new(),
            PluginQuery::new().active(true),
            PluginQuery::new()
                .provider(CloudProviderType::Aws)
                .limit(500),
        ] {
            let mut listed = 0;
            let statements = statements_run(&store, || {
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
fn the_counter_sees_one_statement_per_get() {
    // Proves the counter above can tell: N gets run N times the statements.
    let store = MetadataStore::open_in_memory().unwrap();
    store.save_all(&plugins(20)).unwrap();
    let statements = statements_run(&store, || {
        for i in 0..20 {
            assert!(store.get("c", &format!("p{i:04}")).unwrap().is_some());
        }
    });
    assert_eq!(statements, 20 * 4);
}
