//! The authorization file (`--authz FILE`, TOML):
//!
//! ```toml
//! read_requires_login = true
//! admins = ["ops"]                     # users, or groups, who may do everything
//! [groups]
//! alice-aurora-users = ["alice", "bob"]
//! [roles]                              # role = groups (or users) who may act on it; "*": every role
//! mesostest = ["group:alice-aurora-users", "user:carol"]
//! ```
//!
//! Users and groups are distinct namespaces: in `admins` and `[roles]`, `group:NAME` is the group
//! and `user:NAME` the user. A bare name is the group when `[groups]` defines one of that name
//! (so a user who happens to be called like a group is not its members), else the user; a user
//! named like a group must be written `user:NAME`. `group:NAME` of a group the file does not
//! define is an error. Kerberos users from a realm other than `--kerberos-realm` keep it
//! (`alice@OTHER.REALM`) and are named so here.
//!
//! More keys are allowed (and ignored), so a site can keep its own notes in the file.

use crate::{Action, Denied};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Why the file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthzError {
    #[error("cannot read the authorization file {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: '{entry}' names group '{group}', which [groups] does not define")]
    UnknownGroup {
        path: String,
        entry: String,
        group: String,
    },
}

/// An entry of `admins` or `[roles]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Principal<'a> {
    User(&'a str),
    Group(&'a str),
}

#[derive(Debug, Clone, Default, Deserialize)]
struct File {
    #[serde(default)]
    read_requires_login: bool,
    #[serde(default)]
    admins: Vec<String>,
    #[serde(default)]
    groups: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    roles: BTreeMap<String, Vec<String>>,
}

/// Who may do what.
#[derive(Debug, Clone, Default)]
pub struct Authz {
    file: File,
    /// No file: every identified user may act on every role.
    open: bool,
}

impl Authz {
    /// Everyone who is identified may do everything (no `--authz`).
    pub fn open() -> Authz {
        Authz {
            file: File::default(),
            open: true,
        }
    }

    /// Reads an authorization file; errors name the file and, for bad TOML, the line.
    pub fn load(path: &Path) -> Result<Authz, AuthzError> {
        let text = std::fs::read_to_string(path).map_err(|e| AuthzError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses the file's text (`origin` names it in errors).
    pub fn parse(text: &str, origin: &str) -> Result<Authz, AuthzError> {
        let file: File = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            AuthzError::Parse {
                path: match line {
                    Some(l) => format!("{origin}:{l}"),
                    None => origin.to_owned(),
                },
                message: e.message().to_owned(),
            }
        })?;
        let authz = Authz { file, open: false };
        for entry in authz
            .file
            .admins
            .iter()
            .chain(authz.file.roles.values().flatten())
        {
            if let Principal::Group(g) = authz.principal(entry)
                && !authz.file.groups.contains_key(g)
            {
                return Err(AuthzError::UnknownGroup {
                    path: origin.to_owned(),
                    entry: entry.clone(),
                    group: g.to_owned(),
                });
            }
        }
        Ok(authz)
    }

    /// What an entry names: `group:G`, `user:U`, or a bare name (a group if one is defined so).
    fn principal<'a>(&self, entry: &'a str) -> Principal<'a> {
        if let Some(g) = entry.strip_prefix("group:") {
            Principal::Group(g)
        } else if let Some(u) = entry.strip_prefix("user:") {
            Principal::User(u)
        } else if self.file.groups.contains_key(entry) {
            Principal::Group(entry)
        } else {
            Principal::User(entry)
        }
    }

    /// Whether reads (the API's GETs and the web UI) need a login.
    pub fn read_requires_login(&self) -> bool {
        self.file.read_requires_login
    }

    /// Is `user` one of `names` (named as a user, or a member of a group named)?
    fn among(&self, user: &str, names: &[String]) -> bool {
        names.iter().any(|n| match self.principal(n) {
            Principal::User(u) => u == user,
            Principal::Group(g) => self
                .file
                .groups
                .get(g)
                .is_some_and(|members| members.iter().any(|m| m == user)),
        })
    }

    pub fn is_admin(&self, user: &str) -> bool {
        self.open || self.among(user, &self.file.admins)
    }

    /// Whom to ask for `role`: its groups, then the administrators.
    fn ask(&self, role: Option<&str>) -> String {
        let mut parts = Vec::new();
        if let Some(r) = role {
            let groups: Vec<&String> = self
                .file
                .roles
                .get(r)
                .into_iter()
                .chain(self.file.roles.get("*"))
                .flatten()
                .collect();
            if !groups.is_empty() {
                let names: Vec<&str> = groups.iter().map(|g| g.as_str()).collect();
                parts.push(format!("ask to join {}", names.join(" or ")));
            }
        }
        if !self.file.admins.is_empty() {
            parts.push(format!(
                "ask an administrator ({})",
                self.file.admins.join(", ")
            ));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(": {}", parts.join(", or "))
        }
    }

    /// May `user` do `action` on jobs of `role`?
    pub fn check_role(&self, user: &str, action: Action, role: &str) -> Result<(), Denied> {
        let groups = self
            .file
            .roles
            .get(role)
            .into_iter()
            .chain(self.file.roles.get("*"))
            .flatten()
            .cloned()
            .collect::<Vec<_>>();
        if self.is_admin(user) || self.among(user, &groups) {
            return Ok(());
        }
        Err(Denied::Forbidden {
            user: user.to_owned(),
            action: action.describe(),
            role: role.to_owned(),
            ask: self.ask(Some(role)),
        })
    }

    /// May `user` do an administrators' `action`?
    pub fn check_admin(&self, user: &str, action: Action) -> Result<(), Denied> {
        if self.is_admin(user) {
            return Ok(());
        }
        Err(Denied::AdminOnly {
            user: user.to_owned(),
            action: action.describe(),
            ask: self.ask(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
read_requires_login = true
admins = ["ops"]
site_notes = "more keys are allowed"

[groups]
alice-aurora-users = ["alice", "bob"]
ops = ["olga"]

[roles]
mesostest = ["alice-aurora-users"]
shared = ["carol"]
"#;

    #[test]
    fn members_of_a_role_s_groups_and_administrators_may_act() {
        let a = Authz::parse(FILE, "authz.toml").unwrap();
        assert!(a.read_requires_login());
        assert!(a.check_role("alice", Action::Create, "mesostest").is_ok());
        assert!(a.check_role("bob", Action::Kill, "mesostest").is_ok());
        assert!(
            a.check_role("carol", Action::Kill, "shared").is_ok(),
            "a user named directly"
        );
        assert!(
            a.check_role("olga", Action::Create, "anything").is_ok(),
            "admin through the ops group"
        );
        assert!(
            a.check_role("ops", Action::Create, "anything").is_err(),
            "'ops' is a group: a user called ops is not its member"
        );
        assert!(
            a.check_role("alice-aurora-users", Action::Create, "mesostest")
                .is_err(),
            "a user named like a group does not match the group"
        );
        let e = a
            .check_role("mallory", Action::Create, "mesostest")
            .unwrap_err();
        assert_eq!(e.status(), 403);
        assert_eq!(
            e.to_string(),
            "user 'mallory' may not create jobs of role 'mesostest': ask to join alice-aurora-users, or ask an administrator (ops)"
        );
        assert!(
            a.check_admin("alice", Action::Drain)
                .unwrap_err()
                .to_string()
                .contains("administrators only")
        );
        assert!(a.check_admin("olga", Action::Drain).is_ok());
    }

    #[test]
    fn a_star_role_covers_every_role_and_no_file_opens_everything() {
        let a = Authz::parse(
            "[roles]\n\"*\" = [\"everyone\"]\n[groups]\neveryone = [\"x\"]\n",
            "f",
        )
        .unwrap();
        assert!(a.check_role("x", Action::Create, "any-role").is_ok());
        assert!(a.check_role("y", Action::Create, "any-role").is_err());
        assert!(!a.read_requires_login());
        let open = Authz::open();
        assert!(open.check_role("anyone", Action::Kill, "r").is_ok());
        assert!(open.check_admin("anyone", Action::Drain).is_ok());
    }

    #[test]
    fn prefixed_entries_name_users_and_groups_apart() {
        let a = Authz::parse(
            "admins = [\"user:ops\"]\n[groups]\nops = [\"olga\"]\ndev = [\"dora\"]\n[roles]\nr = [\"group:dev\", \"user:dev\"]\n",
            "f",
        )
        .unwrap();
        assert!(a.check_admin("ops", Action::Drain).is_ok(), "the user ops");
        assert!(
            a.check_admin("olga", Action::Drain).is_err(),
            "not the group"
        );
        assert!(a.check_role("dora", Action::Create, "r").is_ok());
        assert!(a.check_role("dev", Action::Create, "r").is_ok(), "user:dev");
        let e = Authz::parse("[roles]\nr = [\"group:nope\"]\n", "authz.toml").unwrap_err();
        assert!(matches!(e, AuthzError::UnknownGroup { .. }), "{e}");
        assert!(e.to_string().contains("group:nope"), "{e}");
    }

    #[test]
    fn bad_files_name_the_file_and_line() {
        let e = Authz::parse(
            "admins = [\"ops\"]\n[roles]\nmesostest = 3\n",
            "/etc/aurora/authz.toml",
        )
        .unwrap_err();
        let AuthzError::Parse { path, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(path, "/etc/aurora/authz.toml:3");
        let e = Authz::load(Path::new("/nonexistent/authz.toml")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/authz.toml"), "{e}");
    }
}
