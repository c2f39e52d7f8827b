//! Cron schedules as Aurora accepts them, and the decisions of a cron firing.
//!
//! [`CronSchedule::parse`] takes five-field crontab syntax (lists, ranges, steps, month and weekday
//! names) and refuses what Aurora refuses, with the reason: `@hourly`-style aliases, seconds or
//! year fields, `L`, `W`, `#` and `?`, and a schedule that restricts both the day of the month and
//! the day of the week. The calendar arithmetic (time zones, daylight saving) is croner's.
//!
//! Times are milliseconds since the Unix epoch, passed in: nothing here reads a clock.

use aurora_model::config::CronCollisionPolicy;
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Why a schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron schedule '{schedule}': {reason}")]
pub struct CronError {
    pub schedule: String,
    pub reason: String,
}

/// A parsed, Aurora-valid schedule.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    text: String,
    cron: croner::Cron,
}

const FIELDS: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Checks one field's atoms: `*`, numbers, and names where the field has them, joined by `,`,
/// `-` and `/`. Anything else (`L`, `W`, `#`, `?`...) is named in the error.
fn check_field(index: usize, field: &str) -> Result<(), String> {
    let names: &[&str] = match index {
        3 => &MONTHS,
        4 => &DAYS,
        _ => &[],
    };
    for item in field.split(',') {
        if item.is_empty() {
            return Err(format!(
                "the {} field has an empty list item",
                FIELDS[index]
            ));
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        if let Some(s) = step
            && (s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!(
                "the {} field has step '{s}', which is not a number",
                FIELDS[index]
            ));
        }
        for atom in range.split('-') {
            let ok = atom == "*" && range == "*"
                || (!atom.is_empty() && atom.bytes().all(|b| b.is_ascii_digit()))
                || names.iter().any(|n| n.eq_ignore_ascii_case(atom));
            if !ok {
                return Err(format!(
                    "the {} field has '{atom}', which Aurora does not support (use numbers{}, `*`, `a-b`, lists and `/n` steps)",
                    FIELDS[index],
                    if names.is_empty() { "" } else { " or names" }
                ));
            }
        }
    }
    Ok(())
}

impl CronSchedule {
    /// Parses a schedule, refusing what Aurora refuses.
    pub fn parse(text: &str) -> Result<CronSchedule, CronError> {
        let err = |reason: String| CronError {
            schedule: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.starts_with('@') {
            return Err(err(
                "aliases such as @hourly are not supported; write the five fields".into(),
            ));
        }
        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(err(format!(
                "a schedule has 5 fields (minute hour day-of-month month day-of-week), this one has {}",
                fields.len()
            )));
        }
        for (i, f) in fields.iter().enumerate() {
            check_field(i, f).map_err(err)?;
        }
        if fields[2] != "*" && fields[4] != "*" {
            return Err(err(
                "it restricts both the day of the month and the day of the week; Aurora allows only one of them"
                    .into(),
            ));
        }
        let parser = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .year(croner::parser::Year::Disallowed)
            .build();
        let cron = parser
            .parse(&fields.join(" "))
            .map_err(|e| err(e.to_string()))?;
        Ok(CronSchedule {
            text: trimmed.to_owned(),
            cron,
        })
    }

    /// The schedule as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first firing strictly after `after_ms`, in time zone `tz`; `None` if there is none
    /// (a schedule such as `0 0 30 2 *` never fires).
    pub fn next_after(&self, after_ms: i64, tz: Tz) -> Option<i64> {
        let start: DateTime<Tz> =
            tz.from_utc_datetime(&DateTime::<Utc>::from_timestamp_millis(after_ms)?.naive_utc());
        self.cron
            .find_next_occurrence(&start, false)
            .ok()
            .map(|t| t.timestamp_millis())
    }

    /// The next `n` firings after `after_ms`.
    pub fn upcoming(&self, after_ms: i64, tz: Tz, n: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(n);
        let mut t = after_ms;
        while out.len() < n {
            match self.next_after(t, tz) {
                Some(next) => {
                    out.push(next);
                    t = next;
                }
                None => break,
            }
        }
        out
    }
}

/// What a firing does, given the job's collision policy and whether a run is still active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firing {
    /// Nothing runs: start the run now.
    Start,
    /// A run is active and the policy is KILL_EXISTING: kill it, then start the run once it ended.
    KillThenStart,
    /// A run is active and the policy is CANCEL_NEW: skip this firing.
    Skip,
}

/// Decides a firing. (RUN_OVERLAP is refused when a job is scheduled; a stored one acts as
/// CANCEL_NEW, as Aurora's does.)
pub fn on_fire(policy: CronCollisionPolicy, run_active: bool) -> Firing {
    match (run_active, policy) {
        (false, _) => Firing::Start,
        (true, CronCollisionPolicy::KillExisting) => Firing::KillThenStart,
        (true, CronCollisionPolicy::CancelNew | CronCollisionPolicy::RunOverlap) => Firing::Skip,
    }
}

/// The firing due at `now_ms`, if any: the first scheduled instant after `cursor_ms` (the last
/// firing, or when the job was scheduled or the scheduler started), provided it is not later than
/// `now_ms`. Only that one: firings missed in between are not replayed.
pub fn due(schedule: &CronSchedule, cursor_ms: i64, now_ms: i64, tz: Tz) -> Option<i64> {
    let next = schedule.next_after(cursor_ms, tz)?;
    (next <= now_ms).then(|| {
        // Several instants may have passed (a long pause): fire the latest one only.
        let mut latest = next;
        while let Some(n) = schedule.next_after(latest, tz) {
            if n > now_ms {
                break;
            }
            latest = n;
        }
        latest
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-25 (a Wednesday) at hh:mm UTC, in ms.
    fn at(day: u32, hh: u32, mm: u32) -> i64 {
        Utc.with_ymd_and_hms(2026, 11, day, hh, mm, 0)
            .unwrap()
            .timestamp_millis()
    }

    fn fires(schedule: &str, from: i64, n: usize) -> Vec<i64> {
        CronSchedule::parse(schedule)
            .unwrap()
            .upcoming(from, Tz::UTC, n)
    }

    #[test]
    fn every_minute_step_range_and_weekday_schedules_fire_at_the_right_instants() {
        let t = at(25, 10, 0) + 30_000; // 10:00:30
        assert_eq!(
            fires("* * * * *", t, 3),
            vec![at(25, 10, 1), at(25, 10, 2), at(25, 10, 3)]
        );
        assert_eq!(
            fires("*/15 * * * *", t, 3),
            vec![at(25, 10, 15), at(25, 10, 30), at(25, 10, 45)]
        );
        assert_eq!(
            fires("10-12 9 * * *", t, 4),
            vec![at(26, 9, 10), at(26, 9, 11), at(26, 9, 12), at(27, 9, 10)]
        );
        assert_eq!(
            fires("0 8-18/5 * * *", t, 3),
            vec![at(25, 13, 0), at(25, 18, 0), at(26, 8, 0)]
        );
        assert_eq!(
            fires("5,35 * * * *", t, 2),
            vec![at(25, 10, 5), at(25, 10, 35)]
        );
        // Weekdays: from Wednesday 25th, MON-FRI at 02:00 skips the weekend (28th, 29th).
        assert_eq!(
            fires("0 2 * * MON-FRI", t, 4),
            vec![
                at(26, 2, 0),
                at(27, 2, 0),
                at(30, 2, 0),
                Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0)
                    .unwrap()
                    .timestamp_millis()
            ]
        );
        assert_eq!(fires("0 0 * * sun", t, 1), vec![at(29, 0, 0)]);
        assert_eq!(
            fires("0 0 1 JAN,jul *", t, 1),
            vec![
                Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
                    .unwrap()
                    .timestamp_millis()
            ]
        );
        // Exactly on an instant: the next one, never the same again.
        assert_eq!(fires("* * * * *", at(25, 10, 1), 1), vec![at(25, 10, 2)]);
    }

    #[test]
    fn schedules_run_in_the_given_time_zone() {
        let s = CronSchedule::parse("0 2 * * *").unwrap();
        let zurich: Tz = "Europe/Zurich".parse().unwrap();
        // 02:00 in Zurich is 01:00 UTC in November (CET, UTC+1).
        assert_eq!(s.next_after(at(25, 12, 0), zurich), Some(at(26, 1, 0)));
    }

    #[test]
    fn what_aurora_refuses_is_refused_with_the_reason() {
        for (bad, why) in [
            ("@hourly", "aliases"),
            ("0 * * * * *", "5 fields"),
            ("* * *", "5 fields"),
            ("", "5 fields"),
            ("0 0 L * *", "'L'"),
            ("0 0 15W * *", "'15W'"),
            ("0 0 * * 5#3", "'5#3'"),
            ("0 0 ? * MON", "'?'"),
            (
                "0 0 1 * MON",
                "both the day of the month and the day of the week",
            ),
            ("0 0 */2 * 1-5", "both"),
            ("61 * * * *", "invalid cron schedule"),
            ("*/x * * * *", "step 'x'"),
            ("0 0 * FOO *", "'FOO'"),
            ("0 0 * * MON,", "empty list item"),
        ] {
            let e = CronSchedule::parse(bad).unwrap_err();
            assert!(e.to_string().contains(why), "{bad:?}: {e}");
            assert!(e.to_string().contains(&format!("'{bad}'")), "{e}");
        }
    }

    #[test]
    fn a_firing_is_due_once_and_missed_ones_are_not_replayed() {
        let s = CronSchedule::parse("* * * * *").unwrap();
        let tz = Tz::UTC;
        // Before the minute: nothing due. At or after it: that minute.
        assert_eq!(due(&s, at(25, 10, 0), at(25, 10, 0) + 59_999, tz), None);
        assert_eq!(
            due(&s, at(25, 10, 0), at(25, 10, 1), tz),
            Some(at(25, 10, 1))
        );
        assert_eq!(
            due(&s, at(25, 10, 0), at(25, 10, 1) + 700, tz),
            Some(at(25, 10, 1))
        );
        // Once fired (the cursor is the firing), the same minute is not due again.
        assert_eq!(due(&s, at(25, 10, 1), at(25, 10, 1) + 59_000, tz), None);
        // After a pause of several minutes, only the latest instant fires.
        assert_eq!(
            due(&s, at(25, 10, 1), at(25, 10, 5) + 10, tz),
            Some(at(25, 10, 5))
        );
    }

    #[test]
    fn collision_policies() {
        use CronCollisionPolicy::*;
        assert_eq!(on_fire(KillExisting, false), Firing::Start);
        assert_eq!(on_fire(CancelNew, false), Firing::Start);
        assert_eq!(on_fire(KillExisting, true), Firing::KillThenStart);
        assert_eq!(on_fire(CancelNew, true), Firing::Skip);
        assert_eq!(on_fire(RunOverlap, true), Firing::Skip);
    }
}
