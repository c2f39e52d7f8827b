//! The task's process report in its sandbox (`.executor/processes.json`): every process's state,
//! runs, exit codes and times, for people (the web UI and the API) rather than for recovery (that
//! is `checkpoint`). Rewritten atomically on every change; the format is the model's
//! [`ProcessRecord`], so the agent serves it as it is.

use crate::planner::ProcState;
use crate::status::TaskStatus;
use aurora_model::process::{ProcessRecord, ProcessRun};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the report lives, relative to the sandbox.
pub const REPORT_PATH: &str = ".executor/processes.json";

fn path(sandbox: &Path) -> PathBuf {
    sandbox.join(REPORT_PATH)
}

/// Thermos's name of a process state.
pub fn state_name(s: ProcState) -> &'static str {
    match s {
        ProcState::Waiting => "WAITING",
        ProcState::Running => "RUNNING",
        ProcState::Success => "SUCCESS",
        ProcState::Failed => "FAILED",
        ProcState::Killed => "KILLED",
    }
}

/// Milliseconds since the Unix epoch.
pub fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The report of `status`.
pub fn views(status: &TaskStatus) -> Vec<ProcessRecord> {
    status
        .processes
        .iter()
        .map(|p| ProcessRecord {
            name: p.name.clone(),
            state: state_name(p.state).to_owned(),
            runs: p.runs,
            history: p.history.clone(),
        })
        .collect()
}

/// Writes the report (temp file then rename: a reader never sees half of it). Not fsynced: losing
/// the newest version in a machine crash loses nothing the scheduler relies on.
pub fn write(sandbox: &Path, status: &TaskStatus) -> std::io::Result<()> {
    let dir = sandbox.join(".executor");
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join("processes.json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(&views(status)).map_err(std::io::Error::other)?)?;
    drop(f);
    std::fs::rename(&tmp, path(sandbox))
}

/// Reads a sandbox's report, if there is one.
pub fn read(sandbox: &Path) -> Option<Vec<ProcessRecord>> {
    serde_json::from_slice(&std::fs::read(path(sandbox)).ok()?).ok()
}

/// Records in `history` that run `run` started now.
pub fn run_started(history: &mut Vec<ProcessRun>, run: u32, now: SystemTime) {
    history.push(ProcessRun {
        run,
        started_ms: epoch_ms(now),
        ended_ms: None,
        exit_code: None,
    });
}

/// Records in `history` that the newest run ended now with `exit_code`.
pub fn run_ended(history: &mut [ProcessRun], exit_code: Option<i32>, now: SystemTime) {
    if let Some(last) = history.last_mut() {
        last.ended_ms = Some(epoch_ms(now));
        last.exit_code = exit_code;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{ProcessStatus, TaskState};

    #[test]
    fn the_report_round_trips_through_the_sandbox() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = UNIX_EPOCH + std::time::Duration::from_millis(1_000);
        let mut history = Vec::new();
        run_started(&mut history, 0, t0);
        run_ended(
            &mut history,
            Some(3),
            t0 + std::time::Duration::from_millis(500),
        );
        run_started(&mut history, 1, t0 + std::time::Duration::from_millis(900));
        let status = TaskStatus {
            state: TaskState::Running,
            message: None,
            processes: vec![ProcessStatus {
                name: "hello".into(),
                state: ProcState::Running,
                runs: 2,
                last_exit: Some(3),
                pid: Some(42),
                started_at: Some(t0),
                ended_at: None,
                history,
            }],
        };
        assert_eq!(read(dir.path()), None);
        write(dir.path(), &status).unwrap();
        let back = read(dir.path()).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].state, "RUNNING");
        assert_eq!(back[0].runs, 2);
        assert_eq!(
            back[0].history,
            vec![
                ProcessRun {
                    run: 0,
                    started_ms: 1_000,
                    ended_ms: Some(1_500),
                    exit_code: Some(3)
                },
                ProcessRun {
                    run: 1,
                    started_ms: 1_900,
                    ended_ms: None,
                    exit_code: None
                },
            ]
        );
    }
}
