//! `/scheduler/ROLE/ENV/JOB`: a job's page, paged through its instances, with its configuration,
//! cron schedule, updates and finished tasks. One update's page is `update`.

use super::roles::kind;
use super::{
    AppState, Crumb, EventChip, PAGE_SIZE, When, job_crumbs, job_href, job_scoped_page, link,
    task_href, timeline,
};
use crate::http::ui::Header;
use crate::state::State;
use crate::views;
use askama::Template;
use aurora_api::InstancePage;
use aurora_model::JobKey;
use axum::extract::{Query, State as AxState};
use axum::response::Response;
use serde::Deserialize;

/// Finished tasks shown on the job page.
const HISTORY_SHOWN: usize = 50;

/// One instance row.
pub struct InstanceRow {
    pub instance: u32,
    pub task_id: String,
    pub href: String,
    pub status: String,
    pub host: String,
    pub since: Option<When>,
    pub reason: String,
    pub timeline: Vec<EventChip>,
    /// The cron run the task belongs to.
    pub run: Option<When>,
}

/// One finished task.
pub struct HistoryRow {
    pub instance: u32,
    pub task_id: String,
    pub href: String,
    pub status: String,
    pub ended: Option<When>,
    pub reason: String,
    pub run: Option<When>,
}

/// One process of the configuration.
pub struct ProcessConfigRow {
    pub name: String,
    pub cmdline: String,
    pub traits: String,
}

/// Where the page is in the instance list.
pub struct Pager {
    pub first: u32,
    pub last: u32,
    pub total: u32,
    pub prev: Option<String>,
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "job.html")]
pub struct JobPage<'a> {
    cluster: Header<'a>,
    crumbs: Vec<Crumb>,
    key: String,
    kind: String,
    api: String,
    counts: Vec<(String, u32)>,
    rows: Vec<InstanceRow>,
    pager: Pager,
    resources: String,
    processes: Vec<ProcessConfigRow>,
    constraints: Vec<(String, String)>,
    settings: Vec<(String, String)>,
    history: Vec<HistoryRow>,
    cron: Option<CronSection>,
    /// The active update first, then recent ones.
    updates: Vec<UpdateLink>,
}

/// An update listed on its job's page.
pub struct UpdateLink {
    pub id: String,
    pub href: String,
    pub status: String,
    pub active: bool,
    pub kind: String,
    pub user: String,
    pub started: When,
    pub progress: String,
}

pub(super) fn update_href(k: &JobKey, id: &str) -> String {
    format!("{}/update/{id}", job_href(k))
}

fn update_links(state: &State, key: &JobKey, now: i64) -> Vec<UpdateLink> {
    state
        .updates_of(key)
        .into_iter()
        .map(|u| {
            let s = views::update_summary(state, u);
            UpdateLink {
                href: update_href(key, &u.id),
                id: u.id.clone(),
                status: u.status.name().to_owned(),
                active: u.status.is_active(),
                kind: format!("{:?}", u.kind).to_lowercase(),
                user: u.user.clone(),
                started: When::new(s.created_ms, now),
                progress: s.progress.to_string(),
            }
        })
        .collect()
}

/// A cron job's schedule on its page.
pub struct CronSection {
    pub schedule: String,
    pub policy: String,
    pub timezone: String,
    pub next: Vec<When>,
    pub last: Option<When>,
    pub pending: Option<When>,
}

fn cron_section(state: &State, key: &JobKey, now: i64) -> Option<CronSection> {
    views::cron_view(state, key, now).map(|c| CronSection {
        schedule: c.schedule,
        policy: c.collision_policy,
        timezone: c.timezone,
        next: c.next_runs_ms.iter().map(|t| When::new(*t, now)).collect(),
        last: c.last_run_ms.map(|t| When::new(t, now)),
        pending: c.pending_run_ms.map(|t| When::new(t, now)),
    })
}

fn process_traits(p: &aurora_model::config::Process) -> String {
    let mut t = Vec::new();
    if p.daemon {
        t.push("daemon".to_owned());
    }
    if p.ephemeral {
        t.push("ephemeral".into());
    }
    if p.final_ {
        t.push("final".into());
    }
    if p.max_failures != 1 {
        t.push(format!("max_failures={}", p.max_failures));
    }
    if p.min_duration != 5 {
        t.push(format!("min_duration={}s", p.min_duration));
    }
    t.join(", ")
}

fn process_config_rows(config: &aurora_model::Job) -> Vec<ProcessConfigRow> {
    config
        .task
        .processes
        .iter()
        .map(|p| ProcessConfigRow {
            name: p.name.clone(),
            cmdline: p.cmdline.trim().to_owned(),
            traits: process_traits(p),
        })
        .collect()
}

fn instance_rows(instances: &InstancePage, now: i64) -> Vec<InstanceRow> {
    instances
        .instances
        .iter()
        .map(|t| InstanceRow {
            instance: t.instance,
            task_id: t.task_id.clone(),
            href: task_href(&t.task_id),
            status: t.status.name().to_owned(),
            host: t.host.clone().unwrap_or_default(),
            since: t.events.last().map(|e| When::new(e.timestamp_ms, now)),
            reason: t.pending_reason.clone().unwrap_or_default(),
            timeline: timeline(t, now),
            run: t.cron_run_ms.map(|r| When::new(r, now)),
        })
        .collect()
}

/// Where page `page` of `per_page` instances (starting at `offset`) sits among `total`.
fn pager(key: &JobKey, page: u32, per_page: u32, offset: u32, total: u32) -> Pager {
    let here = job_href(key);
    let size = per_page.to_string();
    let page_link = |p: u32| {
        if per_page == PAGE_SIZE {
            link(&here, &[("page", &p.to_string())])
        } else {
            link(&here, &[("page", &p.to_string()), ("per_page", &size)])
        }
    };
    let end = offset.saturating_add(per_page);
    Pager {
        first: (offset + 1).min(total),
        last: end.min(total),
        total,
        prev: (page > 0).then(|| page_link(page - 1)),
        next: (end < total).then(|| page_link(page + 1)),
    }
}

fn history_rows(state: &State, key: &JobKey, now: i64) -> Vec<HistoryRow> {
    state
        .history(key)
        .into_iter()
        .take(HISTORY_SHOWN)
        .map(|t| {
            let last = t.events.last();
            HistoryRow {
                instance: t.instance,
                task_id: t.task_id.clone(),
                href: task_href(&t.task_id),
                status: t.status.name().to_owned(),
                ended: last.map(|e| When::new(e.timestamp_ms, now)),
                reason: last.and_then(|e| e.message.clone()).unwrap_or_default(),
                run: t.cron_run_ms.map(|r| When::new(r, now)),
            }
        })
        .collect()
}

/// The job's constraints: the job's own, then its task's ordering constraints.
fn constraints(config: &aurora_model::Job) -> Vec<(String, String)> {
    let mut constraints: Vec<(String, String)> = config
        .constraints
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    constraints.extend(
        config
            .task
            .constraints
            .iter()
            .map(|c| ("order".to_owned(), c.order.join(" → "))),
    );
    constraints
}

fn settings(config: &aurora_model::Job, total: u32) -> Vec<(String, String)> {
    vec![
        ("instances".to_owned(), total.to_string()),
        (
            "max_task_failures".into(),
            config.max_task_failures.to_string(),
        ),
        ("production".into(), config.production.to_string()),
        ("priority".into(), config.priority.to_string()),
        ("tier".into(), config.tier.clone().unwrap_or_default()),
        ("contact".into(), config.contact.clone().unwrap_or_default()),
    ]
}

/// The job page's model: page `page` (from 0) of its instances, `per_page` of them (at most
/// [`views::MAX_PAGE`]); `None` when there is no such job.
pub fn job_page<'a>(
    state: &State,
    cluster: impl Into<Header<'a>>,
    key: &JobKey,
    page: u32,
    per_page: u32,
    now: i64,
) -> Option<JobPage<'a>> {
    let summary = views::job_summary(state, key)?;
    let config = state.jobs.get(key)?.config.clone();
    let per_page = per_page.clamp(1, views::MAX_PAGE);
    let offset = page.saturating_mul(per_page);
    let instances = views::instance_page(state, key, offset, per_page)?;
    let total = instances.total;
    Some(JobPage {
        cluster: cluster.into(),
        crumbs: job_crumbs(key),
        key: key.to_string(),
        kind: kind(&summary),
        api: aurora_api::routes::job(key),
        counts: summary.task_counts.into_iter().collect(),
        rows: instance_rows(&instances, now),
        pager: pager(key, page, per_page, offset, total),
        resources: config.task.resources.summary(),
        processes: process_config_rows(&config),
        constraints: constraints(&config),
        settings: settings(&config, total),
        history: history_rows(state, key, now),
        cron: cron_section(state, key, now),
        updates: update_links(state, key, now),
    })
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<u32>,
    per_page: Option<u32>,
}

pub async fn job(
    AxState(app): AppState,
    key: Result<super::JobKeyPath, crate::http::error::ApiError>,
    Query(q): Query<PageQuery>,
) -> Response {
    let core = &app.core;
    job_scoped_page(
        core,
        key,
        |state, key| {
            job_page(
                state,
                core.header(),
                key,
                q.page.unwrap_or(0),
                q.per_page.unwrap_or(PAGE_SIZE),
                core.now_ms(),
            )
        },
        |key| format!("job {key} does not exist"),
    )
}

#[cfg(test)]
mod tests {
    use super::super::roles::next_run;
    use super::*;
    use aurora_model::task::{ScheduleStatus, ScheduledTask, TaskEvent};
    use aurora_model::time::utc_timestamp;

    const NOW: i64 = 1_795_000_000_000;

    /// A service with `n` running instances whose command line tries to inject markup.
    fn state(n: u32) -> (State, JobKey) {
        let mut job: aurora_model::Job = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../examples/hello_world.json"
            ))
            .unwrap(),
        )
        .unwrap();
        job.instances = i64::from(n);
        job.task.processes[0].cmdline = "echo '<script>alert(1)</script>'".into();
        let key = job.path().unwrap().key;
        let tasks = (0..n)
            .map(|i| ScheduledTask {
                task_id: format!("www-data-prod-hello-{i}-x"),
                job: key.clone(),
                instance: i,
                status: ScheduleStatus::Running,
                agent_id: Some("a".into()),
                host: Some("h".into()),
                ports: Vec::new(),
                failure_count: 0,
                ancestor_id: None,
                penalty_ms: None,
                cron_run_ms: None,
                config_digest: None,
                events: vec![TaskEvent {
                    timestamp_ms: NOW - 90_000,
                    status: ScheduleStatus::Running,
                    message: None,
                }],
            })
            .collect();
        (State::restore(vec![job], tasks), key)
    }

    #[test]
    fn the_job_page_is_paged() {
        let (s, key) = state(250);
        let first = job_page(&s, "c", &key, 0, PAGE_SIZE, NOW).unwrap();
        assert_eq!(first.rows.len(), 100);
        assert_eq!(
            (first.pager.first, first.pager.last, first.pager.total),
            (1, 100, 250)
        );
        assert_eq!(first.pager.prev, None);
        assert_eq!(
            first.pager.next.as_deref(),
            Some("/scheduler/www-data/prod/hello?page=1")
        );
        let last = job_page(&s, "c", &key, 2, PAGE_SIZE, NOW).unwrap();
        assert_eq!(last.rows.len(), 50);
        assert_eq!(last.rows[0].instance, 200);
        assert_eq!((last.pager.first, last.pager.last), (201, 250));
        assert_eq!(last.pager.next, None);
        let beyond = job_page(&s, "c", &key, 9, PAGE_SIZE, NOW).unwrap();
        assert!(beyond.rows.is_empty());
        let big = job_page(&s, "c", &key, 0, 10_000, NOW).unwrap();
        assert_eq!(
            big.rows.len(),
            250,
            "capped at MAX_PAGE, which is above 250"
        );
        assert_eq!(
            job_page(&s, "c", &key, 1, 60, NOW)
                .unwrap()
                .pager
                .next
                .as_deref(),
            Some("/scheduler/www-data/prod/hello?page=2&per_page=60")
        );
        let missing = JobKey::new("www-data", "prod", "nope").unwrap();
        assert!(job_page(&s, "c", &missing, 0, PAGE_SIZE, NOW).is_none());
    }

    #[test]
    fn pages_escape_what_users_wrote_and_show_times_both_ways() {
        let (s, key) = state(3);
        let html = job_page(&s, "c", &key, 0, PAGE_SIZE, NOW)
            .unwrap()
            .render()
            .unwrap();
        assert!(!html.contains("<script>alert"), "unescaped markup");
        assert!(html.contains("&#60;script&#62;alert") || html.contains("&lt;script&gt;alert"));
        // One chip per instance, and the job's count.
        assert_eq!(html.matches("class=\"state s-RUNNING\"").count(), 4);
        assert!(
            html.contains("title=\"2026-11-18 11:05:10 UTC\""),
            "absolute time"
        );
        assert!(html.contains(">1m ago<"), "relative time");
        assert!(html.contains("3 RUNNING"));
    }

    #[test]
    fn cron_jobs_show_their_schedule_next_runs_and_runs() {
        let mut s = State::default();
        let mut job: aurora_model::Job = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../examples/cron_report.json"
            ))
            .unwrap(),
        )
        .unwrap();
        job.instances = 1;
        let key = job.path().unwrap().key;
        let mut d = crate::state::Dirty::default();
        s.schedule_cron(job, NOW, &mut d).unwrap();
        let mut n = 0;
        let fire = NOW - NOW % 300_000 + 300_000; // the next */5 minute
        assert_eq!(
            s.cron_tick(
                fire,
                &mut || {
                    n += 1;
                    format!("u{n}")
                },
                &mut d
            ),
            1
        );
        let html = job_page(&s, "c", &key, 0, PAGE_SIZE, fire)
            .unwrap()
            .render()
            .unwrap();
        assert!(
            html.contains("Cron schedule") && html.contains("*/5 * * * *"),
            "{html}"
        );
        assert!(html.contains("KILL_EXISTING"));
        assert!(html.matches("<li>").count() >= 5, "five next runs");
        assert!(html.contains(&format!("{} UTC", utc_timestamp(fire + 300_000))));
        assert!(html.contains(">in 5m<"), "next run relative");
        // The run's task is listed with its run.
        assert!(html.contains(&format!(
            "title=\"{} UTC\">{} UTC<",
            utc_timestamp(fire),
            utc_timestamp(fire)
        )));
        // The listing shows it as cron with its next run.
        let summary = views::job_summary(&s, &key).unwrap();
        assert_eq!(kind(&summary), "cron */5 * * * *");
        assert_eq!(next_run(&summary, fire).unwrap().rel, "in 5m");
    }
}
