//! Job creation with HA off (one scheduler, SQLite alone) and on (three schedulers on a
//! three-member etcd on this machine, the leader's writes replicated before they are
//! acknowledged): latency of creates one after another (p50, p99) and throughput of creates from
//! 16 clients at once. The real binaries and real sockets; no agent, so tasks stay PENDING and
//! only the write path is measured.
//!
//! `cargo bench -p aurora-scheduler --bench ha_create` (needs Debian's etcd-server).

use aurora_testkit::etcd::EtcdCluster;
use aurora_testkit::{example, free_port, sibling_bin, wait_listening};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SEQUENTIAL: usize = 300;
const CLIENTS: usize = 16;
const PER_CLIENT: usize = 60;

struct Killed(Vec<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn scheduler(
    dir: &std::path::Path,
    port: u16,
    etcd: Option<&str>,
    secret: &std::path::Path,
) -> Child {
    let mut cmd = Command::new(sibling_bin("aurora-scheduler"));
    cmd.args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir)
        .arg("--cluster-secret-file")
        .arg(secret)
        .args(["--allow-task-user", "www-data"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(e) = etcd {
        cmd.args(["--etcd", e]);
    }
    cmd.spawn().expect("starting aurora-scheduler")
}

fn job(name: &str) -> serde_json::Value {
    let mut j = example("hello_world");
    j["name"] = name.into();
    serde_json::json!({ "config": j })
}

async fn create(http: &reqwest::Client, base: &str, name: &str) {
    let r = http
        .post(format!("{base}/api/v1/jobs"))
        .json(&job(name))
        .send()
        .await
        .expect("a create");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
}

async fn measure(label: &str, base: &str) {
    let http = reqwest::Client::new();
    let mut lat = Vec::with_capacity(SEQUENTIAL);
    for i in 0..SEQUENTIAL {
        let t = Instant::now();
        create(&http, base, &format!("seq{i}")).await;
        lat.push(t.elapsed());
    }
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    let start = Instant::now();
    let mut all = Vec::new();
    for c in 0..CLIENTS {
        let (http, base) = (http.clone(), base.to_owned());
        all.push(tokio::spawn(async move {
            for i in 0..PER_CLIENT {
                create(&http, &base, &format!("par{c}x{i}")).await;
            }
        }));
    }
    for h in all {
        h.await.expect("a client");
    }
    let rate = (CLIENTS * PER_CLIENT) as f64 / start.elapsed().as_secs_f64();
    println!(
        "{label:<28} p50 {:>6.2} ms  p99 {:>6.2} ms  {rate:>7.0} creates/s ({CLIENTS} clients)",
        p(0.5).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3
    );
}

/// The port of the scheduler that answers `/leaderhealth` with 200, once one does.
async fn leader_of(ports: &[u16]) -> u16 {
    let http = reqwest::Client::new();
    let start = Instant::now();
    loop {
        for p in ports {
            if let Ok(r) = http
                .get(format!("http://127.0.0.1:{p}/leaderhealth"))
                .send()
                .await
                && r.status() == 200
            {
                return *p;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no leader");
        tokio::time::sleep(Duration::from_millis(50)).await; // the election
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "a-cluster-secret-of-some-length").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();

    let port = free_port();
    let single = Killed(vec![scheduler(
        &dir.path().join("single"),
        port,
        None,
        &secret,
    )]);
    wait_listening(port, "the scheduler never listened");
    measure("HA off (SQLite)", &format!("http://127.0.0.1:{port}")).await;
    drop(single);

    let Some(etcd) = EtcdCluster::start(3) else {
        println!("HA on: skipped (etcd is not installed)");
        return;
    };
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let _schedulers = Killed(
        ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                scheduler(
                    &dir.path().join(format!("ha{i}")),
                    *p,
                    Some(&etcd.endpoints_flag()),
                    &secret,
                )
            })
            .collect(),
    );
    let leader = leader_of(&ports).await;
    measure(
        "HA on (3 etcd, 3 schedulers)",
        &format!("http://127.0.0.1:{leader}"),
    )
    .await;
}
