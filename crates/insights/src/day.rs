//! Calendar days as numbers: aggregates are kept per day, counted from 1970-01-01 (UTC).

use events::Date;

/// A day, as the number of days since 1970-01-01 (negative before).
pub type Day = i32;

/// Milliseconds in a day.
pub const DAY_MS: u64 = 86_400_000;

/// The day of a calendar date.
pub fn of_date(date: Date) -> Day {
    from_ymd(
        i32::from(date.year()),
        u32::from(date.month()),
        u32::from(date.day()),
    )
}

/// The day of `year-month-day` (proleptic Gregorian; Howard Hinnant's `days_from_civil`).
pub fn from_ymd(year: i32, month: u32, day: u32) -> Day {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = month as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The day a time falls on (UTC), from milliseconds since the epoch.
pub fn of_millis(ms: u64) -> Day {
    i32::try_from(ms / DAY_MS).unwrap_or(i32::MAX)
}

/// `(year, month, day)` of a day.
pub fn to_ymd(day: Day) -> (i32, u32, u32) {
    let z = day + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i32::from(m <= 2);
    (y, m, d)
}

/// A day as ISO 8601 `YYYY-MM-DD`.
pub fn iso(day: Day) -> String {
    let (y, m, d) = to_ymd(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DD`.
pub fn parse_iso(text: &str) -> Option<Day> {
    Date::parse(text).ok().map(of_date)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn days_count_from_the_epoch_both_ways() {
        assert_eq!(from_ymd(1970, 1, 1), 0);
        assert_eq!(from_ymd(2024, 2, 29), 19_782);
        assert_eq!(iso(19_782), "2024-02-29");
        assert_eq!(iso(-1), "1969-12-31");
        for day in (-800_000..800_000).step_by(997) {
            let (y, m, d) = to_ymd(day);
            assert_eq!(from_ymd(y, m, d), day);
        }
        assert_eq!(of_millis(1_700_000_000_000), from_ymd(2023, 11, 14));
        assert_eq!(parse_iso("2026-11-24"), Some(from_ymd(2026, 11, 24)));
        assert_eq!(
            of_date(Date::new(2026, 1, 31).unwrap()),
            from_ymd(2026, 1, 31)
        );
    }
}
