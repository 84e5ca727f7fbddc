//! Process identity on the command line: `check`, `reap`, and `demo`
//! (which records one real child process beside the seed's stale PIDs, so
//! `check` has something to tell apart).

use comfy_table::{ContentArrangement, Table, presets};
use plugin_metastore::{
    MetadataStore, PidCheck, PluginQuery, ReapAction, ReapOptions, Reaped, pid_in_use, seed,
};

use crate::args::ReapArgs;
use crate::failure::{CliResult, Failure};
use crate::output::{display_path, print, table, to_json};
use crate::text::printable;

/// `demo`: saves the seed's example plugins that the store does not hold
/// yet (an existing plugin is never changed), then starts `sleep 600` and
/// records it as a real child process of the Voxtral plugin.
pub(crate) fn demo(store: &MetadataStore) -> CliResult {
    let mut added = Vec::new();
    let mut skipped = Vec::new();
    for mut p in seed::plugins() {
        if store.get(&p.category, &p.name)?.is_some() {
            skipped.push(p.unique_id());
            continue;
        }
        // The seed's PIDs are made up: one that a process holds here
        // belongs to a stranger, and recording it would claim it.
        p.spawned_pids.retain(|&pid| !pid_in_use(pid));
        added.push(p);
    }
    store.save_all(&added)?;
    let mut out = format!(
        "saved {} example plugin{} to {}\n",
        added.len(),
        if added.len() == 1 { "" } else { "s" },
        display_path(store)
    );
    if !skipped.is_empty() {
        out.push_str(&format!(
            "left alone (already stored): {}\n",
            skipped
                .iter()
                .map(|s| printable(s))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let voxtral = seed::voxtral_vllm();
    if added.iter().any(|p| p.unique_id() == voxtral.unique_id()) {
        out.push_str(&record_child(store, &voxtral.category, &voxtral.name)?);
    }
    out.push_str(&table(&store.summaries(&PluginQuery::new())?));
    print(&out)
}

/// Starts `sleep 600` as `spawn` would (detached, its tree recorded) for
/// the plugin.
fn record_child(store: &MetadataStore, category: &str, name: &str) -> CliResult<String> {
    match crate::spawn::spawn_sleep(store, category, name) {
        Ok(pid) => Ok(format!(
            "started `sleep 600` as PID {pid} (like `plugin-metastore spawn`) and recorded it for \
             {category}_{name} beside the seed's made-up PIDs: `plugin-metastore check` tells them \
             apart, `plugin-metastore reap --kill` stops it\n"
        )),
        Err(e) => Ok(format!(
            "(could not start `sleep` to show a live child process: {e})\n"
        )),
    }
}

/// `check [--json]`.
pub(crate) fn check(store: &MetadataStore, json: bool) -> CliResult {
    let checks = store.check_pids()?;
    if json {
        return print(&to_json(&checks)?);
    }
    if checks.is_empty() {
        return print("no stored PIDs\n");
    }
    let mut t = new_table(&["unique id", "PID", "state", "tree", "recorded at", "why"]);
    for c in &checks {
        t.add_row([
            printable(&c.unique_id),
            c.pid.to_string(),
            c.state.to_string(),
            tree(c),
            recorded(c),
            c.detail.clone(),
        ]);
    }
    let mut counts = Vec::new();
    for state in ["alive", "exited", "reused", "unverified"] {
        let n = checks.iter().filter(|c| c.state.as_str() == state).count();
        if n > 0 {
            counts.push(format!("{n} {state}"));
        }
    }
    print(&format!(
        "{t}\n{} stored PID{}: {}\n",
        checks.len(),
        if checks.len() == 1 { "" } else { "s" },
        counts.join(", ")
    ))
}

/// `reap [--dry-run] [--kill] [--grace SECS] [--json]`; fails (after
/// printing) if a process could not be stopped.
pub(crate) fn reap(store: &MetadataStore, args: &ReapArgs) -> CliResult {
    let options = ReapOptions::new()
        .kill(args.kill)
        .grace(args.grace)
        .dry_run(args.dry_run);
    let reaped = store.reap(&options)?;
    if args.json {
        print(&to_json(&reaped)?)?;
    } else {
        print(&reap_table(&reaped, args.dry_run))?;
    }
    let failed = reaped
        .iter()
        .filter(|r| r.action == ReapAction::Failed)
        .count();
    if failed > 0 {
        return Err(Failure(format!(
            "{failed} process{} could not be stopped and stay recorded",
            if failed == 1 { "" } else { "es" }
        )));
    }
    Ok(())
}

/// The `reap` table and its summary line.
fn reap_table(reaped: &[Reaped], dry_run: bool) -> String {
    if reaped.is_empty() {
        return "no stored PIDs\n".to_owned();
    }
    let action = if dry_run { "would be" } else { "action" };
    let mut t = new_table(&["unique id", "PID", "state", action, "why"]);
    for r in reaped {
        let why = r.reason.clone().unwrap_or_else(|| r.check.detail.clone());
        t.add_row([
            printable(&r.check.unique_id),
            r.check.pid.to_string(),
            r.check.state.to_string(),
            r.action.to_string(),
            why,
        ]);
    }
    let counts: Vec<String> = [
        ReapAction::Removed,
        ReapAction::Killed,
        ReapAction::Kept,
        ReapAction::Failed,
    ]
    .iter()
    .map(|a| {
        let n = reaped.iter().filter(|r| r.action == *a).count();
        format!("{n} {a}")
    })
    .collect();
    let note = if dry_run {
        " (dry run: nothing was changed)"
    } else {
        ""
    };
    format!("{t}\n{}{note}\n", counts.join(", "))
}

/// A tree row's counts: `group 3, unproven 1`; `-` for a single process.
fn tree(c: &PidCheck) -> String {
    match c.pgid {
        None => "-".to_owned(),
        Some(_) => format!("group {}, unproven {}", c.group.len(), c.unproven.len()),
    }
}

/// When the PID was recorded, `-` for rows from before identities.
fn recorded(c: &PidCheck) -> String {
    c.recorded_at.clone().unwrap_or_else(|| "-".to_owned())
}

fn new_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}
