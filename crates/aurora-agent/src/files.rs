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
//! Every name and path from the URL goes through `sandbox` (what is wrong on its face) and is
//! then opened beneath the sandbox's fd (`aurora_executor::beneath`): the agent is root and the
//! task may swap any folder of its sandbox for a link at any moment, so nothing is opened by
//! path and read later; every read, `fstat` and listing is on the fd that was opened. Only
//! regular files are read. The process report comes from the executor's state directory
//! (`sandbox::state_dir`), not from the sandbox. Reading is chunked (`MAX_CHUNK`) so a huge log costs one bounded read per request.

use crate::sandbox::{self, PathError, safe_component};
use aurora_api::{SandboxEntry, SandboxListing};
use aurora_executor::beneath::{self, Links};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag};
use serde::Deserialize;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

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
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            error(StatusCode::NOT_FOUND, format!("{what} does not exist"))
        }
        std::io::ErrorKind::NotADirectory => error(
            StatusCode::BAD_REQUEST,
            format!("{what} is a file, not a folder"),
        ),
        std::io::ErrorKind::IsADirectory => error(
            StatusCode::BAD_REQUEST,
            format!("{what} is a folder, not a file"),
        ),
        _ => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading {what}: {e}"),
        ),
    }
}

/// Why something in a sandbox could not be opened.
enum OpenError {
    Refused(PathError),
    /// A FIFO, a device, a socket: never read.
    NotRegular,
    Io(std::io::Error),
}

impl OpenError {
    fn response(self, what: &str) -> Response {
        match self {
            OpenError::Refused(e) => refused(e),
            OpenError::NotRegular => error(
                StatusCode::BAD_REQUEST,
                format!("{what} is not a regular file"),
            ),
            OpenError::Io(e) => io_error(what, e),
        }
    }
}

/// Opens `path` (from a URL) in the sandbox of `task_id`, resolved by the kernel beneath the
/// sandbox's fd (`beneath`): a link inside is followed, nothing outside can be reached, and a
/// folder swapped for a link between a check and the open changes nothing, there being no
/// check apart from the open. Non-blocking, so a FIFO cannot hold the request.
fn open_in(
    sandboxes: &std::path::Path,
    task_id: &str,
    path: &str,
    flags: OFlag,
) -> Result<OwnedFd, OpenError> {
    if !safe_component(task_id) {
        return Err(OpenError::Refused(PathError::BadTaskId(task_id.to_owned())));
    }
    let rel = sandbox::relative(path).map_err(OpenError::Refused)?;
    let root = beneath::open_dir(&sandboxes.join(task_id)).map_err(OpenError::Io)?;
    let flags = flags | OFlag::O_RDONLY | OFlag::O_NONBLOCK;
    beneath::open(
        &root,
        std::path::Path::new(&rel),
        flags,
        Mode::empty(),
        Links::Inside,
    )
    .map_err(|e| {
        let link = e.raw_os_error() == Some(nix::errno::Errno::ELOOP as i32);
        if link || e.kind() == std::io::ErrorKind::PermissionDenied {
            OpenError::Refused(PathError::Escapes(path.to_owned()))
        } else {
            OpenError::Io(e)
        }
    })
}

/// Opens a regular file of a sandbox (a folder or anything else is refused).
fn open_file(sandboxes: &std::path::Path, task_id: &str, path: &str) -> Result<File, OpenError> {
    let fd = open_in(sandboxes, task_id, path, OFlag::empty())?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| OpenError::Io(e.into()))?;
    match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
        SFlag::S_IFREG => Ok(File::from(fd)),
        SFlag::S_IFDIR => Err(OpenError::Io(std::io::ErrorKind::IsADirectory.into())),
        _ => Err(OpenError::NotRegular),
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
    let (process, run) = (q.process, q.run);
    let (offset, tail) = (q.offset, q.tail);
    let work = move || {
        let run = match run {
            Some(r) => r,
            None => match latest_run(&root, &task_id, &process) {
                Some(r) => r,
                None => {
                    return Err(Box::new(error(
                        StatusCode::NOT_FOUND,
                        format!("process {process} of task {task_id} has not run yet"),
                    )));
                }
            },
        };
        let rel = format!(".logs/{process}/{run}/{stream}");
        let what = format!("the {stream} log of run {run} of process {process}");
        let file = open_file(&root, &task_id, &rel).map_err(|e| Box::new(e.response(&what)))?;
        read_range(file, offset, tail).map_err(|e| Box::new(io_error(&what, e)))
    };
    chunk(work).await
}

/// The answer of `work` (a chunk of a file and the offset after it, read off the runtime).
async fn chunk(
    work: impl FnOnce() -> Result<(Vec<u8>, u64), Box<Response>> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok((bytes, end))) => (
            [
                ("x-log-offset", end.to_string()),
                ("content-type", "text/plain; charset=utf-8".into()),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(r)) => *r,
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn processes(State(root): Root, Path(task_id): Path<String>) -> Response {
    if !safe_component(&task_id) {
        return refused(PathError::BadTaskId(task_id));
    }
    let state = sandbox::state_dir(&root, &task_id);
    match tokio::task::spawn_blocking(move || aurora_executor::report::read(&state)).await {
        Ok(Ok(Some(report))) => axum::Json(report).into_response(),
        Ok(Ok(None)) => error(
            StatusCode::NOT_FOUND,
            format!("task {task_id} has no process report here"),
        ),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
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

async fn list(
    State(root): Root,
    Path(task_id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Response {
    let work = move || {
        let what = format!("'{}'", q.path);
        let dir = open_in(&root, &task_id, &q.path, OFlag::O_DIRECTORY)
            .map_err(|e| Box::new(e.response(&what)))?;
        let rel = sandbox::relative(&q.path).unwrap_or_default();
        listing(dir, rel).map_err(|e| Box::new(io_error(&what, e)))
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(l)) => axum::Json(l).into_response(),
        Ok(Err(r)) => *r,
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The entries of an open folder, each described by `fstatat` on that folder's fd (links not
/// followed: a link is listed as what it is, not as what it names).
fn listing(dir: OwnedFd, rel: String) -> std::io::Result<SandboxListing> {
    let entries = nix::dir::Dir::from_fd(dir.try_clone()?).map_err(std::io::Error::from)?;
    let mut out: Vec<SandboxEntry> = entries
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| !matches!(e.file_name().to_bytes(), b"." | b".."))
        .take(MAX_ENTRIES)
        .filter_map(|e| {
            let st = nix::sys::stat::fstatat(
                &dir,
                e.file_name(),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .ok()?;
            let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
            let modified_ms = st.st_mtime.saturating_mul(1000) + st.st_mtime_nsec / 1_000_000;
            Some(SandboxEntry {
                name: e.file_name().to_string_lossy().into_owned(),
                dir: is_dir,
                size: if is_dir { 0 } else { st.st_size.max(0) as u64 },
                modified_ms: modified_ms.max(0),
            })
        })
        .collect();
    out.sort_by(|a, b| b.dir.cmp(&a.dir).then_with(|| a.name.cmp(&b.name)));
    Ok(SandboxListing {
        path: rel,
        entries: out,
    })
}

async fn content(
    State(root): Root,
    Path(task_id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Response {
    if !q.download {
        return chunk(move || {
            let what = format!("'{}'", q.path);
            let file =
                open_file(&root, &task_id, &q.path).map_err(|e| Box::new(e.response(&what)))?;
            read_range(file, q.offset, q.tail).map_err(|e| Box::new(io_error(&what, e)))
        })
        .await;
    }
    // The whole file, streamed from the fd opened beneath the sandbox.
    let path = q.path.clone();
    let opened = tokio::task::spawn_blocking(move || open_file(&root, &task_id, &path)).await;
    let file = match opened {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => return e.response(&format!("'{}'", q.path)),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let name = std::path::Path::new(&q.path)
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
        Body::from_stream(tokio_util::io::ReaderStream::new(
            tokio::fs::File::from_std(file),
        )),
    )
        .into_response()
}

/// The newest run of a process, from its log folder opened beneath the sandbox.
fn latest_run(sandboxes: &std::path::Path, task_id: &str, process: &str) -> Option<u32> {
    let dir = open_in(
        sandboxes,
        task_id,
        &format!(".logs/{process}"),
        OFlag::O_DIRECTORY,
    )
    .ok()?;
    nix::dir::Dir::from_fd(dir)
        .ok()?
        .into_iter()
        .filter_map(|e| e.ok()?.file_name().to_str().ok()?.parse::<u32>().ok())
        .max()
}

/// Bytes from `offset` (at most `MAX_CHUNK`), or the last `tail` lines; and the offset after them.
fn read_range(
    mut f: File,
    offset: Option<u64>,
    tail: Option<usize>,
) -> std::io::Result<(Vec<u8>, u64)> {
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
        let read_range = |o, t| super::read_range(File::open(&p).unwrap(), o, t);
        assert_eq!(read_range(Some(4), None).unwrap(), (b"c\nd\n".to_vec(), 8));
        assert_eq!(read_range(None, Some(2)).unwrap(), (b"c\nd\n".to_vec(), 8));
        assert_eq!(
            read_range(None, Some(10)).unwrap(),
            (b"a\nb\nc\nd\n".to_vec(), 8)
        );
        assert_eq!(read_range(Some(100), None).unwrap(), (Vec::new(), 8));
    }

    #[test]
    fn nothing_outside_the_sandbox_is_opened_and_only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = dir.path().join("t1");
        std::fs::create_dir_all(sandbox.join("sub")).unwrap();
        std::fs::write(sandbox.join("sub/file"), "x").unwrap();
        std::fs::write(dir.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), sandbox.join("out")).unwrap();
        std::os::unix::fs::symlink(dir.path(), sandbox.join("up")).unwrap();
        std::os::unix::fs::symlink("sub/file", sandbox.join("in")).unwrap();
        nix::unistd::mkfifo(&sandbox.join("fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        let escapes = |p: &str| {
            matches!(
                open_file(dir.path(), "t1", p),
                Err(OpenError::Refused(PathError::Escapes(_)))
            )
        };
        assert!(open_file(dir.path(), "t1", "sub/file").is_ok());
        for bad in ["out", "up/secret", "../secret"] {
            assert!(escapes(bad), "{bad}");
        }
        // A link inside is followed where the kernel resolves beneath (openat2), else refused.
        let inside = open_file(dir.path(), "t1", "in");
        assert!(inside.is_ok() || escapes("in"));
        assert!(matches!(
            open_file(dir.path(), "t1", "fifo"),
            Err(OpenError::NotRegular)
        ));
        assert!(matches!(
            open_file(dir.path(), "..", ""),
            Err(OpenError::Refused(PathError::BadTaskId(_)))
        ));
        let listed = listing(
            open_in(dir.path(), "t1", "", OFlag::O_DIRECTORY)
                .ok()
                .unwrap(),
            String::new(),
        )
        .unwrap();
        let names: Vec<_> = listed.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["sub", "fifo", "in", "out", "up"]);
    }
}
