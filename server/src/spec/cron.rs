//! Cron schedule syntax as the CronJob controller accepts it (five fields or a macro).

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Check a schedule; the message names the field that is wrong.
pub fn check(schedule: &str) -> Result<(), String> {
    let schedule = schedule.trim();
    if schedule.starts_with("TZ=") || schedule.starts_with("CRON_TZ=") {
        return Err("set the time zone with `timeZone`, not inside the schedule".into());
    }
    if let Some(name) = schedule.strip_prefix('@') {
        return match name {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => {
                Ok(())
            }
            _ => Err(format!(
                "`@{name}` is not a schedule macro (use @hourly, @daily, @weekly, @monthly or @yearly)"
            )),
        };
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "`{schedule}` has {} fields; a schedule has five: minute hour day-of-month month day-of-week",
            fields.len()
        ));
    }
    let specs: [(&str, u32, u32, &[&str]); 5] = [
        ("minute", 0, 59, &[]),
        ("hour", 0, 23, &[]),
        ("day of month", 1, 31, &[]),
        ("month", 1, 12, &MONTHS),
        ("day of week", 0, 7, &DAYS),
    ];
    for (field, (what, min, max, names)) in fields.iter().zip(specs) {
        check_field(field, min, max, names, what == "month")
            .map_err(|why| format!("{what} `{field}`: {why}"))?;
    }
    Ok(())
}

fn check_field(
    field: &str,
    min: u32,
    max: u32,
    names: &[&str],
    one_based_names: bool,
) -> Result<(), String> {
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(n) if n >= 1 && n <= max.max(1) => {}
                _ => return Err(format!("step `{step}` must be between 1 and {max}")),
            }
        }
        if range == "*" || range == "?" {
            continue;
        }
        let (low, high) = match range.split_once('-') {
            Some((low, high)) => (low, Some(high)),
            None => (range, None),
        };
        let low = value(low, min, max, names, one_based_names)?;
        if let Some(high) = high {
            let high = value(high, min, max, names, one_based_names)?;
            if high < low {
                return Err(format!("range `{range}` runs backwards"));
            }
        }
    }
    Ok(())
}

fn value(
    text: &str,
    min: u32,
    max: u32,
    names: &[&str],
    one_based_names: bool,
) -> Result<u32, String> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        let i = u32::try_from(i).map_err(|_| "too many names".to_owned())?;
        return Ok(if one_based_names { i + 1 } else { i });
    }
    match text.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is outside {min}-{max}")),
        Err(_) => Err(format!("`{text}` is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn common_schedules_are_accepted() {
        for ok in [
            "*/15 * * * *",
            "0 3 * * *",
            "30 2 1 jan-jun mon-fri",
            "0 0 * * 0,6",
            "@daily",
            "5 4 ? * SUN",
        ] {
            assert!(check(ok).is_ok(), "{ok} should be accepted");
        }
    }

    #[test]
    fn wrong_field_counts_and_ranges_are_rejected() {
        for bad in [
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "*/0 * * * *",
            "5-1 * * * *",
            "@often",
            "TZ=UTC 0 * * * *",
        ] {
            assert!(check(bad).is_err(), "{bad} should be rejected");
        }
    }
}
