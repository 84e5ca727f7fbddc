#!/usr/bin/env python3
"""Writes tests/fixtures/python_seed.json with the ORIGINAL Python dataclasses.

The dataclasses below are copied verbatim from the Python module this crate
ports (core.metadata, see shared/reference/metadata_seed.md); the two enums
come from its sibling module execution_mode, with the values of DESIGN.md.
The plugins are the notebook's examples plus two plugins that carry its
`aws_resource` and `lambda_resource`, named as in src/seed.rs, in the order
the store lists them (by category, then name).

Usage: python3 tests/python/make_fixture.py [OUT]
(default OUT: tests/fixtures/python_seed.json next to this directory)
"""

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Dict, List, Optional


class PluginExecutionMode(str, Enum):
    IN_PROCESS = "in_process"
    SUBPROCESS = "subprocess"
    DOCKER = "docker"
    CONDA_ENV = "conda_env"
    EXTERNAL_SERVICE = "external_service"
    CLOUD_GPU = "cloud_gpu"
    CLOUD_API = "cloud_api"
    REMOTE_SERVER = "remote_server"
    HYBRID = "hybrid"


class CloudProviderType(str, Enum):
    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"
    LAMBDA_LABS = "lambda_labs"
    RUNPOD = "runpod"
    VAST_AI = "vast_ai"
    PAPERSPACE = "paperspace"
    COREWEAVE = "coreweave"
    CUSTOM = "custom"


@dataclass
class RemoteResourceInfo:
    """Information about a remote/cloud resource used by a plugin."""
    provider: CloudProviderType  # Cloud provider or service
    region: Optional[str] = None  # Cloud region/zone
    instance_id: Optional[str] = None  # VM/instance identifier
    job_id: Optional[str] = None  # Job/task identifier on remote system
    endpoint_url: Optional[str] = None  # HTTP endpoint for API access
    ssh_host: Optional[str] = None  # SSH host for remote access
    ssh_port: int = 22  # SSH port number
    status: str = "unknown"  # Current status (provisioning, running, stopping, stopped)
    resource_type: Optional[str] = None  # Instance type (e.g., 'p3.2xlarge', 'n1-standard-8')
    gpu_count: int = 0  # Number of GPUs
    gpu_type: Optional[str] = None  # GPU model (e.g., 'V100', 'A100', 'H100')
    estimated_cost_per_hour: Optional[float] = None  # Estimated hourly cost in USD
    metadata: Dict[str, Any] = field(default_factory=dict)  # Additional provider-specific metadata


@dataclass
class PluginMetadata:
    """Metadata describing a plugin for display and resource management without loading the plugin instance."""
    name: str  # Internal plugin identifier
    category: str  # Plugin category string (application-defined)
    title: str  # Display title for the plugin
    config_schema: Dict[str, Any]  # JSON Schema for plugin configuration
    description: Optional[str] = None  # Plugin description
    version: Optional[str] = None  # Plugin version
    is_configured: bool = False  # Whether the plugin has saved configuration

    # Lifecycle metadata
    execution_mode: PluginExecutionMode = PluginExecutionMode.IN_PROCESS  # How the plugin executes
    manages_child_processes: bool = False  # Whether plugin spawns child processes
    manages_external_resources: bool = False  # Whether plugin manages Docker/servers/etc.

    # Local resource tracking
    spawned_pids: List[int] = field(default_factory=list)  # List of child process PIDs
    container_id: Optional[str] = None  # Docker container ID if applicable
    conda_env_name: Optional[str] = None  # Conda environment name if applicable

    # Cloud/Remote resource tracking
    remote_resource: Optional[RemoteResourceInfo] = None  # Remote resource information if applicable

    def get_unique_id(self) -> str:  # String in format 'category_name'
        """Generate unique ID for this plugin."""
        return f"{self.category}_{self.name}"


# The notebook's examples, as written there.
aws_resource = RemoteResourceInfo(
    provider=CloudProviderType.AWS,
    region="us-west-2",
    instance_id="i-1234567890abcdef",
    resource_type="p3.8xlarge",
    gpu_count=4,
    gpu_type="V100",
    status="running",
    estimated_cost_per_hour=12.24,
    ssh_host="54.123.45.67"
)

lambda_resource = RemoteResourceInfo(
    provider=CloudProviderType.LAMBDA_LABS,
    instance_id="0x1a2b3c4d",
    resource_type="4x_A100",
    gpu_count=4,
    gpu_type="A100",
    status="provisioning",
    estimated_cost_per_hour=4.40,
    region="us-west-1"
)

simple_plugin = PluginMetadata(
    name="whisper_tiny",
    category="transcription",
    title="Whisper Tiny Model",
    config_schema={
        "type": "object",
        "properties": {
            "device": {"type": "string", "enum": ["cpu", "cuda"], "default": "cpu"}
        }
    },
    version="1.0.0",
    is_configured=True
)

vllm_plugin = PluginMetadata(
    name="voxtral_vllm",
    category="transcription",
    title="Voxtral via vLLM Server",
    config_schema={"type": "object", "properties": {}},
    execution_mode=PluginExecutionMode.SUBPROCESS,
    manages_child_processes=True,
    manages_external_resources=True,
    spawned_pids=[54321, 54322, 54323]
)

cloud_plugin = PluginMetadata(
    name="llm_finetune_aws",
    category="finetuning",
    title="AWS LLM Finetuning",
    config_schema={"type": "object", "properties": {}},
    execution_mode=PluginExecutionMode.CLOUD_GPU,
    manages_external_resources=True,
    remote_resource=RemoteResourceInfo(
        provider=CloudProviderType.AWS,
        instance_id="i-abcd1234",
        status="running",
        gpu_count=8,
        gpu_type="A100",
        estimated_cost_per_hour=24.50
    )
)

# The two resources on plugins of their own (src/seed.rs: whisper_large_aws,
# llm_finetune_lambda).
whisper_large_aws = PluginMetadata(
    name="whisper_large_aws",
    category="transcription",
    title="Whisper Large on AWS",
    config_schema={"type": "object", "properties": {}},
    execution_mode=PluginExecutionMode.CLOUD_GPU,
    manages_external_resources=True,
    remote_resource=aws_resource
)

llm_finetune_lambda = PluginMetadata(
    name="llm_finetune_lambda",
    category="finetuning",
    title="Lambda Labs LLM Finetuning",
    config_schema={"type": "object", "properties": {}},
    execution_mode=PluginExecutionMode.CLOUD_GPU,
    manages_external_resources=True,
    remote_resource=lambda_resource
)


def main() -> None:
    default = Path(__file__).resolve().parent.parent / "fixtures" / "python_seed.json"
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    plugins = [simple_plugin, vllm_plugin, cloud_plugin, whisper_large_aws, llm_finetune_lambda]
    plugins.sort(key=lambda p: (p.category, p.name))
    text = json.dumps([dataclasses.asdict(p) for p in plugins], default=lambda e: e.value, indent=2)
    out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
