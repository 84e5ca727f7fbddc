//! `backup` while another process keeps writing, and `verify` on sound,
//! old and broken files: what they report, and that verify changes
//! nothing.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use plugin_metastore::{
    CloudProviderType, Error, MetadataStore, PluginMetadata, RemoteResourceInfo,
};
use serde_json::json;
use support::{
    Demo, Sqlite3Session, integrity_check, metastore, metastore_ok, metastore_outcome,
    migration_files, old_version_file, sample, sample_dir, sqlite3,
};

/// Plugin `pair/{side}` at generation `g`: every field says `g`, so a
/// plugin read back whole has one generation throughout.
fn generation(side: &str, g: u64) -> PluginMetadata {
    let mut p = PluginMetadata::new(side, "pair", format!("gen {g}"), json!({"g": g}));
    p.spawned_pids = vec![(g * 10 + 1) as u32, (g * 10 + 2) as u32];
    let mut r = RemoteResourceInfo::new(CloudProviderType::Aws);
    r.status = "running".into();
    r.estimated_cost_per_hour = Some(g as f64);
    r.metadata.insert("g".into(), json!(g));
    p.remote_resource = Some(r);
    p
}

/// The generation of a `pair` plugin, checking that all of it agrees.
#[track_caller]
fn generation_of(p: &PluginMetadata) -> u64 {
    let g = p.config_schema["g"].as_u64().unwrap();
    assert_eq!(
        *p,
        generation(&p.name, g),
        "a plugin with mixed generations"
    );
    g
}

/// Every file in `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

#[test]
fn a_backup_taken_while_another_process_writes_is_whole_and_opens_as_a_store() {
    let (dir, db) = sample_dir("live.db", 2000);
    let store = MetadataStore::open(&db).unwrap();

    // Another process imports both pair plugins, one generation per
    // transaction, as fast as it can until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, done, db) = (Arc::clone(&stop), Arc::clone(&done), db.clone());
        let record = dir.path().join("pair.json");
        std::thread::spawn(move || {
            let mut g = 1;
            while !stop.load(Ordering::Relaxed) {
                let pair = [generation("a", g), generation("b", g)];
                std::fs::write(&record, serde_json::to_string(&pair).unwrap()).unwrap();
                metastore_ok(&db, &["import", record.to_str().unwrap()]);
                done.store(g, Ordering::Relaxed);
                g += 1;
            }
        })
    };
    // Waits until the writer has committed generation `g`.
    let committed = |g: u64| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while done.load(Ordering::Relaxed) < g {
            assert!(Instant::now() < deadline, "the writer made no progress");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    committed(2);

    let mut expected_samples: Vec<PluginMetadata> = (0..2000).map(sample).collect();
    expected_samples.sort_by(|a, b| a.name.cmp(&b.name));
    let mut seen = Vec::new();
    for k in 0..4 {
        let copy = dir.path().join(format!("backup-{k}.db"));
        let made = store.backup(&copy).unwrap();
        assert_eq!(made.path, copy);
        assert_eq!(made.plugins, 2002);
        assert_eq!(made.schema_version, MetadataStore::latest_schema_version());
        // When the backup returns, generation `done` has committed and
        // at most the next one too: the next backup waits for the one
        // after, so every backup holds a later state than the one before.
        let after = done.load(Ordering::Relaxed);
        seen.push(copy);
        committed(after + 2);
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();

    let mut generations = Vec::new();
    for copy in &seen {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(copy).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", copy.display());
        }
        assert_eq!(integrity_check(copy), "ok");
        let restored = MetadataStore::open(copy).unwrap();
        let all = restored.list().unwrap();
        assert_eq!(all.len(), 2002);
        let pair: Vec<u64> = all
            .iter()
            .filter(|p| p.category == "pair")
            .map(generation_of)
            .collect();
        assert_eq!(pair.len(), 2);
        assert_eq!(
            pair[0], pair[1],
            "both plugins of one transaction, or neither"
        );
        assert!(pair[0] >= 2);
        generations.push(pair[0]);
        let samples: Vec<PluginMetadata> =
            all.into_iter().filter(|p| p.category == "sample").collect();
        assert!(
            samples == expected_samples,
            "the untouched plugins came back whole"
        );
        assert!(MetadataStore::verify(copy).unwrap().is_sound());
    }
    // Taken at different moments of a continuous stream of writes.
    assert!(
        generations.windows(2).all(|w| w[0] < w[1]),
        "{generations:?}"
    );
}

#[test]
fn a_backup_never_overwrites_and_the_cli_says_what_it_wrote() {
    let (dir, db) = sample_dir("plugins.db", 5);
    let store = MetadataStore::open(&db).unwrap();

    let taken = dir.path().join("taken.db");
    std::fs::write(&taken, b"precious").unwrap();
    let err = store.backup(&taken).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { field: "path", reason, .. } if reason.contains("already exists")),
        "{err}"
    );
    assert_eq!(std::fs::read(&taken).unwrap(), b"precious");
    // A stray journal beside the target would be applied to the copy.
    let stray = dir.path().join("stray.db");
    std::fs::write(dir.path().join("stray.db-wal"), b"").unwrap();
    assert!(matches!(
        store.backup(&stray),
        Err(Error::InvalidInput { .. })
    ));
    assert!(!stray.exists());

    let copy = dir.path().join("copy.db");
    let out = metastore_ok(&db, &["backup", copy.to_str().unwrap()]);
    assert!(
        out.contains("5 plugins") && out.contains("integrity_check ok"),
        "{out}"
    );
    assert_eq!(
        MetadataStore::open(&copy).unwrap().list().unwrap(),
        (0..5).map(sample).collect::<Vec<_>>()
    );
    let again = metastore(&db)
        .args(["backup", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn verify_names_every_planted_problem_and_changes_nothing() {
    let (dir, db) = sample_dir("broken.db", 6);
    let newer = MetadataStore::latest_schema_version() + 1;
    sqlite3(
        &db,
        &format!(
            "INSERT INTO plugin_pids (plugin_id, position, pid) VALUES (999, 0, 77); \
             PRAGMA ignore_check_constraints = ON; \
             UPDATE plugins SET execution_mode = 'warp_drive' WHERE name = 'plugin2'; \
             UPDATE remote_resources SET provider = 'moon' \
                 WHERE plugin_id = (SELECT id FROM plugins WHERE name = 'plugin4'); \
             INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
                 VALUES ({newer}, 'from_the_future', '2030-01-01T00:00:00Z', '1')"
        ),
    );
    let before = snapshot(dir.path());

    let report = MetadataStore::verify(&db).unwrap();
    assert!(!report.is_sound());
    let lines: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    // The trigger copied the bad provider into the history: named too.
    assert_eq!(lines.len(), 5, "{lines:#?}");
    let has = |check: &str, words: &[&str]| {
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{check}: ")) && words.iter().all(|w| l.contains(w)))
    };
    assert!(
        has(
            "bad row",
            &["table remote_status_history", "provider", "moon", "plugin4"]
        ),
        "{lines:#?}"
    );
    assert!(
        has("foreign_key_check", &["plugin_pids", "999", "plugins"]),
        "{lines:#?}"
    );
    assert!(
        has(
            "bad row",
            &["table plugins", "execution_mode", "row 3", "warp_drive"]
        ),
        "{lines:#?}"
    );
    assert!(
        has(
            "bad row",
            &["table remote_resources", "provider", "row 5", "moon"]
        ),
        "{lines:#?}"
    );
    assert!(
        has(
            "migration history",
            &[&format!("V{newer}"), "from_the_future", "newer"]
        ),
        "{lines:#?}"
    );
    assert_eq!(report.plugins, 6);

    let out = metastore(&db).arg("verify").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let printed: Vec<&str> = stdout.lines().collect();
    let expected: Vec<String> = lines.iter().map(|l| format!("problem: {l}")).collect();
    assert_eq!(printed, expected);
    assert_eq!(
        String::from_utf8(out.stderr).unwrap().trim_end(),
        format!("plugin-metastore: {} has 5 problems", db.display())
    );

    assert!(
        snapshot(dir.path()) == before,
        "verify changed a file, or made one"
    );
}

#[test]
fn verify_finds_a_sound_store_sound_and_an_old_one_sound_with_notes_unmigrated() {
    let (dir, db) = sample_dir("sound.db", 3);
    let report = MetadataStore::verify(&db).unwrap();
    assert!(report.is_sound(), "{:?}", report.problems);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    assert_eq!(
        (report.plugins, report.schema_version),
        (3, MetadataStore::latest_schema_version())
    );
    assert_eq!(
        metastore_ok(&db, &["verify"]),
        format!(
            "{} is sound: schema version {}, 3 plugins\n",
            db.display(),
            MetadataStore::latest_schema_version()
        )
    );

    // While a store has the file open (its WAL in use), too.
    let live = MetadataStore::open(&db).unwrap();
    live.save(&sample(9)).unwrap();
    assert!(MetadataStore::verify(&db).unwrap().is_sound());
    live.save(&sample(10)).unwrap();
    assert_eq!(live.list().unwrap().len(), 5);
    drop(live);

    // A file from the first version: sound, every later migration a note,
    // and not migrated.
    let old_dir = tempfile::tempdir().unwrap();
    let old = old_dir.path().join("v1.db");
    old_version_file(&old);
    let before = snapshot(old_dir.path());
    let report = MetadataStore::verify(&old).unwrap();
    assert!(report.is_sound(), "{:?}", report.problems);
    assert_eq!((report.plugins, report.schema_version), (4, 1));
    let pending: Vec<String> = migration_files()
        .into_iter()
        .filter(|(v, _)| *v > 1)
        .map(|(v, name)| {
            format!("migration V{v} {name} is not applied yet: a store opening the file applies it")
        })
        .collect();
    assert_eq!(report.notes, pending);
    assert!(
        snapshot(old_dir.path()) == before,
        "verify migrated or touched the file"
    );

    // Not a database at all.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x5a; 8192]).unwrap();
    let report = MetadataStore::verify(&junk).unwrap();
    assert_eq!(report.problems.len(), 1);
    assert_eq!(
        report.problems[0].to_string(),
        "file: not an SQLite database"
    );
    assert!(matches!(
        MetadataStore::verify(dir.path().join("missing.db")),
        Err(Error::CannotOpen { .. })
    ));
}

#[test]
fn a_backup_target_is_a_plain_path_never_a_uri_and_nothing_is_written_for_one() {
    let (dir, db) = sample_dir("plugins.db", 3);
    let store = MetadataStore::open(&db).unwrap();
    for target in [
        "file:copy.db",
        "file:x.db?immutable=1",
        ":memory:",
        "file:/tmp/abs.db?mode=rwc",
    ] {
        let others = |dir: &Path| -> Vec<PathBuf> {
            snapshot(dir)
                .into_keys()
                .filter(|p| {
                    !p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with("plugins.db")
                })
                .collect()
        };
        let before = others(dir.path());
        // The CLI, run in the store's directory so a relative URI would land there.
        let out = metastore(&db)
            .current_dir(dir.path())
            .args(["backup", target])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{target}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not a file path"), "{target}: {err}");
        assert!(!err.contains("no such table"), "{target}: {err}");
        // The library, from elsewhere.
        match store.backup(target) {
            Err(Error::InvalidInput {
                field: "path",
                reason,
                ..
            }) => {
                assert!(reason.contains(target), "{reason}")
            }
            other => panic!("{target}: {other:?}"),
        }
        let after = others(dir.path());
        assert_eq!(before, after, "{target} wrote a file");
        assert!(!dir.path().join("copy.db").exists());
        assert!(!dir.path().join("x.db").exists());
    }
    // ./file:copy.db is a file of that name, as the message says.
    let named = dir.path().join("file:copy.db");
    let b = store.backup(&named).unwrap();
    assert_eq!(b.plugins, 3);
    assert_eq!(
        MetadataStore::open(&named)
            .unwrap()
            .count(&plugin_metastore::PluginQuery::new())
            .unwrap(),
        3
    );
}

#[test]
fn a_read_only_store_can_be_backed_up_and_the_copy_leaves_no_temporary_file() {
    let (dir, db) = sample_dir("plugins.db", 4);
    let store = MetadataStore::open_read_only(&db).unwrap();
    let copy = dir.path().join("rescue.db");
    let b = store.backup(&copy).unwrap();
    assert_eq!((b.plugins, b.path.clone()), (4, copy.clone()));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert_eq!(names, Vec::<String>::new());
    assert_eq!(integrity_check(&copy), "ok");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn a_backup_killed_part_way_leaves_nothing_under_the_chosen_name() {
    let (dir, db) = sample_dir("plugins.db", 48);
    // About 48 MB, so the copy takes long enough to be killed part way.
    sqlite3(
        &db,
        "UPDATE plugins SET description = hex(randomblob(500000)); PRAGMA wal_checkpoint(TRUNCATE);",
    );
    for round in 0..3 {
        let copy = dir.path().join(format!("copy-{round}.db"));
        let prefix = format!(".copy-{round}.db.partial-");
        let mut child = metastore(&db)
            .arg("backup")
            .arg(&copy)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Killed as soon as anything of the copy appears in the directory.
        let killed = loop {
            if child.try_wait().unwrap().is_some() {
                break false;
            }
            let started = std::fs::read_dir(dir.path()).unwrap().any(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                name.starts_with(&prefix) || name.starts_with(&format!("copy-{round}.db"))
            });
            if started {
                let _ = child.kill();
                break true;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let status = child.wait().unwrap();
        assert!(killed || status.success());
        // Under the chosen name: nothing, or (killed after it was linked
        // into place) the whole, checked copy.
        if copy.exists() {
            let whole = MetadataStore::open_read_only(&copy)
                .and_then(|s| s.count(&plugin_metastore::PluginQuery::new()));
            assert_eq!(
                whole.ok(),
                Some(48),
                "round {round}: a partial copy under {copy:?}"
            );
        } else {
            let out = metastore(&copy).arg("list").output().unwrap();
            assert_eq!(out.status.code(), Some(1));
            assert!(String::from_utf8_lossy(&out.stderr).contains("no store at"));
        }
    }
}

/// `verify` through the CLI: exit code, stdout, stderr.
fn verify_cli(db: &Path) -> (Option<i32>, String, String) {
    metastore_outcome(db, &["verify"])
}

#[test]
fn verify_reads_every_value_the_commands_read_and_every_history_row() {
    let cases: &[(&str, &str)] = &[
        (
            "UPDATE plugins SET updated_at = x'00ff' WHERE id = 1",
            "updated_at",
        ),
        (
            "UPDATE plugins SET created_at = 'yesterday' WHERE id = 2",
            "julianday(created_at)",
        ),
        (
            "UPDATE plugins SET updated_at = 'soon' WHERE id = 3",
            "updated_at",
        ),
        (
            "UPDATE change_feed SET capacity = 'lots'",
            "change_feed.capacity",
        ),
        (
            "UPDATE change_feed SET capacity = 0",
            "change_feed.capacity",
        ),
        (
            "UPDATE change_feed SET pruned_through = -5",
            "change_feed.pruned_through",
        ),
        (
            "UPDATE remote_status_history SET provider = 'nope' WHERE rowid IN \
             (SELECT rowid FROM remote_status_history LIMIT 1)",
            "remote_status_history",
        ),
        (
            "UPDATE remote_status_history SET status = x'07'",
            "remote_status_history",
        ),
        (
            "UPDATE plugin_pids SET pid = -3 WHERE rowid = 1",
            "plugin_pids",
        ),
        (
            "UPDATE remote_status_history SET at = '2999-01-01T00:00:00.000000Z'",
            "dated in the future",
        ),
    ];
    for (i, (sql, named)) in cases.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let _demo = Demo::run(&db);
        // remote_status_history is WITHOUT ROWID: its first row by key.
        let sql = sql.replace(
            "rowid IN (SELECT rowid FROM remote_status_history LIMIT 1)",
            "name = (SELECT min(name) FROM remote_status_history)",
        );
        sqlite3(&db, &format!("PRAGMA ignore_check_constraints = 1; {sql};"));
        let (code, out, err) = verify_cli(&db);
        assert_eq!(code, Some(1), "case {i} {sql}: {out}{err}");
        assert!(
            out.lines()
                .any(|l| l.starts_with("problem:") && l.contains(named)),
            "case {i} {sql}: {out}"
        );
        assert!(!out.contains("is sound"), "case {i}: {out}");
    }
}

#[test]
fn verify_never_judges_a_half_written_file_and_says_when_it_could_not_look() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let _demo = Demo::run(&db);
    // A writer killed mid-transaction in rollback-journal mode: a hot
    // journal, and pages of the half-done write already in the file.
    sqlite3(&db, "PRAGMA journal_mode = DELETE;");
    Sqlite3Session::start(
        &db,
        "PRAGMA cache_size = 1; BEGIN; UPDATE plugins SET description = hex(randomblob(20000));",
    )
    .kill();
    let journal = dir.path().join("s.db-journal");
    assert!(std::fs::metadata(&journal).unwrap().len() > 0);
    let before = snapshot(dir.path());
    let (code, out, err) = verify_cli(&db);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(!out.contains("problem:") && !out.contains("sound"), "{out}");
    assert!(
        err.contains("rollback journal") && !err.contains("corrupt"),
        "{err}"
    );
    assert_eq!(before, snapshot(dir.path()), "verify changed a file");
    // Any command rolls it back; then the file is sound again.
    metastore_ok(&db, &["list"]);
    let (code, out, _) = verify_cli(&db);
    assert_eq!(code, Some(0), "{out}");

    // A WAL cut mid-frame (a copy taken while it was written): said.
    let store = MetadataStore::open(&db).unwrap();
    store.save(&sample(40)).unwrap();
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("s.db");
    std::fs::copy(&db, &copy).unwrap();
    let wal = std::fs::read(dir.path().join("s.db-wal")).unwrap();
    assert!(wal.len() > 200);
    std::fs::write(copy_dir.path().join("s.db-wal"), &wal[..wal.len() - 100]).unwrap();
    let (code, out, err) = verify_cli(&copy);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("cut mid-write"), "{out}");

    // A file another connection holds locked: it could not look.
    let locker = Sqlite3Session::start(&copy, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;");
    let (code, out, err) = verify_cli(&copy);
    locker.close();
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(!out.contains("problem:"), "{out}");
    assert!(err.contains("could not look"), "{err}");
    drop(store);
}

#[test]
fn verify_names_a_flipped_byte_inside_a_plugin_cell() {
    let (dir, db) = sample_dir("flip.db", 4);
    let stamp = sqlite3(&db, "SELECT updated_at FROM plugins WHERE id = 3");
    let mut bytes = std::fs::read(&db).unwrap();
    let needle = stamp.as_bytes();
    // The row's created_at and updated_at are the same text, side by side
    // in its cell: flip a byte of each in turn (a new copy each time).
    let starts: Vec<usize> = (0..bytes.len() - needle.len())
        .filter(|&i| &bytes[i..i + needle.len()] == needle)
        .collect();
    assert!(!starts.is_empty(), "{stamp} not found in the file");
    let original = bytes.clone();
    for (n, start) in starts.iter().enumerate() {
        bytes.copy_from_slice(&original);
        bytes[start + 5] ^= 0x80;
        let copy = dir.path().join(format!("flipped-{n}.db"));
        std::fs::write(&copy, &bytes).unwrap();
        let report = MetadataStore::verify(&copy).unwrap();
        assert!(!report.is_sound(), "flip at {start}: {report:?}");
    }
}

#[test]
fn a_copy_in_rollback_mode_held_open_by_another_connection_is_refused_in_words() {
    let (dir, db) = sample_dir("live.db", 2);
    let copy = dir.path().join("copy.db");
    MetadataStore::open(&db).unwrap().backup(&copy).unwrap();
    // Another connection holds the copy open (a reader mid-transaction),
    // as a running watch holds a store that cp wrote over.
    let reader = Sqlite3Session::start(&copy, "BEGIN; SELECT count(*) FROM plugins;");
    let options =
        plugin_metastore::StoreOptions::default().busy_timeout(Duration::from_millis(200));
    let opened = MetadataStore::open_with(&copy, options);
    reader.close();
    match opened {
        Err(Error::CannotOpen { reason, .. }) => {
            assert!(
                reason.contains("not in WAL mode") && reason.contains("mv"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    // Once it lets go, the copy opens.
    assert_eq!(
        MetadataStore::open(&copy)
            .unwrap()
            .count(&plugin_metastore::PluginQuery::new())
            .unwrap(),
        2
    );
}
