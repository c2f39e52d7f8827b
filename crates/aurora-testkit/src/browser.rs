//! A headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`) with
//! fantoccini, for the web UI's tests: started on a free port with a profile of its own, waits on
//! what a page shows, clicks that survive a page refreshing itself, screenshots on request, and
//! every browser process killed on drop. Which pages to visit and what they must show is the
//! tests' business.
//!
//! Without chromedriver [`Browser::start`] says so and gives `None`, unless
//! `AURORA_REQUIRE_BROWSER` is set (CI sets it, after installing both packages). With
//! `AURORA_UI_SCREENSHOTS=DIR`, [`Browser::screenshot`] saves PNGs there.

use crate::procs::kill_processes_mentioning;
use crate::{LIMIT, free_port};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Browser {
    driver: Child,
    pub client: Client,
    /// Chromium's profile: unique to this browser, so its processes can be found and killed.
    profile: tempfile::TempDir,
}

/// The chromedriver on `PATH` or in `/usr/bin`.
fn chromedriver() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join("chromedriver"))
        .find(|p| p.is_file())
}

/// Chromium's flags: headless, quiet, a fixed window, the given profile.
fn chromium_args(profile: &std::path::Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
    ]
    .map(str::to_owned)
    .into();
    args.push(format!("--user-data-dir={}", profile.display()));
    args
}

impl Browser {
    /// A headless Chromium, or `None` (with a notice) where there is none and none is required.
    pub async fn start() -> Option<Browser> {
        let Some(driver_bin) = chromedriver() else {
            assert!(
                std::env::var_os("AURORA_REQUIRE_BROWSER").is_none(),
                "chromedriver not found: install Debian's chromium and chromium-driver"
            );
            eprintln!("SKIPPED: no chromedriver (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = free_port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let profile = tempfile::tempdir().expect("creating a browser profile");
        let mut options = json!({ "args": chromium_args(profile.path()) });
        if std::path::Path::new("/usr/bin/chromium").exists() {
            options["binary"] = json!("/usr/bin/chromium");
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        // chromedriver takes a moment to listen: retry the session until it does.
        let client = loop {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) => {
                    assert!(start.elapsed() < LIMIT, "no WebDriver session: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        Some(Browser {
            driver,
            client,
            profile,
        })
    }

    /// Waits until the element at `css` exists and its text satisfies `pred`; returns the text.
    /// (The pages refresh themselves and the log viewer appends as output arrives.)
    pub async fn text_until(&self, css: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await
                && let Ok(t) = e.text().await
                && pred(&t)
            {
                return t;
            }
            assert!(
                start.elapsed() < LIMIT,
                "{css} never showed what was expected; page: {}",
                self.client.source().await.unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks an element. Pages refresh their content in place every few seconds, so the
    /// element found may be replaced before the click lands: then it is found again.
    pub async fn click(&self, locator: Locator<'_>) {
        let start = Instant::now();
        loop {
            let clicked = self
                .client
                .wait()
                .at_most(LIMIT)
                .for_element(locator)
                .await
                .expect("element to click")
                .click()
                .await;
            match clicked {
                Ok(()) => return,
                Err(e) => assert!(start.elapsed() < LIMIT, "click: {e}"),
            }
        }
    }

    /// Saves the page as `DIR/name` when `AURORA_UI_SCREENSHOTS=DIR` is set.
    pub async fn screenshot(&self, name: &str) {
        if let Some(dir) = std::env::var_os("AURORA_UI_SCREENSHOTS") {
            let png = self.client.screenshot().await.expect("screenshot");
            std::fs::create_dir_all(&dir).expect("creating the screenshot directory");
            std::fs::write(PathBuf::from(dir).join(name), png).expect("writing a screenshot");
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // Chromium outlives its driver when a test fails before closing the session.
        kill_processes_mentioning(&self.profile.path().display().to_string());
    }
}
