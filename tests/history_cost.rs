//! The remote status history and what it costs, on real store files: every
//! change recorded once, in its transaction, whoever makes it (library,
//! hand edits in the real sqlite3 CLI, an upgrade); dated transitions in
//! their place; and cost reports checked against figures computed by hand.

mod support;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use plugin_metastore::{
    CloudProviderType::{self, Aws, Gcp, LambdaLabs},
    CostGroup, CostGrouping, CostQuery, CostReport, Error, MetadataStore, RecordedStatus,
    RemoteStatusEntry, parse_time,
};
use support::{
    cloud_plugin, metastore_outcome, old_version_file, sqlite3, sqlite3_result, temp_store,
};

/// A time as people type it.
fn t(text: &str) -> DateTime<Utc> {
    parse_time(text).unwrap()
}

/// Saves a cloud plugin `gpu/{name}` whose resource is `status` at `rate`.
fn cloud(store: &MetadataStore, name: &str, p: CloudProviderType, status: &str, rate: Option<f64>) {
    store
        .save(&cloud_plugin("gpu", name, p, status, rate))
        .unwrap();
}

/// Records `status` for `gpu/{name}` at `at`, which must be before its
/// newest history row.
#[track_caller]
fn backdate(store: &MetadataStore, name: &str, status: &str, at: &str) {
    let got = store
        .set_remote_status_at("gpu", name, status, t(at))
        .unwrap();
    assert!(
        matches!(got, RecordedStatus::Backdated { .. }),
        "{name} {status} at {at}: {got:?}"
    );
}

/// Records that `name` ran from `from` to `to` (UTC, to the minute:
/// `2026-11-01T22:00`): backdated `running`, then `stopped`.
fn ran(store: &MetadataStore, name: &str, from: &str, to: &str) {
    backdate(store, name, "running", &format!("{from}:00Z"));
    backdate(store, name, "stopped", &format!("{to}:00Z"));
}

/// The report of `[since, until)` grouped `by`.
fn report(store: &MetadataStore, since: Option<&str>, until: &str, by: CostGrouping) -> CostReport {
    let mut q = CostQuery::new().until(t(until)).by(by);
    if let Some(since) = since {
        q = q.since(t(since));
    }
    store.cost_report(&q).unwrap()
}

/// `(key, running hours, cost)` of every group.
fn figures(r: &CostReport) -> Vec<(String, f64, Option<f64>)> {
    r.groups
        .iter()
        .map(|g| (g.key.clone(), g.running_hours, g.cost_usd))
        .collect()
}

/// Equal up to floating-point rounding.
#[track_caller]
fn assert_close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "got {got}, want {want}"
    );
}

#[track_caller]
fn assert_figures(r: &CostReport, want: &[(&str, f64, Option<f64>)]) {
    let got = figures(r);
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((key, hours, cost), (wkey, whours, wcost)) in got.iter().zip(want) {
        assert_eq!(key, wkey, "{got:?}");
        assert_close(*hours, *whours);
        match (cost, wcost) {
            (Some(c), Some(w)) => assert_close(*c, *w),
            (c, w) => assert_eq!(c, w, "{key}: {got:?}"),
        }
    }
}

/// The statuses of one plugin's history, oldest first.
fn statuses(store: &MetadataStore, category: &str, name: &str) -> Vec<String> {
    let history = store.remote_history(category, name).unwrap();
    history.into_iter().map(|e| e.status).collect()
}

/// `"status rate"` of each history entry, in order (`-`: no rate).
fn status_rates(history: &[RemoteStatusEntry]) -> Vec<String> {
    let rate = |r: Option<f64>| r.map_or_else(|| "-".to_owned(), |r| r.to_string());
    history
        .iter()
        .map(|e| format!("{} {}", e.status, rate(e.cost_per_hour)))
        .collect()
}

fn history_rows(db: &Path) -> i64 {
    sqlite3(db, "SELECT count(*) FROM remote_status_history")
        .parse()
        .unwrap()
}

/// Long enough that two stamps taken either side differ (SQLite stamps
/// in milliseconds).
fn pause() {
    std::thread::sleep(Duration::from_millis(5));
}

fn hours_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap() as f64 / 3.6e9
}

// ---------------------------------------------------------------- figures

#[test]
fn nights_across_midnight_cost_what_was_computed_by_hand() {
    let (_dir, _db, store) = temp_store("history.db");
    // Both resources are created stopped now; their running nights are
    // dated before that, as an app learning of them later records them.
    cloud(&store, "night", Aws, "stopped", Some(2.0));
    cloud(&store, "other", Gcp, "stopped", Some(1.25));
    ran(&store, "night", "2026-11-01T22:00", "2026-11-02T04:30");
    ran(&store, "other", "2026-11-02T23:00", "2026-11-03T01:00");

    // night: 2 h on Nov 1 + 4.5 h on Nov 2 at $2; other: 1 h on Nov 2 and
    // 1 h on Nov 3 at $1.25.
    let by_day = report(&store, None, "2026-11-04", CostGrouping::Day);
    assert_figures(
        &by_day,
        &[
            ("2026-11-01", 2.0, Some(4.0)),
            ("2026-11-02", 5.5, Some(9.0 + 1.25)),
            ("2026-11-03", 1.0, Some(1.25)),
        ],
    );
    assert_close(by_day.total.running_hours, 8.5);
    assert_eq!(by_day.total.cost_usd, Some(13.0 + 2.5));
    let by_provider = report(&store, None, "2026-11-04", CostGrouping::Provider);
    assert_figures(
        &by_provider,
        &[("aws", 6.5, Some(13.0)), ("gcp", 2.0, Some(2.5))],
    );
    let by_plugin = report(&store, None, "2026-11-04", CostGrouping::Plugin);
    assert_figures(
        &by_plugin,
        &[
            ("gpu_night", 6.5, Some(13.0)),
            ("gpu_other", 2.0, Some(2.5)),
        ],
    );
    assert_eq!(by_plugin.groups[0].category.as_deref(), Some("gpu"));
    assert_eq!(by_plugin.groups[0].name.as_deref(), Some("night"));

    // A window cuts intervals: 03:00 → 04:30 of night, 23:00 → 00:30 of
    // other.
    let cut = report(
        &store,
        Some("2026-11-02T03:00:00Z"),
        "2026-11-03T00:30:00Z",
        CostGrouping::Provider,
    );
    assert_figures(&cut, &[("aws", 1.5, Some(3.0)), ("gcp", 1.5, Some(1.875))]);
    // Nothing ran in this one.
    let none = report(
        &store,
        Some("2026-11-02T05:00:00Z"),
        "2026-11-02T23:00:00Z",
        CostGrouping::Day,
    );
    assert!(none.groups.is_empty(), "{:?}", none.groups);
    assert_eq!(
        (none.total.running_hours, none.total.cost_usd),
        (0.0, Some(0.0))
    );
}

#[test]
fn a_rate_change_inside_a_running_period_prices_each_part_at_its_own_rate() {
    let (_dir, _db, store) = temp_store("history.db");
    let mut p = cloud_plugin("gpu", "train", Aws, "running", Some(2.0));
    store.save(&p).unwrap();
    std::thread::sleep(Duration::from_millis(40));
    // The provider's price went up while it ran: a save with the new rate.
    p.remote_resource.as_mut().unwrap().estimated_cost_per_hour = Some(3.0);
    store.save(&p).unwrap();
    std::thread::sleep(Duration::from_millis(40));
    // A save that changes nothing the history holds records nothing.
    p.remote_resource.as_mut().unwrap().gpu_count = 8;
    store.save(&p).unwrap();
    std::thread::sleep(Duration::from_millis(40));
    store.set_remote_status("gpu", "train", "stopped").unwrap();

    let h = store.remote_history("gpu", "train").unwrap();
    assert_eq!(status_rates(&h), ["running 2", "running 3", "stopped 3"]);
    let (first, second) = (
        hours_between(h[0].at, h[1].at),
        hours_between(h[1].at, h[2].at),
    );
    assert!(first > 0.0 && second > 0.0, "{h:?}");
    let r = store
        .cost_report(&CostQuery::new().by(CostGrouping::Plugin))
        .unwrap();
    assert_figures(
        &r,
        &[(
            "gpu_train",
            first + second,
            Some(2.0 * first + 3.0 * second),
        )],
    );
}

#[test]
fn an_unknown_rate_is_counted_as_unpriced_hours_never_as_zero_dollars() {
    let (_dir, _db, store) = temp_store("history.db");
    cloud(&store, "mystery", LambdaLabs, "stopped", None);
    cloud(&store, "priced", Aws, "stopped", Some(4.0));
    ran(&store, "mystery", "2026-11-05T10:00", "2026-11-05T13:30");
    ran(&store, "priced", "2026-11-05T11:00", "2026-11-05T12:00");

    let r = report(&store, None, "2026-11-06", CostGrouping::Provider);
    assert_figures(&r, &[("aws", 1.0, Some(4.0)), ("lambda_labs", 3.5, None)]);
    let lambda = &r.groups[1];
    assert_eq!(
        (
            lambda.unknown_rate_hours,
            lambda.priced_hours,
            lambda.priced_cost_usd
        ),
        (3.5, 0.0, 0.0)
    );
    let total: &CostGroup = &r.total;
    assert_eq!(
        total.cost_usd, None,
        "one unknown rate makes the total unknown"
    );
    assert_eq!(
        (
            total.priced_hours,
            total.priced_cost_usd,
            total.unknown_rate_hours
        ),
        (1.0, 4.0, 3.5)
    );
    // By day the two share a group: its cost is unknown too.
    let by_day = report(&store, None, "2026-11-06", CostGrouping::Day);
    assert_figures(&by_day, &[("2026-11-05", 4.5, None)]);
    assert_eq!(by_day.groups[0].priced_cost_usd, 4.0);

    // Learning the rate later prices what comes after, not the past.
    let mut known = cloud_plugin("gpu", "mystery", LambdaLabs, "stopped", Some(1.1));
    known.title = "now priced".into();
    store.save(&known).unwrap();
    let again = report(&store, None, "2026-11-06", CostGrouping::Provider);
    assert_eq!(figures(&again), figures(&r));

    // The burn rate says what it cannot price.
    cloud(&store, "live", Gcp, "running", None);
    cloud(&store, "live2", Gcp, "running", Some(0.5));
    let burn = store.burn_rate().unwrap();
    assert_eq!((burn.running, burn.unpriced_running), (2, 1));
    assert_eq!(burn.priced_usd_per_hour, 0.5);
    assert_eq!(burn.usd_per_hour(), None);
}

#[test]
fn a_deleted_plugin_stays_in_reports_and_its_meter_stops_at_the_delete() {
    let (_dir, db, store) = temp_store("history.db");
    cloud(&store, "gone", Aws, "stopped", Some(10.0));
    ran(&store, "gone", "2026-11-01T08:00", "2026-11-01T10:00");
    cloud(&store, "live", Aws, "running", Some(1.0));
    std::thread::sleep(Duration::from_millis(30));
    assert!(store.delete("gpu", "gone").unwrap());
    assert!(store.delete("gpu", "live").unwrap());

    assert_eq!(
        statuses(&store, "gpu", "gone"),
        ["running", "stopped", "stopped", "removed"]
    );
    let past = report(&store, None, "2026-11-02", CostGrouping::Plugin);
    assert_figures(&past, &[("gpu_gone", 2.0, Some(20.0))]);

    // `live` ran from its save to its delete, and not a moment longer.
    let h = store.remote_history("gpu", "live").unwrap();
    assert_eq!(h.len(), 2, "{h:?}");
    let ran = hours_between(h[0].at, h[1].at);
    assert!(ran > 0.0);
    let q = CostQuery::new()
        .since(t("2026-11-20"))
        .by(CostGrouping::Plugin);
    let first = store.cost_report(&q).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    let later = store.cost_report(&q).unwrap();
    assert_figures(&first, &[("gpu_live", ran, Some(ran))]);
    assert_eq!(figures(&later), figures(&first));
    assert_eq!(store.burn_rate().unwrap().running, 0);

    // A new plugin with the same key starts a new timeline after the old.
    cloud(&store, "gone", Gcp, "running", Some(3.0));
    let gone = statuses(&store, "gpu", "gone");
    assert_eq!(gone.last().map(String::as_str), Some("running"));
    assert_eq!(gone.len(), 5);
    assert_eq!(history_rows(&db), 5 + 2);
}

// ---------------------------------------------------------------- dated transitions

#[test]
fn a_late_transition_lands_in_its_place_and_leaves_the_current_status() {
    let (_dir, db, store) = temp_store("history.db");
    cloud(&store, "late", Aws, "stopped", Some(1.0));
    let created = store.remote_history("gpu", "late").unwrap()[0].at;
    ran(&store, "late", "2026-11-10T08:00", "2026-11-10T12:00");
    let day = |store: &MetadataStore| report(store, None, "2026-11-11", CostGrouping::Day);
    assert_figures(&day(&store), &[("2026-11-10", 4.0, Some(4.0))]);

    // Learnt late: it stopped at 10:00 already.
    let got = store
        .set_remote_status_at("gpu", "late", "stopped", t("2026-11-10T10:00:00Z"))
        .unwrap();
    assert_eq!(
        got,
        RecordedStatus::Backdated {
            current_status: "stopped".into(),
            newest_at: created,
        }
    );
    assert_figures(&day(&store), &[("2026-11-10", 2.0, Some(2.0))]);
    // Stopped at 11:00 too: it already was, nothing is written.
    let rows = history_rows(&db);
    let got = store
        .set_remote_status_at("gpu", "late", "stopped", t("2026-11-10T11:00:00Z"))
        .unwrap();
    assert_eq!(got, RecordedStatus::Unchanged);
    assert_eq!(history_rows(&db), rows);
    // Before the first row: it takes the first row's provider and rate.
    backdate(&store, "late", "running", "2026-11-10T07:00:00Z");
    assert_figures(&day(&store), &[("2026-11-10", 3.0, Some(3.0))]);
    assert_eq!(
        statuses(&store, "gpu", "late"),
        ["running", "running", "stopped", "stopped", "stopped"]
    );
    let current = || {
        let p = store.get("gpu", "late").unwrap().unwrap();
        p.remote_resource.unwrap().status
    };
    assert_eq!(current(), "stopped");

    // At the newest row's own time or later, the status changes.
    let got = store
        .set_remote_status_at("gpu", "late", "running", created)
        .unwrap();
    assert_eq!(got, RecordedStatus::Current);
    assert_eq!(current(), "running");
    let h = store.remote_history("gpu", "late").unwrap();
    assert_eq!(
        (h[h.len() - 1].at, h[h.len() - 1].status.as_str()),
        (created, "running")
    );
    let got = store
        .set_remote_status_at("gpu", "late", "running", Utc::now())
        .unwrap();
    assert_eq!(got, RecordedStatus::Unchanged);
    let got = store.set_remote_status("gpu", "late", "stopped").unwrap();
    assert_eq!(got, RecordedStatus::Current);
    assert_eq!(current(), "stopped");
}

#[test]
fn bad_transitions_name_the_value_and_write_nothing() {
    let (_dir, db, store) = temp_store("history.db");
    cloud(&store, "x", Aws, "running", Some(1.0));
    store.save(&support::sample(1)).unwrap();
    let mut local = support::sample(2);
    local.remote_resource = None;
    store.save(&local).unwrap();
    let before = (
        history_rows(&db),
        sqlite3(&db, "SELECT * FROM plugins ORDER BY id"),
    );

    let future = Utc::now() + chrono::Duration::hours(1);
    match store.set_remote_status_at("gpu", "x", "stopped", future) {
        Err(Error::InvalidInput {
            field: "at",
            reason,
            plugin,
        }) => {
            assert!(
                reason.contains(&future.format("%Y-%m-%dT%H:%M:%S").to_string()),
                "{reason}"
            );
            assert_eq!(plugin.as_deref(), Some("gpu_x"));
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    let ancient = DateTime::<Utc>::MIN_UTC;
    assert!(matches!(
        store.set_remote_status_at("gpu", "x", "stopped", ancient),
        Err(Error::InvalidInput { field: "at", .. })
    ));
    assert!(matches!(
        store.set_remote_status_at("sample", "plugin2", "running", t("2026-11-01")),
        Err(Error::InvalidInput {
            field: "remote_resource",
            ..
        })
    ));
    assert!(matches!(
        store.set_remote_status_at("gpu", "nope", "running", t("2026-11-01")),
        Err(Error::NotFound { .. })
    ));
    let err = store
        .cost_report(
            &CostQuery::new()
                .since(t("2026-11-02"))
                .until(t("2026-11-01")),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("2026-11-02T00:00:00.000000Z"),
        "{err}"
    );
    assert_eq!(
        (
            history_rows(&db),
            sqlite3(&db, "SELECT * FROM plugins ORDER BY id")
        ),
        before
    );
}

// ---------------------------------------------------------------- who records

#[test]
fn hand_edits_in_sqlite3_are_recorded_once_each() {
    let (_dir, db, store) = temp_store("history.db");
    cloud(&store, "a", Aws, "running", Some(2.0));
    cloud(&store, "b", Gcp, "stopped", Some(1.0));
    assert_eq!(history_rows(&db), 2);
    let of = |name: &str| format!("(SELECT id FROM plugins WHERE name = '{name}')");

    // Changes the history does not hold are not recorded.
    sqlite3(
        &db,
        "UPDATE remote_resources SET metadata = '{\"k\": 1}', gpu_count = 3",
    );
    sqlite3(
        &db,
        &format!(
            "UPDATE remote_resources SET status = 'running' WHERE plugin_id = {}",
            of("a")
        ),
    );
    assert_eq!(history_rows(&db), 2);
    // Status and rate changes are, once each.
    sqlite3(
        &db,
        &format!(
            "UPDATE remote_resources SET status = 'stopped' WHERE plugin_id = {}",
            of("a")
        ),
    );
    sqlite3(
        &db,
        &format!(
            "UPDATE remote_resources SET estimated_cost_per_hour = 2.5 WHERE plugin_id = {}",
            of("a")
        ),
    );
    let rows = store.remote_history("gpu", "a").unwrap();
    assert_eq!(
        status_rates(&rows),
        ["running 2", "stopped 2", "stopped 2.5"]
    );
    // Stamped by SQLite in milliseconds, padded to the store's format.
    let at = sqlite3(
        &db,
        "SELECT at FROM remote_status_history WHERE name = 'a' ORDER BY at DESC, seq DESC LIMIT 1",
    );
    assert!(at.len() == 27 && at.ends_with("000Z"), "{at}");

    // A plugin deleted by hand, without foreign keys (no cascade): its
    // resource is removed for the history, and the orphan row left behind
    // is not burning money.
    sqlite3(&db, "UPDATE remote_resources SET status = 'running'");
    pause();
    sqlite3(&db, "DELETE FROM plugins WHERE name = 'b'");
    assert_eq!(
        statuses(&store, "gpu", "b"),
        ["stopped", "running", "removed"]
    );
    assert_eq!(sqlite3(&db, "SELECT count(*) FROM remote_resources"), "2");
    assert_eq!(store.burn_rate().unwrap().running, 1);
    // With foreign keys on, the cascade records the removal once.
    sqlite3(
        &db,
        "PRAGMA foreign_keys = ON; DELETE FROM plugins WHERE name = 'a'",
    );
    assert_eq!(
        statuses(&store, "gpu", "a"),
        ["running", "stopped", "stopped", "running", "removed"]
    );

    // Cleaning up the orphan records nothing: its plugin is gone already.
    let rows = history_rows(&db);
    sqlite3(
        &db,
        "DELETE FROM remote_resources WHERE plugin_id NOT IN (SELECT id FROM plugins)",
    );
    assert_eq!(history_rows(&db), rows);

    // Created by hand, then renamed by hand.
    sqlite3(
        &db,
        "INSERT INTO plugins (category, name, title, config_schema, is_configured, execution_mode, \
             manages_child_processes, manages_external_resources, created_at, updated_at) \
         VALUES ('gpu', 'c', 'C', '{}', 0, 'cloud_gpu', 0, 1, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z'); \
         INSERT INTO remote_resources (plugin_id, provider, ssh_port, status, gpu_count, \
             estimated_cost_per_hour, metadata) \
         VALUES ((SELECT id FROM plugins WHERE name = 'c'), 'runpod', 22, 'running', 1, 0.75, '{}')",
    );
    pause();
    sqlite3(&db, "UPDATE plugins SET name = 'c2' WHERE name = 'c'");
    assert_eq!(statuses(&store, "gpu", "c"), ["running", "removed"]);
    assert_eq!(statuses(&store, "gpu", "c2"), ["running"]);
    // A resource moved to another plugin by hand leaves one, joins the other.
    pause();
    sqlite3(
        &db,
        "INSERT INTO plugins (category, name, title, config_schema, is_configured, execution_mode, \
             manages_child_processes, manages_external_resources, created_at, updated_at) \
         VALUES ('gpu', 'd', 'D', '{}', 0, 'cloud_gpu', 0, 1, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z'); \
         UPDATE remote_resources SET plugin_id = (SELECT id FROM plugins WHERE name = 'd') \
         WHERE plugin_id = (SELECT id FROM plugins WHERE name = 'c2')",
    );
    assert_eq!(statuses(&store, "gpu", "c2"), ["running", "removed"]);
    assert_eq!(statuses(&store, "gpu", "d"), ["running"]);
    let now = store
        .cost_report(&CostQuery::new().by(CostGrouping::Plugin))
        .unwrap();
    let keys: Vec<_> = now.groups.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, ["gpu_a", "gpu_b", "gpu_c", "gpu_c2", "gpu_d"]);
    assert_eq!(store.burn_rate().unwrap().priced_usd_per_hour, 0.75);

    // What the store could not read is refused by hand too.
    for (at, provider, cost) in [
        ("2026-02-30T00:00:00.000000Z", "aws", "1.0"),
        ("2026-11-01T24:00:00.000000Z", "aws", "1.0"),
        ("2026-11-01T08:00:00Z", "aws", "1.0"),
        ("2026-11-01 08:00:00.000000Z", "aws", "1.0"),
        ("2026-11-01T08:00:00.000000Z", "AWS", "1.0"),
        ("2026-11-01T08:00:00.000000Z", "aws", "-1.0"),
        ("2026-11-01T08:00:00.000000Z", "aws", "'abc'"),
    ] {
        let sql = format!(
            "INSERT INTO remote_status_history VALUES ('gpu', 'z', '{at}', 0, '{provider}', NULL, 'running', {cost})"
        );
        let err = sqlite3_result(&db, &sql).unwrap_err();
        assert!(err.contains("CHECK constraint failed"), "{sql}: {err}");
    }
}

#[test]
fn a_failed_save_records_nothing() {
    let (_dir, db, store) = temp_store("history.db");
    cloud(&store, "kept", Aws, "running", Some(1.0));
    // A trigger planted by hand makes the second plugin of a save fail
    // after the first was written.
    sqlite3(
        &db,
        "CREATE TRIGGER test_boom AFTER INSERT ON plugins WHEN NEW.name = 'boom' \
         BEGIN SELECT RAISE(ABORT, 'boom'); END",
    );
    let first = cloud_plugin("gpu", "new", Gcp, "running", Some(2.0));
    let mut changed = cloud_plugin("gpu", "kept", Aws, "stopped", Some(1.0));
    changed.title = "changed".into();
    let boom = cloud_plugin("gpu", "boom", Aws, "running", None);
    let err = store.save_all([&first, &changed, &boom]).unwrap_err();
    assert!(err.to_string().contains("boom"), "{err}");
    assert_eq!(history_rows(&db), 1);
    assert_eq!(statuses(&store, "gpu", "kept"), ["running"]);
    sqlite3(&db, "DROP TRIGGER test_boom");
    store.save_all([&first, &changed, &boom]).unwrap();
    assert_eq!(statuses(&store, "gpu", "kept"), ["running", "stopped"]);
    assert_eq!(history_rows(&db), 4);
}

#[test]
fn quick_changes_keep_their_order_and_one_timestamp_format() {
    let (_dir, db, store) = temp_store("history.db");
    let mut p = cloud_plugin("gpu", "quick", Aws, "s0", Some(1.0));
    store.save(&p).unwrap();
    let mut want = vec!["s0".to_owned()];
    // Saves (stamped by the triggers, in milliseconds) and status changes
    // (stamped by the library, in microseconds), many within one
    // millisecond: the history keeps the order they were made in.
    for i in 1..60 {
        let status = format!("s{i}");
        if i % 2 == 0 {
            p.remote_resource.as_mut().unwrap().status = status.clone();
            store.save(&p).unwrap();
        } else {
            store.set_remote_status("gpu", "quick", &status).unwrap();
            p.remote_resource.as_mut().unwrap().status = status.clone();
        }
        want.push(status);
    }
    // Removed and created again in one transaction: two rows in the same
    // millisecond, in order, no clash.
    let mut gone = p.clone();
    gone.remote_resource = None;
    store.save_all([&gone, &p, &gone, &p]).unwrap();
    want.extend(["removed", "s59", "removed", "s59"].map(String::from));
    assert_eq!(statuses(&store, "gpu", "quick"), want);
    let bad = sqlite3(
        &db,
        "SELECT count(*) FROM remote_status_history WHERE at NOT GLOB \
         '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'",
    );
    assert_eq!(bad, "0");
    // In sqlite3, text order is the history's order.
    let by_text = sqlite3(
        &db,
        "SELECT group_concat(status, ' ') FROM \
         (SELECT status FROM remote_status_history ORDER BY at, seq)",
    );
    assert_eq!(by_text, want.join(" "));
}

// ---------------------------------------------------------------- upgrade

#[test]
fn an_old_store_upgrades_with_its_running_resources_stamped_at_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    old_version_file(&db);
    // Besides the fixture's running AWS resource ($24.50) and stopped
    // custom one, a running resource whose rate is unknown.
    sqlite3(
        &db,
        "INSERT INTO remote_resources (plugin_id, provider, ssh_port, status, gpu_count, \
             estimated_cost_per_hour, metadata) \
         VALUES ((SELECT id FROM plugins WHERE name = 'whisper_tiny'), 'lambda_labs', 22, \
             'running', 1, NULL, '{}')",
    );
    let resources = sqlite3(
        &db,
        "SELECT p.category, p.name, r.provider, r.status, r.estimated_cost_per_hour \
         FROM remote_resources r JOIN plugins p ON p.id = r.plugin_id ORDER BY p.category, p.name",
    );
    assert_eq!(resources.lines().count(), 3);
    let before = Utc::now();
    let store = MetadataStore::open(&db).unwrap();
    let after = Utc::now();

    let seeded = sqlite3(
        &db,
        "SELECT category, name, provider, status, cost_per_hour FROM remote_status_history \
         ORDER BY category, name",
    );
    assert_eq!(seeded, resources, "one row per resource, as it was");
    let stamps = sqlite3(&db, "SELECT DISTINCT at FROM remote_status_history");
    let stamp = parse_time(&stamps).unwrap();
    let ms = chrono::Duration::milliseconds(1);
    assert!(
        before - ms <= stamp && stamp <= after,
        "{stamps} not in [{before}, {after}]"
    );

    // Accounting starts at the upgrade: the days the resources ran before
    // it are not invented.
    let r = store.cost_report(&CostQuery::new()).unwrap();
    let so_far = hours_between(stamp, Utc::now());
    assert!(
        r.total.running_hours <= 2.0 * so_far,
        "{:?} vs {so_far}",
        r.total
    );
    assert_eq!(
        r.groups.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(),
        ["aws", "lambda_labs"]
    );
    assert_eq!(r.groups[1].cost_usd, None);
    let burn = store.burn_rate().unwrap();
    assert_eq!(
        (
            burn.running,
            burn.priced_usd_per_hour,
            burn.unpriced_running
        ),
        (2, 24.5, 1)
    );
    // The same, for sqlite3 users.
    assert_eq!(
        sqlite3(&db, "SELECT * FROM remote_burn_rate"),
        "aws|1|24.5|24.5|0\nlambda_labs|1||0.0|1"
    );
    // And the upgraded store records changes from then on.
    store
        .set_remote_status("finetuning", "llm_finetune_aws", "stopped")
        .unwrap();
    assert_eq!(
        statuses(&store, "finetuning", "llm_finetune_aws"),
        ["running", "stopped"]
    );
}

#[test]
fn one_bad_history_row_never_hides_the_rest_and_its_plugin_can_be_deleted() {
    let (_dir, db, store) = temp_store("history.db");
    cloud(&store, "a", Aws, "running", Some(1.0));
    cloud(&store, "b", Gcp, "running", Some(2.0));
    cloud(&store, "c", LambdaLabs, "stopped", Some(3.0));
    // By hand, past the CHECKs: b's provider (the trigger copies it into
    // the history), and c's rate as text in its history row.
    sqlite3(
        &db,
        "PRAGMA ignore_check_constraints = 1;
         UPDATE remote_resources SET provider = 'nope'
             WHERE plugin_id = (SELECT id FROM plugins WHERE name = 'b');
         UPDATE remote_status_history SET cost_per_hour = 'cheap' WHERE name = 'c';",
    );
    assert!(matches!(
        store.remote_history("gpu", "b"),
        Err(Error::BadData { .. })
    ));
    let report = store.cost_report(&CostQuery::new()).unwrap();
    assert_eq!(
        report.unreadable_rows.len(),
        2,
        "{:?}",
        report.unreadable_rows
    );
    assert!(
        report
            .unreadable_rows
            .iter()
            .any(|r| r.contains("\"nope\""))
    );
    assert!(
        report
            .unreadable_rows
            .iter()
            .any(|r| r.contains("\"cheap\""))
    );
    assert!(
        report
            .groups
            .iter()
            .any(|g| g.key == "aws" && g.running_hours > 0.0)
    );
    let (rows, bad) = store.remote_history_readable("gpu", "b").unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].provider, rows[0].status.as_str()),
        (Gcp, "running")
    );
    assert_eq!(bad.len(), 1);
    assert!(bad[0].to_string().contains("provider"), "{}", bad[0]);

    let (code, out, err) = metastore_outcome(&db, &["cost", "--by", "plugin"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("gpu_a"), "{out}");
    assert_eq!(err.matches("left out a history row").count(), 2, "{err}");
    assert!(err.contains("DELETE FROM remote_status_history"), "{err}");
    let (code, out, err) = metastore_outcome(&db, &["history", "gpu_b"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("gcp") && out.contains("1 entry"), "{out}");
    assert!(err.contains("\"nope\""), "{err}");

    // The plugin with the bad provider can be deleted; the removal is in
    // its history under the provider 'custom'.
    let (code, _, err) = metastore_outcome(&db, &["delete", "gpu_b"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(store.delete("gpu", "c").unwrap());
    let (rows, bad) = store.remote_history_readable("gpu", "b").unwrap();
    assert_eq!(bad.len(), 1);
    let last = rows.last().unwrap();
    assert_eq!(
        (last.status.as_str(), last.provider),
        ("removed", CloudProviderType::Custom)
    );
    // Removed by hand too (the sqlite3 CLI, checks on).
    sqlite3(
        &db,
        "PRAGMA ignore_check_constraints = 1;
         UPDATE remote_resources SET provider = 'bogus'
             WHERE plugin_id = (SELECT id FROM plugins WHERE name = 'a');
         PRAGMA ignore_check_constraints = 0;
         DELETE FROM remote_resources;",
    );
    let (rows, _) = store.remote_history_readable("gpu", "a").unwrap();
    assert_eq!(rows.last().unwrap().status, "removed");
}

#[test]
fn a_row_dated_in_the_future_never_freezes_the_history_and_is_named() {
    let (_dir, db, store) = temp_store("history.db");
    cloud(&store, "ahead", Aws, "running", Some(10.0));
    cloud(&store, "other", Gcp, "running", Some(1.0));
    // A command run with the clock ten years ahead stopped it.
    sqlite3(
        &db,
        "UPDATE remote_resources SET status = 'stopped'
             WHERE plugin_id = (SELECT id FROM plugins WHERE name = 'ahead');
         UPDATE remote_status_history SET at = '2036-06-01T00:00:00.000000Z'
             WHERE name = 'ahead' AND status = 'stopped';",
    );
    // The clock is right again: transitions are recorded now.
    let before = Utc::now();
    store.set_remote_status("gpu", "ahead", "running").unwrap();
    std::thread::sleep(Duration::from_millis(5));
    store.set_remote_status("gpu", "ahead", "stopped").unwrap();
    // And by hand (the triggers).
    sqlite3(
        &db,
        "UPDATE remote_resources SET status = 'paused'
             WHERE plugin_id = (SELECT id FROM plugins WHERE name = 'ahead');",
    );
    let rows = store.remote_history("gpu", "ahead").unwrap();
    let statuses: Vec<(&str, bool)> = rows
        .iter()
        .map(|r| {
            (
                r.status.as_str(),
                r.at.timestamp() < t("2030-01-01").timestamp(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("running", true),
            ("running", true),
            ("stopped", true),
            ("paused", true),
            ("stopped", false)
        ]
    );
    assert!(rows[1].at >= before - chrono::Duration::seconds(1));
    assert_eq!(
        store
            .get("gpu", "ahead")
            .unwrap()
            .unwrap()
            .remote_resource
            .unwrap()
            .status,
        "paused"
    );
    // Billing follows the real time: the new running interval ends at the
    // real stop, not in 2036.
    let report = store
        .cost_report(&CostQuery::new().by(CostGrouping::Plugin))
        .unwrap();
    let ahead = report.groups.iter().find(|g| g.key == "gpu_ahead").unwrap();
    assert!(ahead.running_hours < 1.0, "{ahead:?}");
    assert_eq!(report.future_rows.len(), 1, "{:?}", report.future_rows);
    assert!(report.future_rows[0].contains("2036-06-01"));
    let (code, _, err) = metastore_outcome(&db, &["cost"]);
    assert_eq!(code, Some(0));
    assert!(
        err.contains("dated in the future") && err.contains("2036"),
        "{err}"
    );
    let (code, _, err) = metastore_outcome(&db, &["history", "gpu_ahead"]);
    assert_eq!(code, Some(0));
    assert!(err.contains("dated in the future"), "{err}");
}

#[test]
fn a_cost_too_large_for_a_number_is_said_never_passed_off_as_an_unknown_rate() {
    for (rate, overflows) in [
        (1.797e308, true),
        (1e308, true),
        (1e300, false),
        (f64::MAX, true),
    ] {
        let (_dir, db, store) = temp_store("history.db");
        cloud(&store, "huge", Aws, "stopped", Some(rate));
        let two_hours_ago = Utc::now() - chrono::Duration::hours(2);
        store
            .set_remote_status_at("gpu", "huge", "running", two_hours_ago)
            .unwrap();
        let report = store.cost_report(&CostQuery::new()).unwrap();
        let g = &report.total;
        assert_eq!(g.unknown_rate_hours, 0.0, "{rate}");
        assert_eq!(g.cost_overflow, overflows, "{rate}: {g:?}");
        if overflows {
            assert_eq!(g.cost_usd, None);
            assert!(g.priced_cost_usd.is_finite());
            let (code, out, _) = metastore_outcome(&db, &["cost"]);
            assert_eq!(code, Some(0));
            assert!(out.contains("too large"), "{out}");
            let (_, json, _) = metastore_outcome(&db, &["cost", "--json"]);
            assert!(json.contains("\"cost_overflow\": true"), "{json}");
        } else {
            assert!(g.cost_usd.unwrap() > 1e300);
        }
    }
}
