//! Cron fixtures (`tests/data/cron`): a schedule in a time zone, in; whether it is accepted, its
//! next firings after an instant, the firing due for each (cursor, now) pair, and what a firing
//! does under each collision policy, out. Instants are RFC 3339; firings are written in the
//! schedule's time zone, so the wall clock and the offset (daylight saving) both show.

mod common;

use aurora_model::config::CronCollisionPolicy;
use aurora_sched::cron::{CronSchedule, Firing, due, on_fire};
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the case shows, for people.
    #[allow(dead_code)]
    about: String,
    /// Absent for a case of collision policies only.
    #[serde(default)]
    schedule: Option<String>,
    /// An IANA zone (`cron_timezone`); UTC by default.
    #[serde(default = "utc")]
    timezone: String,
    #[serde(default)]
    upcoming: Option<UpcomingIn>,
    #[serde(default)]
    due: Vec<DueIn>,
    #[serde(default)]
    collisions: Vec<CollisionIn>,
}

fn utc() -> String {
    "UTC".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpcomingIn {
    after: String,
    count: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DueIn {
    /// The last firing, or when the job was scheduled or the scheduler started.
    cursor: String,
    now: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CollisionIn {
    policy: CronCollisionPolicy,
    run_active: bool,
}

#[derive(Default, Serialize)]
struct Outcome {
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upcoming: Option<Vec<String>>,
    /// Per (cursor, now) pair: the firing due, or `null`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    due: Vec<Option<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    collisions: Vec<CollisionOut>,
}

#[derive(Serialize)]
struct CollisionOut {
    policy: CronCollisionPolicy,
    run_active: bool,
    firing: &'static str,
}

fn ms(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not an RFC 3339 instant: {e}"))
        .timestamp_millis()
}

fn show(ms: i64, tz: Tz) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .expect("a firing is a representable instant")
        .with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn decide(case: Case) -> Outcome {
    let tz: Tz = case
        .timezone
        .parse()
        .unwrap_or_else(|e| panic!("time zone {:?}: {e}", case.timezone));
    let mut out = Outcome {
        collisions: case
            .collisions
            .iter()
            .map(|c| CollisionOut {
                policy: c.policy,
                run_active: c.run_active,
                firing: match on_fire(c.policy, c.run_active) {
                    Firing::Start => "start",
                    Firing::KillThenStart => "kill_then_start",
                    Firing::Skip => "skip",
                },
            })
            .collect(),
        ..Outcome::default()
    };
    let Some(text) = case.schedule else {
        return out;
    };
    let schedule = match CronSchedule::parse(&text) {
        Ok(s) => s,
        Err(e) => {
            out.refused = Some(e.to_string());
            return out;
        }
    };
    out.upcoming = case.upcoming.map(|u| {
        schedule
            .upcoming(ms(&u.after), tz, u.count)
            .into_iter()
            .map(|t| show(t, tz))
            .collect()
    });
    out.due = case
        .due
        .iter()
        .map(|d| due(&schedule, ms(&d.cursor), ms(&d.now), tz).map(|t| show(t, tz)))
        .collect();
    out
}

#[test]
fn cron_fixtures() {
    common::run("cron", decide);
}
