//! The scheduler over HTTPS (`--tls-cert`/`--tls-key`) with a certificate the test makes: a
//! client with the CA in clusters.json (`ca_cert`) creates a job that the embedded agent (which
//! trusts the certificate's chain) runs; a client without it refuses the untrusted certificate.

use aurora_testkit::{LocalScheduler, client_command, home_with_clusters_json, run_watched, text};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;
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

fn aurora(home: &Path, cwd: &Path, args: &[&str]) -> Output {
    run_watched(
        client_command("aurora", home).args(args).current_dir(cwd),
        String::new,
    )
}

fn home(port: u16, ca: Option<&Path>) -> tempfile::TempDir {
    let ca = ca.map_or(String::new(), |c| {
        format!(r#", "ca_cert": "{}""#, c.display())
    });
    home_with_clusters_json(&format!("https://localhost:{port}"), &ca)
}

#[test]
fn https_with_a_trusted_certificate_and_refused_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, chain, key) = certificates(dir.path());
    let data = tempfile::tempdir().unwrap();
    let scheduler = LocalScheduler::new(data.path())
        .args([OsStr::new("--tls-cert"), chain.as_os_str()])
        .args([OsStr::new("--tls-key"), key.as_os_str()])
        .start();
    let port = scheduler.port;
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
