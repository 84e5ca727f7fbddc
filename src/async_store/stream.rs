//! [`ChangeStream`]: the change feed as a `Stream`, fed by one
//! [`ChangeWatcher`] thread per stream.
//!
//! The thread polls the watcher's connection every interval (one `PRAGMA
//! data_version`, see `store/watch.rs`) and, after another connection
//! committed, reads the log and hands a non-empty batch (or a
//! [`Changes::Reset`]) to the stream through a small buffer, waking the
//! task that waits on it. While the buffer is full the thread reads
//! nothing: the watcher's cursor stays put, so the next read takes every
//! change since in one batch and nothing is lost or held twice. An error
//! is an item and the thread goes on.
//!
//! The thread waits on a condition variable, not a sleep: dropping the
//! stream or closing the store wakes it at once, and it ends.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use futures_core::Stream;

use super::{AsyncStore, lock, open_reader};
use crate::error::{Error, Result};
use crate::model::Changes;
use crate::open::StoreOptions;
use crate::store::ChangeWatcher;

/// Batches a stream holds that its task has not taken yet.
const BUFFER: usize = 4;

/// The change feed of an [`AsyncStore`] as a
/// `Stream<Item = Result<Changes>>` (`Send + Unpin + 'static`): each item
/// is a non-empty [`Changes::Since`] or a [`Changes::Reset`], in commit
/// order, by any connection or process; an error is an item and the stream
/// goes on. It ends (yields `None`) when the store is closed; dropping it
/// stops its thread.
#[derive(Debug)]
#[must_use = "a stream does nothing unless polled"]
pub struct ChangeStream {
    state: Arc<FeedState>,
}

/// The part of a stream the store keeps, to end it on `close`.
pub(super) struct Feed {
    state: Arc<FeedState>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct FeedState {
    inner: Mutex<FeedInner>,
    /// Wakes the thread early: the stream was dropped or the store closed.
    nudge: Condvar,
}

#[derive(Debug, Default)]
struct FeedInner {
    items: VecDeque<Result<Changes>>,
    /// The thread is done: `None` after the last item.
    ended: bool,
    /// The thread should end.
    stop: bool,
    waker: Option<Waker>,
}

impl FeedState {
    fn new(inner: FeedInner) -> Arc<FeedState> {
        Arc::new(FeedState {
            inner: Mutex::new(inner),
            nudge: Condvar::new(),
        })
    }

    fn push(&self, item: Result<Changes>) {
        let mut inner = lock(&self.inner);
        inner.items.push_back(item);
        if let Some(waker) = inner.waker.take() {
            waker.wake();
        }
    }

    fn end(&self) {
        let mut inner = lock(&self.inner);
        inner.ended = true;
        if let Some(waker) = inner.waker.take() {
            waker.wake();
        }
    }

    /// Waits up to `interval` or until nudged; whether to go on, and
    /// whether there is room for another batch.
    fn pause(&self, interval: Duration) -> (bool, bool) {
        let inner = lock(&self.inner);
        let (inner, _) = self
            .nudge
            .wait_timeout_while(inner, interval, |i| !i.stop)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (!inner.stop, inner.items.len() < BUFFER)
    }
}

impl Feed {
    /// Tells the thread to end (without waiting for it).
    pub(super) fn stop(&self) {
        lock(&self.state.inner).stop = true;
        self.state.nudge.notify_all();
    }

    /// Waits for the thread to end (after [`stop`](Self::stop)).
    pub(super) fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl AsyncStore {
    /// The change feed after `cursor` (from
    /// [`change_cursor`](Self::change_cursor) for "from now on", or 0 for
    /// the whole log), polled every
    /// [`ChangeWatcher::DEFAULT_INTERVAL`] (100 ms): the longest a commit
    /// goes unnoticed. See [`ChangeStream`].
    ///
    /// Each stream has a thread and a connection of its own. A store in
    /// memory cannot be watched, and a closed one has nothing to watch:
    /// the stream yields [`Error::InvalidInput`] or [`Error::Closed`] once
    /// and ends.
    pub fn changes(&self, cursor: u64) -> ChangeStream {
        self.changes_every(cursor, ChangeWatcher::DEFAULT_INTERVAL)
    }

    /// [`changes`](Self::changes), polling every `interval` (at least
    /// 1 ms).
    pub fn changes_every(&self, cursor: u64, interval: Duration) -> ChangeStream {
        let once = |e: Error| ChangeStream {
            state: FeedState::new(FeedInner {
                items: VecDeque::from([Err(e)]),
                ended: true,
                ..FeedInner::default()
            }),
        };
        let options = self.shared.options.clone();
        let Some(path) = self.shared.path.clone() else {
            return once(Error::invalid(
                "changes",
                "an in-memory store cannot be watched: no other connection can change it",
            ));
        };
        let mut feeds = lock(&self.shared.streams);
        if lock(&self.shared.closing).started {
            return once(Error::Closed);
        }
        feeds.retain(|f| f.thread.as_ref().is_some_and(|t| !t.is_finished()));
        let state = FeedState::new(FeedInner::default());
        let feeder = state.clone();
        let spawned = std::thread::Builder::new()
            .name("metastore-changes".to_owned())
            .spawn(move || feed(&feeder, path, &options, cursor, interval));
        match spawned {
            Ok(thread) => {
                feeds.push(Feed {
                    state: state.clone(),
                    thread: Some(thread),
                });
                ChangeStream { state }
            }
            Err(e) => once(e.into()),
        }
    }
}

/// The thread of one stream (see the module doc).
fn feed(state: &FeedState, path: PathBuf, options: &StoreOptions, cursor: u64, interval: Duration) {
    let interval = interval.max(Duration::from_millis(1));
    let watcher = open_reader(&path, options).and_then(|reader| reader.watch(cursor));
    let mut watcher = match watcher {
        Ok(w) => w.interval(interval),
        Err(e) => {
            state.push(Err(e));
            state.end();
            return;
        }
    };
    // The first read takes what is already logged after the cursor.
    let mut read_now = true;
    let mut go_on = true;
    while go_on {
        if read_now {
            let item = watcher.changes();
            if !matches!(&item, Ok(c) if c.is_empty()) {
                state.push(item);
            }
        }
        let room;
        (go_on, room) = state.pause(interval);
        read_now = room
            && match watcher.poll() {
                Ok(changed) => changed,
                Err(e) => {
                    state.push(Err(e));
                    false
                }
            };
    }
    state.end();
}

impl Stream for ChangeStream {
    type Item = Result<Changes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Changes>>> {
        let mut inner = lock(&self.state.inner);
        if let Some(item) = inner.items.pop_front() {
            return Poll::Ready(Some(item));
        }
        if inner.ended {
            return Poll::Ready(None);
        }
        inner.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for ChangeStream {
    fn drop(&mut self) {
        lock(&self.state.inner).stop = true;
        self.state.nudge.notify_all();
    }
}
