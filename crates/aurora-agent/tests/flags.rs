//! The `aurora-agent` binary refuses bad flags with one clear line and exit status 2, before it
//! touches anything. (These tests also make `cargo test` build the binary, which the end-to-end
//! tests of the `aurora` crate run.)

use std::process::Command;

fn agent(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aurora-agent"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_flags_are_refused_with_the_reason() {
    let (code, err) = agent(&["--scheduler", "http://x", "--resources", "gpu=1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--resources: unknown resource 'gpu'"), "{err}");
    let (code, err) = agent(&["--scheduler", "http://x", "--port-range", "9-1"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("expected a port range A-B with A <= B, got '9-1'"),
        "{err}"
    );
    let (code, err) = agent(&[
        "--scheduler",
        "http://x",
        "--task-user",
        "no-such-user-aurora",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("user 'no-such-user-aurora' does not exist on this host"),
        "{err}"
    );
    let (code, err) = agent(&[
        "--scheduler",
        "http://x",
        "--cluster-secret-file",
        "/nonexistent/s",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("reading /nonexistent/s"), "{err}");
    // A secret others may read is refused, and an agent must have a way to prove who it is.
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("s");
    std::fs::write(&secret, "a-cluster-secret-of-some-length").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let s = secret.to_str().unwrap();
    let (code, err) = agent(&["--scheduler", "http://x", "--cluster-secret-file", s]);
    assert_eq!(code, Some(2));
    assert!(err.contains("is readable by others (mode 644)"), "{err}");
    let (code, err) = agent(&["--scheduler", "http://x"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("the agent must prove who it is"), "{err}");
    let (code, _) = agent(&[]);
    assert_eq!(code, Some(2), "--scheduler is required");
}
