//! [`PluginQuery`]: combinable filters, and the SQL they make.
//!
//! Every filter has two forms that must agree on every record: the SQL
//! condition built by [`PluginQuery::where_sql`] (run by the store) and the
//! Rust predicate [`PluginQuery::matches`] (which uses the model's own
//! methods, so it means what Python means). The tests compare them on
//! thousands of generated plugins.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;

use crate::model::{CloudProviderType, PluginExecutionMode, PluginMetadata};

/// Which plugins a query returns. Filters combine with AND; a filter given
/// several times (execution mode, provider, category, remote status) means
/// "any of". Results are ordered by `(category, name)`.
///
/// ```
/// use plugin_metastore::{CloudProviderType, PluginExecutionMode, PluginQuery};
/// let q = PluginQuery::new()
///     .execution_mode(PluginExecutionMode::CloudGpu)
///     .provider(CloudProviderType::Aws)
///     .provider(CloudProviderType::Gcp)
///     .active(true)
///     .limit(50);
/// # let _ = q;
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PluginQuery {
    execution_modes: Vec<PluginExecutionMode>,
    providers: Vec<CloudProviderType>,
    categories: Vec<String>,
    remote_statuses: Vec<String>,
    active: Option<bool>,
    local: Option<bool>,
    configured: Option<bool>,
    updated_since: Option<DateTime<Utc>>,
    limit: Option<u64>,
    offset: u64,
}

/// The SQL condition "this plugin holds active resources", as an id set:
/// three indexed arms (PIDs, non-empty container, running remote resource).
/// `UNION ALL` keeps each arm an index lookup; `IN` removes the duplicates.
pub(crate) const ACTIVE_IDS: &str = "SELECT plugin_id FROM plugin_pids \
     UNION ALL SELECT id FROM plugins WHERE container_id > '' \
     UNION ALL SELECT plugin_id FROM remote_resources WHERE status = 'running'";

impl PluginQuery {
    /// A query with no filter: every plugin.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only plugins with this execution mode (repeat for "any of").
    pub fn execution_mode(mut self, mode: PluginExecutionMode) -> Self {
        if !self.execution_modes.contains(&mode) {
            self.execution_modes.push(mode);
        }
        self
    }

    /// Only plugins whose remote resource has this provider (repeat for
    /// "any of"). Plugins without a remote resource never match.
    pub fn provider(mut self, provider: CloudProviderType) -> Self {
        if !self.providers.contains(&provider) {
            self.providers.push(provider);
        }
        self
    }

    /// Only plugins in this category (repeat for "any of").
    pub fn category(mut self, category: impl Into<String>) -> Self {
        let category = category.into();
        if !self.categories.contains(&category) {
            self.categories.push(category);
        }
        self
    }

    /// Only plugins whose remote resource has exactly this status (repeat
    /// for "any of"). Plugins without a remote resource never match.
    pub fn remote_status(mut self, status: impl Into<String>) -> Self {
        let status = status.into();
        if !self.remote_statuses.contains(&status) {
            self.remote_statuses.push(status);
        }
        self
    }

    /// Only plugins whose [`has_active_resources`](PluginMetadata::has_active_resources)
    /// equals `active`.
    pub fn active(mut self, active: bool) -> Self {
        self.active = Some(active);
        self
    }

    /// Only local (`true`) or only cloud/remote (`false`) plugins, as
    /// [`is_local_execution`](PluginMetadata::is_local_execution).
    pub fn local(mut self, local: bool) -> Self {
        self.local = Some(local);
        self
    }

    /// Only plugins whose `is_configured` equals `configured`.
    pub fn configured(mut self, configured: bool) -> Self {
        self.configured = Some(configured);
        self
    }

    /// Only plugins saved or changed at or after `since` (the store's
    /// `updated_at`; not part of the model, so [`matches`](Self::matches)
    /// ignores it).
    pub fn updated_since(mut self, since: DateTime<Utc>) -> Self {
        self.updated_since = Some(since);
        self
    }

    /// Returns at most `limit` plugins.
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Skips the first `offset` matching plugins.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }

    /// True when the query has a limit or an offset.
    pub(crate) fn is_paged(&self) -> bool {
        self.limit.is_some() || self.offset > 0
    }

    /// The Rust meaning of the filters: true if `plugin` passes every filter
    /// except `updated_since` (which needs the store's timestamp). Limit and
    /// offset are not filters and are ignored here.
    pub fn matches(&self, plugin: &PluginMetadata) -> bool {
        let remote = plugin.remote_resource.as_ref();
        (self.execution_modes.is_empty() || self.execution_modes.contains(&plugin.execution_mode))
            && (self.providers.is_empty()
                || remote.is_some_and(|r| self.providers.contains(&r.provider)))
            && (self.categories.is_empty() || self.categories.contains(&plugin.category))
            && (self.remote_statuses.is_empty()
                || remote.is_some_and(|r| self.remote_statuses.contains(&r.status)))
            && self
                .active
                .is_none_or(|a| a == plugin.has_active_resources())
            && self.local.is_none_or(|l| l == plugin.is_local_execution())
            && self.configured.is_none_or(|c| c == plugin.is_configured)
    }

    /// The SQL form: a condition on the table alias `p` (plugins) with its
    /// parameters, and the `LIMIT … OFFSET …` tail.
    pub(crate) fn where_sql(&self) -> (String, Vec<Value>) {
        let mut terms: Vec<String> = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        let any_of = |column: &str, values: Vec<Value>, params: &mut Vec<Value>| -> String {
            let marks = vec!["?"; values.len()].join(", ");
            params.extend(values);
            format!("{column} IN ({marks})")
        };
        if !self.execution_modes.is_empty() {
            let values = self
                .execution_modes
                .iter()
                .map(|m| text(m.as_str()))
                .collect();
            terms.push(any_of("p.execution_mode", values, &mut params));
        }
        if let Some(local) = self.local {
            let values = PluginExecutionMode::ALL
                .iter()
                .filter(|m| m.is_local() == local)
                .map(|m| text(m.as_str()))
                .collect();
            terms.push(any_of("p.execution_mode", values, &mut params));
        }
        if !self.providers.is_empty() {
            let values = self.providers.iter().map(|p| text(p.as_str())).collect();
            let cond = any_of("provider", values, &mut params);
            terms.push(format!(
                "p.id IN (SELECT plugin_id FROM remote_resources WHERE {cond})"
            ));
        }
        if !self.remote_statuses.is_empty() {
            let values = self.remote_statuses.iter().map(|s| text(s)).collect();
            let cond = any_of("status", values, &mut params);
            terms.push(format!(
                "p.id IN (SELECT plugin_id FROM remote_resources WHERE {cond})"
            ));
        }
        if !self.categories.is_empty() {
            let values = self.categories.iter().map(|c| text(c)).collect();
            terms.push(any_of("p.category", values, &mut params));
        }
        match self.active {
            Some(true) => terms.push(format!("p.id IN ({ACTIVE_IDS})")),
            Some(false) => terms.push(format!("p.id NOT IN ({ACTIVE_IDS})")),
            None => {}
        }
        if let Some(configured) = self.configured {
            terms.push("p.is_configured = ?".to_owned());
            params.push(Value::Integer(i64::from(configured)));
        }
        if let Some(since) = self.updated_since {
            terms.push("p.updated_at >= ?".to_owned());
            params.push(Value::Text(crate::time::timestamp(since)));
        }
        let condition = if terms.is_empty() {
            "1".to_owned()
        } else {
            terms.join(" AND ")
        };
        (condition, params)
    }

    /// `LIMIT … OFFSET …` (or nothing).
    pub(crate) fn page_sql(&self) -> String {
        match (self.limit, self.offset) {
            (None, 0) => String::new(),
            // SQLite's LIMIT is an i64; a bigger limit means "no limit".
            (limit, offset) => format!(
                " LIMIT {} OFFSET {}",
                limit.map_or(-1, |l| i64::try_from(l).unwrap_or(-1)),
                i64::try_from(offset).unwrap_or(i64::MAX)
            ),
        }
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}
