//! The model: the Rust form of the Python dataclasses `PluginMetadata` and
//! `RemoteResourceInfo` and their two enums. No SQL lives here.
//!
//! Field names, defaults and the meaning of every predicate are the Python
//! ones, and the serde form is the Python JSON form
//! (`json.dumps(dataclasses.asdict(p), default=lambda e: e.value)`): enums as
//! their string values, a missing optional field takes the Python default.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Defines a string-valued enum with `Display`, `FromStr`, `as_str`, `ALL`
/// and serde, all from the one table of values.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),+ ];

            /// The value as stored in JSON and in SQLite.
            pub const fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text, )+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    other => Err(Error::invalid(
                        $what,
                        format!(
                            "unknown value {:?} (expected one of: {})",
                            other,
                            [$($text),+].join(", ")
                        ),
                    )),
                }
            }
        }
    };
}

string_enum! {
    /// How a plugin executes. The first five modes are local, the rest cloud
    /// or remote (see [`PluginExecutionMode::is_local`]).
    PluginExecutionMode, "execution_mode" {
        /// Runs inside the host process.
        InProcess => "in_process",
        /// Runs as a child process of the host.
        Subprocess => "subprocess",
        /// Runs in a local Docker container.
        Docker => "docker",
        /// Runs in a local Conda environment.
        CondaEnv => "conda_env",
        /// Talks to a service running on this machine.
        ExternalService => "external_service",
        /// Runs on a rented cloud GPU.
        CloudGpu => "cloud_gpu",
        /// Calls a cloud API.
        CloudApi => "cloud_api",
        /// Runs on a remote server.
        RemoteServer => "remote_server",
        /// Mixes local and remote execution (counts as not local).
        Hybrid => "hybrid",
    }
}

string_enum! {
    /// The cloud provider or service behind a [`RemoteResourceInfo`].
    CloudProviderType, "provider" {
        /// Amazon Web Services.
        Aws => "aws",
        /// Google Cloud Platform.
        Gcp => "gcp",
        /// Microsoft Azure.
        Azure => "azure",
        /// Lambda Labs.
        LambdaLabs => "lambda_labs",
        /// RunPod.
        Runpod => "runpod",
        /// Vast.ai.
        VastAi => "vast_ai",
        /// Paperspace.
        Paperspace => "paperspace",
        /// CoreWeave.
        Coreweave => "coreweave",
        /// Anything else.
        Custom => "custom",
    }
}

impl PluginExecutionMode {
    /// The modes that run on this machine: `in_process`, `subprocess`,
    /// `docker`, `conda_env`, `external_service` (Python's `local_modes`).
    pub const LOCAL: &'static [PluginExecutionMode] = &[
        PluginExecutionMode::InProcess,
        PluginExecutionMode::Subprocess,
        PluginExecutionMode::Docker,
        PluginExecutionMode::CondaEnv,
        PluginExecutionMode::ExternalService,
    ];

    /// True for the five local modes, false for the cloud and remote ones
    /// (`hybrid` included).
    pub fn is_local(self) -> bool {
        Self::LOCAL.contains(&self)
    }
}

impl Default for PluginExecutionMode {
    /// `in_process`, the Python default.
    fn default() -> Self {
        PluginExecutionMode::InProcess
    }
}

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
        self.status == "running"
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
        format!("{}_{}", self.category, self.name)
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
        !self.spawned_pids.is_empty()
            || self.container_id.as_deref().is_some_and(|c| !c.is_empty())
            || self
                .remote_resource
                .as_ref()
                .is_some_and(RemoteResourceInfo::is_running)
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
    Ok(())
}

/// Refuses PID 0.
pub(crate) fn validate_pid(pid: u32) -> Result<()> {
    if pid == 0 {
        return Err(Error::invalid("pid", "PID 0 is not a process"));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plugin() -> PluginMetadata {
        PluginMetadata::new("whisper_tiny", "transcription", "Whisper", json!({}))
    }

    #[test]
    fn enums_round_trip_through_text() {
        for m in PluginExecutionMode::ALL {
            assert_eq!(m.as_str().parse::<PluginExecutionMode>().ok(), Some(*m));
            assert_eq!(serde_json::to_value(m).ok(), Some(json!(m.as_str())));
        }
        for p in CloudProviderType::ALL {
            assert_eq!(p.to_string().parse::<CloudProviderType>().ok(), Some(*p));
        }
        assert_eq!(PluginExecutionMode::ALL.len(), 9);
        assert_eq!(CloudProviderType::ALL.len(), 9);
        let err = "Docker"
            .parse::<PluginExecutionMode>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"Docker\""), "{err}");
    }

    #[test]
    fn local_modes_are_the_python_ones() {
        let local: Vec<&str> = PluginExecutionMode::ALL
            .iter()
            .filter(|m| m.is_local())
            .map(|m| m.as_str())
            .collect();
        assert_eq!(
            local,
            [
                "in_process",
                "subprocess",
                "docker",
                "conda_env",
                "external_service"
            ]
        );
        let mut p = plugin();
        p.execution_mode = PluginExecutionMode::Hybrid;
        assert!(p.is_cloud_execution());
        assert!(!p.is_local_execution());
    }

    #[test]
    fn active_resources_follow_python_truthiness() {
        let mut p = plugin();
        assert!(!p.has_active_resources());
        p.container_id = Some(String::new());
        assert!(
            !p.has_active_resources(),
            "empty container id is no container"
        );
        p.container_id = Some("abc".into());
        assert!(p.has_active_resources());
        p.container_id = None;
        let mut r = RemoteResourceInfo::new(CloudProviderType::Aws);
        r.status = "Running".into();
        p.remote_resource = Some(r.clone());
        assert!(!p.has_active_resources(), "only exactly \"running\" runs");
        r.status = "running".into();
        p.remote_resource = Some(r);
        assert!(p.has_active_resources());
        p.remote_resource = None;
        p.spawned_pids = vec![7];
        assert!(p.has_active_resources());
    }

    #[test]
    fn validate_names_the_bad_value() {
        let mut p = plugin();
        p.spawned_pids = vec![3, 4, 3];
        assert!(p.validate().unwrap_err().to_string().contains("PID 3"));
        p.spawned_pids = vec![0];
        assert!(p.validate().unwrap_err().to_string().contains("PID 0"));
        p.spawned_pids.clear();
        p.config_schema = json!([1]);
        assert!(p.validate().unwrap_err().to_string().contains("an array"));
        p.config_schema = json!({});
        let mut r = RemoteResourceInfo::new(CloudProviderType::Gcp);
        for bad in [f64::NAN, f64::INFINITY, -1.0, -0.0] {
            r.estimated_cost_per_hour = Some(bad);
            p.remote_resource = Some(r.clone());
            assert!(
                matches!(p.validate(), Err(Error::InvalidInput { .. })),
                "{bad}"
            );
        }
        p.remote_resource = None;
        let mut deep = json!({});
        for _ in 0..MAX_JSON_DEPTH {
            deep = json!({ "a": deep });
        }
        p.config_schema = deep.clone();
        assert!(
            p.validate()
                .unwrap_err()
                .to_string()
                .contains("levels deep")
        );
        let mut r = RemoteResourceInfo::new(CloudProviderType::Gcp);
        r.metadata = deep.as_object().unwrap().clone();
        assert!(r.validate().unwrap_err().to_string().contains("metadata"));
        p.config_schema = deep["a"].clone();
        assert_eq!(
            p.validate().ok(),
            Some(()),
            "{MAX_JSON_DEPTH} levels are fine"
        );
        p.config_schema = json!({});
        p.name.clear();
        assert!(p.validate().unwrap_err().to_string().contains("name"));
        assert_eq!(plugin().validate().ok(), Some(()));
    }

    #[test]
    fn python_defaults_apply_to_missing_fields() {
        let p: PluginMetadata = serde_json::from_value(json!({
            "name": "n", "category": "c", "title": "t", "config_schema": {},
            "remote_resource": {"provider": "lambda_labs"}
        }))
        .unwrap();
        let mut expected = PluginMetadata::new("n", "c", "t", json!({}));
        expected.remote_resource = Some(RemoteResourceInfo::new(CloudProviderType::LambdaLabs));
        assert_eq!(p, expected);
        let r = p.remote_resource.as_ref().unwrap();
        assert_eq!((r.ssh_port, r.status.as_str()), (22, "unknown"));
    }

    #[test]
    fn unknown_fields_are_refused_like_python() {
        let err = serde_json::from_value::<PluginMetadata>(json!({
            "name": "n", "category": "c", "title": "t", "config_schema": {},
            "execution_mod": "docker"
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("execution_mod"), "{err}");
        let err = serde_json::from_value::<RemoteResourceInfo>(json!({
            "provider": "aws", "gpus": 4
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("gpus"), "{err}");
    }
}
