//! `/task/TASK`: one task's page: its events, ports, and its processes with links to each run's
//! logs (read from the agent that ran it). Logs and sandbox files themselves are `sandbox`.

use super::{
    AppState, Crumb, EventChip, When, error_page, job_crumbs, job_href, log_href, render,
    task_href, timeline,
};
use crate::http::sandbox;
use crate::http::ui::Header;
use crate::views;
use askama::Template;
use aurora_api::{ProcessRecord, TaskView};
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;

/// Runs of one process linked from the task page (the newest ones).
const RUNS_SHOWN: usize = 20;

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
    cluster: Header<'a>,
    crumbs: Vec<Crumb>,
    task: TaskView,
    /// The task's JSON (`GET /api/v1/tasks/TASK`).
    api: String,
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

pub async fn task(AxState(app): AppState, Path(task_id): Path<String>) -> Response {
    let core = &app.core;
    let found = {
        let state = core.read();
        state
            .tasks
            .get(&task_id)
            .map(|t| (views::task_view(&state, t), t.job.clone()))
    };
    let Some((view, key)) = found else {
        return error_page(
            core.header(),
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
        let fetched = match sandbox::agent_url(core, &task_id, "processes", &[]) {
            Ok(url) => sandbox::fetch_json::<Vec<ProcessRecord>>(&app, url).await,
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
        cluster: core.header(),
        crumbs: c,
        api: aurora_api::routes::task(&task_id),
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
