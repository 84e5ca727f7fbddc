//! Where `save_all`'s time goes: `--breakdown` saves the data set with
//! hand-written rusqlite on a ladder of files, each with one piece of
//! Part 2's bookkeeping fewer than the one before, down to the floor
//! (Part 1's save on Part 1's schema), and then the store itself. Each
//! step is the median of [`REPS`] runs, the steps alternating inside each
//! repetition so machine drift hits them all. The difference between two
//! neighbouring steps is what the piece costs.
//!
//! The ladder, top to bottom:
//! - `store`: [`MetadataStore::save_all`] on a new store.
//! - `triggers`: Part 2's first way, by hand: the file's triggers on,
//!   writing the history (and testing `writing_txn` for the change log)
//!   per row. Not a step down: what the library's own rows replace.
//! - `baseline`: the bench's baseline, the same work as the store by hand
//!   (`raw.rs`): triggers off, the history rows and the change log's rows
//!   written by the save, the process identity of each new PID.
//! - `no_change_log`: without the change log's rows.
//! - `no_history`: also without the history's rows.
//! - `no_identity`: also without reading `/proc` for each new PID: Part
//!   1's work on Part 2's schema (its columns, indexes and CHECKs).
//! - `floor`: Part 1's save on Part 1's schema (migrations V1 and V2, as
//!   they landed, with V1's `IN (…)` CHECKs).
//! - `floor_or_checks`: the floor with those CHECKs written as `OR`s (as
//!   migration V9 writes them), to see what the `IN` lists cost.

use std::path::Path;

use plugin_metastore::{MetadataStore, PluginMetadata};

use crate::raw::{PART1_SCHEMA, RawStore};
use crate::{R, median, remove_db, timed};

/// The step the others are compared with.
const FLOOR: usize = 6;

/// Repetitions of each step.
const REPS: usize = 5;

/// The steps, in ladder order.
const STEPS: [&str; 8] = [
    "store",
    "triggers",
    "baseline",
    "no_change_log",
    "no_history",
    "no_identity",
    "floor",
    "floor_or_checks",
];

/// One JSON line per step: `{"bench":"save_all_breakdown","step":…,"ms":…,
/// "pct_of_floor":…}`.
pub fn run(dir: &Path, plugins: &[PluginMetadata]) -> R<Vec<String>> {
    let or_schema = or_checks(PART1_SCHEMA)?;
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); STEPS.len()];
    for rep in 0..REPS {
        for step in 0..STEPS.len() {
            // Alternate the direction, so no step always runs first.
            let step = if rep % 2 == 0 {
                step
            } else {
                STEPS.len() - 1 - step
            };
            let path = dir.join(format!("breakdown-{step}-{rep}.db"));
            let ms = save_once(&path, step, plugins, &or_schema)?;
            remove_db(&path);
            times[step].push(ms);
        }
        eprintln!("bench: breakdown repetition {} of {REPS}", rep + 1);
    }
    let medians: Vec<f64> = times.into_iter().map(median).collect();
    let floor = medians[FLOOR];
    Ok(STEPS
        .iter()
        .zip(&medians)
        .map(|(step, ms)| {
            format!(
                "{{\"bench\":\"save_all_breakdown\",\"n\":{},\"step\":\"{step}\",\
                 \"ms\":{ms:.1},\"pct_of_floor\":{:.0}}}",
                plugins.len(),
                100.0 * ms / floor
            )
        })
        .collect())
}

/// One `save_all` of `plugins` into a new file at `path` as step `step`
/// does it; the time of the save alone.
fn save_once(path: &Path, step: usize, plugins: &[PluginMetadata], or_schema: &str) -> R<f64> {
    if step == 0 {
        let store = MetadataStore::open(path)?;
        return Ok(timed(|| Ok(store.save_all(plugins)?), |()| 0)?.ms);
    }
    let raw = match step {
        1 => RawStore::create(path)?.with_triggers()?,
        2 => RawStore::create(path)?,
        3 => RawStore::create(path)?.without_change_log(),
        4 => RawStore::create(path)?
            .without_change_log()
            .without_history(),
        5 => RawStore::create(path)?
            .without_change_log()
            .without_history()
            .without_identity(),
        FLOOR => RawStore::floor(path)?,
        _ => RawStore::part1(path, or_schema)?,
    };
    Ok(timed(|| raw.save_all(plugins), |()| 0)?.ms)
}

/// `schema` with every `column IN (a, b, …)` written as
/// `(column = a OR column = b OR …)`: the same meaning, without the
/// temporary index SQLite builds for an `IN` list each time it checks one.
fn or_checks(schema: &str) -> R<String> {
    let mut out = String::new();
    let mut rest = schema;
    while let Some(at) = rest.find(" IN (") {
        let before = &rest[..at];
        let column_start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .map_or(0, |i| i + 1);
        let column = &before[column_start..];
        let list_start = at + " IN (".len();
        let list_len = rest[list_start..]
            .find(')')
            .ok_or("an IN list without its ')'")?;
        let items: Vec<String> = rest[list_start..list_start + list_len]
            .split(',')
            .map(|item| format!("{column} = {}", item.trim()))
            .collect();
        out.push_str(&before[..column_start]);
        out.push('(');
        out.push_str(&items.join(" OR "));
        out.push(')');
        rest = &rest[list_start + list_len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
