//! Polling what another process makes observable, with a limit after which the test fails.
//! These are the only waits the tests use: none of them is a sleep standing in for a signal.

use std::time::{Duration, Instant};

/// How long an end-to-end condition may take before a test fails.
pub const LIMIT: Duration = Duration::from_secs(30);

/// Polls `ok` (backing off from 5 ms to 200 ms between looks) until it holds; fails the test
/// after [`LIMIT`] with `what`.
pub fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    while !ok() {
        assert!(start.elapsed() < LIMIT, "{what}");
        std::thread::sleep(pause); // another process's state: back off between looks
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// Waits until something listens on `127.0.0.1:port`; fails the test with `what` after [`LIMIT`].
pub fn wait_listening(port: u16, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < LIMIT, "{what}");
        std::thread::sleep(Duration::from_millis(20)); // polling another process's port
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_for_returns_once_the_condition_holds() {
        let mut looks = 0;
        wait_for("never", || {
            looks += 1;
            looks == 3
        });
        assert_eq!(looks, 3);
    }

    #[test]
    fn wait_listening_returns_for_a_listening_port() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        wait_listening(port, "never listened");
    }
}
