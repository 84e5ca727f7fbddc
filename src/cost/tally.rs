//! The one pass of a cost report: fed every history row in
//! `(category, name, at, seq)` order, it adds up each running interval
//! into its group (see the parent module for the rules).

use std::collections::BTreeMap;

use chrono::DateTime;

use super::{BurnRate, CostGroup, CostGrouping, CostReport, Window};
use crate::model::CloudProviderType;

/// Microseconds per hour and per day.
const HOUR_US: f64 = 3_600_000_000.0;
const DAY_US: i64 = 86_400_000_000;

/// Running time of one group, in microseconds, and its known cost.
#[derive(Clone, Copy, Debug, Default)]
struct Acc {
    priced_us: i128,
    unknown_us: i128,
    cost: f64,
}

impl Acc {
    fn add(&mut self, us: i64, rate: Option<f64>) {
        match rate {
            Some(rate) => {
                self.priced_us += i128::from(us);
                // Hours first: rate × microseconds overflows long before
                // the cost does.
                self.cost += rate * (us as f64 / HOUR_US);
            }
            None => self.unknown_us += i128::from(us),
        }
    }

    fn is_empty(&self) -> bool {
        self.priced_us == 0 && self.unknown_us == 0
    }

    fn group(&self, key: String, plugin: Option<(String, String)>) -> CostGroup {
        let hours = |us: i128| us as f64 / HOUR_US;
        let (category, name) = plugin.unzip();
        // Rates from the file can be as large as a float: their sum can
        // overflow, and must not pass for an unknown rate.
        let overflow = !self.cost.is_finite();
        CostGroup {
            key,
            category,
            name,
            running_hours: hours(self.priced_us + self.unknown_us),
            cost_usd: (self.unknown_us == 0 && !overflow).then_some(self.cost),
            unknown_rate_hours: hours(self.unknown_us),
            priced_hours: hours(self.priced_us),
            priced_cost_usd: if overflow { f64::MAX } else { self.cost },
            cost_overflow: overflow,
        }
    }
}

/// The row of the history that opened the current interval.
#[derive(Debug)]
struct Open {
    category: String,
    name: String,
    at: i64,
    running: bool,
    rate: Option<f64>,
    provider: CloudProviderType,
}

/// The one pass: fed every history row before the window's end, in
/// `(category, name, at, seq)` order, it adds up each running interval.
#[derive(Debug)]
pub(crate) struct Tally {
    window: Window,
    by: CostGrouping,
    open: Option<Open>,
    /// The open plugin's hours (grouping by plugin), moved to `plugins`
    /// when the next plugin starts.
    plugin: Acc,
    plugins: Vec<(String, String, Acc)>,
    providers: BTreeMap<&'static str, Acc>,
    days: BTreeMap<i64, Acc>,
    total: Acc,
}

impl Tally {
    pub(crate) fn new(window: Window, by: CostGrouping) -> Self {
        Tally {
            window,
            by,
            open: None,
            plugin: Acc::default(),
            plugins: Vec::new(),
            providers: BTreeMap::new(),
            days: BTreeMap::new(),
            total: Acc::default(),
        }
    }

    /// The next row: the plugin `(category, name)` is, from `at` (µs) on,
    /// running or not, at `rate`, on `provider`.
    pub(crate) fn row(
        &mut self,
        category: &str,
        name: &str,
        at: i64,
        running: bool,
        rate: Option<f64>,
        provider: CloudProviderType,
    ) {
        let same_plugin = self
            .open
            .as_ref()
            .is_some_and(|o| o.category == category && o.name == name);
        if same_plugin {
            self.close(at);
            if let Some(o) = self.open.as_mut() {
                (o.at, o.running, o.rate, o.provider) = (at, running, rate, provider);
            }
        } else {
            self.close(self.window.end_us);
            self.finish_plugin();
            self.open = Some(Open {
                category: category.to_owned(),
                name: name.to_owned(),
                at,
                running,
                rate,
                provider,
            });
        }
    }

    /// Counts the open interval up to `end` (µs), cut to the window.
    fn close(&mut self, end: i64) {
        let Some(o) = &self.open else { return };
        if !o.running {
            return;
        }
        let start = o.at.max(self.window.since_us);
        let end = end.min(self.window.end_us);
        if start >= end {
            return;
        }
        let (rate, provider) = (o.rate, o.provider);
        self.total.add(end - start, rate);
        match self.by {
            CostGrouping::Provider => self
                .providers
                .entry(provider.as_str())
                .or_default()
                .add(end - start, rate),
            CostGrouping::Plugin => self.plugin.add(end - start, rate),
            CostGrouping::Day => {
                let mut from = start;
                while from < end {
                    let day = from.div_euclid(DAY_US);
                    let to = end.min((day + 1) * DAY_US);
                    self.days.entry(day).or_default().add(to - from, rate);
                    from = to;
                }
            }
        }
    }

    /// Files the open plugin's hours (grouping by plugin).
    fn finish_plugin(&mut self) {
        if let Some(o) = &self.open
            && !self.plugin.is_empty()
        {
            let acc = std::mem::take(&mut self.plugin);
            self.plugins.push((o.category.clone(), o.name.clone(), acc));
        }
    }

    /// The report: the last interval closed, the groups in key order.
    pub(crate) fn finish(mut self, burn_rate: BurnRate) -> CostReport {
        self.close(self.window.end_us);
        self.finish_plugin();
        let groups = match self.by {
            CostGrouping::Provider => self
                .providers
                .iter()
                .map(|(p, acc)| acc.group((*p).to_owned(), None))
                .collect(),
            CostGrouping::Plugin => self
                .plugins
                .into_iter()
                .map(|(c, n, acc)| acc.group(format!("{c}_{n}"), Some((c, n))))
                .collect(),
            CostGrouping::Day => self
                .days
                .iter()
                .map(|(&day, acc)| acc.group(day_key(day), None))
                .collect(),
        };
        CostReport {
            since: self.window.since,
            until: self.window.until,
            by: self.by,
            groups,
            total: self.total.group("total".to_owned(), None),
            burn_rate,
            unreadable_rows: Vec::new(),
            future_rows: Vec::new(),
        }
    }
}

/// `YYYY-MM-DD` of the UTC day `day` (days since the Unix epoch).
fn day_key(day: i64) -> String {
    DateTime::from_timestamp(day.saturating_mul(86_400), 0).map_or_else(
        || format!("day {day}"),
        |t| t.format("%Y-%m-%d").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::cost::CostQuery;
    use crate::time::parse_time;

    fn us(t: &str) -> i64 {
        parse_time(t).unwrap().timestamp_micros()
    }

    fn tally(since: Option<&str>, until: &str, by: CostGrouping) -> Tally {
        let mut q = CostQuery::new().until(parse_time(until).unwrap()).by(by);
        if let Some(s) = since {
            q = q.since(parse_time(s).unwrap());
        }
        Tally::new(q.window(parse_time("2100-01-01").unwrap()).unwrap(), by)
    }

    #[test]
    fn a_running_night_splits_at_midnight_and_a_rate_change_starts_a_new_price() {
        let mut t = tally(None, "2026-11-03", CostGrouping::Day);
        let aws = CloudProviderType::Aws;
        // 22:00 → 02:00 at $2, then $3 until 04:00, then stopped.
        t.row("c", "a", us("2026-11-01T22:00:00Z"), true, Some(2.0), aws);
        t.row("c", "a", us("2026-11-02T02:00:00Z"), true, Some(3.0), aws);
        t.row("c", "a", us("2026-11-02T04:00:00Z"), false, Some(3.0), aws);
        let r = t.finish(BurnRate::default());
        let got: Vec<_> = r
            .groups
            .iter()
            .map(|g| (g.key.as_str(), g.running_hours, g.cost_usd))
            .collect();
        assert_eq!(
            got,
            [
                ("2026-11-01", 2.0, Some(4.0)),
                ("2026-11-02", 4.0, Some(2.0 * 2.0 + 2.0 * 3.0))
            ]
        );
        assert_eq!((r.total.running_hours, r.total.cost_usd), (6.0, Some(14.0)));
    }

    #[test]
    fn an_unknown_rate_makes_the_cost_unknown_not_zero() {
        let mut t = tally(
            Some("2026-11-01T01:00:00Z"),
            "2026-11-01T10:00:00Z",
            CostGrouping::Provider,
        );
        t.row(
            "c",
            "a",
            us("2026-11-01T00:00:00Z"),
            true,
            None,
            CloudProviderType::Gcp,
        );
        t.row(
            "c",
            "b",
            us("2026-11-01T08:00:00Z"),
            true,
            Some(1.5),
            CloudProviderType::Aws,
        );
        let r = t.finish(BurnRate::default());
        assert_eq!(r.groups.len(), 2);
        let (aws, gcp) = (&r.groups[0], &r.groups[1]);
        assert_eq!(
            (aws.key.as_str(), aws.running_hours, aws.cost_usd),
            ("aws", 2.0, Some(3.0))
        );
        assert_eq!((gcp.key.as_str(), gcp.running_hours), ("gcp", 9.0));
        assert_eq!((gcp.cost_usd, gcp.unknown_rate_hours), (None, 9.0));
        assert_eq!(r.total.cost_usd, None);
        assert_eq!((r.total.priced_hours, r.total.priced_cost_usd), (2.0, 3.0));
        assert_eq!(r.total.unknown_rate_hours, 9.0);
    }

    #[test]
    fn time_after_now_is_never_counted() {
        let q = CostQuery::new().until(parse_time("2026-11-02").unwrap());
        let w = q
            .window(parse_time("2026-11-01T12:00:00Z").unwrap())
            .unwrap();
        let mut t = Tally::new(w, CostGrouping::Plugin);
        t.row(
            "c",
            "a",
            us("2026-11-01T10:00:00Z"),
            true,
            Some(1.0),
            CloudProviderType::Aws,
        );
        let r = t.finish(BurnRate::default());
        assert_eq!(r.groups[0].key, "c_a");
        assert_eq!(r.groups[0].running_hours, 2.0);
        let err = CostQuery::new()
            .since(parse_time("2026-11-02").unwrap())
            .until(parse_time("2026-11-01").unwrap())
            .window(Utc::now())
            .unwrap_err();
        assert!(
            err.to_string().contains("2026-11-02T00:00:00.000000Z"),
            "{err}"
        );
    }
}
