//! The web UI: server-rendered pages (askama templates in `templates/`) for roles, jobs, updates,
//! instances, tasks, their logs and their sandboxes, and the login page, plus the two assets they
//! use (`assets/ui.css`, `assets/ui.js`, compiled in: no CDN, nothing to install). One file per
//! page family; this one holds what they share (times both ways, crumbs, links, rendering, error
//! pages).
//!
//! Every page shows what a JSON API call returns (`views`, `http::sandbox`); the page models here
//! only turn those views into text: times relative and absolute, links, paging. The page models
//! are built under the state lock and rendered after it is released.
//!
//! URLs: `/scheduler`, `/scheduler/ROLE`, `/scheduler/ROLE/ENV`, `/scheduler/ROLE/ENV/JOB` (the one
//! `aurora job create` prints), `/task/TASK`, `/task/TASK/log?process=P&run=N&stream=S`,
//! `/task/TASK/files?path=P` and `/task/TASK/file?path=P`.

mod assets;
mod job;
mod login;
mod roles;
mod sandbox;
mod task;
mod update;

pub use assets::{css, js};
pub use job::{JobPage, job, job_page};
pub use login::{login, login_page};
pub use roles::{environment, index, role, roles};
pub use sandbox::{file, files, log};
pub use task::task;
pub use update::{UpdatePage, update, update_page};

use super::api::JobKeyPath;
use super::app::App;
use super::error::ApiError;
use crate::core::Core;
use crate::state::State;
use askama::Template;
use aurora_api::TaskView;
use aurora_model::JobKey;
use aurora_model::time::{relative, utc_timestamp};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

/// The state every page handler takes.
type AppState = axum::extract::State<Arc<App>>;

/// Instances per page of the job page, unless the URL asks otherwise (`per_page`).
pub const PAGE_SIZE: u32 = 100;

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
            "".into(),
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering the page failed: {e}"),
        ),
    }
}

/// What every page's header says of the cluster: its name, and, with several schedulers, the
/// one leading (the one serving the page).
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    pub name: &'a str,
    pub leader: Option<&'a str>,
}

impl std::fmt::Display for Header<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl<'a> From<&'a str> for Header<'a> {
    fn from(name: &'a str) -> Self {
        Header { name, leader: None }
    }
}

impl Core {
    /// This scheduler's page header.
    pub fn header(&self) -> Header<'_> {
        Header {
            name: &self.cluster,
            leader: self.leading_as.get().map(String::as_str),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    cluster: Header<'a>,
    crumbs: Vec<Crumb>,
    status: u16,
    reason: &'a str,
    message: String,
}

fn error_page(cluster: Header<'_>, status: StatusCode, message: String) -> Response {
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
    error_page(core.header(), e.status, e.message)
}

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
            status: e.status.name().to_owned(),
            when: When::new(e.timestamp_ms, now),
            message: e.message.clone().unwrap_or_default(),
        })
        .collect()
}

/// The page of one run's log of a process.
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

/// A page about a job named in the path: 400 for a bad key, 404 (saying `missing`) when `build`
/// finds nothing. The model is built under the state lock and rendered after it.
fn job_scoped_page<P: Template>(
    core: &Core,
    key: Result<JobKeyPath, ApiError>,
    build: impl FnOnce(&State, &JobKey) -> Option<P>,
    missing: impl FnOnce(&JobKey) -> String,
) -> Response {
    let key = match key {
        Ok(JobKeyPath(k)) => k,
        Err(e) => return refused(core, e),
    };
    let page = {
        let state = core.read();
        build(&state, &key)
    };
    match page {
        Some(p) => render(p),
        None => error_page(core.header(), StatusCode::NOT_FOUND, missing(&key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_links() {
        assert_eq!(sandbox::size_text(512), "512 B");
        assert_eq!(sandbox::size_text(3 * 1024 + 200), "3.2 KiB");
        assert_eq!(sandbox::size_text(3 << 30), "3.0 GiB");
        assert_eq!(
            link("/task/t/files", &[("path", ".logs/a b&c")]),
            "/task/t/files?path=.logs%2Fa+b%26c"
        );
        assert_eq!(link("/x", &[]), "/x");
    }
}
