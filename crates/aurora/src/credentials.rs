//! The user's credentials for a cluster, as the Aurora client keeps them: `~/.aurora/auth-token`
//! (or `$AURORA_CONFIG_ROOT/auth-token`) holds a token, or a Netscape cookie jar (what
//! `cern-get-sso-cookie` writes), whose cookies for the scheduler's host are then sent; a cluster
//! with `auth_mechanism: "COOKIE"` may name its jar with `cookie_jar`. A token file readable by
//! others earns a warning: it must be guarded like a password.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What to send to a scheduler.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `Authorization: Bearer`.
    pub token: Option<String>,
    /// `Cookie:` (from a cookie jar, for this host).
    pub cookies: Option<String>,
}

/// Where the token file is looked for, first found wins.
pub fn token_paths() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(root) = std::env::var_os("AURORA_CONFIG_ROOT") {
        dirs.push(root.into());
    }
    if let Some(home) = dirs::home_dir() {
        dirs.push(home.join(".aurora"));
    }
    dirs.into_iter().map(|d| d.join("auth-token")).collect()
}

/// Is this text a Netscape cookie jar?
fn is_cookie_jar(text: &str) -> bool {
    text.starts_with("# Netscape HTTP Cookie File")
        || text.starts_with("# HTTP Cookie File")
        || text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .any(|l| l.split('\t').count() == 7)
}

/// The cookies of a jar that apply to `host` (domain match, unexpired at `now_secs`), as a
/// `Cookie:` header value.
pub fn cookies_for(jar: &str, host: &str, now_secs: i64) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in jar.lines() {
        // `#HttpOnly_` prefixes a real cookie line; other `#` lines are comments.
        let line = line.strip_prefix("#HttpOnly_").unwrap_or(line);
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 7 {
            continue;
        }
        let (domain, expires, name, value) = (f[0], f[4], f[5], f[6]);
        let d = domain.trim_start_matches('.');
        let matches = host == d || host.ends_with(&format!(".{d}"));
        let live = expires
            .parse::<i64>()
            .map_or(true, |e| e == 0 || e > now_secs);
        if matches && live {
            out.push(format!("{name}={}", value.trim_end()));
        }
    }
    out.join("; ")
}

/// Reads credentials for a scheduler at `host`; `jar` is a cluster's explicit `cookie_jar`.
/// Warnings (a token file readable by others) go to `warn`.
pub fn load(host: &str, jar: Option<&Path>, warn: &mut dyn FnMut(String)) -> Credentials {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if let Some(j) = jar {
        let text = std::fs::read_to_string(j).unwrap_or_else(|e| {
            warn(format!("cannot read the cookie jar {}: {e}", j.display()));
            String::new()
        });
        return Credentials {
            token: None,
            cookies: Some(cookies_for(&text, host, now)),
        };
    }
    for path in token_paths() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if let Ok(meta) = std::fs::metadata(&path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                warn(format!(
                    "{} is readable by others (mode {mode:o}): it holds your credentials; run chmod 600 {}",
                    path.display(),
                    path.display()
                ));
            }
        }
        if is_cookie_jar(&text) {
            return Credentials {
                token: None,
                cookies: Some(cookies_for(&text, host, now)),
            };
        }
        let token = text.trim().to_owned();
        if !token.is_empty() {
            return Credentials {
                token: Some(token),
                cookies: None,
            };
        }
    }
    Credentials::default()
}

/// Saves a token where `load` finds it first, readable by its owner only.
pub fn save_token(token: &str) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    use std::io::Write;
    let path = token_paths()
        .into_iter()
        .next()
        .context("no home directory to keep the token in")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    writeln!(f, "{token}")?;
    Ok(path)
}

use std::os::unix::fs::OpenOptionsExt;

#[cfg(test)]
mod tests {
    use super::*;

    const JAR: &str = "# Netscape HTTP Cookie File\n\
# a comment\n\
.cern.ch\tTRUE\t/\tTRUE\t0\t_shibsession_abc\tvalue1\n\
#HttpOnly_aurora.cern.ch\tFALSE\t/\tTRUE\t4102444800\tFedAuth\tvalue2\n\
aurora.cern.ch\tFALSE\t/\tTRUE\t1000\texpired\told\n\
other.org\tFALSE\t/\tFALSE\t0\tforeign\tno\n";

    #[test]
    fn a_cookie_jar_gives_the_scheduler_s_cookies_only() {
        assert!(is_cookie_jar(JAR));
        assert!(!is_cookie_jar("aurora_0123"));
        assert_eq!(
            cookies_for(JAR, "aurora.cern.ch", 2000),
            "_shibsession_abc=value1; FedAuth=value2"
        );
        assert_eq!(cookies_for(JAR, "elsewhere.net", 2000), "");
    }
}
