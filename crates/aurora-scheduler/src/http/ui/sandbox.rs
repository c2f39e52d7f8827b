//! A task's sandbox as pages: `/task/TASK/log` (one run's log of a process), `/task/TASK/files`
//! (a folder) and `/task/TASK/file` (a file). The pages read through the API
//! (`/api/v1/tasks/TASK/...`), which forwards to the agent (`http::sandbox`).

use super::{
    AppState, Crumb, When, error_page, job_crumbs, link, log_href, refused, render, task_href,
};
use crate::core::Core;
use crate::http::error::ApiError;
use crate::http::sandbox;
use crate::http::ui::Header;
use askama::Template;
use aurora_api::{SandboxListing, routes};
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage<'a> {
    cluster: Header<'a>,
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
    AxState(app): AppState,
    Path(task_id): Path<String>,
    Query(q): Query<LogQuery>,
) -> Response {
    let core = &app.core;
    let stream = q.stream.unwrap_or_else(|| "stdout".into());
    if stream != "stdout" && stream != "stderr" {
        return error_page(
            core.header(),
            StatusCode::BAD_REQUEST,
            format!("stream must be stdout or stderr, got '{stream}'"),
        );
    }
    let crumbs = match task_crumbs(core, &task_id) {
        Ok(c) => c,
        Err(e) => return refused(core, e),
    };
    let run = q.run.to_string();
    let process = q.process.as_str();
    let other = if stream == "stdout" {
        "stderr"
    } else {
        "stdout"
    };
    render(LogPage {
        cluster: core.header(),
        crumbs,
        title: format!("{process} · run {run} · {stream}"),
        src: link(
            &routes::task_logs(&task_id),
            &[("process", process), ("run", &run), ("stream", &stream)],
        ),
        download: link(
            &routes::task_file_content(&task_id),
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
    AxState(app): AppState,
    Path(task_id): Path<String>,
    Query(q): Query<PathQuery>,
) -> Response {
    let core = &app.core;
    let (path, crumbs) = match sandbox_target(core, &task_id, &q.path) {
        Ok(t) => t,
        Err(e) => return refused(core, e),
    };
    let content = routes::task_file_content(&task_id);
    render(LogPage {
        cluster: core.header(),
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
    cluster: Header<'a>,
    crumbs: Vec<Crumb>,
    task_id: String,
    /// The folder's own path, as links from the sandbox down.
    trail: Vec<Crumb>,
    entries: Vec<FileRow>,
}

/// Bytes for people: `512 B`, `3.2 KiB`, `1.5 GiB`.
pub(super) fn size_text(bytes: u64) -> String {
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
    AxState(app): AppState,
    Path(task_id): Path<String>,
    Query(q): Query<PathQuery>,
) -> Response {
    let core = &app.core;
    let (path, crumbs) = match sandbox_target(core, &task_id, &q.path) {
        Ok(t) => t,
        Err(e) => return refused(core, e),
    };
    let listing: SandboxListing =
        match sandbox::agent_url(core, &task_id, "files", &[("path", path.clone())]) {
            Ok(url) => match sandbox::fetch_json(&app, url).await {
                Ok(l) => l,
                Err(e) => return refused(core, e),
            },
            Err(e) => return refused(core, e),
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
                    &routes::task_file_content(&task_id),
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
        cluster: core.header(),
        crumbs,
        task_id,
        trail,
        entries,
    })
}
