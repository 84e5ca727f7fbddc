//! End-to-end tests of the `plugin-metastore` binary: each command, each
//! `list` filter, each error path, the import → export → import cycle, and
//! the fixture written by the original Python dataclasses
//! (`tests/python/make_fixture.py` → `tests/fixtures/python_seed.json`).
//!
//! Every run goes through [`Cli::run`], which also checks the promises that
//! hold for every invocation: a failure is exactly one line
//! `plugin-metastore: …` on stderr with a non-zero exit, and nothing ever
//! panics.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use plugin_metastore::{
    CloudProviderType, MetadataStore, PluginExecutionMode, PluginMetadata, PluginQuery, seed,
};
use serde_json::json;
use support::{DEMO_TRANSITIONS, Demo, ambiguous_pair, temp_store, unusual_plugin};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_plugin-metastore");

/// The committed fixture written by the Python dataclasses.
fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python_seed.json")
}

/// What one run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Captures a finished run and checks the promises of every run: no
    /// panic, and a failure is one `plugin-metastore: ` line on stderr.
    fn from_output(out: Output) -> Run {
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        };
        assert!(
            !run.stderr.contains("panicked") && !run.stderr.contains("RUST_BACKTRACE"),
            "the CLI panicked: {}",
            run.stderr
        );
        if run.code != 0 {
            assert!(run.code > 0, "killed by a signal? {}", run.stderr);
            let lines: Vec<&str> = run.stderr.lines().collect();
            assert_eq!(lines.len(), 1, "a failure is one line: {:?}", run.stderr);
            assert!(
                lines[0].starts_with("plugin-metastore: "),
                "{:?}",
                run.stderr
            );
        }
        run
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    fn ok(self) -> String {
        assert_eq!(
            self.code, 0,
            "expected success; stderr: {} stdout: {}",
            self.stderr, self.stdout
        );
        self.stdout
    }

    /// Asserts failure and returns the one stderr line.
    #[track_caller]
    fn err(self) -> String {
        assert_ne!(self.code, 0, "expected a failure; stdout: {}", self.stdout);
        self.stderr.trim_end().to_owned()
    }
}

/// A temporary directory with a store path in it.
struct Cli {
    dir: TempDir,
    db: PathBuf,
}

impl Cli {
    /// A fresh temp dir; the store file does not exist yet.
    fn new() -> Cli {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("plugins.db");
        Cli { dir, db }
    }

    /// A `Command` for the binary with a clean environment (no
    /// `$PLUGIN_METASTORE_DB`, home and data dirs inside the temp dir).
    fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env_remove("PLUGIN_METASTORE_DB")
            .env("HOME", self.dir.path().join("home"))
            .env("XDG_DATA_HOME", self.dir.path().join("xdg"))
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null());
        c
    }

    /// Runs with `--db` set to this store.
    fn run(&self, args: &[&str]) -> Run {
        self.run_raw(&[&["--db", self.db.to_str().expect("UTF-8 path")], args].concat())
    }

    /// Runs with exactly these arguments.
    fn run_raw(&self, args: &[&str]) -> Run {
        Run::from_output(self.command().args(args).output().expect("run the CLI"))
    }

    /// Runs with `--db` and `stdin` as standard input.
    fn run_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command()
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the CLI");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        Run::from_output(child.wait_with_output().expect("wait"))
    }

    /// Writes `text` to a file in the temp dir and returns its path.
    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write file");
        path.to_str().expect("UTF-8 path").to_owned()
    }

    /// The store, opened through the library.
    fn store(&self) -> MetadataStore {
        MetadataStore::open(&self.db).expect("open the store")
    }

    /// `list --json` parsed.
    fn listed(&self, args: &[&str]) -> Vec<PluginMetadata> {
        let out = self.run(&[&["list", "--json"], args].concat()).ok();
        serde_json::from_str(&out).expect("list --json is an array of records")
    }

    /// A store holding exactly the seed's plugins (imported: `demo` also
    /// records a live child process).
    fn with_demo() -> Cli {
        let cli = Cli::new();
        let seed = serde_json::to_string(&seed::plugins()).unwrap();
        cli.run_stdin(&["import", "-"], &seed).ok();
        cli
    }
}

/// The unique ids of `plugins`, in order.
fn ids(plugins: &[PluginMetadata]) -> Vec<String> {
    plugins.iter().map(PluginMetadata::unique_id).collect()
}

/// The unique ids in the first column of a `list` table.
fn table_ids(table: &str) -> Vec<String> {
    table
        .lines()
        .filter_map(|l| l.strip_prefix("│ "))
        .map(|l| l.split_whitespace().next().unwrap_or("").to_owned())
        .filter(|id| id != "unique")
        .collect()
}

// ---------------------------------------------------------------- init, db

#[test]
fn init_creates_then_reports_an_existing_store() {
    let cli = Cli::new();
    let out = cli.run(&["init"]).ok();
    assert!(out.starts_with("created store: "), "{out}");
    assert!(out.contains(cli.db.to_str().unwrap()), "{out}");
    let version = MetadataStore::latest_schema_version();
    assert!(
        out.contains(&format!("(schema version {version})")),
        "{out}"
    );
    assert!(cli.db.exists());
    let again = cli.run(&["init"]).ok();
    assert!(again.starts_with("store is ready: "), "{again}");
    assert!(cli.store().list().unwrap().is_empty());
}

#[test]
fn db_comes_from_the_environment_when_no_flag_is_given() {
    let cli = Cli::new();
    let env_db = cli.dir.path().join("from-env.db");
    let out = cli
        .command()
        .env("PLUGIN_METASTORE_DB", &env_db)
        .arg("demo")
        .output()
        .unwrap();
    let _demo = Demo::of(Run::from_output(out).ok());
    assert_eq!(
        MetadataStore::open(&env_db).unwrap().list().unwrap().len(),
        5
    );

    // --db wins over the environment.
    let out = cli
        .command()
        .env("PLUGIN_METASTORE_DB", &env_db)
        .args(["--db", cli.db.to_str().unwrap(), "init"])
        .output()
        .unwrap();
    Run::from_output(out).ok();
    assert!(cli.store().list().unwrap().is_empty());
}

#[cfg(target_os = "linux")]
#[test]
fn db_defaults_to_the_platform_data_dir_which_is_created() {
    let cli = Cli::new();
    let out = cli.run_raw(&["init"]).ok();
    let expected = cli.dir.path().join("xdg/plugin-metastore/plugins.db");
    assert!(expected.exists(), "{out}");
    assert!(out.contains(expected.to_str().unwrap()), "{out}");
    // An empty $PLUGIN_METASTORE_DB counts as unset.
    let out = cli
        .command()
        .env("PLUGIN_METASTORE_DB", "")
        .arg("init")
        .output()
        .unwrap();
    let out = Run::from_output(out).ok();
    assert!(out.starts_with("store is ready: "), "{out}");
    assert!(out.contains(expected.to_str().unwrap()), "{out}");
}

#[test]
fn an_empty_db_flag_is_a_usage_error() {
    let cli = Cli::new();
    let run = cli.run_raw(&["--db", "", "init"]);
    assert_eq!(run.code, 2);
    assert!(run.err().contains("--db"));
}

#[test]
fn db_flag_works_after_the_command_too() {
    let cli = Cli::new();
    let _demo = Demo::of(
        cli.run_raw(&["demo", "--db", cli.db.to_str().unwrap()])
            .ok(),
    );
    assert_eq!(cli.store().list().unwrap().len(), 5);
}

#[test]
fn a_file_that_is_not_a_store_is_refused_and_left_alone() {
    let cli = Cli::new();
    let path = cli.file("notes.txt", "just some text, not SQLite at all\n");
    let err = cli.run_raw(&["--db", &path, "list"]).err();
    assert!(err.contains("not a plugin-metastore database"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "just some text, not SQLite at all\n"
    );
}

#[test]
fn a_directory_as_db_is_an_error() {
    let cli = Cli::new();
    let err = cli
        .run_raw(&["--db", cli.dir.path().to_str().unwrap(), "init"])
        .err();
    assert!(err.starts_with("plugin-metastore: "), "{err}");
}

// ---------------------------------------------------------------- demo, list

#[test]
fn demo_saves_the_seed_records_a_live_child_and_never_changes_a_stored_plugin() {
    let cli = Cli::new();
    let demo = Demo::of(cli.run(&["demo"]).ok());
    let out = &demo.stdout;
    assert!(out.starts_with("saved 5 example plugins to "), "{out}");
    let list = cli.run(&["list"]).ok();
    assert!(out.ends_with(&list), "demo shows the list table:\n{out}");

    // The seed as it is, but Voxtral also holds the child demo started
    // (and none of the seed's made-up PIDs that a process holds here).
    let stored = cli.store().list().unwrap();
    let voxtral = seed::voxtral_vllm();
    let child = *stored
        .iter()
        .find(|p| p.unique_id() == voxtral.unique_id())
        .unwrap()
        .spawned_pids
        .last()
        .unwrap();
    assert!(out.contains(&format!("PID {child}")), "{out}");
    let mut expected = seed::plugins();
    for p in &mut expected {
        if p.unique_id() == voxtral.unique_id() {
            p.spawned_pids
                .retain(|&pid| !plugin_metastore::pid_in_use(pid));
            p.spawned_pids.push(child);
        }
    }
    assert_eq!(stored, expected);
    let checks: Vec<serde_json::Value> =
        serde_json::from_str(&cli.run(&["check", "--json"]).ok()).unwrap();
    let state = |pid: u32| {
        checks
            .iter()
            .find(|c| c["pid"] == json!(pid))
            .map(|c| c["state"].as_str().unwrap().to_owned())
    };
    assert_eq!(state(child).as_deref(), Some("alive"), "{checks:?}");
    for pid in [54321, 54322, 54323] {
        assert!(
            matches!(state(pid).as_deref(), Some("exited") | None),
            "{pid}: {checks:?}"
        );
    }

    // A second demo changes no stored plugin (it used to overwrite them).
    cli.run(&["remote-status", "finetuning_llm_finetune_aws", "stopped"])
        .ok();
    cli.run(&["container", "set", "transcription_whisper_tiny", "abc"])
        .ok();
    let before = cli.run(&["export"]).ok();
    let again = cli.run(&["demo"]).ok();
    assert!(again.starts_with("saved 0 example plugins"), "{again}");
    assert!(again.contains("left alone (already stored)"), "{again}");
    assert_eq!(cli.run(&["export"]).ok(), before);

    // reap --kill stops the child and removes it.
    let reaped: Vec<serde_json::Value> =
        serde_json::from_str(&cli.run(&["reap", "--kill", "--grace", "2", "--json"]).ok()).unwrap();
    let action = reaped
        .iter()
        .find(|r| r["pid"] == json!(child))
        .map(|r| r["action"].clone());
    assert_eq!(action, Some(json!("killed")), "{reaped:?}");
    assert!(!plugin_metastore::pid_in_use(child));
    assert!(
        !cli.store()
            .get(&voxtral.category, &voxtral.name)
            .unwrap()
            .unwrap()
            .spawned_pids
            .contains(&child)
    );
}

#[test]
fn list_table_has_the_columns_and_one_row_per_plugin() {
    let cli = Cli::with_demo();
    let out = cli.run(&["list"]).ok();
    let header = out.lines().nth(1).unwrap();
    let columns: Vec<&str> = header
        .split(['│', '┆'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        columns.join(" | "),
        "unique id | mode | provider | status | PIDs | container | cost/h | active"
    );
    assert_eq!(table_ids(&out), ids(&seed::plugins()));
    let row = |id: &str| {
        out.lines()
            .find(|l| l.contains(&format!("│ {id} ")))
            .unwrap_or_else(|| panic!("no row {id} in\n{out}"))
            .to_owned()
    };
    let vllm = row("transcription_voxtral_vllm");
    assert!(vllm.contains("subprocess") && vllm.contains("54321 54322 54323"));
    assert!(vllm.contains("yes"), "{vllm}");
    let aws = row("finetuning_llm_finetune_aws");
    for cell in ["cloud_gpu", "aws", "running", "$24.50", "yes"] {
        assert!(aws.contains(cell), "{cell} in {aws}");
    }
    let lambda = row("finetuning_llm_finetune_lambda");
    for cell in ["lambda_labs", "provisioning", "$4.40", "no"] {
        assert!(lambda.contains(cell), "{cell} in {lambda}");
    }
    assert!(out.ends_with("5 plugins\n"), "{out}");
}

#[test]
fn reading_commands_never_create_a_store() {
    let cli = Cli::new();
    for args in [
        &["list"][..],
        &["show", "transcription_whisper_tiny"],
        &["export"],
        &["delete", "a_b"],
        &["pid", "add", "a_b", "5"],
        &["container", "clear", "a_b"],
        &["remote-status", "a_b", "stopped"],
    ] {
        let err = cli.run(args).err();
        assert!(err.contains("no store at"), "{args:?}: {err}");
    }
    assert!(!cli.db.exists(), "a reading command created the store");
}

#[test]
fn list_of_an_empty_store_says_so() {
    let cli = Cli::new();
    cli.run(&["init"]).ok();
    assert_eq!(cli.run(&["list"]).ok(), "no plugins\n");
    assert_eq!(cli.run(&["list", "--json"]).ok(), "[]\n");
}

#[test]
fn list_json_is_every_full_record() {
    let cli = Cli::with_demo();
    assert_eq!(cli.listed(&[]), seed::plugins());
}

/// Each filter (and some combinations) gives exactly the plugins the
/// library's `PluginQuery::matches` accepts, in the table and in JSON.
#[test]
fn every_list_filter_matches_the_query_api() {
    let cli = Cli::with_demo();
    // A container, so --active has a non-cloud, non-PID case too.
    cli.run(&["container", "set", "transcription_whisper_tiny", "abc123"])
        .ok();
    let all = cli.store().list().unwrap();
    use CloudProviderType::{Aws, LambdaLabs};
    use PluginExecutionMode::{CloudGpu, Docker, InProcess, Subprocess};
    let q = PluginQuery::new;
    let cases: Vec<(&[&str], PluginQuery)> = vec![
        (&["--mode", "cloud_gpu"], q().execution_mode(CloudGpu)),
        (
            &["--mode", "subprocess", "--mode", "in_process"],
            q().execution_mode(Subprocess).execution_mode(InProcess),
        ),
        (&["--mode", "docker"], q().execution_mode(Docker)),
        (&["--provider", "aws"], q().provider(Aws)),
        (
            &["--provider", "aws", "--provider", "lambda_labs"],
            q().provider(Aws).provider(LambdaLabs),
        ),
        (&["--active"], q().active(true)),
        (&["--inactive"], q().active(false)),
        (&["--local"], q().local(true)),
        (&["--cloud"], q().local(false)),
        (&["--category", "finetuning"], q().category("finetuning")),
        (
            &["--category", "finetuning", "--category", "transcription"],
            q().category("finetuning").category("transcription"),
        ),
        (&["--category", "nope"], q().category("nope")),
        (
            &["--status", "provisioning"],
            q().remote_status("provisioning"),
        ),
        (
            &["--cloud", "--active", "--provider", "aws"],
            q().local(false).active(true).provider(Aws),
        ),
        (&["--local", "--active"], q().local(true).active(true)),
        (
            &["--category", "transcription", "--inactive"],
            q().category("transcription").active(false),
        ),
    ];
    for (args, query) in cases {
        let expected: Vec<PluginMetadata> =
            all.iter().filter(|p| query.matches(p)).cloned().collect();
        assert_eq!(cli.listed(args), expected, "list {args:?}");
        let table = cli.run(&[&["list"], args].concat()).ok();
        if expected.is_empty() {
            assert_eq!(table, "no plugins\n", "list {args:?}");
        } else {
            assert_eq!(table_ids(&table), ids(&expected), "list {args:?}");
        }
    }
}

#[test]
fn list_refuses_a_bad_enum_naming_it_and_the_valid_values() {
    let cli = Cli::with_demo();
    let err = cli.run(&["list", "--mode", "Docker"]).err();
    assert!(err.contains("\"Docker\""), "{err}");
    for m in PluginExecutionMode::ALL {
        assert!(err.contains(m.as_str()), "{m} in {err}");
    }
    let err = cli.run(&["list", "--provider", "amazon"]).err();
    assert!(err.contains("\"amazon\""), "{err}");
    for p in CloudProviderType::ALL {
        assert!(err.contains(p.as_str()), "{p} in {err}");
    }
}

#[test]
fn list_refuses_contradictory_flags() {
    let cli = Cli::with_demo();
    let err = cli.run(&["list", "--active", "--inactive"]).err();
    assert!(
        err.contains("--active") && err.contains("--inactive"),
        "{err}"
    );
    let err = cli.run(&["list", "--local", "--cloud"]).err();
    assert!(err.contains("--local") && err.contains("--cloud"), "{err}");
}

// ---------------------------------------------------------------- show

#[test]
fn show_prints_every_field() {
    let cli = Cli::with_demo();
    let out = cli.run(&["show", "transcription_whisper_large_aws"]).ok();
    for line in [
        "unique id",
        "transcription_whisper_large_aws",
        "Whisper Large on AWS",
        "cloud_gpu (cloud/remote)",
        "remote.provider",
        "us-west-2",
        "i-1234567890abcdef",
        "54.123.45.67",
        "p3.8xlarge",
        "V100",
        "$12.24/hour",
        "remote.ssh_port",
    ] {
        assert!(out.contains(line), "{line} in\n{out}");
    }
    let tiny = cli.run(&["show", "transcription_whisper_tiny"]).ok();
    assert!(tiny.contains("\"enum\":[\"cpu\",\"cuda\"]"), "{tiny}");
    assert!(tiny.contains("1.0.0") && tiny.contains("in_process (local)"));
    let field_line = |field: &str| {
        tiny.lines()
            .find(|l| l.starts_with(&format!("{field} ")))
            .unwrap_or_else(|| panic!("no {field} in\n{tiny}"))
            .split_whitespace()
            .last()
            .unwrap()
            .to_owned()
    };
    assert_eq!(field_line("remote_resource"), "-");
    assert_eq!(field_line("is_configured"), "true");
}

#[test]
fn show_distinguishes_none_from_empty_text() {
    let cli = Cli::new();
    let mut p = PluginMetadata::new("n", "c", "t", json!({}));
    p.description = Some(String::new());
    cli.store().save(&p).unwrap();
    let out = cli.run(&["show", "c_n"]).ok();
    assert!(
        out.lines()
            .any(|l| l.starts_with("description") && l.ends_with("\"\"")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("version") && l.ends_with(" -")),
        "{out}"
    );
}

#[test]
fn show_json_is_the_record() {
    let cli = Cli::with_demo();
    let out = cli
        .run(&["show", "finetuning_llm_finetune_aws", "--json"])
        .ok();
    let p: PluginMetadata = serde_json::from_str(&out).unwrap();
    assert_eq!(p, seed::llm_finetune_aws());
}

#[test]
fn show_unknown_id_is_an_error() {
    let cli = Cli::with_demo();
    let err = cli.run(&["show", "transcription_nope"]).err();
    assert!(err.contains("\"transcription_nope\""), "{err}");
    let err = cli.run(&["show", "nounderscore"]).err();
    assert!(err.contains("nounderscore"), "{err}");
}

#[test]
fn an_ambiguous_id_lists_the_candidates_and_category_picks_one() {
    let cli = Cli::new();
    // Category a_b + name c is "first", category a + name b_c "second".
    cli.store().save_all(&ambiguous_pair()).unwrap();
    let err = cli.run(&["show", "a_b_c"]).err();
    assert!(err.contains("ambiguous"), "{err}");
    assert!(err.contains("\"a_b\"") && err.contains("\"b_c\""), "{err}");
    assert!(err.contains("--category"), "{err}");
    for cmd in [
        &["delete", "a_b_c"][..],
        &["pid", "add", "a_b_c", "7"],
        &["container", "set", "a_b_c", "x"],
        &["remote-status", "a_b_c", "running"],
    ] {
        assert!(cli.run(cmd).err().contains("ambiguous"), "{cmd:?}");
    }

    let first = cli
        .run(&["show", "a_b_c", "--category", "a_b", "--json"])
        .ok();
    let first: PluginMetadata = serde_json::from_str(&first).unwrap();
    assert_eq!(first.title, "first");
    let second = cli
        .run(&["show", "a_b_c", "--category", "a", "--json"])
        .ok();
    assert_eq!(
        serde_json::from_str::<PluginMetadata>(&second)
            .unwrap()
            .title,
        "second"
    );

    let err = cli.run(&["show", "a_b_c", "--category", "zzz"]).err();
    assert!(err.contains("does not start with"), "{err}");
    let err = cli.run(&["show", "a_b_x", "--category", "a_b"]).err();
    assert!(err.contains("no plugin"), "{err}");

    cli.run(&["delete", "a_b_c", "--category", "a"]).ok();
    assert_eq!(cli.run(&["show", "a_b_c", "--json"]).ok(), {
        let mut s = serde_json::to_string_pretty(&first).unwrap();
        s.push('\n');
        s
    });
}

// ---------------------------------------------------------------- import, export

#[test]
fn import_array_file_object_file_and_stdin() {
    let cli = Cli::new();
    let array = serde_json::to_string(&seed::plugins()).unwrap();
    let out = cli.run(&["import", &cli.file("all.json", &array)]).ok();
    assert!(out.starts_with("imported 5 plugins from "), "{out}");
    assert_eq!(cli.store().list().unwrap(), seed::plugins());

    let other = Cli::new();
    let one = serde_json::to_string(&seed::whisper_tiny()).unwrap();
    let out = other.run(&["import", &other.file("one.json", &one)]).ok();
    assert!(out.starts_with("imported 1 plugin from "), "{out}");
    assert_eq!(other.store().list().unwrap(), vec![seed::whisper_tiny()]);

    // A UTF-8 byte-order mark (Windows editors) is skipped.
    let bom = Cli::new();
    bom.run_stdin(&["import", "-"], &format!("\u{feff}{one}"))
        .ok();
    assert_eq!(bom.store().list().unwrap(), vec![seed::whisper_tiny()]);

    let piped = Cli::new();
    let out = piped.run_stdin(&["import", "-"], &array).ok();
    assert!(out.contains("<stdin>"), "{out}");
    assert_eq!(piped.store().list().unwrap(), seed::plugins());
}

#[test]
fn import_applies_python_defaults_and_replaces_existing_records() {
    let cli = Cli::with_demo();
    let text = r#"{"name": "whisper_tiny", "category": "transcription",
                   "title": "Renamed", "config_schema": {}}"#;
    cli.run_stdin(&["import", "-"], text).ok();
    let got = cli
        .store()
        .get("transcription", "whisper_tiny")
        .unwrap()
        .unwrap();
    assert_eq!(
        got,
        PluginMetadata::new("whisper_tiny", "transcription", "Renamed", json!({}))
    );
    assert_eq!(cli.store().list().unwrap().len(), 5);
}

#[test]
fn import_of_bad_json_names_the_file_and_position_and_writes_nothing() {
    let cli = Cli::with_demo();
    let before = cli.run(&["export"]).ok();
    let bad = cli.file(
        "bad.json",
        "[\n  {\"name\": \"x\",\n   \"category\" \"c\"}\n]\n",
    );
    let err = cli.run(&["import", &bad]).err();
    assert!(err.contains(&format!("{bad}:3:")), "{err}");
    assert_eq!(cli.run(&["export"]).ok(), before);

    let err = cli.run_stdin(&["import", "-"], "[1, 2").err();
    assert!(err.contains("<stdin>:1:"), "{err}");
    let err = cli.run_stdin(&["import", "-"], "").err();
    assert!(err.contains("empty input"), "{err}");
    let err = cli.run_stdin(&["import", "-"], "42").err();
    assert!(err.contains("expected a JSON array"), "{err}");
    let err = cli.run_stdin(&["import", "-"], "hello").err();
    assert!(err.contains("<stdin>:1:"), "{err}");
    assert_eq!(cli.run(&["export"]).ok(), before);
}

#[test]
fn import_of_a_bad_enum_names_the_value() {
    let cli = Cli::new();
    let text = r#"[{"name": "n", "category": "c", "title": "t", "config_schema": {},
                    "execution_mode": "warp_drive"}]"#;
    let err = cli.run_stdin(&["import", "-"], text).err();
    assert!(err.contains("warp_drive"), "{err}");
    assert!(
        err.contains("cloud_gpu"),
        "the valid values are listed: {err}"
    );
    assert!(err.contains("<stdin>:2:"), "{err}");
    let text = r#"{"name": "n", "category": "c", "title": "t", "config_schema": {},
                   "remote_resource": {"provider": "AWS"}}"#;
    let err = cli.run_stdin(&["import", "-"], text).err();
    assert!(err.contains("AWS"), "{err}");
    assert!(err.contains("<stdin>:2:"), "{err}");
    // A failed import does not even create the store.
    assert!(!cli.db.exists());
}

#[test]
fn import_is_all_or_nothing() {
    let cli = Cli::with_demo();
    let before = cli.run(&["export"]).ok();
    let mut good = PluginMetadata::new("fresh", "new", "Fresh", json!({}));
    good.spawned_pids = vec![1];
    let mut renamed = seed::whisper_tiny();
    renamed.title = "changed".into();
    let mut bad = PluginMetadata::new("bad", "new", "Bad", json!({}));
    bad.spawned_pids = vec![0];
    for (what, broken) in [
        ("PID 0", bad.clone()),
        ("must be a JSON object", {
            let mut p = bad.clone();
            p.spawned_pids.clear();
            p.config_schema = json!([1]);
            p
        }),
        ("name: must not be empty", {
            let mut p = bad.clone();
            p.spawned_pids.clear();
            p.name.clear();
            p
        }),
        ("listed twice", {
            let mut p = bad.clone();
            p.spawned_pids = vec![5, 5];
            p
        }),
    ] {
        let text = serde_json::to_string(&[&good, &renamed, &broken]).unwrap();
        let err = cli.run_stdin(&["import", "-"], &text).err();
        assert!(err.contains(what), "{what} in {err}");
        assert!(err.contains("record 3"), "{err}");
        assert_eq!(
            cli.run(&["export"]).ok(),
            before,
            "nothing written ({what})"
        );
    }
    // A cost Rust's JSON cannot even hold, and a negative one.
    let text = r#"[{"name": "n", "category": "c", "title": "t", "config_schema": {},
                    "remote_resource": {"provider": "aws", "estimated_cost_per_hour": -1.5}}]"#;
    let err = cli.run_stdin(&["import", "-"], text).err();
    assert!(err.contains("-1.5"), "{err}");
    let text = r#"[{"name": "n", "category": "c", "title": "t", "config_schema": {},
                    "spawned_pids": [-3]}]"#;
    let err = cli.run_stdin(&["import", "-"], text).err();
    assert!(err.contains("-3"), "{err}");
    assert_eq!(cli.run(&["export"]).ok(), before);
}

#[test]
fn import_of_a_missing_file_is_an_error() {
    let cli = Cli::new();
    let missing = cli.dir.path().join("missing.json");
    let err = cli.run(&["import", missing.to_str().unwrap()]).err();
    assert!(
        err.contains("cannot read") && err.contains("missing.json"),
        "{err}"
    );
    assert!(!cli.db.exists());
}

#[test]
fn export_import_export_is_byte_for_byte_stable() {
    let cli = Cli::with_demo();
    // Awkward values too: unicode, quotes, empty strings, extreme numbers,
    // metadata, PIDs.
    let odd = unusual_plugin();
    cli.store().save(&odd).unwrap();

    let first = cli.run(&["export"]).ok();
    assert!(first.ends_with("]\n"), "{first}");
    let copy = Cli::new();
    copy.run_stdin(&["import", "-"], &first).ok();
    let second = copy.run(&["export"]).ok();
    assert_eq!(first, second);
    // And through a file, into the same store: nothing changes.
    cli.run(&["import", &cli.file("export.json", &first)]).ok();
    assert_eq!(cli.run(&["export"]).ok(), first);
    // list --json is the same document.
    assert_eq!(cli.run(&["list", "--json"]).ok(), first);
    let back: Vec<PluginMetadata> = serde_json::from_str(&first).unwrap();
    assert!(back.contains(&odd));
}

// ---------------------------------------------------------------- Python fixture

#[test]
fn the_python_fixture_imports_with_every_field() {
    let cli = Cli::new();
    cli.run(&["import", fixture_path().to_str().unwrap()]).ok();
    let listed = cli.store().list().unwrap();
    assert_eq!(listed, seed::plugins());
    // Spot checks, field by field, of what Python wrote.
    let aws = cli
        .store()
        .get("transcription", "whisper_large_aws")
        .unwrap()
        .unwrap();
    let r = aws.remote_resource.unwrap();
    assert_eq!(r.provider, CloudProviderType::Aws);
    assert_eq!(r.region.as_deref(), Some("us-west-2"));
    assert_eq!(r.instance_id.as_deref(), Some("i-1234567890abcdef"));
    assert_eq!(r.job_id, None);
    assert_eq!(r.endpoint_url, None);
    assert_eq!(r.ssh_host.as_deref(), Some("54.123.45.67"));
    assert_eq!(r.ssh_port, 22);
    assert_eq!(r.status, "running");
    assert_eq!(r.resource_type.as_deref(), Some("p3.8xlarge"));
    assert_eq!(r.gpu_count, 4);
    assert_eq!(r.gpu_type.as_deref(), Some("V100"));
    assert_eq!(r.estimated_cost_per_hour, Some(12.24));
    assert!(r.metadata.is_empty());
    let vllm = cli
        .store()
        .get("transcription", "voxtral_vllm")
        .unwrap()
        .unwrap();
    assert_eq!(vllm.spawned_pids, [54321, 54322, 54323]);
    assert_eq!(vllm.execution_mode, PluginExecutionMode::Subprocess);
    assert!(vllm.manages_child_processes && vllm.manages_external_resources);
    // Rust writes exactly what Python wrote.
    let python = std::fs::read_to_string(fixture_path()).unwrap();
    assert_eq!(cli.run(&["export"]).ok(), python);
}

/// Whether `python3` runs here; when not, says which check is skipped.
fn python3_runs(skipping: &str) -> bool {
    let works = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        eprintln!("python3 not available: skipping {skipping}");
    }
    works
}

/// What `python3 ARGS` prints; it must succeed.
fn python3_stdout<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    support::output_ok(
        Command::new("python3")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .args(args),
    )
}

#[test]
fn the_python_fixture_is_what_the_python_script_writes() {
    if !python3_runs("the fixture regeneration check") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("python_seed.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/make_fixture.py");
    let status = Command::new("python3")
        .arg(&script)
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "make_fixture.py failed");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(fixture_path()).unwrap(),
        "tests/fixtures/python_seed.json is stale: run python3 tests/python/make_fixture.py"
    );
    // One record, exactly as the issue quotes it (no indent), through stdin.
    let code = "import sys, json, dataclasses; sys.path.insert(0, sys.argv[1]); \
                import make_fixture as m; \
                print(json.dumps(dataclasses.asdict(m.cloud_plugin), default=lambda e: e.value))";
    let dir = script.parent().unwrap().as_os_str();
    let one = python3_stdout(&[std::ffi::OsStr::new("-c"), code.as_ref(), dir]);
    let cli = Cli::new();
    cli.run_stdin(&["import", "-"], &one).ok();
    assert_eq!(cli.store().list().unwrap(), vec![seed::llm_finetune_aws()]);
}

// ---------------------------------------------------------------- delete, resources

#[test]
fn delete_removes_the_plugin_and_an_unknown_id_is_an_error() {
    let cli = Cli::with_demo();
    let out = cli.run(&["delete", "transcription_voxtral_vllm"]).ok();
    assert_eq!(out, "deleted transcription_voxtral_vllm\n");
    assert_eq!(
        cli.store().get("transcription", "voxtral_vllm").unwrap(),
        None
    );
    assert_eq!(cli.store().list().unwrap().len(), 4);
    let err = cli.run(&["delete", "transcription_voxtral_vllm"]).err();
    assert!(err.contains("no plugin"), "{err}");
}

#[test]
fn pid_add_remove_clear() {
    let cli = Cli::with_demo();
    let id = "transcription_whisper_tiny";
    cli.run(&["pid", "add", id, "4242"]).ok();
    cli.run(&["pid", "add", id, "17"]).ok();
    let pids = || {
        cli.store()
            .get("transcription", "whisper_tiny")
            .unwrap()
            .unwrap()
            .spawned_pids
    };
    assert_eq!(pids(), [4242, 17]);
    assert!(
        cli.listed(&["--active"])
            .iter()
            .any(|p| p.unique_id() == id)
    );

    // Adding a PID already stored re-records it (a fresh claim), in place.
    let out = cli.run(&["pid", "add", id, "4242"]).ok();
    assert!(out.contains("re-recorded") && out.contains("4242"), "{out}");
    assert_eq!(pids(), [4242, 17]);
    let err = cli.run(&["pid", "add", id, "0"]).err();
    assert!(err.contains("PID 0"), "{err}");
    for bad in ["-5", "x", "99999999999"] {
        let err = cli.run(&["pid", "add", id, bad]).err();
        assert!(err.contains(bad), "{err}");
    }
    let err = cli.run(&["pid", "add", "transcription_nope", "5"]).err();
    assert!(err.contains("transcription_nope"), "{err}");

    let out = cli.run(&["pid", "remove", id, "4242"]).ok();
    assert_eq!(out, format!("removed PID 4242 from {id}\n"));
    assert_eq!(pids(), [17]);
    let err = cli.run(&["pid", "remove", id, "4242"]).err();
    assert!(err.contains("not recorded"), "{err}");

    let out = cli
        .run(&["pid", "clear", "transcription_voxtral_vllm"])
        .ok();
    assert_eq!(out, "removed 3 PIDs from transcription_voxtral_vllm\n");
    let vllm = cli
        .store()
        .get("transcription", "voxtral_vllm")
        .unwrap()
        .unwrap();
    assert!(vllm.spawned_pids.is_empty());
    assert!(!vllm.has_active_resources());
}

#[test]
fn container_set_and_clear() {
    let cli = Cli::with_demo();
    let id = "transcription_whisper_tiny";
    let long = "3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e";
    cli.run(&["container", "set", id, long]).ok();
    let get = || {
        cli.store()
            .get("transcription", "whisper_tiny")
            .unwrap()
            .unwrap()
    };
    assert_eq!(get().container_id.as_deref(), Some(long));
    let table = cli.run(&["list", "--active"]).ok();
    assert!(
        table.contains("3f4e5d6c7b8a "),
        "docker ids are shortened: {table}"
    );
    assert!(!table.contains(long));
    assert!(
        cli.run(&["show", id]).ok().contains(long),
        "show prints it in full"
    );

    cli.run(&["container", "clear", id]).ok();
    assert_eq!(get().container_id, None);
    assert!(!get().has_active_resources());
    let err = cli.run(&["container", "clear", "x_y"]).err();
    assert!(err.contains("\"x_y\""), "{err}");
}

#[test]
fn remote_status_changes_what_is_active() {
    let cli = Cli::with_demo();
    let id = "finetuning_llm_finetune_aws";
    let out = cli.run(&["remote-status", id, "stopped"]).ok();
    assert_eq!(out, format!("remote status of {id} set to \"stopped\"\n"));
    let p = cli
        .store()
        .get("finetuning", "llm_finetune_aws")
        .unwrap()
        .unwrap();
    assert_eq!(p.remote_resource.unwrap().status, "stopped");
    assert!(
        !cli.listed(&["--active"])
            .iter()
            .any(|p| p.unique_id() == id)
    );
    cli.run(&["remote-status", "finetuning_llm_finetune_lambda", "running"])
        .ok();
    assert!(
        cli.listed(&["--active"])
            .iter()
            .any(|p| p.unique_id() == "finetuning_llm_finetune_lambda")
    );
    let err = cli
        .run(&["remote-status", "transcription_whisper_tiny", "running"])
        .err();
    assert!(err.contains("no remote resource"), "{err}");
    let err = cli.run(&["remote-status", "nope_nope", "running"]).err();
    assert!(err.contains("nope_nope"), "{err}");
}

// ---------------------------------------------------------------- history, cost

/// `cost --json … --until 2026-11-03` parsed, as `(key, running hours,
/// cost, unknown-rate hours)` with the hours rounded to microseconds.
fn cost_json(cli: &Cli, args: &[&str]) -> Vec<(String, f64, Option<f64>, f64)> {
    let out = cli
        .run(&[&["cost", "--json", "--until", "2026-11-03"], args].concat())
        .ok();
    let groups: Vec<serde_json::Value> = serde_json::from_str(&out).expect("a JSON array");
    let round = |v: &serde_json::Value| (v.as_f64().unwrap() * 1e6).round() / 1e6;
    groups
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().to_owned(),
                round(&g["running_hours"]),
                g["cost_usd"].as_f64().map(|c| (c * 1e6).round() / 1e6),
                round(&g["unknown_rate_hours"]),
            )
        })
        .collect()
}

/// The demo store with dated transitions: the large AWS Whisper ($12.24/h)
/// ran from Nov 1, 20:00 to Nov 2, 02:00; the Lambda finetuning ($4.40/h)
/// from Nov 2, 10:00 to 13:00; a plugin with no known rate from Nov 2,
/// 22:00 on (it is still running).
fn with_dated_history() -> Cli {
    let cli = Cli::with_demo();
    let unpriced = r#"{"name": "mystery", "category": "gpu", "title": "M", "config_schema": {},
        "execution_mode": "cloud_gpu", "remote_resource": {"provider": "runpod", "status": "running"}}"#;
    cli.run_stdin(&["import", "-"], unpriced).ok();
    for (id, status, at) in DEMO_TRANSITIONS.into_iter().chain([
        ("gpu_mystery", "stopped", "2026-11-02"),
        ("gpu_mystery", "running", "2026-11-02T22:00:00+00:00"),
    ]) {
        let out = cli.run(&["remote-status", id, status, "--at", at]).ok();
        assert!(out.starts_with(&format!("recorded \"{status}\"")), "{out}");
    }
    cli
}

#[test]
fn remote_status_at_says_whether_it_changed_the_status_or_went_into_the_past() {
    let cli = Cli::with_demo();
    let id = "finetuning_llm_finetune_aws";
    let set = |status: &str, at: &str| cli.run(&["remote-status", id, status, "--at", at]);
    let out = set("stopped", "2026-11-01T08:00:00Z").ok();
    assert!(
        out.starts_with(
            "recorded \"stopped\" at 2026-11-01T08:00:00.000000Z in the history of \
             finetuning_llm_finetune_aws; its current status stays \"running\" (set at 20"
        ),
        "{out}"
    );
    let status = || {
        let p = cli.store().get("finetuning", "llm_finetune_aws").unwrap();
        p.unwrap().remote_resource.unwrap().status
    };
    assert_eq!(status(), "running");
    let out = set("stopped", "2026-11-01T09:00:00Z").ok();
    assert_eq!(
        out,
        format!(
            "remote status of {id} already \"stopped\" at 2026-11-01T09:00:00.000000Z; nothing recorded\n"
        )
    );
    let out = cli.run(&["remote-status", id, "running"]).ok();
    assert_eq!(
        out,
        format!("remote status of {id} already \"running\"; nothing recorded\n")
    );
    let now = chrono::Utc::now().to_rfc3339();
    let out = set("stopped", &now).ok();
    assert!(
        out.starts_with(&format!("remote status of {id} set to \"stopped\" at ")),
        "{out}"
    );
    assert_eq!(status(), "stopped");

    let err = set("running", "2999-01-01").err();
    assert!(
        err.contains("2999-01-01T00:00:00.000000Z is in the future"),
        "{err}"
    );
    let run = set("running", "yesterday");
    assert_eq!(run.code, 2);
    assert!(run.err().contains("\"yesterday\" is not a time"));
    assert_eq!(status(), "stopped", "refusals write nothing");
}

#[test]
fn cost_by_day_provider_and_plugin_match_the_hours_computed_by_hand() {
    let cli = with_dated_history();
    // Nov 1: 4 h × $12.24. Nov 2: 2 h × $12.24 + 3 h × $4.40, and 2 h at
    // an unknown rate, so the day's cost is unknown.
    assert_eq!(
        cost_json(&cli, &["--by", "day"]),
        [
            ("2026-11-01".to_owned(), 4.0, Some(48.96), 0.0),
            ("2026-11-02".to_owned(), 7.0, None, 2.0),
        ]
    );
    assert_eq!(
        cost_json(&cli, &[]),
        [
            ("aws".to_owned(), 6.0, Some(73.44), 0.0),
            ("lambda_labs".to_owned(), 3.0, Some(13.2), 0.0),
            ("runpod".to_owned(), 2.0, None, 2.0),
        ]
    );
    assert_eq!(
        cost_json(&cli, &["--by", "plugin", "--since", "2026-11-02T01:00:00Z"]),
        [
            (
                "finetuning_llm_finetune_lambda".to_owned(),
                3.0,
                Some(13.2),
                0.0
            ),
            ("gpu_mystery".to_owned(), 2.0, None, 2.0),
            (
                "transcription_whisper_large_aws".to_owned(),
                1.0,
                Some(12.24),
                0.0
            ),
        ]
    );

    let table = cli
        .run(&["cost", "--by", "day", "--until", "2026-11-03"])
        .ok();
    for line in [
        "2026-11-01 ┆      4.00 ┆  $48.96 ┆              -",
        "2026-11-02 ┆      7.00 ┆ unknown ┆           2.00",
        "total: 9.00 running hours at a known rate, $86.64; 2.00 running hours at an unknown rate (cost unknown)",
        "burn rate now: $36.74/h + 1 at an unknown rate (3 running)",
        "window: the start of the history to 2026-11-03T00:00:00.000000Z",
    ] {
        assert!(table.contains(line), "{line:?} in\n{table}");
    }

    // Deleted plugins stay in the report.
    cli.run(&["delete", "transcription_whisper_large_aws"]).ok();
    assert_eq!(cost_json(&cli, &["--by", "plugin"]).len(), 3);

    let err = cli
        .run(&["cost", "--since", "2026-11-03", "--until", "2026-11-01"])
        .err();
    assert!(
        err.contains(
            "2026-11-03T00:00:00.000000Z is not before until (2026-11-01T00:00:00.000000Z)"
        ),
        "{err}"
    );
    let run = cli.run(&["cost", "--by", "week"]);
    assert_eq!(run.code, 2);
    assert!(run.err().contains("\"week\""));
}

#[test]
fn cost_json_totals_is_one_object_and_cost_by_day_draws_a_bar_per_day() {
    let cli = with_dated_history();
    let until = ["--until", "2026-11-03", "--by", "day"];
    let out = cli
        .run(&[&["cost", "--json", "--totals"], &until[..]].concat())
        .ok();
    let doc: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    let array = cli.run(&[&["cost", "--json"], &until[..]].concat()).ok();
    let groups: serde_json::Value = serde_json::from_str(&array).unwrap();
    assert_eq!(doc["groups"], groups, "the same groups as plain --json");
    let total = &doc["total"];
    assert_eq!(total["key"], "total");
    assert!(
        (total["running_hours"].as_f64().unwrap() - 11.0).abs() < 1e-6,
        "{total}"
    );
    assert!(
        total["cost_usd"].is_null(),
        "2 hours had no known rate: {total}"
    );
    assert!((total["unknown_rate_hours"].as_f64().unwrap() - 2.0).abs() < 1e-6);
    assert!((total["priced_cost_usd"].as_f64().unwrap() - 86.64).abs() < 1e-6);
    let b = &doc["burn_rate"];
    assert_eq!(
        (b["running"].as_u64(), b["unpriced_running"].as_u64()),
        (Some(3), Some(1))
    );
    assert!(b["usd_per_hour"].is_null(), "{b}");
    assert!((b["priced_usd_per_hour"].as_f64().unwrap() - 36.74).abs() < 1e-9);
    assert_eq!(
        doc["window"],
        serde_json::json!({"since": null, "until": "2026-11-03T00:00:00.000000Z", "by": "day"})
    );
    // --totals means nothing without --json.
    let run = cli.run(&["cost", "--totals"]);
    assert_eq!(run.code, 2);
    let err = run.err();
    assert!(err.contains("--json"), "{err}");

    // Nov 1 cost $48.96 (the largest day: 24 full blocks); Nov 2 $37.68 known
    // (its cost is unknown, the bar shows what is known): 37.68 / 48.96 of
    // 24 characters is 18 and 4 eighths.
    let table = cli.run(&[&["cost"], &until[..]].concat()).ok();
    let full = "█".repeat(24);
    let part = format!("{}▌", "█".repeat(18));
    for (day, bar) in [("2026-11-01", &full), ("2026-11-02", &part)] {
        let line = table.lines().find(|l| l.contains(day)).unwrap_or_default();
        assert!(
            line.contains(&format!("┆ {bar} ")),
            "{bar:?} in {line:?}\n{table}"
        );
    }
    assert!(table.contains("cost bar"), "{table}");
    // Other groupings draw no bars.
    let by_provider = cli.run(&["cost", "--until", "2026-11-03"]).ok();
    assert!(!by_provider.contains('█'), "{by_provider}");
}

#[test]
fn history_lists_a_plugins_timeline_oldest_first_even_after_its_delete() {
    let cli = with_dated_history();
    let id = "transcription_whisper_large_aws";
    let entries = |cli: &Cli| -> Vec<(String, String)> {
        let out = cli.run(&["history", id, "--json"]).ok();
        let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        v.iter()
            .map(|e| {
                assert_eq!(e["provider"], "aws");
                assert_eq!(e["instance_id"], "i-1234567890abcdef");
                if e["status"] != "removed" {
                    assert_eq!(e["cost_per_hour"], 12.24);
                }
                (
                    e["at"].as_str().unwrap().to_owned(),
                    e["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let before = entries(&cli);
    let statuses: Vec<&str> = before.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(statuses, ["running", "stopped", "running"]);
    assert_eq!(before[0].0, "2026-11-01T20:00:00.000000Z");
    assert_eq!(before[1].0, "2026-11-02T02:00:00.000000Z");
    assert!(before[2].0.as_str() > "2026-11-20", "{before:?}");

    let table = cli.run(&["history", id]).ok();
    assert!(table.starts_with(&format!("{id}\n")), "{table}");
    assert!(
        table.contains("│ 2026-11-01T20:00:00.000000Z ┆ running ┆ aws      ┆ i-1234567890abcdef ┆ $12.24 ┆ 6.00"),
        "{table}"
    );
    assert!(table.ends_with("3 entries\n"), "{table}");

    cli.run(&["delete", id]).ok();
    let after = entries(&cli);
    assert_eq!(after[..3], before[..]);
    assert_eq!(after[3].1, "removed");

    let out = cli.run(&["history", "transcription_whisper_tiny"]).ok();
    assert_eq!(
        out,
        "transcription_whisper_tiny has no remote status history\n"
    );
    let err = cli.run(&["history", "nope_nope"]).err();
    assert!(err.contains("\"nope_nope\""), "{err}");
}

// ---------------------------------------------------------------- help, usage

#[test]
fn every_command_has_help_with_an_example() {
    let cli = Cli::new();
    for line in [
        "",
        "init",
        "demo",
        "list",
        "show",
        "import",
        "export",
        "delete",
        "pid",
        "pid add",
        "pid remove",
        "pid clear",
        "container",
        "container set",
        "container clear",
        "remote-status",
        "cost",
        "history",
        "check",
        "spawn",
        "reap",
        "watch",
        "backup",
        "verify",
        "datasette-metadata",
    ] {
        let cmd: Vec<&str> = line.split_whitespace().collect();
        let out = cli.run_raw(&[&cmd[..], &["--help"]].concat()).ok();
        assert!(out.contains("Example"), "{cmd:?} --help:\n{out}");
        assert!(out.contains("plugin-metastore "), "{cmd:?} --help:\n{out}");
    }
    let list_help = cli.run_raw(&["list", "--help"]).ok();
    for m in PluginExecutionMode::ALL {
        assert!(list_help.contains(m.as_str()), "{m} in list --help");
    }
    for p in CloudProviderType::ALL {
        assert!(list_help.contains(p.as_str()), "{p} in list --help");
    }
    assert!(
        cli.run_raw(&["--version"])
            .ok()
            .contains(env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_are_one_line() {
    let cli = Cli::new();
    for args in [
        &[][..],
        &["frobnicate"],
        &["show"],
        &["list", "--colour"],
        &["pid", "add", "a_b"],
        &["container"],
    ] {
        let run = cli.run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        run.err();
    }
    assert!(!cli.db.exists(), "usage errors touch nothing");
    let err = cli.run(&["list", "--activ"]).err();
    assert!(err.contains("'--active'"), "clap's tip is kept: {err}");
    let err = cli.run(&["container"]).err();
    assert!(
        err.contains("set, clear"),
        "the subcommands are listed: {err}"
    );
}

#[test]
fn a_closed_stdout_is_not_a_crash() {
    let cli = Cli::with_demo();
    // Enough output that the pipe fills after the reader is gone.
    let many: Vec<PluginMetadata> = (0..300)
        .map(|i| PluginMetadata::new(format!("p{i}"), "bulk", "x".repeat(200), json!({})))
        .collect();
    cli.store().save_all(&many).unwrap();
    let mut child = cli
        .command()
        .arg("--db")
        .arg(&cli.db)
        .arg("export")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn list_escapes_control_characters_from_the_store() {
    let cli = Cli::new();
    let record = r#"{"name": "evil\u001b[2J", "category": "c", "title": "t", "config_schema": {},
        "container_id": "box\r", "remote_resource": {"provider": "aws", "status": "\u001b[31mrunning"}}"#;
    cli.run_stdin(&["import", "-"], record).ok();
    let out = cli.run(&["list"]).ok();
    assert!(!out.contains('\u{1b}') && !out.contains('\r'), "{out:?}");
    assert!(out.contains(r"evil\u{1b}[2J"), "{out}");
    assert!(out.contains(r"box\r"), "{out}");
}

/// Numbers the model holds exactly (integers within 64 bits, any finite
/// `f64`, negative zero) survive Python → `import` → `export` → Python:
/// Python reads back equal values of the same types.
#[test]
fn python_numbers_within_64_bit_integers_and_f64_round_trip_exactly() {
    if !python3_runs("the Python number round trip") {
        return;
    }
    const NUMBERS: &str = "[0, -1, 2**63 - 1, -2**63, 2**64 - 1, 0.1, 1/3, 1e308, \
        1.7976931348623157e308, 5e-324, 2.2250738585072014e-308, -0.0, \
        1.090410406373076e225, 123456.789, 1e16, 9007199254740993]";
    let write = format!(
        "import json; n = {NUMBERS}; print(json.dumps([{{'name': 'n', 'category': 'c', \
         'title': 't', 'config_schema': {{'numbers': n}}, 'execution_mode': 'cloud_gpu', \
         'remote_resource': {{'provider': 'aws', 'metadata': {{'numbers': n}}}}}}]))"
    );
    let records = python3_stdout(&["-c", write.as_str()]);
    let cli = Cli::new();
    cli.run_stdin(&["import", "-"], &records).ok();
    let exported = cli.run(&["export"]).ok();
    let check = format!(
        "import json, math, sys; n = {NUMBERS}; r = json.load(sys.stdin)[0]\n\
         for got in (r['config_schema']['numbers'], r['remote_resource']['metadata']['numbers']):\n\
         \x20   assert [type(x) for x in got] == [type(x) for x in n], got\n\
         \x20   assert got == n, got\n\
         \x20   assert [math.copysign(1, x) for x in got] == [math.copysign(1, x) for x in n], got\n\
         print('ok')"
    );
    let mut child = Command::new("python3")
        .args(["-c", &check])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), exported.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout == b"ok\n",
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_leap_second_is_a_usage_error_in_words_and_refused_by_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("leap.db");
    let _demo = Demo::run(&db);
    for args in [
        &[
            "remote-status",
            "finetuning_llm_finetune_aws",
            "stopped",
            "--at",
            "2016-12-31T23:59:60Z",
        ][..],
        &[
            "remote-status",
            "finetuning_llm_finetune_aws",
            "stopped",
            "--at",
            "2015-06-30T23:59:60.5+00:00",
        ],
        &["cost", "--since", "2016-12-31T23:59:60Z"],
        &["cost", "--until", "2012-06-30T23:59:60Z"],
    ] {
        let (code, _, err) = support::metastore_outcome(&db, args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains("leap second") && !err.contains("CHECK"),
            "{args:?}: {err}"
        );
    }
    let store = MetadataStore::open(&db).unwrap();
    let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
        .unwrap()
        .and_hms_milli_opt(23, 59, 59, 1_500)
        .unwrap()
        .and_utc();
    match store.set_remote_status_at("finetuning", "llm_finetune_aws", "stopped", leap) {
        Err(plugin_metastore::Error::InvalidInput {
            field: "time",
            reason,
            ..
        }) => {
            assert!(reason.contains("leap second"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn list_skip_bad_in_table_form_skips_like_the_json_form() {
    // A bad updated_at is only in list rows: the JSON form reads records.
    for (sql, bad, in_json) in [
        (
            "UPDATE remote_resources SET provider = 'nope' WHERE plugin_id = 1",
            "nope",
            false,
        ),
        (
            "UPDATE plugins SET updated_at = x'00' WHERE id = 2",
            "updated_at",
            true,
        ),
        (
            "UPDATE plugin_pids SET pid = 'x' WHERE rowid = 1",
            "pid",
            false,
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let db = support::sample_store(dir.path(), "bad.db", 5);
        support::sqlite3(&db, &format!("PRAGMA ignore_check_constraints = 1; {sql};"));
        let (code, _, err) = support::metastore_outcome(&db, &["list"]);
        assert_eq!(code, Some(1), "{sql}");
        assert!(err.contains("--skip-bad"), "{err}");
        let (code, table, err) = support::metastore_outcome(&db, &["list", "--skip-bad"]);
        assert_eq!(code, Some(0), "{sql}: {err}");
        assert!(
            err.contains("skipped a plugin") && err.contains(bad),
            "{sql}: {err}"
        );
        let (_, json, _) = support::metastore_outcome(&db, &["list", "--json", "--skip-bad"]);
        let json: Vec<PluginMetadata> = serde_json::from_str(&json).unwrap();
        let mut expected = ids(&json);
        if in_json {
            expected.retain(|id| id != "sample_plugin1");
        }
        assert_eq!(table_ids(&table), expected, "{sql}");
        assert_eq!(table_ids(&table).len(), 4, "{sql}");
    }
}

#[test]
fn cost_by_plugin_tells_apart_plugins_whose_unique_ids_collide() {
    let (_dir, db, store) = temp_store("ids.db");
    for (category, name) in [("a_b", "c"), ("a", "b_c"), ("x", "y")] {
        store
            .save(&support::cloud_plugin(
                category,
                name,
                plugin_metastore::CloudProviderType::Aws,
                "running",
                Some(1.0),
            ))
            .unwrap();
    }
    let (code, out, err) = support::metastore_outcome(&db, &["cost", "--by", "plugin"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("a_b_c (category \"a_b\")"), "{out}");
    assert!(out.contains("a_b_c (category \"a\")"), "{out}");
    assert!(
        out.contains("x_y") && !out.contains("x_y (category"),
        "{out}"
    );
}

#[cfg(unix)]
#[test]
fn init_and_demo_print_the_store_path_escaped() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["init", "demo"] {
        let db = dir.path().join(format!("{command}\u{1b}]0;owned\u{7}.db"));
        let out = support::output_ok(
            Command::new(env!("CARGO_BIN_EXE_plugin-metastore"))
                .args([command])
                .env("PLUGIN_METASTORE_DB", &db),
        );
        assert!(!out.contains(['\u{1b}', '\u{7}']), "{command}");
        let _demo = Demo::of(out);
        assert!(db.exists());
    }
}
