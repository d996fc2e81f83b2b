//! Freeze windows: administrators declare periods in which deploys to an
//! environment must not run, one-off (`once`) or repeating every week or day
//! (`weekly`), each in a time zone and with a reason. Adding and removing are
//! audited in the change's own transaction; [`active_freeze`] tells whoever is
//! about to deploy whether a freeze is in force and when the frozen stretch ends.
//! The rules of the calendar are in the pure [`calendar`] module.

pub mod calendar;

use jiff::civil;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use time::OffsetDateTime;

use crate::error::{AppError, FieldError};
use crate::store::audit::Actor;
use crate::store::freeze_windows::{FreezeWindow, NewWindow, WindowKind};
use crate::store::{self};

use calendar::{Days, Schedule};

/// Audit actions written here.
pub mod actions {
    /// A freeze window was added to an environment.
    pub const ADD: &str = "freeze_window.add";
    /// A freeze window was removed from an environment.
    pub const REMOVE: &str = "freeze_window.remove";
}

/// The longest reason accepted, in characters.
pub const MAX_REASON: usize = 500;

/// A window as typed in the portal's forms or sent to the API; every field is
/// text so that each problem can be reported on its field.
///
/// `once`: `starts_at`, `ends_at` as local `2026-12-24T00:00`. `weekly`:
/// `start_day`, `end_day` as `mon` … `sun` (or `daily` for a window every day),
/// `start_time`, `end_time` as `HH:MM`. Both: `time_zone` (IANA) and `reason`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowInput {
    /// `once` or `weekly`.
    #[serde(default)]
    pub kind: String,
    /// Once: local start.
    #[serde(default)]
    pub starts_at: String,
    /// Once: local end.
    #[serde(default)]
    pub ends_at: String,
    /// Weekly: start weekday or `daily`.
    #[serde(default)]
    pub start_day: String,
    /// Weekly: local start time.
    #[serde(default)]
    pub start_time: String,
    /// Weekly: end weekday, or `daily` (or empty) with a daily start.
    #[serde(default)]
    pub end_day: String,
    /// Weekly: local end time.
    #[serde(default)]
    pub end_time: String,
    /// IANA time zone of the local times.
    #[serde(default)]
    pub time_zone: String,
    /// Why deploys are frozen.
    #[serde(default)]
    pub reason: String,
}

/// A window whose every field was checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedWindow {
    /// When it applies.
    pub kind: WindowKind,
    /// The zone's canonical IANA name.
    pub time_zone: String,
    /// Why, trimmed.
    pub reason: String,
}

/// The word for "every day" in `start_day` / `end_day`.
pub const DAILY: &str = "daily";

const ONLY_WEEKLY: &str = "only weekly windows have this field";
const ONLY_ONCE: &str = "only once windows have this field";
const LOCAL_FORMAT: &str = "must be a local date and time like 2026-12-24T00:00";
const TIME_FORMAT: &str = "must be a time of day as HH:MM, like 16:00";
const WEEKDAY_FORMAT: &str = "must be a weekday (mon, tue, … sun) or daily";

fn to_time(t: civil::Time) -> time::Time {
    // jiff's hours and minutes are always in 0..24 and 0..60.
    time::Time::from_hms(
        u8::try_from(t.hour()).unwrap_or_default(),
        u8::try_from(t.minute()).unwrap_or_default(),
        0,
    )
    .unwrap_or(time::Time::MIDNIGHT)
}

fn to_civil(t: time::Time) -> civil::Time {
    civil::Time::new(
        i8::try_from(t.hour()).unwrap_or_default(),
        i8::try_from(t.minute()).unwrap_or_default(),
        0,
        0,
    )
    .unwrap_or(civil::Time::midnight())
}

impl WindowInput {
    /// The checked window, or every problem at once, each on its field.
    pub fn check(&self) -> Result<CheckedWindow, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut problem = |path: &str, message: &str| errors.push(FieldError::new(path, message));

        let reason = self.reason.trim();
        if reason.is_empty() {
            problem("reason", "required: say why deploys are frozen");
        } else if reason.chars().count() > MAX_REASON {
            problem(
                "reason",
                &format!("must be at most {MAX_REASON} characters"),
            );
        }
        let zone_name = self.time_zone.trim();
        let zone = match calendar::zone(zone_name) {
            _ if zone_name.is_empty() => {
                problem("time_zone", "required, e.g. UTC or Europe/Berlin");
                None
            }
            Some(zone) => Some(zone),
            None => {
                problem("time_zone", &format!("unknown time zone \"{zone_name}\""));
                None
            }
        };

        let kind = match self.kind.trim() {
            "once" => {
                for (path, value) in [
                    ("start_day", &self.start_day),
                    ("start_time", &self.start_time),
                    ("end_day", &self.end_day),
                    ("end_time", &self.end_time),
                ] {
                    if !value.trim().is_empty() {
                        problem(path, ONLY_WEEKLY);
                    }
                }
                let mut local = |path: &str, value: &str| match value.trim() {
                    "" => {
                        problem(path, "required");
                        None
                    }
                    v => calendar::parse_local(v).or_else(|| {
                        problem(path, LOCAL_FORMAT);
                        None
                    }),
                };
                let (starts, ends) = (
                    local("starts_at", &self.starts_at),
                    local("ends_at", &self.ends_at),
                );
                match (starts, ends, &zone) {
                    (Some(s), Some(e), Some(zone)) => {
                        match (
                            calendar::local_instant(zone, s),
                            calendar::local_instant(zone, e),
                        ) {
                            (Some(s), Some(e)) if e > s => Some(WindowKind::Once {
                                starts_at: calendar::to_offset(s),
                                ends_at: calendar::to_offset(e),
                            }),
                            (Some(_), Some(_)) => {
                                problem("ends_at", "must be after starts_at");
                                None
                            }
                            (start, _) => {
                                let path = if start.is_none() {
                                    "starts_at"
                                } else {
                                    "ends_at"
                                };
                                problem(path, "is out of range");
                                None
                            }
                        }
                    }
                    _ => None,
                }
            }
            "weekly" => {
                for (path, value) in [("starts_at", &self.starts_at), ("ends_at", &self.ends_at)] {
                    if !value.trim().is_empty() {
                        problem(path, ONLY_ONCE);
                    }
                }
                // Ok(None): every day; Err(()): reported.
                let start_day: Result<Option<civil::Weekday>, ()> = match self.start_day.trim() {
                    "" => {
                        problem("start_day", "required");
                        Err(())
                    }
                    d if d.eq_ignore_ascii_case(DAILY) => Ok(None),
                    d => calendar::parse_weekday(d).map(Some).ok_or_else(|| {
                        problem("start_day", WEEKDAY_FORMAT);
                    }),
                };
                let end_day_raw = self.end_day.trim();
                let end_day: Result<Option<civil::Weekday>, ()> = match (&start_day, end_day_raw) {
                    (Ok(None), d) if d.is_empty() || d.eq_ignore_ascii_case(DAILY) => Ok(None),
                    (Ok(None), _) => {
                        problem(
                            "end_day",
                            "must be daily (or left out) when start_day is daily",
                        );
                        Err(())
                    }
                    (_, "") => {
                        problem("end_day", "required");
                        Err(())
                    }
                    (Ok(Some(_)), d) if d.eq_ignore_ascii_case(DAILY) => {
                        problem(
                            "end_day",
                            "must be a weekday (mon, tue, … sun) when start_day is one",
                        );
                        Err(())
                    }
                    (_, d) => calendar::parse_weekday(d).map(Some).ok_or_else(|| {
                        problem("end_day", WEEKDAY_FORMAT);
                    }),
                };
                let mut time_of_day = |path: &str, value: &str| match value.trim() {
                    "" => {
                        problem(path, "required");
                        None
                    }
                    v => calendar::parse_hhmm(v).or_else(|| {
                        problem(path, TIME_FORMAT);
                        None
                    }),
                };
                let (start, end) = (
                    time_of_day("start_time", &self.start_time),
                    time_of_day("end_time", &self.end_time),
                );
                match (start_day, end_day, start, end) {
                    (Ok(sd), Ok(ed), Some(start), Some(end)) => {
                        if sd == ed && start == end {
                            problem("end_time", "must differ from start_time on the same day");
                            None
                        } else {
                            let day = |d: Option<civil::Weekday>| {
                                d.map(|d| i16::from(d.to_monday_zero_offset()))
                            };
                            Some(WindowKind::Weekly {
                                start_day: day(sd),
                                start_time: to_time(start),
                                end_day: day(ed),
                                end_time: to_time(end),
                            })
                        }
                    }
                    _ => None,
                }
            }
            "" => {
                problem("kind", "required: once or weekly");
                None
            }
            _ => {
                problem("kind", "must be \"once\" or \"weekly\"");
                None
            }
        };
        match (kind, zone) {
            (Some(kind), Some(zone)) if errors.is_empty() => Ok(CheckedWindow {
                kind,
                time_zone: calendar::zone_name(&zone).to_owned(),
                reason: reason.to_owned(),
            }),
            _ => Err(errors),
        }
    }

    /// The form's fields for a stored window (to show it as typed).
    pub fn of(window: &FreezeWindow) -> Self {
        let zone = zone_of(window);
        let day = |d: Option<i16>| match d.and_then(weekday) {
            Some(d) => calendar::weekday_key(d).to_owned(),
            None => DAILY.to_owned(),
        };
        let local = |t: OffsetDateTime| {
            zone.to_datetime(calendar::to_timestamp(t))
                .strftime("%Y-%m-%dT%H:%M")
                .to_string()
        };
        let base = Self {
            time_zone: window.time_zone.clone(),
            reason: window.reason.clone(),
            ..Self::default()
        };
        match &window.kind {
            WindowKind::Once { starts_at, ends_at } => Self {
                kind: "once".into(),
                starts_at: local(*starts_at),
                ends_at: local(*ends_at),
                ..base
            },
            WindowKind::Weekly {
                start_day,
                start_time,
                end_day,
                end_time,
            } => Self {
                kind: "weekly".into(),
                start_day: day(*start_day),
                start_time: calendar::hhmm(to_civil(*start_time)),
                end_day: day(*end_day),
                end_time: calendar::hhmm(to_civil(*end_time)),
                ..base
            },
        }
    }
}

fn weekday(d: i16) -> Option<civil::Weekday> {
    civil::Weekday::from_monday_zero_offset(i8::try_from(d).ok()?).ok()
}

/// The zone of a stored window. Names were checked against the bundled
/// database when added; should a later database drop one, the window is
/// evaluated in UTC rather than ignored (a freeze fails closed).
fn zone_of(window: &FreezeWindow) -> jiff::tz::TimeZone {
    calendar::zone(&window.time_zone).unwrap_or_else(|| {
        tracing::warn!(
            window = window.id,
            time_zone = %window.time_zone,
            "unknown time zone in a stored freeze window; evaluating it in UTC"
        );
        jiff::tz::TimeZone::UTC
    })
}

/// A stored window as the calendar evaluates it.
pub fn to_calendar(window: &FreezeWindow) -> calendar::Window {
    let schedule = match &window.kind {
        WindowKind::Once { starts_at, ends_at } => Schedule::Once {
            starts_at: calendar::to_timestamp(*starts_at),
            ends_at: calendar::to_timestamp(*ends_at),
        },
        WindowKind::Weekly {
            start_day,
            start_time,
            end_day,
            end_time,
        } => Schedule::Recurring {
            // The table's check keeps both days set or both null.
            days: match (start_day.and_then(weekday), end_day.and_then(weekday)) {
                (Some(start), Some(end)) => Days::Weekly { start, end },
                _ => Days::Every,
            },
            start: to_civil(*start_time),
            end: to_civil(*end_time),
        },
    };
    calendar::Window {
        id: window.id,
        schedule,
        zone: zone_of(window),
    }
}

/// A stored window in words, e.g. `weekly Fri 16:00 – Mon 08:00 America/New_York`.
pub fn label(window: &FreezeWindow) -> String {
    to_calendar(window).label()
}

/// The freeze in force on an environment: what a deploy request is held by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActiveFreeze {
    /// The window in force (of several covering the moment, the one ending last).
    pub window_id: i64,
    /// Its reason.
    pub reason: String,
    /// When deploys may run again: the end of the whole contiguous frozen
    /// stretch (overlapping or touching windows included), looked for up to
    /// [`calendar::HORIZON_DAYS`] ahead.
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
    /// The window in words, e.g. `weekly Fri 16:00 – Mon 08:00 America/New_York`.
    pub label: String,
}

/// The freeze in force at `now` among an environment's `windows`, if any. Pure.
pub fn active_among(windows: &[FreezeWindow], now: OffsetDateTime) -> Option<ActiveFreeze> {
    let evaluated: Vec<calendar::Window> = windows.iter().map(to_calendar).collect();
    let active = calendar::active(&evaluated, now)?;
    let (window, evaluated) = windows
        .iter()
        .zip(&evaluated)
        .find(|(w, _)| w.id == active.window_id)?;
    Some(ActiveFreeze {
        window_id: window.id,
        reason: window.reason.clone(),
        ends_at: active.ends_at,
        label: evaluated.label(),
    })
}

/// The freeze in force on environment `environment_id` at `now`, if any: deploy
/// requests consult this and wait until `ends_at`.
pub async fn active_freeze(
    db: impl sqlx::PgExecutor<'_>,
    environment_id: i64,
    now: OffsetDateTime,
) -> Result<Option<ActiveFreeze>, sqlx::Error> {
    let windows = store::freeze_windows::list_for_environment(db, environment_id).await?;
    Ok(active_among(&windows, now))
}

/// Adds a freeze window to environment `environment_name`; audited as
/// `freeze_window.add`. No such environment: `NotFound`; a bad field:
/// `Invalid` naming it, and nothing is stored.
pub async fn add_window(
    db: &PgPool,
    actor: &Actor,
    environment_name: &str,
    input: &WindowInput,
) -> Result<FreezeWindow, AppError> {
    let environment = store::environments::find_by_name(db, environment_name)
        .await?
        .ok_or(AppError::NotFound)?;
    let checked = input.check().map_err(AppError::Invalid)?;
    let mut tx = db.begin().await?;
    let window = store::freeze_windows::insert(
        &mut *tx,
        &NewWindow {
            environment_id: environment.id,
            kind: &checked.kind,
            time_zone: &checked.time_zone,
            reason: &checked.reason,
            created_by: &actor.name,
        },
    )
    .await?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::ADD,
        &environment.name,
        audit_detail(&window),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(environment = %environment.name, window = window.id, "freeze window added");
    Ok(window)
}

/// Removes window `id` of environment `environment_name`; audited as
/// `freeze_window.remove`. No such environment or window: `NotFound`.
pub async fn remove_window(
    db: &PgPool,
    actor: &Actor,
    environment_name: &str,
    id: i64,
) -> Result<FreezeWindow, AppError> {
    let environment = store::environments::find_by_name(db, environment_name)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut tx = db.begin().await?;
    let window = store::freeze_windows::delete(&mut *tx, environment.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::REMOVE,
        &environment.name,
        audit_detail(&window),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(environment = %environment.name, window = window.id, "freeze window removed");
    Ok(window)
}

fn audit_detail(window: &FreezeWindow) -> serde_json::Value {
    json!({"window_id": window.id,
           "label": label(window),
           "time_zone": window.time_zone,
           "reason": window.reason})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn once(starts_at: &str, ends_at: &str, time_zone: &str) -> WindowInput {
        WindowInput {
            kind: "once".into(),
            starts_at: starts_at.into(),
            ends_at: ends_at.into(),
            time_zone: time_zone.into(),
            reason: "holidays".into(),
            ..WindowInput::default()
        }
    }

    fn weekly(start: (&str, &str), end: (&str, &str)) -> WindowInput {
        WindowInput {
            kind: "weekly".into(),
            start_day: start.0.into(),
            start_time: start.1.into(),
            end_day: end.0.into(),
            end_time: end.1.into(),
            time_zone: "America/New_York".into(),
            reason: "weekend".into(),
            ..WindowInput::default()
        }
    }

    fn problems(input: &WindowInput) -> Vec<String> {
        input
            .check()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect()
    }

    #[test]
    fn a_one_off_window_is_stored_as_instants_of_its_zone() {
        let checked = once("2026-12-24T00:00", "2026-12-27T08:00", "Europe/Berlin")
            .check()
            .unwrap();
        assert_eq!(
            checked.kind,
            WindowKind::Once {
                starts_at: time::macros::datetime!(2026-12-23 23:00 UTC),
                ends_at: time::macros::datetime!(2026-12-27 07:00 UTC),
            }
        );
        assert_eq!(checked.time_zone, "Europe/Berlin");
    }

    #[test]
    fn weekly_and_daily_windows_keep_local_times() {
        let checked = weekly(("fri", "16:00"), ("Monday", "08:00"))
            .check()
            .unwrap();
        assert_eq!(
            checked.kind,
            WindowKind::Weekly {
                start_day: Some(4),
                start_time: time::macros::time!(16:00),
                end_day: Some(0),
                end_time: time::macros::time!(08:00),
            }
        );
        let daily = weekly(("daily", "22:00"), ("", "06:00")).check().unwrap();
        assert!(matches!(
            daily.kind,
            WindowKind::Weekly {
                start_day: None,
                end_day: None,
                ..
            }
        ));
    }

    #[test]
    fn every_problem_names_its_field() {
        let table: Vec<(WindowInput, Vec<&str>)> = vec![
            (
                once("2026-12-24T00:00", "2026-12-27T08:00", "Mars/Olympus"),
                vec!["time_zone: unknown time zone \"Mars/Olympus\""],
            ),
            (
                once("2026-12-27T08:00", "2026-12-24T00:00", "UTC"),
                vec!["ends_at: must be after starts_at"],
            ),
            (
                once("2026-12-24T00:00", "2026-12-24T00:00", "UTC"),
                vec!["ends_at: must be after starts_at"],
            ),
            (
                once("Christmas", "", "UTC"),
                vec![
                    "starts_at: must be a local date and time like 2026-12-24T00:00",
                    "ends_at: required",
                ],
            ),
            (
                once("2026-12-24T00:00", "9999-12-31T23:00", "UTC"),
                vec!["ends_at: is out of range"],
            ),
            (
                weekly(("fri", "16:00"), ("mon", "8am")),
                vec!["end_time: must be a time of day as HH:MM, like 16:00"],
            ),
            (
                weekly(("friday-ish", "25:00"), ("mon", "08:00")),
                vec![
                    "start_day: must be a weekday (mon, tue, … sun) or daily",
                    "start_time: must be a time of day as HH:MM, like 16:00",
                ],
            ),
            (
                weekly(("daily", "22:00"), ("mon", "06:00")),
                vec!["end_day: must be daily (or left out) when start_day is daily"],
            ),
            (
                weekly(("fri", "22:00"), ("daily", "06:00")),
                vec!["end_day: must be a weekday (mon, tue, … sun) when start_day is one"],
            ),
            (
                weekly(("fri", "16:00"), ("fri", "16:00")),
                vec!["end_time: must differ from start_time on the same day"],
            ),
            (
                WindowInput {
                    reason: "  ".into(),
                    ..weekly(("fri", "16:00"), ("mon", "08:00"))
                },
                vec!["reason: required: say why deploys are frozen"],
            ),
            (
                WindowInput {
                    reason: "x".repeat(MAX_REASON + 1),
                    ..weekly(("fri", "16:00"), ("mon", "08:00"))
                },
                vec!["reason: must be at most 500 characters"],
            ),
            (
                WindowInput {
                    start_day: "fri".into(),
                    ..once("2026-12-24T00:00", "2026-12-27T08:00", "")
                },
                vec![
                    "time_zone: required, e.g. UTC or Europe/Berlin",
                    "start_day: only weekly windows have this field",
                ],
            ),
            (
                WindowInput {
                    starts_at: "2026-12-24T00:00".into(),
                    ..weekly(("fri", "16:00"), ("mon", "08:00"))
                },
                vec!["starts_at: only once windows have this field"],
            ),
            (
                WindowInput {
                    kind: "monthly".into(),
                    ..weekly(("fri", "16:00"), ("mon", "08:00"))
                },
                vec!["kind: must be \"once\" or \"weekly\""],
            ),
        ];
        for (input, expected) in table {
            assert_eq!(problems(&input), expected, "{input:?}");
        }
    }

    #[test]
    fn a_stored_window_reads_back_as_typed() {
        for input in [
            once("2026-12-24T00:00", "2026-12-27T08:00", "Europe/Berlin"),
            weekly(("fri", "16:00"), ("mon", "08:00")),
            weekly(("daily", "22:00"), ("daily", "06:00")),
        ] {
            let checked = input.check().unwrap();
            let stored = FreezeWindow {
                id: 1,
                environment_id: 1,
                kind: checked.kind,
                time_zone: checked.time_zone,
                reason: checked.reason,
                created_by: "root@example.com".into(),
                created_at: OffsetDateTime::UNIX_EPOCH,
            };
            let back = WindowInput::of(&stored);
            assert_eq!(
                (&back.kind, &back.starts_at, &back.ends_at, &back.start_day),
                (
                    &input.kind,
                    &input.starts_at,
                    &input.ends_at,
                    &input.start_day
                )
            );
            assert_eq!(
                (&back.start_time, &back.end_time),
                (&input.start_time, &input.end_time)
            );
        }
    }

    #[test]
    fn the_active_freeze_carries_reason_label_and_end() {
        let checked = weekly(("fri", "16:00"), ("mon", "08:00")).check().unwrap();
        let windows = [FreezeWindow {
            id: 7,
            environment_id: 1,
            kind: checked.kind,
            time_zone: checked.time_zone,
            reason: checked.reason,
            created_by: "root@example.com".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        }];
        let active = active_among(&windows, time::macros::datetime!(2026-12-05 12:00 UTC));
        assert_eq!(
            active,
            Some(ActiveFreeze {
                window_id: 7,
                reason: "weekend".into(),
                ends_at: time::macros::datetime!(2026-12-07 13:00 UTC),
                label: "weekly Fri 16:00 – Mon 08:00 America/New_York".into(),
            })
        );
        assert_eq!(
            active_among(&windows, time::macros::datetime!(2026-12-08 12:00 UTC)),
            None
        );
    }
}
