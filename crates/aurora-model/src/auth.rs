//! What the scheduler stores about tokens: never the token itself, only its SHA-256, with whom it
//! identifies, until when, from which address, and whether it was revoked. Minting and checking
//! tokens is `aurora-auth`'s.

use serde::{Deserialize, Serialize};

/// One issued token. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// A short public name for the token (the start of its hash), for listing and revoking.
    pub id: String,
    /// Hex SHA-256 of the token.
    pub hash: String,
    pub user: String,
    pub issued_ms: i64,
    pub expires_ms: i64,
    /// The only client address it is accepted from; `None`: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_ms: Option<i64>,
}
