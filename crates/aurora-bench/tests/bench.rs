//! A small run of `aurora-bench` against the real scheduler (built beside it by
//! `cargo test --workspace`): it connects its hollow agents, gets every task RUNNING, sees the
//! tasks of a hung agent run elsewhere, survives the scheduler's kill -9, and ends with its
//! figures as one JSON object. A test that it works, not a
//! timed gate: no figure is compared with a target here.

use std::process::Command;

#[test]
fn a_small_run_reports_every_figure() {
    let out = Command::new(env!("CARGO_BIN_EXE_aurora-bench"))
        .args([
            "--agents",
            "200",
            "--tasks",
            "5000",
            "--instances-per-job",
            "1000",
        ])
        .args(["--reads", "20", "--lost-after-ms", "3000", "--json"])
        .output()
        .expect("running aurora-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    let figures: serde_json::Value = serde_json::from_str(last).expect("the last line is JSON");
    assert_eq!(figures["agents"], 200);
    assert_eq!(figures["tasks"], 5000);
    assert_eq!(figures["jobs"], 5);
    for key in [
        "placements_per_s",
        "e2e_running_per_s",
        "create_p99_ms",
        "read_p99_ms",
        "restart_s",
        "reconcile_s",
        "scheduler_rss_mib",
        "lost_replaced_s",
        "job_whole_p99_ms",
        "role_page_p99_ms",
    ] {
        let v = figures[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing: {last}"));
        assert!(v > 0.0 && v.is_finite(), "{key} = {v}");
    }
    // The table names the run.
    assert!(
        stdout.contains("200 hollow agents, 5000 tasks in 5 jobs"),
        "{stdout}"
    );
}
