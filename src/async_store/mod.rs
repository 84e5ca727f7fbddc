//! [`AsyncStore`]: one store shared by async tasks and threads (feature
//! `async`).
//!
//! A [`MetadataStore`] is one connection: `Send`, not `Sync`. The handle
//! gives an app one value to keep (a Tauri `State`, an `Arc` in a server)
//! whose calls never block the caller's executor:
//! - **one writer thread** owns the write connection; every write goes
//!   there, one after another, through a bounded queue (`queue.rs`);
//! - **a pool of reader threads** (default 2) each own a read-only
//!   connection and take reads from a second queue, so a read never waits
//!   behind a write (WAL lets readers and one writer work at once), only
//!   behind other reads when every reader is busy; with 0 readers, and
//!   for a store in memory, reads run on the writer;
//! - **futures completed through channels**: each call queues a job on its
//!   first poll and awaits a `oneshot` the thread fills, so no runtime is
//!   needed and any executor works (tokio, `futures::executor`, smol…);
//! - **a change stream** per [`changes`](AsyncStore::changes) call, fed by
//!   a [`ChangeWatcher`](crate::ChangeWatcher) on a thread of its own
//!   (`stream.rs`).
//!
//! `methods.rs` holds the store's operations as async methods.
//!
//! # Consistency
//!
//! A read issued after a write's future resolved sees that write (the
//! write committed before its result was sent, and every read starts a new
//! transaction); a read issued while a write runs may or may not.
//!
//! # Panics
//!
//! A panic inside a closure or a store call is caught on its thread and
//! returned as [`Error::Panicked`]; the thread and the handle go on. That
//! needs `panic = "unwind"` (the default): built with `panic = "abort"`,
//! common in release profiles, a panic ends the process.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use futures_channel::oneshot;

use crate::error::{Error, Result};
use crate::open::StoreOptions;
use crate::store::MetadataStore;

mod methods;
mod queue;
mod stream;

use queue::Queue;
pub use stream::ChangeStream;

/// A plugin metadata store shared across async tasks and threads:
/// `Clone + Send + Sync + 'static`, every operation an async method
/// returning a `Send + 'static` future (see the module doc of
/// `async_store` in the source, and the README's "Async apps").
///
/// ```
/// # fn main() -> plugin_metastore::Result<()> {
/// use plugin_metastore::{AsyncStore, PluginMetadata};
///
/// let store = AsyncStore::open_in_memory()?; // or AsyncStore::open("plugins.db")?
/// let ui = store.clone(); // keep one in the app's state; clones are cheap
/// futures::executor::block_on(async {
///     ui.save(PluginMetadata::new("tiny", "asr", "Tiny", serde_json::json!({}))).await?;
///     assert_eq!(ui.get("asr", "tiny").await?.map(|p| p.title), Some("Tiny".into()));
///     store.close().await // finishes queued work; later calls fail with Error::Closed
/// })
/// # }
/// ```
///
/// Dropping every handle (and every pending future) closes the store in
/// the background; threads die with the process, so an app should
/// [`close`](Self::close) it before it exits.
#[derive(Clone)]
pub struct AsyncStore {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AsyncStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncStore")
            .field("path", &self.shared.path)
            .field("readers", &self.shared.readers)
            .finish_non_exhaustive()
    }
}

/// What every clone of a handle shares.
struct Shared {
    writer: Arc<Queue>,
    /// The readers' queue; `None` when reads run on the writer.
    reader: Option<Arc<Queue>>,
    readers: usize,
    /// The file; `None` in memory.
    path: Option<PathBuf>,
    /// How it was opened: the change streams' connections use it too.
    options: StoreOptions,
    /// The connections' threads, joined by `close`.
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The change streams' threads.
    streams: Mutex<Vec<stream::Feed>>,
    closing: Mutex<Closing>,
}

/// Where `close` is.
#[derive(Default)]
struct Closing {
    started: bool,
    done: bool,
    /// Callers of `close` waiting for the threads to be joined.
    waiting: Vec<oneshot::Sender<()>>,
}

/// The number of reader connections [`AsyncStore::open`] starts.
pub const DEFAULT_READERS: usize = 2;

impl AsyncStore {
    /// Opens the store in the file at `path` like [`MetadataStore::open`]
    /// (creating and migrating it), with [`DEFAULT_READERS`] reader
    /// connections. It is synchronous (it opens and migrates the file on
    /// the calling thread): call it at start-up.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, StoreOptions::default(), DEFAULT_READERS)
    }

    /// [`open`](Self::open) with explicit options and `readers` reader
    /// connections (0: reads run on the writer thread).
    pub fn open_with(
        path: impl AsRef<Path>,
        options: StoreOptions,
        readers: usize,
    ) -> Result<Self> {
        let path = path.as_ref();
        let writer = MetadataStore::open_with(path, options.clone())?;
        let readers = (0..readers)
            .map(|_| open_reader(path, &options))
            .collect::<Result<Vec<_>>>()?;
        Self::start(writer, readers, Some(path.to_path_buf()), options)
    }

    /// Opens an existing store for reading only, like
    /// [`MetadataStore::open_read_only`]: every write answers
    /// [`Error::ReadOnly`]. Reads run on [`DEFAULT_READERS`] connections.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let writer = MetadataStore::open_read_only(path)?;
        let options = StoreOptions::default();
        let readers = (0..DEFAULT_READERS)
            .map(|_| open_reader(path, &options))
            .collect::<Result<Vec<_>>>()?;
        Self::start(writer, readers, Some(path.to_path_buf()), options)
    }

    /// A private store in memory ([`MetadataStore::open_in_memory`]): one
    /// connection, so everything runs on one thread. It cannot be watched:
    /// its [`changes`](Self::changes) stream yields one
    /// [`Error::InvalidInput`] and ends.
    pub fn open_in_memory() -> Result<Self> {
        let writer = MetadataStore::open_in_memory()?;
        Self::start(writer, Vec::new(), None, StoreOptions::default())
    }

    fn start(
        writer: MetadataStore,
        readers: Vec<MetadataStore>,
        path: Option<PathBuf>,
        options: StoreOptions,
    ) -> Result<Self> {
        let write_queue = Queue::new();
        let read_queue = (!readers.is_empty()).then(Queue::new);
        let count = readers.len();
        let mut threads = Vec::with_capacity(count + 1);
        let serve = |name: String, queue: Arc<Queue>, store: MetadataStore| {
            std::thread::Builder::new()
                .name(name)
                .spawn(move || queue.serve(&store))
        };
        let started = (|| {
            threads.push(serve(
                "metastore-writer".to_owned(),
                write_queue.clone(),
                writer,
            )?);
            if let Some(queue) = &read_queue {
                for (i, reader) in readers.into_iter().enumerate() {
                    threads.push(serve(
                        format!("metastore-reader-{i}"),
                        queue.clone(),
                        reader,
                    )?);
                }
            }
            Ok::<_, std::io::Error>(())
        })();
        let shared = Shared {
            writer: write_queue,
            reader: read_queue,
            readers: count,
            path,
            options,
            threads: Mutex::new(threads),
            streams: Mutex::new(Vec::new()),
            closing: Mutex::new(Closing::default()),
        };
        // A thread that could not start: stop the ones that did (dropping
        // `shared` closes the queues).
        started?;
        Ok(AsyncStore {
            shared: Arc::new(shared),
        })
    }

    /// The file this store is in (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.shared.path.as_deref()
    }

    /// How many reader connections serve reads (0: reads run on the
    /// writer).
    pub fn readers(&self) -> usize {
        self.shared.readers
    }

    /// Finishes every call queued before it, ends every change stream and
    /// joins the store's threads, then resolves. Calls made after it
    /// begins fail with [`Error::Closed`]; calls racing it either complete
    /// or fail with `Closed`. A second `close` (from any clone) is `Ok`
    /// once the first has finished. Joining runs on a thread of its own,
    /// so awaiting `close` never blocks the executor.
    ///
    /// Do not await `close` inside a [`read`](Self::read) or
    /// [`write`](Self::write) closure: it would wait for its own thread.
    pub fn close(&self) -> impl Future<Output = Result<()>> + Send + 'static {
        let shared = self.shared.clone();
        async move {
            let (done, first) = {
                let mut closing = lock(&shared.closing);
                if closing.done {
                    return Ok(());
                }
                let (tx, rx) = oneshot::channel();
                closing.waiting.push(tx);
                let first = !closing.started;
                closing.started = true;
                (rx, first)
            };
            // Outside the `closing` lock: `changes_every` takes the streams'
            // lock first, then `closing`. A stream made before `started`
            // was set is in the list `stop` walks; one made after is
            // refused.
            if first {
                shared.stop();
                let joiner = shared.clone();
                let spawned = std::thread::Builder::new()
                    .name("metastore-close".to_owned())
                    .spawn(move || joiner.join_all());
                if spawned.is_err() {
                    // No thread to spare: join here (this blocks the
                    // caller's thread for as long as the queued work runs).
                    shared.join_all();
                }
            }
            // The joiner never drops a waiter unsent.
            done.await.map_err(|_| Error::Closed)
        }
    }
}

impl Shared {
    /// The queue reads go to.
    fn read_queue(&self) -> Arc<Queue> {
        self.reader.clone().unwrap_or_else(|| self.writer.clone())
    }

    /// Closes the queues and tells every stream to end (without waiting).
    fn stop(&self) {
        self.writer.close();
        if let Some(reader) = &self.reader {
            reader.close();
        }
        for feed in lock(&self.streams).iter() {
            feed.stop();
        }
    }

    /// Joins every thread (after [`stop`](Self::stop)), then wakes every
    /// `close` caller.
    fn join_all(&self) {
        let threads = std::mem::take(&mut *lock(&self.threads));
        for thread in threads {
            let _ = thread.join();
        }
        let feeds = std::mem::take(&mut *lock(&self.streams));
        for feed in feeds {
            feed.join();
        }
        let mut closing = lock(&self.closing);
        closing.done = true;
        for waiter in closing.waiting.drain(..) {
            let _ = waiter.send(());
        }
    }
}

impl Drop for Shared {
    /// The last handle and future are gone: the store closes in the
    /// background (queued work still runs; threads are not joined).
    fn drop(&mut self) {
        self.stop();
    }
}

/// Opens one reader connection: read-only, so a `read` closure that tries
/// to write gets [`Error::ReadOnly`].
fn open_reader(path: &Path, options: &StoreOptions) -> Result<MetadataStore> {
    MetadataStore::open_read_only_with(path, options.clone())
}

/// Locks `m`; a poisoned lock still guards consistent data here (nothing
/// panics while holding one).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
