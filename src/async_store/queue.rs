//! The work queue between the handle and a connection's thread, and the
//! threads that drain it.
//!
//! A [`Queue`] is a bounded FIFO of [`Job`]s under one mutex: callers push
//! from async code ([`Enqueue`], which waits for a free slot by parking its
//! waker, never by blocking a thread), worker threads pop with a condition
//! variable. One queue feeds the writer; another, shared by every reader
//! thread, feeds the readers, so the next free reader takes the next read
//! (the least busy one, by construction). The capacity is a plain count:
//! unlike a `futures-channel` sender, nothing a caller does adds slots.
//!
//! A job carries its caller's `oneshot` sender. Before it runs, the worker
//! asks whether the caller is still waiting (`is_canceled`): a future
//! dropped before its work started cancels it. Work that started runs to
//! its end; its result is then dropped.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures_channel::oneshot;

use crate::error::{Error, Result};
use crate::store::MetadataStore;

/// How many calls wait in one queue (the writer's, or the readers'
/// shared one) before a caller has to wait for a slot.
pub(super) const CAPACITY: usize = 256;

/// How long an idle worker looks for the next job before it sleeps: six
/// rounds of spinning (1 to 32 spin hints), then yields of its time slice.
const SPIN_STEPS: u32 = 10;

/// One call, ready to run on a connection's thread.
pub(super) type Job = Box<dyn FnOnce(&MetadataStore) + Send + 'static>;

/// A bounded queue of jobs (see the module doc).
pub(super) struct Queue {
    state: Mutex<State>,
    /// Signalled when a job arrives or the queue closes.
    work: Condvar,
    /// `jobs.len()`, readable without the lock (by a spinning worker).
    queued: AtomicUsize,
}

struct State {
    jobs: VecDeque<Job>,
    /// No more pushes; workers finish what is queued, then stop.
    closed: bool,
    /// Callers waiting for a free slot.
    waiting: Vec<Waker>,
}

impl Queue {
    pub(super) fn new() -> Arc<Queue> {
        Arc::new(Queue {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                closed: false,
                waiting: Vec::new(),
            }),
            work: Condvar::new(),
            queued: AtomicUsize::new(0),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic is never raised while the lock is held (jobs run outside
        // it), so a poisoned lock still guards consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job` if there is a slot; `Pending` (with the waker kept)
    /// if not; `Closed` once [`close`](Self::close) was called.
    fn poll_push(&self, job: &mut Option<Job>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut state = self.state();
        if state.closed {
            return Poll::Ready(Err(Error::Closed));
        }
        if state.jobs.len() >= CAPACITY {
            if !state.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                state.waiting.push(cx.waker().clone());
            }
            return Poll::Pending;
        }
        if let Some(job) = job.take() {
            state.jobs.push_back(job);
            self.queued.store(state.jobs.len(), Ordering::Release);
            self.work.notify_one();
        }
        Poll::Ready(Ok(()))
    }

    /// The next job, waiting for one; `None` once the queue is closed and
    /// empty. An idle worker first spins and yields briefly (as std's and
    /// crossbeam's channels do) before it sleeps on the condition
    /// variable: a caller that awaits one call and makes the next finds
    /// the worker awake, which saves a thread wake-up per call.
    fn pop(&self) -> Option<Job> {
        for step in 0..SPIN_STEPS {
            if self.queued.load(Ordering::Acquire) > 0 {
                break;
            }
            if step < 6 {
                for _ in 0..(1u32 << step) {
                    std::hint::spin_loop();
                }
            } else {
                std::thread::yield_now();
            }
        }
        let mut state = self.state();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                self.queued.store(state.jobs.len(), Ordering::Release);
                // A slot is free: let every waiting caller try again (a
                // waiter whose future was dropped would swallow a lone
                // wake-up).
                for waker in state.waiting.drain(..) {
                    waker.wake();
                }
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state = self
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Refuses further pushes; what is queued still runs. Wakes the
    /// workers (to stop when empty) and every waiting caller (to fail with
    /// [`Error::Closed`]).
    pub(super) fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        for waker in state.waiting.drain(..) {
            waker.wake();
        }
        self.work.notify_all();
    }

    /// Runs the jobs of `queue` on `store` until the queue is closed and
    /// empty: the body of every connection's thread.
    pub(super) fn serve(&self, store: &MetadataStore) {
        while let Some(job) = self.pop() {
            job(store);
        }
    }
}

/// The future that puts a job in a queue: ready once queued, waiting
/// (without blocking a thread) while the queue is full.
pub(super) struct Enqueue {
    pub(super) queue: Arc<Queue>,
    pub(super) job: Option<Job>,
}

impl Future for Enqueue {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        this.queue.poll_push(&mut this.job, cx)
    }
}

/// Runs `f` on the thread that serves `queue` and returns its result:
/// queued on the first poll, skipped if the caller's future is dropped
/// before it starts, a panic returned as [`Error::Panicked`].
pub(super) async fn call<T, F>(queue: Arc<Queue>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&MetadataStore) -> Result<T> + Send + 'static,
{
    let (done, result) = oneshot::channel();
    let job: Job = Box::new(move |store: &MetadataStore| {
        if done.is_canceled() {
            return;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| f(store))).unwrap_or_else(|payload| {
            Err(Error::Panicked {
                message: panic_message(payload.as_ref()),
            })
        });
        // The caller may have gone meanwhile: its result is dropped.
        let _ = done.send(outcome);
    });
    Enqueue {
        queue,
        job: Some(job),
    }
    .await?;
    // The sender is dropped unsent only if the job was dropped unrun: the
    // store went away under it.
    result.await.unwrap_or(Err(Error::Closed))
}

/// The text of a panic's payload.
pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
