//! Attacks on the scheduler by its users and by anyone on the network, on the real binaries
//! (issue 14, "multi-tenant safety"): each test makes the attack, asserts that it fails, and that
//! nothing leaked or changed. The store's files are private and a task (running as its role's
//! user) cannot read them; a role that is a system account is refused; a POST is no way around
//! `read_requires_login`; a token cannot mint a longer-lived or wider one; a mutation with the
//! session cookie and no CSRF header is refused; a trickled header is cut off; unknown tokens
//! are rate-limited. Kerberos realms are in `kerberos.rs`.

use aurora_testkit::{
    LIMIT, LocalScheduler, client_command, home_with_clusters_json, run_watched, sibling_bin, text,
    wait_for,
};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const AUTHZ: &str = r#"
read_requires_login = true
admins = ["ops"]
[groups]
alice-aurora-users = ["alice"]
[roles]
mesostest = ["alice-aurora-users"]
"#;

/// `nobody`: an unprivileged user other than the scheduler's (root).
const NOBODY: u32 = 65534;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// One HTTP/1.1 request on a fresh connection: the status and the body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connecting");
    s.set_read_timeout(Some(LIMIT)).expect("a read timeout");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("sending");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("reading the answer");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    (status, body)
}

/// A scheduler with tokens and [`AUTHZ`], and tokens for `ops` (an administrator) and `alice`.
struct Secured {
    scheduler: LocalScheduler,
    ops: String,
    alice: String,
    _dir: tempfile::TempDir,
}

fn issue(data: &Path, user: &str, extra: &[&str]) -> String {
    let out = Command::new(sibling_bin("aurora-scheduler"))
        .args(["token", "issue", "--data-dir"])
        .arg(data)
        .args(extra)
        .arg(user)
        .output()
        .expect("aurora-scheduler token issue");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

fn secured(extra: &[&str]) -> Secured {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let authz = dir.path().join("authz.toml");
    std::fs::write(&authz, AUTHZ).expect("writing authz.toml");
    let data = dir.path().join("data");
    let ops = issue(&data, "ops", &["--bind-ip", "127.0.0.1"]);
    let alice = issue(&data, "alice", &["--bind-ip", "127.0.0.1", "--ttl", "1h"]);
    let scheduler = LocalScheduler::new(&data)
        .args(["--auth", "token", "--authz"])
        .args([authz.as_os_str()])
        .args(extra.iter().copied())
        .start();
    Secured {
        scheduler,
        ops,
        alice,
        _dir: dir,
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The aurora CLI against `port`, anonymous, in `dir`.
fn aurora(port: u16, dir: &Path, args: &[&str]) -> Output {
    let home = home_with_clusters_json(&format!("http://127.0.0.1:{port}"), "");
    let mut cmd = client_command("aurora", home.path());
    cmd.args(args).current_dir(dir);
    run_watched(&mut cmd, String::new)
}

fn files_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name() == name {
                found.push(p);
            }
        }
    }
    found
}

#[test]
fn the_store_is_private_and_a_task_cannot_read_it() {
    if !is_root() {
        eprintln!("SKIPPED: needs root (to run tasks and readers as another user)");
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Tasks run as `nobody`, who must reach its sandbox under the data directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let data = dir.path().join("data");
    // What an older version left: everything readable by everyone.
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::write(data.join("scheduler.db"), b"").expect("an empty store");
    std::fs::write(data.join("audit.log"), b"").expect("an audit log");
    for (p, m) in [
        (data.clone(), 0o755),
        (data.join("scheduler.db"), 0o644),
        (data.join("audit.log"), 0o644),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).expect("chmod");
    }
    let scheduler = LocalScheduler::new(&data).strict().logged().start();
    let log = scheduler.log();
    assert!(log.contains("tightened mode 0644 to 0600"), "{log}");
    assert!(log.contains("tightened mode 0755 to 0711"), "{log}");

    // A task of role `nobody` tries to read the store.
    let db = data.join("scheduler.db");
    std::fs::write(
        dir.path().join("peek.aurora"),
        format!(
            "p = Process(name = 'peek', cmdline = 'id -u > peek.uid; cat {} > peek.leak 2> peek.err; echo $? > peek.rc')\n\
             jobs = [Job(cluster = 'devcluster', role = 'nobody', environment = 'devel', name = 'peek',\n\
               task = Task(processes = [p], resources = Resources(cpu = 0.1, ram = 32*MB, disk = 32*MB)))]\n",
            db.display()
        ),
    )
    .expect("writing peek.aurora");
    let out = aurora(
        scheduler.port,
        dir.path(),
        &[
            "job",
            "create",
            "devcluster/nobody/devel/peek",
            "peek.aurora",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_for("the task to report", || {
        !files_named(&scheduler.sandboxes(), "peek.rc").is_empty()
    });
    let rc = &files_named(&scheduler.sandboxes(), "peek.rc")[0];
    let sandbox = rc.parent().expect("a sandbox");
    wait_for("the exit code to be written", || {
        std::fs::read_to_string(rc).is_ok_and(|s| s.ends_with('\n'))
    });
    let read = |name: &str| std::fs::read_to_string(sandbox.join(name)).unwrap_or_default();
    assert_eq!(
        read("peek.uid").trim(),
        NOBODY.to_string(),
        "the task ran as its role"
    );
    assert_ne!(read("peek.rc").trim(), "0", "the task read the store");
    assert!(
        read("peek.err").contains("Permission denied"),
        "{}",
        read("peek.err")
    );
    assert!(read("peek.leak").is_empty());

    assert_private(&data);
}

/// The data directory's and its files' modes, and `nobody` failing to read or list them.
fn assert_private(data: &Path) {
    assert_eq!(mode(data), 0o711, "traversable for sandboxes, not listable");
    let mut checked = 0;
    for name in [
        "scheduler.db",
        "scheduler.db-wal",
        "scheduler.db-shm",
        "audit.log",
    ] {
        let p = data.join(name);
        if !p.exists() {
            continue;
        }
        checked += 1;
        assert_eq!(mode(&p), 0o600, "{name}");
        let out = Command::new("cat")
            .arg(&p)
            .uid(NOBODY)
            .gid(NOBODY)
            .output()
            .expect("cat as nobody");
        assert!(!out.status.success(), "nobody read {name}");
        assert!(out.stdout.is_empty(), "nobody read {name}");
    }
    assert!(checked >= 2, "the store and the audit log exist");
    let listing = Command::new("ls")
        .arg(data)
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .expect("ls as nobody");
    assert!(
        !listing.status.success(),
        "nobody listed the data directory"
    );
}

#[test]
fn a_scheduler_not_running_as_root_refuses_to_run_tasks_as_itself() {
    if !is_root() {
        eprintln!("SKIPPED: needs root (to start the scheduler as another user)");
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let data = dir.path().join("data");
    let as_nobody = |extra: &[&str]| {
        let mut cmd = Command::new(sibling_bin("aurora-scheduler"));
        cmd.args(["--local-agent", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .args(extra)
            .uid(NOBODY)
            .gid(NOBODY)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        cmd
    };
    let out = as_nobody(&[]).output().expect("the scheduler as nobody");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("--local-agent-same-user"), "{err}");
    assert!(!data.exists(), "nothing was made before the refusal");
    // With the flag it starts (and says it is unsafe).
    let mut child = as_nobody(&["--local-agent-same-user"])
        .spawn()
        .expect("the scheduler as nobody");
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut stderr = child.stderr.take().expect("piped");
    let into = log.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut l = into.lock().unwrap_or_else(|p| p.into_inner());
            l.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let said = |what: &str| log.lock().unwrap_or_else(|p| p.into_inner()).contains(what);
    wait_for("the warning", || {
        said("--local-agent-same-user: tasks run as the scheduler's own user")
    });
    wait_for("serving", || said("scheduler serving"));
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("scheduler.db")), 0o600);
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
}

#[test]
fn a_role_that_is_a_system_account_is_refused_at_submission() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let scheduler = LocalScheduler::new(&dir.path().join("data"))
        .strict()
        .start();
    let job = |role: &str, kind: &str, extra: &str| {
        format!(
            "p = Process(name = 'p', cmdline = 'echo hi; sleep 60')\n\
             jobs = [{kind}(cluster = 'devcluster', role = '{role}', environment = 'devel', name = 'j',{extra}\n\
               task = Task(processes = [p], resources = Resources(cpu = 0.1, ram = 32*MB, disk = 32*MB)))]\n"
        )
    };
    for role in ["root", "daemon"] {
        std::fs::write(dir.path().join("j.aurora"), job(role, "Service", "")).expect("writing");
        let key = format!("devcluster/{role}/devel/j");
        for args in [
            vec!["job", "create", key.as_str(), "j.aurora"],
            vec!["update", "start", key.as_str(), "j.aurora"],
        ] {
            let out = aurora(scheduler.port, dir.path(), &args);
            assert!(!out.status.success(), "{args:?} was accepted");
            let err = text(&out.stderr);
            assert!(
                err.contains(&format!("role '{role}' is the system account uid")),
                "{err}"
            );
        }
        std::fs::write(
            dir.path().join("c.aurora"),
            job(role, "Job", " cron_schedule = '* * * * *',"),
        )
        .expect("writing");
        let out = aurora(
            scheduler.port,
            dir.path(),
            &["cron", "schedule", &key, "c.aurora"],
        );
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("system account"),
            "{}",
            text(&out.stderr)
        );
    }
    // Nothing was stored.
    let (status, body) = http(scheduler.port, "GET", "/api/v1/jobs", &[], "");
    assert_eq!(status, 200);
    assert_eq!(body.trim(), "[]", "{body}");
    // An operator may allow one account by name (the test harness's default for www-data).
    let allowed = LocalScheduler::new(&dir.path().join("data2"))
        .args(["--allow-task-user", "root"])
        .start();
    std::fs::write(dir.path().join("j.aurora"), job("root", "Service", "")).expect("writing");
    let out = aurora(
        allowed.port,
        dir.path(),
        &["job", "create", "devcluster/root/devel/j", "j.aurora"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_post_does_not_get_around_read_requires_login() {
    let s = secured(&[]);
    let port = s.scheduler.port;
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("j.aurora"),
        "p = Process(name = 'p', cmdline = 'echo the-secret-cmdline; sleep 60')\n\
         jobs = [Service(cluster = 'devcluster', role = 'mesostest', environment = 'devel', name = 'j',\n\
           task = Task(processes = [p], resources = Resources(cpu = 0.1, ram = 32*MB, disk = 32*MB)))]\n",
    )
    .expect("writing");
    let home = home_with_clusters_json(&format!("http://127.0.0.1:{port}"), "");
    std::fs::write(home.path().join(".aurora/auth-token"), &s.alice).expect("a token");
    std::fs::set_permissions(
        home.path().join(".aurora/auth-token"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    let mut cmd = client_command("aurora", home.path());
    cmd.args(["job", "create", "devcluster/mesostest/devel/j", "j.aurora"])
        .current_dir(dir.path());
    let out = run_watched(&mut cmd, String::new);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The attack: the diff (a POST) answers with the current configuration.
    for (method, path, body) in [
        ("POST", "/api/v1/jobs/mesostest/devel/j/diff", "{}"),
        ("POST", "/api/v1/jobs/mesostest/devel/j/diff", ""),
        ("GET", "/api/v1/jobs/mesostest/devel/j", ""),
        ("PUT", "/api/v1/jobs", "{}"),
    ] {
        let (status, answer) = http(port, method, path, &[], body);
        assert_eq!(status, 401, "{method} {path}: {answer}");
        assert!(!answer.contains("the-secret-cmdline"), "{answer}");
        assert!(answer.contains("authentication required"), "{answer}");
    }
    // Login, health and assets stay open.
    assert_eq!(http(port, "GET", "/health", &[], "").0, 200);
    assert_eq!(http(port, "GET", "/assets/ui.js", &[], "").0, 200);
    let (status, _) = http(
        port,
        "POST",
        "/api/v1/jobs/mesostest/devel/j/diff",
        &[("Authorization", &bearer(&s.alice))],
        "{}",
    );
    assert_ne!(
        status, 401,
        "a logged-in diff is not refused for want of a login"
    );
}

fn token_list(port: u16, token: &str) -> Vec<serde_json::Value> {
    let (status, body) = http(
        port,
        "GET",
        "/api/v1/tokens",
        &[("Authorization", &bearer(token))],
        "",
    );
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("a JSON list")
}

#[test]
fn a_token_cannot_mint_a_longer_lived_or_wider_one() {
    let s = secured(&[]);
    let port = s.scheduler.port;
    let alice = [("Authorization", bearer(&s.alice))];
    let alice: Vec<(&str, &str)> = alice.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let parent_expiry = token_list(port, &s.alice)[0]["expires_ms"]
        .as_i64()
        .expect("an expiry");
    // A year, from any address; a year, from another address.
    for body in [
        r#"{"ttl_secs": 31536000, "bind_ip": "*"}"#,
        r#"{"ttl_secs": 31536000, "bind_ip": "10.9.8.7"}"#,
    ] {
        let (status, answer) = http(port, "POST", "/api/v1/tokens", &alice, body);
        assert_eq!(status, 403, "{body}: {answer}");
        assert!(answer.contains("is bound to 127.0.0.1"), "{answer}");
        assert!(
            !answer.contains("aurora_"),
            "no token in a refusal: {answer}"
        );
    }
    // A year, from the same address: cut to the parent's expiry.
    let (status, answer) = http(
        port,
        "POST",
        "/api/v1/tokens",
        &alice,
        r#"{"ttl_secs": 31536000}"#,
    );
    assert_eq!(status, 201, "{answer}");
    let issued: serde_json::Value = serde_json::from_str(&answer).expect("JSON");
    assert!(issued["expires_ms"].as_i64().expect("an expiry") <= parent_expiry);
    assert_eq!(issued["bind_ip"], "127.0.0.1");
    // Nothing wider exists.
    for t in token_list(port, &s.alice) {
        assert!(
            t["expires_ms"].as_i64().expect("an expiry") <= parent_expiry,
            "{t}"
        );
        assert_eq!(t["bind_ip"], "127.0.0.1", "{t}");
    }
    // An administrator is not limited.
    let (status, answer) = http(
        port,
        "POST",
        "/api/v1/tokens",
        &[("Authorization", &bearer(&s.ops))],
        r#"{"user": "alice", "ttl_secs": 604800, "bind_ip": "*"}"#,
    );
    assert_eq!(status, 201, "{answer}");
}

#[test]
fn a_cross_site_mutation_with_the_session_cookie_is_refused() {
    let s = secured(&[]);
    let port = s.scheduler.port;
    let cookie = format!("aurora_session={}", s.alice);
    let start = "/api/v1/cron/mesostest/devel/nightly/start";
    let pulse = "/api/v1/updates/some-update/pulse";
    for path in [start, pulse] {
        // What a form on another site makes the browser send: the cookie, no body, no header.
        for extra in [
            vec![],
            vec![("Origin", "https://evil.example"), ("X-Requested-By", "x")],
            vec![("Sec-Fetch-Site", "cross-site"), ("X-Requested-By", "x")],
        ] {
            let mut headers = vec![("Cookie", cookie.as_str())];
            headers.extend(extra);
            let (status, answer) = http(port, "POST", path, &headers, "");
            assert_eq!(status, 403, "{path} {headers:?}: {answer}");
            assert!(answer.contains("cross-site request refused"), "{answer}");
        }
    }
    // The UI's own request gets past the check (to the handler: no such cron job).
    let (status, answer) = http(
        port,
        "POST",
        start,
        &[("Cookie", &cookie), ("X-Requested-By", "aurora-ui")],
        "",
    );
    assert_eq!(status, 404, "{answer}");
    // A token in Authorization is no browser's doing: not checked.
    let (status, _) = http(
        port,
        "POST",
        start,
        &[
            ("Authorization", &bearer(&s.alice)),
            ("Origin", "https://evil.example"),
        ],
        "",
    );
    assert_eq!(status, 404);
    // The refusals are in the audit log, and no start ran.
    let audit = std::fs::read_to_string(s.scheduler.data().join("audit.log")).expect("the log");
    assert_eq!(
        audit
            .lines()
            .filter(|l| l.contains("\"action\":\"csrf\""))
            .count(),
        6,
        "{audit}"
    );
    assert!(
        audit
            .lines()
            .filter(|l| l.contains("cron.start"))
            .all(|l| !l.contains("\"outcome\":\"ok\"")),
        "{audit}"
    );
}

#[test]
fn anonymous_cross_site_mutations_are_refused_too() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let scheduler = LocalScheduler::new(&dir.path().join("data")).start();
    let path = "/api/v1/cron/www-data/devel/nightly/start";
    let (status, answer) = http(
        scheduler.port,
        "POST",
        path,
        &[("Origin", "http://evil.example")],
        "",
    );
    assert_eq!(status, 403, "{answer}");
    let (status, _) = http(scheduler.port, "POST", path, &[], "");
    assert_eq!(status, 404, "the CLI (no Origin) is not affected");
}

#[test]
fn a_trickled_header_is_cut_off() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let scheduler = LocalScheduler::new(&dir.path().join("data"))
        .args(["--http-header-timeout-ms", "500"])
        .start();
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", scheduler.port)).expect("connects");
        s.write_all(b"GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\nX-Slow: a")
            .expect("a partial header");
        held.push(s);
    }
    let began = Instant::now();
    let deadline = Duration::from_secs(10);
    for mut s in held {
        s.set_read_timeout(Some(deadline)).expect("a read timeout");
        let mut rest = Vec::new();
        let r = s.read_to_end(&mut rest);
        assert!(r.is_ok(), "not closed within {deadline:?}: {r:?}");
        assert!(!text(&rest).contains("200 OK"), "served a partial request");
    }
    assert!(began.elapsed() < deadline, "{:?}", began.elapsed());
    // The scheduler still serves everyone else.
    assert_eq!(http(scheduler.port, "GET", "/health", &[], "").0, 200);
}

#[test]
fn unknown_tokens_are_rate_limited_per_address() {
    let s = secured(&[]);
    let port = s.scheduler.port;
    let mut statuses = Vec::new();
    for i in 0..25 {
        let unknown = format!("aurora_{i:064x}");
        statuses.push(
            http(
                port,
                "GET",
                "/api/v1/jobs",
                &[("Authorization", &bearer(&unknown))],
                "",
            )
            .0,
        );
    }
    assert!(statuses[..20].iter().all(|&s| s == 401), "{statuses:?}");
    assert!(statuses[20..].iter().all(|&s| s == 429), "{statuses:?}");
    // A known token from the same address still works (it is found in memory).
    let (status, _) = http(
        port,
        "GET",
        "/api/v1/jobs",
        &[("Authorization", &bearer(&s.alice))],
        "",
    );
    assert_eq!(status, 200);
}
