//! The change feed across processes: `watch` in one process sees what other
//! processes and `sqlite3` change, in commit order, within a second; the
//! log keeps one row per plugin per library transaction, is bounded, and
//! tells a cursor that fell off it to re-read everything; `watch` ends
//! cleanly on SIGTERM, SIGINT and a closed pipe.

mod support;

use std::path::Path;
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use plugin_metastore::{
    Change, ChangeOp, Changes, Error, MetadataStore, PluginMetadata, PluginQuery, ReapAction,
    ReapOptions, seed,
};
use rustix::process::Signal;
use serde_json::{Value, json};
use support::{
    Lines, Sleeper, metastore, metastore_ok, sample, sample_dir, signal, sqlite3, temp_store,
    wait_within,
};

/// How long a change may take to show: the "within 1 s".
const WITHIN: Duration = Duration::from_secs(1);

/// `plugin-metastore watch --since SEQ` on `db`, once it said (on stderr)
/// that it is watching, and its stdout.
fn start_watch(db: &Path, since: u64) -> (Child, ChildStdout) {
    let mut child = metastore(db)
        .args([
            "watch",
            "--interval-ms",
            "100",
            "--since",
            &since.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = Lines::read(child.stderr.take().unwrap());
    let said = err.next_within(Duration::from_secs(10)).unwrap_or_default();
    assert!(said.starts_with("watching "), "watch said {said:?}");
    let out = child.stdout.take().unwrap();
    (child, out)
}

/// The next line of `watch`, as JSON, within [`WITHIN`] of `since`.
#[track_caller]
fn next_change(out: &Lines, since: Instant, what: &str) -> Value {
    let left = WITHIN.saturating_sub(since.elapsed());
    let line = out
        .next_within(left)
        .unwrap_or_else(|| panic!("watch printed nothing within {WITHIN:?} of: {what}"));
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

#[track_caller]
fn assert_change(line: &Value, unique_id: &str, op: &str) -> u64 {
    assert_eq!(line["unique_id"], unique_id, "{line}");
    assert_eq!(line["op"], op, "{line}");
    let (category, name) = unique_id.split_once('_').unwrap();
    assert_eq!(line["category"], category, "{line}");
    assert_eq!(line["name"], name, "{line}");
    line["seq"].as_u64().unwrap()
}

#[test]
fn a_watcher_process_sees_other_processes_and_hand_edits_in_order_within_a_second() {
    let (dir, db) = sample_dir("feed.db", 3);
    let cursor = MetadataStore::open(&db).unwrap().change_cursor().unwrap();
    let (mut watch, out) = start_watch(&db, cursor);
    let out = Lines::read(out);

    // An insert, by `import` in another process.
    let record = dir.path().join("new.json");
    let new = PluginMetadata::new("tiny", "asr", "Tiny", json!({"type": "object"}));
    std::fs::write(&record, serde_json::to_string(&new).unwrap()).unwrap();
    metastore_ok(&db, &["import", record.to_str().unwrap()]);
    let t = Instant::now();
    let insert = assert_change(&next_change(&out, t, "import"), "asr_tiny", "insert");

    // An update: a PID added by another process.
    metastore_ok(&db, &["pid", "add", "sample_plugin1", "4242"]);
    let t = Instant::now();
    let update = assert_change(&next_change(&out, t, "pid add"), "sample_plugin1", "update");

    // A delete.
    metastore_ok(&db, &["delete", "sample_plugin2"]);
    let t = Instant::now();
    let delete = assert_change(&next_change(&out, t, "delete"), "sample_plugin2", "delete");

    // A hand edit in sqlite3.
    sqlite3(
        &db,
        "UPDATE plugins SET title = 'edited by hand' WHERE name = 'plugin0'",
    );
    let t = Instant::now();
    let hand = assert_change(&next_change(&out, t, "sqlite3"), "sample_plugin0", "update");

    assert!(cursor < insert && insert < update && update < delete && delete < hand);
    assert_eq!(
        out.next_within(Duration::from_millis(300)),
        None,
        "one line each"
    );

    signal(&watch, Signal::TERM);
    let status = wait_within(&mut watch, Duration::from_secs(5));
    assert!(status.success(), "watch ended with {status} on SIGTERM");
}

#[test]
fn watch_ends_cleanly_on_sigint_and_on_a_closed_pipe() {
    let (_dir, db) = sample_dir("feed.db", 2);

    let (mut watch, _out) = start_watch(&db, 0);
    signal(&watch, Signal::INT);
    let status = wait_within(&mut watch, Duration::from_secs(5));
    assert!(status.success(), "watch ended with {status} on SIGINT");

    // The reader goes away; watch notices on its next write and ends.
    let cursor = MetadataStore::open(&db).unwrap().change_cursor().unwrap();
    let (mut watch, out) = start_watch(&db, cursor);
    drop(out);
    metastore_ok(&db, &["pid", "add", "sample_plugin0", "5000"]);
    let status = wait_within(&mut watch, Duration::from_secs(5));
    assert!(
        status.success(),
        "watch ended with {status} on a closed pipe"
    );
}

#[test]
fn a_cursor_that_fell_off_the_log_is_told_to_reread_everything() {
    let (_dir, db, store) = temp_store("feed.db");
    sqlite3(&db, "UPDATE change_feed SET capacity = 10");
    let start = store.change_cursor().unwrap();
    for i in 0..40 {
        store.save(&sample(i)).unwrap();
    }
    let head = store.change_cursor().unwrap();
    assert_eq!(head, start + 40, "one row per save");
    let rows: u64 = sqlite3(&db, "SELECT count(*) FROM change_log")
        .parse()
        .unwrap();
    assert!(
        (10..=13).contains(&rows),
        "the log keeps about its capacity: {rows}"
    );

    assert_eq!(
        store.changes_since(start).unwrap(),
        Changes::Reset { cursor: head }
    );
    // A cursor ahead of the log (a restored older copy) is reset as well.
    assert_eq!(
        store.changes_since(head + 5).unwrap(),
        Changes::Reset { cursor: head }
    );
    // After the re-read, the feed goes on from the cursor it gave.
    assert!(store.changes_since(head).unwrap().is_empty());
    let recent = store.changes_since(head - 3).unwrap();
    let names: Vec<&str> = recent.changes().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["plugin37", "plugin38", "plugin39"]);
    assert_eq!(recent.cursor(), head);

    // One transaction changing more plugins than the log keeps leaves the
    // newest `capacity` of them, with the seqs they would have had.
    let before = store.change_cursor().unwrap();
    let many: Vec<PluginMetadata> = (100..125).map(sample).collect();
    store.save_all(&many).unwrap();
    let after = store.change_cursor().unwrap();
    assert_eq!(after, before + 25);
    assert_eq!(sqlite3(&db, "SELECT count(*) FROM change_log"), "10");
    assert_eq!(
        store.changes_since(before).unwrap(),
        Changes::Reset { cursor: after }
    );
    let newest = store.changes_since(after - 10).unwrap();
    let names: Vec<&str> = newest.changes().iter().map(|c| c.name.as_str()).collect();
    let want: Vec<String> = (115..125).map(|i| format!("plugin{i}")).collect();
    assert_eq!(names, want);
    assert!(newest.changes().iter().all(|c| c.op == ChangeOp::Insert));
    let head = after;

    // `watch --since` an old cursor starts with the reset line.
    let (mut watch, out) = start_watch(&db, start);
    let out = Lines::read(out);
    let line: Value = serde_json::from_str(&out.next_within(WITHIN).unwrap()).unwrap();
    assert_eq!(line, json!({"reset": true, "seq": head}));
    signal(&watch, Signal::TERM);
    assert!(wait_within(&mut watch, Duration::from_secs(5)).success());
}

/// The log rows after `cursor` as `(unique_id, op)`.
fn logged(store: &MetadataStore, cursor: u64) -> Vec<(String, ChangeOp)> {
    match store.changes_since(cursor).unwrap() {
        Changes::Since { changes, .. } => changes
            .into_iter()
            .map(|c: Change| (c.unique_id, c.op))
            .collect(),
        reset => panic!("unexpected {reset:?}"),
    }
}

#[test]
fn a_library_transaction_logs_one_row_per_plugin_and_hand_edits_one_per_row() {
    let (_dir, db, store) = temp_store("feed.db");
    let plugins: Vec<PluginMetadata> = (0..100).map(sample).collect();
    let marker = || sqlite3(&db, "SELECT quote(writing_txn) FROM change_feed");

    // Each sample has two PIDs and a remote resource: four table rows.
    let c = store.change_cursor().unwrap();
    store.save_all(&plugins).unwrap();
    let rows = logged(&store, c);
    assert_eq!(rows.len(), 100);
    assert!(rows.iter().all(|(_, op)| *op == ChangeOp::Insert));
    assert_eq!(
        marker(),
        "NULL",
        "no transaction number outlives its commit"
    );

    // Saving again rewrites every row: one update per plugin. Twice in one
    // call: still one row for that plugin.
    let c = store.change_cursor().unwrap();
    let mut again = plugins.clone();
    again.push(sample(7));
    store.save_all(&again).unwrap();
    let rows = logged(&store, c);
    assert_eq!(rows.len(), 100);
    assert!(rows.iter().all(|(_, op)| *op == ChangeOp::Update));

    // Every lifecycle call: one row for its plugin.
    let c = store.change_cursor().unwrap();
    store.add_pid("sample", "plugin1", 4242).unwrap();
    store
        .set_container_id("sample", "plugin1", Some("c"))
        .unwrap();
    store
        .set_remote_status("sample", "plugin1", "stopped")
        .unwrap();
    store
        .set_remote_resource("sample", "plugin1", None)
        .unwrap();
    store.clear_pids("sample", "plugin1").unwrap();
    store.register(&seed::whisper_tiny()).unwrap();
    store.register(&seed::whisper_tiny()).unwrap();
    assert!(store.delete("sample", "plugin2").unwrap());
    assert!(store.remove_pid("sample", "plugin8", 108).unwrap());
    let mut gone = Sleeper::start();
    store.add_pid("sample", "plugin9", gone.pid()).unwrap();
    gone.kill_and_wait();
    // A call that changes nothing or fails logs nothing.
    assert!(!store.remove_pid("sample", "plugin3", 1).unwrap());
    assert!(matches!(
        store.add_pid("sample", "missing", 1),
        Err(Error::NotFound { .. })
    ));
    let id = |s: &str| s.to_owned();
    assert_eq!(
        logged(&store, c),
        [
            (id("sample_plugin1"), ChangeOp::Update),
            (id("sample_plugin1"), ChangeOp::Update),
            (id("sample_plugin1"), ChangeOp::Update),
            (id("sample_plugin1"), ChangeOp::Update),
            (id("sample_plugin1"), ChangeOp::Update),
            (id("transcription_whisper_tiny"), ChangeOp::Insert),
            (id("transcription_whisper_tiny"), ChangeOp::Update),
            (id("sample_plugin2"), ChangeOp::Delete),
            (id("sample_plugin8"), ChangeOp::Update),
            (id("sample_plugin9"), ChangeOp::Update),
        ]
    );
    // Reaping removes PIDs of many plugins (two of most of them) in one
    // transaction: one row per plugin that lost a PID.
    let c = store.change_cursor().unwrap();
    let reaped = store.reap(&ReapOptions::new()).unwrap();
    let mut lost: Vec<String> = reaped
        .iter()
        .filter(|r| r.action == ReapAction::Removed)
        .map(|r| r.check.unique_id.clone())
        .collect();
    assert!(lost.contains(&id("sample_plugin9")));
    lost.dedup();
    let rows = logged(&store, c);
    assert_eq!(rows.len(), lost.len());
    assert!(
        rows.iter()
            .zip(&lost)
            .all(|((u, op), l)| u == l && *op == ChangeOp::Update)
    );
    assert_eq!(marker(), "NULL");

    // By hand: one row per table row changed, whatever the table; a key
    // changed by hand is the old key deleted and the new one inserted.
    let c = store.change_cursor().unwrap();
    sqlite3(
        &db,
        "UPDATE plugins SET title = 'x' WHERE name IN ('plugin3', 'plugin4'); \
         INSERT INTO plugin_pids (plugin_id, position, pid) SELECT id, 5, 7777 FROM plugins \
             WHERE name = 'plugin5' UNION ALL SELECT id, 6, 7778 FROM plugins WHERE name = 'plugin5'; \
         UPDATE plugins SET name = 'renamed' WHERE name = 'plugin6'",
    );
    assert_eq!(
        logged(&store, c),
        [
            (id("sample_plugin3"), ChangeOp::Update),
            (id("sample_plugin4"), ChangeOp::Update),
            (id("sample_plugin5"), ChangeOp::Update),
            (id("sample_plugin5"), ChangeOp::Update),
            (id("sample_plugin6"), ChangeOp::Delete),
            (id("sample_renamed"), ChangeOp::Insert),
        ]
    );
}

/// The trap: a write stamped (by its `updated_at`) before a poll
/// but committed after it is invisible to `updated_since`; the feed, in
/// commit order, shows it.
#[test]
fn the_feed_is_in_commit_order_not_clock_order() {
    let (_dir, db) = sample_dir("feed.db", 2);
    let store = MetadataStore::open(&db).unwrap();
    let writer = rusqlite::Connection::open(&db).unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    writer
        .execute(
            "INSERT INTO plugins (category, name, title, config_schema, is_configured, \
             execution_mode, manages_child_processes, manages_external_resources, \
             created_at, updated_at) VALUES ('late', 'commit', 't', '{}', 0, 'docker', 0, 0, \
             '2000-01-01T00:00:00.000000Z', '2000-01-01T00:00:00.000000Z')",
            [],
        )
        .unwrap();
    // A poll while that transaction is open sees neither it nor its seq.
    let cursor = store.change_cursor().unwrap();
    let since = chrono::Utc::now();
    writer.execute_batch("COMMIT").unwrap();

    let missed = store
        .query(&PluginQuery::new().updated_since(since))
        .unwrap();
    assert!(missed.is_empty(), "updated_since misses it");
    let found = logged(&store, cursor);
    assert_eq!(found, [("late_commit".to_owned(), ChangeOp::Insert)]);
}

#[test]
fn a_watcher_hears_its_own_store_and_waits_for_a_timeout_otherwise() {
    let (_dir, _, store) = temp_store("feed.db");
    let mut watcher = store
        .watch(store.change_cursor().unwrap())
        .unwrap()
        .interval(Duration::from_millis(10));
    assert!(
        !watcher.wait(Duration::from_millis(50)).unwrap(),
        "nothing changed"
    );
    assert!(
        watcher
            .next_changes(Duration::from_millis(50))
            .unwrap()
            .is_empty()
    );

    store.save(&seed::whisper_tiny()).unwrap();
    let changes = watcher.next_changes(WITHIN).unwrap();
    let ids: Vec<&str> = changes
        .changes()
        .iter()
        .map(|c| c.unique_id.as_str())
        .collect();
    assert_eq!(ids, ["transcription_whisper_tiny"]);
    assert_eq!(watcher.cursor(), changes.cursor());
    assert!(
        watcher
            .next_changes(Duration::from_millis(30))
            .unwrap()
            .is_empty()
    );

    let in_memory = MetadataStore::open_in_memory().unwrap();
    assert!(matches!(
        in_memory.watch(0),
        Err(Error::InvalidInput { field: "watch", .. })
    ));
}

#[test]
fn no_value_of_the_feed_in_the_file_makes_a_write_overflow_or_fail_without_words() {
    for (set, writes) in [
        ("capacity = 9000000000000000000", true),
        ("capacity = 9223372036854775807", true),
        ("capacity = 7400000000000000000, pruned_through = 0", true),
        ("pruned_through = -9223372036854775808", true),
        ("pruned_through = 9223372036854775807", true),
        ("capacity = 'lots'", false),
        ("capacity = x'01'", false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let db = support::sample_store(dir.path(), "feed.db", 3);
        support::sqlite3(
            &db,
            &format!("PRAGMA ignore_check_constraints = 1; UPDATE change_feed SET {set};"),
        );
        let store = MetadataStore::open(&db).unwrap();
        let saved = store.save(&support::sample(7));
        if writes {
            saved.unwrap_or_else(|e| panic!("{set}: {e}"));
            let changes = store.changes_since(0).unwrap();
            let _ = changes.cursor();
        } else {
            match saved {
                Err(Error::BadData {
                    table: "change_feed",
                    column: "capacity",
                    reason,
                    ..
                }) => {
                    assert!(
                        reason.contains("UPDATE change_feed SET capacity"),
                        "{reason}"
                    )
                }
                other => panic!("{set}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_watcher_notices_its_store_replaced_by_mv_and_reopens_with_a_reset() {
    for older in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let db = support::sample_store(dir.path(), "live.db", 3);
        let store = MetadataStore::open(&db).unwrap();
        let restored = dir.path().join("restored.db");
        if older {
            store.backup(&restored).unwrap();
        }
        store.save(&support::sample(10)).unwrap();
        if !older {
            // Another store's file, with more changes than this one.
            let other = support::sample_store(dir.path(), "other.db", 20);
            std::fs::rename(&other, &restored).unwrap();
        }
        let mut watcher = store
            .watch(store.change_cursor().unwrap())
            .unwrap()
            .interval(Duration::from_millis(5));
        assert!(watcher.next_changes(Duration::ZERO).unwrap().is_empty());
        drop(store);
        // The restore: no -wal frames left behind, then a rename.
        support::sqlite3(&db, "PRAGMA wal_checkpoint(TRUNCATE);");
        std::fs::rename(&restored, &db).unwrap();
        let after = watcher.next_changes(Duration::from_secs(30)).unwrap();
        assert!(matches!(after, Changes::Reset { .. }), "{older}: {after:?}");
        // It now watches the new file.
        let store = MetadataStore::open(&db).unwrap();
        let mut p = support::sample(30);
        p.name = "after_restore".into();
        store.save(&p).unwrap();
        let changes = watcher.next_changes(Duration::from_secs(30)).unwrap();
        let ids: Vec<&str> = changes.changes().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(ids, ["after_restore"], "{older}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn watch_blocked_on_a_full_output_pipe_ends_on_the_first_sigterm() {
    let (_dir, db, store) = temp_store("full.db");
    let plugins: Vec<PluginMetadata> = (0..3000).map(support::sample).collect();
    store.save_all(&plugins).unwrap();
    // Nobody reads its stdout: 3000 lines fill the pipe.
    let (mut child, _unread) = start_watch(&db, 0);
    let wchan = format!("/proc/{}/wchan", child.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    // The kernel function it sleeps in: pipe_write, or anon_pipe_write.
    while !std::fs::read_to_string(&wchan)
        .unwrap_or_default()
        .ends_with("pipe_write")
    {
        assert!(Instant::now() < deadline, "watch never blocked on its pipe");
        std::thread::sleep(Duration::from_millis(10));
    }
    support::signal(&child, Signal::TERM);
    let status = support::wait_within(&mut child, Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
}
