//! Running the client binaries (`aurora`, `aurora_admin`) as a user would: a home directory whose
//! `~/.aurora/clusters.json` names the cluster, and a watchdog that kills a command still running
//! after [`COMMAND_LIMIT`] so a hung command fails its test instead of hanging the suite. What
//! the commands print is for the tests to judge, not for this module.

use crate::{sibling_bin, text};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

/// How long one client command may run in a test.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(120);

/// A fresh home directory whose `.aurora/clusters.json` names one cluster, `devcluster`, at
/// `scheduler_uri`; `more` is added to its entry verbatim (`, "auth_mechanism": "KERBEROS"`).
pub fn home_with_clusters_json(scheduler_uri: &str, more: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("creating a temporary home");
    std::fs::create_dir_all(home.path().join(".aurora")).expect("creating ~/.aurora");
    std::fs::write(
        home.path().join(".aurora/clusters.json"),
        format!(r#"[{{"name": "devcluster", "scheduler_uri": "{scheduler_uri}"{more}}}]"#),
    )
    .expect("writing clusters.json");
    home
}

/// The client binary `bin` (`aurora` or `aurora_admin`) run with `home` as `HOME`, no
/// `AURORA_CONFIG_ROOT` and no standard input. The caller adds arguments, a working directory
/// and more environment, then runs it with [`run_watched`].
pub fn client_command(bin: &str, home: &Path) -> Command {
    let mut cmd = Command::new(sibling_bin(bin));
    cmd.env("HOME", home)
        .env_remove("AURORA_CONFIG_ROOT")
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd` to its end and returns its output. A command still running after
/// [`COMMAND_LIMIT`] (an `update wait` on an update that never ends) is killed and fails the
/// test, with what it printed and `context()` (a scheduler's log, say).
pub fn run_watched(cmd: &mut Command, context: impl FnOnce() -> String) -> Output {
    run_with_limit(cmd, COMMAND_LIMIT, context)
}

fn run_with_limit(cmd: &mut Command, limit: Duration, context: impl FnOnce() -> String) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (done, finished) = channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let late = matches!(finished.recv_timeout(limit), Err(RecvTimeoutError::Timeout));
        if late {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
        late
    });
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {cmd:?}: {e}"));
    let _ = done.send(());
    let late = watchdog.join().expect("the watchdog thread does not panic");
    assert!(
        !late,
        "{:?} {:?} still running after {limit:?}: killed\n{}{}\n{}",
        cmd.get_program(),
        cmd.get_args().collect::<Vec<_>>(),
        text(&out.stdout),
        text(&out.stderr),
        context()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_ends_gives_its_output() {
        let out = run_watched(
            Command::new("sh").args(["-c", "echo out; echo err >&2"]),
            String::new,
        );
        assert!(out.status.success());
        assert_eq!(text(&out.stdout), "out\n");
        assert_eq!(text(&out.stderr), "err\n");
    }

    #[test]
    #[should_panic(expected = "still running after")]
    fn a_command_past_its_limit_is_killed_and_fails_the_test() {
        run_with_limit(
            Command::new("sleep").arg("30"),
            Duration::from_millis(200),
            || "the context".to_owned(),
        );
    }

    #[test]
    fn clusters_json_names_devcluster() {
        let home =
            home_with_clusters_json("http://127.0.0.1:1", r#", "auth_mechanism": "KERBEROS""#);
        let v: serde_json::Value = serde_json::from_slice(
            &std::fs::read(home.path().join(".aurora/clusters.json")).expect("read"),
        )
        .expect("valid JSON");
        assert_eq!(v[0]["name"], "devcluster");
        assert_eq!(v[0]["scheduler_uri"], "http://127.0.0.1:1");
        assert_eq!(v[0]["auth_mechanism"], "KERBEROS");
    }
}
