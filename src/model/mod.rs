//! The model: the Rust form of the Python dataclasses `PluginMetadata` and
//! `RemoteResourceInfo` and their two enums. No SQL lives here.
//!
//! Field names, defaults and the meaning of every predicate are the Python
//! ones, and the serde form is the Python JSON form
//! (`json.dumps(dataclasses.asdict(p), default=lambda e: e.value)`): enums as
//! their string values, a missing optional field takes the Python default.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod change;
mod enums;
pub(crate) mod exact;
mod summary;
#[cfg(test)]
mod tests;

pub use change::{Change, ChangeOp, Changes};
pub(crate) use enums::string_enum;
pub use enums::{CloudProviderType, PluginExecutionMode};
pub use summary::PluginSummary;

/// `"{category}_{name}"`: the display id of a plugin (Python's
/// `get_unique_id()`), the one place it is formatted.
pub(crate) fn unique_id(category: &str, name: &str) -> String {
    format!("{category}_{name}")
}

/// The "active" rule, the one place it is written in Rust: a plugin holds
/// something that must be cleaned up when it has any PID, a non-empty
/// container id, or a remote resource whose status is exactly `running`.
/// Its SQL restatements (the `active` filter of a query, the views
/// `plugin_overview` and `active_resources`) are held equal to it by
/// `tests/queries.rs`.
pub(crate) fn holds_active_resources(
    has_pids: bool,
    container_id: Option<&str>,
    remote_status: Option<&str>,
) -> bool {
    has_pids || container_id.is_some_and(|c| !c.is_empty()) || remote_status == Some(RUNNING)
}

/// The one remote status that counts as running (and is billed).
pub(crate) const RUNNING: &str = "running";

fn default_ssh_port() -> u16 {
    22
}

fn default_status() -> String {
    "unknown".to_owned()
}

/// Information about a remote or cloud resource used by a plugin.
///
/// Deserializing refuses unknown fields, as Python's
/// `RemoteResourceInfo(**record)` does, so a misspelt field is an error
/// rather than a silently lost value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteResourceInfo {
    /// Cloud provider or service.
    pub provider: CloudProviderType,
    /// Cloud region or zone.
    #[serde(default)]
    pub region: Option<String>,
    /// VM or instance identifier.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Job or task identifier on the remote system.
    #[serde(default)]
    pub job_id: Option<String>,
    /// HTTP endpoint for API access.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// SSH host for remote access.
    #[serde(default)]
    pub ssh_host: Option<String>,
    /// SSH port (default 22).
    #[serde(default = "default_ssh_port")]
    pub ssh_port: u16,
    /// Current status, free text (`provisioning`, `running`, `stopping`,
    /// `stopped`; default `unknown`). Only exactly `"running"` counts as
    /// running.
    #[serde(default = "default_status")]
    pub status: String,
    /// Instance type, e.g. `p3.2xlarge`.
    #[serde(default)]
    pub resource_type: Option<String>,
    /// Number of GPUs.
    #[serde(default)]
    pub gpu_count: u32,
    /// GPU model, e.g. `A100`.
    #[serde(default)]
    pub gpu_type: Option<String>,
    /// Estimated hourly cost in USD; when set, finite and not negative.
    #[serde(default)]
    pub estimated_cost_per_hour: Option<f64>,
    /// Additional provider-specific metadata.
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl RemoteResourceInfo {
    /// A resource of `provider` with every other field at its Python default
    /// (`ssh_port` 22, `status` `"unknown"`, no GPUs, empty metadata).
    pub fn new(provider: CloudProviderType) -> Self {
        RemoteResourceInfo {
            provider,
            region: None,
            instance_id: None,
            job_id: None,
            endpoint_url: None,
            ssh_host: None,
            ssh_port: default_ssh_port(),
            status: default_status(),
            resource_type: None,
            gpu_count: 0,
            gpu_type: None,
            estimated_cost_per_hour: None,
            metadata: serde_json::Map::new(),
        }
    }

    /// True when `status` is exactly `"running"` (so `"Running"` is not).
    pub fn is_running(&self) -> bool {
        self.status == RUNNING
    }

    /// Checks what the store refuses: a cost that is NaN, infinite or
    /// negative — `-0.0` included, since SQLite would hand it back as `0.0` —
    /// and `metadata` nested more than [`MAX_JSON_DEPTH`] levels deep.
    pub fn validate(&self) -> Result<()> {
        if let Some(cost) = self.estimated_cost_per_hour
            && (!cost.is_finite() || cost.is_sign_negative())
        {
            return Err(Error::invalid(
                "remote_resource.estimated_cost_per_hour",
                format!("must be a finite number >= 0, got {cost:?}"),
            ));
        }
        // The map itself is the first level.
        if self.metadata.values().any(|v| json_too_deep(v, 2)) {
            return Err(too_deep("remote_resource.metadata"));
        }
        Ok(())
    }
}

/// Metadata describing a plugin and the resources it holds right now.
///
/// Deserializing refuses unknown fields, as Python's
/// `PluginMetadata(**record)` does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginMetadata {
    /// Internal plugin identifier; with `category` the store's key.
    pub name: String,
    /// Plugin category (application-defined).
    pub category: String,
    /// Display title.
    pub title: String,
    /// JSON Schema for the plugin's configuration; must be a JSON object.
    pub config_schema: serde_json::Value,
    /// Plugin description.
    #[serde(default)]
    pub description: Option<String>,
    /// Plugin version.
    #[serde(default)]
    pub version: Option<String>,
    /// Whether the plugin has saved configuration.
    #[serde(default)]
    pub is_configured: bool,
    /// How the plugin executes (default `in_process`).
    #[serde(default)]
    pub execution_mode: PluginExecutionMode,
    /// Whether the plugin spawns child processes.
    #[serde(default)]
    pub manages_child_processes: bool,
    /// Whether the plugin manages Docker containers, servers and the like.
    #[serde(default)]
    pub manages_external_resources: bool,
    /// Child process PIDs, in the order they were recorded; no 0, no
    /// duplicates.
    #[serde(default)]
    pub spawned_pids: Vec<u32>,
    /// Docker container id, if any. `Some("")` is kept as such but is not a
    /// container for [`has_active_resources`](Self::has_active_resources).
    #[serde(default)]
    pub container_id: Option<String>,
    /// Conda environment name, if any.
    #[serde(default)]
    pub conda_env_name: Option<String>,
    /// The remote or cloud resource, if any.
    #[serde(default)]
    pub remote_resource: Option<RemoteResourceInfo>,
}

impl PluginMetadata {
    /// A plugin with the four required fields and every other field at its
    /// Python default.
    pub fn new(
        name: impl Into<String>,
        category: impl Into<String>,
        title: impl Into<String>,
        config_schema: serde_json::Value,
    ) -> Self {
        PluginMetadata {
            name: name.into(),
            category: category.into(),
            title: title.into(),
            config_schema,
            description: None,
            version: None,
            is_configured: false,
            execution_mode: PluginExecutionMode::default(),
            manages_child_processes: false,
            manages_external_resources: false,
            spawned_pids: Vec::new(),
            container_id: None,
            conda_env_name: None,
            remote_resource: None,
        }
    }

    /// `"{category}_{name}"`, Python's `get_unique_id()`. A display id only:
    /// it is ambiguous (`a_b` + `c` and `a` + `b_c` give the same string), so
    /// the store's key is the pair `(category, name)`.
    pub fn unique_id(&self) -> String {
        unique_id(&self.category, &self.name)
    }

    /// Every `(category, name)` whose [`unique_id`](Self::unique_id) is
    /// `id`: one per `_` in it that has text on both sides. The display id
    /// is ambiguous, so a store looks up each of them.
    ///
    /// ```
    /// use plugin_metastore::PluginMetadata;
    /// let splits: Vec<_> = PluginMetadata::unique_id_splits("a_b_c").collect();
    /// assert_eq!(splits, [("a", "b_c"), ("a_b", "c")]);
    /// ```
    pub fn unique_id_splits(id: &str) -> impl Iterator<Item = (&str, &str)> {
        id.match_indices('_')
            .map(|(at, _)| (&id[..at], &id[at + 1..]))
            .filter(|(category, name)| !category.is_empty() && !name.is_empty())
    }

    /// True if the plugin executes locally (see [`PluginExecutionMode::is_local`]).
    pub fn is_local_execution(&self) -> bool {
        self.execution_mode.is_local()
    }

    /// True if the plugin executes on cloud or remote resources
    /// (= not local).
    pub fn is_cloud_execution(&self) -> bool {
        !self.is_local_execution()
    }

    /// True if the plugin holds something that must be cleaned up: any PID,
    /// a non-empty container id, or a remote resource whose status is
    /// exactly `"running"` (Python's truthiness rules).
    pub fn has_active_resources(&self) -> bool {
        holds_active_resources(
            !self.spawned_pids.is_empty(),
            self.container_id.as_deref(),
            self.remote_resource.as_ref().map(|r| r.status.as_str()),
        )
    }

    /// Reads plugin records in the Python JSON layout: a JSON array of
    /// records, or one record (an object), as Python writes them with
    /// `json.dumps([asdict(p) for p in plugins], default=lambda e: e.value)`.
    /// A leading byte-order mark is skipped. Syntax and field errors are
    /// [`Error::Json`] (serde's error knows the line and column); any other
    /// JSON document is an [`Error::InvalidInput`] saying what it is. An
    /// integer beyond 64 bits (`i64`/`u64`; Python writes them) is refused
    /// as an [`Error::InvalidInput`] naming the record, the field path and
    /// the number, rather than rounded to a float as serde_json does (this
    /// crate does not turn on serde_json's `arbitrary_precision`: cargo
    /// would turn it on for the whole app). A float beyond `f64` is an
    /// [`Error::InvalidInput`] naming it and its line and column. The
    /// records are not validated:
    /// call [`validate`](Self::validate).
    pub fn from_json_records(text: &str) -> Result<Vec<PluginMetadata>> {
        // A byte-order mark (some Windows editors write one) is not JSON.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let expected = "expected a JSON array of plugin records or one record (an object)";
        // serde_json stops at 128 levels with its own message; say what
        // `validate` says about any JSON deeper than MAX_JSON_DEPTH.
        let depth = |e: serde_json::Error| {
            let message = e.to_string();
            let number = message
                .starts_with("number out of range")
                .then(|| exact::number_at(text, e.line(), e.column()))
                .flatten();
            if message.starts_with("recursion limit exceeded") {
                too_deep("config_schema or remote_resource.metadata")
            } else if let Some(number) = number {
                Error::invalid(
                    "records",
                    format!(
                        "the number {number} at line {} column {} is beyond the largest \
                         64-bit float (about 1.8e308)",
                        e.line(),
                        e.column()
                    ),
                )
            } else {
                Error::Json(e)
            }
        };
        let records = match text.trim_start().chars().next() {
            Some('[') => serde_json::from_str::<Vec<PluginMetadata>>(text).map_err(depth)?,
            Some('{') => serde_json::from_str::<PluginMetadata>(text)
                .map(|p| vec![p])
                .map_err(depth)?,
            Some(_) => {
                let value = serde_json::from_str::<serde_json::Value>(text)?;
                return Err(Error::invalid(
                    "records",
                    format!("{expected}, got {}", json_kind(&value)),
                ));
            }
            None => {
                return Err(Error::invalid(
                    "records",
                    format!("empty input ({expected})"),
                ));
            }
        };
        match exact::first_inexact_integer(text) {
            None => Ok(records),
            Some(found) => Err(inexact_in_records(&records, found)),
        }
    }

    /// Checks everything the store refuses, naming the offending value: an
    /// empty name or category, a `config_schema` that is not a JSON object
    /// or is nested more than [`MAX_JSON_DEPTH`] levels deep, a PID of 0 or
    /// a PID listed twice, a bad remote resource.
    pub fn validate(&self) -> Result<()> {
        validate_key(&self.category, &self.name)?;
        self.validate_fields()
            .map_err(|e| e.for_plugin(|| self.unique_id()))
    }

    /// [`validate`](Self::validate) after the key, with errors not yet
    /// tied to the plugin.
    fn validate_fields(&self) -> Result<()> {
        if !self.config_schema.is_object() {
            return Err(Error::invalid(
                "config_schema",
                format!(
                    "must be a JSON object, got {}",
                    json_kind(&self.config_schema)
                ),
            ));
        }
        if json_too_deep(&self.config_schema, 1) {
            return Err(too_deep("config_schema"));
        }
        let mut seen = std::collections::HashSet::with_capacity(self.spawned_pids.len());
        for &pid in &self.spawned_pids {
            if pid == 0 {
                return Err(Error::invalid("spawned_pids", "PID 0 is not a process"));
            }
            if !seen.insert(pid) {
                return Err(Error::invalid(
                    "spawned_pids",
                    format!("PID {pid} is listed twice"),
                ));
            }
        }
        if let Some(remote) = &self.remote_resource {
            remote.validate()?;
        }
        Ok(())
    }
}

/// JSON nested deeper than this many levels of arrays and objects is
/// refused. serde_json reads back at most 127 levels (its recursion limit),
/// while SQLite's `json_valid` accepts up to 1000, so deeper JSON would be
/// saved and then make `get` and `list` fail.
pub const MAX_JSON_DEPTH: usize = 100;

/// True if `value`, found at nesting level `level`, holds arrays or objects
/// more than [`MAX_JSON_DEPTH`] levels deep. Walks without recursion, so a
/// pathological value cannot overflow the stack here.
fn json_too_deep(value: &serde_json::Value, level: usize) -> bool {
    use serde_json::Value;
    let mut stack = vec![(value, level)];
    while let Some((value, level)) = stack.pop() {
        match value {
            Value::Array(_) | Value::Object(_) if level > MAX_JSON_DEPTH => return true,
            Value::Array(items) => stack.extend(items.iter().map(|c| (c, level + 1))),
            Value::Object(map) => stack.extend(map.values().map(|c| (c, level + 1))),
            _ => {}
        }
    }
    false
}

fn too_deep(field: &'static str) -> Error {
    Error::invalid(
        field,
        format!("nests arrays and objects more than {MAX_JSON_DEPTH} levels deep"),
    )
}

/// Refuses an empty category or name.
pub(crate) fn validate_key(category: &str, name: &str) -> Result<()> {
    if category.is_empty() {
        return Err(Error::invalid(
            "category",
            format!("must not be empty (name {name:?})"),
        ));
    }
    if name.is_empty() {
        return Err(Error::invalid(
            "name",
            format!("must not be empty (category {category:?})"),
        ));
    }
    // The schema's `length(x) > 0` stops at the first NUL, and a key with
    // NUL in it cannot be typed in the sqlite3 CLI: refused like the schema.
    for (field, value) in [("category", category), ("name", name)] {
        if value.contains('\0') {
            return Err(Error::invalid(
                field,
                format!("must not contain NUL characters, got {value:?}"),
            ));
        }
    }
    Ok(())
}

/// Refuses PID 0.
pub(crate) fn validate_pid(pid: u32) -> Result<()> {
    if pid == 0 {
        return Err(Error::invalid("pid", "PID 0 is not a process"));
    }
    Ok(())
}

/// The error for an integer beyond 64 bits found in the records `records`
/// were read from: the record (1-based) and its id, the field path and the
/// number.
fn inexact_in_records(records: &[PluginMetadata], found: exact::Inexact) -> Error {
    let mut path = found.path.as_slice();
    let mut index = 0;
    if let Some(exact::Step::Index(i)) = path.first() {
        index = *i;
        path = &path[1..];
    }
    let field = match path {
        [exact::Step::Key(k), ..] if k == "config_schema" => "config_schema",
        [exact::Step::Key(r), exact::Step::Key(m), ..]
            if r == "remote_resource" && m == "metadata" =>
        {
            "remote_resource.metadata"
        }
        _ => "records",
    };
    let id = records
        .get(index)
        .map(|p| format!(" ({})", p.unique_id()))
        .unwrap_or_default();
    Error::invalid(
        field,
        inexact_reason(index + 1, &id, &exact::render(path), &found.number),
    )
}

/// Why an integer beyond 64 bits is refused, for record `record`.
fn inexact_reason(record: usize, id: &str, path: &str, number: &str) -> String {
    format!(
        "record {record}{id}: the integer {number} at {path} is beyond 64 bits; \
         JSON integers are kept as i64/u64 and this one would be rounded to a float \
         (write it as a string to keep its digits)"
    )
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
