//! Ports for test clusters: one free port now, or a block of ports held for one cluster while
//! tests run in parallel in several processes. Nothing here listens.

use std::path::PathBuf;
use std::time::Duration;

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding port 0 on loopback")
        .port()
}

/// A block of ports that no other test cluster on this machine uses while it is held: tests run
/// in parallel, in several processes, and their services listen on the ports they are given. Held
/// by a lock file (created exclusively, removed on drop) under the system's temporary directory.
pub struct PortBlock {
    pub first: u16,
    pub last: u16,
    lock: PathBuf,
}

impl PortBlock {
    const SIZE: u16 = 16;

    /// Takes the first free block between 20000 and 30000 (below Linux's ephemeral ports).
    pub fn take() -> PortBlock {
        let dir = std::env::temp_dir().join("aurora-test-ports");
        std::fs::create_dir_all(&dir).expect("creating the port lock directory");
        for first in (20000..30000u16).step_by(Self::SIZE as usize) {
            let lock = dir.join(first.to_string());
            // A lock left by a test run that was killed an hour ago is stale.
            if let Ok(m) = std::fs::metadata(&lock)
                && m.modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > Duration::from_secs(3600))
            {
                let _ = std::fs::remove_file(&lock);
            }
            if std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
                .is_err()
            {
                continue;
            }
            let last = first + Self::SIZE - 1;
            let free =
                (first..=last).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
            if free {
                return PortBlock { first, last, lock };
            }
            let _ = std::fs::remove_file(&lock);
        }
        panic!(
            "no free block of {} ports between 20000 and 30000",
            Self::SIZE
        );
    }
}

impl Drop for PortBlock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.lock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_blocks_held_at_once_do_not_overlap() {
        let a = PortBlock::take();
        let b = PortBlock::take();
        assert_eq!(a.last - a.first + 1, PortBlock::SIZE);
        assert!(
            a.last < b.first || b.last < a.first,
            "{}..{} and {}..{}",
            a.first,
            a.last,
            b.first,
            b.last
        );
    }
}
