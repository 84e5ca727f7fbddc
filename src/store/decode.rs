//! Rows into the model: every column read through one typed accessor, so a
//! value the model cannot hold is an [`Error::BadData`] naming the file,
//! table, column, row and value — never a panic, never a silent default.
//! Each decoder is given the file's path, so its errors are whole.

use std::path::Path;

use rusqlite::Row;
use rusqlite::types::ValueRef;

use super::sql::{self, Column};
use crate::cost::RemoteStatusEntry;
use crate::error::{Error, Fallible, Fault, show};
use crate::model::exact;
use crate::model::{Change, CloudProviderType, PluginMetadata, PluginSummary, RemoteResourceInfo};
use crate::time;

/// Decodes `(plugin_id, pid, rowid)`: the owner, and the PID or why it
/// cannot be read (kept apart, so a lenient reader can skip its plugin).
pub(super) fn read_pid(
    row: Option<&Row<'_>>,
    path: &Path,
) -> Fallible<Option<(i64, Fallible<u32>)>> {
    let Some(row) = row else { return Ok(None) };
    let owner: i64 = row.get(0)?;
    let rowid: i64 = row.get(2)?;
    let col = Col::new(row, path, "plugin_pids", rowid);
    Ok(Some((owner, col.pid(1))))
}

/// Decodes `(plugin_id, position, pid, rowid)` of a summary's PID row into
/// `(plugin_id, position, pid)`.
pub(super) fn decode_pid_at(row: &Row<'_>, path: &Path) -> Fallible<(i64, i64, u32)> {
    let rowid: i64 = row.get(3)?;
    let col = Col::new(row, path, "plugin_pids", rowid);
    let pid = col.pid(2)?;
    Ok((
        col.integer((0, "plugin_id"))?,
        col.integer((1, "position"))?,
        pid,
    ))
}

/// Decodes one row of [`SUMMARY_COLUMNS`](super::sql::SUMMARY_COLUMNS)
/// into `(id, summary)`; the PIDs (and so `has_active_resources`) are
/// filled in by the caller.
pub(super) fn decode_summary(row: &Row<'_>, path: &Path) -> Fallible<(i64, PluginSummary)> {
    let id: i64 = row.get(sql::summary::ID.0)?;
    let c = Col::new(row, path, "plugins", id);
    let r = Col::new(row, path, "remote_resources", id);
    let has_remote = !matches!(c.value(sql::summary::REMOTE)?, ValueRef::Null);
    let (provider, remote_status, cost_per_hour) = if has_remote {
        (
            Some(r.parsed(sql::summary::PROVIDER)?),
            Some(r.text(sql::summary::STATUS)?),
            r.opt_cost(sql::summary::COST)?,
        )
    } else {
        (None, None, None)
    };
    let summary = PluginSummary {
        category: c.text(sql::summary::CATEGORY)?,
        name: c.text(sql::summary::NAME)?,
        title: c.text(sql::summary::TITLE)?,
        execution_mode: c.parsed(sql::summary::EXECUTION_MODE)?,
        provider,
        remote_status,
        spawned_pids: Vec::new(),
        container_id: c.opt_text(sql::summary::CONTAINER_ID)?,
        cost_per_hour,
        is_configured: c.boolean(sql::summary::IS_CONFIGURED)?,
        has_active_resources: false,
        updated_at: c.text(sql::summary::UPDATED_AT)?,
    };
    Ok((id, summary))
}

/// Typed access to one row's columns; every failure names the table,
/// column, row and value.
pub(super) struct Col<'r, 's> {
    pub(super) row: &'r Row<'s>,
    /// The file the row is read from.
    pub(super) path: &'r Path,
    pub(super) table: &'static str,
    pub(super) id: i64,
}

impl<'r, 's> Col<'r, 's> {
    /// The columns of `row`, row `id` of `table` in the file at `path`.
    pub(super) fn new(row: &'r Row<'s>, path: &'r Path, table: &'static str, id: i64) -> Self {
        Col {
            row,
            path,
            table,
            id,
        }
    }
    pub(super) fn bad(&self, column: &'static str, value: String, reason: &str) -> Fault {
        Fault::Whole(Error::BadData {
            path: self.path.to_path_buf(),
            table: self.table,
            column,
            row: self.id,
            value,
            reason: reason.to_owned(),
        })
    }

    fn value(&self, (idx, column): Column) -> Fallible<ValueRef<'r>> {
        self.row
            .get_ref(idx)
            .map_err(|e| self.bad(column, "?".to_owned(), &e.to_string()))
    }

    pub(super) fn opt_text(&self, (idx, column): Column) -> Fallible<Option<String>> {
        match self.value((idx, column))? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(bytes) => String::from_utf8(bytes.to_vec())
                .map(Some)
                .map_err(|_| self.bad(column, format!("{bytes:?}"), "not valid UTF-8")),
            other => Err(self.bad(column, show(other), "expected text")),
        }
    }

    /// A text column borrowed from the row, for values that are parsed
    /// rather than kept (JSON, enums): no copy.
    fn str(&self, (idx, column): Column) -> Fallible<&'r str> {
        match self.value((idx, column))? {
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .map_err(|_| self.bad(column, format!("{bytes:?}"), "not valid UTF-8")),
            ValueRef::Null => Err(self.bad(column, "NULL".to_owned(), "expected text")),
            other => Err(self.bad(column, show(other), "expected text")),
        }
    }

    pub(super) fn text(&self, (idx, column): Column) -> Fallible<String> {
        self.opt_text((idx, column))?
            .ok_or_else(|| self.bad(column, "NULL".to_owned(), "expected text"))
    }

    pub(super) fn opt_integer(&self, (idx, column): Column) -> Fallible<Option<i64>> {
        match self.value((idx, column))? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(i) => Ok(Some(i)),
            other => Err(self.bad(column, show(other), "expected an integer")),
        }
    }

    pub(super) fn integer(&self, (idx, column): Column) -> Fallible<i64> {
        self.opt_integer((idx, column))?
            .ok_or_else(|| self.bad(column, "NULL".to_owned(), "expected an integer"))
    }

    /// The `pid` column at `idx`: the one rule for a stored PID, whichever
    /// statement read it.
    pub(super) fn pid(&self, idx: usize) -> Fallible<u32> {
        let pid = self.integer((idx, "pid"))?;
        u32::try_from(pid)
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| self.bad("pid", pid.to_string(), "not a PID (1 ..= 4294967295)"))
    }

    fn boolean(&self, (idx, column): Column) -> Fallible<bool> {
        match self.integer((idx, column))? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.bad(column, other.to_string(), "expected 0 or 1")),
        }
    }

    fn json_object(
        &self,
        (idx, column): Column,
    ) -> Fallible<serde_json::Map<String, serde_json::Value>> {
        let text = self.str((idx, column))?;
        match serde_json::from_str::<serde_json::Value>(text) {
            // An integer beyond 64 bits (written by hand, or by a build
            // that kept them) would come back rounded: refused by name.
            Ok(serde_json::Value::Object(map)) => match exact::first_inexact_integer(text) {
                None => Ok(map),
                Some(found) => Err(self.bad(
                    column,
                    found.number,
                    &format!(
                        "an integer beyond 64 bits at {}, which this build would round to a float",
                        exact::render(&found.path)
                    ),
                )),
            },
            Ok(_) => Err(self.bad(column, clip(text), "not a JSON object")),
            Err(e) => Err(self.bad(column, clip(text), &format!("invalid JSON: {e}"))),
        }
    }

    pub(super) fn parsed<T: std::str::FromStr>(&self, (idx, column): Column) -> Fallible<T> {
        let text = self.str((idx, column))?;
        text.parse::<T>()
            .map_err(|_| self.bad(column, format!("{text:?}"), "not a value this build knows"))
    }

    fn ranged<T: TryFrom<i64>>(&self, (idx, column): Column) -> Fallible<T> {
        let v = self.integer((idx, column))?;
        T::try_from(v).map_err(|_| self.bad(column, v.to_string(), "out of range"))
    }

    fn opt_cost(&self, (idx, column): Column) -> Fallible<Option<f64>> {
        let cost = match self.value((idx, column))? {
            ValueRef::Null => return Ok(None),
            ValueRef::Real(f) => f,
            ValueRef::Integer(i) => i as f64,
            other => return Err(self.bad(column, show(other), "expected a number")),
        };
        if cost.is_finite() && cost >= 0.0 {
            Ok(Some(cost))
        } else {
            Err(self.bad(column, cost.to_string(), "not a finite cost >= 0"))
        }
    }
}

/// Long values are shortened in error messages.
fn clip(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{:?}…", &text[..at]),
        None => format!("{text:?}"),
    }
}

/// Decodes one row of [`PLUGIN_COLUMNS`] into `(id, plugin)`; PIDs are
/// added by the caller.
pub(super) fn decode_plugin(row: &Row<'_>, path: &Path) -> Fallible<(i64, PluginMetadata)> {
    let id: i64 = row.get(sql::plugin::ID.0)?;
    let c = Col::new(row, path, "plugins", id);
    let config: serde_json::Value =
        serde_json::Value::Object(c.json_object(sql::plugin::CONFIG_SCHEMA)?);
    let plugin = PluginMetadata {
        category: c.text(sql::plugin::CATEGORY)?,
        name: c.text(sql::plugin::NAME)?,
        title: c.text(sql::plugin::TITLE)?,
        config_schema: config,
        description: c.opt_text(sql::plugin::DESCRIPTION)?,
        version: c.opt_text(sql::plugin::VERSION)?,
        is_configured: c.boolean(sql::plugin::IS_CONFIGURED)?,
        execution_mode: c.parsed(sql::plugin::EXECUTION_MODE)?,
        manages_child_processes: c.boolean(sql::plugin::MANAGES_CHILD_PROCESSES)?,
        manages_external_resources: c.boolean(sql::plugin::MANAGES_EXTERNAL_RESOURCES)?,
        spawned_pids: Vec::new(),
        container_id: c.opt_text(sql::plugin::CONTAINER_ID)?,
        conda_env_name: c.opt_text(sql::plugin::CONDA_ENV_NAME)?,
        remote_resource: None,
    };
    let remote = match row.get::<_, Option<i64>>(sql::plugin::REMOTE.0)? {
        None => None,
        Some(_) => {
            let r = Col::new(row, path, "remote_resources", id);
            Some(RemoteResourceInfo {
                provider: r.parsed(sql::plugin::PROVIDER)?,
                region: r.opt_text(sql::plugin::REGION)?,
                instance_id: r.opt_text(sql::plugin::INSTANCE_ID)?,
                job_id: r.opt_text(sql::plugin::JOB_ID)?,
                endpoint_url: r.opt_text(sql::plugin::ENDPOINT_URL)?,
                ssh_host: r.opt_text(sql::plugin::SSH_HOST)?,
                ssh_port: r.ranged(sql::plugin::SSH_PORT)?,
                status: r.text(sql::plugin::STATUS)?,
                resource_type: r.opt_text(sql::plugin::RESOURCE_TYPE)?,
                gpu_count: r.ranged(sql::plugin::GPU_COUNT)?,
                gpu_type: r.opt_text(sql::plugin::GPU_TYPE)?,
                estimated_cost_per_hour: r.opt_cost(sql::plugin::COST)?,
                metadata: r.json_object(sql::plugin::METADATA)?,
            })
        }
    };
    Ok((
        id,
        PluginMetadata {
            remote_resource: remote,
            ..plugin
        },
    ))
}

/// Decodes one row of [`CHANGES_SINCE`](super::sql::CHANGES_SINCE):
/// `(seq, category, name, op)`.
pub(super) fn decode_change(row: &Row<'_>, path: &Path) -> Fallible<Change> {
    let seq: i64 = row.get(0)?;
    let col = Col::new(row, path, "change_log", seq);
    let positive = u64::try_from(seq)
        .ok()
        .filter(|&s| s > 0)
        .ok_or_else(|| col.bad("seq", seq.to_string(), "a seq is > 0"))?;
    Ok(Change::new(
        positive,
        col.text((1, "category"))?,
        col.text((2, "name"))?,
        col.parsed((3, "op"))?,
    ))
}

/// One row of [`COST_ROWS`](super::sql::COST_ROWS), borrowed from the row:
/// what the cost report's one pass needs.
pub(super) struct CostRow<'r> {
    pub(super) category: &'r str,
    pub(super) name: &'r str,
    /// Microseconds since the Unix epoch.
    pub(super) at: i64,
    /// `at` as stored.
    pub(super) at_text: &'r str,
    pub(super) running: bool,
    pub(super) rate: Option<f64>,
    pub(super) provider: CloudProviderType,
}

/// Decodes one row of [`COST_ROWS`](super::sql::COST_ROWS): `category,
/// name, at, seq, provider, status = 'running', cost_per_hour`.
pub(super) fn decode_cost_row<'r>(row: &'r Row<'_>, path: &'r Path) -> Fallible<CostRow<'r>> {
    let (c, category, name, at_text) = history_key(row, path)?;
    let decoded = (|| {
        Ok(CostRow {
            category,
            name,
            at: stored_time(&c, at_text)?,
            at_text,
            running: c.integer((5, "status"))? == 1,
            rate: c.opt_cost((6, "cost_per_hour"))?,
            provider: c.parsed((4, "provider"))?,
        })
    })();
    decoded.map_err(|e| in_history_row(e, category, name, at_text))
}

/// Decodes one row of [`HISTORY_OF`](super::sql::HISTORY_OF).
pub(super) fn decode_history(row: &Row<'_>, path: &Path) -> Fallible<RemoteStatusEntry> {
    let (c, category, name, at_text) = history_key(row, path)?;
    let decoded = (|| {
        let at = stored_time(&c, at_text)?;
        Ok(RemoteStatusEntry {
            category: category.to_owned(),
            name: name.to_owned(),
            at: time::from_micros(at)
                .ok_or_else(|| c.bad("at", format!("{at_text:?}"), "out of range"))?,
            provider: c.parsed(sql::history::PROVIDER)?,
            instance_id: c.opt_text(sql::history::INSTANCE_ID)?,
            status: c.text(sql::history::STATUS)?,
            cost_per_hour: c.opt_cost(sql::history::COST)?,
        })
    })();
    decoded.map_err(|e| in_history_row(e, category, name, at_text))
}

/// The key of a history row: a [`Col`] naming it by its `seq` (the table
/// has no rowid), and its category, name and `at` text.
fn history_key<'r, 's>(
    row: &'r Row<'s>,
    path: &'r Path,
) -> Fallible<(Col<'r, 's>, &'r str, &'r str, &'r str)> {
    use sql::history::{AT, CATEGORY, NAME, SEQ};
    let mut c = Col::new(row, path, "remote_status_history", 0);
    c.id = match row.get_ref(SEQ.0)? {
        ValueRef::Integer(seq) => seq,
        other => return Err(c.bad("seq", show(other), "not an integer")),
    };
    let (category, name, at) = (c.str(CATEGORY)?, c.str(NAME)?, c.str(AT)?);
    Ok((c, category, name, at))
}

/// A stored timestamp as microseconds since the epoch, or bad data.
fn stored_time(c: &Col<'_, '_>, text: &str) -> Fallible<i64> {
    time::parse_stored_micros(text).ok_or_else(|| {
        c.bad(
            "at",
            format!("{text:?}"),
            "not a timestamp YYYY-MM-DDTHH:MM:SS.ffffffZ",
        )
    })
}

/// Says which history row bad data is in (its `row` is only its `seq`).
fn in_history_row(e: Fault, category: &str, name: &str, at: &str) -> Fault {
    match e {
        Fault::Whole(Error::BadData {
            path,
            table,
            column,
            row,
            value,
            reason,
        }) => Fault::Whole(Error::BadData {
            path,
            table,
            column,
            row,
            value,
            reason: format!(
                "{reason}; in the row of ({category:?}, {name:?}) at {at:?}, seq {row}"
            ),
        }),
        other => other,
    }
}
