//! Every public result type serializes (so a Tauri command can return it
//! as is) with the field names the CLI's `--json` prints: the library's
//! JSON of a result equals the CLI's output for the same question, and the
//! types the CLI prints no JSON for have the shapes their docs promise.

mod support;

use std::path::PathBuf;

use chrono::{DateTime, SubsecRound, Utc};
use plugin_metastore::{CloudProviderType, CostGrouping, CostQuery, MetadataStore};
use serde_json::{Value, json};
use support::{Sleeper, cloud_plugin, metastore_ok, temp_store};
use tempfile::TempDir;

fn at(text: &str) -> DateTime<Utc> {
    plugin_metastore::parse_time(text).unwrap()
}

/// A new store with two priced cloud plugins and a timeline each on
/// 2026-01-01, and one plugin holding the PID of `child`.
fn store_with_history(child: &Sleeper) -> (TempDir, PathBuf, MetadataStore) {
    let (dir, path, store) = temp_store("s.db");
    for (name, provider) in [("a", CloudProviderType::Aws), ("g", CloudProviderType::Gcp)] {
        store
            .save(&cloud_plugin("llm", name, provider, "pending", Some(2.5)))
            .unwrap();
        for (status, t) in [
            ("running", "2026-01-01T00:00:00Z"),
            ("stopped", "2026-01-01T06:00:00Z"),
        ] {
            store
                .set_remote_status_at("llm", name, status, at(t))
                .unwrap();
        }
    }
    let mut local = plugin_metastore::PluginMetadata::new("w", "local", "W", json!({}));
    local.spawned_pids = vec![child.pid()];
    store.save(&local).unwrap();
    (dir, path, store)
}

/// The day of the timelines, 2026-01-01 (UTC), as a cost window.
fn that_day() -> CostQuery {
    CostQuery::new()
        .since(at("2026-01-01"))
        .until(at("2026-01-02"))
}

fn cli_json(db: &std::path::Path, args: &[&str]) -> Value {
    serde_json::from_str(&metastore_ok(db, args)).unwrap()
}

#[test]
fn library_results_serialize_as_the_cli_prints_them() {
    let mut child = Sleeper::start();
    let (_dir, db, store) = store_with_history(&child);

    for by in ["provider", "plugin", "day"] {
        let grouping: CostGrouping = by.parse().unwrap();
        let query = that_day().by(grouping);
        let report = store.cost_report(&query).unwrap();
        let mut args = vec![
            "cost",
            "--since",
            "2026-01-01",
            "--until",
            "2026-01-02",
            "--by",
            by,
            "--json",
        ];
        let cli = cli_json(&db, &args);
        assert_eq!(
            serde_json::to_value(&report.groups).unwrap(),
            cli,
            "cost --by {by}"
        );
        assert!(!report.groups.is_empty());
        args.push("--totals");
        let totals = cli_json(&db, &args);
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            totals,
            "cost --by {by} --totals"
        );
    }

    let history = store.remote_history("llm", "a").unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(
        serde_json::to_value(&history).unwrap(),
        cli_json(&db, &["history", "llm_a", "--json"])
    );

    let checks = store.check_pids().unwrap();
    assert_eq!(checks.len(), 1);
    assert_eq!(
        serde_json::to_value(&checks).unwrap(),
        cli_json(&db, &["check", "--json"])
    );

    drop(store);
    let verification = MetadataStore::verify(&db).unwrap();
    assert_eq!(
        serde_json::to_value(&verification).unwrap(),
        cli_json(&db, &["verify", "--json"])
    );
    child.kill_and_wait();
}

#[test]
fn results_the_cli_prints_no_json_for_have_their_documented_shape() {
    let mut child = Sleeper::start();
    let (dir, _, store) = store_with_history(&child);
    child.kill_and_wait();

    let report = store.cost_report(&that_day()).unwrap();
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(value["window"]["since"], "2026-01-01T00:00:00.000000Z");
    assert_eq!(value["window"]["until"], "2026-01-02T00:00:00.000000Z");
    assert_eq!(value["window"]["by"], "provider");
    assert_eq!(
        value["groups"],
        serde_json::to_value(&report.groups).unwrap()
    );
    assert_eq!(value["total"]["key"], "total");
    assert_eq!(value["total"]["running_hours"], 12.0);
    assert_eq!(value["total"]["cost_usd"], 30.0);
    assert_eq!(
        value["burn_rate"],
        json!({"running": 0, "usd_per_hour": 0.0, "priced_usd_per_hour": 0.0, "unpriced_running": 0})
    );
    let open = CostQuery::new().until(at("2026-01-02"));
    assert_eq!(
        serde_json::to_value(store.cost_report(&open).unwrap()).unwrap()["window"]["since"],
        Value::Null
    );

    // The save wrote a row at its own time, so only a time after it is
    // current; the January rows above were backdated.
    let recorded = |status: &str, t: DateTime<Utc>| {
        serde_json::to_value(store.set_remote_status_at("llm", "a", status, t).unwrap()).unwrap()
    };
    let now = Utc::now().trunc_subsecs(6);
    assert_eq!(recorded("failed", now), json!({"recorded": "current"}));
    assert_eq!(
        recorded("failed", Utc::now()),
        json!({"recorded": "unchanged"})
    );
    assert_eq!(
        recorded("failed", at("2026-01-01T03:00:00Z")),
        json!({
            "recorded": "backdated",
            "current_status": "failed",
            "newest_at": now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        })
    );

    let cursor = store.change_cursor().unwrap();
    store.delete("local", "w").unwrap();
    let changes = store.changes_since(cursor).unwrap();
    assert_eq!(
        serde_json::to_value(&changes).unwrap(),
        json!({
            "reset": false,
            "seq": cursor + 1,
            "changes": [{
                "seq": cursor + 1,
                "unique_id": "local_w",
                "category": "local",
                "name": "w",
                "op": serde_json::to_value(changes_op(&changes)).unwrap(),
            }]
        })
    );

    let newest = store.change_cursor().unwrap();
    let reset = store.changes_since(newest + 1000).unwrap();
    assert!(
        matches!(reset, plugin_metastore::Changes::Reset { .. }),
        "{reset:?}"
    );
    assert_eq!(
        serde_json::to_string(&reset).unwrap(),
        format!("{{\"reset\":true,\"seq\":{}}}", reset.cursor())
    );

    let copy = dir.path().join("copy.db");
    let backup = store.backup(&copy).unwrap();
    assert_eq!(
        serde_json::to_value(&backup).unwrap(),
        json!({
            "path": copy.to_str().unwrap(),
            "bytes": backup.bytes,
            "plugins": 2,
            "schema_version": backup.schema_version,
        })
    );
    assert!(backup.bytes > 0);
}

/// The op of the one change in `changes`.
fn changes_op(changes: &plugin_metastore::Changes) -> plugin_metastore::ChangeOp {
    match changes {
        plugin_metastore::Changes::Since { changes, .. } => changes[0].op,
        other => panic!("{other:?}"),
    }
}
