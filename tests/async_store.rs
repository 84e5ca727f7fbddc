//! `AsyncStore` (feature `async`): shared across tasks and threads, on
//! tokio (multi-thread and current-thread) and on `futures::executor`;
//! reads beside a busy writer; the change stream across processes;
//! close, cancellation and panics.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::Poll;
use std::time::Duration;

use futures::StreamExt;
use plugin_metastore::{
    AsyncStore, Changes, Error, MetadataStore, PidState, PluginMetadata, PluginQuery, ReapAction,
    ReapOptions, StoreOptions,
};
use serde_json::json;
use support::{Sleeper, sample, sqlite3};

fn plugin(category: &str, name: &str) -> PluginMetadata {
    PluginMetadata::new(name, category, format!("{category}/{name}"), json!({}))
}

/// A new handle on the store file `plugins.db` in a new temporary
/// directory (removed when the first value is dropped, after the handle).
fn temp_async_store() -> (tempfile::TempDir, AsyncStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = AsyncStore::open(dir.path().join("plugins.db")).unwrap();
    (dir, store)
}

/// Polls `fut` once (so a call queues its work) and leaves it pending.
async fn poll_once<F: Future + ?Sized>(fut: &mut Pin<Box<F>>) -> bool {
    std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_ready())).await
}

/// Holds the writer thread busy until the returned sender is dropped or
/// sent to: a write closure that waits. Returns once it runs.
async fn block_writer(store: &AsyncStore) -> (mpsc::Sender<()>, impl Future<Output = ()>) {
    let (release, gate) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel::<()>();
    let blocked = store.write(move |_| {
        let _ = started.send(());
        let _ = gate.recv();
        Ok(())
    });
    let handle = tokio::spawn(blocked);
    // The closure signals from the writer thread; waiting for it here on
    // a blocking thread keeps the runtime free.
    tokio::task::spawn_blocking(move || running.recv())
        .await
        .unwrap()
        .unwrap();
    (release, async move { handle.await.unwrap().unwrap() })
}

#[test]
fn the_handle_is_clone_send_sync_static_and_its_futures_are_send_static() {
    fn shared<T: Clone + Send + Sync + 'static>(_: &T) {}
    fn spawnable<T: Send + 'static>(_: &T) {}
    fn stream<S: futures::Stream + Send + Unpin + 'static>(_: &S) {}
    let store = AsyncStore::open_in_memory().unwrap();
    shared(&store);
    spawnable(&store.get("a", "b"));
    spawnable(&store.save_all(Vec::new()));
    spawnable(&store.reap(ReapOptions::new()));
    spawnable(&store.close());
    stream(&store.changes(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_tasks_each_read_their_own_writes() {
    let (_dir, store) = temp_async_store();
    assert_eq!(store.readers(), 2);
    let mut tasks = Vec::new();
    for t in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let mut p = plugin(&format!("task{t}"), &format!("p{i}"));
                p.spawned_pids = vec![1000 + i];
                store.save(p.clone()).await.unwrap();
                // On a reader connection, issued after the save resolved.
                let got = store.get(p.category.clone(), p.name.clone()).await.unwrap();
                assert_eq!(got, Some(p));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.count(PluginQuery::new()).await.unwrap(), 800);
    let task3 = store
        .query(PluginQuery::new().category("task3"))
        .await
        .unwrap();
    assert_eq!(task3.len(), 50);
    assert!(task3.iter().all(|p| p.category == "task3"), "{task3:?}");
    store.close().await.unwrap();
}

#[test]
fn every_operation_runs_on_a_current_thread_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store =
            AsyncStore::open_with(dir.path().join("plugins.db"), StoreOptions::new(), 1).unwrap();
        let before = store.change_cursor().await.unwrap();
        let plugins: Vec<PluginMetadata> = (0..20).map(sample).collect();
        store.save_all(plugins.clone()).await.unwrap();
        assert!(store.change_cursor().await.unwrap() > before);
        assert_eq!(store.query(PluginQuery::new()).await.unwrap().len(), 20);
        let summaries = store.summaries(PluginQuery::new()).await.unwrap();
        support::assert_summarizes(&summaries, &store.query(PluginQuery::new()).await.unwrap());
        assert!(!store.register(plugins[0].clone()).await.unwrap());
        assert!(store.register(plugin("new", "one")).await.unwrap());
        assert!(store.delete("new", "one").await.unwrap());
        assert!(!store.delete("new", "one").await.unwrap());
        assert_eq!(store.count(PluginQuery::new()).await.unwrap(), 20);
        let report = store
            .cost_report(plugin_metastore::CostQuery::new())
            .await
            .unwrap();
        let sync = MetadataStore::open(dir.path().join("plugins.db")).unwrap();
        let expected = sync
            .cost_report(&plugin_metastore::CostQuery::new())
            .unwrap();
        assert_eq!(report.groups.len(), expected.groups.len());
        let history = store
            .read(|s| s.remote_history("sample", "plugin3"))
            .await
            .unwrap();
        assert_eq!(history.len(), 1);
        store.close().await.unwrap();
    });
}

#[test]
fn check_and_reap_run_on_futures_executor() {
    let (_dir, store) = temp_async_store();
    let mut gone = Sleeper::start();
    let mut alive = Sleeper::start();
    let (gone_pid, alive_pid) = (gone.pid(), alive.pid());
    futures::executor::block_on(async {
        store.save(plugin("proc", "gone")).await.unwrap();
        store.save(plugin("proc", "alive")).await.unwrap();
        store
            .write(move |s| {
                s.add_pid("proc", "gone", gone_pid)?;
                s.add_pid("proc", "alive", alive_pid)
            })
            .await
            .unwrap();
        gone.kill_and_wait();
        let mut states: Vec<(u32, PidState)> = store
            .check_pids()
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.pid, c.state))
            .collect();
        states.sort_by_key(|s| s.0);
        let mut expected = vec![(gone_pid, PidState::Exited), (alive_pid, PidState::Alive)];
        expected.sort_by_key(|s| s.0);
        assert_eq!(states, expected);

        let dry = store
            .reap(ReapOptions::new().kill(true).dry_run(true))
            .await
            .unwrap();
        assert_eq!(dry.len(), 2);
        assert_eq!(
            store.check_pids().await.unwrap().len(),
            2,
            "a dry run removes nothing"
        );

        let reaped = store
            .reap(ReapOptions::new().kill(true).grace(Duration::from_secs(5)))
            .await
            .unwrap();
        let mut actions: Vec<(u32, ReapAction)> =
            reaped.iter().map(|r| (r.check.pid, r.action)).collect();
        actions.sort_by_key(|a| a.0);
        let mut expected = vec![
            (gone_pid, ReapAction::Removed),
            (alive_pid, ReapAction::Killed),
        ];
        expected.sort_by_key(|a| a.0);
        assert_eq!(actions, expected);
        assert_eq!(store.check_pids().await.unwrap(), Vec::new());
        store.close().await.unwrap();
    });
    assert!(!alive.is_running(), "the reaped sleep was stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_does_not_wait_behind_a_write() {
    let (_dir, store) = temp_async_store();
    store.save(plugin("a", "b")).await.unwrap();
    let (release, blocked) = block_writer(&store).await;
    // The writer is busy until released; reads still answer.
    assert!(store.get("a", "b").await.unwrap().is_some());
    assert_eq!(store.count(PluginQuery::new()).await.unwrap(), 1);
    release.send(()).unwrap();
    blocked.await;
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_sees_another_process_commit_and_ends_on_close() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plugins.db");
    let store = AsyncStore::open(&db).unwrap();
    store.save(plugin("asr", "tiny")).await.unwrap();
    let mut feed = store.changes(store.change_cursor().await.unwrap());
    // Another process (the sqlite3 CLI) edits the file by hand.
    sqlite3(
        &db,
        "UPDATE plugins SET title = 'edited' WHERE category = 'asr' AND name = 'tiny';",
    );
    let item = tokio::time::timeout(Duration::from_millis(500), feed.next())
        .await
        .expect("the stream saw the commit within 500 ms")
        .expect("an item")
        .unwrap();
    let Changes::Since { changes, .. } = item else {
        panic!("expected changes, got {item:?}");
    };
    let ids: Vec<&str> = changes.iter().map(|c| c.unique_id.as_str()).collect();
    assert_eq!(ids, ["asr_tiny"]);

    // A save through the handle shows up too, and close ends the stream.
    store.save(plugin("asr", "base")).await.unwrap();
    let item = feed.next().await.expect("an item").unwrap();
    assert_eq!(item.changes()[0].unique_id, "asr_base");
    store.close().await.unwrap();
    assert!(feed.next().await.is_none());
    // A stream asked for after close says so once.
    let mut late = store.changes(0);
    assert!(matches!(late.next().await, Some(Err(Error::Closed))));
    assert!(late.next().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_completes_queued_work_then_refuses_calls() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plugins.db");
    let store = AsyncStore::open(&db).unwrap();
    let (release, blocked) = block_writer(&store).await;
    // Ten saves queued behind the busy writer.
    let mut saves: Vec<_> = (0..10)
        .map(|i| Box::pin(store.save(plugin("queued", &format!("p{i}")))))
        .collect();
    for save in &mut saves {
        assert!(!poll_once(save).await);
    }
    let closing = tokio::spawn(store.close());
    // Once close has begun, a new call is refused (it waits on nothing).
    loop {
        match store.get("queued", "p0").await {
            Err(Error::Closed) => break,
            Ok(_) => tokio::task::yield_now().await,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    release.send(()).unwrap();
    blocked.await;
    for save in saves {
        save.await.unwrap();
    }
    closing.await.unwrap().unwrap();
    assert!(matches!(
        store.save(plugin("late", "x")).await,
        Err(Error::Closed)
    ));
    store.close().await.unwrap();
    let sync = MetadataStore::open(&db).unwrap();
    assert_eq!(
        sync.count(&PluginQuery::new().category("queued")).unwrap(),
        10
    );
    assert_eq!(sync.count(&PluginQuery::new().category("late")).unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_dropped_before_its_work_started_cancels_it() {
    let (_dir, store) = temp_async_store();
    let (release, blocked) = block_writer(&store).await;
    let mut save = Box::pin(store.save(plugin("dropped", "p")));
    assert!(!poll_once(&mut save).await, "queued behind the busy writer");
    drop(save);
    // A future never polled queues nothing at all.
    drop(store.save(plugin("never", "polled")));
    release.send(()).unwrap();
    blocked.await;
    // A write queued after it has run once this resolves.
    store.save(plugin("kept", "p")).await.unwrap();
    assert_eq!(store.get("dropped", "p").await.unwrap(), None);
    assert_eq!(store.get("never", "polled").await.unwrap(), None);
    assert!(store.get("kept", "p").await.unwrap().is_some());
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_closure_is_an_error_and_the_handle_goes_on() {
    let (_dir, store) = temp_async_store();
    let saved = plugin("before", "panic");
    let p = saved.clone();
    let result: Result<(), Error> = store
        .write(move |s| {
            s.save(&p)?;
            panic!("boom after a save");
        })
        .await;
    match result {
        Err(Error::Panicked { message }) => assert_eq!(message, "boom after a save"),
        other => panic!("expected Panicked, got {other:?}"),
    }
    let read: Result<u8, Error> = store.read(|_| panic!("{} in a read", 42)).await;
    assert!(matches!(read, Err(Error::Panicked { message }) if message == "42 in a read"));
    // The save before the panic is committed; both threads still work.
    assert_eq!(store.get("before", "panic").await.unwrap(), Some(saved));
    assert!(store.register(plugin("after", "panic")).await.unwrap());
    assert_eq!(store.count(PluginQuery::new()).await.unwrap(), 2);
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_closure_cannot_write() {
    let (_dir, store) = temp_async_store();
    let p = plugin("read", "only");
    let result = store.read(move |s| s.save(&p)).await;
    assert!(
        matches!(result, Err(Error::ReadOnly { .. })),
        "expected ReadOnly, got {result:?}"
    );
    assert_eq!(store.count(PluginQuery::new()).await.unwrap(), 0);
    store.close().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn an_in_memory_store_runs_on_one_thread_and_cannot_be_watched() {
    let store = AsyncStore::open_in_memory().unwrap();
    assert_eq!((store.readers(), store.path()), (0, None));
    store.save(plugin("mem", "p")).await.unwrap();
    // Reads run on the one connection, which may write.
    let p = plugin("mem", "q");
    store.read(move |s| s.save(&p)).await.unwrap();
    assert_eq!(store.count(PluginQuery::new()).await.unwrap(), 2);
    let mut feed = store.changes(0);
    assert!(matches!(
        feed.next().await,
        Some(Err(Error::InvalidInput {
            field: "changes",
            ..
        }))
    ));
    assert!(feed.next().await.is_none());
    store.close().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_read_only_store_reads_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plugins.db");
    MetadataStore::open(&db)
        .unwrap()
        .save(&plugin("ro", "p"))
        .unwrap();
    let store = AsyncStore::open_read_only(&db).unwrap();
    assert!(store.get("ro", "p").await.unwrap().is_some());
    assert!(matches!(
        store.save(plugin("ro", "q")).await,
        Err(Error::ReadOnly { .. })
    ));
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_beyond_the_queues_capacity_wait_for_a_slot_and_all_complete() {
    let (_dir, store) = temp_async_store();
    let (release, blocked) = block_writer(&store).await;
    // More saves than the writer's queue holds (256), all waiting behind
    // the busy writer: the later ones wait for a slot, not a thread.
    let mut saves = Vec::new();
    for i in 0..400 {
        saves.push(tokio::spawn(store.save(plugin("many", &format!("p{i}")))));
    }
    tokio::task::yield_now().await;
    release.send(()).unwrap();
    blocked.await;
    for save in saves {
        save.await.unwrap().unwrap();
    }
    assert_eq!(
        store
            .count(PluginQuery::new().category("many"))
            .await
            .unwrap(),
        400
    );
    store.close().await.unwrap();
}
