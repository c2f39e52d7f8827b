//! Who may do what, on the real binaries: a scheduler with `--auth token,proxy` and an
//! authorization file; tokens bootstrapped with `aurora-scheduler token issue`, issued with
//! `aurora_admin token issue`, renewed with `aurora auth login`; a member of the role's group
//! creates a job, an outsider is refused with 403; expired, revoked, wrong-address, tampered and
//! missing tokens; a cookie jar; a trusted proxy's header; the audit log.

use aurora_testkit::{
    LIMIT, LocalScheduler, client_command, home_with_clusters_json, run_watched, sibling_bin, text,
};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const AUTHZ: &str = r#"
read_requires_login = true
admins = ["ops"]
[groups]
alice-aurora-users = ["alice", "bob"]
[roles]
mesostest = ["alice-aurora-users"]
"#;

const HELLO: &str = "p = Process(name = 'hello', cmdline = 'echo hello; sleep 60')\n\
jobs = [Service(cluster = 'devcluster', role = 'mesostest', environment = 'devel', name = 'hello',\n\
  task = Task(processes = [p], resources = Resources(cpu = 0.1, ram = 32*MB, disk = 32*MB)))]\n";

struct Scheduler {
    // Dropped first: the scheduler and its local agent's tasks go before their directories.
    scheduler: LocalScheduler,
    data: tempfile::TempDir,
    dir: tempfile::TempDir,
}

impl Scheduler {
    fn start() -> Scheduler {
        let data = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("authz.toml"), AUTHZ).unwrap();
        std::fs::write(dir.path().join("hello.aurora"), HELLO).unwrap();
        let scheduler = LocalScheduler::new(data.path())
            .args([
                "--auth",
                "token,proxy",
                "--trusted-proxy",
                "127.0.0.3",
                "--authz",
            ])
            .args([dir.path().join("authz.toml")])
            .start();
        Scheduler {
            scheduler,
            data,
            dir,
        }
    }

    /// `aurora-scheduler token issue` on the scheduler's data directory.
    fn bootstrap_token(&self, user: &str, ttl: &str) -> String {
        let out = Command::new(sibling_bin("aurora-scheduler"))
            .args(["token", "issue", "--data-dir"])
            .arg(self.data.path())
            .args(["--ttl", ttl, user])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_owned()
    }

    /// A user's home: clusters.json, and the token file with `mode`.
    fn home(&self, token: Option<&str>, mode: u32) -> tempfile::TempDir {
        let home =
            home_with_clusters_json(&format!("http://127.0.0.1:{}", self.scheduler.port), "");
        if let Some(t) = token {
            let f = home.path().join(".aurora/auth-token");
            std::fs::write(&f, format!("{t}\n")).unwrap();
            std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .unwrap();
        }
        home
    }

    /// Runs the client `bin` (`aurora` or `aurora_admin`) with `home`, in the test's directory.
    fn run(&self, bin: &str, home: &Path, args: &[&str]) -> Output {
        let mut cmd = client_command(bin, home);
        cmd.args(args).current_dir(self.dir.path());
        run_watched(&mut cmd, String::new)
    }

    /// A raw GET from a given local address, with extra header lines; returns the status line.
    async fn get_from(&self, local: &str, path: &str, headers: &str) -> String {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
        let mut stream = socket
            .connect(
                format!("127.0.0.1:{}", self.scheduler.port)
                    .parse()
                    .unwrap(),
            )
            .await
            .unwrap()
            .into_std()
            .unwrap();
        stream.set_nonblocking(false).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        let _ = stream.read_to_string(&mut out);
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_roles_proxy_cookies_and_the_audit_log() {
    let s = Scheduler::start();
    // Bootstrap the first administrator on the scheduler's machine, while it runs.
    let ops = s.bootstrap_token("ops", "24h");
    assert!(ops.starts_with("aurora_"), "{ops}");
    let ops_home = s.home(Some(&ops), 0o600);

    // Missing credentials: reads need a login here.
    let nobody = s.home(None, 0o600);
    let out = s.run("aurora", nobody.path(), &["job", "list", "devcluster"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("authentication required: log in with `aurora auth login CLUSTER`"),
        "{}",
        text(&out.stderr)
    );

    // The administrator issues tokens for alice and mallory.
    let issue = |user: &str, extra: &[&str]| {
        let mut args = vec!["token", "issue", user, "--bind-ip", "*"];
        args.extend_from_slice(extra);
        let out = s.run("aurora_admin", ops_home.path(), &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(&format!("for {user}, valid until")),
            "{}",
            text(&out.stderr)
        );
        text(&out.stdout).trim().to_owned()
    };
    let alice = issue("alice", &[]);
    let mallory = issue("mallory", &[]);

    // A member of the role's group creates a job; an outsider is refused with the reason.
    let alice_home = s.home(Some(&alice), 0o600);
    let out = s.run(
        "aurora",
        alice_home.path(),
        &[
            "job",
            "create",
            "devcluster/mesostest/devel/hello",
            "hello.aurora",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("WARNING"),
        "{}",
        text(&out.stderr)
    );
    let mallory_home = s.home(Some(&mallory), 0o600);
    let out = s.run(
        "aurora",
        mallory_home.path(),
        &["job", "killall", "devcluster/mesostest/devel/hello"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("user 'mallory' may not kill tasks of role 'mesostest': ask to join alice-aurora-users, or ask an administrator (ops)"),
        "{err}"
    );
    // Mallory may still read.
    assert!(
        s.run(
            "aurora",
            mallory_home.path(),
            &["job", "list", "devcluster"]
        )
        .status
        .success()
    );
    // Not an administrator: no tokens for others, no maintenance.
    let out = s.run(
        "aurora_admin",
        alice_home.path(),
        &["token", "issue", "bob"],
    );
    assert!(
        text(&out.stderr).contains("administrators only"),
        "{}",
        text(&out.stderr)
    );

    // A token file readable by others works, with a warning.
    let loose = s.home(Some(&alice), 0o644);
    let out = s.run("aurora", loose.path(), &["job", "list", "devcluster"]);
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("is readable by others (mode 644)"),
        "{}",
        text(&out.stderr)
    );

    // aurora auth login: a fresh token for yourself, kept with mode 600.
    let out = s.run(
        "aurora",
        alice_home.path(),
        &["auth", "login", "devcluster"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("Logged in to devcluster as alice: token "),
        "{}",
        text(&out.stdout)
    );
    let file = alice_home.path().join(".aurora/auth-token");
    let renewed = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert_ne!(renewed, alice);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        s.run("aurora", alice_home.path(), &["job", "list", "devcluster"])
            .status
            .success()
    );

    // Tampered, revoked, expired, wrong address: refused, each saying why.
    let refused = |token: &str| {
        let home = s.home(Some(token), 0o600);
        let out = s.run("aurora", home.path(), &["job", "list", "devcluster"]);
        assert_eq!(out.status.code(), Some(1), "{token}");
        text(&out.stderr)
    };
    let mut tampered = alice.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == '0' { '1' } else { '0' });
    assert!(refused(&tampered).contains("unknown token"));
    let id = {
        let out = s.run("aurora_admin", ops_home.path(), &["token", "list"]);
        let list = text(&out.stdout);
        list.lines()
            .find(|l| l.contains("\tmallory\t"))
            .unwrap()
            .split('\t')
            .next()
            .unwrap()
            .to_owned()
    };
    let out = s.run("aurora_admin", ops_home.path(), &["token", "revoke", &id]);
    assert_eq!(
        text(&out.stdout),
        format!("Token {id} of mallory revoked\n")
    );
    assert!(refused(&mallory).contains(&format!("token {id} was revoked at")));
    let out = s.run(
        "aurora_admin",
        ops_home.path(),
        &["token", "issue", "bob", "--bind-ip", "127.0.0.9"],
    );
    let far = text(&out.stdout).trim().to_owned();
    assert!(refused(&far).contains("is bound to address 127.0.0.9, not to 127.0.0.1"));
    let short = s.bootstrap_token("alice", "1s");
    let start = Instant::now();
    loop {
        let err = refused_or_ok(&s, &short);
        if let Some(e) = err {
            assert!(e.contains("expired at"), "{e}");
            assert!(
                e.contains("log in again with `aurora auth login CLUSTER`"),
                "{e}"
            );
            break;
        }
        assert!(start.elapsed() < LIMIT, "the 1 s token never expired");
        tokio::time::sleep(Duration::from_millis(100)).await; // waiting for time itself to pass
    }

    // The token in a Netscape cookie jar, as the UI's session cookie.
    let jar_home = s.home(None, 0o600);
    std::fs::write(
        jar_home.path().join(".aurora/auth-token"),
        format!(
            "# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\taurora_session\t{alice}\n"
        ),
    )
    .unwrap();
    let out = s.run("aurora", jar_home.path(), &["job", "list", "devcluster"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("mesostest/devel/hello"),
        "{}",
        text(&out.stdout)
    );

    // A trusted proxy's header counts from the proxy's address only.
    let from_proxy = s
        .get_from("127.0.0.3", "/api/v1/jobs", "X-Forwarded-User: bob\r\n")
        .await;
    assert!(from_proxy.starts_with("HTTP/1.1 200"), "{from_proxy}");
    let forged = s
        .get_from("127.0.0.2", "/api/v1/jobs", "X-Forwarded-User: bob\r\n")
        .await;
    assert!(forged.starts_with("HTTP/1.1 401"), "{forged}");
    let ui = s.get_from("127.0.0.2", "/scheduler", "").await;
    assert!(
        ui.starts_with("HTTP/1.1 303") || ui.starts_with("HTTP/1.1 307"),
        "{ui}"
    );
    assert!(
        ui.to_ascii_lowercase().contains("location: /login?reason="),
        "{ui}"
    );

    // Every mutation is in the audit log: who, from where, what, and how it went.
    let audit = std::fs::read_to_string(s.data.path().join("audit.log")).unwrap();
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.iter().any(|l| l["user"] == "alice"
            && l["action"] == "job.create"
            && l["target"] == "mesostest/devel/hello"
            && l["outcome"] == "ok"
            && l["source"] == "127.0.0.1"),
        "{audit}"
    );
    assert!(
        lines.iter().any(|l| l["user"] == "mallory"
            && l["action"] == "job.kill"
            && l["outcome"]
                .as_str()
                .unwrap()
                .starts_with("refused: user 'mallory' may not")),
        "{audit}"
    );
    assert!(
        lines.iter().any(|l| l["user"] == "ops"
            && l["action"] == "token"
            && l["target"] == "token for alice"),
        "{audit}"
    );
}

/// `Some(stderr)` when a token is refused, `None` while it works.
fn refused_or_ok(s: &Scheduler, token: &str) -> Option<String> {
    let home = s.home(Some(token), 0o600);
    let out = s.run("aurora", home.path(), &["job", "list", "devcluster"]);
    (!out.status.success()).then(|| text(&out.stderr))
}

#[test]
fn anonymous_access_is_refused_off_loopback() {
    let out = Command::new(sibling_bin("aurora-scheduler"))
        .args(["--listen", "0.0.0.0:0", "--auth", "none"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--auth none lets anyone who reaches 0.0.0.0:0 do anything"),
        "{}",
        text(&out.stderr)
    );
}
