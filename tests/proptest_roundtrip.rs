//! Property tests: any valid plugin round-trips through a store file
//! unchanged (unicode, empty strings, `Some("")` vs `None`, extreme numbers,
//! nested JSON), and any invalid one is refused with nothing written.

use plugin_metastore::{
    CloudProviderType, Error, MetadataStore, PluginExecutionMode, PluginMetadata,
    RemoteResourceInfo,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Number, Value};

// ---------------------------------------------------------------------------
// Strategies

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        // Printable text in any script.
        "\\PC{0,24}",
        // Anything at all: control characters, NUL, surrogates' neighbours.
        any::<String>(),
        Just("'; DROP TABLE plugins; -- \"\\\n\t".to_owned()),
        Just("a_b".to_owned()),
    ]
}

fn key_text() -> impl Strategy<Value = String> {
    text().prop_filter("keys are not empty", |s| !s.is_empty())
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![Just(None), Just(Some(String::new())), text().prop_map(Some)]
}

/// Finite doubles, with the extremes over-represented.
fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(-5e-324),
        Just(1e300),
        Just(0.1),
        Just(9_007_199_254_740_993.0),
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
    ]
}

fn cost() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        Just(None),
        finite_f64().prop_map(|f| Some(f.abs())),
        (0u32..10_000).prop_map(|c| Some(f64::from(c) / 100.0)),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        finite_f64().prop_map(|f| Value::Number(Number::from_f64(f).unwrap())),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec((text(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::vec((text(), json()), 0..8).prop_map(|kv| kv.into_iter().collect())
}

fn pids() -> impl Strategy<Value = Vec<u32>> {
    proptest::collection::vec(prop_oneof![Just(1u32), Just(u32::MAX), 1..=u32::MAX], 0..12)
        .prop_map(|mut v| {
            let mut seen = std::collections::HashSet::new();
            v.retain(|p| seen.insert(*p));
            v
        })
}

fn remote() -> impl Strategy<Value = RemoteResourceInfo> {
    (
        (
            proptest::sample::select(CloudProviderType::ALL),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
            any::<u16>(),
        ),
        (
            prop_oneof![
                Just("running".to_owned()),
                Just("Running".to_owned()),
                text()
            ],
            opt_text(),
            prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()],
            opt_text(),
            cost(),
            json_object(),
        ),
    )
        .prop_map(
            |(
                (provider, region, instance_id, job_id, endpoint_url, ssh_host, ssh_port),
                (status, resource_type, gpu_count, gpu_type, estimated_cost_per_hour, metadata),
            )| RemoteResourceInfo {
                provider,
                region,
                instance_id,
                job_id,
                endpoint_url,
                ssh_host,
                ssh_port,
                status,
                resource_type,
                gpu_count,
                gpu_type,
                estimated_cost_per_hour,
                metadata,
            },
        )
}

fn plugin() -> impl Strategy<Value = PluginMetadata> {
    // Each field's strategy, in the order the record below takes them.
    let head = (
        key_text(),
        key_text(),
        text(),
        json_object(),
        opt_text(),
        opt_text(),
        any::<bool>(),
    );
    let tail = (
        proptest::sample::select(PluginExecutionMode::ALL),
        any::<bool>(),
        any::<bool>(),
        pids(),
        opt_text(),
        opt_text(),
        proptest::option::of(remote()),
    );
    (head, tail).prop_map(|(h, t)| PluginMetadata {
        name: h.0,
        category: h.1,
        title: h.2,
        config_schema: Value::Object(h.3),
        description: h.4,
        version: h.5,
        is_configured: h.6,
        execution_mode: t.0,
        manages_child_processes: t.1,
        manages_external_resources: t.2,
        spawned_pids: t.3,
        container_id: t.4,
        conda_env_name: t.5,
        remote_resource: t.6,
    })
}

/// Ways to make a valid plugin invalid.
#[derive(Clone, Debug)]
enum Breakage {
    EmptyName,
    EmptyCategory,
    ConfigNotAnObject(Value),
    PidZero(usize),
    DuplicatePid(usize),
    BadCost(f64),
}

fn breakage() -> impl Strategy<Value = Breakage> {
    prop_oneof![
        Just(Breakage::EmptyName),
        Just(Breakage::EmptyCategory),
        prop_oneof![
            Just(Value::Null),
            Just(Value::Bool(true)),
            Just(Value::from(3)),
            Just(Value::from("{}")),
            Just(Value::Array(vec![])),
            Just(serde_json::json!([{"a": 1}])),
        ]
        .prop_map(Breakage::ConfigNotAnObject),
        any::<usize>().prop_map(Breakage::PidZero),
        any::<usize>().prop_map(Breakage::DuplicatePid),
        prop_oneof![
            Just(f64::NAN),
            Just(-f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-5e-324),
            // SQLite would store it as the integer 0 and return 0.0.
            Just(-0.0),
            Just(-f64::MAX),
            (1u32..1_000_000).prop_map(|c| -f64::from(c) / 100.0),
        ]
        .prop_map(Breakage::BadCost),
    ]
}

fn break_plugin(mut p: PluginMetadata, how: &Breakage) -> PluginMetadata {
    match how {
        Breakage::EmptyName => p.name.clear(),
        Breakage::EmptyCategory => p.category.clear(),
        Breakage::ConfigNotAnObject(v) => p.config_schema = v.clone(),
        Breakage::PidZero(at) => {
            let at = at % (p.spawned_pids.len() + 1);
            p.spawned_pids.insert(at, 0);
        }
        Breakage::DuplicatePid(at) => {
            if p.spawned_pids.is_empty() {
                p.spawned_pids = vec![42, 42];
            } else {
                let pid = p.spawned_pids[at % p.spawned_pids.len()];
                let to = at % (p.spawned_pids.len() + 1);
                p.spawned_pids.insert(to, pid);
            }
        }
        Breakage::BadCost(c) => {
            let remote = p
                .remote_resource
                .get_or_insert_with(|| RemoteResourceInfo::new(CloudProviderType::Custom));
            remote.estimated_cost_per_hour = Some(*c);
        }
    }
    p
}

// ---------------------------------------------------------------------------
// Properties

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Exact equality: `PartialEq` says `0.0 == -0.0`; the JSON text does not.
fn exactly(a: &PluginMetadata, b: &PluginMetadata) -> bool {
    a == b && serde_json::to_string(a).unwrap() == serde_json::to_string(b).unwrap()
}

/// Runs `f` on a thread with a big stack: the nested strategies recurse
/// deeply in unoptimised builds.
fn with_big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

/// Runs `case` on 128 values of the strategy `cases` makes, all against
/// one new store file (`name` in a temporary directory), on a thread with
/// a big stack; then every plugin the cases left must still read back
/// together.
fn cases_on_one_store<S: Strategy>(
    name: &'static str,
    cases: impl FnOnce() -> S + Send + 'static,
    case: impl Fn(&MetadataStore, S::Value) -> Result<(), TestCaseError> + Send + 'static,
) {
    with_big_stack(move || {
        let dir = tempfile::tempdir().unwrap();
        let store = MetadataStore::open(dir.path().join(name)).unwrap();
        runner(128).run(&cases(), |v| case(&store, v)).unwrap();
        store.list().unwrap();
    });
}

#[test]
fn any_valid_plugin_round_trips_unchanged() {
    cases_on_one_store("roundtrip.db", plugin, |store, p| {
        store
            .save(&p)
            .map_err(|e| TestCaseError::fail(format!("save: {e}")))?;
        let back = store
            .get(&p.category, &p.name)
            .map_err(|e| TestCaseError::fail(format!("get: {e}")))?;
        prop_assert!(
            back.as_ref().is_some_and(|b| exactly(b, &p)),
            "got {back:?}"
        );
        let by_id = store
            .get_by_unique_id(&p.unique_id())
            .or_else(|e| match e {
                // Another case's plugin may share the display id.
                Error::AmbiguousId { .. } => Ok(Some(p.clone())),
                e => Err(e),
            })
            .map_err(|e| TestCaseError::fail(format!("get_by_unique_id: {e}")))?;
        prop_assert_eq!(by_id.as_ref(), Some(&p));
        // The same plugin through the Python JSON form.
        let json = serde_json::to_value(&p).unwrap();
        let from_json: PluginMetadata = serde_json::from_value(json).unwrap();
        prop_assert!(exactly(&from_json, &p));
        Ok(())
    });
}

#[test]
fn invalid_plugins_are_refused_and_nothing_is_written() {
    let cases = || (plugin(), plugin(), breakage());
    cases_on_one_store("refused.db", cases, |store, (existing, other, how)| {
        // A valid version of the plugin is already there.
        store.save(&existing).unwrap();
        let before = store.list().unwrap();
        let bad = break_plugin(existing.clone(), &how);
        let err = store.save(&bad);
        prop_assert!(
            matches!(err, Err(Error::InvalidInput { .. })),
            "{how:?}: {err:?}"
        );
        // All or nothing: a valid plugin next to the bad one is not
        // written either.
        let err = store.save_all([&other, &bad]);
        prop_assert!(
            matches!(err, Err(Error::InvalidInput { .. })),
            "{how:?}: {err:?}"
        );
        let after = store.list().unwrap();
        prop_assert!(
            after.len() == before.len() && after.iter().zip(&before).all(|(a, b)| exactly(a, b))
        );
        // The resource calls refuse the same values.
        if let Breakage::BadCost(c) = how {
            let mut r = RemoteResourceInfo::new(CloudProviderType::Aws);
            r.estimated_cost_per_hour = Some(c);
            let err = store.set_remote_resource(&existing.category, &existing.name, Some(&r));
            prop_assert!(matches!(err, Err(Error::InvalidInput { .. })), "{err:?}");
        }
        if let Breakage::PidZero(_) = how {
            let err = store.add_pid(&existing.category, &existing.name, 0);
            prop_assert!(matches!(err, Err(Error::InvalidInput { .. })), "{err:?}");
        }
        if let Some(&pid) = existing.spawned_pids.first() {
            // A PID already stored is re-recorded in place (a fresh
            // claim): the list does not change.
            let ok = store.add_pid(&existing.category, &existing.name, pid);
            prop_assert!(ok.is_ok(), "{ok:?}");
        }
        let after = store.list().unwrap();
        prop_assert!(after.iter().zip(&before).all(|(a, b)| exactly(a, b)));
        Ok(())
    });
}

/// `levels` nested objects: `{"a": {"a": … {}}}`.
fn nested(levels: usize) -> Value {
    let mut v = Value::Object(Map::new());
    for _ in 1..levels {
        // Not json!({"a": v}): that copies `v` through to_value each time.
        v = Value::Object(Map::from_iter([("a".to_owned(), v)]));
    }
    v
}

/// serde_json reads back at most 127 levels, and SQLite's `json_valid` up
/// to 1000: a config nested 128..1000 levels deep used to be saved and then
/// break every `get` and `list`. Now: up to 100 levels round-trip, deeper
/// is refused at save with nothing written, even 100,000 levels (no stack
/// overflow in the store).
#[test]
fn deeply_nested_json_round_trips_or_is_refused_never_saved_unreadable() {
    with_big_stack(|| {
        let store = MetadataStore::open_in_memory().unwrap();
        for levels in [1, 2, 99, 100] {
            let mut p = PluginMetadata::new(format!("d{levels}"), "deep", "", nested(levels));
            let mut r = RemoteResourceInfo::new(CloudProviderType::Custom);
            r.metadata = nested(levels).as_object().unwrap().clone();
            p.remote_resource = Some(r);
            store.save(&p).unwrap();
            assert_eq!(store.get("deep", &p.name).unwrap(), Some(p));
        }
        let kept = store.list().unwrap();
        for levels in [101, 127, 128, 129, 999, 1000, 1001, 100_000] {
            let p = PluginMetadata::new(format!("d{levels}"), "deep", "", nested(levels));
            let err = store.save(&p).unwrap_err();
            assert!(matches!(err, Error::InvalidInput { .. }), "{levels}: {err}");
            let mut q =
                PluginMetadata::new(format!("m{levels}"), "deep", "", serde_json::json!({}));
            let mut r = RemoteResourceInfo::new(CloudProviderType::Custom);
            r.metadata = nested(levels).as_object().unwrap().clone();
            q.remote_resource = Some(r.clone());
            let err = store.save(&q).unwrap_err();
            assert!(matches!(err, Error::InvalidInput { .. }), "{levels}: {err}");
            let err = store
                .set_remote_resource("deep", "d1", Some(&r))
                .unwrap_err();
            assert!(matches!(err, Error::InvalidInput { .. }), "{levels}: {err}");
            assert_eq!(store.list().unwrap(), kept);
            // Dropping a 100,000-level Value recurses; do it with care.
            std::mem::forget(p);
            std::mem::forget(q);
            std::mem::forget(r);
        }
    });
}
