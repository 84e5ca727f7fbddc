//! The store's operations on [`AsyncStore`]: each the
//! [`MetadataStore`] method of the same name, run on the writer (writes)
//! or a reader (reads), as one transaction, taking owned arguments and
//! returning a `Send + 'static` future that queues nothing until first
//! polled.

use std::future::Future;

use futures_channel::oneshot;

use super::AsyncStore;
use super::queue::call;
use crate::cost::{CostQuery, CostReport};
use crate::error::{Error, Result};
use crate::model::{PluginMetadata, PluginSummary};
use crate::query::PluginQuery;
use crate::store::{MetadataStore, PidCheck, ReapOptions, Reaped};

impl AsyncStore {
    /// Runs `f` on a reader connection (the least busy; the writer when
    /// there are none) and returns what it returns. The connection is
    /// read-only: a store call in `f` that writes fails with
    /// [`Error::ReadOnly`]. Each store call in `f` is its own transaction.
    /// A panic in `f` is returned as [`Error::Panicked`].
    ///
    /// `f` runs on the store's thread: it must not await this handle (it
    /// would wait for its own thread), and a long `f` holds that reader
    /// for as long as it runs.
    pub fn read<T, F>(&self, f: F) -> impl Future<Output = Result<T>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&MetadataStore) -> Result<T> + Send + 'static,
    {
        // The future holds the store (not just its queue), so the store
        // stays open while a call is pending.
        let shared = self.shared.clone();
        async move { call(shared.read_queue(), f).await }
    }

    /// Runs `f` on the writer connection, after the writes queued before
    /// it, and returns what it returns: for every write without a method
    /// here (`add_pid`, `set_remote_status`, `backup`…). Each store call in
    /// `f` is its own transaction, so a closure that panics after a save
    /// leaves that save committed; the panic is returned as
    /// [`Error::Panicked`].
    ///
    /// `f` runs on the writer thread: it must not await this handle (it
    /// would wait for its own thread), and every other write waits while
    /// it runs.
    pub fn write<T, F>(&self, f: F) -> impl Future<Output = Result<T>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&MetadataStore) -> Result<T> + Send + 'static,
    {
        let shared = self.shared.clone();
        async move { call(shared.writer.clone(), f).await }
    }

    /// [`MetadataStore::save`], on the writer.
    pub fn save(
        &self,
        plugin: PluginMetadata,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        self.write(move |s| s.save(&plugin))
    }

    /// [`MetadataStore::save_all`] (one transaction: all or nothing), on
    /// the writer. Reads go on meanwhile on the readers.
    pub fn save_all(
        &self,
        plugins: Vec<PluginMetadata>,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        self.write(move |s| s.save_all(&plugins))
    }

    /// [`MetadataStore::register`] (true if the plugin was new), on the
    /// writer.
    pub fn register(
        &self,
        plugin: PluginMetadata,
    ) -> impl Future<Output = Result<bool>> + Send + 'static {
        self.write(move |s| s.register(&plugin))
    }

    /// [`MetadataStore::get`], on a reader.
    pub fn get(
        &self,
        category: impl Into<String>,
        name: impl Into<String>,
    ) -> impl Future<Output = Result<Option<PluginMetadata>>> + Send + 'static {
        let (category, name) = (category.into(), name.into());
        self.read(move |s| s.get(&category, &name))
    }

    /// [`MetadataStore::query`], on a reader.
    pub fn query(
        &self,
        query: PluginQuery,
    ) -> impl Future<Output = Result<Vec<PluginMetadata>>> + Send + 'static {
        self.read(move |s| s.query(&query))
    }

    /// [`MetadataStore::count`], on a reader.
    pub fn count(&self, query: PluginQuery) -> impl Future<Output = Result<u64>> + Send + 'static {
        self.read(move |s| s.count(&query))
    }

    /// [`MetadataStore::summaries`], on a reader.
    pub fn summaries(
        &self,
        query: PluginQuery,
    ) -> impl Future<Output = Result<Vec<PluginSummary>>> + Send + 'static {
        self.read(move |s| s.summaries(&query))
    }

    /// [`MetadataStore::delete`] (true if there was such a plugin), on the
    /// writer.
    pub fn delete(
        &self,
        category: impl Into<String>,
        name: impl Into<String>,
    ) -> impl Future<Output = Result<bool>> + Send + 'static {
        let (category, name) = (category.into(), name.into());
        self.write(move |s| s.delete(&category, &name))
    }

    /// [`MetadataStore::check_pids`], on a reader (it only reads the file
    /// and asks the OS).
    pub fn check_pids(&self) -> impl Future<Output = Result<Vec<PidCheck>>> + Send + 'static {
        self.read(|s| s.check_pids())
    }

    /// [`MetadataStore::reap`], in three steps so no write waits for the
    /// grace period: the check on a reader; with
    /// [`kill`](ReapOptions::kill), the signals and the grace period on a
    /// thread of their own; the removal on the writer. A dry run only
    /// reads. The removal deletes a PID's row only if it is still the row
    /// checked, as in the one-call `reap`.
    pub fn reap(
        &self,
        options: ReapOptions,
    ) -> impl Future<Output = Result<Vec<Reaped>>> + Send + 'static {
        let shared = self.shared.clone();
        async move {
            let check = options.clone();
            let mut plan = call(shared.read_queue(), move |s| s.reap_plan(&check)).await?;
            if options.dry_run {
                return Ok(plan);
            }
            if options.kill {
                let (done, stopped) = oneshot::channel();
                std::thread::Builder::new()
                    .name("metastore-reap".to_owned())
                    .spawn(move || {
                        crate::store::stop_alive(&mut plan, options.grace);
                        let _ = done.send(plan);
                    })?;
                plan = stopped.await.map_err(|_| Error::Panicked {
                    message: "stopping the reaped processes panicked".to_owned(),
                })?;
            }
            call(shared.writer.clone(), move |s| s.reap_remove(plan)).await
        }
    }

    /// [`MetadataStore::cost_report`], on a reader.
    pub fn cost_report(
        &self,
        query: CostQuery,
    ) -> impl Future<Output = Result<CostReport>> + Send + 'static {
        self.read(move |s| s.cost_report(&query))
    }

    /// [`MetadataStore::change_cursor`], on a reader: where to start
    /// [`changes`](Self::changes) to hear only what changes from now on.
    pub fn change_cursor(&self) -> impl Future<Output = Result<u64>> + Send + 'static {
        self.read(|s| s.change_cursor())
    }
}
