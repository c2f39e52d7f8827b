//! Times as people read them: UTC timestamps and "3m ago", from milliseconds since the Unix epoch
//! (the unit every record of the scheduler uses). No clock is read here: callers pass `now`.

/// A UTC timestamp `YYYY-MM-DD HH:MM:SS` from milliseconds since the epoch.
pub fn utc_timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// How long ago `ms` was at `now_ms`, coarsely: `just now`, `42s ago`, `5m ago`, `3h ago`,
/// `2d ago`; a time in the future reads `in 5m`.
pub fn relative(ms: i64, now_ms: i64) -> String {
    let d = (now_ms - ms) / 1000;
    let a = d.abs();
    let amount = match a {
        0..=4 => return "just now".to_owned(),
        5..=59 => format!("{a}s"),
        60..=3599 => format!("{}m", a / 60),
        3600..=86_399 => format!("{}h", a / 3600),
        _ => format!("{}d", a / 86_400),
    };
    if d >= 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(utc_timestamp(0), "1970-01-01 00:00:00");
        assert_eq!(utc_timestamp(1_795_000_000_000), "2026-11-18 11:06:40");
        assert_eq!(utc_timestamp(-1_000), "1969-12-31 23:59:59");
    }

    #[test]
    fn relative_times() {
        let now = 1_000_000_000;
        assert_eq!(relative(now, now), "just now");
        assert_eq!(relative(now - 42_000, now), "42s ago");
        assert_eq!(relative(now - 5 * 60_000, now), "5m ago");
        assert_eq!(relative(now - 3 * 3_600_000, now), "3h ago");
        assert_eq!(relative(now - 2 * 86_400_000, now), "2d ago");
        assert_eq!(relative(now + 5 * 60_000, now), "in 5m");
    }
}
