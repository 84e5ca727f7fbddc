//! Plugin builders: one awkward plugin, an ambiguous pair, numbered
//! samples, and random plugins for generated workloads.

use std::path::{Path, PathBuf};

use plugin_metastore::{
    CloudProviderType, MetadataStore, PluginExecutionMode, PluginMetadata, PluginSummary,
    RemoteResourceInfo,
};
use serde_json::json;

use super::rng::Rng;

/// A plugin with every field set to something awkward: unicode and quotes
/// in the key, a newline, a tab and a backslash in the title, JSON with keys out
/// of order and extreme numbers (`u64::MAX`, `i64::MIN`, `-3e300`,
/// `0.1 + 0.2`), `Some("")` next to `None`, the largest PID, port, GPU
/// count and cost, and a NUL inside a string.
pub fn unusual_plugin() -> PluginMetadata {
    let mut p = PluginMetadata::new(
        "naïve \"quoted\" 'name' ✓",
        "cat_égorie",
        "Title with \n newline, \t tab, emoji 🚀 and NUL-free \\ backslash",
        json!({
            "type": "object",
            "z_first": 1, "a_second": [1, 2.5, -3e300, null, true],
            "nested": {"deep": {"deeper": ["x", {"k": "v"}]}},
            "unicode": "日本語", "big": u64::MAX, "neg": i64::MIN,
        }),
    );
    p.description = Some(String::new());
    p.version = Some("2.0.0-rc.1+build.5".into());
    p.is_configured = true;
    p.execution_mode = PluginExecutionMode::Hybrid;
    p.manages_child_processes = true;
    p.manages_external_resources = true;
    p.spawned_pids = vec![u32::MAX, 1, 99999, 2];
    p.container_id = Some(String::new());
    p.conda_env_name = Some("env-'1'".into());
    let mut r = RemoteResourceInfo::new(CloudProviderType::VastAi);
    r.region = Some(String::new());
    r.instance_id = Some("i-\u{0}nul".into());
    r.job_id = Some("job/1".into());
    r.endpoint_url = Some("https://example.invalid/v1?q=1&r=2".into());
    r.ssh_host = None;
    r.ssh_port = u16::MAX;
    r.status = "Running".into();
    r.resource_type = Some("8x_H100".into());
    r.gpu_count = u32::MAX;
    r.gpu_type = Some("H100".into());
    r.estimated_cost_per_hour = Some(f64::MAX);
    r.metadata = json!({"tags": ["a", "b"], "spot": true, "price": 0.1, "sum": 0.1 + 0.2})
        .as_object()
        .unwrap()
        .clone();
    p.remote_resource = Some(r);
    p
}

/// Two plugins with the same display id `a_b_c`: category `a_b` + name
/// `c` (title "first") and category `a` + name `b_c` (title "second").
pub fn ambiguous_pair() -> [PluginMetadata; 2] {
    [
        PluginMetadata::new("c", "a_b", "first", json!({})),
        PluginMetadata::new("b_c", "a", "second", json!({})),
    ]
}

/// Sample plugin number `i`: `sample/plugin{i}`, cloud GPU, PIDs
/// `100 + i` and `200 + i`, and a running AWS resource with `i` in its
/// metadata. Everything is derived from `i`, so a test can rebuild what
/// it saved.
pub fn sample(i: usize) -> PluginMetadata {
    let mut p = PluginMetadata::new(
        format!("plugin{i}"),
        "sample",
        format!("Plugin {i}"),
        json!({"type": "object", "i": i}),
    );
    p.execution_mode = PluginExecutionMode::CloudGpu;
    p.spawned_pids = vec![100 + i as u32, 200 + i as u32];
    let mut r = RemoteResourceInfo::new(CloudProviderType::Aws);
    r.status = "running".into();
    r.gpu_count = 1;
    r.estimated_cost_per_hour = Some(1.5);
    r.metadata.insert("i".into(), json!(i));
    p.remote_resource = Some(r);
    p
}

/// A cloud GPU plugin `(category, name)` whose remote resource is on
/// `provider`, in `status`, at `rate` dollars per hour (`None`: unknown),
/// with instance id `i-{name}`.
pub fn cloud_plugin(
    category: &str,
    name: &str,
    provider: CloudProviderType,
    status: &str,
    rate: Option<f64>,
) -> PluginMetadata {
    let mut p = PluginMetadata::new(name, category, format!("Cloud {name}"), json!({}));
    p.execution_mode = PluginExecutionMode::CloudGpu;
    p.manages_external_resources = true;
    let mut r = RemoteResourceInfo::new(provider);
    r.instance_id = Some(format!("i-{name}"));
    r.status = status.to_owned();
    r.estimated_cost_per_hour = rate;
    p.remote_resource = Some(r);
    p
}

/// Creates the store file `name` in `dir` holding `sample(0)` …
/// `sample(n - 1)`, saved in one `save_all` (so plugin `i` has row id
/// `i + 1` and its PIDs rowids `2i + 1` and `2i + 2`), closes it, and
/// returns its path.
pub fn sample_store(dir: &Path, name: &str, n: usize) -> PathBuf {
    let path = dir.join(name);
    let store = MetadataStore::open(&path).unwrap();
    let plugins: Vec<_> = (0..n).map(sample).collect();
    store.save_all(&plugins).unwrap();
    path
}

/// [`sample_store`] in a new temporary directory: `(dir, path)`, the file
/// gone with the directory.
pub fn sample_dir(name: &str, n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_store(dir.path(), name, n);
    (dir, path)
}

/// Remote statuses that look like "running" but are not, the one that is,
/// and others: what `has_active_resources` and the status filter must tell
/// apart.
pub const STATUSES: &[&str] = &[
    "running",
    "Running",
    "RUNNING",
    " running",
    "stopped",
    "provisioning",
    "unknown",
    "",
];

/// A plugin with the key `(category, name)` and everything else drawn from
/// `rng`: any execution mode, configured or not, in about a third of the
/// cases one to three PIDs (in either order), a container id that is
/// absent, empty (not a container) or real, a version half of the time, and
/// in 45% of the cases a remote resource with any provider, a status from
/// [`STATUSES`], a cost most of the time and up to eight GPUs.
///
/// `serial` tells plugins apart: the title, the config, the container id
/// and the resource's metadata carry it, and the PIDs are
/// `serial * 10 + 1 ..= serial * 10 + 3`, so another caller can add PIDs
/// ending in 4 to 9 without a clash.
pub fn random_plugin(rng: &mut Rng, category: &str, name: &str, serial: u64) -> PluginMetadata {
    let mut p = PluginMetadata::new(
        name,
        category,
        format!("Plugin {serial} «ü»"),
        json!({"type": "object", "serial": serial}),
    );
    p.execution_mode = *rng.pick(PluginExecutionMode::ALL);
    p.is_configured = rng.chance(50);
    if rng.chance(50) {
        p.version = Some(serial.to_string());
    }
    if rng.chance(35) {
        let count = 1 + rng.below(3);
        p.spawned_pids = (1..=count).map(|k| (serial * 10 + k) as u32).collect();
        if rng.chance(50) {
            p.spawned_pids.reverse();
        }
    }
    p.container_id = match rng.below(10) {
        0 => Some(String::new()),
        1 | 2 => Some(format!("c{serial:x}")),
        _ => None,
    };
    if rng.chance(45) {
        let mut r = RemoteResourceInfo::new(*rng.pick(CloudProviderType::ALL));
        r.status = (*rng.pick(STATUSES)).to_owned();
        r.estimated_cost_per_hour = rng.chance(70).then(|| rng.below(10_000) as f64 / 100.0);
        r.gpu_count = rng.below(9) as u32;
        r.metadata.insert("serial".into(), json!(serial));
        p.remote_resource = Some(r);
    }
    p
}

/// Fails unless `rows` are the summaries of `plugins`, one for one, in
/// order: every field equal to the plugin's (`has_active_resources` to the
/// model's predicate) and `updated_at` a store timestamp.
#[track_caller]
pub fn assert_summarizes(rows: &[PluginSummary], plugins: &[PluginMetadata]) {
    assert_eq!(rows.len(), plugins.len(), "one summary per plugin");
    for (row, p) in rows.iter().zip(plugins) {
        let remote = p.remote_resource.as_ref();
        let cost = remote.and_then(|r| r.estimated_cost_per_hour);
        let same = row.category == p.category
            && row.name == p.name
            && row.title == p.title
            && row.execution_mode == p.execution_mode
            && row.provider == remote.map(|r| r.provider)
            && row.remote_status.as_deref() == remote.map(|r| r.status.as_str())
            && row.spawned_pids == p.spawned_pids
            && row.container_id == p.container_id
            && row.cost_per_hour.map(f64::to_bits) == cost.map(f64::to_bits)
            && row.is_configured == p.is_configured
            && row.has_active_resources == p.has_active_resources()
            && row.unique_id() == p.unique_id();
        assert!(same, "summary {row:?}\nof plugin {p:?}");
        assert!(
            row.updated_at.len() == 27 && row.updated_at.ends_with('Z'),
            "updated_at {:?}",
            row.updated_at
        );
    }
}

/// Dated transitions of the demo's two priced cloud plugins, as the cost
/// tests record them with `remote-status --at`: the large Whisper runs
/// Nov 1, 20:00 to Nov 2, 02:00, the Lambda finetune Nov 2, 10:00 to
/// 13:00.
pub const DEMO_TRANSITIONS: [(&str, &str, &str); 4] = [
    (
        "transcription_whisper_large_aws",
        "running",
        "2026-11-01T20:00:00Z",
    ),
    (
        "transcription_whisper_large_aws",
        "stopped",
        "2026-11-02T02:00:00Z",
    ),
    (
        "finetuning_llm_finetune_lambda",
        "running",
        "2026-11-02T10:00:00Z",
    ),
    (
        "finetuning_llm_finetune_lambda",
        "stopped",
        "2026-11-02T13:00:00Z",
    ),
];
