//! `default_path` / `MetadataStore::open_default`: `plugins.db` in the
//! platform's data directory for an app, the directories made owner-only
//! whatever the umask; the CLI uses the same function. Each case runs in a
//! real child process started under `umask 000` with its own
//! `XDG_DATA_HOME` (the test process's environment and umask stay as they
//! are).
#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use plugin_metastore::{MetadataStore, PluginMetadata};

/// Set in the child this test file starts; the child case does nothing
/// without it.
const CHILD_ENV: &str = "PLUGIN_METASTORE_TEST_OPEN_DEFAULT_CHILD";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `program args…` under `umask 000`, with `XDG_DATA_HOME=xdg`.
fn under_umask_000(program: &Path, args: &[&str], xdg: &Path) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("umask 000 && exec \"$@\"")
        .arg("sh")
        .arg(program)
        .args(args)
        .env("XDG_DATA_HOME", xdg)
        .env_remove("PLUGIN_METASTORE_DB");
    command
}

#[test]
fn the_cli_keeps_its_default_store_in_an_owner_only_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("share");
    let bin = Path::new(env!("CARGO_BIN_EXE_plugin-metastore"));
    let _demo = support::Demo::of(support::output_ok(&mut under_umask_000(
        bin,
        &["demo"],
        &xdg,
    )));
    let dir = xdg.join("plugin-metastore");
    assert_eq!((mode(&xdg), mode(&dir)), (0o700, 0o700));
    assert_eq!(mode(&dir.join("plugins.db")), 0o600);
    assert!(
        !MetadataStore::open(dir.join("plugins.db"))
            .unwrap()
            .list()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn open_default_makes_the_apps_directory_owner_only_whatever_the_umask() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("share");
    let me = std::env::current_exe().unwrap();
    let child = ["open_default_child", "--exact", "--ignored"];
    let stdout = support::output_ok(under_umask_000(&me, &child, &xdg).env(CHILD_ENV, "1"));
    assert!(stdout.contains("1 passed"), "{stdout}");
    // `directories` lowercases the name and drops its spaces on Linux.
    let dir = xdg.join("myhostapp");
    assert_eq!((mode(&xdg), mode(&dir)), (0o700, 0o700));
    let store = MetadataStore::open(dir.join("plugins.db")).unwrap();
    assert_eq!(
        store.get("c", "n").unwrap().unwrap().title,
        "saved by the child"
    );
}

/// The child half of the case above: run by it, under `umask 000`.
#[test]
#[ignore = "run as a child process by open_default_makes_the_apps_directory_owner_only_whatever_the_umask"]
fn open_default_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let path = plugin_metastore::default_path("My Host App").unwrap();
    let xdg = std::env::var_os("XDG_DATA_HOME").unwrap();
    assert_eq!(path, Path::new(&xdg).join("myhostapp").join("plugins.db"));
    let store = MetadataStore::open_default("My Host App").unwrap();
    let plugin = PluginMetadata::new("n", "c", "saved by the child", serde_json::json!({}));
    store.save(&plugin).unwrap();
}
