//! Kerberos through SPNEGO (`Authorization: Negotiate <base64>`), with the system's GSSAPI (MIT
//! krb5): the scheduler accepts tokens with the keys of its keytab (`KRB5_KTNAME`, which
//! `--keytab` sets), the client makes them from the user's ticket cache (`kinit`). Tokens from
//! browsers and `curl --negotiate` are the same SPNEGO tokens.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libgssapi::context::{ClientCtx, CtxFlags, SecurityContext, ServerCtx};
use libgssapi::name::Name;
use libgssapi::oid::{GSS_MECH_SPNEGO, GSS_NT_HOSTBASED_SERVICE};

/// Why Kerberos authentication failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KerberosError {
    #[error("the Negotiate token is not base64")]
    Encoding,
    #[error("Kerberos authentication failed: {0}")]
    Gss(String),
    #[error("Kerberos authentication needs another round, which HTTP requests do not carry")]
    Incomplete,
}

fn gss(e: impl std::fmt::Display) -> KerberosError {
    KerberosError::Gss(e.to_string())
}

/// The scheduler's side: checks a client's Negotiate token; returns the client's principal
/// (`alice@REALM`) and the token to send back for mutual authentication, if any.
pub fn accept(token_b64: &str) -> Result<(String, Option<String>), KerberosError> {
    let token = STANDARD
        .decode(token_b64.trim())
        .map_err(|_| KerberosError::Encoding)?;
    let mut ctx = ServerCtx::new(None);
    let reply = ctx.step(&token, None).map_err(gss)?;
    if !ctx.is_complete() {
        return Err(KerberosError::Incomplete);
    }
    let principal = ctx.source_name().map_err(gss)?.to_string();
    Ok((principal, reply.map(|b| STANDARD.encode(&*b))))
}

/// The client's side: a Negotiate token for the HTTP service on `host`, from the user's tickets.
pub fn initiate(host: &str) -> Result<String, KerberosError> {
    let service = format!("HTTP@{host}");
    let name = Name::new(service.as_bytes(), Some(GSS_NT_HOSTBASED_SERVICE)).map_err(gss)?;
    let mut ctx = ClientCtx::new(
        None,
        name,
        CtxFlags::GSS_C_MUTUAL_FLAG,
        Some(GSS_MECH_SPNEGO),
    );
    let token = ctx
        .step(None, None)
        .map_err(gss)?
        .ok_or(KerberosError::Incomplete)?;
    Ok(STANDARD.encode(&*token))
}

/// The user a principal names. A principal keeps its realm (`alice@OTHER.REALM`), so that a
/// user of a realm this KDC trusts cannot pass for the local user of the same name; principals
/// of `local_realm` (`--kerberos-realm`) are bare names (`alice@LOCAL.REALM` → `alice`), the
/// names the authorization file and roles use.
pub fn user_of(principal: &str, local_realm: Option<&str>) -> String {
    match (principal.rsplit_once('@'), local_realm) {
        (Some((user, realm)), Some(local)) if realm == local => user.to_owned(),
        _ => principal.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_name_users_and_garbage_is_refused() {
        let local = Some("AURORA.TEST");
        assert_eq!(user_of("alice@AURORA.TEST", local), "alice");
        assert_eq!(user_of("alice@EVIL.TEST", local), "alice@EVIL.TEST");
        assert_eq!(user_of("alice@AURORA.TEST", None), "alice@AURORA.TEST");
        assert_eq!(user_of("host/x@AURORA.TEST", local), "host/x");
        assert_eq!(user_of("alice", local), "alice");
        assert_eq!(accept("not base64!").unwrap_err(), KerberosError::Encoding);
        assert!(matches!(accept("AAAA"), Err(KerberosError::Gss(_))));
    }
}
