//! [`PluginSummary`]: the few columns a list view shows, without the JSON.

use serde::Serialize;

#[cfg(doc)]
use super::PluginMetadata;
use super::{CloudProviderType, PluginExecutionMode};

/// One plugin as a list row: everything a table of plugins shows, read
/// without parsing `config_schema` or the remote resource's `metadata`
/// (see [`MetadataStore::summaries`](crate::MetadataStore::summaries)).
/// Each field means what the same field of [`PluginMetadata`] means.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PluginSummary {
    /// The plugin's category.
    pub category: String,
    /// The plugin's name.
    pub name: String,
    /// Its title.
    pub title: String,
    /// How it executes.
    pub execution_mode: PluginExecutionMode,
    /// Its remote resource's provider, if it has a remote resource.
    pub provider: Option<CloudProviderType>,
    /// Its remote resource's status, if it has a remote resource.
    pub remote_status: Option<String>,
    /// Its child PIDs, in order.
    pub spawned_pids: Vec<u32>,
    /// Its container id (`Some("")` is no container, as in Python).
    pub container_id: Option<String>,
    /// Its remote resource's estimated cost per hour, if known.
    pub cost_per_hour: Option<f64>,
    /// Whether it is configured.
    pub is_configured: bool,
    /// [`PluginMetadata::has_active_resources`] of the plugin.
    pub has_active_resources: bool,
    /// When the store last saved or changed it: RFC 3339 UTC with six
    /// fraction digits, as stored, so text order is time order.
    pub updated_at: String,
}

impl PluginSummary {
    /// `"{category}_{name}"`, as [`PluginMetadata::unique_id`].
    pub fn unique_id(&self) -> String {
        super::unique_id(&self.category, &self.name)
    }

    /// True if the plugin executes locally.
    pub fn is_local_execution(&self) -> bool {
        self.execution_mode.is_local()
    }
}
