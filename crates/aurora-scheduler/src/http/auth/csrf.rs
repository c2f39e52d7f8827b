//! Cross-site request forgery: a mutation the browser could be made to send from another site
//! is refused. A browser attaches the session cookie on its own, and a POST without a body
//! (`cron start`, `pulse`) needs no JSON content type and so no CORS preflight; what another site
//! cannot make a browser send is a custom header. So:
//!
//! - a mutation authenticated by the session cookie must carry [`HEADER`] (the web UI's
//!   scripts send it; a form or an `<img>` cannot);
//! - any other mutation whose `Origin` is another host, or whose `Sec-Fetch-Site` says
//!   `cross-site` or `same-site`, is refused, logged in or not: Kerberos (a browser may send
//!   `Negotiate` by itself), a trusted proxy's user header (vouched for from an SSO cookie), and
//!   `--auth none` (a page on any site could otherwise post to a scheduler on loopback).
//!
//! Requests with a token in `Authorization: Bearer` (what the CLI sends) are not affected: a
//! browser never adds that header by itself.

use crate::http::error::ApiError;
use axum::http::{HeaderMap, Method, StatusCode, header};

/// The header a cookie-authenticated mutation must carry (any non-empty value).
pub const HEADER: &str = "x-requested-by";

/// How a request was authenticated, as far as CSRF goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A token in `Authorization: Bearer`: never a browser's own doing.
    Bearer,
    /// The session cookie, which a browser attaches to any request to this host.
    Cookie,
    /// Kerberos, a proxy's header, or nothing (anonymous): the Origin checks apply.
    Other,
}

/// Whether `method` changes something.
pub fn is_mutation(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses a cross-site mutation (403 with the reason); anything else passes.
pub fn check(method: &Method, headers: &HeaderMap, credential: Credential) -> Result<(), ApiError> {
    if !is_mutation(method) || credential == Credential::Bearer {
        return Ok(());
    }
    let refuse = |why: String| {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("cross-site request refused: {why}"),
        ))
    };
    let get = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return refuse(format!("the browser says it comes from a {site} page"));
    }
    if let Some(origin) = get(header::ORIGIN.as_str()) {
        let host = get(header::HOST.as_str()).unwrap_or_default();
        let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
        // Behind a reverse proxy, the browser's host may be the proxy's forwarded one (a header
        // another site cannot make a browser send).
        let forwarded = get("x-forwarded-host").is_some_and(|f| f.trim() == origin_host);
        if origin == "null" || (origin_host != host && !forwarded) {
            return refuse(format!("its Origin {origin} is not this site ({host})"));
        }
    }
    if credential == Credential::Cookie && get(HEADER).is_none_or(|v| v.trim().is_empty()) {
        return refuse(format!(
            "a change made with the session cookie must carry the {HEADER} header (the web UI sends it); scripts should use a token in Authorization"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("a header value"));
        }
        h
    }

    #[test]
    fn cookie_mutations_need_the_header_and_cross_site_ones_are_refused() {
        let post = Method::POST;
        let host = ("host", "sched:8081");
        // Reads pass, whatever they carry.
        assert!(check(&Method::GET, &headers(&[host]), Credential::Cookie).is_ok());
        // A cookie without the header: refused; with it: allowed.
        let e = check(&post, &headers(&[host]), Credential::Cookie).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert!(e.message.contains("x-requested-by"), "{}", e.message);
        assert!(
            check(
                &post,
                &headers(&[host, (HEADER, "aurora-ui")]),
                Credential::Cookie
            )
            .is_ok()
        );
        // Another site, even with the header and even anonymous.
        for c in [Credential::Cookie, Credential::Other] {
            let foreign = headers(&[host, (HEADER, "x"), ("origin", "https://evil.example")]);
            assert!(check(&post, &foreign, c).is_err());
            let cross = headers(&[host, (HEADER, "x"), ("sec-fetch-site", "cross-site")]);
            assert!(check(&post, &cross, c).is_err());
        }
        let same = headers(&[host, (HEADER, "x"), ("origin", "http://sched:8081")]);
        assert!(check(&post, &same, Credential::Cookie).is_ok());
        // The CLI: no cookie, no Origin.
        assert!(check(&post, &headers(&[host]), Credential::Other).is_ok());
        // Authorization: exempt.
        let foreign = headers(&[host, ("origin", "https://evil.example")]);
        assert!(check(&post, &foreign, Credential::Bearer).is_ok());
    }
}
