//! The scheduler over HTTPS (`--tls-cert`/`--tls-key`) with a certificate the test makes: a
//! client with the CA in clusters.json (`ca_cert`) creates a job that the embedded agent (which
//! trusts the certificate's chain) runs; a client without it refuses the untrusted certificate.

mod common;

use common::{free_port, kill_tasks_under, sibling_bin, text};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A CA, and a certificate for localhost and 127.0.0.1 it signed: (ca.pem, chain.pem, key.pem).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "aurora test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let (ca, chain, key_file) = (
        dir.join("ca.pem"),
        dir.join("chain.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca, ca_cert.pem()).unwrap();
    std::fs::write(&chain, format!("{}{}", cert.pem(), ca_cert.pem())).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (ca, chain, key_file)
}

struct Scheduler(Child, tempfile::TempDir);

impl Drop for Scheduler {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        kill_tasks_under(&self.1.path().join("agent/sandboxes"));
    }
}

fn aurora(home: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aurora"))
        .args(args)
        .env("HOME", home)
        .env_remove("AURORA_CONFIG_ROOT")
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn home(port: u16, ca: Option<&Path>) -> tempfile::TempDir {
    let h = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(h.path().join(".aurora")).unwrap();
    let ca = ca.map_or(String::new(), |c| {
        format!(r#", "ca_cert": "{}""#, c.display())
    });
    std::fs::write(
        h.path().join(".aurora/clusters.json"),
        format!(r#"[{{"name": "devcluster", "scheduler_uri": "https://localhost:{port}"{ca}}}]"#),
    )
    .unwrap();
    h
}

#[test]
fn https_with_a_trusted_certificate_and_refused_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, chain, key) = certificates(dir.path());
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let child = Command::new(sibling_bin("aurora-scheduler"))
        .args([
            "--local-agent",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data.path())
        .arg("--tls-cert")
        .arg(&chain)
        .arg("--tls-key")
        .arg(&key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _s = Scheduler(child, data);
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the scheduler never listened"
        );
        std::thread::sleep(Duration::from_millis(20)); // polling another process's port
    }
    std::fs::write(
        dir.path().join("hello.aurora"),
        "p = Process(name = 'hello', cmdline = 'echo hello; sleep 60')\n\
         jobs = [Service(cluster = 'devcluster', role = 'www-data', environment = 'prod', name = 'hello',\n\
           task = Task(processes = [p], resources = Resources(cpu = 0.1, ram = 32*MB, disk = 32*MB)))]\n",
    )
    .unwrap();

    let trusting = home(port, Some(&ca));
    let out = aurora(
        trusting.path(),
        dir.path(),
        &[
            "job",
            "create",
            "--wait-until",
            "RUNNING",
            "devcluster/www-data/prod/hello",
            "hello.aurora",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!(
            "job url=https://localhost:{port}/scheduler/www-data/prod/hello"
        )),
        "{}",
        text(&out.stdout)
    );
    // The embedded agent reached the scheduler over TLS: the task runs and its log comes back
    // (RUNNING may come before the shell has run its echo: the log is read until it shows).
    let start = Instant::now();
    loop {
        let out = aurora(
            trusting.path(),
            dir.path(),
            &["task", "logs", "devcluster/www-data/prod/hello/0"],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        if text(&out.stdout) == "hello\n" {
            break;
        }
        assert!(
            text(&out.stdout).is_empty() && start.elapsed() < Duration::from_secs(30),
            "{:?}",
            text(&out.stdout)
        );
        std::thread::sleep(Duration::from_millis(50)); // polling another process's file
    }

    let distrusting = home(port, None);
    let out = aurora(
        distrusting.path(),
        dir.path(),
        &["job", "list", "devcluster"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr).to_ascii_lowercase();
    assert!(
        err.contains("certificate") || err.contains("unknownissuer"),
        "{err}"
    );
}
