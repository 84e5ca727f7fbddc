//! What remote resources have cost: [`CostQuery`] (the window and the
//! grouping), [`CostReport`] (the answer), and the one pass over the status
//! history that computes it (`tally.rs`; no SQL here, the store feeds the
//! rows).
//!
//! How hours and dollars are counted is on [`CostReport`], where users of
//! the library see it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::CloudProviderType;
use crate::model::string_enum;
use crate::time;

mod tally;

pub(crate) use tally::Tally;

string_enum! {
    /// How a [`CostReport`] groups its hours (`provider`, `plugin` or
    /// `day`, as `--by` takes them).
    #[derive(Default)]
    #[non_exhaustive]
    CostGrouping, "by" {
        /// By cloud provider (the provider of the row that starts an
        /// interval); the key is the provider's text (`aws`). The default.
        #[default]
        Provider => "provider",
        /// By plugin; the key is the unique id `category_name`, and the
        /// group also names the category and name (unique ids can be
        /// ambiguous).
        Plugin => "plugin",
        /// By UTC day; the key is the date `YYYY-MM-DD`.
        Day => "day",
    }
}

/// What [`MetadataStore::cost_report`](crate::MetadataStore::cost_report)
/// covers: the window `[since, until)` and the grouping.
///
/// ```
/// use plugin_metastore::{CostGrouping, CostQuery, parse_time};
/// let q = CostQuery::new()
///     .since(parse_time("2026-11-01")?)
///     .by(CostGrouping::Day);
/// # let _ = q;
/// # Ok::<(), plugin_metastore::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CostQuery {
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    by: CostGrouping,
}

impl CostQuery {
    /// The whole history, up to now, by provider.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts from `t` on (default: the start of the history).
    pub fn since(mut self, t: DateTime<Utc>) -> Self {
        self.since = Some(t);
        self
    }

    /// Counts up to `t`, excluded (default: now; time after now is never
    /// counted).
    pub fn until(mut self, t: DateTime<Utc>) -> Self {
        self.until = Some(t);
        self
    }

    /// Groups by `by` (default: [`CostGrouping::Provider`]).
    pub fn by(mut self, by: CostGrouping) -> Self {
        self.by = by;
        self
    }

    /// The grouping asked for.
    pub fn grouping(&self) -> CostGrouping {
        self.by
    }

    /// The window at `now`, in microseconds: `(since, until, end)` where
    /// `end` = min(until, now) is where counting stops. Refuses a window
    /// that does not start before it ends.
    pub(crate) fn window(&self, now: DateTime<Utc>) -> Result<Window> {
        let until = self.until.unwrap_or(now);
        if let Some(since) = self.since
            && since >= until
        {
            return Err(Error::invalid(
                "since",
                format!(
                    "{} is not before until ({})",
                    crate::time::timestamp(since),
                    crate::time::timestamp(until)
                ),
            ));
        }
        Ok(Window {
            since: self.since,
            until,
            since_us: self.since.map_or(i64::MIN, |t| t.timestamp_micros()),
            end_us: until.min(now).timestamp_micros(),
        })
    }
}

/// A report's window, resolved at one instant.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub(crate) since: Option<DateTime<Utc>>,
    pub(crate) until: DateTime<Utc>,
    pub(crate) since_us: i64,
    /// min(until, now): rows at or after it cannot count.
    pub(crate) end_us: i64,
}

/// Hours and dollars of one group (or of the whole report).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CostGroup {
    /// The provider (`aws`), the unique id (`finetuning_llm_finetune_aws`),
    /// the date (`2026-11-01`), or `total`.
    pub key: String,
    /// The plugin's category, when grouped by plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The plugin's name, when grouped by plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Hours in status `running`.
    pub running_hours: f64,
    /// What they cost; `None` when some of them had no known rate.
    pub cost_usd: Option<f64>,
    /// Running hours without a known rate.
    pub unknown_rate_hours: f64,
    /// Running hours with a known rate.
    pub priced_hours: f64,
    /// What the priced hours cost (a lower bound of the cost when
    /// `unknown_rate_hours` > 0); the largest finite number when
    /// `cost_overflow`.
    pub priced_cost_usd: f64,
    /// The cost is larger than the largest number (rates near 1.8e308
    /// forced into the file): `cost_usd` is then `None` although every
    /// rate is known, and `priced_cost_usd` is the largest finite number.
    pub cost_overflow: bool,
}

/// What is costing money right now: the remote resources whose status is
/// exactly `running`.
///
/// Serializes as `{running, usd_per_hour, priced_usd_per_hour,
/// unpriced_running}` (`usd_per_hour`: [`usd_per_hour`](Self::usd_per_hour),
/// null when a rate is unknown), as the CLI's `cost --json --totals`.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct BurnRate {
    /// How many are running.
    pub running: u64,
    /// The sum of their known hourly rates.
    pub priced_usd_per_hour: f64,
    /// How many of them have no known rate.
    pub unpriced_running: u64,
}

impl Serialize for BurnRate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("BurnRate", 4)?;
        out.serialize_field("running", &self.running)?;
        out.serialize_field("usd_per_hour", &self.usd_per_hour())?;
        out.serialize_field("priced_usd_per_hour", &self.priced_usd_per_hour)?;
        out.serialize_field("unpriced_running", &self.unpriced_running)?;
        out.end()
    }
}

impl BurnRate {
    /// Dollars per hour of everything running, `None` if some rate is
    /// unknown.
    pub fn usd_per_hour(&self) -> Option<f64> {
        (self.unpriced_running == 0).then_some(self.priced_usd_per_hour)
    }
}

/// The answer of [`MetadataStore::cost_report`](crate::MetadataStore::cost_report).
///
/// # How hours and dollars are counted
///
/// The history (`remote_status_history`) holds, for each plugin, rows
/// saying "from `at` on, the resource is in `status` at `cost_per_hour`".
/// An interval runs from one row to the next row of the same plugin, or,
/// for the newest row, to the end of the window. Only time in status
/// exactly `running` is billed (`"Running"` is not: the Python meaning);
/// its cost is hours × the rate of the row that starts it. A row with no
/// rate makes its hours *unpriced*: they are counted in
/// `unknown_rate_hours` and make the group's `cost_usd` unknown (`None`),
/// never $0. A cost too large for a number (`cost_overflow`) is `None`
/// too, and says so: it never passes for an unknown rate. Intervals are cut to the window `[since, until)`; time after
/// now is never counted (nothing is invented for the future). Grouping by
/// day cuts intervals at UTC midnight.
///
/// Serializes as the CLI's `cost --json --totals` prints it: `{groups,
/// total, burn_rate, window: {since, until, by}, unreadable_rows,
/// future_rows}`, times as the store
/// writes them (`since` null for the start of the history).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CostReport {
    /// The window's start (`None`: the start of the history).
    pub since: Option<DateTime<Utc>>,
    /// The window's end as asked (counting stops at now if that is
    /// earlier).
    pub until: DateTime<Utc>,
    /// The grouping.
    pub by: CostGrouping,
    /// One group per key with running hours, in key order (providers and
    /// dates alphabetically, plugins by `(category, name)`).
    pub groups: Vec<CostGroup>,
    /// All groups together (key `total`).
    pub total: CostGroup,
    /// The burn rate now (whatever the window).
    pub burn_rate: BurnRate,
    /// History rows that could not be read (a value forced into the file
    /// by hand), left out of the counts: one line each naming the row.
    /// The rest of the history is counted as if the row were not there.
    pub unreadable_rows: Vec<String>,
    /// History rows dated after now (written while the clock was ahead),
    /// not counted: one line each naming the row. Delete them in sqlite3
    /// (see the README) when the clock was wrong.
    pub future_rows: Vec<String>,
}

impl Serialize for CostReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        /// The window, as `{since, until, by}`.
        #[derive(Serialize)]
        struct Window<'a> {
            #[serde(serialize_with = "time::serialize_opt")]
            since: Option<DateTime<Utc>>,
            #[serde(serialize_with = "time::serialize")]
            until: DateTime<Utc>,
            by: &'a str,
        }
        let mut out = s.serialize_struct("CostReport", 6)?;
        out.serialize_field("groups", &self.groups)?;
        out.serialize_field("total", &self.total)?;
        out.serialize_field("burn_rate", &self.burn_rate)?;
        out.serialize_field(
            "window",
            &Window {
                since: self.since,
                until: self.until,
                by: self.by.as_str(),
            },
        )?;
        out.serialize_field("unreadable_rows", &self.unreadable_rows)?;
        out.serialize_field("future_rows", &self.future_rows)?;
        out.end()
    }
}

/// One row of a plugin's remote status history: from `at` on, its remote
/// resource is in `status` at `cost_per_hour`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RemoteStatusEntry {
    /// The plugin's category (kept after the plugin is deleted).
    pub category: String,
    /// The plugin's name.
    pub name: String,
    /// From when the row holds (serialized as the store writes it,
    /// `2026-11-01T08:00:00.000000Z`).
    #[serde(serialize_with = "time::serialize")]
    pub at: DateTime<Utc>,
    /// The resource's provider.
    pub provider: CloudProviderType,
    /// The resource's instance id.
    pub instance_id: Option<String>,
    /// Its status (`removed` once the resource or the plugin went away).
    pub status: String,
    /// Its hourly rate in dollars (`None`: unknown).
    pub cost_per_hour: Option<f64>,
}
