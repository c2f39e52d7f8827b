//! The user guide's workflow on the real binaries: a single-machine cluster
//! (`aurora-scheduler --local-agent`), a clusters.json naming it, and the `aurora` client creating,
//! inspecting, reading and killing a job.

use aurora_testkit::env::Env;
use aurora_testkit::{processes_in_group, text};

#[test]
fn create_status_logs_and_kill_the_hello_service() {
    let env = Env::start();
    let out = env.aurora(&[
        "job",
        "create",
        "--wait-until",
        "RUNNING",
        "devcluster/www-data/prod/hello",
        "examples/hello_world.aurora",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "Job create succeeded: job url=http://127.0.0.1:{}/scheduler/www-data/prod/hello\n",
            env.port
        )
    );
    let err = text(&out.stderr);
    assert!(
        err.contains(" INFO] Creating job hello")
            && err.contains(" INFO] Checking status of devcluster/www-data/prod/hello"),
        "{err}"
    );

    let out = env.aurora(&["job", "status", "devcluster/www-data/prod/hello"]);
    let s = text(&out.stdout);
    assert!(
        s.contains("Active tasks (1):") && s.contains("instance: 0, status: RUNNING"),
        "{s}"
    );
    let out = env.aurora(&["job", "status", "--write-json", "devcluster/www-data/*"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["job"], "devcluster/www-data/prod/hello");
    assert_eq!(v[0]["active"][0]["status"], "RUNNING");

    assert_eq!(
        text(&env.aurora(&["job", "list", "devcluster"]).stdout),
        "devcluster/www-data/prod/hello\n"
    );
    assert_eq!(
        text(
            &env.aurora(&["job", "open", "devcluster/www-data/prod/hello"])
                .stdout
        ),
        format!(
            "http://127.0.0.1:{}/scheduler/www-data/prod/hello\n",
            env.port
        )
    );

    env.wait_for(|| {
        text(
            &env.aurora(&["task", "logs", "devcluster/www-data/prod/hello/0"])
                .stdout,
        )
        .contains("hello world")
    });
    let out = env.aurora(&[
        "task",
        "logs",
        "--tail",
        "1",
        "devcluster/www-data/prod/hello/0",
        "hello",
    ]);
    assert_eq!(text(&out.stdout), "hello world\n");

    // Creating it again is refused, with the reason, and changes nothing.
    let out = env.aurora(&[
        "job",
        "create",
        "devcluster/www-data/prod/hello",
        "examples/hello_world.aurora",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );

    // Scale out by copying instance 0 (each instance takes one of the machine's cores), then
    // restart everything in batches of two.
    let out = env.aurora(&["job", "add", "devcluster/www-data/prod/hello/0", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = env.aurora(&[
        "job",
        "restart",
        "--batch-size",
        "2",
        "--watch-secs",
        "0",
        "devcluster/www-data/prod/hello",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A rolling restart is an update: its progress, then the verdict.
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "Current state ROLLED_FORWARD: 2/2 updated, 0 in progress (0 healthy), 0 failed\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("Job devcluster/www-data/prod/hello restarted successfully\n"),
        "{stdout}"
    );
    let out = env.aurora(&[
        "job",
        "status",
        "--write-json",
        "devcluster/www-data/prod/hello",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let active = v[0]["active"].as_array().unwrap();
    assert_eq!(active.len(), 2);
    assert!(
        active.iter().all(|t| t["status"] == "RUNNING"),
        "{active:#?}"
    );
    let restarted = v[0]["inactive"].as_array().unwrap();
    assert_eq!(
        restarted.len(),
        2,
        "each instance's old task ended: {restarted:#?}"
    );

    let groups = env.checkpoint_groups();
    assert!(!groups.is_empty());
    let out = env.aurora(&["job", "killall", "devcluster/www-data/prod/hello"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Job killall succeeded\n");
    // SIGKILL has been sent by the time KILLED is reported; the kernel finishes the exits.
    for g in groups {
        env.wait_for(|| processes_in_group(g) == 0);
    }
}

#[test]
fn follow_reads_an_adhoc_task_to_its_end_and_stderr_is_separate() {
    let env = Env::start();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("steps.aurora");
    std::fs::write(
        &f,
        "p = Process(name = 'steps', cmdline = 'for i in 1 2 3; do echo step $i; echo warn $i >&2; done')\njobs = [Job(cluster = 'devcluster', role = 'www-data', environment = 'devel', name = 'steps', task = Task(processes = [p], resources = Resources(cpu = 0.1, ram = MB, disk = MB)))]\n",
    )
    .unwrap();
    let out = env.aurora(&[
        "job",
        "create",
        "devcluster/www-data/devel/steps",
        f.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // --follow waits for the output and returns once the task has ended and the log is drained.
    let out = env.aurora(&[
        "task",
        "logs",
        "--follow",
        "devcluster/www-data/devel/steps/0",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "step 1\nstep 2\nstep 3\n");
    let out = env.aurora(&[
        "task",
        "logs",
        "--stderr",
        "devcluster/www-data/devel/steps/0",
        "steps",
    ]);
    assert_eq!(text(&out.stdout), "warn 1\nwarn 2\nwarn 3\n");
    let out = env.aurora(&["job", "status", "devcluster/www-data/devel/steps"]);
    assert!(
        text(&out.stdout).contains("status: FINISHED"),
        "{}",
        text(&out.stdout)
    );
    let out = env.aurora(&["task", "logs", "devcluster/www-data/devel/steps/0", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("has no process 'nope'"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_input_is_one_clear_line() {
    let env = Env::start();
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &[
                "job",
                "create",
                "nowhere/www-data/prod/hello",
                "examples/hello_world.aurora",
            ],
            1,
            "Unknown cluster: nowhere",
        ),
        (
            &[
                "job",
                "create",
                "devcluster/www-data/prod",
                "examples/hello_world.aurora",
            ],
            2,
            "CLUSTER/ROLE/ENV/NAME",
        ),
        (
            &["job", "killall", "devcluster/www-data/prod/nothing"],
            1,
            "does not exist",
        ),
        (
            &["job", "kill", "devcluster/www-data/prod/hello"],
            1,
            "killall",
        ),
        (
            &["job", "kill", "devcluster/www-data/prod/hello/3-1"],
            2,
            "start is after the end",
        ),
        (
            &[
                "job",
                "create",
                "devcluster/www-data/prod/report",
                "examples/cron_report.aurora",
            ],
            1,
            "aurora cron schedule",
        ),
        (
            &["job", "status", "devcluster/www-data/prod/nothing"],
            1,
            "Found no jobs matching",
        ),
    ];
    for (args, code, needle) in cases {
        let out = env.aurora(args);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("unbound.aurora");
    std::fs::write(&f, "p = Process(name = 'p', cmdline = 'echo {{undefined_thing}}')\njobs = [Service(cluster = 'devcluster', role = 'r', environment = 'prod', name = 'u', task = Task(processes = [p], resources = Resources(cpu = 0.1, ram = MB, disk = MB)))]\n").unwrap();
    let out = env.aurora(&["job", "create", "devcluster/r/prod/u", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unbound variables: {{undefined_thing}}"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&env.aurora(&["job", "list", "devcluster"]).stdout).is_empty(),
        "nothing was created"
    );
}

#[test]
fn cron_schedule_start_show_and_deschedule() {
    let env = Env::start();
    let key = "devcluster/www-data/prod/report";
    // `job create` refuses a cron job, with advice.
    let out = env.aurora(&["job", "create", key, "examples/cron_report.aurora"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("aurora cron schedule"),
        "{}",
        text(&out.stderr)
    );
    // ...and `cron schedule` refuses a job without a schedule.
    let out = env.aurora(&[
        "cron",
        "schedule",
        "devcluster/www-data/prod/hello",
        "examples/hello_world.aurora",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("aurora job create"),
        "{}",
        text(&out.stderr)
    );

    // The example runs every five minutes: on the real clock it could fire during the test.
    // The same job, every five minutes of an hour (UTC, the scheduler's default) twelve hours
    // away, cannot.
    let hour = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 3600
        + 12)
        % 24;
    let schedule = format!("*/5 {hour} * * *");
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/cron_report.aurora"
    ))
    .unwrap();
    assert!(example.contains("'*/5 * * * *'"));
    let file = env.home.path().join("cron_report.aurora");
    std::fs::write(
        &file,
        example.replace("'*/5 * * * *'", &format!("'{schedule}'")),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let out = env.aurora(&["cron", "schedule", key, file]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(" INFO] Registering job report with cron"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout),
        format!(
            "Cron job scheduled, status can be viewed at http://127.0.0.1:{}/scheduler/www-data/prod/report\n",
            env.port
        )
    );
    let show = text(&env.aurora(&["cron", "show", key]).stdout);
    assert!(show.starts_with(&format!("{key}\t {schedule}\n")), "{show}");
    assert!(show.contains("collision policy: KILL_EXISTING"), "{show}");
    assert!(show.contains("runs: none yet"), "{show}");
    let next: Vec<&str> = show
        .lines()
        .skip_while(|l| !l.contains("next runs:"))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .collect();
    assert_eq!(next.len(), 5, "{show}");
    // Every five minutes of that hour, on the minute.
    for l in &next {
        assert_eq!(l.trim()[11..13].parse::<u64>().unwrap(), hour, "{l}");
        let minute: u32 = l.trim()[14..16].parse().unwrap();
        assert_eq!(minute % 5, 0, "{l}");
        assert!(l.trim()[17..19] == *"00", "{l}");
    }

    let out = env.aurora(&["cron", "start", key]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("Cron run started with 1 task(s)"),
        "{}",
        text(&out.stdout)
    );
    // The run is an ordinary task: its output is readable with `task logs`.
    let out = env.aurora(&["task", "logs", "--follow", &format!("{key}/0")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("report at "),
        "{}",
        text(&out.stdout)
    );
    env.wait_for(|| text(&env.aurora(&["cron", "show", key]).stdout).contains(": 1 FINISHED"));
    // The UI's job listing shows the cron job with its next run.
    let out = env.aurora(&["job", "list", "devcluster/www-data"]);
    assert!(
        text(&out.stdout).contains("www-data/prod/report"),
        "{}",
        text(&out.stdout)
    );

    let out = env.aurora(&["cron", "deschedule", key]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Cron descheduling succeeded.\n");
    let out = env.aurora(&["cron", "show", key]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("No cron entry found for job {key}")),
        "{}",
        text(&out.stderr)
    );
    let out = env.aurora(&["cron", "deschedule", key]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        "Job www-data/prod/report is not scheduled with cron\n"
    );
}
