//! The examples of the Python original (`core.metadata`), as values: the
//! quickstart example and the CLI's `demo` save these.

use serde_json::json;

use crate::model::{CloudProviderType, PluginExecutionMode, PluginMetadata, RemoteResourceInfo};

/// The seed's AWS instance (`aws_resource`): 4× V100 in us-west-2,
/// running, $12.24/hour.
pub fn aws_resource() -> RemoteResourceInfo {
    let mut r = RemoteResourceInfo::new(CloudProviderType::Aws);
    r.region = Some("us-west-2".into());
    r.instance_id = Some("i-1234567890abcdef".into());
    r.resource_type = Some("p3.8xlarge".into());
    r.gpu_count = 4;
    r.gpu_type = Some("V100".into());
    r.status = "running".into();
    r.estimated_cost_per_hour = Some(12.24);
    r.ssh_host = Some("54.123.45.67".into());
    r
}

/// The seed's Lambda Labs instance (`lambda_resource`): 4× A100 in
/// us-west-1, provisioning, $4.40/hour.
pub fn lambda_resource() -> RemoteResourceInfo {
    let mut r = RemoteResourceInfo::new(CloudProviderType::LambdaLabs);
    r.instance_id = Some("0x1a2b3c4d".into());
    r.resource_type = Some("4x_A100".into());
    r.gpu_count = 4;
    r.gpu_type = Some("A100".into());
    r.status = "provisioning".into();
    r.estimated_cost_per_hour = Some(4.40);
    r.region = Some("us-west-1".into());
    r
}

/// `simple_plugin`: Whisper Tiny, in process, configured.
pub fn whisper_tiny() -> PluginMetadata {
    let mut p = PluginMetadata::new(
        "whisper_tiny",
        "transcription",
        "Whisper Tiny Model",
        json!({
            "type": "object",
            "properties": {
                "device": {"type": "string", "enum": ["cpu", "cuda"], "default": "cpu"}
            }
        }),
    );
    p.version = Some("1.0.0".into());
    p.is_configured = true;
    p
}

/// `vllm_plugin`: Voxtral behind a vLLM server, three child processes.
pub fn voxtral_vllm() -> PluginMetadata {
    let mut p = PluginMetadata::new(
        "voxtral_vllm",
        "transcription",
        "Voxtral via vLLM Server",
        json!({"type": "object", "properties": {}}),
    );
    p.execution_mode = PluginExecutionMode::Subprocess;
    p.manages_child_processes = true;
    p.manages_external_resources = true;
    p.spawned_pids = vec![54321, 54322, 54323];
    p
}

/// `cloud_plugin`: LLM finetuning on 8× A100 at AWS, running.
pub fn llm_finetune_aws() -> PluginMetadata {
    let mut p = PluginMetadata::new(
        "llm_finetune_aws",
        "finetuning",
        "AWS LLM Finetuning",
        json!({"type": "object", "properties": {}}),
    );
    p.execution_mode = PluginExecutionMode::CloudGpu;
    p.manages_external_resources = true;
    let mut r = RemoteResourceInfo::new(CloudProviderType::Aws);
    r.instance_id = Some("i-abcd1234".into());
    r.status = "running".into();
    r.gpu_count = 8;
    r.gpu_type = Some("A100".into());
    r.estimated_cost_per_hour = Some(24.50);
    p.remote_resource = Some(r);
    p
}

/// A cloud-GPU plugin holding the seed's [`aws_resource`].
pub fn whisper_large_aws() -> PluginMetadata {
    let mut p = PluginMetadata::new(
        "whisper_large_aws",
        "transcription",
        "Whisper Large on AWS",
        json!({"type": "object", "properties": {}}),
    );
    p.execution_mode = PluginExecutionMode::CloudGpu;
    p.manages_external_resources = true;
    p.remote_resource = Some(aws_resource());
    p
}

/// A cloud-GPU plugin holding the seed's [`lambda_resource`].
pub fn llm_finetune_lambda() -> PluginMetadata {
    let mut p = PluginMetadata::new(
        "llm_finetune_lambda",
        "finetuning",
        "Lambda Labs LLM Finetuning",
        json!({"type": "object", "properties": {}}),
    );
    p.execution_mode = PluginExecutionMode::CloudGpu;
    p.manages_external_resources = true;
    p.remote_resource = Some(lambda_resource());
    p
}

/// All five example plugins, ordered by `(category, name)` as the store
/// lists them.
pub fn plugins() -> Vec<PluginMetadata> {
    vec![
        llm_finetune_aws(),
        llm_finetune_lambda(),
        voxtral_vllm(),
        whisper_large_aws(),
        whisper_tiny(),
    ]
}
