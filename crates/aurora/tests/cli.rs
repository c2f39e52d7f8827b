//! The `aurora` binary end to end: commands, output, exit statuses.

use aurora_testkit::text;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn aurora(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aurora"))
        .args(args)
        .output()
        .expect("aurora runs")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

#[test]
fn inspect_write_json_prints_what_aurora_prints() {
    let file = examples().join("web_service.aurora");
    let out = aurora(&[
        "job",
        "inspect",
        "--write-json",
        "devcluster/www-data/staging/web",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("web_service.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(got, want);
}

/// The Python 2 forms of the config language's data cases, through the client: each prints the
/// JSON Aurora's own loader made of it; `getpass.getuser()` is the user running the client.
#[test]
fn inspect_write_json_evaluates_python_2_as_aurora_does() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../aurora-config/tests/data");
    for (case, key) in [
        ("implicit_concat", "devcluster/www-data/devel/concat"),
        ("percent_format", "devcluster/www-data/devel/percent"),
        ("str_format", "devcluster/www-data/devel/format"),
        ("getpass_user", "devcluster/www-data/test/whoami"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_aurora"))
            .env("LOGNAME", "www-data")
            .args(["job", "inspect", "--write-json", key])
            .arg(data.join(format!("{case}.aurora")))
            .output()
            .expect("aurora runs");
        assert!(out.status.success(), "{case}: {}", text(&out.stderr));
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
        let all: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(data.join(format!("{case}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(got, all[key], "{case}");
    }
}

#[test]
fn inspect_summarises_job_task_and_processes_in_order() {
    let file = examples().join("batch_steps.aurora");
    let out = aurora(&[
        "job",
        "inspect",
        "devcluster/www-data/devel/batch",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(
        s.contains("name:       'batch'") && s.contains("instances:  '2'"),
        "{s}"
    );
    assert!(s.contains("order: prepare -> compute"), "{s}");
    let prepare = s.find("Process 'prepare'").expect("prepare listed");
    let compute = s.find("Process 'compute'").expect("compute listed");
    assert!(prepare < compute);
    assert!(
        s.contains("echo preparing prepare for www-data > step1.txt"),
        "{s}"
    );
}

#[test]
fn inspect_shows_the_cron_schedule_and_policy() {
    let file = examples().join("cron_report.aurora");
    let out = aurora(&[
        "job",
        "inspect",
        "devcluster/www-data/prod/report",
        file.to_str().unwrap(),
    ]);
    let s = text(&out.stdout);
    assert!(
        s.contains("schedule: '*/5 * * * *'") && s.contains("policy:   'KILL_EXISTING'"),
        "{s}"
    );
}

#[test]
fn config_list_prints_one_key_a_line() {
    let file = examples().join("hello_world.aurora");
    let out = aurora(&["config", "list", file.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "devcluster/www-data/prod/hello\n");
}

#[test]
fn bind_reaches_templates() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.aurora");
    std::fs::write(
        &file,
        "p = Process(name = 'p', cmdline = 'echo {{greeting}}')\njobs = [Job(cluster = 'c', role = 'r', environment = 'devel', name = 'j', task = Task(processes = [p], resources = Resources(cpu = 1, ram = MB, disk = MB)))]\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let out = aurora(&[
        "job",
        "inspect",
        "--write-json",
        "--bind",
        "greeting=hi there",
        "c/r/devel/j",
        f,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["task"]["processes"][0]["cmdline"], "echo hi there");
    // Without the binding the reference stays, with a warning naming it and where it is.
    let out = aurora(&["job", "inspect", "c/r/devel/j", f]);
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("{{greeting}}") && err.contains("task.processes[0].cmdline"),
        "{err}"
    );
}

#[test]
fn errors_are_one_clear_line_and_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.aurora");
    std::fs::write(&bad, "jobs = [\n  Job(name = 'x',\n").unwrap();
    let out = aurora(&["config", "list", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.aurora:") && err.contains("syntax error"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let hello = examples().join("hello_world.aurora");
    let out = aurora(&[
        "job",
        "inspect",
        "devcluster/www-data/prod/nope",
        hello.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("devcluster/www-data/prod/hello"),
        "lists the candidates"
    );

    let out = aurora(&["job", "inspect", "not-a-key", hello.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "bad arguments exit with 2");
    assert!(text(&out.stderr).contains("CLUSTER/ROLE/ENV/NAME"));

    let out = aurora(&["config", "list", "/nonexistent/x.aurora"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/x.aurora"));
}
