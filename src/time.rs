//! Timestamps as the store writes them: RFC 3339, UTC, always six fraction
//! digits and `Z` (`2026-11-25T16:34:45.123456Z`), so text order is time
//! order in SQL as in Rust.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats `t` the way the store writes timestamps.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The current time, formatted by [`timestamp`].
pub(crate) fn now() -> String {
    timestamp(Utc::now())
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
    }
}
