//! Remote status and cost on the command line: `remote-status [--at]`,
//! `cost` and `history`.

use chrono::{DateTime, Utc};
use clap::Args;
use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use plugin_metastore::{
    CostGroup, CostGrouping, CostQuery, CostReport, Error, MetadataStore, PluginMetadata,
    RecordedStatus,
};

use crate::db::Db;
use crate::failure::{CliResult, Failure, reason};
use crate::output::{print, to_json};
use crate::target::{Target, find_key, not_found};
use crate::text::printable;

/// The arguments of `remote-status`.
#[derive(Debug, Args)]
#[command(after_help = "\
Only exactly \"running\" counts as active (and is billed). Every change is
kept in the plugin's history (see `history`). With --at, the transition is
recorded when it happened: if that is before the newest entry of the
history, it is inserted in its place and the current status stays as it is.

Examples:
  plugin-metastore remote-status finetuning_llm_finetune_aws stopped
  plugin-metastore remote-status finetuning_llm_finetune_aws stopped --at 2026-11-01T08:00:00Z")]
pub(crate) struct RemoteStatusArgs {
    #[command(flatten)]
    target: Target,
    /// The new status (free text: provisioning, running, stopping, stopped, ...)
    status: String,
    /// When it happened: RFC 3339 (2026-11-01T08:00:00Z) or a date (UTC
    /// midnight) [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    at: Option<DateTime<Utc>>,
}

impl RemoteStatusArgs {
    /// `remote-status ID STATUS [--at TIME]`: says whether the status changed,
    /// was already so, or went into the past of the history.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let store = db.open_existing()?;
        let (status, at) = (self.status.as_str(), self.at);
        let p = find_key(&store, &self.target)?;
        let (c, n, id) = (&p.category, &p.name, p.unique_id());
        let outcome = match at {
            Some(at) => store.set_remote_status_at(c, n, status, at)?,
            None => store.set_remote_status(c, n, status)?,
        };
        let when = at.map(|t| format!(" at {}", stamp(t))).unwrap_or_default();
        let status = printable(&format!("{status:?}"));
        let line = match outcome {
            RecordedStatus::Current => format!("remote status of {id} set to {status}{when}"),
            RecordedStatus::Unchanged => {
                format!("remote status of {id} already {status}{when}; nothing recorded")
            }
            RecordedStatus::Backdated {
                current_status,
                newest_at,
            } => format!(
                "recorded {status}{when} in the history of {id}; its current status stays {} \
                 (set at {}, later)",
                printable(&format!("{current_status:?}")),
                stamp(newest_at)
            ),
            other => format!("remote status of {id}: {other:?}"),
        };
        print(&format!("{line}\n"))
    }
}

/// The flags of `cost`.
#[derive(Debug, Args)]
#[command(after_help = "\
Billed time is time in status exactly \"running\", at the hourly rate in force
then; hours at an unknown rate make the cost unknown, never $0. Deleted
plugins count. TIME is RFC 3339 (2026-11-01T08:00:00Z) or a date (UTC
midnight). The table ends with the totals and the burn rate now; by day, each
day's cost is also a bar scaled to the largest day. --json prints the groups
as an array; --json --totals one object {groups, total, burn_rate, window}.

Examples:
  plugin-metastore cost
  plugin-metastore cost --since 2026-11-01 --by day
  plugin-metastore cost --since 2026-11-01 --until 2026-12-01 --by plugin --json
  plugin-metastore cost --since 2026-11-01 --json --totals")]
pub(crate) struct CostArgs {
    /// Count from TIME on [default: the start of the history]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    since: Option<DateTime<Utc>>,
    /// Count up to TIME (excluded) [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    until: Option<DateTime<Utc>>,
    /// Group by provider, plugin (unique id) or day (UTC)
    #[arg(long, value_name = "GROUPING", default_value = "provider", value_parser = parse_grouping)]
    by: CostGrouping,
    /// Print a JSON array, one object per group
    #[arg(long)]
    json: bool,
    /// With --json: print one object {groups, total, burn_rate, window} instead
    #[arg(long, requires = "json")]
    totals: bool,
}

impl CostArgs {
    /// `cost`: the table (groups, totals, burn rate; by day a bar per day),
    /// the JSON array of groups, or with `--totals` one JSON object.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let report = db.open_existing()?.cost_report(&self.query())?;
        warn_rows(&report.unreadable_rows, &report.future_rows);
        if self.json && self.totals {
            // `{groups, total, burn_rate, window}`: the library's form of the
            // report, so a script needs no sums of its own.
            return print(&to_json(&report)?);
        }
        if self.json {
            return print(&to_json(&report.groups)?);
        }
        print(&cost_table(&report))
    }

    /// The library query these flags mean.
    fn query(&self) -> CostQuery {
        let mut q = CostQuery::new().by(self.by);
        if let Some(t) = self.since {
            q = q.since(t);
        }
        if let Some(t) = self.until {
            q = q.until(t);
        }
        q
    }
}

/// Parses a TIME with the library's [`plugin_metastore::parse_time`].
fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    plugin_metastore::parse_time(s).map_err(|e| reason(&e))
}

/// Parses `--by` with the library's `FromStr`.
fn parse_grouping(s: &str) -> Result<CostGrouping, String> {
    s.parse().map_err(|e| reason(&e))
}

/// The widest bar of `cost --by day`, in characters.
const BAR_WIDTH: usize = 24;

/// `value` as a bar of unicode blocks, `max` being [`BAR_WIDTH`]
/// characters, to the eighth of a character; any value above 0 shows at
/// least one eighth.
fn bar(value: f64, max: f64) -> String {
    const EIGHTHS: [char; 7] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    if !(value > 0.0 && max > 0.0) {
        return String::new();
    }
    let eighths = ((value / max).min(1.0) * (BAR_WIDTH * 8) as f64).round() as usize;
    let eighths = eighths.max(1);
    let mut s = "█".repeat(eighths / 8);
    match eighths % 8 {
        0 => {}
        rest => s.push(EIGHTHS[rest - 1]),
    }
    s
}

/// The `cost` table and the lines under it.
fn cost_table(r: &CostReport) -> String {
    let mut out = String::new();
    if r.groups.is_empty() {
        out.push_str("no running hours in this window\n");
    } else {
        let mut t = Table::new();
        let by_day = r.by == CostGrouping::Day;
        let mut header = vec![grouping_title(r.by), "running h", "cost", "unknown-rate h"];
        if by_day {
            header.push("cost bar");
        }
        t.load_preset(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(header);
        // The bars show the known cost (all of it, unless some hours of the
        // day had no known rate).
        let largest = r
            .groups
            .iter()
            .map(|g| g.priced_cost_usd)
            .fold(0.0, f64::max);
        for g in &r.groups {
            let mut row = vec![
                group_label(g, &r.groups),
                hours(g.running_hours),
                match g.cost_usd {
                    Some(d) => dollars(d),
                    None if g.cost_overflow => "too large".to_owned(),
                    None => "unknown".to_owned(),
                },
                or_dash(g.unknown_rate_hours),
            ];
            if by_day {
                row.push(bar(g.priced_cost_usd, largest));
            }
            t.add_row(row);
        }
        for column in 1..4 {
            if let Some(c) = t.column_mut(column) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        out.push_str(&format!("{t}\n"));
    }
    out.push_str(&total_line(&r.total));
    let b = &r.burn_rate;
    let unpriced = match b.unpriced_running {
        0 => String::new(),
        n => format!(" + {n} at an unknown rate"),
    };
    out.push_str(&format!(
        "burn rate now: {}/h{unpriced} ({} running)\n",
        dollars(b.priced_usd_per_hour),
        b.running
    ));
    let since = r
        .since
        .map_or_else(|| "the start of the history".to_owned(), stamp);
    let future = if r.until > Utc::now() {
        " (counted up to now)"
    } else {
        ""
    };
    out.push_str(&format!("window: {since} to {}{future}\n", stamp(r.until)));
    out
}

/// "total: …": the priced hours and their cost, and the unpriced hours.
fn total_line(t: &CostGroup) -> String {
    let mut line = format!(
        "total: {} running hours at a known rate, {}",
        hours(t.priced_hours),
        dollars(t.priced_cost_usd)
    );
    if t.cost_overflow {
        line = format!(
            "total: {} running hours at a known rate, a cost too large for a number \
             (a rate near 1.8e308 in the file?)",
            hours(t.priced_hours)
        );
    }
    if t.unknown_rate_hours > 0.0 {
        line.push_str(&format!(
            "; {} running hours at an unknown rate (cost unknown)",
            hours(t.unknown_rate_hours)
        ));
    }
    line.push('\n');
    line
}

/// The arguments of `history`.
#[derive(Debug, Args)]
#[command(after_help = "\
Each entry says: from then on, the resource was in this status at this
hourly rate. Deleted plugins keep their history.

Examples:
  plugin-metastore history finetuning_llm_finetune_aws
  plugin-metastore history finetuning_llm_finetune_aws --json")]
pub(crate) struct HistoryArgs {
    #[command(flatten)]
    target: Target,
    /// Print a JSON array, one object per entry
    #[arg(long)]
    json: bool,
}

impl HistoryArgs {
    /// `history ID [--json]`: the plugin's timeline, oldest first. The plugin
    /// may be deleted: its history is still there.
    pub(crate) fn run(&self, db: &Db) -> CliResult {
        let store = db.open_existing()?;
        let (category, name) = history_key(&store, &self.target)?;
        let (entries, bad) = store.remote_history_readable(&category, &name)?;
        let bad: Vec<String> = bad.iter().map(ToString::to_string).collect();
        let now = Utc::now();
        let future: Vec<String> = entries
            .iter()
            .filter(|e| e.at > now + chrono::Duration::seconds(1))
            .map(|e| format!("the history row at {} is dated in the future", stamp(e.at)))
            .collect();
        warn_rows(&bad, &future);
        if self.json {
            return print(&to_json(&entries)?);
        }
        let id = printable(&format!("{category}_{name}"));
        if entries.is_empty() {
            return print(&format!("{id} has no remote status history\n"));
        }
        let mut t = Table::new();
        t.load_preset(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header([
                "at (UTC)", "status", "provider", "instance", "cost/h", "hours",
            ]);
        for (i, e) in entries.iter().enumerate() {
            let next = entries.get(i + 1).map(|n| n.at);
            let span = (next.unwrap_or(now) - e.at).num_microseconds().unwrap_or(0) as f64 / 3.6e9;
            let span = match (e.status.as_str(), next) {
                ("removed", None) => "-".to_owned(),
                (_, None) => format!("{} so far", hours(span.max(0.0))),
                _ => hours(span),
            };
            t.add_row([
                stamp(e.at),
                printable(&e.status),
                e.provider.to_string(),
                e.instance_id
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), printable),
                e.cost_per_hour
                    .map_or_else(|| "unknown".to_owned(), dollars),
                span,
            ]);
        }
        let s = if entries.len() == 1 { "y" } else { "ies" };
        print(&format!("{id}\n{t}\n{} entr{s}\n", entries.len()))
    }
}

/// The `(category, name)` that `target` names: a stored plugin, or one
/// that is gone but has a history. Ambiguous ids list the candidates.
fn history_key(store: &MetadataStore, target: &Target) -> CliResult<(String, String)> {
    let id = target.id.as_str();
    let splits: Vec<(&str, &str)> = match &target.category {
        Some(c) => id
            .strip_prefix(c.as_str())
            .and_then(|rest| rest.strip_prefix('_'))
            .map(|n| vec![(c.as_str(), n)])
            .unwrap_or_default(),
        None => PluginMetadata::unique_id_splits(id).collect(),
    };
    let mut found = Vec::new();
    for (c, n) in splits {
        let (rows, bad) = store.remote_history_readable(c, n)?;
        // A plugin with a bad value forced in by hand still exists.
        let stored = match store.get(c, n) {
            Ok(p) => p.is_some(),
            Err(Error::BadData { .. }) => true,
            Err(e) => return Err(e.into()),
        };
        if stored || !rows.is_empty() || !bad.is_empty() {
            found.push((c.to_owned(), n.to_owned()));
        }
    }
    match found.len() {
        0 => Err(not_found(id)),
        1 => Ok(found.remove(0)),
        _ => Err(Failure(format!(
            "{}; pick one with --category CATEGORY",
            Error::AmbiguousId {
                id: id.to_owned(),
                candidates: found,
            }
        ))),
    }
}

/// Names on stderr each history row left out (unreadable) or dated in
/// the future, with how to remove it.
fn warn_rows(unreadable: &[String], future: &[String]) {
    for row in unreadable {
        crate::failure::warn(&format!(
            "left out a history row that cannot be read: {}",
            printable(row)
        ));
    }
    for row in future {
        crate::failure::warn(&printable(row));
    }
    if !unreadable.is_empty() || !future.is_empty() {
        crate::failure::warn(
            "to remove such a row: sqlite3 STORE \"DELETE FROM remote_status_history WHERE \
             category = '…' AND name = '…' AND at = '…'\" (see the README)",
        );
    }
}

/// A group's key as the table shows it: a plugin whose unique id another
/// plugin shares (`a_b` + `c` and `a` + `b_c`) also names its category.
fn group_label(g: &CostGroup, all: &[CostGroup]) -> String {
    match &g.category {
        Some(category) if all.iter().filter(|o| o.key == g.key).count() > 1 => {
            printable(&format!("{} (category {category:?})", g.key))
        }
        _ => printable(&g.key),
    }
}

/// The column title of the groups.
fn grouping_title(by: CostGrouping) -> &'static str {
    match by {
        CostGrouping::Plugin => "plugin",
        CostGrouping::Day => "day (UTC)",
        _ => "provider",
    }
}

/// A time as the store writes it (`2026-11-01T08:00:00.000000Z`), so it
/// reads the same as in sqlite3.
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Hours with two decimals.
fn hours(h: f64) -> String {
    format!("{h:.2}")
}

/// `-` for no hours, else the hours.
fn or_dash(h: f64) -> String {
    if h > 0.0 { hours(h) } else { "-".to_owned() }
}

/// Dollars with cents.
fn dollars(d: f64) -> String {
    format!("${d:.2}")
}
