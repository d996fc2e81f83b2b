//! The calendar's rules, one table per rule; instants are written in UTC.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::*;

fn at(rfc3339: &str) -> OffsetDateTime {
    OffsetDateTime::parse(rfc3339, &Rfc3339).expect("a test instant")
}

fn tz(name: &str) -> TimeZone {
    zone(name).expect("a zone the bundled database knows")
}

fn once(id: i64, from: &str, to: &str, zone: &str) -> Window {
    let zone = tz(zone);
    let instant =
        |s: &str| local_instant(&zone, parse_local(s).expect("a local time")).expect("an instant");
    Window {
        id,
        schedule: Schedule::Once {
            starts_at: instant(from),
            ends_at: instant(to),
        },
        zone,
    }
}

/// `weekly(1, "fri 16:00", "mon 08:00", zone)`.
fn weekly(id: i64, from: &str, to: &str, zone: &str) -> Window {
    let split = |s: &str| {
        let (day, time) = s.split_once(' ').expect("`day HH:MM`");
        (
            parse_weekday(day).expect("a weekday"),
            parse_hhmm(time).expect("a time"),
        )
    };
    let ((start_day, start), (end_day, end)) = (split(from), split(to));
    Window {
        id,
        schedule: Schedule::Recurring {
            days: Days::Weekly {
                start: start_day,
                end: end_day,
            },
            start,
            end,
        },
        zone: tz(zone),
    }
}

fn daily(id: i64, from: &str, to: &str, zone: &str) -> Window {
    Window {
        id,
        schedule: Schedule::Recurring {
            days: Days::Every,
            start: parse_hhmm(from).expect("a time"),
            end: parse_hhmm(to).expect("a time"),
        },
        zone: tz(zone),
    }
}

/// Each `(now, expected)`: `None` when not frozen, else `(window id, ends_at)`.
fn check(windows: &[Window], table: &[(&str, Option<(i64, &str)>)]) {
    for (now, expected) in table {
        let got = active(windows, at(now)).map(|a| (a.window_id, a.ends_at));
        let expected = expected.map(|(id, end)| (id, at(end)));
        assert_eq!(got, expected, "at {now}");
        assert_eq!(
            next_freeze_end(windows, at(now)),
            expected.map(|(_, end)| end),
            "next_freeze_end at {now}"
        );
    }
}

#[test]
fn a_one_off_window_covers_its_start_but_not_its_end() {
    // Europe/Berlin is UTC+1 in December.
    let w = [once(
        1,
        "2026-12-24T00:00",
        "2026-12-27T08:00",
        "Europe/Berlin",
    )];
    check(
        &w,
        &[
            ("2026-12-23T22:59:59Z", None),
            ("2026-12-23T23:00:00Z", Some((1, "2026-12-27T07:00:00Z"))),
            ("2026-12-25T12:00:00Z", Some((1, "2026-12-27T07:00:00Z"))),
            ("2026-12-27T06:59:59Z", Some((1, "2026-12-27T07:00:00Z"))),
            ("2026-12-27T07:00:00Z", None),
            ("2027-01-02T12:00:00Z", None),
        ],
    );
}

#[test]
fn a_weekly_window_spans_the_weekend_in_its_zone() {
    // America/New_York is UTC-5 in December; 2026-12-04 is a Friday.
    let w = [weekly(1, "fri 16:00", "mon 08:00", "America/New_York")];
    check(
        &w,
        &[
            ("2026-12-02T12:00:00Z", None),
            ("2026-12-04T20:59:00Z", None),
            ("2026-12-04T21:00:00Z", Some((1, "2026-12-07T13:00:00Z"))),
            ("2026-12-06T03:00:00Z", Some((1, "2026-12-07T13:00:00Z"))),
            ("2026-12-07T12:59:00Z", Some((1, "2026-12-07T13:00:00Z"))),
            ("2026-12-07T13:00:00Z", None),
            // Every week, also far from the window's creation.
            ("2027-02-13T12:00:00Z", Some((1, "2027-02-15T13:00:00Z"))),
        ],
    );
}

#[test]
fn a_weekly_window_on_one_weekday_ends_the_same_day_or_a_week_later() {
    let same_day = [weekly(1, "fri 08:00", "fri 16:00", "UTC")];
    check(
        &same_day,
        &[
            ("2026-12-04T07:59:00Z", None),
            ("2026-12-04T12:00:00Z", Some((1, "2026-12-04T16:00:00Z"))),
            ("2026-12-05T12:00:00Z", None),
        ],
    );
    let almost_a_week = [weekly(1, "fri 16:00", "fri 08:00", "UTC")];
    check(
        &almost_a_week,
        &[
            ("2026-12-04T12:00:00Z", None),
            ("2026-12-09T12:00:00Z", Some((1, "2026-12-11T08:00:00Z"))),
            ("2026-12-11T12:00:00Z", None),
        ],
    );
}

#[test]
fn a_daily_window_runs_overnight() {
    let w = [daily(1, "22:00", "06:00", "UTC")];
    check(
        &w,
        &[
            ("2026-12-02T21:59:00Z", None),
            ("2026-12-02T22:00:00Z", Some((1, "2026-12-03T06:00:00Z"))),
            ("2026-12-03T05:59:00Z", Some((1, "2026-12-03T06:00:00Z"))),
            ("2026-12-03T06:00:00Z", None),
            ("2026-12-03T12:00:00Z", None),
        ],
    );
    let daytime = [daily(1, "09:00", "17:30", "UTC")];
    check(
        &daytime,
        &[
            ("2026-12-03T08:00:00Z", None),
            ("2026-12-03T17:00:00Z", Some((1, "2026-12-03T17:30:00Z"))),
        ],
    );
}

#[test]
fn touching_or_overlapping_windows_freeze_until_the_end_of_the_whole_stretch() {
    // A weekend freeze that chains into a one-off Monday-to-Tuesday freeze.
    let chained = [
        weekly(1, "fri 16:00", "mon 08:00", "America/New_York"),
        once(
            2,
            "2026-12-07T08:00",
            "2026-12-08T12:00",
            "America/New_York",
        ),
    ];
    check(
        &chained,
        &[
            ("2026-12-05T12:00:00Z", Some((1, "2026-12-08T17:00:00Z"))),
            ("2026-12-07T14:00:00Z", Some((2, "2026-12-08T17:00:00Z"))),
            // The next weekend stands alone.
            ("2026-12-12T12:00:00Z", Some((1, "2026-12-14T13:00:00Z"))),
        ],
    );
    // Consecutive days, written as two windows.
    let weekend = [
        weekly(1, "sat 00:00", "sun 00:00", "UTC"),
        weekly(2, "sun 00:00", "mon 00:00", "UTC"),
    ];
    check(
        &weekend,
        &[("2026-12-05T12:00:00Z", Some((1, "2026-12-07T00:00:00Z")))],
    );
    // Nights and mornings touch every day, but not the afternoon.
    let nights = [
        daily(1, "22:00", "06:00", "UTC"),
        daily(2, "06:00", "09:00", "UTC"),
    ];
    check(
        &nights,
        &[
            ("2026-12-02T23:00:00Z", Some((1, "2026-12-03T09:00:00Z"))),
            ("2026-12-03T07:00:00Z", Some((2, "2026-12-03T09:00:00Z"))),
        ],
    );
    // A minute apart is a gap: deploys may run in it.
    let gap = [
        daily(1, "22:00", "06:00", "UTC"),
        daily(2, "06:01", "09:00", "UTC"),
    ];
    check(
        &gap,
        &[("2026-12-02T23:00:00Z", Some((1, "2026-12-03T06:00:00Z")))],
    );
}

#[test]
fn of_windows_covering_now_the_one_ending_last_is_reported() {
    let w = [
        daily(1, "20:00", "23:00", "UTC"),
        once(2, "2026-12-02T21:00", "2026-12-02T22:00", "UTC"),
        daily(3, "21:30", "23:30", "UTC"),
    ];
    check(
        &w,
        &[("2026-12-02T21:45:00Z", Some((3, "2026-12-02T23:30:00Z")))],
    );
}

#[test]
fn a_stretch_without_end_is_reported_as_far_as_the_horizon() {
    let always = [
        daily(1, "00:00", "12:00", "UTC"),
        daily(2, "12:00", "00:00", "UTC"),
    ];
    let now = at("2026-12-02T10:00:00Z");
    let end = next_freeze_end(&always, now).expect("frozen");
    let days = (end - now).whole_days();
    assert!(
        (HORIZON_DAYS..=HORIZON_DAYS + 3).contains(&days),
        "{days} days"
    );
}

#[test]
fn spring_forward_keeps_local_times_and_moves_a_missing_start_forward() {
    // Europe/Berlin: 2026-03-29 02:00 CET becomes 03:00 CEST.
    let w = [weekly(1, "sun 01:30", "sun 03:30", "Europe/Berlin")];
    check(
        &w,
        &[
            // The week before: two hours, both in CET (UTC+1).
            ("2026-03-22T00:30:00Z", Some((1, "2026-03-22T02:30:00Z"))),
            // That Sunday: 01:30 CET to 03:30 CEST, one real hour.
            ("2026-03-29T00:29:00Z", None),
            ("2026-03-29T00:30:00Z", Some((1, "2026-03-29T01:30:00Z"))),
            ("2026-03-29T01:29:00Z", Some((1, "2026-03-29T01:30:00Z"))),
            ("2026-03-29T01:30:00Z", None),
        ],
    );
    // 02:30 does not exist that night: the window starts at 03:30 CEST.
    let in_gap = [weekly(1, "sun 02:30", "sun 04:00", "Europe/Berlin")];
    check(
        &in_gap,
        &[
            ("2026-03-29T01:00:00Z", None),
            ("2026-03-29T01:30:00Z", Some((1, "2026-03-29T02:00:00Z"))),
            ("2026-03-29T02:00:00Z", None),
        ],
    );
    // A daily window across the gap ends at 06:00 CEST.
    let nightly = [daily(1, "22:00", "06:00", "Europe/Berlin")];
    check(
        &nightly,
        &[("2026-03-29T03:00:00Z", Some((1, "2026-03-29T04:00:00Z")))],
    );
}

#[test]
fn fall_back_takes_the_first_of_a_repeated_local_time() {
    // Europe/Berlin: 2026-10-25 03:00 CEST becomes 02:00 CET; 02:00–03:00 happens twice.
    let w = [weekly(1, "sun 01:30", "sun 03:30", "Europe/Berlin")];
    check(
        &w,
        &[
            // 01:30 CEST (UTC+2) to 03:30 CET (UTC+1): three real hours.
            ("2026-10-24T23:29:00Z", None),
            ("2026-10-24T23:30:00Z", Some((1, "2026-10-25T02:30:00Z"))),
            ("2026-10-25T02:29:00Z", Some((1, "2026-10-25T02:30:00Z"))),
            ("2026-10-25T02:30:00Z", None),
        ],
    );
    // A window inside the repeated hour applies at its first pass (CEST) only.
    let in_fold = [weekly(1, "sun 02:30", "sun 02:45", "Europe/Berlin")];
    check(
        &in_fold,
        &[
            ("2026-10-25T00:35:00Z", Some((1, "2026-10-25T00:45:00Z"))),
            ("2026-10-25T01:35:00Z", None),
        ],
    );
}

#[test]
fn a_zone_across_the_date_line_freezes_on_its_own_weekday() {
    // Pacific/Auckland is UTC+13 in December: Monday 06:00 there is Sunday 17:00 UTC.
    let w = [weekly(1, "mon 06:00", "mon 10:00", "Pacific/Auckland")];
    check(
        &w,
        &[
            ("2026-12-06T16:59:00Z", None),
            ("2026-12-06T18:00:00Z", Some((1, "2026-12-06T21:00:00Z"))),
            // Monday in UTC is Tuesday in Auckland.
            ("2026-12-07T18:00:00Z", None),
        ],
    );
    // And UTC+12 in July (no daylight saving in the southern winter).
    check(
        &w,
        &[("2027-07-04T19:00:00Z", Some((1, "2027-07-04T22:00:00Z")))],
    );
}

#[test]
fn no_windows_no_freeze() {
    check(&[], &[("2026-12-02T12:00:00Z", None)]);
}

#[test]
fn weekdays_are_read_by_name_or_monday_based_number() {
    let table = [
        ("mon", Some(Weekday::Monday)),
        ("Fri", Some(Weekday::Friday)),
        ("SUNDAY", Some(Weekday::Sunday)),
        (" tue ", Some(Weekday::Tuesday)),
        ("0", Some(Weekday::Monday)),
        ("6", Some(Weekday::Sunday)),
        ("7", None),
        ("fr", None),
        ("", None),
    ];
    for (input, expected) in table {
        assert_eq!(parse_weekday(input), expected, "{input:?}");
    }
}

#[test]
fn times_of_day_are_hh_mm() {
    let table = [
        ("16:00", Some((16, 0))),
        ("00:00", Some((0, 0))),
        ("23:59", Some((23, 59))),
        ("08:30:00", Some((8, 30))),
        ("24:00", None),
        ("12:60", None),
        ("8:00", None),
        ("08:00:30", None),
        ("noon", None),
        ("0€:00", None),
        ("", None),
    ];
    for (input, expected) in table {
        let got = parse_hhmm(input).map(|t| (t.hour(), t.minute()));
        assert_eq!(got, expected, "{input:?}");
    }
}

#[test]
fn local_date_times_are_what_datetime_local_inputs_send() {
    let table = [
        ("2026-12-24T00:00", Some("2026-12-24 00:00")),
        ("2026-12-24 08:30", Some("2026-12-24 08:30")),
        ("2026-12-24T08:30:00", Some("2026-12-24 08:30")),
        ("2026-12-24", None),
        ("2026-12-24T08:30+01:00", None),
        ("2026-12-24T08:30Z", None),
        ("2026-12-24T08:30-05:00", None),
        ("2026-02-30T08:30", None),
        ("2026-12-2€T00:00:00", None),
        ("2026-12-24T00:00€", None),
        ("tomorrow", None),
    ];
    for (input, expected) in table {
        let got = parse_local(input).map(|dt| dt.strftime("%Y-%m-%d %H:%M").to_string());
        assert_eq!(got.as_deref(), expected, "{input:?}");
    }
}

#[test]
fn zones_are_iana_names_from_the_bundled_database() {
    assert!(zone("Europe/Berlin").is_some());
    assert!(zone("UTC").is_some());
    assert!(zone("Mars/Olympus").is_none());
    assert!(zone("").is_none());
    let names = zone_names();
    assert!(names.iter().any(|n| n == "Pacific/Auckland"));
    assert!(names.len() > 300, "{} zones", names.len());
}

#[test]
fn windows_read_as_words() {
    let table = [
        (
            weekly(1, "fri 16:00", "mon 08:00", "America/New_York"),
            "weekly Fri 16:00 – Mon 08:00 America/New_York",
        ),
        (daily(1, "22:00", "06:00", "UTC"), "daily 22:00 – 06:00 UTC"),
        (
            once(1, "2026-12-24T00:00", "2026-12-27T08:00", "Europe/Berlin"),
            "once 2026-12-24 00:00 – 2026-12-27 08:00 Europe/Berlin",
        ),
    ];
    for (window, expected) in table {
        assert_eq!(window.label(), expected);
    }
}
