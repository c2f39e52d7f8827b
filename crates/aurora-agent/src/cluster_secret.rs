//! Who may speak the agent protocol: with a cluster secret (`--cluster-secret-file` on the
//! scheduler and on every agent), each request carries it in the `X-Aurora-Cluster-Secret` header
//! (compared in constant time), both ways: agents to the scheduler, and the scheduler to agents'
//! file servers. With no secret configured, only peers on loopback are accepted, which is what a
//! single-machine cluster needs and nothing more.
//!
//! Used by the scheduler's `/agent/v1` routes and by the agent's file server.

use std::net::SocketAddr;
use std::path::Path;

/// The header carrying the secret (the wire's, so `aurora-client` sends the same).
pub use aurora_api::CLUSTER_SECRET_HEADER as HEADER;

/// Why a peer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("wrong or missing cluster secret")]
    BadSecret,
    #[error(
        "only loopback peers are accepted without a cluster secret (start both sides with --cluster-secret-file)"
    )]
    NotLoopback,
}

/// Reads a secret file: its content, trimmed, which must not be empty.
pub fn read(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading the cluster secret {}: {e}", path.display()))?;
    let secret = text.trim().to_owned();
    anyhow::ensure!(
        secret.len() >= 16,
        "the cluster secret in {} is shorter than 16 characters",
        path.display()
    );
    Ok(secret)
}

/// Accepts `peer` presenting `given` when the cluster's secret is `expected`.
pub fn check(
    expected: Option<&str>,
    peer: SocketAddr,
    given: Option<&[u8]>,
) -> Result<(), Refused> {
    match expected {
        Some(secret) => {
            let given = given.unwrap_or_default();
            let same = given.len() == secret.len()
                && bool::from(subtle::ConstantTimeEq::ct_eq(given, secret.as_bytes()));
            if same {
                Ok(())
            } else {
                Err(Refused::BadSecret)
            }
        }
        None if peer.ip().is_loopback() => Ok(()),
        None => Err(Refused::NotLoopback),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_loopback() {
        let lo: SocketAddr = "127.0.0.3:5000".parse().unwrap();
        let remote: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        assert_eq!(check(None, lo, None), Ok(()));
        assert_eq!(check(None, remote, None), Err(Refused::NotLoopback));
        let s = Some("0123456789abcdef");
        assert_eq!(check(s, remote, Some(b"0123456789abcdef")), Ok(()));
        assert_eq!(
            check(s, lo, None),
            Err(Refused::BadSecret),
            "loopback needs it too"
        );
        assert_eq!(
            check(s, remote, Some(b"0123456789abcdeX")),
            Err(Refused::BadSecret)
        );
        assert_eq!(check(s, remote, Some(b"0123")), Err(Refused::BadSecret));
    }

    #[test]
    fn secret_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("secret");
        std::fs::write(&f, "  0123456789abcdef\n").unwrap();
        assert_eq!(read(&f).unwrap(), "0123456789abcdef");
        std::fs::write(&f, "short").unwrap();
        assert!(
            read(&f)
                .unwrap_err()
                .to_string()
                .contains("shorter than 16")
        );
        assert!(read(&dir.path().join("none")).is_err());
    }
}
