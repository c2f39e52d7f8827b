//! Serving what is in task sandboxes to the scheduler (never to anyone else: the scheduler is the
//! only client, and it forwards to browsers and the CLI). Under `/tasks/TASK`:
//!
//! - `logs?process=P&stream=stdout&run=N&offset=B&tail=L`: a process run's output, which lives at
//!   `<sandbox>/.logs/<process>/<run>/<stream>`; the latest run when `run` is absent.
//! - `processes`: the executor's process report (states, runs, exit codes, times).
//! - `files?path=P`: a folder's listing; `files/content?path=P&offset=B&tail=L&download=1`: a
//!   file's bytes, a chunk or its last lines (header `X-Log-Offset`: the offset after them), or
//!   the whole file as a download.
//!
//! Every name and path from the URL goes through `sandbox`, so nothing outside a task's sandbox
//! can be read. Reading is chunked (`MAX_CHUNK`) so a huge log costs one bounded read per request.

use crate::sandbox::{self, PathError, safe_component};
use aurora_api::{SandboxEntry, SandboxListing};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

/// The most one request returns: a follower asks again from the new offset.
const MAX_CHUNK: u64 = 1 << 20;

/// At most this many entries of one folder are listed.
const MAX_ENTRIES: usize = 10_000;

type Root = State<Arc<PathBuf>>;

fn error(status: StatusCode, message: String) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

fn refused(e: PathError) -> Response {
    error(StatusCode::BAD_REQUEST, e.to_string())
}

fn io_error(what: &str, e: std::io::Error) -> Response {
    if e.kind() == std::io::ErrorKind::NotFound {
        error(StatusCode::NOT_FOUND, format!("{what} does not exist"))
    } else {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading {what}: {e}"),
        )
    }
}

/// The router, serving the sandboxes under `sandboxes`.
pub fn router(sandboxes: PathBuf) -> Router {
    Router::new()
        .route("/tasks/{task_id}/logs", get(read_log))
        .route("/tasks/{task_id}/processes", get(processes))
        .route("/tasks/{task_id}/files", get(list))
        .route("/tasks/{task_id}/files/content", get(content))
        .with_state(Arc::new(sandboxes))
}

#[derive(Deserialize)]
pub struct LogQuery {
    process: String,
    stream: Option<String>,
    run: Option<u32>,
    offset: Option<u64>,
    tail: Option<usize>,
}

async fn read_log(
    State(root): Root,
    Path(task_id): Path<String>,
    Query(q): Query<LogQuery>,
) -> Response {
    let stream = q.stream.unwrap_or_else(|| "stdout".into());
    if !safe_component(&task_id)
        || !safe_component(&q.process)
        || !(stream == "stdout" || stream == "stderr")
    {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid task, process or stream name".into(),
        );
    }
    let dir = root.join(&task_id).join(".logs").join(&q.process);
    let run = match q.run {
        Some(r) => r,
        None => match latest_run(&dir) {
            Some(r) => r,
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    format!("process {} of task {task_id} has not run yet", q.process),
                );
            }
        },
    };
    let rel = format!(".logs/{}/{run}/{stream}", q.process);
    let path = match sandbox::resolve(&root, &task_id, &rel) {
        Err(e) => return refused(e),
        Ok(Err(e)) => {
            return io_error(
                &format!("the {stream} log of run {run} of process {}", q.process),
                e,
            );
        }
        Ok(Ok(p)) => p,
    };
    chunk(path, q.offset, q.tail, &rel).await
}

/// A chunk of the file at `path` as a response.
async fn chunk(path: PathBuf, offset: Option<u64>, tail: Option<usize>, what: &str) -> Response {
    match tokio::task::spawn_blocking(move || read_range(&path, offset, tail)).await {
        Ok(Ok((bytes, end))) => (
            [
                ("x-log-offset", end.to_string()),
                ("content-type", "text/plain; charset=utf-8".into()),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) => io_error(what, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn processes(State(root): Root, Path(task_id): Path<String>) -> Response {
    if !safe_component(&task_id) {
        return refused(PathError::BadTaskId(task_id));
    }
    let sandbox = root.join(&task_id);
    match tokio::task::spawn_blocking(move || aurora_executor::report::read(&sandbox)).await {
        Ok(Some(report)) => axum::Json(report).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("task {task_id} has no process report here"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct FileQuery {
    #[serde(default)]
    path: String,
    offset: Option<u64>,
    tail: Option<usize>,
    #[serde(default)]
    download: bool,
}

/// The real path of a sandbox path from the URL, or the refusal to answer with.
fn resolved(root: &std::path::Path, task_id: &str, path: &str) -> Result<PathBuf, Box<Response>> {
    match sandbox::resolve(root, task_id, path) {
        Err(e) => Err(Box::new(refused(e))),
        Ok(Err(e)) => Err(Box::new(io_error(&format!("'{path}'"), e))),
        Ok(Ok(p)) => Ok(p),
    }
}

async fn list(
    State(root): Root,
    Path(task_id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Response {
    let path = match resolved(&root, &task_id, &q.path) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let rel = sandbox::relative(&q.path).unwrap_or_default();
    match tokio::task::spawn_blocking(move || listing(&path, rel)).await {
        Ok(Ok(l)) => axum::Json(l).into_response(),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotADirectory => error(
            StatusCode::BAD_REQUEST,
            format!("'{}' is a file, not a folder", q.path),
        ),
        Ok(Err(e)) => io_error(&format!("'{}'", q.path), e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn listing(dir: &std::path::Path, rel: String) -> std::io::Result<SandboxListing> {
    if !dir.is_dir() {
        return Err(std::io::ErrorKind::NotADirectory.into());
    }
    let mut entries: Vec<SandboxEntry> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .take(MAX_ENTRIES)
        .filter_map(|e| {
            let md = e.metadata().ok()?;
            Some(SandboxEntry {
                name: e.file_name().to_string_lossy().into_owned(),
                dir: md.is_dir(),
                size: if md.is_dir() { 0 } else { md.len() },
                modified_ms: md
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_millis() as i64),
            })
        })
        .collect();
    entries.sort_by(|a, b| b.dir.cmp(&a.dir).then_with(|| a.name.cmp(&b.name)));
    Ok(SandboxListing { path: rel, entries })
}

async fn content(
    State(root): Root,
    Path(task_id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Response {
    let path = match resolved(&root, &task_id, &q.path) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if path.is_dir() {
        return error(
            StatusCode::BAD_REQUEST,
            format!("'{}' is a folder, not a file", q.path),
        );
    }
    if !q.download {
        return chunk(path, q.offset, q.tail, &q.path).await;
    }
    // The whole file, streamed.
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => return io_error(&format!("'{}'", q.path), e),
    };
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().replace(['"', '\\'], "_"))
        .unwrap_or_else(|| "file".into());
    (
        [
            ("content-type", "application/octet-stream".to_owned()),
            ("content-length", len.to_string()),
            (
                "content-disposition",
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(tokio_util::io::ReaderStream::new(file)),
    )
        .into_response()
}

fn latest_run(dir: &std::path::Path) -> Option<u32> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .max()
}

/// Bytes from `offset` (at most `MAX_CHUNK`), or the last `tail` lines; and the offset after them.
fn read_range(
    path: &std::path::Path,
    offset: Option<u64>,
    tail: Option<usize>,
) -> std::io::Result<(Vec<u8>, u64)> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = match (offset, tail) {
        (Some(o), _) => o.min(len),
        (None, Some(lines)) => {
            // Read back from the end until enough newlines are seen.
            let from = len.saturating_sub(MAX_CHUNK);
            f.seek(SeekFrom::Start(from))?;
            let mut buf = Vec::new();
            f.by_ref().take(len - from).read_to_end(&mut buf)?;
            let body = if buf.ends_with(b"\n") {
                &buf[..buf.len() - 1]
            } else {
                &buf[..]
            };
            let cut = body.iter().rposition_nth(b'\n', lines).map_or(0, |p| p + 1);
            return Ok((buf[cut..].to_vec(), len));
        }
        (None, None) => len.saturating_sub(MAX_CHUNK),
    };
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(MAX_CHUNK.min(len - start)).read_to_end(&mut buf)?;
    let end = start + buf.len() as u64;
    Ok((buf, end))
}

trait RpositionNth {
    fn rposition_nth(self, byte: u8, n: usize) -> Option<usize>;
}

impl<'a, I: DoubleEndedIterator<Item = &'a u8> + ExactSizeIterator> RpositionNth for I {
    /// Position of the `n`-th `byte` from the end (1-based), if there are that many.
    fn rposition_nth(self, byte: u8, n: usize) -> Option<usize> {
        if n == 0 {
            return None;
        }
        let len = self.len();
        self.rev()
            .enumerate()
            .filter(|(_, b)| **b == byte)
            .nth(n - 1)
            .map(|(i, _)| len - 1 - i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_tails() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("stdout");
        std::fs::write(&p, "a\nb\nc\nd\n").unwrap();
        assert_eq!(
            read_range(&p, Some(4), None).unwrap(),
            (b"c\nd\n".to_vec(), 8)
        );
        assert_eq!(
            read_range(&p, None, Some(2)).unwrap(),
            (b"c\nd\n".to_vec(), 8)
        );
        assert_eq!(
            read_range(&p, None, Some(10)).unwrap(),
            (b"a\nb\nc\nd\n".to_vec(), 8)
        );
        assert_eq!(read_range(&p, Some(100), None).unwrap(), (Vec::new(), 8));
    }
}
