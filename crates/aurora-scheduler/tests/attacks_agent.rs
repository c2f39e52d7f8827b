//! Attacks on the agent protocol, against the real `aurora-scheduler` binary and its embedded
//! agent: a local user or a task (both on loopback) posing as an agent, forging a status, a
//! registration or a second command stream, reading an agent's file server, or an agent speaking
//! for a task placed elsewhere. Each must fail and change nothing.

use aurora_agent::cluster_secret;
use aurora_testkit::cluster::{Cluster, status};
use aurora_testkit::example;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;

const KEY: &str = "www-data/prod/hello";

/// The scheduler with its embedded agent, the hello service RUNNING there: (cluster, task id,
/// agent id, agent endpoint, the secret the scheduler made).
async fn running(dir: &std::path::Path) -> (Cluster, String, String, String, String) {
    let c = Cluster::start(dir).await;
    assert_eq!(c.create(&example("hello_world")).await.status(), 201);
    let tasks = c
        .wait_tasks(KEY, |t| t.len() == 1 && status(&t[0]) == "RUNNING")
        .await;
    let task = tasks[0]["task_id"].as_str().unwrap().to_owned();
    let hosts = hosts(&c).await;
    let agent = hosts[0]["agent_id"].as_str().unwrap().to_owned();
    let endpoint = hosts[0]["endpoint"].as_str().unwrap_or_default().to_owned();
    let secret_file = dir.join("cluster-secret");
    let mode = std::fs::metadata(&secret_file)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the secret the scheduler made is its own");
    let secret = cluster_secret::read(&secret_file).unwrap();
    (c, task, agent, endpoint, secret)
}

/// `GET /api/v1/hosts`.
async fn hosts(c: &Cluster) -> Vec<Value> {
    let resp = c.http.get(c.url("/api/v1/hosts")).send().await.unwrap();
    resp.json().await.unwrap()
}

fn forged_status(task: &str) -> Value {
    json!({ "updates": [{ "task_id": task, "status": "FAILED", "message": "forged", "timestamp_ms": 1 }] })
}

async fn post(c: &Cluster, path: &str, credential: Option<&str>, body: &Value) -> (u16, String) {
    let mut req = c.http.post(c.url(path)).json(body);
    if let Some(cred) = credential {
        req = req.header(cluster_secret::HEADER, cred);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn nobody_without_the_credential_speaks_for_an_agent() {
    let dir = tempfile::tempdir().unwrap();
    let (c, task, agent, endpoint, secret) = running(dir.path()).await;
    let status_path = format!("/agent/v1/{agent}/status");

    // A forged status from loopback with no credential, another cluster's, or the secret itself.
    let other = cluster_secret::credential("another-cluster-secret", &agent);
    for cred in [None, Some(other.as_str()), Some(secret.as_str())] {
        let (code, body) = post(&c, &status_path, cred, &forged_status(&task)).await;
        assert_eq!(code, 401, "{body}");
    }
    // Another agent's credential does not speak for this one.
    let a2 = cluster_secret::credential(&secret, "intruder");
    let (code, _) = post(&c, &status_path, Some(&a2), &forged_status(&task)).await;
    assert_eq!(code, 401);

    // A fake agent cannot register (to attract placements or steal launches)...
    let register = json!({
        "agent_id": "intruder", "hostname": "evil", "endpoint": "http://127.0.0.1:1",
        "resources": { "cpu": 64.0, "ram_mb": 65536, "disk_mb": 65536, "port_range": [1, 2] },
    });
    let (code, body) = post(&c, "/agent/v1/register", None, &register).await;
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("agent credential"), "{body}");
    // ...nor take the real agent's command stream.
    let stream = c
        .http
        .get(c.url(&format!("/agent/v1/{agent}/commands")))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 401);
    // Even with the right credential, the stream the real agent holds is not handed over.
    let mine = cluster_secret::credential(&secret, &agent);
    let stream = c
        .http
        .get(c.url(&format!("/agent/v1/{agent}/commands")))
        .header(cluster_secret::HEADER, &mine)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 409);

    // The agent's file server wants the credential too.
    if !endpoint.is_empty() {
        let url = format!("{endpoint}/tasks/{task}/processes");
        let resp = c.http.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let resp = c
            .http
            .get(&url)
            .header(cluster_secret::HEADER, &other)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }

    // Nothing changed: the task runs, no intruder among the hosts, its logs still come through.
    let tasks = c.tasks(KEY).await;
    assert_eq!((tasks.len(), status(&tasks[0])), (1, "RUNNING"));
    let hosts = hosts(&c).await;
    assert_eq!(hosts.len(), 1, "{hosts:?}");
    c.until(async |c| c.logs(&task).await.contains("hello world"))
        .await;
}

#[tokio::test]
async fn an_agent_speaks_only_for_its_own_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let (c, task, _agent, _endpoint, secret) = running(dir.path()).await;
    // A second agent, registered with its own (valid) credential.
    let cred = cluster_secret::credential(&secret, "other-agent");
    let register = json!({
        "agent_id": "other-agent", "hostname": "other", "endpoint": "http://127.0.0.1:1",
        "resources": { "cpu": 1.0, "ram_mb": 64, "disk_mb": 64, "port_range": [1, 2] },
    });
    let (code, body) = post(&c, "/agent/v1/register", Some(&cred), &register).await;
    assert_eq!(code, 200, "{body}");
    // Its status for the task placed on the embedded agent is acknowledged and changes nothing.
    let path = "/agent/v1/other-agent/status";
    let (code, body) = post(&c, path, Some(&cred), &forged_status(&task)).await;
    assert_eq!(code, 200, "{body}");
    let tasks = c.tasks(KEY).await;
    assert_eq!(
        (tasks.len(), status(&tasks[0])),
        (1, "RUNNING"),
        "{tasks:#?}"
    );
    let events = tasks[0]["events"].as_array().unwrap();
    assert!(
        events.iter().all(|e| e["message"] != "forged"),
        "{events:?}"
    );
    // An agent that never registered is told to register first.
    let ghost = cluster_secret::credential(&secret, "ghost");
    let (code, body) = post(
        &c,
        "/agent/v1/ghost/status",
        Some(&ghost),
        &forged_status(&task),
    )
    .await;
    assert_eq!(code, 404, "{body}");
}
