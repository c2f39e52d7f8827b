//! Serving task logs to the scheduler: `GET /tasks/TASK/logs?process=P&stream=stdout&run=N&offset=B&tail=L`
//! reads `<sandbox>/.logs/<process>/<run>/<stream>`. Names from the URL are checked so that nothing
//! outside a task's sandbox can be read.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

/// The most one request returns: a follower asks again from the new offset.
const MAX_CHUNK: u64 = 1 << 20;

#[derive(Deserialize)]
pub struct LogQuery {
    process: String,
    stream: Option<String>,
    run: Option<u32>,
    offset: Option<u64>,
    tail: Option<usize>,
}

/// Is `s` safe as one path component (no separators, no `.`/`..`, no NUL)?
pub fn safe_component(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\', '\0'])
}

fn error(status: StatusCode, message: String) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// The log router, serving sandboxes under `sandboxes`.
pub fn router(sandboxes: PathBuf) -> Router {
    Router::new()
        .route("/tasks/{task_id}/logs", get(read_log))
        .with_state(Arc::new(sandboxes))
}

async fn read_log(
    State(root): State<Arc<PathBuf>>,
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
    let path = dir.join(run.to_string()).join(&stream);
    let (offset, tail) = (q.offset, q.tail);
    match tokio::task::spawn_blocking(move || read_range(&path, offset, tail)).await {
        Ok(Ok((bytes, end))) => (
            [
                ("x-log-offset", end.to_string()),
                ("content-type", "text/plain; charset=utf-8".into()),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => error(
            StatusCode::NOT_FOUND,
            format!("no {stream} log for run {run} of process {}", q.process),
        ),
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading the log: {e}"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
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

    #[test]
    fn path_components_are_checked() {
        for bad in ["", ".", "..", "../x", "a/b", "a\0"] {
            assert!(!safe_component(bad), "{bad:?}");
        }
        assert!(safe_component("www-data-prod-hello-0-abc"));
    }
}
