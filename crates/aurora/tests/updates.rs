//! Rolling updates end to end on the real binaries: a single-machine cluster runs a small HTTP
//! service (`examples/http_service.rs`, health-checked on its `health` port) and the `aurora`
//! client updates it: batches in order, an update that changes nothing, automatic rollback of a
//! version that never becomes healthy, pause/resume/abort, a scheduler killed with -9 in the middle
//! of an update, a task that turns unhealthy, and graceful shutdown of replaced instances.

use aurora_testkit::env::Env;
use aurora_testkit::text;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::PathBuf;

const JOB: &str = "devcluster/www-data/prod/web";

/// A cluster whose flapping tasks wait half a second, not Aurora's 30 s, before they are replaced.
fn cluster() -> Env {
    Env::start_with(&["--initial-flapping-task-delay-ms", "500"])
}

/// The test service, built with the workspace's examples (`cargo test` builds them).
fn service_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(std::path::Path::parent)
        .unwrap()
        .join("examples/http_service");
    assert!(
        bin.exists(),
        "{} is missing: `cargo test --workspace` builds it (or `cargo build -p aurora --examples`)",
        bin.display()
    );
    bin
}

/// Writes a configuration of the service at `version` into the cluster's home; returns its path.
fn config(env: &Env, version: &str, instances: u32, batch: u32, watch: u32) -> String {
    config_with(env, version, instances, batch, watch, "")
}

/// [`config`] with more `UpdateConfig` fields (`extra`: `name = value, `...).
fn config_with(
    env: &Env,
    version: &str,
    instances: u32,
    batch: u32,
    watch: u32,
    extra: &str,
) -> String {
    let path = env
        .home
        .path()
        .join(format!("web-{version}-{instances}.aurora"));
    let text = format!(
        r#"
web = Process(name = 'web', cmdline = '{bin} {{{{thermos.ports[health]}}}} {version}')
jobs = [Service(
  cluster = 'devcluster', role = 'www-data', environment = 'prod', name = 'web',
  instances = {instances},
  task = Task(processes = [web], resources = Resources(cpu = 0.1, ram = 32*MB, disk = 32*MB)),
  health_check_config = HealthCheckConfig(
    initial_interval_secs = 1, interval_secs = 0.2, max_consecutive_failures = 1, timeout_secs = 1),
  update_config = UpdateConfig(
    batch_size = {batch}, watch_secs = {watch}, max_per_shard_failures = 0, max_total_failures = 0,
    rollback_on_failure = True, {extra}),
)]
"#,
        bin = service_bin().display()
    );
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// The job's active tasks (`aurora job status --write-json`).
fn active(env: &Env) -> Vec<Value> {
    let v = env.aurora_json(&["job", "status", "--write-json", JOB]);
    v[0]["active"].as_array().cloned().unwrap_or_default()
}

fn inactive(env: &Env) -> Vec<Value> {
    let v = env.aurora_json(&["job", "status", "--write-json", JOB]);
    v[0]["inactive"].as_array().cloned().unwrap_or_default()
}

/// What an instance's service answers on `/` (its version), through its `health` port.
fn version_of(task: &Value) -> String {
    let port = task["ports"]["health"].as_u64().unwrap() as u16;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

/// Creates the job at `version` and waits until every instance is RUNNING (healthy).
fn create(env: &Env, version: &str, instances: u32, batch: u32, watch: u32) {
    let file = config(env, version, instances, batch, watch);
    let out = env.aurora(&["job", "create", "--wait-until", "RUNNING", JOB, &file]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    env.wait_for(|| {
        let a = active(env);
        a.len() == instances as usize && a.iter().all(|t| t["status"] == "RUNNING")
    });
}

/// The update's details (`aurora update info KEY ID --write-json`).
fn info(env: &Env, id: &str) -> Value {
    env.aurora_json(&["update", "info", JOB, id, "--write-json"])
}

/// The id of the job's newest update.
fn newest_update(env: &Env) -> String {
    let list = env.aurora_json(&[
        "update",
        "list",
        "devcluster/www-data/prod/web",
        "--write-json",
    ]);
    list[0]["id"].as_str().unwrap().to_owned()
}

/// `(instance, action)` of an update's instance events, in order.
fn instance_events(u: &Value) -> Vec<(u64, String)> {
    u["instance_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["instance"].as_u64().unwrap(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn status_of(u: &Value) -> String {
    u["summary"]["status"].as_str().unwrap().to_owned()
}

#[test]
fn four_instances_update_in_batches_of_two_and_a_noop_update_replaces_nothing() {
    let env = cluster();
    create(&env, "v1", 4, 2, 1);
    let old: Vec<Value> = active(&env);

    // The diff first: every instance changes, and how. Strict batches: the next batch starts
    // once the whole previous one is updated.
    let v2 = config_with(&env, "v2", 4, 2, 1, "wait_for_batch_completion = True");
    let out = env.aurora(&["job", "diff", JOB, &v2]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let diff = text(&out.stdout);
    assert!(
        diff.starts_with("This job update will:\nupdate instances: [0-3]\nwith diff:\n"),
        "{diff}"
    );
    assert!(
        diff.contains("http_service {{thermos.ports[health]}} v2"),
        "{diff}"
    );

    let out = env.aurora(&["update", "start", "--wait", JOB, &v2]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!(
            "Job update has started. View your update progress at http://127.0.0.1:{}/scheduler/www-data/prod/web/update/",
            env.port
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "Current state ROLLED_FORWARD: 4/4 updated, 0 in progress (0 healthy), 0 failed"
        ),
        "{stdout}"
    );

    // On a terminal, waiting shows a bar instead of lines (`script` gives the client a pty).
    let id = newest_update(&env);
    let tty = std::process::Command::new("script")
        .args(["-qec"])
        .arg(format!(
            "{} update wait {JOB} {id}",
            aurora_testkit::sibling_bin("aurora").display()
        ))
        .arg("/dev/null")
        .env("HOME", env.home.path())
        .output()
        .expect("script (util-linux) runs the client on a pseudo-terminal");
    let shown = text(&tty.stdout);
    assert!(tty.status.success(), "{shown}");
    assert!(
        shown.contains(&format!(
            "\r[{}] ROLLED_FORWARD: 4/4 updated",
            "#".repeat(30)
        )) && !shown.contains("Current state"),
        "{shown:?}"
    );

    // Batches in order: 0 and 1 updated before 2 and 3 start.
    let u = info(&env, &id);
    assert_eq!(status_of(&u), "ROLLED_FORWARD");
    let events = instance_events(&u);
    let pos = |i: u64, a: &str| {
        events
            .iter()
            .position(|(x, y)| *x == i && y == a)
            .unwrap_or_else(|| panic!("no {a} for {i}: {events:?}"))
    };
    let first_batch_done = pos(0, "INSTANCE_UPDATED").max(pos(1, "INSTANCE_UPDATED"));
    let second_batch_starts = pos(2, "INSTANCE_UPDATING").min(pos(3, "INSTANCE_UPDATING"));
    assert!(first_batch_done < second_batch_starts, "{events:?}");
    assert_eq!(events.len(), 8, "{events:?}");

    // Every instance answers with the new version; the old ones were shut down gracefully.
    let now = active(&env);
    assert_eq!(now.len(), 4);
    for t in &now {
        assert_eq!(version_of(t), "v2", "{t}");
    }
    for t in &old {
        let id = t["task_id"].as_str().unwrap();
        let log = std::fs::read_to_string(env.sandboxes().join(id).join("lifecycle.log"))
            .unwrap_or_default();
        assert_eq!(
            log, "graceful\n",
            "the graceful endpoint was called on {id}"
        );
    }

    // The same configuration again: nothing to do, nothing replaced.
    let ids: Vec<Value> = now.iter().map(|t| t["task_id"].clone()).collect();
    let out = env.aurora(&["update", "start", JOB, &v2]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.ends_with("not change instances: [0-3]\nJob is unchanged by proposed update.\n"),
        "{stdout}"
    );
    let after: Vec<Value> = active(&env).iter().map(|t| t["task_id"].clone()).collect();
    assert_eq!(ids, after);
    let list = env.aurora_json(&["update", "list", "devcluster", "--write-json"]);
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "no update was made: {list}"
    );
}

#[test]
fn a_version_that_never_becomes_healthy_is_rolled_back() {
    let env = cluster();
    create(&env, "v1", 2, 1, 1);
    let broken = config(&env, "broken", 2, 1, 1);
    let out = env.aurora(&["update", "start", "--wait", JOB, &broken]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let u = info(&env, &newest_update(&env));
    assert_eq!(status_of(&u), "ROLLED_BACK");
    let events = instance_events(&u);
    assert_eq!(
        events,
        [
            (0, "INSTANCE_UPDATING".into()),
            (0, "INSTANCE_UPDATE_FAILED".into()),
            (0, "INSTANCE_ROLLING_BACK".into()),
            (0, "INSTANCE_ROLLED_BACK".into()),
        ],
        "instance 1 was never touched"
    );
    env.wait_for(|| active(&env).iter().all(|t| t["status"] == "RUNNING"));
    let now = active(&env);
    assert_eq!(now.len(), 2);
    for t in &now {
        assert_eq!(version_of(t), "v1");
    }
    let failed = inactive(&env);
    assert!(
        failed.iter().any(|t| t["status"] == "FAILED"
            && t["events"].as_array().unwrap().iter().any(|e| e["message"]
                .as_str()
                .is_some_and(|m| m.contains("health check")))),
        "{failed:#?}"
    );
    // `aurora update info` reads as Aurora's.
    let out = env.aurora(&["update", "info", JOB, u["summary"]["id"].as_str().unwrap()]);
    let s = text(&out.stdout);
    assert!(s.contains("Current status: ROLLED_BACK\n"), "{s}");
    assert!(
        s.contains("Instance 0 at ") && s.contains(": INSTANCE_ROLLED_BACK\n"),
        "{s}"
    );
}

#[test]
fn pause_resume_and_abort() {
    let env = cluster();
    create(&env, "v1", 3, 1, 2);
    let v2 = config(&env, "v2", 3, 1, 2);
    let out = env.aurora(&["update", "start", JOB, &v2]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = newest_update(&env);
    env.wait_for(|| instance_events(&info(&env, &id)).contains(&(0, "INSTANCE_UPDATING".into())));

    // While the update runs the job is locked.
    let out = env.aurora(&["job", "kill", &format!("{JOB}/2")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is locked by an active update"),
        "{}",
        text(&out.stderr)
    );

    let out = env.aurora(&["update", "pause", JOB]);
    assert_eq!(text(&out.stdout), "Update has been paused.\n");
    assert_eq!(status_of(&info(&env, &id)), "ROLL_FORWARD_PAUSED");
    // Paused: instance 0 runs the new version past its watch time, and is still not declared
    // updated, nor is instance 1 started.
    env.wait_for(|| {
        active(&env).iter().any(|t| {
            t["instance"] == 0
                && t["status"] == "RUNNING"
                && version_of(t) == "v2"
                && running_for_ms(t) > 3_000
        })
    });
    let u = info(&env, &id);
    assert_eq!(instance_events(&u), [(0, "INSTANCE_UPDATING".into())]);
    assert_eq!(
        u["summary"]["progress"]["healthy"],
        1,
        "instance 0 runs the new version, healthy, watched: {u} {:?}",
        active(&env)
    );

    let out = env.aurora(&["update", "resume", JOB]);
    assert_eq!(text(&out.stdout), "Update has been resumed.\n");
    env.wait_for(|| instance_events(&info(&env, &id)).contains(&(1, "INSTANCE_UPDATING".into())));
    let out = env.aurora(&["update", "abort", JOB]);
    assert_eq!(text(&out.stdout), "Update has been aborted.\n");
    let u = info(&env, &id);
    assert_eq!(status_of(&u), "ABORTED");
    let statuses: Vec<&str> = u["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "ROLLING_FORWARD",
            "ROLL_FORWARD_PAUSED",
            "ROLLING_FORWARD",
            "ABORTED"
        ]
    );
    // Aborted: instance 2 was never touched; nothing is active any more.
    assert!(!instance_events(&u).iter().any(|(i, _)| *i == 2));
    let out = env.aurora(&["update", "pause", JOB]);
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(text(&out.stderr), "No active update found for this job.\n");
    let out = env.aurora(&["update", "wait", JOB, &id]);
    assert_eq!(out.status.code(), Some(20), "an aborted update waits as 20");
}

/// How long a task has been RUNNING, by its last event.
fn running_for_ms(t: &Value) -> i64 {
    let since = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["status"] == "RUNNING")
        .and_then(|e| e["timestamp_ms"].as_i64())
        .unwrap_or(i64::MAX);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    now - since
}

#[test]
fn an_update_goes_on_where_it_was_after_the_scheduler_is_killed() {
    let mut env = cluster();
    create(&env, "v1", 3, 1, 2);
    let v2 = config(&env, "v2", 3, 1, 2);
    let out = env.aurora(&["update", "start", JOB, &v2]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = newest_update(&env);
    env.wait_for(|| {
        let e = instance_events(&info(&env, &id));
        e.contains(&(0, "INSTANCE_UPDATED".into())) && e.contains(&(1, "INSTANCE_UPDATING".into()))
    });
    env.kill9_and_restart();
    let out = env.aurora(&["update", "wait", JOB, &id]);
    assert!(
        out.status.success(),
        "{}{}\n{:#}\n{:#}\n{}",
        text(&out.stdout),
        text(&out.stderr),
        info(&env, &id),
        env.aurora_json(&["job", "status", "--write-json", JOB]),
        env.log()
    );
    let u = info(&env, &id);
    assert_eq!(status_of(&u), "ROLLED_FORWARD");
    let events = instance_events(&u);
    for i in 0..3 {
        for action in ["INSTANCE_UPDATING", "INSTANCE_UPDATED"] {
            let n = events
                .iter()
                .filter(|(x, a)| *x == i && a == action)
                .count();
            assert_eq!(n, 1, "instance {i} {action}: {events:?}");
        }
    }
    let now = active(&env);
    assert_eq!(now.len(), 3);
    for t in &now {
        assert_eq!(version_of(t), "v2");
    }
    // Each instance was replaced once: three old tasks killed for the update. A launch the kill
    // -9 cut short (its agent died with the scheduler) may have been LOST and replaced; nothing
    // else ended.
    let old = inactive(&env);
    let last_message = |t: &Value| {
        t["events"].as_array().unwrap().last().unwrap()["message"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let killed = old.iter().filter(|t| t["status"] == "KILLED").count();
    assert_eq!(killed, 3, "{old:#?}");
    assert!(
        old.iter().all(|t| t["status"] == "KILLED"
            || (t["status"] == "LOST" && last_message(t) == "Task is gone from its agent")),
        "{old:#?}"
    );
}

#[test]
fn a_task_that_turns_unhealthy_is_replaced() {
    let env = cluster();
    create(&env, "v1", 1, 1, 1);
    let t = active(&env)[0].clone();
    let id = t["task_id"].as_str().unwrap().to_owned();
    std::fs::write(env.sandboxes().join(&id).join("unhealthy"), "").unwrap();
    env.wait_for(|| {
        active(&env)
            .first()
            .is_some_and(|n| n["task_id"] != id.as_str() && n["status"] == "RUNNING")
    });
    let old = inactive(&env);
    let ended = old.iter().find(|o| o["task_id"] == id.as_str()).unwrap();
    assert_eq!(ended["status"], "FAILED");
    let last = ended["events"].as_array().unwrap().last().unwrap();
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .starts_with("Failed health check!"),
        "{last}"
    );
}
