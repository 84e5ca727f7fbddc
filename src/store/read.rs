//! Reading whole plugins: one by key, or many by walking two statements
//! side by side (the plugins with their remote resources, and their PIDs in
//! the same order), one plugin at a time.

use std::path::Path;

use rusqlite::{Transaction, params_from_iter};

use super::decode::{decode_plugin, read_pid};
use super::sql::{self, ReadSql};
use crate::error::{Error, Fallible, Result, Site};
use crate::model::PluginMetadata;

/// One plugin by key, with its PIDs: two indexed statements.
pub(super) fn get_in(
    tx: &Transaction<'_>,
    path: &Path,
    category: &str,
    name: &str,
) -> Fallible<Option<PluginMetadata>> {
    let mut stmt = tx.prepare_cached(&sql::GET_PLUGIN)?;
    let mut rows = stmt.query([category, name])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let (id, mut plugin) = decode_plugin(row, path)?;
    let mut pids = tx.prepare_cached(sql::GET_PIDS)?;
    let mut pid_rows = pids.query([id])?;
    while let Some((_, pid)) = read_pid(pid_rows.next()?, path)? {
        plugin.spawned_pids.push(pid?);
    }
    Ok(Some(plugin))
}

/// Walks the plugins of `sql` and their PIDs side by side (two statements,
/// the same order), calling `f` with each whole plugin. A plugin that
/// cannot be read stops the walk with its error, or, given `skipped`, is
/// left out and its error kept there (named in `site`'s file).
pub(super) fn for_each_in(
    tx: &Transaction<'_>,
    site: Site<'_>,
    sql: &ReadSql,
    mut skipped: Option<&mut Vec<Error>>,
    mut f: impl FnMut(PluginMetadata) -> Result<()>,
) -> Fallible<()> {
    let mut plugin_stmt = tx.prepare_cached(&sql.plugins)?;
    let mut pid_stmt = tx.prepare_cached(&sql.pids)?;
    let mut plugins = plugin_stmt.query(params_from_iter(sql.params.iter()))?;
    let mut pids = pid_stmt.query(params_from_iter(sql.params.iter()))?;
    let path = site.path;
    let mut next_pid = read_pid(pids.next()?, path)?;
    while let Some(row) = plugins.next()? {
        let id: i64 = row.get(0)?;
        let mut plugin = decode_plugin(row, path).map(|(_, p)| p);
        while let Some((_, pid)) = next_pid.take_if(|(owner, _)| *owner == id) {
            match (&mut plugin, pid) {
                (Ok(p), Ok(pid)) => p.spawned_pids.push(pid),
                (Ok(_), Err(e)) => plugin = Err(e),
                (Err(_), _) => {}
            }
            next_pid = read_pid(pids.next()?, path)?;
        }
        match (plugin, skipped.as_deref_mut()) {
            (Ok(p), _) => f(p)?,
            (Err(e), Some(skipped)) => skipped.push(e.at(site)),
            (Err(e), None) => return Err(e),
        }
    }
    // Both cursors walk the same snapshot in the same order, so every PID
    // row was taken; a leftover means they fell out of step.
    if let Some((owner, pid)) = next_pid {
        return Err(Error::BadData {
            path: path.to_path_buf(),
            table: "plugin_pids",
            column: "plugin_id",
            row: owner,
            value: pid.map_or_else(|_| "?".to_owned(), |p| p.to_string()),
            reason: "PID row out of step with the plugins read".to_owned(),
        }
        .into());
    }
    Ok(())
}
