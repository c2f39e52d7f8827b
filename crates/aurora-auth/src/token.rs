//! Tokens: `aurora_` and 64 hex digits of the OS's randomness. The scheduler keeps only their
//! SHA-256 ([`TokenRecord`]); a presented token is hashed, found, and then checked: not revoked,
//! not expired, presented from the address it is bound to.

use aurora_model::auth::TokenRecord;
use sha2::{Digest, Sha256};
use std::fmt::Write;
use std::net::IpAddr;

const PREFIX: &str = "aurora_";

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not an Aurora token (expected aurora_ and 64 hex digits)")]
    Malformed,
    #[error("unknown token: it was never issued here (or its scheduler lost it); log in again")]
    Unknown,
    #[error("token {id} was revoked at {at} UTC; log in again")]
    Revoked { id: String, at: String },
    #[error("token {id} expired at {at} UTC; log in again with `aurora auth login CLUSTER`")]
    Expired { id: String, at: String },
    #[error("token {id} is bound to address {bound}, not to {from}")]
    WrongAddress {
        id: String,
        bound: String,
        from: String,
    },
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The stored form of a token: hex SHA-256.
pub fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new token for `user`, valid `ttl_ms` from `now_ms`, bound to `bind_ip` if given. Returns the
/// token (shown once, never stored) and its record.
pub fn mint(
    user: &str,
    now_ms: i64,
    ttl_ms: i64,
    bind_ip: Option<IpAddr>,
) -> Result<(String, TokenRecord), getrandom::Error> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)?;
    let token = format!("{PREFIX}{}", hex(&secret));
    let hash = hash(&token);
    let record = TokenRecord {
        id: hash[..12].to_owned(),
        hash,
        user: user.to_owned(),
        issued_ms: now_ms,
        expires_ms: now_ms.saturating_add(ttl_ms),
        bind_ip: bind_ip.map(|ip| ip.to_string()),
        revoked_ms: None,
    };
    Ok((token, record))
}

/// Checks that `token` is well formed and returns its hash, to look its record up.
pub fn parse(token: &str) -> Result<String, TokenError> {
    let digits = token.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
    if digits.len() != 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TokenError::Malformed);
    }
    Ok(hash(token))
}

/// Accepts `token` (whose record `lookup` finds by hash) presented from `from` at `now_ms`; returns
/// the user it identifies.
pub fn verify<'r>(
    token: &str,
    lookup: impl FnOnce(&str) -> Option<&'r TokenRecord>,
    from: IpAddr,
    now_ms: i64,
) -> Result<&'r TokenRecord, TokenError> {
    let hash = parse(token)?;
    let record = lookup(&hash).ok_or(TokenError::Unknown)?;
    // Found by hash; compared again in constant time, for good measure.
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        record.hash.as_bytes(),
        hash.as_bytes(),
    )) {
        return Err(TokenError::Unknown);
    }
    let ts = aurora_model::time::utc_timestamp;
    if let Some(at) = record.revoked_ms {
        return Err(TokenError::Revoked {
            id: record.id.clone(),
            at: ts(at),
        });
    }
    if now_ms >= record.expires_ms {
        return Err(TokenError::Expired {
            id: record.id.clone(),
            at: ts(record.expires_ms),
        });
    }
    if let Some(bound) = &record.bind_ip
        && bound.parse::<IpAddr>().ok() != Some(canonical(from))
    {
        return Err(TokenError::WrongAddress {
            id: record.id.clone(),
            bound: bound.clone(),
            from: canonical(from).to_string(),
        });
    }
    Ok(record)
}

/// IPv4 addresses seen as IPv6-mapped are compared as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const DAY: i64 = 86_400_000;

    fn store(records: &[&TokenRecord]) -> HashMap<String, TokenRecord> {
        records
            .iter()
            .map(|r| (r.hash.clone(), (*r).clone()))
            .collect()
    }

    #[test]
    fn a_minted_token_identifies_its_user_until_it_expires() {
        let here: IpAddr = "10.0.0.7".parse().unwrap();
        let (token, record) = mint("alice", 1_000, DAY, Some(here)).unwrap();
        assert!(token.starts_with("aurora_") && token.len() == 71);
        assert_ne!(record.hash, token, "only the hash is kept");
        assert_eq!(record.id, &record.hash[..12]);
        let db = store(&[&record]);
        let ok = verify(&token, |h| db.get(h), here, 2_000).unwrap();
        assert_eq!(ok.user, "alice");
        // Expired: named with its expiry.
        let e = verify(&token, |h| db.get(h), here, 1_000 + DAY).unwrap_err();
        assert!(matches!(e, TokenError::Expired { .. }));
        assert!(
            e.to_string().contains("expired at 1970-01-02 00:00:01 UTC"),
            "{e}"
        );
        // From another address.
        let e = verify(&token, |h| db.get(h), "10.0.0.8".parse().unwrap(), 2_000).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "token {} is bound to address 10.0.0.7, not to 10.0.0.8",
                record.id
            )
        );
        // The same address seen as IPv6-mapped is the same.
        assert!(
            verify(
                &token,
                |h| db.get(h),
                "::ffff:10.0.0.7".parse().unwrap(),
                2_000
            )
            .is_ok()
        );
    }

    #[test]
    fn revoked_tampered_unknown_and_malformed_tokens_are_refused() {
        let any: IpAddr = "127.0.0.1".parse().unwrap();
        let (token, mut record) = mint("bob", 0, DAY, None).unwrap();
        record.revoked_ms = Some(5_000);
        let db = store(&[&record]);
        assert!(matches!(
            verify(&token, |h| db.get(h), any, 10),
            Err(TokenError::Revoked { .. })
        ));
        // One digit changed: another token, never issued.
        let last = token.chars().last().unwrap();
        let tampered = format!(
            "{}{}",
            &token[..token.len() - 1],
            if last == '0' { '1' } else { '0' }
        );
        assert_eq!(
            verify(&tampered, |h| db.get(h), any, 10).unwrap_err(),
            TokenError::Unknown
        );
        for bad in ["", "aurora_", "aurora_xyz", "Bearer x", &token[..70]] {
            assert_eq!(
                verify(bad, |h| db.get(h), any, 10).unwrap_err(),
                TokenError::Malformed,
                "{bad}"
            );
        }
        // Unbound tokens are accepted from anywhere.
        let (t2, r2) = mint("carol", 0, DAY, None).unwrap();
        let db = store(&[&r2]);
        assert!(verify(&t2, |h| db.get(h), "192.0.2.1".parse().unwrap(), 10).is_ok());
    }
}
