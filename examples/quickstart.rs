//! Quickstart: open a store in a file, save the Python seed's example
//! plugins, read them back and print what the Python notebook printed.
//!
//! `cargo run --example quickstart [PATH]` — without PATH the store goes to
//! a fresh temporary directory.

use plugin_metastore::{
    CloudProviderType, MetadataStore, PluginQuery, RemoteResourceInfo, Result, seed,
};

fn yes_no(b: bool) -> &'static str {
    // Python prints booleans as True / False.
    if b { "True" } else { "False" }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("quickstart: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let dir = std::env::temp_dir().join(format!(
        "plugin-metastore-quickstart-{}",
        std::process::id()
    ));
    let path = match std::env::args_os().nth(1) {
        Some(p) => p.into(),
        None => {
            std::fs::create_dir_all(&dir)?;
            dir.join("plugins.db")
        }
    };
    let store = MetadataStore::open(&path)?;
    println!(
        "Store: {} (schema version {})",
        path.display(),
        store.schema_version()?
    );
    store.save_all(&seed::plugins())?;
    println!("Saved {} plugins.\n", store.count(&PluginQuery::new())?);

    // Everything below is read back from the file.
    let aws = remote_of(&store, "transcription", "whisper_large_aws")?;
    println!("Provider: {}", aws.provider);
    println!("Instance: {}", aws.instance_id.as_deref().unwrap_or(""));
    println!(
        "GPUs: {}x {}",
        aws.gpu_count,
        aws.gpu_type.as_deref().unwrap_or("")
    );
    println!(
        "Cost: ${}/hour\n",
        aws.estimated_cost_per_hour.unwrap_or_default()
    );

    let lambda = remote_of(&store, "finetuning", "llm_finetune_lambda")?;
    println!("Provider: {}", lambda.provider);
    println!("Status: {}", lambda.status);
    println!(
        "Configuration: {}\n",
        lambda.resource_type.as_deref().unwrap_or("")
    );

    let Some(simple) = store.get("transcription", "whisper_tiny")? else {
        return Err(not_found("transcription", "whisper_tiny"));
    };
    println!("Plugin: {}", simple.title);
    println!("Unique ID: {}", simple.unique_id());
    println!("Execution mode: {}", simple.execution_mode);
    println!("Is local: {}", yes_no(simple.is_local_execution()));
    println!(
        "Has active resources: {}\n",
        yes_no(simple.has_active_resources())
    );

    let Some(vllm) = store.get_by_unique_id("transcription_voxtral_vllm")? else {
        return Err(not_found("transcription", "voxtral_vllm"));
    };
    println!("Plugin: {}", vllm.title);
    println!("Execution mode: {}", vllm.execution_mode);
    println!(
        "Manages child processes: {}",
        yes_no(vllm.manages_child_processes)
    );
    println!("Spawned PIDs: {:?}", vllm.spawned_pids);
    println!(
        "Has active resources: {}\n",
        yes_no(vllm.has_active_resources())
    );

    let Some(cloud) = store.get("finetuning", "llm_finetune_aws")? else {
        return Err(not_found("finetuning", "llm_finetune_aws"));
    };
    println!("Plugin: {}", cloud.title);
    println!("Execution mode: {}", cloud.execution_mode);
    println!("Is cloud: {}", yes_no(cloud.is_cloud_execution()));
    if let Some(r) = &cloud.remote_resource {
        println!("Provider: {}", r.provider);
        println!("Instance: {}", r.instance_id.as_deref().unwrap_or(""));
        println!(
            "Cost: ${}/hour",
            r.estimated_cost_per_hour.unwrap_or_default()
        );
    }
    println!(
        "Has active resources: {}\n",
        yes_no(cloud.has_active_resources())
    );

    let on_aws: Vec<String> = store
        .find_by_provider(CloudProviderType::Aws)?
        .iter()
        .map(|p| p.unique_id())
        .collect();
    println!("Plugins on AWS: {}", on_aws.join(", "));
    let active: Vec<String> = store.find_active()?.iter().map(|p| p.unique_id()).collect();
    println!("Plugins holding resources: {}", active.join(", "));
    println!(
        "\nThe store is kept for you to look at:\n  sqlite3 -box {} \"SELECT * FROM plugin_overview\"",
        path.display()
    );
    Ok(())
}

/// The remote resource of a stored plugin.
fn remote_of(store: &MetadataStore, category: &str, name: &str) -> Result<RemoteResourceInfo> {
    store
        .get(category, name)?
        .and_then(|p| p.remote_resource)
        .ok_or_else(|| not_found(category, name))
}

fn not_found(category: &str, name: &str) -> plugin_metastore::Error {
    plugin_metastore::Error::NotFound {
        category: category.into(),
        name: name.into(),
    }
}
