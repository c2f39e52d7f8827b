//! How job status and URLs are printed: pure functions over the API's types, tested alone.

use aurora_api::{CronView, JobDetails, TaskView};
use std::fmt::Write;

/// `<base>/scheduler[/role[/env[/name]]]`.
pub fn web_url(base: &str, parts: &[&str]) -> String {
    let mut u = format!("{}/scheduler", base.trim_end_matches('/'));
    for p in parts {
        u.push('/');
        u.push_str(p);
    }
    u
}

use aurora_model::config::Resources;
pub use aurora_model::time::utc_timestamp as timestamp;

/// Aurora's resource line: `CPU: 1.0 core(s), RAM: 128 MB, Disk: 128 MB`.
pub fn resources(r: &Resources) -> String {
    r.summary()
}

fn is_active(t: &TaskView) -> bool {
    !t.status.is_terminal()
}

/// Splits a job's tasks into active and inactive ones.
pub fn split(details: &JobDetails) -> (Vec<&TaskView>, Vec<&TaskView>) {
    details.tasks.iter().partition(|t| is_active(t))
}

fn write_task(out: &mut String, t: &TaskView, details: &JobDetails) {
    let (role, env, name) = (
        &details.summary.role,
        &details.summary.environment,
        &details.summary.name,
    );
    let host = t
        .host
        .as_deref()
        .map(|h| format!(" on {h}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\tTask role: {role}, env: {env}, name: {name}, instance: {}, status: {}{host}",
        t.instance, t.status
    );
    let _ = writeln!(out, "\t  task id: {}", t.task_id);
    if let Some(r) = &t.pending_reason {
        let _ = writeln!(out, "\t  pending reason: {r}");
    }
    let _ = writeln!(out, "\t  {}", resources(&details.config.task.resources));
    if !t.ports.is_empty() {
        let ports: Vec<String> = t.ports.iter().map(|(n, p)| format!("{n}: {p}")).collect();
        let _ = writeln!(out, "\t  ports: {}", ports.join(", "));
    }
    if t.failure_count > 0 {
        let _ = writeln!(out, "\t  failure count: {}", t.failure_count);
    }
    let _ = writeln!(out, "\t  events:");
    for e in &t.events {
        let msg = e
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        let _ = writeln!(out, "\t   {} {}{msg}", timestamp(e.timestamp_ms), e.status);
    }
}

/// `aurora job status` for one job.
pub fn status(key: &str, details: &JobDetails) -> String {
    let (active, inactive) = split(details);
    let mut out = String::new();
    let _ = writeln!(out, "Job: {key}");
    let _ = writeln!(out, "Active tasks ({}):", active.len());
    for t in &active {
        write_task(&mut out, t, details);
    }
    let _ = writeln!(out, "Inactive tasks ({}):", inactive.len());
    for t in &inactive {
        write_task(&mut out, t, details);
    }
    out
}

/// Shell-style matching of `*` and `?`, for `job list` and `job status` wildcards.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `aurora cron show`: Aurora's line (`KEY\t SCHEDULE`), then the policy, the next firings, and
/// the runs kept with their tasks by state.
pub fn cron(key: &aurora_model::JobPath, v: &CronView, now_ms: i64) -> String {
    use aurora_model::time::relative;
    let mut out = format!("{key}\t {}\n", v.schedule);
    let _ = writeln!(out, "  collision policy: {}", v.collision_policy);
    let _ = writeln!(out, "  time zone: {}", v.timezone);
    let _ = writeln!(out, "  next runs:");
    for t in &v.next_runs_ms {
        let _ = writeln!(out, "    {} UTC ({})", timestamp(*t), relative(*t, now_ms));
    }
    if let Some(p) = v.pending_run_ms {
        let _ = writeln!(
            out,
            "  waiting: the run of {} UTC starts once the previous run has been killed",
            timestamp(p)
        );
    }
    if v.runs.is_empty() {
        let _ = writeln!(out, "  runs: none yet");
    } else {
        let _ = writeln!(out, "  runs:");
        for r in &v.runs {
            let counts: Vec<String> = r
                .task_counts
                .iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect();
            let _ = writeln!(
                out,
                "    {} UTC ({}): {}",
                timestamp(r.run_ms),
                relative(r.run_ms, now_ms),
                counts.join(", ")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_times() {
        assert_eq!(
            web_url("http://h:8081/", &["www-data", "prod", "hello"]),
            "http://h:8081/scheduler/www-data/prod/hello"
        );
        assert_eq!(web_url("http://h", &[]), "http://h/scheduler");
        assert_eq!(timestamp(0), "1970-01-01 00:00:00");
        assert_eq!(timestamp(1_795_000_000_000), "2026-11-18 11:06:40");
    }

    #[test]
    fn globs() {
        assert!(glob("*", "anything"));
        assert!(glob("www-*", "www-data"));
        assert!(glob("h?llo", "hello"));
        assert!(!glob("www-*", "root"));
        assert!(glob("*a*b", "xxaxxb"));
        assert!(!glob("a", ""));
    }

    #[test]
    fn cron_show_lists_the_schedule_next_runs_and_runs() {
        let key: aurora_model::JobPath = "devcluster/www-data/prod/report".parse().unwrap();
        let now = 1_795_000_000_000; // 2026-11-18 11:06:40
        let v = CronView {
            job: "www-data/prod/report".into(),
            schedule: "*/5 * * * *".into(),
            collision_policy: "KILL_EXISTING".into(),
            timezone: "UTC".into(),
            next_runs_ms: vec![now + 200_000, now + 500_000],
            last_run_ms: Some(now - 100_000),
            pending_run_ms: None,
            runs: vec![aurora_api::CronRunView {
                run_ms: now - 100_000,
                task_counts: [("FINISHED".to_owned(), 2)].into_iter().collect(),
            }],
        };
        assert_eq!(
            cron(&key, &v, now),
            "devcluster/www-data/prod/report\t */5 * * * *\n  collision policy: KILL_EXISTING\n  time zone: UTC\n  next runs:\n    2026-11-18 11:10:00 UTC (in 3m)\n    2026-11-18 11:15:00 UTC (in 8m)\n  runs:\n    2026-11-18 11:05:00 UTC (1m ago): 2 FINISHED\n"
        );
    }
}
