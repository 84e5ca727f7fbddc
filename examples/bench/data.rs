//! The benchmark's input: N plugins built from a fixed seed, so every run on
//! every machine times the same data. About 30% have 1–3 PIDs, 15% a
//! container id (a third of those empty), 30% a remote resource (a third of
//! those running); every execution mode and provider occurs.

use plugin_metastore::{
    CloudProviderType, PluginExecutionMode, PluginMetadata, RemoteResourceInfo,
};
use serde_json::json;

/// The `n` plugins every bench works on.
pub fn plugins(n: usize) -> Vec<PluginMetadata> {
    let mut rng = Rng::new(1);
    (0..n).map(|i| make_plugin(&mut rng, i)).collect()
}

/// The inputs of the per-call benches, drawn from `plugins` with their own
/// seed: `calls` changed copies of random plugins (for `save_one`), then
/// `calls` random keys (for `get`).
pub fn edits_and_keys(
    plugins: &[PluginMetadata],
    calls: usize,
) -> (Vec<PluginMetadata>, Vec<(&str, &str)>) {
    let mut rng = Rng::new(2);
    let n = plugins.len();
    let edits = (0..calls)
        .map(|k| {
            let i = rng.below(n);
            changed(&mut rng, &plugins[i], k)
        })
        .collect();
    let keys = (0..calls)
        .map(|_| {
            let p = &plugins[rng.below(n)];
            (p.category.as_str(), p.name.as_str())
        })
        .collect();
    (edits, keys)
}

/// The tests' generator (`tests/support/rng.rs`), drawing indices.
struct Rng(crate::rng::Rng);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(crate::rng::Rng::new(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn below(&mut self, n: usize) -> usize {
        self.0.below(n as u64) as usize
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.0.chance(percent)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Numbers below each of `bounds`, joined by dots (a version, an address).
fn dotted(rng: &mut Rng, bounds: &[usize]) -> String {
    let parts: Vec<String> = bounds.iter().map(|&b| rng.below(b).to_string()).collect();
    parts.join(".")
}

const CATEGORIES: &[&str] = &[
    "transcription",
    "translation",
    "diarization",
    "summarization",
    "finetuning",
    "embedding",
    "vision",
    "speech_synthesis",
    "ocr",
    "retrieval",
    "classification",
    "audio_cleanup",
];

const WORDS: &[&str] = &[
    "whisper", "voxtral", "llama", "mistral", "bert", "clip", "sam", "yolo", "t5", "bark", "xtts",
    "pyannote", "nemo", "faster", "tiny", "large", "turbo", "distil",
];

const STATUSES: &[&str] = &["stopped", "provisioning", "terminated", "pending"];
const REGIONS: &[&str] = &["us-west-2", "us-east-1", "eu-central-1", "asia-east1"];
const GPUS: &[&str] = &["A100", "H100", "V100", "L4", "T4"];

fn make_plugin(rng: &mut Rng, i: usize) -> PluginMetadata {
    let (a, b) = (rng.pick(WORDS), rng.pick(WORDS));
    let category = rng.pick(CATEGORIES);
    // A realistic ~150-byte JSON schema.
    let config = json!({
        "type": "object",
        "properties": {
            "device": {"type": "string", "enum": ["cpu", "cuda"], "default": "cpu"},
            "batch_size": {"type": "integer", "minimum": 1, "default": 1 + rng.below(64)}
        }
    });
    let mut p = PluginMetadata::new(
        format!("{a}_{b}_{i:06}"),
        category,
        format!("{} {} model #{i}", capitalize(a), capitalize(b)),
        config,
    );
    if rng.chance(70) {
        p.description = Some(format!(
            "{} plugin built on {a} and {b}; runs batched inference and reports progress.",
            capitalize(category)
        ));
    }
    if rng.chance(80) {
        p.version = Some(dotted(rng, &[4, 20, 10]));
    }
    p.is_configured = rng.chance(50);
    p.execution_mode = PluginExecutionMode::ALL[rng.below(PluginExecutionMode::ALL.len())];
    if rng.chance(30) {
        let base = 1000 + rng.below(4_000_000) as u32;
        p.spawned_pids = (0..1 + rng.below(3) as u32).map(|k| base + k).collect();
        p.manages_child_processes = true;
    }
    match rng.below(100) {
        0..10 => p.container_id = Some(format!("{:012x}", rng.next() >> 16)),
        10..15 => p.container_id = Some(String::new()),
        _ => {}
    }
    if p.execution_mode == PluginExecutionMode::CondaEnv {
        p.conda_env_name = Some(format!("{a}-env"));
    }
    if rng.chance(30) {
        let provider = CloudProviderType::ALL[rng.below(CloudProviderType::ALL.len())];
        let mut r = RemoteResourceInfo::new(provider);
        r.status = if rng.below(3) == 0 {
            "running".to_owned()
        } else {
            rng.pick(STATUSES).to_owned()
        };
        r.region = Some(rng.pick(REGIONS).to_owned());
        r.instance_id = Some(format!("i-{:016x}", rng.next()));
        r.resource_type = Some(format!("gpu.{}x", 1 + rng.below(8)));
        r.gpu_count = 1 + rng.below(8) as u32;
        r.gpu_type = Some(rng.pick(GPUS).to_owned());
        r.estimated_cost_per_hour = Some((rng.below(5000) as f64) / 100.0);
        if rng.chance(50) {
            r.ssh_host = Some(format!("10.{}", dotted(rng, &[256, 256, 256])));
        }
        r.metadata.insert("owner".into(), json!("bench"));
        r.metadata.insert("job".into(), json!(i));
        p.remote_resource = Some(r);
        p.manages_external_resources = true;
    }
    p
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A changed copy of a saved plugin, for `save_one`: new title and version,
/// and every fourth one gains or loses its PIDs and remote resource.
fn changed(rng: &mut Rng, p: &PluginMetadata, k: usize) -> PluginMetadata {
    let mut p = p.clone();
    p.title = format!("{} (rev {k})", p.title);
    p.version = Some(format!("2.{k}.0"));
    if k.is_multiple_of(4) {
        if p.spawned_pids.is_empty() {
            p.spawned_pids = vec![5_000_000 + k as u32, 5_000_001 + k as u32];
        } else {
            p.spawned_pids.clear();
        }
        if p.remote_resource.is_some() {
            p.remote_resource = None;
        } else {
            let mut r = RemoteResourceInfo::new(CloudProviderType::Gcp);
            r.status = "running".into();
            r.region = Some(rng.pick(REGIONS).to_owned());
            p.remote_resource = Some(r);
        }
    }
    p
}
