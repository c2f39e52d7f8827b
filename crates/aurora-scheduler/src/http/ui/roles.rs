//! `/scheduler` (the roles), `/scheduler/ROLE` and `/scheduler/ROLE/ENV` (their jobs). A job's
//! own page is `job`.

use super::{AppState, Crumb, When, crumbs, render};
use crate::core::Core;
use crate::http::ui::Header;
use crate::views;
use askama::Template;
use aurora_api::JobSummary;
use axum::extract::{Path, State as AxState};
use axum::response::{Redirect, Response};

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage<'a> {
    cluster: Header<'a>,
    crumbs: Vec<Crumb>,
    roles: Vec<aurora_api::RoleSummary>,
}

pub async fn index() -> Redirect {
    Redirect::to("/scheduler")
}

pub async fn roles(AxState(app): AppState) -> Response {
    let core = &app.core;
    let roles = views::role_summaries(&core.read());
    render(RolesPage {
        cluster: core.header(),
        crumbs: Vec::new(),
        roles,
    })
}

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

pub(super) fn kind(s: &JobSummary) -> String {
    match (&s.cron_schedule, s.service) {
        (Some(c), _) => format!("cron {c}"),
        (None, true) => "service".into(),
        (None, false) => "ad hoc".into(),
    }
}

/// When a cron job fires next, both ways.
pub(super) fn next_run(s: &JobSummary, now: i64) -> Option<When> {
    s.next_cron_run_ms.map(|t| When::new(t, now))
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage<'a> {
    cluster: Header<'a>,
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
        cluster: core.header(),
        crumbs: crumbs(&parts),
        title,
        jobs,
    })
}

pub async fn role(AxState(app): AppState, Path(role): Path<String>) -> Response {
    let core = &app.core;
    jobs_page(core, role, None)
}

pub async fn environment(
    AxState(app): AppState,
    Path((role, env)): Path<(String, String)>,
) -> Response {
    let core = &app.core;
    jobs_page(core, role, Some(env))
}
