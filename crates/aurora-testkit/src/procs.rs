//! Processes tests look at and clean up: the process groups a task's checkpoint names, the live
//! members of a group (from `/proc`), and the SIGKILL of every task a test's agents started with
//! the removal of their cgroups. What runs those tasks is the agent's business, not this module's.

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use std::path::Path;

/// The executor's state directory of the agent's task sandbox `WORK/sandboxes/TASK`:
/// `WORK/executor/TASK` (the agent's layout, `aurora_agent::sandbox::state_dir`).
pub fn state_dir(sandbox: &Path) -> std::path::PathBuf {
    let task = sandbox.file_name().unwrap_or_default();
    let sandboxes = sandbox.parent().unwrap_or(sandbox);
    sandboxes
        .parent()
        .unwrap_or(sandboxes)
        .join("executor")
        .join(task)
}

/// The process groups the checkpoint of the task sandbox `sandbox` names (none if it has none).
pub fn checkpoint_groups(sandbox: &Path) -> Vec<i32> {
    let cp = std::fs::read(state_dir(sandbox).join("checkpoint.json")).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&cp).unwrap_or_default();
    v["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_i64())
        .map(|g| g as i32)
        .collect()
}

/// SIGKILLs the process groups of every task sandbox under `sandboxes`, then removes the tasks'
/// cgroups (an agent killed with its scheduler leaves them behind; they are named by task id).
pub fn kill_tasks_under(sandboxes: &Path) {
    let tasks: Vec<std::ffi::OsString> = std::fs::read_dir(sandboxes)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    for t in &tasks {
        for g in checkpoint_groups(&sandboxes.join(t)) {
            let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
        }
    }
    for t in &tasks {
        aurora_executor::isolation::remove_leftover_cgroups(&t.to_string_lossy());
    }
}

/// Whether a process group still has a member (zombies included).
pub fn group_alive(g: i32) -> bool {
    killpg(Pid::from_raw(g), None).is_ok()
}

/// Live (not zombie) processes in the process group `pgid`, from `/proc`.
pub fn processes_in_group(pgid: i32) -> usize {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| stat_in_group(stat, pgid))
        .count()
}

/// Whether a `/proc/PID/stat` line is of a live process of group `pgid`: after the command name
/// in parentheses come the state, the parent and the process group.
fn stat_in_group(stat: &str, pgid: i32) -> bool {
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.first() != Some(&"Z") && f.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid)
}

/// SIGKILLs every process whose command line contains `marker` (a unique temporary path: what
/// a test started that outlived the process it started it through, as Chromium its driver).
pub fn kill_processes_mentioning(marker: &str) {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    for p in procs.flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(marker) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_counts_when_it_is_live_and_of_the_group() {
        // pid (comm) state ppid pgrp ...; a command name may hold spaces and parentheses.
        assert!(stat_in_group("42 (sleep) S 1 42 42 0", 42));
        assert!(stat_in_group("43 (a (b) c) R 1 42 42 0", 42));
        assert!(!stat_in_group("44 (sleep) Z 1 42 42 0", 42), "a zombie");
        assert!(!stat_in_group("45 (sleep) S 1 7 7 0", 42), "another group");
    }

    #[test]
    fn checkpoint_groups_reads_the_groups_and_nothing_from_a_missing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sandbox = dir.path().join("sandboxes/t1");
        assert!(checkpoint_groups(&sandbox).is_empty());
        std::fs::create_dir_all(dir.path().join("executor/t1")).expect("mkdir");
        std::fs::write(
            dir.path().join("executor/t1/checkpoint.json"),
            r#"{"groups": [12, 34]}"#,
        )
        .expect("write");
        assert_eq!(checkpoint_groups(&sandbox), [12, 34]);
    }
}
