//! Kerberos against a real MIT KDC (Debian's `krb5-kdc`), in a temporary realm the test makes:
//! `kinit`, `aurora auth login`, and `aurora job create` with `auth_mechanism: "KERBEROS"`, which
//! succeeds for a member of the role's group and is refused with 403 for a user outside it.
//!
//! Without the KDC's programs the test says so and passes, unless `AURORA_REQUIRE_KERBEROS` is set
//! (CI sets it, after installing them).

mod common;

use common::{free_port, kill_tasks_under, sibling_bin, text};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const REALM: &str = "AURORA.TEST";
const LIMIT: Duration = Duration::from_secs(30);

fn program(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// A realm with a running KDC, its keytab for HTTP/localhost, and users with passwords.
struct Realm {
    dir: tempfile::TempDir,
    kdc: Child,
}

impl Drop for Realm {
    fn drop(&mut self) {
        let _ = self.kdc.kill();
        let _ = self.kdc.wait();
    }
}

impl Realm {
    fn env(&self, cmd: &mut Command) {
        cmd.env("KRB5_CONFIG", self.dir.path().join("krb5.conf"))
            .env("KRB5_KDC_PROFILE", self.dir.path().join("kdc.conf"));
    }

    fn admin(&self, query: &str) {
        let mut cmd = Command::new(program("kadmin.local").unwrap());
        self.env(&mut cmd);
        let out = cmd.args(["-r", REALM, "-q", query]).output().unwrap();
        assert!(
            out.status.success(),
            "kadmin.local {query}: {}",
            text(&out.stderr)
        );
    }

    fn start(users: &[&str]) -> Option<Realm> {
        let kdc_bin = program("krb5kdc")?;
        program("kinit")?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("krb5.conf"),
            format!(
                "[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n dns_lookup_realm = false\n rdns = false\n dns_canonicalize_hostname = false\n udp_preference_limit = 1\n\
                 [realms]\n {REALM} = {{\n  kdc = 127.0.0.1:{port}\n }}\n[domain_realm]\n localhost = {REALM}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("kdc.conf"),
            format!(
                "[kdcdefaults]\n kdc_ports = {port}\n kdc_tcp_ports = {port}\n[realms]\n {REALM} = {{\n  database_name = {d}/principal\n  key_stash_file = {d}/stash\n  acl_file = {d}/kadm5.acl\n }}\n"
            ),
        )
        .unwrap();
        let mut create = Command::new(program("kdb5_util").unwrap());
        create.args(["create", "-s", "-r", REALM, "-P", "master-password"]);
        create.env("KRB5_CONFIG", dir.path().join("krb5.conf"));
        create.env("KRB5_KDC_PROFILE", dir.path().join("kdc.conf"));
        let out = create.output().unwrap();
        assert!(out.status.success(), "kdb5_util: {}", text(&out.stderr));
        let mut kdc_cmd = Command::new(kdc_bin);
        kdc_cmd
            .args(["-n", "-r", REALM])
            .env("KRB5_CONFIG", dir.path().join("krb5.conf"))
            .env("KRB5_KDC_PROFILE", dir.path().join("kdc.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let kdc = kdc_cmd.spawn().unwrap();
        let realm = Realm { dir, kdc };
        for u in users {
            realm.admin(&format!("addprinc -pw {u}-password {u}"));
        }
        realm.admin("addprinc -randkey HTTP/localhost");
        let keytab = realm.keytab();
        realm.admin(&format!("ktadd -k {} HTTP/localhost", keytab.display()));
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < LIMIT, "the KDC never listened");
            std::thread::sleep(Duration::from_millis(20)); // polling another process's port
        }
        Some(realm)
    }

    fn keytab(&self) -> PathBuf {
        self.dir.path().join("http.keytab")
    }

    /// `kinit USER` into the user's own ticket cache.
    fn kinit(&self, user: &str) -> PathBuf {
        let cache = self.dir.path().join(format!("{user}.cc"));
        let mut cmd = Command::new(program("kinit").unwrap());
        self.env(&mut cmd);
        let mut child = cmd
            .arg(user)
            .env("KRB5CCNAME", format!("FILE:{}", cache.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{user}-password").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "kinit {user}: {}", text(&out.stderr));
        cache
    }
}

#[test]
fn kinit_login_and_job_create_with_kerberos() {
    let Some(realm) = Realm::start(&["alice", "mallory"]) else {
        assert!(
            std::env::var_os("AURORA_REQUIRE_KERBEROS").is_none(),
            "the MIT KDC is missing: install krb5-kdc krb5-admin-server krb5-user"
        );
        eprintln!("SKIPPED: no MIT Kerberos KDC (krb5-kdc) here");
        return;
    };
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("authz.toml"),
        "admins = [\"ops\"]\n[groups]\nalice-aurora-users = [\"alice\"]\n[roles]\nmesostest = [\"alice-aurora-users\"]\n",
    )
    .unwrap();
    let mut cmd = Command::new(sibling_bin("aurora-scheduler"));
    realm.env(&mut cmd);
    let mut scheduler = cmd
        .args([
            "--local-agent",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data.path().join("state"))
        .args(["--auth", "kerberos,token", "--keytab"])
        .arg(realm.keytab())
        .arg("--authz")
        .arg(data.path().join("authz.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Stop<'a>(&'a mut Child, PathBuf);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
            kill_tasks_under(&self.1);
        }
    }
    let _stop = Stop(&mut scheduler, data.path().join("state/agent/sandboxes"));
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < LIMIT, "the scheduler never listened");
        std::thread::sleep(Duration::from_millis(20)); // polling another process's port
    }
    std::fs::write(
        data.path().join("hello.aurora"),
        "p = Process(name = 'hello', cmdline = 'echo hello; sleep 60')\n\
         jobs = [Service(cluster = 'devcluster', role = 'mesostest', environment = 'devel', name = 'hello',\n\
           task = Task(processes = [p], resources = Resources(cpu = 0.1, ram = 32*MB, disk = 32*MB)))]\n",
    )
    .unwrap();
    let home = |user: &str| {
        let h = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(h.path().join(".aurora")).unwrap();
        std::fs::write(
            h.path().join(".aurora/clusters.json"),
            format!(r#"[{{"name": "devcluster", "scheduler_uri": "http://localhost:{port}", "auth_mechanism": "KERBEROS"}}]"#),
        )
        .unwrap();
        let cache = realm.kinit(user);
        (h, cache)
    };
    let aurora = |home: &Path, cache: &Path, args: &[&str]| -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aurora"));
        realm.env(&mut cmd);
        cmd.args(args)
            .env("HOME", home)
            .env("KRB5CCNAME", format!("FILE:{}", cache.display()))
            .env_remove("AURORA_CONFIG_ROOT")
            .current_dir(data.path())
            .output()
            .unwrap()
    };

    let (alice_home, alice_cache) = home("alice");
    let out = aurora(
        alice_home.path(),
        &alice_cache,
        &[
            "job",
            "create",
            "devcluster/mesostest/devel/hello",
            "hello.aurora",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let (mallory_home, mallory_cache) = home("mallory");
    let out = aurora(
        mallory_home.path(),
        &mallory_cache,
        &["job", "killall", "devcluster/mesostest/devel/hello"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("user 'mallory' may not kill tasks of role 'mesostest'"),
        "{}",
        text(&out.stderr)
    );

    // What curl --negotiate sends (SPNEGO, as browsers do) is accepted too.
    if let Some(curl) = program("curl") {
        let mut cmd = Command::new(curl);
        realm.env(&mut cmd);
        let out = cmd
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--negotiate",
                "-u",
                ":",
            ])
            .arg(format!("http://localhost:{port}/api/v1/jobs"))
            .env("KRB5CCNAME", format!("FILE:{}", alice_cache.display()))
            .output()
            .unwrap();
        assert_eq!(text(&out.stdout), "200", "{}", text(&out.stderr));
    }

    // aurora auth login: Kerberos once, then a token for the next day.
    let out = aurora(
        alice_home.path(),
        &alice_cache,
        &["auth", "login", "devcluster"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("Logged in to devcluster as alice: token "),
        "{}",
        text(&out.stdout)
    );
    let token = std::fs::read_to_string(alice_home.path().join(".aurora/auth-token")).unwrap();
    assert!(token.starts_with("aurora_"));

    // Without a ticket, Kerberos cannot identify anybody.
    let no_ticket = alice_home.path().join("none.cc");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aurora"));
    realm.env(&mut cmd);
    let fresh = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(fresh.path().join(".aurora")).unwrap();
    std::fs::copy(
        alice_home.path().join(".aurora/clusters.json"),
        fresh.path().join(".aurora/clusters.json"),
    )
    .unwrap();
    let out = cmd
        .args(["job", "killall", "devcluster/mesostest/devel/hello"])
        .env("HOME", fresh.path())
        .env("KRB5CCNAME", format!("FILE:{}", no_ticket.display()))
        .env_remove("AURORA_CONFIG_ROOT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("run kinit"),
        "{}",
        text(&out.stderr)
    );
}
