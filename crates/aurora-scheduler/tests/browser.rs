//! The web UI in a real headless Chromium, driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`) with fantoccini (`aurora_testkit::browser`), against the real scheduler
//! binary and its embedded agent.
//!
//! Without chromedriver these tests say so and pass, unless `AURORA_REQUIRE_BROWSER` is set (CI
//! sets it, after installing both packages). With `AURORA_UI_SCREENSHOTS=DIR`, the job page and
//! the log viewer are saved there as PNG (that is how `docs/screenshots/` is made).

use aurora_testkit::browser::Browser;
use aurora_testkit::cluster::{Cluster, status, with_cmdline};
use aurora_testkit::example;
use fantoccini::Locator;
use serde_json::{Value, json};
use std::process::Command;

/// A job whose output grows while the browser watches.
const CHATTY: &str = "i=0; while true; do echo \"hello world $i\"; i=$((i+1)); sleep 0.2; done";

/// A running hello service whose output grows; returns its task id.
async fn running_hello(c: &Cluster) -> String {
    let job = with_cmdline(example("hello_world"), "hello", CHATTY);
    assert_eq!(c.create(&job).await.status(), 201);
    let tasks = c
        .wait_tasks("www-data/prod/hello", |t| {
            t.len() == 1 && status(&t[0]) == "RUNNING"
        })
        .await;
    tasks[0]["task_id"].as_str().unwrap().to_owned()
}

/// The number of "hello world" lines the log viewer shows.
fn hello_lines(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with("hello world"))
        .count()
}

#[tokio::test]
async fn job_page_shows_running_and_the_log_viewer_follows_live_output() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path()).await;
    let task_id = running_hello(&c).await;

    // The URL `aurora job create` prints.
    b.client
        .goto(&c.url("/scheduler/www-data/prod/hello"))
        .await
        .unwrap();
    let state = b
        .text_until("#instances tr[data-instance='0'] .state", |t| {
            t == "RUNNING"
        })
        .await;
    assert_eq!(state, "RUNNING");
    let shown_id = b.text_until("#instances a.task", |t| !t.is_empty()).await;
    assert_eq!(shown_id, task_id);
    b.screenshot("job-page.png").await;

    // On a phone's width the page reflows instead of scrolling sideways.
    b.client.set_window_size(390, 844).await.unwrap();
    let overflow = b
        .client
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "sideways overflow: {overflow}"
    );
    b.screenshot("job-page-phone.png").await;
    b.client.set_window_size(1280, 900).await.unwrap();

    b.click(Locator::Css("#instances a.task")).await;
    assert_eq!(
        b.text_until("#task-state", |t| !t.is_empty()).await,
        "RUNNING"
    );
    b.click(Locator::Css(
        "#task-processes tr[data-process='hello'] a.log.stdout",
    ))
    .await;

    // The tail arrives first, then new lines as the process writes them.
    let first = b.text_until("#log", |t| hello_lines(t) > 0).await;
    let seen = hello_lines(&first);
    let later = b.text_until("#log", |t| hello_lines(t) >= seen + 3).await;
    let lines: Vec<&str> = later.lines().filter(|l| !l.is_empty()).collect();
    // In order, none lost or repeated: "hello world N" counts up by one.
    let numbers: Vec<u64> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("hello world ")?.parse().ok())
        .collect();
    assert!(numbers.len() >= 4, "{lines:?}");
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "lines out of order or repeated: {numbers:?}"
    );
    assert_eq!(
        b.text_until("#log-status", |t| t == "following").await,
        "following"
    );
    b.screenshot("log-viewer.png").await;

    // The download link serves the whole file.
    let href = b
        .client
        .find(Locator::Css("a.download"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let whole = c
        .http
        .get(c.url(&href))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(whole.starts_with("hello world 0\n"), "{whole}");
    let _ = b.client.clone().close().await;
}

#[tokio::test]
async fn links_lead_from_the_roles_down_to_the_log_and_the_sandbox_stays_closed() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path()).await;
    let task_id = running_hello(&c).await;

    b.client.goto(&c.url("/scheduler")).await.unwrap();
    b.click(Locator::LinkText("www-data")).await;
    b.click(Locator::Css("#jobs a.env")).await;
    assert!(
        b.client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .ends_with("/scheduler/www-data/prod")
    );
    b.click(Locator::LinkText("hello")).await;
    b.click(Locator::Css("#instances a.task")).await;
    b.click(Locator::Css("a.log.stdout")).await;
    b.text_until("#log", |t| hello_lines(t) > 0).await;

    // The sandbox browser: folders open, files show.
    b.client
        .goto(&c.url(&format!("/task/{task_id}")))
        .await
        .unwrap();
    b.click(Locator::Id("sandbox")).await;
    b.click(Locator::LinkText(".logs/")).await;
    b.click(Locator::LinkText("hello/")).await;
    b.click(Locator::LinkText("0/")).await;
    b.click(Locator::LinkText("stdout")).await;
    b.text_until("#log", |t| hello_lines(t) > 0).await;

    // Nothing outside the sandbox: refused in the browser, by the UI and by the API.
    let escape = format!("/task/{task_id}/files?path=../../etc/passwd");
    b.client.goto(&c.url(&escape)).await.unwrap();
    let error = b.text_until("#error", |t| !t.is_empty()).await;
    assert!(error.contains("leaves the task's sandbox"), "{error}");
    let source = b.client.source().await.unwrap();
    assert!(!source.contains("root:"), "{source}");
    for path in [
        escape,
        format!("/task/{task_id}/file?path=../../etc/passwd"),
        format!("/api/v1/tasks/{task_id}/files?path=../../etc/passwd"),
        format!("/api/v1/tasks/{task_id}/files/content?path=.logs/../../../etc/passwd"),
    ] {
        let r = c.http.get(c.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let body = r.text().await.unwrap();
        assert!(!body.contains("root:"), "{path}: {body}");
    }
    let api: Value = c
        .http
        .get(c.url(&format!(
            "/api/v1/tasks/{task_id}/files?path=../../etc/passwd"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(api["error"].as_str().unwrap().contains("leaves"), "{api}");
    let _ = b.client.clone().close().await;
}

#[tokio::test]
async fn a_browser_logs_in_with_a_pasted_token_and_gets_a_strict_session_cookie() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let authz = dir.path().join("authz.toml");
    std::fs::write(&authz, "read_requires_login = true\nadmins = [\"ops\"]\n").unwrap();
    let data = dir.path().join("data");
    // The first administrator's token, issued on the scheduler's machine.
    let out = Command::new(env!("CARGO_BIN_EXE_aurora-scheduler"))
        .args(["token", "issue", "--data-dir"])
        .arg(&data)
        .args(["--bind-ip", "127.0.0.1", "ops"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let c = Cluster::start_with(
        &data,
        &["--auth", "token", "--authz", authz.to_str().unwrap()],
    )
    .await;

    // Not logged in: the page sends the browser to the login form, saying why.
    b.client.goto(&c.url("/scheduler")).await.unwrap();
    let why = b.text_until("#error", |t| !t.is_empty()).await;
    assert!(why.starts_with("authentication required"), "{why}");
    // A wrong token is refused on the form.
    b.client
        .find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys("aurora_nonsense")
        .await
        .unwrap();
    b.click(Locator::Css("#login button")).await;
    let why = b
        .text_until("#error", |t| t.contains("not an Aurora token"))
        .await;
    assert!(why.contains("not an Aurora token"), "{why}");
    // The right one logs in: the roles page, and a session cookie scripts cannot read.
    b.client
        .find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(&token)
        .await
        .unwrap();
    b.click(Locator::Css("#login button")).await;
    b.text_until("h1", |t| t == "Roles").await;
    let visible = b
        .client
        .execute("return document.cookie;", vec![])
        .await
        .unwrap();
    assert_eq!(visible, json!(""), "the session cookie is HttpOnly");
    let cookie = b.client.get_named_cookie("aurora_session").await.unwrap();
    assert_eq!(
        cookie.same_site().map(|s| s.to_string()).as_deref(),
        Some("Strict")
    );
    assert_eq!(cookie.http_only(), Some(true));
    // A login form posted from another site is refused.
    let r = c
        .http
        .post(c.url("/login"))
        .header("origin", "http://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let _ = b.client.clone().close().await;
}

#[tokio::test]
async fn the_job_page_links_to_its_update_whose_page_shows_progress_settings_and_the_change() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path()).await;
    running_hello(&c).await;
    // A new version, watched long enough that the update is still in progress when looked at.
    let mut v2 = with_cmdline(
        example("hello_world"),
        "hello",
        "while true; do echo v2; sleep 1; done",
    );
    v2["update_config"]["batch_size"] = json!(1);
    v2["update_config"]["watch_secs"] = json!(600);
    let r = c
        .http
        .post(c.url("/api/v1/jobs/www-data/prod/hello/update"))
        .json(&json!({ "config": v2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let started: Value = r.json().await.unwrap();
    let id = started["update"]["id"].as_str().unwrap().to_owned();

    b.client
        .goto(&c.url("/scheduler/www-data/prod/hello"))
        .await
        .unwrap();
    b.text_until("#active-update", |t| t.contains("ROLLING_FORWARD"))
        .await;
    b.click(Locator::Css("#active-update a")).await;
    assert!(
        b.client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .ends_with(&format!("/scheduler/www-data/prod/hello/update/{id}"))
    );
    assert_eq!(
        b.text_until("#update-status", |t| !t.is_empty()).await,
        "ROLLING_FORWARD"
    );
    // Instance 0 runs the new version and is being watched.
    b.text_until("#update-instances tr[data-instance='0'] .phase", |t| {
        t == "working"
    })
    .await;
    let settings = b.text_until("#update-settings", |t| !t.is_empty()).await;
    assert!(
        settings.contains("Queue, batch size 1") && settings.contains("600 s"),
        "{settings}"
    );
    let diff = b.text_until("pre.diff", |t| !t.is_empty()).await;
    assert!(
        diff.contains("+") && diff.contains("echo v2"),
        "the configuration change is shown: {diff}"
    );
    b.text_until("#instance-events", |t| t.contains("INSTANCE_UPDATING"))
        .await;
    b.screenshot("update-page.png").await;

    // Paused from the API: the page, refreshing itself, says so.
    let r = c
        .http
        .post(c.url("/api/v1/jobs/www-data/prod/hello/update/pause"))
        .json(&json!({ "message": "looking at the graphs" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    b.text_until("#update-status", |t| t == "ROLL_FORWARD_PAUSED")
        .await;
    b.text_until("#update-events", |t| t.contains("looking at the graphs"))
        .await;
    let _ = b.client.clone().close().await;
}
