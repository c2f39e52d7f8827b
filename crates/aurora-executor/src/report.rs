//! The task's process report in the executor's state directory (`STATE/processes.json`, beside
//! the checkpoint, out of the task's reach): every process's state,
//! runs, exit codes and times, for people (the web UI and the API) rather than for recovery (that
//! is `checkpoint`). Rewritten atomically on every change; the format is the model's
//! [`ProcessRecord`], so the agent serves it as it is.

use crate::planner::ProcState;
use crate::status::TaskStatus;
use aurora_model::process::{ProcessRecord, ProcessRun};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The report's file name in the state directory.
pub const REPORT_FILE: &str = "processes.json";

fn path(state: &Path) -> PathBuf {
    state.join(REPORT_FILE)
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
pub fn write(state: &Path, status: &TaskStatus) -> std::io::Result<()> {
    crate::checkpoint::make_state_dir(state)?;
    let tmp = state.join("processes.json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(&views(status)).map_err(std::io::Error::other)?)?;
    drop(f);
    std::fs::rename(&tmp, path(state))
}

/// Reads the report in the state directory `state`: `Ok(None)` when there is none yet; a file
/// that is not a regular one of at most [`crate::beneath::MAX_STATE_FILE`] bytes is an error.
pub fn read(state: &Path) -> Result<Option<Vec<ProcessRecord>>, crate::beneath::ReadError> {
    let bytes = match crate::beneath::read_bounded(&path(state), crate::beneath::MAX_STATE_FILE) {
        Ok(b) => b,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    // A report cut short by a crash is no report.
    Ok(serde_json::from_slice(&bytes).ok())
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
        assert_eq!(read(dir.path()).unwrap(), None);
        write(dir.path(), &status).unwrap();
        let back = read(dir.path()).unwrap().unwrap();
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
