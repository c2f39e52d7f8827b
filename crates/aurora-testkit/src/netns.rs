//! A test host in a network namespace: a namespace of this test process with a veth pair to the
//! host (the host's end `10.A.B.1`, the namespace's `10.A.B.2`), so that a process started in it
//! (`ip netns exec`) is on another host as far as the network goes, and can be cut off: the whole
//! link ([`Netns::link`]), or one host address alone ([`Netns::blackhole`]). Needs root and
//! iproute2; removed on drop. What crosses it is for the tests to check.

use std::process::{Command, Stdio};

/// Set to make a missing namespace fail the tests instead of skipping them (CI sets it).
pub const REQUIRE: &str = "AURORA_REQUIRE_NETNS";

/// A network namespace with a veth link to the host.
pub struct Netns {
    pub name: String,
    host_link: String,
    /// The host's end of the link.
    pub host_ip: String,
    /// The namespace's end.
    pub ns_ip: String,
    /// The /24 both ends are in (`10.A.B`).
    prefix: String,
}

/// Runs `ip ARGS`; whether it succeeded.
pub fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Netns {
    /// Namespace `slot` of this process (several may exist at once), or `None` where namespaces
    /// cannot be made (not root, no iproute2): a failure instead when [`REQUIRE`] is set as root.
    pub fn create(slot: u32) -> Option<Netns> {
        let id = std::process::id();
        let b = (id.wrapping_mul(4).wrapping_add(slot)) % 250;
        let prefix = format!("10.{}.{b}", 200 + id % 50);
        let n = Netns {
            name: format!("aurora-{id}-{slot}"),
            host_link: format!("av{slot}h{}", id % 100_000),
            host_ip: format!("{prefix}.1"),
            ns_ip: format!("{prefix}.2"),
            prefix,
        };
        let ns_link = format!("av{slot}n{}", id % 100_000);
        let ok = ip(&["netns", "add", &n.name])
            && ip(&[
                "link",
                "add",
                &n.host_link,
                "type",
                "veth",
                "peer",
                "name",
                &ns_link,
            ])
            && ip(&["link", "set", &ns_link, "netns", &n.name])
            && ip(&[
                "addr",
                "add",
                &format!("{}/24", n.host_ip),
                "dev",
                &n.host_link,
            ])
            && ip(&["link", "set", &n.host_link, "up"])
            && n.in_ns(&[
                "ip",
                "addr",
                "add",
                &format!("{}/24", n.ns_ip),
                "dev",
                &ns_link,
            ])
            && n.in_ns(&["ip", "link", "set", &ns_link, "up"])
            && n.in_ns(&["ip", "link", "set", "lo", "up"]);
        if !ok {
            assert!(
                !nix::unistd::geteuid().is_root() || std::env::var_os(REQUIRE).is_none(),
                "cannot create a network namespace as root: is iproute2 installed?"
            );
            eprintln!("SKIPPED: network namespaces need root and iproute2");
            return None;
        }
        Some(n)
    }

    fn in_ns(&self, args: &[&str]) -> bool {
        let mut all = vec!["netns", "exec", &self.name];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// One more address on the host's end of the link (`10.A.B.N`), for a service the
    /// namespace must reach on an address of its own.
    pub fn add_host_address(&self, n: u8) -> String {
        let addr = format!("{}.{n}", self.prefix);
        assert!(ip(&[
            "addr",
            "add",
            &format!("{addr}/32"),
            "dev",
            &self.host_link
        ]));
        addr
    }

    /// Cuts (`false`) or restores (`true`) the link between the namespace and the host.
    pub fn link(&self, up: bool) {
        assert!(ip(&[
            "link",
            "set",
            &self.host_link,
            if up { "up" } else { "down" }
        ]));
    }

    /// Makes the host address `addr` unreachable from the namespace (`true`), or reachable again.
    pub fn blackhole(&self, addr: &str, on: bool) {
        let verb = if on { "add" } else { "del" };
        assert!(self.in_ns(&["ip", "route", verb, "blackhole", &format!("{addr}/32")]));
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        ip(&["link", "del", &self.host_link]);
        ip(&["netns", "del", &self.name]);
    }
}
