//! Wall-clock time in the forms the gateway writes: milliseconds for the outbox, `CCYYMMDD` and
//! `HHMM` for acknowledgements, ISO dates for file names. UTC throughout.

use time::OffsetDateTime;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    u64::try_from(nanos / 1_000_000).unwrap_or(0)
}

/// Today as `YYYY-MM-DD`.
pub fn utc_date() -> String {
    let now = OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    )
}

/// Now as an acknowledgement timestamp (`CCYYMMDD`, `HHMM`).
pub fn ack_timestamp() -> validate::ack::Timestamp {
    let now = OffsetDateTime::now_utc();
    validate::ack::Timestamp {
        date: format!(
            "{:04}{:02}{:02}",
            now.year(),
            u8::from(now.month()),
            now.day()
        ),
        time: format!("{:02}{:02}", now.hour(), now.minute()),
    }
}

/// `ms` since the Unix epoch as UTC date and time, the parts joined by `date`, `between` and
/// `time` (`("-", " ", ":")` gives `2026-11-23 22:50:37`, `("", "", "")` gives `20261123225037`).
pub fn utc_at(ms: u64, (date, between, time): (&str, &str, &str)) -> String {
    let t = i64::try_from(ms / 1000)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{date}{:02}{date}{:02}{between}{:02}{time}{:02}{time}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
