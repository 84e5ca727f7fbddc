//! List rows for a UI: [`MetadataStore::summaries`].
//!
//! A list view shows a few columns of every plugin; decoding whole plugins
//! for it parses every `config_schema` and `metadata` JSON document, which
//! is most of the cost of [`MetadataStore::list`]. Summaries read only the
//! columns shown, in two statements whatever the count (the plugins with
//! their remote resources; their PIDs), in row-id order, and sort in
//! memory: SQLite's BINARY collation is byte order, as is Rust's `str`
//! order, so the result is exactly the `(category, name)` order of
//! [`query`](MetadataStore::query).

use std::path::Path;

use rusqlite::{Transaction, params_from_iter};

use super::MetadataStore;
use super::decode::{decode_pid_at, decode_summary};
use super::sql::SummarySql;
use crate::error::{Fallible, Fault, Result};
use crate::model::{PluginSummary, holds_active_resources};
use crate::query::PluginQuery;

impl MetadataStore {
    /// The plugins matching `query` as list rows ([`PluginSummary`]): the
    /// same plugins, in the same `(category, name)` order, as
    /// [`query`](Self::query), without reading or parsing their JSON. All
    /// rows come from one snapshot; a row the library cannot read is an
    /// [`Error::BadData`](crate::error::Error::BadData), as for `query`.
    pub fn summaries(&self, query: &PluginQuery) -> Result<Vec<PluginSummary>> {
        let sql = SummarySql::new(query);
        self.checked(|| {
            let tx = self.read()?;
            let rows = read_summaries(&tx, &self.path, &sql, None)?;
            tx.commit()?;
            Ok(rows)
        })
    }

    /// [`summaries`](Self::summaries), but a plugin with a row the library
    /// cannot read (a value forced into the file by hand) is left out
    /// instead of failing the call, as
    /// [`for_each_readable`](Self::for_each_readable) does for whole
    /// plugins: returns the readable rows and one
    /// [`Error::BadData`](crate::error::Error::BadData) per bad row.
    pub fn summaries_readable(
        &self,
        query: &PluginQuery,
    ) -> Result<(Vec<PluginSummary>, Vec<crate::error::Error>)> {
        let sql = SummarySql::new(query);
        let mut skipped = Vec::new();
        let rows = self.checked(|| {
            let tx = self.read()?;
            let rows = read_summaries(&tx, &self.path, &sql, Some(&mut skipped))?;
            tx.commit()?;
            Ok(rows)
        })?;
        let site = self.site();
        Ok((rows, skipped.into_iter().map(|f| f.at(site)).collect()))
    }
}

/// A decode failure that is a bad row (kept apart by a lenient reader),
/// not a failure to read at all.
fn is_bad_row(fault: &Fault) -> bool {
    matches!(fault, Fault::Whole(crate::error::Error::BadData { .. }))
}

/// Reads the rows of `sql`, gives each its PIDs, and puts them in
/// `(category, name)` order.
/// With `skipped`, a plugin with a bad row is left out and the bad row's
/// error kept there.
fn read_summaries(
    tx: &Transaction<'_>,
    path: &Path,
    sql: &SummarySql,
    mut skipped: Option<&mut Vec<Fault>>,
) -> Fallible<Vec<PluginSummary>> {
    let mut rows: Vec<(i64, PluginSummary)> = Vec::new();
    {
        let mut stmt = tx.prepare_cached(&sql.plugins)?;
        let mut cursor = stmt.query(params_from_iter(sql.params.iter()))?;
        while let Some(row) = cursor.next()? {
            match (decode_summary(row, path), skipped.as_deref_mut()) {
                (Ok(r), _) => rows.push(r),
                (Err(f), Some(skipped)) if is_bad_row(&f) => skipped.push(f),
                (Err(f), _) => return Err(f),
            }
        }
    }
    let mut pids: Vec<(i64, i64, u32)> = Vec::new();
    let mut bad_owners: Vec<i64> = Vec::new();
    {
        let mut stmt = tx.prepare_cached(&sql.pids)?;
        let mut cursor = stmt.query(params_from_iter(sql.params.iter()))?;
        while let Some(row) = cursor.next()? {
            match (decode_pid_at(row, path), skipped.as_deref_mut()) {
                (Ok(p), _) => pids.push(p),
                (Err(f), Some(skipped)) if is_bad_row(&f) => {
                    if let Ok(owner) = row.get::<_, i64>(0) {
                        bad_owners.push(owner);
                    }
                    skipped.push(f);
                }
                (Err(f), _) => return Err(f),
            }
        }
    }
    if !bad_owners.is_empty() {
        rows.retain(|(id, _)| !bad_owners.contains(id));
    }
    // (plugin_id, position) is the table's key: sorted, each plugin's PIDs
    // are one run, in list order.
    pids.sort_unstable();
    for (id, summary) in &mut rows {
        let start = pids.partition_point(|&(owner, _, _)| owner < *id);
        summary.spawned_pids.extend(
            pids[start..]
                .iter()
                .take_while(|&&(owner, _, _)| owner == *id)
                .map(|&(_, _, pid)| pid),
        );
        summary.has_active_resources = holds_active_resources(
            !summary.spawned_pids.is_empty(),
            summary.container_id.as_deref(),
            summary.remote_status.as_deref(),
        );
    }
    if sql.ordered {
        return Ok(rows.into_iter().map(|(_, s)| s).collect());
    }
    Ok(in_key_order(rows))
}

/// The summaries in `(category, name)` order. Sorts positions rather than
/// the rows themselves, so each row moves once.
fn in_key_order(rows: Vec<(i64, PluginSummary)>) -> Vec<PluginSummary> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_unstable_by(|&a, &b| {
        let (a, b) = (&rows[a].1, &rows[b].1);
        (a.category.as_str(), a.name.as_str()).cmp(&(b.category.as_str(), b.name.as_str()))
    });
    let mut slots: Vec<Option<PluginSummary>> = rows.into_iter().map(|(_, s)| Some(s)).collect();
    order
        .into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
        .collect()
}
