//! Whole plugins: save, get, list, query, count, delete.
//!
//! Reading assembles plugins without one query per plugin: one statement
//! streams the plugins joined with their remote resources, a second streams
//! their PIDs in the same `(category, name)` order, and the two are merged
//! as they go. Memory use is one plugin at a time for
//! [`MetadataStore::for_each`].

use std::collections::HashMap;

use rusqlite::{OptionalExtension, ToSql, params_from_iter};

use super::decode::Col;
use super::identity::{StoredIdentity, decode_identity};
use super::read::{for_each_in, get_in};
use super::resources::{fresh_identity, write_remote};
use super::sql::{self, ReadSql};
use super::transitions::{self, Key};
use super::{MetadataStore, WriteTx};
use crate::error::{Error, Fallible, Result};
use crate::model::ChangeOp;
use crate::model::{CloudProviderType, PluginExecutionMode, PluginMetadata};
use crate::query::PluginQuery;
use crate::time::now;

impl MetadataStore {
    /// Inserts the plugin, or replaces the one with the same
    /// `(category, name)`: its fields, its PID list and its remote resource
    /// (removed if `remote_resource` is `None`), in one transaction.
    /// `created_at` is kept, `updated_at` set to now. Invalid input is
    /// refused before anything is written.
    pub fn save(&self, plugin: &PluginMetadata) -> Result<()> {
        plugin.validate()?;
        self.checked(|| {
            let tx = self.write()?;
            save_in(&tx, plugin, &now(), Claim::Fresh)?;
            tx.commit()
        })
    }

    /// Saves every plugin in one transaction: all or nothing. Every plugin
    /// is validated before anything is written; when two share a key the
    /// later one wins.
    pub fn save_all<'a>(
        &self,
        plugins: impl IntoIterator<Item = &'a PluginMetadata>,
    ) -> Result<()> {
        self.save_many(plugins, Claim::Fresh).map(drop)
    }

    /// [`save_all`](Self::save_all) for records that come from elsewhere
    /// (a restore, another machine's export): a PID new to its plugin is
    /// stored with no identity — `unverified`, never signalled — instead
    /// of claiming whatever process holds that number here now. A PID the
    /// plugin already had keeps its row, as in `save_all`. Returns how
    /// many PIDs were stored without identity.
    pub fn save_all_unclaimed<'a>(
        &self,
        plugins: impl IntoIterator<Item = &'a PluginMetadata>,
    ) -> Result<usize> {
        self.save_many(plugins, Claim::None)
    }

    /// Validates every plugin, then saves them in one transaction with
    /// `claim` for their new PIDs; returns how many PIDs were stored
    /// without identity.
    fn save_many<'a>(
        &self,
        plugins: impl IntoIterator<Item = &'a PluginMetadata>,
        claim: Claim,
    ) -> Result<usize> {
        let plugins: Vec<&PluginMetadata> = plugins.into_iter().collect();
        for plugin in &plugins {
            plugin.validate()?;
        }
        self.checked(|| {
            let tx = self.write()?;
            let at = now();
            let mut unclaimed = 0;
            for plugin in plugins {
                unclaimed += save_in(&tx, plugin, &at, claim)?;
            }
            tx.commit()?;
            Ok(unclaimed)
        })
    }

    /// Records the plugin's definition and keeps the resources the store
    /// already holds for it: the way an app registers its plugins at
    /// start-up. A plugin not stored yet is saved whole (as
    /// [`save`](Self::save)); one already stored gets every field from
    /// `plugin` except `spawned_pids`, `container_id` and
    /// `remote_resource`, which stay as stored — so the PIDs, container and
    /// cloud instance of a run that crashed are still there to
    /// [`check_pids`](Self::check_pids) and [`reap`](Self::reap).
    /// Returns true if the plugin was new.
    ///
    /// Use [`save`](Self::save) when `plugin` is the whole current truth
    /// (an import, a restore, a record you just read and changed): it
    /// replaces the resources too.
    pub fn register(&self, plugin: &PluginMetadata) -> Result<bool> {
        plugin.validate()?;
        self.checked(|| {
            let tx = self.write()?;
            let at = now();
            let existing: Option<i64> = tx
                .prepare_cached(sql::PLUGIN_ID)?
                .query_row([&plugin.category, &plugin.name], |r| r.get(0))
                .optional()?;
            match existing {
                None => {
                    save_in(&tx, plugin, &at, Claim::Fresh)?;
                }
                Some(id) => {
                    let p = plugin;
                    tx.changed(id, &p.category, &p.name, ChangeOp::Update);
                    let config = serde_json::to_string(&p.config_schema)?;
                    let config = config.as_str();
                    let mode = p.execution_mode.as_str();
                    let id: [&dyn ToSql; 1] = [&id];
                    let rest: [&dyn ToSql; 2] = [&p.conda_env_name, &at];
                    let values = id
                        .into_iter()
                        .chain(definition(p, &config, &mode))
                        .chain(rest);
                    tx.prepare_cached(sql::UPDATE_DEFINITION)?
                        .execute(params_from_iter(values))?;
                }
            }
            tx.commit()?;
            Ok(existing.is_none())
        })
    }

    /// The plugin with this key, if any.
    pub fn get(&self, category: &str, name: &str) -> Result<Option<PluginMetadata>> {
        self.checked(|| {
            let tx = self.read()?;
            let found = get_in(&tx, &self.path, category, name)?;
            tx.commit()?;
            Ok(found)
        })
    }

    /// The plugin whose [`unique_id`](PluginMetadata::unique_id) is `id`, if
    /// any. Since `category_name` can be split more than one way, an id that
    /// matches several plugins is an [`Error::AmbiguousId`] listing them.
    /// Each split is an index lookup; the table is never scanned.
    pub fn get_by_unique_id(&self, id: &str) -> Result<Option<PluginMetadata>> {
        match self.resolve_unique_id(id)? {
            Some((category, name)) => self.get(&category, &name),
            None => Ok(None),
        }
    }

    /// Deletes the plugin with its PIDs and remote resource; true if it
    /// existed.
    pub fn delete(&self, category: &str, name: &str) -> Result<bool> {
        self.checked(|| {
            let tx = self.write()?;
            transitions::before_delete(&tx, Key { category, name })?;
            let deleted: Option<i64> = tx
                .prepare_cached(sql::DELETE_PLUGIN)?
                .query_row([category, name], |r| r.get(0))
                .optional()?;
            if let Some(id) = deleted {
                tx.changed(id, category, name, ChangeOp::Delete);
            }
            tx.commit()?;
            Ok(deleted.is_some())
        })
    }

    /// Every plugin, ordered by `(category, name)`.
    pub fn list(&self) -> Result<Vec<PluginMetadata>> {
        self.query(&PluginQuery::new())
    }

    /// The plugins matching `query`, ordered by `(category, name)`.
    pub fn query(&self, query: &PluginQuery) -> Result<Vec<PluginMetadata>> {
        let mut out = Vec::new();
        self.for_each(query, |p| {
            out.push(p);
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `f` with each plugin matching `query`, in `(category, name)`
    /// order, holding one plugin in memory at a time: the streaming form of
    /// [`query`](Self::query) for very large stores. An error from `f`
    /// stops the walk and is returned. All plugins come from one snapshot.
    /// `f` must not use this same store (its read transaction is open);
    /// another store on the same file is fine.
    pub fn for_each<F>(&self, query: &PluginQuery, f: F) -> Result<()>
    where
        F: FnMut(PluginMetadata) -> Result<()>,
    {
        self.checked(|| {
            let tx = self.read()?;
            for_each_in(&tx, self.site(), &ReadSql::new(query), None, f)?;
            Ok(tx.commit()?)
        })
    }

    /// [`for_each`](Self::for_each), except that a plugin that cannot be
    /// read (a value forced into the file by hand) is skipped instead of
    /// stopping the walk. Returns one [`Error::BadData`] per skipped
    /// plugin, naming table, column, row and value: the way to list or
    /// export the rest of a damaged store, and to find what to repair (a
    /// [`save`](Self::save) or [`delete`](Self::delete) of the plugin never
    /// needs to read it).
    pub fn for_each_readable<F>(&self, query: &PluginQuery, f: F) -> Result<Vec<Error>>
    where
        F: FnMut(PluginMetadata) -> Result<()>,
    {
        self.checked(|| {
            let tx = self.read()?;
            let mut skipped = Vec::new();
            for_each_in(
                &tx,
                self.site(),
                &ReadSql::new(query),
                Some(&mut skipped),
                f,
            )?;
            tx.commit()?;
            Ok(skipped)
        })
    }

    /// The key `(category, name)` of the plugin whose
    /// [`unique_id`](PluginMetadata::unique_id) is `id`, found without
    /// reading the plugin itself (so one with a bad value in the file can
    /// still be named, repaired or deleted). An id that matches several
    /// plugins is an [`Error::AmbiguousId`].
    pub fn resolve_unique_id(&self, id: &str) -> Result<Option<(String, String)>> {
        let mut found = self.checked(|| {
            let tx = self.read()?;
            let mut found = Vec::new();
            {
                let mut stmt = tx.prepare_cached(sql::PLUGIN_ID)?;
                for (category, name) in PluginMetadata::unique_id_splits(id) {
                    if stmt.exists([category, name])? {
                        found.push((category.to_owned(), name.to_owned()));
                    }
                }
            }
            tx.commit()?;
            Ok(found)
        })?;
        match found.len() {
            0 | 1 => Ok(found.pop()),
            _ => Err(Error::AmbiguousId {
                id: id.to_owned(),
                candidates: found,
            }),
        }
    }

    /// How many plugins [`query`](Self::query) would return (limit and
    /// offset included), without loading them.
    pub fn count(&self, query: &PluginQuery) -> Result<u64> {
        let (sql, params) = sql::count_sql(query);
        self.checked(|| {
            let n: i64 = self
                .conn
                .prepare_cached(&sql)?
                .query_row(params_from_iter(params.iter()), |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// SQLite's `EXPLAIN QUERY PLAN` for the statements that
    /// [`query`](Self::query) runs for `query` (the plugins statement, then
    /// the PIDs statement), one `detail` line each, indented by depth: a
    /// diagnostic showing which indexes a filter uses.
    pub fn query_plan(&self, query: &PluginQuery) -> Result<Vec<String>> {
        let sql = ReadSql::new(query);
        self.checked(|| {
            let mut lines = Vec::new();
            for statement in [&sql.plugins, &sql.pids] {
                let mut stmt = self
                    .conn
                    .prepare(&format!("EXPLAIN QUERY PLAN {statement}"))?;
                let mut rows = stmt.query(params_from_iter(sql.params.iter()))?;
                let mut depth: Vec<(i64, usize)> = Vec::new();
                while let Some(row) = rows.next()? {
                    let (id, parent, detail): (i64, i64, String) =
                        (row.get(0)?, row.get(1)?, row.get(3)?);
                    while depth.last().is_some_and(|&(p, _)| p != parent) {
                        depth.pop();
                    }
                    let level = depth.last().map_or(0, |&(_, l)| l + 1);
                    depth.push((id, level));
                    lines.push(format!("{}{detail}", "  ".repeat(level)));
                }
            }
            Ok(lines)
        })
    }

    /// The plugins with this execution mode.
    pub fn find_by_execution_mode(&self, mode: PluginExecutionMode) -> Result<Vec<PluginMetadata>> {
        self.query(&PluginQuery::new().execution_mode(mode))
    }

    /// The plugins whose remote resource has this provider.
    pub fn find_by_provider(&self, provider: CloudProviderType) -> Result<Vec<PluginMetadata>> {
        self.query(&PluginQuery::new().provider(provider))
    }

    /// The plugins that hold active resources (PIDs, a non-empty container
    /// id, or a remote resource whose status is exactly `"running"`).
    pub fn find_active(&self) -> Result<Vec<PluginMetadata>> {
        self.query(&PluginQuery::new().active(true))
    }
}

/// The definition columns of a plugin row, in the order both the upsert
/// and [`register`](MetadataStore::register)'s update bind them: title,
/// config schema (`config`, as JSON text), description, version,
/// configured, execution mode (`mode`, its text), the two `manages_` flags.
fn definition<'a>(
    p: &'a PluginMetadata,
    config: &'a &'a str,
    mode: &'a &'static str,
) -> [&'a dyn ToSql; 8] {
    [
        &p.title,
        config,
        &p.description,
        &p.version,
        &p.is_configured,
        mode,
        &p.manages_child_processes,
        &p.manages_external_resources,
    ]
}

/// How a save records a PID new to its plugin.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// With the identity of the process holding it now.
    Fresh,
    /// With no identity (`unverified`).
    None,
}

/// The upsert itself, inside the caller's transaction; returns how many
/// PIDs new to the plugin were stored.
fn save_in(tx: &WriteTx<'_>, p: &PluginMetadata, at: &str, claim: Claim) -> Fallible<usize> {
    let config = serde_json::to_string(&p.config_schema)?;
    let config = config.as_str();
    let mode = p.execution_mode.as_str();
    let key: [&dyn ToSql; 2] = [&p.category, &p.name];
    let rest: [&dyn ToSql; 3] = [&p.container_id, &p.conda_env_name, &at];
    let values = key
        .into_iter()
        .chain(definition(p, &config, &mode))
        .chain(rest);
    let (id, created): (i64, bool) = tx
        .prepare_cached(sql::UPSERT_PLUGIN)?
        .query_row(params_from_iter(values), |r| Ok((r.get(0)?, r.get(1)?)))?;
    // New this transaction (created now, or earlier in it: an insert still).
    let op = if created {
        ChangeOp::Insert
    } else {
        ChangeOp::Update
    };
    tx.changed(id, &p.category, &p.name, op);
    let new = write_pids(tx, p, id, at, created, claim)?;
    let key = Key {
        category: &p.category,
        name: &p.name,
    };
    write_remote(tx, id, key, p.remote_resource.as_ref())?;
    Ok(new)
}

/// Replaces plugin `id`'s PID list with `pids`. A PID the plugin already
/// had keeps its row's identity and `recorded_at` (a re-save is not a fresh
/// claim); a new one gets its process's identity now (or, unclaimed, none).
/// Returns how many PIDs were new.
fn write_pids(
    tx: &WriteTx<'_>,
    p: &PluginMetadata,
    id: i64,
    at: &str,
    created: bool,
    claim: Claim,
) -> Fallible<usize> {
    let pids = &p.spawned_pids;
    // Overwriting must not need to decode what it replaces: a row with a
    // value forced in by hand is simply not kept. A plugin created in this
    // transaction has no claim older than it to keep: its PIDs were
    // recorded now (the identities read again now are the same).
    let mut kept: HashMap<i64, StoredIdentity> = HashMap::new();
    if !pids.is_empty() && !created {
        let mut stmt = tx.prepare_cached(sql::PID_IDENTITIES)?;
        let mut rows = stmt.query([id])?;
        while let Some(row) = rows.next()? {
            let col = Col::new(row, tx.store_path(), "plugin_pids", row.get(0)?);
            if let (Ok(pid), Ok(identity)) = (row.get(1), decode_identity(&col, 2)) {
                kept.insert(pid, identity);
            }
        }
    }
    tx.prepare_cached(sql::DELETE_PIDS)?.execute([id])?;
    if pids.is_empty() {
        return Ok(0);
    }
    let mut new = 0;
    let mut insert = tx.prepare_cached(sql::INSERT_PID)?;
    for (position, &pid) in pids.iter().enumerate() {
        let i = match kept.remove(&i64::from(pid)) {
            Some(identity) => identity,
            None if claim == Claim::None => {
                new += 1;
                StoredIdentity {
                    recorded_at: Some(at.to_owned()),
                    ..StoredIdentity::default()
                }
            }
            None => {
                new += 1;
                fresh_identity(pid, at, None)?
            }
        };
        let key: [&dyn rusqlite::ToSql; 3] = [&id, &(position as i64), &pid];
        insert.execute(params_from_iter(key.into_iter().chain(i.values())))?;
    }
    Ok(new)
}
