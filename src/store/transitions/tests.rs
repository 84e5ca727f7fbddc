//! The library's own history and change-log rows are the triggers': the
//! same script of library calls, run on a store that writes them itself
//! (its triggers off) and on one that leaves them to the triggers, leaves
//! the same rows in the same order.

use chrono::{Duration, Utc};
use rusqlite::Connection;
use serde_json::json;

use crate::model::{CloudProviderType, PluginExecutionMode, PluginMetadata, RemoteResourceInfo};
use crate::store::MetadataStore;

fn cloud(category: &str, name: &str, provider: CloudProviderType, status: &str) -> PluginMetadata {
    let mut p = PluginMetadata::new(name, category, format!("Cloud {name}"), json!({}));
    p.execution_mode = PluginExecutionMode::CloudGpu;
    let mut r = RemoteResourceInfo::new(provider);
    r.instance_id = Some(format!("i-{name}"));
    r.status = status.to_owned();
    r.estimated_cost_per_hour = Some(1.5);
    p.remote_resource = Some(r);
    p
}

fn remote(p: &mut PluginMetadata) -> &mut RemoteResourceInfo {
    p.remote_resource
        .get_or_insert_with(|| RemoteResourceInfo::new(CloudProviderType::Aws))
}

/// Every library call that writes the history, and some that must not.
fn script(store: &MetadataStore, path: &std::path::Path) {
    use CloudProviderType::{Aws, Gcp, Runpod};
    let mut a = cloud("gpu", "a", Aws, "running");
    store.save(&a).unwrap();
    store.save(&a).unwrap(); // unchanged: no row
    remote(&mut a).status = "stopped".into();
    store.save(&a).unwrap();
    remote(&mut a).estimated_cost_per_hour = Some(2.0);
    store.save(&a).unwrap();
    remote(&mut a).instance_id = Some("i-2".into());
    store.save(&a).unwrap();
    remote(&mut a).provider = Gcp;
    store.save(&a).unwrap();
    remote(&mut a).region = Some("eu".into()); // not recorded in the history
    store.save(&a).unwrap();
    let mut gone = a.clone();
    gone.remote_resource = None;
    store.save(&gone).unwrap(); // removed
    store.save(&gone).unwrap(); // nothing to remove
    store.save(&a).unwrap(); // created again

    let mut b = PluginMetadata::new("b", "x", "B", json!({}));
    store.save(&b).unwrap();
    let r = cloud("x", "b", Runpod, "provisioning")
        .remote_resource
        .unwrap();
    store.set_remote_resource("x", "b", Some(&r)).unwrap();
    store.set_remote_resource("x", "b", Some(&r)).unwrap();
    store.set_remote_status("x", "b", "running").unwrap();
    store.set_remote_status("x", "b", "running").unwrap();
    let earlier = Utc::now() - Duration::hours(1);
    store
        .set_remote_status_at("x", "b", "queued", earlier)
        .unwrap();
    store.set_remote_resource("x", "b", None).unwrap();
    b.title = "B again".into();
    store.register(&b).unwrap();

    // One key three times in one transaction: every state in between is
    // recorded, as the triggers record each statement.
    let c1 = cloud("gpu", "c", Aws, "running");
    let c2 = cloud("gpu", "c", Aws, "stopped");
    let mut c3 = c2.clone();
    c3.remote_resource = None;
    store.save_all([&c1, &c2, &c3, &a, &c1]).unwrap();
    store
        .save_all_unclaimed([&cloud("gpu", "d", Runpod, "running")])
        .unwrap();

    assert!(store.delete("gpu", "d").unwrap()); // with its resource
    assert!(store.delete("x", "b").unwrap()); // without
    assert!(!store.delete("x", "none").unwrap());

    // A provider forced in by hand (past its CHECK) is removed as custom.
    let e = cloud("gpu", "e", Aws, "running");
    store.save(&e).unwrap();
    let hand = Connection::open(path).unwrap();
    hand.execute_batch(
        "PRAGMA ignore_check_constraints = ON; \
         UPDATE remote_resources SET provider = 'bogus', status = 'odd' \
         WHERE plugin_id = (SELECT id FROM plugins WHERE name = 'e');",
    )
    .unwrap();
    drop(hand);
    assert!(store.delete("gpu", "e").unwrap());
}

/// The history's rows in order, without their times (the two runs are at
/// different times), and the change log's rows.
fn rows(path: &std::path::Path) -> (Vec<String>, Vec<String>) {
    let conn = Connection::open(path).unwrap();
    let read = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    (
        read(
            "SELECT concat_ws(' ', category, name, provider, instance_id, status, cost_per_hour) \
             FROM remote_status_history ORDER BY category, name, at, seq",
        ),
        read(
            "SELECT concat_ws(' ', txn, plugin_id, category, name, op) \
             FROM change_log ORDER BY seq",
        ),
    )
}

#[test]
fn the_library_writes_the_rows_the_triggers_write() {
    let dir = tempfile::tempdir().unwrap();
    let (own_path, triggers_path) = (dir.path().join("own.db"), dir.path().join("triggers.db"));
    let own = MetadataStore::open(&own_path).unwrap();
    let mut triggers = MetadataStore::open(&triggers_path).unwrap();
    triggers.bookkeeping.triggers_only = true;

    script(&own, &own_path);
    script(&triggers, &triggers_path);
    assert!(own.bookkeeping.own.get(), "the library wrote its own rows");
    assert!(!triggers.bookkeeping.own.get(), "the triggers wrote theirs");

    let (history, log) = rows(&own_path);
    assert_eq!((history.clone(), log.clone()), rows(&triggers_path));
    let of = |key: &str| -> Vec<&str> {
        history
            .iter()
            .filter(|r| r.starts_with(key))
            .map(|r| &r[key.len()..])
            .collect()
    };
    assert_eq!(
        of("gpu a "),
        [
            "aws i-a running 1.5",
            "aws i-a stopped 1.5",
            "aws i-a stopped 2.0",
            "aws i-2 stopped 2.0",
            "gcp i-2 stopped 2.0",
            "gcp i-2 removed",
            "gcp i-2 stopped 2.0",
        ]
    );
    assert_eq!(
        of("x b "),
        [
            "runpod i-b queued 1.5",
            "runpod i-b provisioning 1.5",
            "runpod i-b running 1.5",
            "runpod i-b removed",
        ]
    );
    assert_eq!(
        of("gpu c "),
        [
            "aws i-c running 1.5",
            "aws i-c stopped 1.5",
            "aws i-c removed",
            "aws i-c running 1.5",
        ]
    );
    assert_eq!(
        of("gpu d "),
        ["runpod i-d running 1.5", "runpod i-d removed"]
    );
    assert_eq!(
        of("gpu e "),
        [
            "aws i-e running 1.5",
            "bogus i-e odd 1.5",
            "custom i-e removed"
        ]
    );
    assert!(log.len() > 20, "{log:?}");
}

/// A store in a new file that saved plugin `gpu/a` (running) writing its
/// own history rows, and a plain connection to the file, for edits by hand.
fn saved_once() -> (tempfile::TempDir, MetadataStore, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = MetadataStore::open(&path).unwrap();
    store
        .save(&cloud("gpu", "a", CloudProviderType::Aws, "running"))
        .unwrap();
    assert!(store.bookkeeping.own.get());
    let hand = Connection::open(&path).unwrap();
    (dir, store, hand)
}

/// The statuses in `gpu/a`'s history, oldest first.
fn statuses_of_a(store: &MetadataStore) -> Vec<String> {
    store
        .remote_history("gpu", "a")
        .unwrap()
        .into_iter()
        .map(|e| e.status)
        .collect()
}

#[test]
fn a_trigger_of_someone_else_keeps_the_triggers_on() {
    let (_dir, store, hand) = saved_once();
    hand.execute_batch(
        "CREATE TABLE audit (name TEXT); \
         CREATE TRIGGER audit_saves AFTER UPDATE ON plugins \
         BEGIN INSERT INTO audit VALUES (NEW.name); END;",
    )
    .unwrap();
    store
        .save(&cloud("gpu", "a", CloudProviderType::Aws, "stopped"))
        .unwrap();
    assert!(!store.bookkeeping.own.get());
    hand.execute_batch("DROP TRIGGER audit_saves").unwrap();
    store
        .save(&cloud("gpu", "a", CloudProviderType::Aws, "running"))
        .unwrap();
    assert!(store.bookkeeping.own.get());
    let audit: i64 = hand
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap();
    assert_eq!(audit, 1, "the person's trigger fired for the save it saw");
    let statuses = statuses_of_a(&store);
    assert_eq!(
        statuses,
        ["running", "stopped", "running"],
        "each recorded once"
    );
}

#[test]
fn one_of_our_triggers_recreated_with_another_body_keeps_the_triggers_on() {
    let (_dir, store, hand) = saved_once();
    let sql: String = hand
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'remote_status_history_changed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // The same trigger, but it also counts the changes it records.
    let body = sql.replacen("BEGIN", "BEGIN INSERT INTO seen VALUES (NEW.status);", 1);
    hand.execute_batch(&format!(
        "CREATE TABLE seen (status TEXT); DROP TRIGGER remote_status_history_changed; {body};"
    ))
    .unwrap();
    store
        .save(&cloud("gpu", "a", CloudProviderType::Aws, "stopped"))
        .unwrap();
    assert!(!store.bookkeeping.own.get(), "a changed body is not ours");
    let seen: String = hand
        .query_row("SELECT group_concat(status) FROM seen", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seen, "stopped");
    let statuses = statuses_of_a(&store);
    assert_eq!(statuses, ["running", "stopped"]);
}
