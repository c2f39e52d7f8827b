//! The real `aurora-scheduler` configured by a settings file (`--config FILE`, what the package's
//! unit runs): a setting there takes effect, a bad one stops the binary naming the file, line and
//! key, and `token issue` run as root on a store another user owns acts as that user (the
//! packaged scheduler's `aurora`). The file format itself is tested in `aurora-cli`.

use aurora_testkit::cluster::Cluster;
use aurora_testkit::{example, sibling_bin, text};
use std::os::unix::fs::MetadataExt;
use std::process::Command;

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing a settings file");
    path
}

#[tokio::test]
async fn a_setting_in_the_file_takes_effect_and_the_command_line_adds_to_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Tokens required: the test defaults' --local-agent flags and the harness's --listen come
    // from the command line, the authentication from the file.
    let file = write(
        tmp.path(),
        "scheduler.toml",
        "# settings\nauth = [\"token\"]\n",
    );
    let cluster = Cluster::start_with(&data, &["--config", file.to_str().unwrap()]).await;
    let refused = cluster.create(&example("hello_world")).await;
    assert_eq!(
        refused.status(),
        401,
        "the file's auth = [\"token\"] was not applied"
    );

    let out = Command::new(sibling_bin("aurora-scheduler"))
        .args(["--config", file.to_str().unwrap(), "--data-dir"])
        .arg(&data)
        .args(["token", "issue", "alice"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    let created = cluster
        .http
        .post(cluster.url("/api/v1/jobs"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "config": example("hello_world") }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
}

#[test]
fn a_bad_setting_stops_the_scheduler_naming_the_file_line_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for (settings, expected) in [
        (
            "cluster = \"c\"\n\nlisten-port = 8081\n",
            "line 3: unknown setting 'listen-port'",
        ),
        (
            "listen = \"127.0.0.1:0\"\nmax_connections = \"many\"\n",
            "line 2: max_connections: invalid value 'many'",
        ),
        ("local-agent = \"yes\"\n", "line 1: local-agent: a switch"),
    ] {
        let file = write(tmp.path(), "bad.toml", settings);
        let out = Command::new(sibling_bin("aurora-scheduler"))
            .args(["--config", file.to_str().unwrap(), "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{settings}: {err}");
        assert!(
            err.contains(&format!("{}, {expected}", file.display())),
            "{settings}: {err}"
        );
    }
    assert!(!data.exists(), "a refused start touched the data directory");
}

#[test]
fn token_issue_as_root_acts_as_the_owner_of_the_store() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (to own a store as another user)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // nobody:nogroup, as the packaged scheduler's data belongs to `aurora`.
    let (uid, gid) = (65534, 65534);
    std::os::unix::fs::chown(&data, Some(uid), Some(gid)).unwrap();
    std::os::unix::fs::chown(tmp.path(), Some(uid), Some(gid)).unwrap();
    let out = Command::new(sibling_bin("aurora-scheduler"))
        .arg("--data-dir")
        .arg(&data)
        .args(["token", "issue", "alice"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    for entry in std::fs::read_dir(&data).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (uid, gid),
            "{} is not the store owner's",
            entry.path().display()
        );
    }
    assert!(data.join("scheduler.db").exists());
}
