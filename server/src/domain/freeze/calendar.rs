//! The freeze calendar, pure: which windows cover an instant, and when the whole
//! frozen stretch around it ends. No clock, no I/O: `now` is always an argument.
//!
//! A window is either a one-off range of instants (typed as local times in a zone,
//! turned into instants when it is added) or a weekly rule of local times in a zone
//! (`Fri 16:00 → Mon 08:00 America/New_York`, or every day `22:00 → 06:00`),
//! expanded into occurrences around `now`. Local times are turned into instants with
//! jiff's *compatible* disambiguation, the rule of RFC 5545 and Temporal: a time that
//! does not exist (the spring-forward gap) moves forward by the gap's length
//! (`02:30` → `03:30`), and a time that exists twice (the autumn fold) is its first,
//! earlier occurrence. Times cross the module's edge as `time::OffsetDateTime`,
//! converted through unix nanoseconds.

use jiff::civil::{self, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use time::OffsetDateTime;

/// How far ahead the end of a frozen stretch is looked for. A stretch of weekly
/// windows that runs on longer than this reports the end as far as it looked;
/// whoever waits re-checks at that moment and finds the rest.
pub const HORIZON_DAYS: i64 = 60;

/// One freeze window, ready to evaluate.
#[derive(Clone, Debug)]
pub struct Window {
    /// Row id, reported back by [`active`].
    pub id: i64,
    /// When it applies.
    pub schedule: Schedule,
    /// The zone its local times are in (and a one-off window is shown in).
    pub zone: TimeZone,
}

/// When a window applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// From `starts_at` (inclusive) to `ends_at` (exclusive).
    Once {
        /// First frozen instant.
        starts_at: Timestamp,
        /// First instant deploys may run again; after `starts_at`.
        ends_at: Timestamp,
    },
    /// Every week from `start_day start` to the next `end_day end` after it; with
    /// `days: Days::Every`, every day from `start` to the next `end`.
    Recurring {
        /// Which days it starts on.
        days: Days,
        /// Local start time.
        start: civil::Time,
        /// Local end time (on `end_day`, or the same or next day for daily windows).
        end: civil::Time,
    },
}

/// The days a recurring window starts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Days {
    /// Every day; it ends the same day when `end > start`, else the next day.
    Every,
    /// Once a week, starting on `start` and ending on the next `end` (a week
    /// later when both days are equal and the end time is not after the start).
    Weekly {
        /// Day it starts.
        start: Weekday,
        /// Day it ends.
        end: Weekday,
    },
}

/// The freeze in force at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Active {
    /// The window covering the instant (of several, the one whose occurrence ends
    /// last; then the lowest id).
    pub window_id: i64,
    /// When deploys may run again: the end of the whole contiguous frozen stretch,
    /// overlapping or touching windows included.
    pub ends_at: OffsetDateTime,
}

/// The freeze in force at `now` among `windows`, if any.
pub fn active(windows: &[Window], now: OffsetDateTime) -> Option<Active> {
    let now = to_timestamp(now);
    let horizon = now
        .checked_add(Span::new().hours(HORIZON_DAYS * 24))
        .unwrap_or(Timestamp::MAX);
    let mut spans: Vec<(Timestamp, Timestamp, i64)> = windows
        .iter()
        .flat_map(|w| {
            occurrences(w, now, horizon)
                .into_iter()
                .map(|(s, e)| (s, e, w.id))
        })
        .collect();
    spans.sort();
    let (_, first_end, window_id) = spans
        .iter()
        .filter(|(s, e, _)| *s <= now && now < *e)
        .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)))
        .copied()?;
    // Sorted by start: once a span starts after the stretch's end, none later can join.
    let mut end = first_end;
    for (s, e, _) in &spans {
        if *s > end {
            break;
        }
        end = end.max(*e);
    }
    Some(Active {
        window_id,
        ends_at: to_offset(end),
    })
}

/// When deploys may run again, if `now` is frozen: `active(…)`'s `ends_at`.
pub fn next_freeze_end(windows: &[Window], now: OffsetDateTime) -> Option<OffsetDateTime> {
    active(windows, now).map(|a| a.ends_at)
}

/// The `[start, end)` spans of `window` that may matter between `now` and
/// `horizon`: a recurring window's occurrences from a week before `now`, so the
/// one running at `now` is included.
fn occurrences(window: &Window, now: Timestamp, horizon: Timestamp) -> Vec<(Timestamp, Timestamp)> {
    let (days, start, end) = match &window.schedule {
        Schedule::Once { starts_at, ends_at } => return vec![(*starts_at, *ends_at)],
        Schedule::Recurring { days, start, end } => (*days, *start, *end),
    };
    let zone = &window.zone;
    let (Ok(mut date), Ok(last)) = (
        zone.to_datetime(now)
            .date()
            .checked_sub(Span::new().days(8)),
        zone.to_datetime(horizon)
            .date()
            .checked_add(Span::new().days(1)),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while date <= last {
        if let Some(length) = length_in_days(days, date.weekday(), start, end) {
            let from = local_instant(zone, date.to_datetime(start));
            let to = date
                .checked_add(Span::new().days(length))
                .ok()
                .and_then(|d| local_instant(zone, d.to_datetime(end)));
            // Only a window of a few minutes inside a DST gap can end before it
            // starts; it then has no occurrence that day.
            if let (Some(from), Some(to)) = (from, to)
                && from < to
            {
                out.push((from, to));
            }
        }
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    out
}

/// Days from an occurrence's start date to its end date, when one starts on `day`.
fn length_in_days(days: Days, day: Weekday, start: civil::Time, end: civil::Time) -> Option<i64> {
    match days {
        Days::Every => Some(if end > start { 0 } else { 1 }),
        Days::Weekly { start: s, end: e } if s == day => {
            let offset =
                i64::from((e.to_monday_zero_offset() - s.to_monday_zero_offset()).rem_euclid(7));
            Some(if offset == 0 && end <= start {
                7
            } else {
                offset
            })
        }
        Days::Weekly { .. } => None,
    }
}

/// A local date and time in `zone` as an instant, by compatible disambiguation.
pub fn local_instant(zone: &TimeZone, local: civil::DateTime) -> Option<Timestamp> {
    zone.to_ambiguous_timestamp(local).compatible().ok()
}

/// `time`'s instant as jiff's (the edge between the codebase's `time` and jiff).
pub fn to_timestamp(t: OffsetDateTime) -> Timestamp {
    let nanos = t.unix_timestamp_nanos();
    Timestamp::from_nanosecond(nanos).unwrap_or(if nanos < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// jiff's instant as `time`'s.
pub fn to_offset(t: Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(t.as_nanosecond())
        .expect("jiff's range (years -9999..=9999) lies within time's")
}

// ---------------------------------------------------------------- parsing and words

/// A time zone by IANA name (`Europe/Berlin`, `UTC`), from the bundled database.
pub fn zone(name: &str) -> Option<TimeZone> {
    TimeZone::get(name).ok()
}

/// Every zone name the bundled database knows, sorted (for the page's list).
pub fn zone_names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_owned())
        .collect();
    names.sort();
    names
}

/// A weekday as typed: `mon`, `Monday`, … (any case), or `0` (Monday) … `6` (Sunday).
pub fn parse_weekday(s: &str) -> Option<Weekday> {
    let s = s.trim().to_ascii_lowercase();
    if let Ok(n) = s.parse::<i8>() {
        return Weekday::from_monday_zero_offset(n).ok();
    }
    WEEKDAYS
        .iter()
        .find(|(short, long, _)| s == *short || s == *long)
        .map(|(_, _, day)| *day)
}

const WEEKDAYS: [(&str, &str, Weekday); 7] = [
    ("mon", "monday", Weekday::Monday),
    ("tue", "tuesday", Weekday::Tuesday),
    ("wed", "wednesday", Weekday::Wednesday),
    ("thu", "thursday", Weekday::Thursday),
    ("fri", "friday", Weekday::Friday),
    ("sat", "saturday", Weekday::Saturday),
    ("sun", "sunday", Weekday::Sunday),
];

/// `Mon`, `Tue`, … for labels.
pub fn weekday_short(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    }
}

/// `mon`, `tue`, … as the API and forms write them.
pub fn weekday_key(day: Weekday) -> &'static str {
    WEEKDAYS
        .iter()
        .find(|(_, _, d)| *d == day)
        .map_or("mon", |(short, _, _)| *short)
}

/// A time of day as `HH:MM` (24 hours; `HH:MM:00`, as some browsers send, too).
pub fn parse_hhmm(s: &str) -> Option<civil::Time> {
    let s = s.trim();
    let s = s.strip_suffix(":00").filter(|r| r.len() == 5).unwrap_or(s);
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())) {
        return None;
    }
    let (h, m) = (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?);
    civil::Time::new(h, m, 0, 0).ok()
}

/// A local date and time as a `datetime-local` input sends it: `2026-12-24T00:00`
/// (seconds and a space instead of `T` are accepted; an offset or zone is not).
pub fn parse_local(s: &str) -> Option<civil::DateTime> {
    let s = s.trim();
    // ASCII first, so that slicing at byte 10 below stays on a character boundary.
    if !s.is_ascii() || s.len() < 16 || s.contains(['+', 'Z', 'z', '[']) || s[10..].contains('-') {
        return None;
    }
    s.parse::<civil::DateTime>().ok()
}

/// `HH:MM`.
pub fn hhmm(t: civil::Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// An instant as a local `YYYY-MM-DD HH:MM` in `zone`.
pub fn local_words(t: Timestamp, zone: &TimeZone) -> String {
    zone.to_datetime(t).strftime("%Y-%m-%d %H:%M").to_string()
}

/// The zone's name as people type it (`UTC` for a zone without one).
pub fn zone_name(zone: &TimeZone) -> &str {
    zone.iana_name().unwrap_or("UTC")
}

impl Window {
    /// The window in words: `weekly Fri 16:00 – Mon 08:00 America/New_York`,
    /// `daily 22:00 – 06:00 UTC`, `once 2026-12-24 00:00 – 2026-12-27 08:00 Europe/Berlin`.
    pub fn label(&self) -> String {
        let zone = zone_name(&self.zone);
        match &self.schedule {
            Schedule::Once { starts_at, ends_at } => format!(
                "once {} – {} {zone}",
                local_words(*starts_at, &self.zone),
                local_words(*ends_at, &self.zone)
            ),
            Schedule::Recurring {
                days: Days::Every,
                start,
                end,
            } => format!("daily {} – {} {zone}", hhmm(*start), hhmm(*end)),
            Schedule::Recurring {
                days: Days::Weekly { start: s, end: e },
                start,
                end,
            } => format!(
                "weekly {} {} – {} {} {zone}",
                weekday_short(*s),
                hhmm(*start),
                weekday_short(*e),
                hhmm(*end)
            ),
        }
    }
}

#[cfg(test)]
mod tests;
