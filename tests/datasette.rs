//! Datasette, as a person would use it: a real Datasette (from PyPI, in a
//! virtualenv) serves a store on 127.0.0.1 with the document of
//! `plugin-metastore datasette-metadata`, and its JSON API shows the
//! internal tables hidden, the views in (category, name) order, and canned
//! cost queries that give the totals of `cost --json --totals`.
//!
//! Datasette comes from `$PLUGIN_METASTORE_DATASETTE` (the `datasette`
//! executable; `.ci/run` prepares one), else it is installed once into
//! a virtualenv under cargo's test temp directory. Without python3 and its
//! venv module the test says so loudly and skips; it never skips when
//! `$PLUGIN_METASTORE_DATASETTE` is set or `$CI` is.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use plugin_metastore::{MetadataStore, seed};
use serde_json::Value;
use support::{DEMO_TRANSITIONS, metastore, metastore_ok};
use tempfile::TempDir;

/// The Datasette release the test installs (the stable 0.6x line, whose
/// `-m metadata.json` holds titles, units, hidden tables and queries).
const DATASETTE: &str = "datasette==0.65.1";

/// The `datasette` executable, or `None` (with the reason printed) when
/// this machine cannot make a virtualenv.
fn datasette() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PLUGIN_METASTORE_DATASETTE") {
        return Some(PathBuf::from(path));
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("datasette-0.65.1-venv");
    let exe = venv.join("bin").join("datasette");
    if exe.exists() {
        return Some(exe);
    }
    // Debian's python3 has a venv module that cannot make a venv without
    // python3-venv: trying is the one sure test.
    let _ = std::fs::remove_dir_all(&venv);
    let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
    if !ok(Command::new("python3").arg("-m").arg("venv").arg(&venv)) {
        let why = "SKIPPED: python3 -m venv does not work here, so Datasette cannot be \
                   installed (apt-get install python3-venv), or set PLUGIN_METASTORE_DATASETTE";
        assert!(
            std::env::var_os("CI").is_none(),
            "{why} (CI is set: not skipping)"
        );
        println!("{why}");
        eprintln!("{why}");
        return None;
    }
    assert!(
        ok(Command::new(venv.join("bin").join("pip")).args(["install", "--quiet", DATASETTE])),
        "pip install {DATASETTE} failed (network to PyPI?)"
    );
    Some(exe)
}

/// A Datasette server, stopped (by its own PID) when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `datasette serve DB -m METADATA` on 127.0.0.1 at a free port, once
    /// it answers.
    fn start(exe: &Path, db: &Path, metadata: &Path, dir: &Path) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("datasette.log");
        let child = Command::new(exe)
            .arg("serve")
            .arg(db)
            .arg("-m")
            .arg(metadata)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::options().append(true).open(&log).unwrap())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Server { child, port, log };
        // Waiting for start-up, not timing it: a slow machine gets a
        // minute.
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.try_get("/-/versions.json").is_none() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("datasette exited ({status}): {}", server.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "datasette did not answer: {}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET `path` (HTTP/1.0): the status and body, or `None` if nothing
    /// listens yet.
    fn try_get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut raw = String::new();
        s.read_to_string(&mut raw).ok()?;
        let (head, body) = raw.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, body.to_owned()))
    }

    /// GET `path` as JSON; fails the test unless the answer is 200.
    #[track_caller]
    fn json(&self, path: &str) -> Value {
        let (status, body) = self
            .try_get(path)
            .unwrap_or_else(|| panic!("GET {path}: no answer; {}", self.log_text()));
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0) + 5e-7
}

/// The demo plugins with dated transitions (the large AWS Whisper ran
/// Nov 1, 20:00 to Nov 2, 02:00; the Lambda finetuning Nov 2, 10:00 to
/// 13:00), a runpod plugin with no known rate running from Nov 2, 22:00, a
/// plugin deleted since, and PIDs recorded when not alive.
fn store(dir: &Path) -> PathBuf {
    let db = dir.join("plugins.db");
    let store = MetadataStore::open(&db).unwrap();
    store.save_all(&seed::plugins()).unwrap();
    drop(store);
    let unpriced = r#"{"name": "mystery", "category": "gpu", "title": "M", "config_schema": {},
        "execution_mode": "cloud_gpu", "remote_resource": {"provider": "runpod", "status": "running"}}"#;
    let mut child = metastore(&db)
        .args(["import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(unpriced.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    for (id, status, at) in
        DEMO_TRANSITIONS
            .into_iter()
            .chain([("gpu_mystery", "running", "2026-11-02T22:00:00Z")])
    {
        metastore_ok(&db, &["remote-status", id, status, "--at", at]);
    }
    metastore_ok(&db, &["delete", "transcription_whisper_large_aws"]);
    db
}

#[test]
fn datasette_serves_the_store_with_hidden_internals_and_canned_costs_equal_to_cost() {
    let Some(exe) = datasette() else { return };
    let dir = TempDir::new().unwrap();
    let db = store(dir.path());
    let metadata = dir.path().join("metadata.json");
    std::fs::write(&metadata, metastore_ok(&db, &["datasette-metadata"])).unwrap();
    let server = Server::start(&exe, &db, &metadata, dir.path());
    let versions = server.json("/-/versions.json");
    println!(
        "Datasette {} on Python {}, SQLite {}",
        versions["datasette"]["version"],
        versions["python"]["version"],
        versions["sqlite"]["version"]
    );

    // The database page: the internal tables hidden, the others shown,
    // every view and canned query listed.
    let page = server.json("/plugins.json");
    let tables = page["tables"].as_array().unwrap();
    let named = |hidden: bool| -> Vec<&str> {
        let mut v: Vec<&str> = tables
            .iter()
            .filter(|t| t["hidden"].as_bool() == Some(hidden))
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(
        named(true),
        ["change_feed", "change_log", "refinery_schema_history"]
    );
    assert_eq!(
        named(false),
        [
            "plugin_pids",
            "plugins",
            "remote_resources",
            "remote_status_history"
        ]
    );
    let mut views: Vec<&str> = page["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    views.sort_unstable();
    assert_eq!(
        views,
        [
            "active_resources",
            "billed_intervals",
            "pid_identity",
            "plugin_overview",
            "recent_changes",
            "remote_burn_rate",
            "remote_overview"
        ]
    );
    let queries: Vec<&str> = page["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        queries,
        [
            "cost_by_day",
            "cost_by_provider",
            "cost_by_plugin",
            "stale_pids",
            "running_now"
        ]
    );
    // Datasette read the document (it adds names and defaults of its own).
    let loaded = server.json("/-/metadata.json");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(&metadata).unwrap()).unwrap();
    let (got, want) = (
        &loaded["databases"]["plugins"],
        &expected["databases"]["plugins"],
    );
    assert_eq!(got["tables"], want["tables"], "tables as generated");
    assert_eq!(got["tables"]["plugins"]["label_column"], "name");
    assert_eq!(loaded["title"], "Plugin metastore");

    // The canned cost queries give the groups and totals of `cost`.
    for (by, since) in [
        ("provider", ""),
        ("day", ""),
        ("plugin", ""),
        ("provider", "2026-11-02T01:00:00Z"),
        ("day", "2026-11-02"),
        ("plugin", "2026-11-02T01:00:00Z"),
    ] {
        let mut args = vec![
            "cost",
            "--json",
            "--totals",
            "--by",
            by,
            "--until",
            "2026-11-03",
        ];
        if !since.is_empty() {
            args.extend(["--since", since]);
        }
        let cost: Value = serde_json::from_str(&metastore_ok(&db, &args)).unwrap();
        let query = format!(
            "/plugins/cost_by_{by}.json?_shape=array&since={}&until=2026-11-03",
            since.replace(':', "%3A")
        );
        let rows = server.json(&query);
        let rows = rows.as_array().unwrap();
        let groups = cost["groups"].as_array().unwrap();
        let key = if by == "plugin" { "unique_id" } else { by };
        assert_eq!(rows.len(), groups.len(), "{query}: {rows:?} vs {groups:?}");
        for (r, g) in rows.iter().zip(groups) {
            assert_eq!(r[key], g["key"], "{query}");
            for f in [
                "running_hours",
                "unknown_rate_hours",
                "priced_hours",
                "priced_cost_usd",
            ] {
                assert!(
                    close(r[f].as_f64().unwrap(), g[f].as_f64().unwrap()),
                    "{query}: {f}: {r} vs {g}"
                );
            }
            match (r["cost_usd"].as_f64(), g["cost_usd"].as_f64()) {
                (Some(a), Some(b)) => assert!(close(a, b), "{query}: {r} vs {g}"),
                (a, b) => assert_eq!(a.is_none(), b.is_none(), "{query}: {r} vs {g}"),
            }
        }
        let sum = |f: &str| rows.iter().map(|r| r[f].as_f64().unwrap()).sum::<f64>();
        let total = &cost["total"];
        for f in ["running_hours", "unknown_rate_hours", "priced_cost_usd"] {
            assert!(
                close(sum(f), total[f].as_f64().unwrap()),
                "{query}: total {f}: {} vs {total}",
                sum(f)
            );
        }
        // Some hours had no known rate (the runpod plugin from Nov 2, 22:00):
        // the total cost is unknown on both sides.
        assert!(total["cost_usd"].is_null(), "{total}");
        assert!(
            rows.iter().any(|r| r["cost_usd"].is_null()),
            "{query}: {rows:?}"
        );
    }
    // Nothing at all, when a parameter is not a time.
    assert_eq!(
        server.json("/plugins/cost_by_day.json?_shape=array&since=soon"),
        Value::Array(vec![])
    );

    // What runs now: the rows of active_resources, in (category, name)
    // order; the stale PIDs: the ones recorded when they were not alive.
    let running = server.json("/plugins/running_now.json?_shape=array");
    let active = server.json("/plugins/active_resources.json?_shape=array");
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["unique_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&running), ids(&active));
    assert!(
        ids(&running).contains(&"gpu_mystery".to_owned()),
        "{running}"
    );
    let stale = server.json("/plugins/stale_pids.json?_shape=array");
    let pids: Vec<u64> = stale
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids, [54321, 54322, 54323], "{stale}");

    // The plugins in the order `list` gives them.
    let overview = server.json("/plugins/plugin_overview.json?_shape=array&_size=max");
    let listed: Vec<String> = MetadataStore::open(&db)
        .unwrap()
        .list()
        .unwrap()
        .iter()
        .map(|p| p.unique_id())
        .collect();
    assert_eq!(ids(&overview), listed);
}
