//! Queries, resource lifecycle and the views, on real
//! files: the SQL meaning of every filter must equal the Rust predicate,
//! and the summaries of every query must be its plugins, in its order.

mod support;

use plugin_metastore::{
    CloudProviderType, Error, MetadataStore, PluginExecutionMode, PluginMetadata, PluginQuery,
    RemoteResourceInfo, seed,
};
use serde_json::json;
use support::{Rng, STATUSES, assert_summarizes, random_plugin, seed_store, sqlite3, temp_store};

/// Categories that make display ids ambiguous (`a` + `b_…` and `a_b` + `…`)
/// and one that is not ASCII.
const CATEGORIES: &[&str] = &["audio", "video", "llm", "a_b", "a", "ÜNICODE"];

/// `n` random plugins from `seed`, each with its own key: a category from
/// [`CATEGORIES`] and a name, `b_{i}` for a fifth of them.
fn generate(n: usize, seed: u64) -> Vec<PluginMetadata> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let category = *rng.pick(CATEGORIES);
            let name = if rng.chance(20) {
                format!("b_{i}")
            } else {
                format!("plugin{i:05}")
            };
            random_plugin(&mut rng, category, &name, i as u64)
        })
        .collect()
}

/// The queries the equivalence test runs: every filter alone with each of
/// its values, and combinations.
fn queries() -> Vec<PluginQuery> {
    use CloudProviderType as P;
    use PluginExecutionMode as M;
    let mut qs = vec![PluginQuery::new()];
    qs.extend(M::ALL.iter().map(|m| PluginQuery::new().execution_mode(*m)));
    qs.extend(P::ALL.iter().map(|p| PluginQuery::new().provider(*p)));
    qs.extend(CATEGORIES.iter().map(|c| PluginQuery::new().category(*c)));
    qs.extend(
        STATUSES
            .iter()
            .map(|s| PluginQuery::new().remote_status(*s)),
    );
    for b in [true, false] {
        qs.push(PluginQuery::new().active(b));
        qs.push(PluginQuery::new().local(b));
        qs.push(PluginQuery::new().configured(b));
    }
    qs.extend([
        PluginQuery::new()
            .execution_mode(M::CloudGpu)
            .execution_mode(M::Docker),
        PluginQuery::new()
            .provider(P::Aws)
            .provider(P::LambdaLabs)
            .provider(P::Custom),
        PluginQuery::new().provider(P::Aws).active(true),
        PluginQuery::new()
            .execution_mode(M::CloudGpu)
            .provider(P::Aws)
            .active(true),
        PluginQuery::new().local(false).active(true),
        PluginQuery::new()
            .local(true)
            .active(false)
            .configured(true),
        PluginQuery::new()
            .category("a")
            .category("a_b")
            .active(true),
        PluginQuery::new()
            .remote_status("running")
            .remote_status("stopped")
            .provider(P::Gcp),
        PluginQuery::new().execution_mode(M::Docker).local(false),
        PluginQuery::new().active(false).provider(P::Azure),
        PluginQuery::new()
            .configured(false)
            .execution_mode(M::Hybrid)
            .active(true),
        PluginQuery::new().remote_status("").local(true),
    ]);
    qs
}

fn key(p: &PluginMetadata) -> (String, String) {
    (p.category.clone(), p.name.clone())
}

/// What `query` must return, computed in Rust.
fn expected(
    all: &[PluginMetadata],
    query: &PluginQuery,
    offset: usize,
    limit: Option<usize>,
) -> Vec<PluginMetadata> {
    let mut hits: Vec<PluginMetadata> = all.iter().filter(|p| query.matches(p)).cloned().collect();
    hits.sort_by_key(key);
    hits.into_iter()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect()
}

fn check_all(store: &MetadataStore, all: &[PluginMetadata]) -> usize {
    let mut checked = 0;
    for q in queries() {
        let want = expected(all, &q, 0, None);
        let got = store.query(&q).unwrap();
        assert_eq!(got.len(), want.len(), "{q:?}");
        assert!(got == want, "rows differ for {q:?}");
        assert_summarizes(&store.summaries(&q).unwrap(), &want);
        assert_eq!(store.count(&q).unwrap(), want.len() as u64, "{q:?}");
        for (offset, limit) in [
            (0, 7),
            (3, 50),
            (want.len().saturating_sub(2), 10),
            (want.len() + 5, 3),
        ] {
            let paged = q.clone().offset(offset as u64).limit(limit as u64);
            let want = expected(all, &q, offset, Some(limit));
            assert!(
                store.query(&paged).unwrap() == want,
                "page differs for {paged:?}"
            );
            assert_summarizes(&store.summaries(&paged).unwrap(), &want);
            assert_eq!(store.count(&paged).unwrap(), want.len() as u64, "{paged:?}");
        }
        checked += 1;
    }
    checked
}

#[test]
fn every_filter_in_sql_equals_the_rust_predicate() {
    let (_dir, _, store) = temp_store("q.db");
    let mut all = generate(3000, 0x5EED);
    // The store's order and contents: by key, one plugin per key.
    let mut dedup = std::collections::BTreeMap::new();
    for p in &all {
        dedup.insert(key(p), p.clone());
    }
    store.save_all(&all).unwrap();
    all = dedup.into_values().collect();
    assert!(all.len() > 2500, "{}", all.len());
    // The data set covers what the filters distinguish.
    assert!(
        all.iter()
            .any(|p| p.container_id.as_deref() == Some("") && !p.has_active_resources())
    );
    assert!(all.iter().any(|p| {
        p.remote_resource
            .as_ref()
            .is_some_and(|r| r.status == "Running")
    }));
    assert!(all.iter().filter(|p| p.has_active_resources()).count() > 500);
    assert_eq!(
        store.list().unwrap(),
        expected(&all, &PluginQuery::new(), 0, None)
    );
    let checked = check_all(&store, &all);
    assert_eq!(checked, 51);

    // Change what a fifth of them hold through the lifecycle API, mirror the
    // change in Rust, and compare again.
    let mut rng = Rng::new(42);
    for p in all.iter_mut() {
        if !rng.chance(20) {
            continue;
        }
        let (c, n) = (p.category.clone(), p.name.clone());
        match rng.below(6) {
            0 => {
                let pid = 900_000 + rng.below(1000) as u32;
                if !p.spawned_pids.contains(&pid) {
                    store.add_pid(&c, &n, pid).unwrap();
                    p.spawned_pids.push(pid);
                }
            }
            1 => {
                assert_eq!(store.clear_pids(&c, &n).unwrap(), p.spawned_pids.len());
                p.spawned_pids.clear();
            }
            2 => {
                let id = rng.pick(&[None, Some(""), Some("new")]).map(str::to_owned);
                store.set_container_id(&c, &n, id.as_deref()).unwrap();
                p.container_id = id;
            }
            3 if p.remote_resource.is_some() => {
                let status = *rng.pick(STATUSES);
                store.set_remote_status(&c, &n, status).unwrap();
                p.remote_resource.as_mut().unwrap().status = status.to_owned();
            }
            4 => {
                store.set_remote_resource(&c, &n, None).unwrap();
                p.remote_resource = None;
            }
            _ => {
                let mut r = RemoteResourceInfo::new(CloudProviderType::Aws);
                r.status = "running".into();
                store.set_remote_resource(&c, &n, Some(&r)).unwrap();
                p.remote_resource = Some(r);
            }
        }
    }
    assert_eq!(store.list().unwrap(), all);
    check_all(&store, &all);
    println!(
        "equivalence: {} plugins, {checked} queries × 5 pages, twice",
        all.len()
    );
}

/// The "active" rule is written once in Rust and restated in SQL by the
/// views `plugin_overview` (its `has_active_resources` column) and
/// `active_resources` (its rows): on generated data, as `sqlite3` reads
/// them, both say what the model says of every plugin.
#[test]
fn the_views_active_rule_is_the_models() {
    let (_dir, db, store) = temp_store("active.db");
    store.save_all(&generate(1500, 0xAC71)).unwrap();
    let all = store.list().unwrap();
    let active: Vec<&PluginMetadata> = all.iter().filter(|p| p.has_active_resources()).collect();
    assert!(
        active.len() > 200 && active.len() < all.len(),
        "{}",
        active.len()
    );
    // By display id (two keys may share one), as sorted multisets.
    let overview = sqlite3(
        &db,
        "SELECT unique_id, has_active_resources FROM plugin_overview \
         ORDER BY unique_id, has_active_resources",
    );
    let mut want: Vec<String> = all
        .iter()
        .map(|p| format!("{}|{}", p.unique_id(), u8::from(p.has_active_resources())))
        .collect();
    want.sort();
    let mut got: Vec<&str> = overview.lines().collect();
    got.sort();
    assert_eq!(got, want);
    let listed = sqlite3(
        &db,
        "SELECT unique_id FROM active_resources ORDER BY unique_id",
    );
    let mut want_ids: Vec<String> = active.iter().map(|p| p.unique_id()).collect();
    want_ids.sort();
    assert_eq!(listed.lines().collect::<Vec<_>>(), want_ids);
}

#[test]
fn updated_since_returns_what_changed_after() {
    let store = MetadataStore::open_in_memory().unwrap();
    store.save_all(&seed::plugins()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let since = chrono::Utc::now();
    // Above PID_MAX_LIMIT: no process or thread here holds it.
    store
        .add_pid("transcription", "whisper_tiny", 4_194_305)
        .unwrap();
    store.save(&seed::llm_finetune_aws()).unwrap();
    let names: Vec<String> = store
        .query(&PluginQuery::new().updated_since(since))
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["llm_finetune_aws", "whisper_tiny"]);
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(
        store
            .count(&PluginQuery::new().updated_since(later))
            .unwrap(),
        0
    );
}

#[test]
fn shortcuts_answer_the_seed_questions() {
    let store = MetadataStore::open_in_memory().unwrap();
    store.save_all(&seed::plugins()).unwrap();
    let ids = |ps: Vec<PluginMetadata>| ps.iter().map(|p| p.unique_id()).collect::<Vec<_>>();
    assert_eq!(
        ids(store.find_by_provider(CloudProviderType::Aws).unwrap()),
        [
            "finetuning_llm_finetune_aws",
            "transcription_whisper_large_aws"
        ]
    );
    assert_eq!(
        ids(store
            .find_by_execution_mode(PluginExecutionMode::CloudGpu)
            .unwrap()),
        [
            "finetuning_llm_finetune_aws",
            "finetuning_llm_finetune_lambda",
            "transcription_whisper_large_aws"
        ]
    );
    assert_eq!(
        ids(store.find_active().unwrap()),
        [
            "finetuning_llm_finetune_aws",
            "transcription_voxtral_vllm",
            "transcription_whisper_large_aws"
        ]
    );
    let mut streamed = Vec::new();
    store
        .for_each(&PluginQuery::new().local(true), |p| {
            streamed.push(p.unique_id());
            Ok(())
        })
        .unwrap();
    assert_eq!(
        streamed,
        ["transcription_voxtral_vllm", "transcription_whisper_tiny"]
    );
    // An error from the callback stops the walk and comes back.
    let mut seen = 0;
    let err = store
        .for_each(&PluginQuery::new(), |_| {
            seen += 1;
            Err(Error::InvalidInput {
                plugin: None,
                field: "callback",
                reason: "stop".into(),
            })
        })
        .unwrap_err();
    assert_eq!(
        (seen, err.to_string()),
        (1, "invalid input: callback: stop".to_owned())
    );
}

fn plan(store: &MetadataStore, q: &PluginQuery) -> Vec<String> {
    store.query_plan(q).unwrap()
}

/// No line of the plan walks the whole plugins table.
fn assert_no_plugin_scan(lines: &[String]) {
    for line in lines {
        let t = line.trim_start();
        assert!(
            !(t.starts_with("SCAN p ")
                || t == "SCAN p"
                || t.starts_with("SCAN plugins ")
                || t == "SCAN plugins"),
            "full scan of plugins in plan:\n{}",
            lines.join("\n")
        );
    }
}

#[test]
fn mode_provider_and_active_queries_use_indexes() {
    let (_dir, _, store) = temp_store("plan.db");
    store.save_all(&generate(2000, 7)).unwrap();
    for (q, index) in [
        (
            PluginQuery::new().execution_mode(PluginExecutionMode::CloudGpu),
            "plugins_by_execution_mode",
        ),
        (
            PluginQuery::new().provider(CloudProviderType::Aws),
            "remote_resources_by_provider",
        ),
        (PluginQuery::new().active(true), "plugins_with_container"),
        (
            PluginQuery::new().active(true),
            "remote_resources_by_status",
        ),
    ] {
        let lines = plan(&store, &q);
        println!("{q:?}\n{}\n", lines.join("\n"));
        assert!(
            lines.iter().any(|l| l.contains(index)),
            "{index} unused:\n{}",
            lines.join("\n")
        );
        assert_no_plugin_scan(&lines);
    }
    // The check can fail: an unfiltered list does walk every plugin.
    let all = plan(&store, &PluginQuery::new());
    assert!(
        all.iter().any(|l| l.trim_start().starts_with("SCAN p")),
        "{all:?}"
    );
}

#[test]
fn lifecycle_changes_are_atomic_checked_and_bump_updated_at() {
    let (_dir, db, store) = seed_store("life.db");
    let (c, n) = ("transcription", "voxtral_vllm");
    let stamp = || {
        sqlite3(
            &db,
            "SELECT updated_at FROM plugins WHERE name = 'voxtral_vllm'",
        )
    };
    let pids = |s: &MetadataStore| s.get(c, n).unwrap().unwrap().spawned_pids;

    let t0 = stamp();
    store.add_pid(c, n, 11).unwrap();
    assert_eq!(pids(&store), [54321, 54322, 54323, 11]);
    let t1 = stamp();
    assert!(t1 > t0, "{t1} !> {t0}");

    assert!(matches!(
        store.add_pid(c, n, 0),
        Err(Error::InvalidInput { .. })
    ));
    assert_eq!(pids(&store), [54321, 54322, 54323, 11]);
    assert_eq!(stamp(), t1, "a refused change must not bump updated_at");
    // Adding a PID already stored re-records it in place (a fresh claim).
    store.add_pid(c, n, 54322).unwrap();
    assert_eq!(pids(&store), [54321, 54322, 54323, 11]);
    assert!(stamp() > t1, "re-recording a PID is a change");

    assert!(store.remove_pid(c, n, 54322).unwrap());
    let t2 = stamp();
    assert!(!store.remove_pid(c, n, 54322).unwrap());
    assert_eq!(stamp(), t2, "removing an absent PID changes nothing");
    store.add_pid(c, n, 54322).unwrap();
    assert_eq!(
        pids(&store),
        [54321, 54323, 11, 54322],
        "order is kept, new PIDs go last"
    );
    assert_eq!(store.clear_pids(c, n).unwrap(), 4);
    assert_eq!(pids(&store), Vec::<u32>::new());
    assert!(!store.get(c, n).unwrap().unwrap().has_active_resources());

    store.set_container_id(c, n, Some("")).unwrap();
    assert!(!store.get(c, n).unwrap().unwrap().has_active_resources());
    store.set_container_id(c, n, Some("abc")).unwrap();
    assert_eq!(
        store.get(c, n).unwrap().unwrap().container_id.as_deref(),
        Some("abc")
    );
    store.set_container_id(c, n, None).unwrap();
    assert_eq!(store.get(c, n).unwrap().unwrap().container_id, None);

    let err = store.set_remote_status(c, n, "running").unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    store
        .set_remote_resource(c, n, Some(&seed::lambda_resource()))
        .unwrap();
    store.set_remote_status(c, n, "running").unwrap();
    let got = store.get(c, n).unwrap().unwrap();
    assert_eq!(got.remote_resource.as_ref().unwrap().status, "running");
    assert!(got.has_active_resources());
    let mut bad = seed::lambda_resource();
    bad.estimated_cost_per_hour = Some(f64::NAN);
    assert!(matches!(
        store.set_remote_resource(c, n, Some(&bad)),
        Err(Error::InvalidInput { .. })
    ));
    store.set_remote_resource(c, n, None).unwrap();
    assert_eq!(store.get(c, n).unwrap().unwrap().remote_resource, None);
    assert_eq!(
        sqlite3(
            &db,
            "SELECT count(*) FROM remote_resources WHERE plugin_id = (SELECT id FROM plugins WHERE name = 'voxtral_vllm')"
        ),
        "0"
    );

    for result in [
        store.add_pid("nope", "x", 5).err(),
        store.remove_pid("nope", "x", 5).err(),
        store.clear_pids("nope", "x").err(),
        store.set_container_id("nope", "x", Some("c")).err(),
        store.set_remote_status("nope", "x", "s").err(),
        store.set_remote_resource("nope", "x", None).err(),
    ] {
        match result {
            Some(Error::NotFound { category, name }) => {
                assert_eq!((category.as_str(), name.as_str()), ("nope", "x"))
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
    }
    assert_eq!(sqlite3(&db, "SELECT count(*) FROM plugins"), "5");
}

#[test]
fn the_views_read_well_in_sqlite3() {
    let (_dir, db, store) = seed_store("views.db");
    let mut empty_container = PluginMetadata::new("tool", "misc", "Tool", json!({}));
    empty_container.execution_mode = PluginExecutionMode::Docker;
    empty_container.container_id = Some(String::new());
    store.save(&empty_container).unwrap();

    let overview = sqlite3(
        &db,
        "SELECT unique_id, execution_mode, runs, provider, remote_status, pid_count, container_id, \
         cost_per_hour, has_active_resources FROM plugin_overview ORDER BY unique_id",
    );
    assert_eq!(
        overview,
        "finetuning_llm_finetune_aws|cloud_gpu|cloud|aws|running|0||24.5|1\n\
         finetuning_llm_finetune_lambda|cloud_gpu|cloud|lambda_labs|provisioning|0||4.4|0\n\
         misc_tool|docker|local|||0|||0\n\
         transcription_voxtral_vllm|subprocess|local|||3|||1\n\
         transcription_whisper_large_aws|cloud_gpu|cloud|aws|running|0||12.24|1\n\
         transcription_whisper_tiny|in_process|local|||0|||0"
    );
    let active = sqlite3(&db, "SELECT * FROM active_resources ORDER BY unique_id");
    assert_eq!(
        active,
        "finetuning_llm_finetune_aws|cloud_gpu|||aws|i-abcd1234|24.5\n\
         transcription_voxtral_vllm|subprocess|54321,54322,54323||||\n\
         transcription_whisper_large_aws|cloud_gpu|||aws|i-1234567890abcdef|12.24"
    );
    let remote = sqlite3(
        &db,
        "SELECT unique_id, provider, region, status, gpu_count, gpu_type FROM remote_overview ORDER BY unique_id",
    );
    assert_eq!(
        remote,
        "finetuning_llm_finetune_aws|aws||running|8|A100\n\
         finetuning_llm_finetune_lambda|lambda_labs|us-west-1|provisioning|4|A100\n\
         transcription_whisper_large_aws|aws|us-west-2|running|4|V100"
    );
    // The view agrees with the library on every plugin.
    for p in store.list().unwrap() {
        let flag = sqlite3(
            &db,
            &format!(
                "SELECT has_active_resources FROM plugin_overview WHERE category = '{}' AND name = '{}'",
                p.category, p.name
            ),
        );
        assert_eq!(
            flag,
            if p.has_active_resources() { "1" } else { "0" },
            "{}",
            p.unique_id()
        );
    }
}
