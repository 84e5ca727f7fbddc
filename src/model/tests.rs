//! Unit tests of the model: Python meanings, defaults and validation.

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
