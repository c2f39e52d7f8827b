//! A throw-away etcd cluster (Debian's `etcd-server`) for the high-availability tests: three (or
//! any number of) members on loopback ports of a held [`PortBlock`], each with its own data
//! folder, fast elections (50 ms heartbeats), killed (and their folders removed) on drop. Members
//! can be killed with -9 and started again. What the schedulers do with it is for the tests.

use crate::kdc::program;
use crate::{PortBlock, wait_for};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Set to make a missing etcd fail the tests instead of skipping them (CI sets it).
pub const REQUIRE: &str = "AURORA_REQUIRE_ETCD";

/// A running etcd cluster.
pub struct EtcdCluster {
    dir: tempfile::TempDir,
    members: Vec<Option<Child>>,
    client_ports: Vec<u16>,
    peer_ports: Vec<u16>,
    /// Addresses clients may use besides 127.0.0.1 (a network namespace's host end).
    extra_addresses: Vec<String>,
    _ports: PortBlock,
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for m in self.members.iter_mut().flatten() {
            let _ = m.kill();
            let _ = m.wait();
        }
    }
}

impl EtcdCluster {
    /// A healthy cluster of `n` members (at most 8), or `None` where etcd is not installed
    /// (a failure instead when [`REQUIRE`] is set).
    pub fn start(n: usize) -> Option<EtcdCluster> {
        Self::start_on(n, &[])
    }

    /// As [`EtcdCluster::start`], clients reaching it on `addresses` too (each member on its
    /// port there).
    pub fn start_on(n: usize, addresses: &[&str]) -> Option<EtcdCluster> {
        assert!((1..=8).contains(&n), "1 to 8 members");
        if program("etcd").is_none() {
            assert!(
                std::env::var_os(REQUIRE).is_none(),
                "etcd is not installed (Debian's etcd-server) and {REQUIRE} is set"
            );
            eprintln!("skipped: etcd is not installed (Debian's etcd-server)");
            return None;
        }
        let ports = PortBlock::take();
        let client_ports: Vec<u16> = (0..n as u16).map(|i| ports.first + i).collect();
        let peer_ports: Vec<u16> = (0..n as u16).map(|i| ports.first + 8 + i).collect();
        let mut cluster = EtcdCluster {
            dir: tempfile::tempdir().expect("a folder for etcd's data"),
            members: (0..n).map(|_| None).collect(),
            client_ports,
            peer_ports,
            extra_addresses: addresses.iter().map(|a| a.to_string()).collect(),
            _ports: ports,
        };
        for i in 0..n {
            cluster.spawn(i);
        }
        cluster.wait_healthy();
        Some(cluster)
    }

    /// The client URLs of every member (`http://127.0.0.1:PORT`).
    pub fn endpoints(&self) -> Vec<String> {
        self.client_ports
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}"))
            .collect()
    }

    /// The client URLs joined with commas, as `--etcd` takes them.
    pub fn endpoints_flag(&self) -> String {
        self.endpoints().join(",")
    }

    /// The client URLs on `address` (one given to [`EtcdCluster::start_on`]), comma-separated.
    pub fn endpoints_on(&self, address: &str) -> String {
        self.client_ports
            .iter()
            .map(|p| format!("http://{address}:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn member_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("m{i}"))
    }

    fn spawn(&mut self, i: usize) {
        let initial: Vec<String> = self
            .peer_ports
            .iter()
            .enumerate()
            .map(|(j, p)| format!("m{j}=http://127.0.0.1:{p}"))
            .collect();
        let port = self.client_ports[i];
        let client = std::iter::once("127.0.0.1".to_owned())
            .chain(self.extra_addresses.iter().cloned())
            .map(|a| format!("http://{a}:{port}"))
            .collect::<Vec<_>>()
            .join(",");
        let peer = format!("http://127.0.0.1:{}", self.peer_ports[i]);
        let log = std::fs::File::create(self.dir.path().join(format!("m{i}.log")))
            .expect("etcd's log file");
        let child = Command::new(program("etcd").expect("etcd is installed"))
            .arg("--name")
            .arg(format!("m{i}"))
            .arg("--data-dir")
            .arg(self.member_dir(i))
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &initial.join(",")])
            .args(["--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", "aurora-test"])
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("starting etcd");
        self.members[i] = Some(child);
    }

    /// kill -9 of member `i`.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts member `i` again on its data folder, and waits until the cluster is healthy.
    pub fn restart(&mut self, i: usize) {
        self.kill9(i);
        self.spawn(i);
        self.wait_healthy();
    }

    /// Waits until every running member says it is healthy (it has a leader).
    pub fn wait_healthy(&self) {
        let running: Vec<u16> = self
            .members
            .iter()
            .zip(&self.client_ports)
            .filter(|(m, _)| m.is_some())
            .map(|(_, p)| *p)
            .collect();
        wait_for("etcd never became healthy", || {
            running.iter().all(|p| healthy(*p))
        });
    }

    /// The last lines of member `i`'s log, for failure messages.
    pub fn log(&self, i: usize) -> String {
        let text =
            std::fs::read_to_string(self.dir.path().join(format!("m{i}.log"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// `GET /health` of the member on `port` says `"health":"true"`.
fn healthy(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body.contains("\"health\":\"true\"")
}
