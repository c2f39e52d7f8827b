//! `scripts/install-deps.sh`, the one list of Debian packages that `scripts/quickstart.sh` and
//! `.ci/run` install: on a machine where the tools are absent it asks for every package, where they
//! are present for none, and it never installs anything without apt-get.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-deps.sh")
}

/// Runs the script with only `tools` on its PATH (each a stub that succeeds) and `root` as the
/// prefix of its file checks.
fn run(args: &[&str], tools: &[&str], root: &Path) -> Output {
    let bin = tempfile::tempdir().unwrap();
    for t in tools {
        symlink("/bin/true", bin.path().join(t)).unwrap();
    }
    Command::new("/bin/bash")
        .arg(script())
        .args(args)
        .env_clear()
        .env("PATH", bin.path())
        .env("AURORA_DEPS_ROOT", root)
        .output()
        .expect("bash runs the script")
}

fn printed(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

const ALL_TOOLS: &[&str] = &[
    "cc",
    "c++",
    "pkg-config",
    "krb5-config",
    "chromium",
    "chromedriver",
    "script",
    "ip",
    "krb5kdc",
    "protoc",
    "etcd",
    "dpkg-shlibdeps",
    "systemd-analyze",
    "curl",
];

#[test]
fn a_bare_machine_needs_every_package() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(
        printed(&run(&["--print"], &[], root.path())),
        "build-essential pkg-config libkrb5-dev libclang-dev protobuf-compiler libprotobuf-dev"
    );
    assert_eq!(
        printed(&run(&["--test", "--print"], &[], root.path())),
        "build-essential pkg-config libkrb5-dev libclang-dev protobuf-compiler libprotobuf-dev \
         chromium chromium-driver bsdutils iproute2 krb5-kdc krb5-admin-server krb5-user etcd-server"
    );
    assert_eq!(
        printed(&run(&["--package", "--print"], &[], root.path())),
        "build-essential pkg-config libkrb5-dev libclang-dev protobuf-compiler libprotobuf-dev \
         dpkg-dev systemd curl"
    );
}

#[test]
fn a_machine_with_everything_needs_nothing_and_one_without_kerberos_and_clang_needs_those() {
    let root = tempfile::tempdir().unwrap();
    let llvm = root.path().join("usr/lib/llvm-14/lib");
    std::fs::create_dir_all(&llvm).unwrap();
    std::fs::write(llvm.join("libclang-14.so.1"), "").unwrap();
    let protos = root.path().join("usr/include/google/protobuf");
    std::fs::create_dir_all(&protos).unwrap();
    std::fs::write(protos.join("descriptor.proto"), "").unwrap();
    for mode in ["--test", "--package"] {
        assert_eq!(
            printed(&run(&[mode, "--print"], ALL_TOOLS, root.path())),
            ""
        );
    }
    let without: Vec<&str> = ALL_TOOLS
        .iter()
        .copied()
        .filter(|t| *t != "krb5-config")
        .collect();
    let bare_root = tempfile::tempdir().unwrap();
    assert_eq!(
        printed(&run(&["--print"], &without, bare_root.path())),
        "libkrb5-dev libclang-dev libprotobuf-dev"
    );
    // The KDC found where Debian puts it, outside a user's PATH.
    let sbin = root.path().join("usr/sbin");
    std::fs::create_dir_all(&sbin).unwrap();
    symlink("/bin/true", sbin.join("krb5kdc")).unwrap();
    let no_kdc: Vec<&str> = ALL_TOOLS
        .iter()
        .copied()
        .filter(|t| *t != "krb5kdc")
        .collect();
    assert_eq!(
        printed(&run(&["--test", "--print"], &no_kdc, root.path())),
        ""
    );
}

#[test]
fn without_apt_get_it_says_what_to_install_and_installs_nothing() {
    let root = tempfile::tempdir().unwrap();
    let out = run(&[], &["cc", "c++", "pkg-config"], root.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no apt-get here") && err.contains("libkrb5-dev libclang-dev"),
        "{err}"
    );
    let out = run(&["--bogus"], &[], root.path());
    assert_eq!(out.status.code(), Some(2));
}
