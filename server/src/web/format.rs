//! How pages write times and durations.

use time::OffsetDateTime;

/// A time as every page shows it: `2026-11-26 14:03:07 UTC`.
pub fn display_time(t: OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

/// RFC 3339, for `datetime` attributes.
pub fn iso_time(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `1m 05s`, `42s`, `2h 03m`.
pub fn display_duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc_to_the_second() {
        let t = time::macros::datetime!(2026-11-26 14:03:59 +02:00);
        assert_eq!(display_time(t), "2026-11-26 12:03:59 UTC");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(display_duration(7), "7s");
        assert_eq!(display_duration(65), "1m 05s");
        assert_eq!(display_duration(3 * 3600 + 120), "3h 02m");
    }
}
