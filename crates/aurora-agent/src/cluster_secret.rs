//! Who may speak the agent protocol. The cluster has one secret (`--cluster-secret-file` on the
//! scheduler and the agents; a scheduler given none makes one under its data folder, for its
//! embedded agent and for agents on the same machine). The secret itself never travels: each agent
//! proves who it is with its **credential**, `HMAC-SHA256(secret, agent id)` in hex, sent in the
//! `X-Aurora-Agent-Credential` header on every request to the scheduler, which recomputes it for
//! the id the request speaks for (so a credential cannot speak for another agent). The scheduler
//! presents the same credential to that agent's file server, which compares it with its own. An
//! agent may be given its credential alone (`--agent-credential-file`), so that a machine that is
//! taken over cannot pose as any other.
//!
//! There is no exception for loopback: every local user and every task is on loopback.
//!
//! Used by the scheduler's `/agent/v1` routes and client for agents, and by the agent.

use hmac::{KeyInit, Mac};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The header carrying an agent's credential (the wire's, so `aurora-client` sends the same).
pub use aurora_api::AGENT_CREDENTIAL_HEADER as HEADER;

/// The shortest secret accepted.
pub const MIN_SECRET_LEN: usize = 16;

/// Why a peer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("missing agent credential (header {HEADER})")]
    Missing,
    #[error("wrong agent credential for agent {0}")]
    Wrong(String),
}

/// Why a secret or credential file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is readable by others (mode {mode:o}): make it 0600 (chmod 600 {path})")]
    Exposed { path: String, mode: u32 },
    #[error("the secret in {0} is shorter than {MIN_SECRET_LEN} characters")]
    Short(String),
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("no randomness for a new secret: {0}")]
    Random(getrandom::Error),
}

/// Reads a secret (or credential) file: its content, trimmed, at least [`MIN_SECRET_LEN`]
/// characters, from a file no one but its owner may read.
pub fn read(path: &Path) -> Result<String, SecretFileError> {
    let shown = path.display().to_string();
    let read_err = |source| SecretFileError::Read {
        path: shown.clone(),
        source,
    };
    let mode = std::fs::metadata(path)
        .map_err(read_err)?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretFileError::Exposed { path: shown, mode });
    }
    let secret = std::fs::read_to_string(path)
        .map_err(read_err)?
        .trim()
        .to_owned();
    if secret.len() < MIN_SECRET_LEN {
        return Err(SecretFileError::Short(shown));
    }
    Ok(secret)
}

/// The secret in `path`, made (32 random bytes, hex, mode 0600) if the file does not exist.
pub fn read_or_create(path: &Path) -> Result<String, SecretFileError> {
    if !path.exists() {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(SecretFileError::Random)?;
        let write_err = |source| SecretFileError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(write_err)?;
        std::io::Write::write_all(&mut f, format!("{}\n", hex(&bytes)).as_bytes())
            .map_err(write_err)?;
    }
    read(path)
}

/// The credential of agent `agent_id` in the cluster whose secret is `secret`.
pub fn credential(secret: &str, agent_id: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"aurora agent credential v1\0");
    mac.update(agent_id.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Accepts a request for `agent_id` presenting `given`, when that agent's credential is
/// `expected` (compared in constant time).
pub fn check(expected: &str, agent_id: &str, given: Option<&[u8]>) -> Result<(), Refused> {
    let given = given.ok_or(Refused::Missing)?;
    let same = given.len() == expected.len()
        && bool::from(subtle::ConstantTimeEq::ct_eq(given, expected.as_bytes()));
    if same {
        Ok(())
    } else {
        Err(Refused::Wrong(agent_id.to_owned()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_speaks_for_its_agent_only() {
        let secret = "0123456789abcdef";
        let a1 = credential(secret, "a1");
        assert_eq!(a1.len(), 64);
        assert_eq!(a1, credential(secret, "a1"), "stable");
        assert_ne!(a1, credential(secret, "a2"));
        assert_ne!(a1, credential("0123456789abcdeX", "a1"));
        assert_eq!(check(&a1, "a1", Some(a1.as_bytes())), Ok(()));
        let a2 = credential(secret, "a2");
        assert_eq!(
            check(&a1, "a1", Some(a2.as_bytes())),
            Err(Refused::Wrong("a1".into()))
        );
        assert_eq!(check(&a1, "a1", None), Err(Refused::Missing));
        assert_eq!(
            check(&a1, "a1", Some(secret.as_bytes())),
            Err(Refused::Wrong("a1".into())),
            "the secret itself is not a credential"
        );
    }

    #[test]
    fn secret_files_are_checked_and_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("secret");
        std::fs::write(&f, "  0123456789abcdef\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&f).unwrap(), "0123456789abcdef");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            read(&f),
            Err(SecretFileError::Exposed { mode: 0o644, .. })
        ));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&f, "short").unwrap();
        assert!(
            read(&f)
                .unwrap_err()
                .to_string()
                .contains("shorter than 16")
        );
        assert!(read(&dir.path().join("none")).is_err());
        let made = dir.path().join("made");
        let s = read_or_create(&made).unwrap();
        assert_eq!(s.len(), 64);
        let mode = std::fs::metadata(&made).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_or_create(&made).unwrap(), s, "kept once made");
    }
}
