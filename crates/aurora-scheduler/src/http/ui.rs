//! The web UI: server-rendered pages (askama templates in `templates/`) for roles, jobs, instances,
//! tasks, their logs and their sandboxes, plus the two assets they use (`assets/ui.css`,
//! `assets/ui.js`, compiled in: no CDN, nothing to install).
//!
//! Every page shows what a JSON API call returns (`views`, `http::sandbox`); the page models here
//! only turn those views into text: times relative and absolute, links, paging. The page models
//! are built under the state lock and rendered after it is released.
//!
//! URLs: `/scheduler`, `/scheduler/ROLE`, `/scheduler/ROLE/ENV`, `/scheduler/ROLE/ENV/JOB` (the one
//! `aurora job create` prints), `/task/TASK`, `/task/TASK/log?process=P&run=N&stream=S`,
//! `/task/TASK/files?path=P` and `/task/TASK/file?path=P`.

use super::error::ApiError;
use super::sandbox;
use crate::core::Core;
use crate::state::State;
use crate::views;
use askama::Template;
use aurora_api::{JobSummary, ProcessRecord, SandboxListing, TaskView};
use aurora_model::JobKey;
use aurora_model::time::{relative, utc_timestamp};
use axum::extract::{Path, Query, State as AxState};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

type Core_ = AxState<Arc<Core>>;

/// Instances per page of the job page, unless the URL asks otherwise (`per_page`).
pub const PAGE_SIZE: u32 = 100;
/// Finished tasks shown on the job page.
const HISTORY_SHOWN: usize = 50;
/// Runs of one process linked from the task page (the newest ones).
const RUNS_SHOWN: usize = 20;

/// A time, both ways: `rel` is shown, `abs` is the tooltip, `ms` lets the script keep `rel` fresh.
pub struct When {
    pub ms: i64,
    pub abs: String,
    pub rel: String,
}

impl When {
    fn new(ms: i64, now: i64) -> Self {
        When {
            ms,
            abs: format!("{} UTC", utc_timestamp(ms)),
            rel: relative(ms, now),
        }
    }
}

/// A breadcrumb link.
pub struct Crumb {
    pub href: String,
    pub label: String,
}

fn crumbs(parts: &[(&str, String)]) -> Vec<Crumb> {
    parts
        .iter()
        .map(|(label, href)| Crumb {
            href: href.clone(),
            label: (*label).to_owned(),
        })
        .collect()
}

/// `path?k=v&...`, values encoded.
fn link(path: &str, query: &[(&str, &str)]) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    format!("{path}?{q}")
}

fn job_href(k: &JobKey) -> String {
    format!("/scheduler/{}/{}/{}", k.role, k.environment, k.name)
}

fn task_href(task_id: &str) -> String {
    format!("/task/{task_id}")
}

/// Crumbs from the cluster down to a job.
fn job_crumbs(k: &JobKey) -> Vec<Crumb> {
    crumbs(&[
        (&k.role, format!("/scheduler/{}", k.role)),
        (
            &k.environment,
            format!("/scheduler/{}/{}", k.role, k.environment),
        ),
        (&k.name, job_href(k)),
    ])
}

fn render(page: impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => error_page(
            "",
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering the page failed: {e}"),
        ),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    cluster: &'a str,
    crumbs: Vec<Crumb>,
    status: u16,
    reason: &'a str,
    message: String,
}

fn error_page(cluster: &str, status: StatusCode, message: String) -> Response {
    let page = ErrorPage {
        cluster,
        crumbs: Vec::new(),
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or(""),
        message,
    };
    let html = page
        .render()
        .unwrap_or_else(|e| format!("<p>{status}: rendering the error failed: {e}</p>"));
    (status, Html(html)).into_response()
}

/// An API refusal shown as a page with the same status.
fn refused(core: &Core, e: ApiError) -> Response {
    error_page(&core.cluster, e.status, e.message)
}

// --- /scheduler --------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage<'a> {
    cluster: &'a str,
    crumbs: Vec<Crumb>,
    roles: Vec<aurora_api::RoleSummary>,
}

pub async fn index() -> Redirect {
    Redirect::to("/scheduler")
}

pub async fn roles(AxState(core): Core_) -> Response {
    let roles = views::role_summaries(&core.read());
    render(RolesPage {
        cluster: &core.cluster,
        crumbs: Vec::new(),
        roles,
    })
}

// --- /scheduler/ROLE[/ENV] ---------------------------------------------------------------------

/// A job in a role's listing.
pub struct JobRow {
    pub href: String,
    pub env_href: String,
    pub environment: String,
    pub name: String,
    pub kind: String,
    /// A cron job's next firing.
    pub next_run: Option<When>,
    pub instances: u32,
    pub counts: Vec<(String, u32)>,
}

fn kind(s: &JobSummary) -> String {
    match (&s.cron_schedule, s.service) {
        (Some(c), _) => format!("cron {c}"),
        (None, true) => "service".into(),
        (None, false) => "ad hoc".into(),
    }
}

/// When a cron job fires next, both ways.
fn next_run(s: &JobSummary, now: i64) -> Option<When> {
    s.next_cron_run_ms.map(|t| When::new(t, now))
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage<'a> {
    cluster: &'a str,
    crumbs: Vec<Crumb>,
    title: String,
    jobs: Vec<JobRow>,
}

fn jobs_page(core: &Core, role: String, env: Option<String>) -> Response {
    let summaries = views::job_summaries(&core.read(), Some(&role), env.as_deref());
    let now = core.now_ms();
    let jobs = summaries
        .into_iter()
        .map(|s| JobRow {
            next_run: next_run(&s, now),
            href: format!("/scheduler/{}/{}/{}", s.role, s.environment, s.name),
            env_href: format!("/scheduler/{}/{}", s.role, s.environment),
            kind: kind(&s),
            instances: s.instances,
            counts: s.task_counts.into_iter().collect(),
            environment: s.environment,
            name: s.name,
        })
        .collect();
    let mut parts = vec![(role.as_str(), format!("/scheduler/{role}"))];
    let title = match &env {
        Some(e) => {
            parts.push((e.as_str(), format!("/scheduler/{role}/{e}")));
            format!("{role}/{e}")
        }
        None => role.clone(),
    };
    render(JobsPage {
        cluster: &core.cluster,
        crumbs: crumbs(&parts),
        title,
        jobs,
    })
}

pub async fn role(AxState(core): Core_, Path(role): Path<String>) -> Response {
    jobs_page(&core, role, None)
}

pub async fn environment(
    AxState(core): Core_,
    Path((role, env)): Path<(String, String)>,
) -> Response {
    jobs_page(&core, role, Some(env))
}

// --- /scheduler/ROLE/ENV/JOB -------------------------------------------------------------------

/// One event in a timeline.
pub struct EventChip {
    pub status: String,
    pub when: When,
    pub message: String,
}

fn timeline(t: &TaskView, now: i64) -> Vec<EventChip> {
    t.events
        .iter()
        .map(|e| EventChip {
            status: e.status.clone(),
            when: When::new(e.timestamp_ms, now),
            message: e.message.clone().unwrap_or_default(),
        })
        .collect()
}

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
    cluster: &'a str,
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

fn update_href(k: &JobKey, id: &str) -> String {
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

/// The job page's model: page `page` (from 0) of its instances, `per_page` of them (at most
/// [`views::MAX_PAGE`]); `None` when there is no such job.
pub fn job_page<'a>(
    state: &State,
    cluster: &'a str,
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
    let rows = instances
        .instances
        .iter()
        .map(|t| InstanceRow {
            instance: t.instance,
            task_id: t.task_id.clone(),
            href: task_href(&t.task_id),
            status: t.status.clone(),
            host: t.host.clone().unwrap_or_default(),
            since: t.events.last().map(|e| When::new(e.timestamp_ms, now)),
            reason: t.pending_reason.clone().unwrap_or_default(),
            timeline: timeline(t, now),
            run: t.cron_run_ms.map(|r| When::new(r, now)),
        })
        .collect();
    let total = instances.total;
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
    let pager = Pager {
        first: (offset + 1).min(total),
        last: end.min(total),
        total,
        prev: (page > 0).then(|| page_link(page - 1)),
        next: (end < total).then(|| page_link(page + 1)),
    };
    let history = state
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
        .collect();
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
    let settings = vec![
        ("instances".to_owned(), total.to_string()),
        (
            "max_task_failures".into(),
            config.max_task_failures.to_string(),
        ),
        ("production".into(), config.production.to_string()),
        ("priority".into(), config.priority.to_string()),
        ("tier".into(), config.tier.clone().unwrap_or_default()),
        ("contact".into(), config.contact.clone().unwrap_or_default()),
    ];
    Some(JobPage {
        cluster,
        crumbs: job_crumbs(key),
        key: key.to_string(),
        kind: kind(&summary),
        api: aurora_api::job_path(key),
        counts: summary.task_counts.into_iter().collect(),
        rows,
        pager,
        resources: config.task.resources.summary(),
        processes: config
            .task
            .processes
            .iter()
            .map(|p| ProcessConfigRow {
                name: p.name.clone(),
                cmdline: p.cmdline.trim().to_owned(),
                traits: process_traits(p),
            })
            .collect(),
        constraints,
        settings,
        history,
        cron: views::cron_view(state, key, now).map(|c| CronSection {
            schedule: c.schedule,
            policy: c.collision_policy,
            timezone: c.timezone,
            next: c.next_runs_ms.iter().map(|t| When::new(*t, now)).collect(),
            last: c.last_run_ms.map(|t| When::new(t, now)),
            pending: c.pending_run_ms.map(|t| When::new(t, now)),
        }),
        updates: update_links(state, key, now),
    })
}

// --- /scheduler/ROLE/ENV/NAME/update/ID --------------------------------------------------------

#[derive(Template)]
#[template(path = "update.html")]
pub struct UpdatePage<'a> {
    cluster: &'a str,
    crumbs: Vec<Crumb>,
    key: String,
    job_href: String,
    id: String,
    api: String,
    status: String,
    kind: String,
    user: String,
    started: When,
    modified: When,
    progress: String,
    /// Share of instances done (succeeded or failed), for the bar: 0..=100.
    percent: u32,
    settings: Vec<(String, String)>,
    instances: Vec<UpdateInstanceRow>,
    events: Vec<UpdateEventRow>,
    instance_events: Vec<UpdateEventRow>,
    /// Unified diffs from each configuration instances ran before to the new one.
    diffs: Vec<(String, String)>,
}

/// One instance of an update on its page.
pub struct UpdateInstanceRow {
    pub instance: u32,
    pub change: String,
    pub phase: String,
    pub failures: u32,
    pub task: Option<(String, String)>,
}

/// One event of an update (its state, or an instance's action).
pub struct UpdateEventRow {
    pub when: When,
    pub what: String,
    pub detail: String,
}

/// The update page's model; `None` when the job has no such update.
pub fn update_page<'a>(
    state: &State,
    cluster: &'a str,
    key: &JobKey,
    id: &str,
    now: i64,
) -> Option<UpdatePage<'a>> {
    let u = state.updates.get(id).filter(|u| u.job == *key)?;
    let d = views::update_details(state, u);
    let st = &u.settings;
    let mut settings = vec![
        ("Strategy".to_owned(), st.strategy.describe()),
        (
            "Minimum waiting time in RUNNING".into(),
            format!("{} s", st.min_wait_in_running_ms / 1000),
        ),
        (
            "Max failures per instance".into(),
            st.max_per_instance_failures.to_string(),
        ),
        (
            "Max failed instances".into(),
            st.max_failed_instances.to_string(),
        ),
        (
            "Rollback on failure".into(),
            st.rollback_on_failure.to_string(),
        ),
    ];
    if let Some(p) = st.block_if_no_pulses_after_ms {
        settings.push(("Pulse interval".into(), format!("{} s", p / 1000)));
    }
    if let Some(only) = &st.update_only {
        let list: Vec<String> = only.iter().map(u32::to_string).collect();
        settings.push(("Only instances".into(), list.join(", ")));
    }
    let total = d.summary.progress.total.max(1);
    let percent = (d.summary.progress.succeeded + d.summary.progress.failed) * 100 / total;
    let instances = d
        .instances
        .iter()
        .map(|i| UpdateInstanceRow {
            instance: i.instance,
            change: i.change.clone(),
            phase: format!("{:?}", i.phase).to_lowercase(),
            failures: i.failures,
            task: i.task_id.clone().map(|t| (task_href(&t), t)),
        })
        .collect();
    let events = u
        .events
        .iter()
        .map(|e| UpdateEventRow {
            when: When::new(e.timestamp_ms, now),
            what: e.status.name().to_owned(),
            detail: [e.user.clone(), e.message.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": "),
        })
        .collect();
    let instance_events = u
        .instance_events
        .iter()
        .rev()
        .map(|e| UpdateEventRow {
            when: When::new(e.timestamp_ms, now),
            what: e.action.name().to_owned(),
            detail: format!("instance {}", e.instance),
        })
        .collect();
    let entry = state.jobs.get(key)?;
    let desired = entry
        .configs
        .get(&u.desired_config)
        .map(|c| pretty_config(c));
    let mut before: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (i, digest) in &u.initial {
        if *digest != u.desired_config {
            before.entry(digest.as_str()).or_default().push(*i);
        }
    }
    let diffs = match desired {
        Some(new) => before
            .into_iter()
            .filter_map(|(digest, instances)| {
                let old = pretty_config(entry.configs.get(digest)?);
                let list: Vec<String> = instances.iter().map(u32::to_string).collect();
                let text = similar::TextDiff::from_lines(&old, &new)
                    .unified_diff()
                    .header("before", "after")
                    .to_string();
                Some((list.join(", "), text))
            })
            .collect(),
        None => Vec::new(),
    };
    Some(UpdatePage {
        cluster,
        crumbs: {
            let mut c = job_crumbs(key);
            c.push(Crumb {
                href: update_href(key, id),
                label: format!("update {}", &id[..id.len().min(8)]),
            });
            c
        },
        key: key.to_string(),
        job_href: job_href(key),
        id: id.to_owned(),
        api: format!("/api/v1/updates/{id}"),
        status: u.status.name().to_owned(),
        kind: format!("{:?}", u.kind).to_lowercase(),
        user: u.user.clone(),
        started: When::new(d.summary.created_ms, now),
        modified: When::new(d.summary.last_modified_ms, now),
        progress: d.summary.progress.to_string(),
        percent,
        settings,
        instances,
        events,
        instance_events,
        diffs,
    })
}

fn pretty_config(c: &aurora_model::Job) -> String {
    let mut s = serde_json::to_string_pretty(&c.instance_config()).unwrap_or_default();
    s.push('\n');
    s
}

pub async fn update(
    AxState(core): Core_,
    Path((role, env, name, id)): Path<(String, String, String, String)>,
) -> Response {
    job_scoped_page(
        &core,
        (&role, &env, &name),
        |state, key| update_page(state, &core.cluster, key, &id, core.now_ms()),
        |key| format!("job {key} has no update {id}"),
    )
}

/// A page about a job named in the path: 400 for a bad key, 404 (saying `missing`) when `build`
/// finds nothing. The model is built under the state lock and rendered after it.
fn job_scoped_page<P: Template>(
    core: &Core,
    (role, env, name): (&str, &str, &str),
    build: impl FnOnce(&State, &JobKey) -> Option<P>,
    missing: impl FnOnce(&JobKey) -> String,
) -> Response {
    let key = match JobKey::new(role, env, name) {
        Ok(k) => k,
        Err(e) => return error_page(&core.cluster, StatusCode::BAD_REQUEST, e.to_string()),
    };
    let page = {
        let state = core.read();
        build(&state, &key)
    };
    match page {
        Some(p) => render(p),
        None => error_page(&core.cluster, StatusCode::NOT_FOUND, missing(&key)),
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<u32>,
    per_page: Option<u32>,
}

pub async fn job(
    AxState(core): Core_,
    Path((role, env, name)): Path<(String, String, String)>,
    Query(q): Query<PageQuery>,
) -> Response {
    job_scoped_page(
        &core,
        (&role, &env, &name),
        |state, key| {
            job_page(
                state,
                &core.cluster,
                key,
                q.page.unwrap_or(0),
                q.per_page.unwrap_or(PAGE_SIZE),
                core.now_ms(),
            )
        },
        |key| format!("job {key} does not exist"),
    )
}

// --- /task/TASK --------------------------------------------------------------------------------

/// A link to one run's output.
pub struct RunLink {
    pub run: u32,
    pub stdout: String,
    pub stderr: String,
    pub exit: String,
    pub started: When,
    pub ended: Option<When>,
}

/// One process of a task, with links to its runs' logs.
pub struct ProcessRow {
    pub name: String,
    pub state: String,
    pub runs: u32,
    pub last_exit: String,
    pub links: Vec<RunLink>,
}

fn log_href(task_id: &str, process: &str, run: u32, stream: &str) -> String {
    link(
        &format!("/task/{task_id}/log"),
        &[
            ("process", process),
            ("run", &run.to_string()),
            ("stream", stream),
        ],
    )
}

fn exit_text(code: Option<i32>) -> String {
    code.map_or_else(String::new, |c| c.to_string())
}

fn process_rows(task_id: &str, processes: Vec<ProcessRecord>, now: i64) -> Vec<ProcessRow> {
    processes
        .into_iter()
        .map(|p| ProcessRow {
            last_exit: exit_text(p.history.iter().rev().find_map(|r| r.exit_code)),
            links: p
                .history
                .iter()
                .rev()
                .take(RUNS_SHOWN)
                .map(|r| RunLink {
                    run: r.run,
                    stdout: log_href(task_id, &p.name, r.run, "stdout"),
                    stderr: log_href(task_id, &p.name, r.run, "stderr"),
                    exit: exit_text(r.exit_code),
                    started: When::new(r.started_ms, now),
                    ended: r.ended_ms.map(|e| When::new(e, now)),
                })
                .collect(),
            name: p.name,
            state: p.state,
            runs: p.runs,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "task.html")]
struct TaskPage<'a> {
    cluster: &'a str,
    crumbs: Vec<Crumb>,
    task: TaskView,
    instance_of: String,
    job_href: String,
    host: String,
    ports: Vec<(String, u16)>,
    events: Vec<EventChip>,
    processes: Vec<ProcessRow>,
    /// Why the processes could not be shown (the task has not run yet, its agent is away).
    processes_note: String,
    files: String,
}

pub async fn task(AxState(core): Core_, Path(task_id): Path<String>) -> Response {
    let found = {
        let state = core.read();
        state
            .tasks
            .get(&task_id)
            .map(|t| (views::task_view(&state, t), t.job.clone()))
    };
    let Some((view, key)) = found else {
        return error_page(
            &core.cluster,
            StatusCode::NOT_FOUND,
            format!("task {task_id} does not exist"),
        );
    };
    let now = core.now_ms();
    let (processes, processes_note) = if view.agent_id.is_none() {
        (
            Vec::new(),
            "The task has not been placed on an agent yet.".to_owned(),
        )
    } else {
        let fetched = match sandbox::agent_url(&core, &task_id, "processes", &[]) {
            Ok(url) => sandbox::fetch_json::<Vec<ProcessRecord>>(&core, url).await,
            Err(e) => Err(e),
        };
        match fetched {
            Ok(p) => (process_rows(&task_id, p, now), String::new()),
            Err(e) => (Vec::new(), e.message),
        }
    };
    let mut c = job_crumbs(&key);
    c.push(Crumb {
        href: task_href(&task_id),
        label: format!("instance {}", view.instance),
    });
    render(TaskPage {
        cluster: &core.cluster,
        crumbs: c,
        instance_of: format!("{}/{}", key, view.instance),
        job_href: job_href(&key),
        host: view.host.clone().unwrap_or_default(),
        ports: view.ports.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        events: timeline(&view, now),
        processes,
        processes_note,
        files: format!("/task/{task_id}/files"),
        task: view,
    })
}

// --- logs and files -----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage<'a> {
    cluster: &'a str,
    crumbs: Vec<Crumb>,
    title: String,
    /// The API URL the viewer reads (it adds `tail` or `offset`).
    src: String,
    download: String,
    /// The other stream of the same run, for a log; `None` for a plain file.
    other: Option<(String, String)>,
}

/// Crumbs down to a task, for its log and file pages.
fn task_crumbs(core: &Core, task_id: &str) -> Result<Vec<Crumb>, ApiError> {
    let state = core.read();
    let t = state
        .tasks
        .get(task_id)
        .ok_or_else(|| ApiError::not_found(format!("task {task_id} does not exist")))?;
    let mut c = job_crumbs(&t.job);
    c.push(Crumb {
        href: task_href(task_id),
        label: format!("instance {}", t.instance),
    });
    Ok(c)
}

#[derive(Deserialize)]
pub struct LogQuery {
    process: String,
    run: u32,
    stream: Option<String>,
}

pub async fn log(
    AxState(core): Core_,
    Path(task_id): Path<String>,
    Query(q): Query<LogQuery>,
) -> Response {
    let stream = q.stream.unwrap_or_else(|| "stdout".into());
    if stream != "stdout" && stream != "stderr" {
        return error_page(
            &core.cluster,
            StatusCode::BAD_REQUEST,
            format!("stream must be stdout or stderr, got '{stream}'"),
        );
    }
    let crumbs = match task_crumbs(&core, &task_id) {
        Ok(c) => c,
        Err(e) => return refused(&core, e),
    };
    let run = q.run.to_string();
    let process = q.process.as_str();
    let other = if stream == "stdout" {
        "stderr"
    } else {
        "stdout"
    };
    render(LogPage {
        cluster: &core.cluster,
        crumbs,
        title: format!("{process} · run {run} · {stream}"),
        src: link(
            &format!("/api/v1/tasks/{task_id}/logs"),
            &[("process", process), ("run", &run), ("stream", &stream)],
        ),
        download: link(
            &format!("/api/v1/tasks/{task_id}/files/content"),
            &[
                ("path", &format!(".logs/{process}/{run}/{stream}")),
                ("download", "true"),
            ],
        ),
        other: Some((other.to_owned(), log_href(&task_id, process, q.run, other))),
    })
}

#[derive(Deserialize)]
pub struct PathQuery {
    #[serde(default)]
    path: String,
}

/// A sandbox path from the URL, checked, and the crumbs down to its task.
fn sandbox_target(
    core: &Core,
    task_id: &str,
    path: &str,
) -> Result<(String, Vec<Crumb>), ApiError> {
    Ok((sandbox::check_path(path)?, task_crumbs(core, task_id)?))
}

pub async fn file(
    AxState(core): Core_,
    Path(task_id): Path<String>,
    Query(q): Query<PathQuery>,
) -> Response {
    let (path, crumbs) = match sandbox_target(&core, &task_id, &q.path) {
        Ok(t) => t,
        Err(e) => return refused(&core, e),
    };
    let content = format!("/api/v1/tasks/{task_id}/files/content");
    render(LogPage {
        cluster: &core.cluster,
        crumbs,
        src: link(&content, &[("path", &path)]),
        download: link(&content, &[("path", &path), ("download", "true")]),
        title: path,
        other: None,
    })
}

/// One entry of a sandbox folder.
pub struct FileRow {
    pub name: String,
    pub href: String,
    pub dir: bool,
    pub size: String,
    pub modified: When,
    pub download: String,
}

#[derive(Template)]
#[template(path = "files.html")]
struct FilesPage<'a> {
    cluster: &'a str,
    crumbs: Vec<Crumb>,
    task_id: String,
    /// The folder's own path, as links from the sandbox down.
    trail: Vec<Crumb>,
    entries: Vec<FileRow>,
}

/// Bytes for people: `512 B`, `3.2 KiB`, `1.5 GiB`.
fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub async fn files(
    AxState(core): Core_,
    Path(task_id): Path<String>,
    Query(q): Query<PathQuery>,
) -> Response {
    let (path, crumbs) = match sandbox_target(&core, &task_id, &q.path) {
        Ok(t) => t,
        Err(e) => return refused(&core, e),
    };
    let listing: SandboxListing =
        match sandbox::agent_url(&core, &task_id, "files", &[("path", path.clone())]) {
            Ok(url) => match sandbox::fetch_json(&core, url).await {
                Ok(l) => l,
                Err(e) => return refused(&core, e),
            },
            Err(e) => return refused(&core, e),
        };
    let now = core.now_ms();
    let folder = format!("/task/{task_id}/files");
    let mut trail = vec![Crumb {
        href: folder.clone(),
        label: "sandbox".into(),
    }];
    let mut so_far = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if !so_far.is_empty() {
            so_far.push('/');
        }
        so_far.push_str(part);
        trail.push(Crumb {
            href: link(&folder, &[("path", &so_far)]),
            label: part.to_owned(),
        });
    }
    let entries = listing
        .entries
        .into_iter()
        .map(|e| {
            let child = if path.is_empty() {
                e.name.clone()
            } else {
                format!("{path}/{}", e.name)
            };
            FileRow {
                href: if e.dir {
                    link(&folder, &[("path", &child)])
                } else {
                    link(&format!("/task/{task_id}/file"), &[("path", &child)])
                },
                download: link(
                    &format!("/api/v1/tasks/{task_id}/files/content"),
                    &[("path", &child), ("download", "true")],
                ),
                size: if e.dir {
                    String::new()
                } else {
                    size_text(e.size)
                },
                modified: When::new(e.modified_ms, now),
                dir: e.dir,
                name: e.name,
            }
        })
        .collect();
    render(FilesPage {
        cluster: &core.cluster,
        crumbs,
        task_id,
        trail,
        entries,
    })
}

// --- login -------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    cluster: &'a str,
    crumbs: Vec<Crumb>,
    reason: String,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    reason: String,
}

pub async fn login_page(AxState(core): Core_, Query(q): Query<LoginQuery>) -> Response {
    render(LoginPage {
        cluster: &core.cluster,
        crumbs: Vec::new(),
        reason: q.reason,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
}

/// A pasted token becomes the session cookie (HttpOnly, SameSite=Strict: no other site can make
/// the browser use it), after the scheduler checked it.
pub async fn login(
    AxState(core): Core_,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    // A form posted from another site (login CSRF) is refused: its Origin is not this host.
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
        if origin != "null" && origin_host != host {
            return error_page(
                &core.cluster,
                StatusCode::FORBIDDEN,
                format!("a login form from {origin} is refused: log in from this site"),
            );
        }
    }
    let token = form.token.trim().to_owned();
    let from = aurora_auth::token::canonical(peer.ip());
    match super::auth::user_of_token(&core, &token, from) {
        Ok(_) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, "/scheduler".to_owned()),
                (
                    header::SET_COOKIE,
                    format!(
                        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=86400{}",
                        super::auth::SESSION_COOKIE,
                        if core.auth.secure_cookies {
                            "; Secure"
                        } else {
                            ""
                        }
                    ),
                ),
            ],
        )
            .into_response(),
        Err(d) => {
            let page = LoginPage {
                cluster: &core.cluster,
                crumbs: Vec::new(),
                reason: d.to_string(),
            };
            match page.render() {
                Ok(html) => (StatusCode::UNAUTHORIZED, Html(html)).into_response(),
                Err(e) => error_page(
                    &core.cluster,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    e.to_string(),
                ),
            }
        }
    }
}

// --- assets ------------------------------------------------------------------------------------

pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("../../assets/ui.css"),
    )
}

pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("../../assets/ui.js"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aurora_model::task::{ScheduleStatus, ScheduledTask, TaskEvent};

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
    fn sizes_and_links() {
        assert_eq!(size_text(512), "512 B");
        assert_eq!(size_text(3 * 1024 + 200), "3.2 KiB");
        assert_eq!(size_text(3 << 30), "3.0 GiB");
        assert_eq!(
            link("/task/t/files", &[("path", ".logs/a b&c")]),
            "/task/t/files?path=.logs%2Fa+b%26c"
        );
        assert_eq!(link("/x", &[]), "/x");
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
