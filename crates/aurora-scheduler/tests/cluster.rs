//! End to end on the real `aurora-scheduler` binary with its embedded agent: real processes, a
//! real SQLite file, real sockets on 127.0.0.1, and kill -9.

use aurora_testkit::cluster::{Cluster, status, with_cmdline};
use aurora_testkit::{example, group_alive, processes_in_group};
use serde_json::{Value, json};

#[tokio::test]
async fn hello_service_runs_and_its_output_is_readable_through_the_scheduler() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path()).await;
    let r = c.create(&example("hello_world")).await;
    assert_eq!(r.status(), 201);
    let tasks = c
        .wait_tasks("www-data/prod/hello", |t| {
            t.len() == 1 && status(&t[0]) == "RUNNING"
        })
        .await;
    let id = tasks[0]["task_id"].as_str().unwrap().to_owned();
    let events: Vec<&str> = tasks[0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["PENDING", "ASSIGNED", "STARTING", "RUNNING"]);
    let metrics = c
        .http
        .get(c.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"aurora_tasks{status="RUNNING"} 1"#),
        "{metrics}"
    );
    assert!(metrics.lines().any(|l| l == "aurora_jobs 1"), "{metrics}");
    // The task was placed by a scheduling round, which counted it.
    assert!(
        metrics.lines().any(|l| l == "aurora_placements_total 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("aurora_schedule_round_seconds_total ")),
        "{metrics}"
    );
    // Where changes spent their time: the create and the task's changes were each committed.
    let count = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}_count ")))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} missing: {metrics}"))
    };
    assert!(count("aurora_store_commit_seconds") >= 2, "{metrics}");
    assert!(count("aurora_state_lock_held_seconds") >= 2, "{metrics}");
    assert!(count("aurora_state_lock_wait_seconds") >= 2, "{metrics}");
    assert!(
        count("aurora_schedule_round_duration_seconds") >= 1,
        "{metrics}"
    );
    assert!(
        metrics.lines().any(|l| l == "aurora_schedule_queue 0"),
        "nothing left to place: {metrics}"
    );
    let openapi: Value = c
        .http
        .get(c.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openapi["openapi"], "3.0.3");
    assert!(openapi["paths"]["/api/v1/tasks/{task_id}/logs"]["get"].is_object());
    c.until(async |c| c.logs(&id).await.contains("hello world"))
        .await;
}

#[tokio::test]
async fn a_service_whose_process_exits_is_replaced_by_a_new_task() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path()).await;
    let job = with_cmdline(example("hello_world"), "blink", "echo once");
    assert_eq!(c.create(&job).await.status(), 201);
    let tasks = c
        .wait_tasks("www-data/prod/blink", |t| {
            t.len() >= 2 && t.iter().any(|x| status(x) == "FINISHED")
        })
        .await;
    let finished = tasks.iter().find(|t| status(t) == "FINISHED").unwrap();
    let replacement = tasks
        .iter()
        .find(|t| t["ancestor_id"] == finished["task_id"])
        .expect("a replacement");
    assert_ne!(replacement["task_id"], finished["task_id"]);
    assert_eq!(replacement["instance"], 0);
}

#[tokio::test]
async fn adhoc_jobs_finish_run_processes_in_order_and_stop_after_max_task_failures() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path()).await;
    // batch_steps: two instances, `compute` reads what `prepare` wrote: it only succeeds in order.
    assert_eq!(c.create(&example("batch_steps")).await.status(), 201);
    let done = c
        .wait_tasks("www-data/devel/batch", |t| {
            t.len() == 2 && t.iter().all(|x| status(x) == "FINISHED")
        })
        .await;
    for t in &done {
        let id = t["task_id"].as_str().unwrap();
        let out = c
            .http
            .get(c.url(&format!("/api/v1/tasks/{id}/logs?process=compute")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(out, "preparing prepare for www-data\ncomputed\n");
    }

    let mut failing = with_cmdline(example("batch_steps"), "failing", "exit 7");
    failing["instances"] = json!(1);
    failing["task"]["processes"] = json!([failing["task"]["processes"][0]]);
    failing["task"]["constraints"] = json!([]);
    failing["max_task_failures"] = json!(2);
    assert_eq!(c.create(&failing).await.status(), 201);
    let tasks = c
        .wait_tasks("www-data/devel/failing", |t| {
            t.len() == 2 && t.iter().all(|x| status(x) == "FAILED")
        })
        .await;
    assert_eq!(tasks.len(), 2, "exactly max_task_failures runs");
}

#[tokio::test]
async fn kill_leaves_no_process_behind_and_bad_requests_are_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path()).await;
    let job = with_cmdline(
        example("hello_world"),
        "sleeper",
        "sleep 1000 & sleep 1000 & wait",
    );
    assert_eq!(c.create(&job).await.status(), 201);
    let t = c
        .wait_tasks("www-data/prod/sleeper", |t| {
            t.len() == 1 && status(&t[0]) == "RUNNING"
        })
        .await;
    let id = t[0]["task_id"].as_str().unwrap().to_owned();
    let groups = c.groups(&id);
    assert_eq!(groups.len(), 1);
    c.until(async |_| processes_in_group(groups[0]) >= 3).await;

    // A job that exists already is refused, nothing changes.
    let again = c.create(&job).await;
    assert_eq!(again.status(), 409);
    assert!(
        again.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );

    let r = c
        .http
        .post(c.url("/api/v1/jobs/www-data/prod/sleeper/kill"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t = c
        .wait_tasks("www-data/prod/sleeper", |t| {
            t.iter().all(|x| status(x) == "KILLED")
        })
        .await;
    assert_eq!(t.len(), 1, "a killed service is not replaced");
    // SIGKILL has been sent by the time KILLED is reported; the kernel finishes the exits.
    c.until(async |_| processes_in_group(groups[0]) == 0).await;

    // Bad input: 4xx with a JSON error, never a 5xx.
    let r = c
        .http
        .post(c.url("/api/v1/jobs/nobody/prod/nothing/kill"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );
    let r = c
        .http
        .post(c.url("/api/v1/jobs"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["error"].as_str().is_some());
    let r = c
        .http
        .post(c.url("/api/v1/jobs"))
        .json(&json!({ "config": { "name": 3 } }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let mut other = example("hello_world");
    other["cluster"] = json!("elsewhere");
    let r = c.create(&other).await;
    assert_eq!(r.status(), 400);
    assert!(
        r.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("elsewhere")
    );
}

#[tokio::test]
async fn kill_9_loses_no_acknowledged_job_and_running_tasks_are_readopted() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path()).await;
    assert_eq!(c.create(&example("hello_world")).await.status(), 201);
    let running = c
        .wait_tasks("www-data/prod/hello", |t| {
            t.len() == 1 && status(&t[0]) == "RUNNING"
        })
        .await;
    let hello_id = running[0]["task_id"].as_str().unwrap().to_owned();
    let hello_groups = c.groups(&hello_id);

    // A burst of creates, cut by kill -9 while requests are in flight. The burst reports
    // how many creates were acknowledged (201 received), and the kill waits for 20 of them:
    // a job visible in the listing may still have its 201 on the wire.
    let url = c.url("/api/v1/jobs");
    let (acks, mut acked_so_far) = tokio::sync::watch::channel(0usize);
    let burst = tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut acked = Vec::new();
        for i in 0..1000 {
            let mut job = example("batch_steps");
            job["name"] = json!(format!("burst{i}"));
            job["task"]["processes"][1]["cmdline"] = json!("true");
            job["task"]["processes"][0]["cmdline"] = json!("true");
            match http.post(&url).json(&json!({ "config": job })).send().await {
                Ok(r) if r.status() == 201 => acked.push(format!("www-data/devel/burst{i}")),
                _ => break,
            }
            acks.send_replace(acked.len());
        }
        acked
    });
    acked_so_far
        .wait_for(|n| *n >= 20)
        .await
        .expect("the burst stopped before 20 creates were acknowledged");
    c.kill9();
    let acked = burst.await.unwrap();
    assert!(acked.len() >= 20);
    assert!(
        hello_groups.iter().any(|g| group_alive(*g)),
        "task processes outlive the scheduler"
    );

    c.spawn().await;
    let jobs: Vec<Value> = c
        .http
        .get(c.url("/api/v1/jobs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: std::collections::HashSet<String> = jobs
        .iter()
        .map(|j| {
            format!(
                "{}/{}/{}",
                j["role"].as_str().unwrap(),
                j["environment"].as_str().unwrap(),
                j["name"].as_str().unwrap()
            )
        })
        .collect();
    for key in &acked {
        assert!(names.contains(key), "acknowledged job {key} was lost");
    }
    // The agent is back and has reconciled: the hello task was re-adopted, not replaced.
    c.until(async |c| {
        let m = c
            .http
            .get(c.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        m.lines().any(|l| l == "aurora_agents_connected 1")
    })
    .await;
    let tasks = c.tasks("www-data/prod/hello").await;
    assert_eq!(tasks.len(), 1, "no duplicate: {tasks:#?}");
    assert_eq!(tasks[0]["task_id"], hello_id.as_str());
    assert_eq!(status(&tasks[0]), "RUNNING");
    assert!(hello_groups.iter().any(|g| group_alive(*g)));
}

#[tokio::test]
async fn a_jobs_tasks_can_be_read_a_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path()).await;
    let mut job = with_cmdline(example("hello_world"), "paged", "sleep 600");
    job["instances"] = json!(5);
    assert_eq!(c.create(&job).await.status(), 201);
    let get = async |query: &str| -> Value {
        let r = c
            .http
            .get(c.url(&format!("/api/v1/jobs/www-data/prod/paged{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    };
    let instances = |v: &Value| -> Vec<u64> {
        v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["instance"].as_u64().unwrap())
            .collect()
    };
    let whole = get("").await;
    assert_eq!(whole["tasks_total"], 5);
    assert_eq!(instances(&whole), [0, 1, 2, 3, 4]);
    let page = get("?offset=1&limit=2").await;
    assert_eq!(page["tasks_total"], 5, "the total, whatever the page");
    assert_eq!(instances(&page), [1, 2]);
    assert_eq!(page["summary"]["instances"], 5);
    let past = get("?offset=9&limit=2").await;
    assert_eq!(instances(&past), Vec::<u64>::new());
    assert_eq!(past["tasks_total"], 5);
}
