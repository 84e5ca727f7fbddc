//! Timestamps as the store writes them: RFC 3339, UTC, always six fraction
//! digits and `Z` (`2026-11-25T16:34:45.123456Z`), so text order is time
//! order in SQL as in Rust; and times as people type them
//! ([`parse_time`]).

use chrono::{DateTime, NaiveDate, SecondsFormat, SubsecRound, Utc};

use crate::error::{Error, Result};

/// Formats `t` the way the store writes timestamps.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The current time, formatted by [`timestamp`].
pub(crate) fn now() -> String {
    timestamp(Utc::now())
}

/// The current time as the history triggers stamp it (SQLite's
/// `strftime('%f')` gives milliseconds; they pad them to six digits), and
/// that time plus a second: `(now, horizon)`.
pub(crate) fn now_as_triggers() -> (String, String) {
    let now = Utc::now().trunc_subsecs(3);
    (
        timestamp(now),
        timestamp(now + chrono::Duration::seconds(1)),
    )
}

/// The current time to the microsecond: what the store can write.
pub(crate) fn now_utc() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Serializes a time the way the store writes it (for `serde(serialize_with)`).
pub(crate) fn serialize<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&timestamp(*t))
}

/// [`serialize`] for an optional time (`None` is `null`).
pub(crate) fn serialize_opt<S: serde::Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize(t, s),
        None => s.serialize_none(),
    }
}

/// Reads a time as the CLI takes it: RFC 3339 with any offset
/// (`2026-11-01T08:00:00Z`, `2026-11-01T10:00:00+02:00`), converted to
/// UTC, or a date (`2026-11-01`), meaning UTC midnight at its start.
/// Anything else is an [`Error::InvalidInput`] that names the text.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    let trimmed = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        let t = t.with_timezone(&Utc);
        refuse_leap_second(text, t)?;
        return Ok(t);
    }
    if let Ok(date) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d")
        && let Some(midnight) = date.and_hms_opt(0, 0, 0)
    {
        return Ok(midnight.and_utc());
    }
    Err(Error::invalid(
        "time",
        format!(
            "{text:?} is not a time: use RFC 3339 (2026-11-01T08:00:00Z) \
             or a date (2026-11-01, meaning UTC midnight)"
        ),
    ))
}

/// Refuses a leap second (`23:59:60`): chrono reads it, but the store's
/// timestamps (and SQLite's date functions, and the history's CHECK) have
/// no second 60.
pub(crate) fn refuse_leap_second(text: &str, t: DateTime<Utc>) -> Result<()> {
    use chrono::Timelike;
    if t.nanosecond() >= 1_000_000_000 {
        return Err(Error::invalid(
            "time",
            format!(
                "{text:?} is a leap second (second 60), which the store cannot hold: \
                 use second 59 or the next minute"
            ),
        ));
    }
    Ok(())
}

/// Reads a timestamp in exactly the store's format
/// (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), as microseconds since the Unix epoch;
/// `None` for anything else. Strict and quick: a cost report reads one per
/// history row.
pub(crate) fn parse_stored_micros(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 27 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || b[19] != b'.' || b[26] != b'Z' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(5, 7)?, num(8, 10)?)?;
    // Six digits of microseconds stay below 1,000,000, so no leap second.
    let t = date.and_hms_micro_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 26)?)?;
    Some(t.and_utc().timestamp_micros())
}

/// The time `micros` microseconds after the Unix epoch.
pub(crate) fn from_micros(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_a_fixed_width_so_text_order_is_time_order() {
        let whole = DateTime::parse_from_rfc3339("2026-11-01T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let later = whole + chrono::Duration::microseconds(1);
        assert_eq!(timestamp(whole), "2026-11-01T08:00:00.000000Z");
        assert_eq!(timestamp(later), "2026-11-01T08:00:00.000001Z");
        assert!(timestamp(whole) < timestamp(later));
        let early = parse_time("0001-01-01").unwrap();
        assert_eq!(timestamp(early), "0001-01-01T00:00:00.000000Z");
    }

    #[test]
    fn people_type_rfc_3339_or_a_date() {
        let t = parse_time("2026-11-01T10:00:00+02:00").unwrap();
        assert_eq!(timestamp(t), "2026-11-01T08:00:00.000000Z");
        let t = parse_time("2026-11-01").unwrap();
        assert_eq!(timestamp(t), "2026-11-01T00:00:00.000000Z");
        let t = parse_time("2026-11-01T08:00:00.5Z").unwrap();
        assert_eq!(timestamp(t), "2026-11-01T08:00:00.500000Z");
        for bad in [
            "",
            "yesterday",
            "2026-02-30",
            "2026-11-01T25:00:00Z",
            "1700000000",
        ] {
            let err = parse_time(bad).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidInput { reason, .. } if reason.contains(&format!("{bad:?}"))),
                "{err}"
            );
        }
    }

    #[test]
    fn stored_timestamps_read_back_exactly_and_nothing_else_does() {
        for text in [
            "2026-11-01T08:00:00.000000Z",
            "2024-02-29T23:59:59.999999Z",
            "1969-12-31T23:59:59.999999Z",
            "0001-01-01T00:00:00.000000Z",
        ] {
            let micros = parse_stored_micros(text).unwrap();
            assert_eq!(timestamp(from_micros(micros).unwrap()), text);
        }
        for bad in [
            "2026-11-01T08:00:00Z",
            "2026-11-01T08:00:00.000000+00:00",
            "2026-02-30T08:00:00.000000Z",
            "2026-11-01T24:00:00.000000Z",
            "2026-11-01T08:00:60.000000Z",
            "2026-11-01 08:00:00.000000Z",
            "2026-11-01T08:00:0a.000000Z",
            "+2026-1-01T08:00:00.000000Z",
        ] {
            assert_eq!(parse_stored_micros(bad), None, "{bad}");
        }
    }
}
