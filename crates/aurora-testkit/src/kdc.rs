//! A throw-away MIT Kerberos realm (Debian's `krb5-kdc`, `krb5-admin-server`, `krb5-user`) for
//! the Kerberos tests: its configuration in a temporary directory, a running KDC on a free port,
//! users with passwords, a keytab for `HTTP/localhost`, and `kinit` into per-user ticket caches.
//! What the scheduler does with tickets is for the tests to check.

use crate::{free_port, text, wait_listening};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The realm's name.
pub const REALM: &str = "AURORA.TEST";

/// A system program from the usual directories, if installed.
pub fn program(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// A realm with a running KDC, its keytab for HTTP/localhost, and users with passwords
/// (`USER-password`). The KDC is killed on drop.
pub struct Realm {
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
    /// Points `cmd` at this realm's configuration.
    pub fn env(&self, cmd: &mut Command) {
        set_env(cmd, self.dir.path());
    }

    /// The environment [`Realm::env`] sets, for a process started by other means.
    pub fn vars(&self) -> [(&'static str, PathBuf); 2] {
        vars(self.dir.path())
    }

    fn admin(&self, query: &str) {
        let mut cmd = Command::new(program("kadmin.local").expect("kadmin.local is installed"));
        self.env(&mut cmd);
        let out = cmd
            .args(["-r", REALM, "-q", query])
            .output()
            .expect("running kadmin.local");
        assert!(
            out.status.success(),
            "kadmin.local {query}: {}",
            text(&out.stderr)
        );
    }

    /// A realm with `users`, or `None` where the KDC's programs are not installed.
    pub fn start(users: &[&str]) -> Option<Realm> {
        let kdc_bin = program("krb5kdc")?;
        program("kinit")?;
        let dir = tempfile::tempdir().expect("creating the realm's directory");
        let port = free_port();
        write_config(dir.path(), port);
        let mut create =
            Command::new(program("kdb5_util").expect("kdb5_util is installed with krb5kdc"));
        create.args(["create", "-s", "-r", REALM, "-P", "master-password"]);
        set_env(&mut create, dir.path());
        let out = create.output().expect("running kdb5_util");
        assert!(out.status.success(), "kdb5_util: {}", text(&out.stderr));
        let mut kdc_cmd = Command::new(kdc_bin);
        kdc_cmd
            .args(["-n", "-r", REALM])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        set_env(&mut kdc_cmd, dir.path());
        let kdc = kdc_cmd.spawn().expect("starting krb5kdc");
        let realm = Realm { dir, kdc };
        for u in users {
            realm.admin(&format!("addprinc -pw {u}-password {u}"));
        }
        realm.admin("addprinc -randkey HTTP/localhost");
        let keytab = realm.keytab();
        realm.admin(&format!("ktadd -k {} HTTP/localhost", keytab.display()));
        wait_listening(port, "the KDC never listened");
        Some(realm)
    }

    /// The keytab of `HTTP/localhost`, for the scheduler's `--keytab`.
    pub fn keytab(&self) -> PathBuf {
        self.dir.path().join("http.keytab")
    }

    /// `kinit USER` into the user's own ticket cache; returns the cache's path.
    pub fn kinit(&self, user: &str) -> PathBuf {
        let cache = self.dir.path().join(format!("{user}.cc"));
        let mut cmd = Command::new(program("kinit").expect("kinit is installed"));
        self.env(&mut cmd);
        let mut child = cmd
            .arg(user)
            .env("KRB5CCNAME", format!("FILE:{}", cache.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting kinit");
        let mut stdin = child.stdin.take().expect("kinit's standard input is piped");
        writeln!(stdin, "{user}-password").expect("writing the password to kinit");
        drop(stdin);
        let out = child.wait_with_output().expect("waiting for kinit");
        assert!(out.status.success(), "kinit {user}: {}", text(&out.stderr));
        cache
    }
}

fn vars(dir: &Path) -> [(&'static str, PathBuf); 2] {
    [
        ("KRB5_CONFIG", dir.join("krb5.conf")),
        ("KRB5_KDC_PROFILE", dir.join("kdc.conf")),
    ]
}

fn set_env(cmd: &mut Command, dir: &Path) {
    cmd.envs(vars(dir));
}

/// krb5.conf (the realm's KDC on 127.0.0.1:port, no DNS) and kdc.conf (its database in `dir`).
fn write_config(dir: &Path, port: u16) {
    let d = dir.display();
    std::fs::write(
        dir.join("krb5.conf"),
        format!(
            "[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n dns_lookup_realm = false\n rdns = false\n dns_canonicalize_hostname = false\n udp_preference_limit = 1\n\
             [realms]\n {REALM} = {{\n  kdc = 127.0.0.1:{port}\n }}\n[domain_realm]\n localhost = {REALM}\n"
        ),
    )
    .expect("writing krb5.conf");
    std::fs::write(
        dir.join("kdc.conf"),
        format!(
            "[kdcdefaults]\n kdc_ports = {port}\n kdc_tcp_ports = {port}\n[realms]\n {REALM} = {{\n  database_name = {d}/principal\n  key_stash_file = {d}/stash\n  acl_file = {d}/kadm5.acl\n }}\n"
        ),
    )
    .expect("writing kdc.conf");
}
