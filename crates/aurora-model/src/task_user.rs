//! Which Unix accounts a role may run tasks as. A role names the Unix user its tasks run as (on
//! agents running as root); a role naming a system account (`root`, `daemon`, `www-data`: a uid
//! below the policy's minimum) is refused unless an operator allowed that account by name
//! (`--allow-task-user`). The scheduler applies it at submission, the agent again at launch; both
//! look the account up themselves (IO), this type only decides.

use std::collections::BTreeSet;

/// The first uid of ordinary users on most Linux distributions.
pub const DEFAULT_MIN_UID: u32 = 1000;

/// The accounts tasks may run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskUserPolicy {
    /// Accounts with a smaller uid are system accounts.
    pub min_uid: u32,
    /// System accounts allowed anyway, by name.
    pub allowed: BTreeSet<String>,
}

impl Default for TaskUserPolicy {
    fn default() -> Self {
        TaskUserPolicy {
            min_uid: DEFAULT_MIN_UID,
            allowed: BTreeSet::new(),
        }
    }
}

/// A role whose account is a system account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "role '{user}' is the system account uid {uid} (below {min_uid}): tasks may not run as it; an operator may allow it with --allow-task-user {user}"
)]
pub struct SystemAccount {
    pub user: String,
    pub uid: u32,
    pub min_uid: u32,
}

impl TaskUserPolicy {
    /// May tasks run as `user`, whose uid is `uid`?
    pub fn check(&self, user: &str, uid: u32) -> Result<(), SystemAccount> {
        if uid >= self.min_uid || self.allowed.contains(user) {
            return Ok(());
        }
        Err(SystemAccount {
            user: user.to_owned(),
            uid,
            min_uid: self.min_uid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_accounts_are_refused_unless_allowed_by_name() {
        let mut p = TaskUserPolicy::default();
        assert!(p.check("alice", 1000).is_ok());
        assert!(p.check("nobody", 65534).is_ok());
        let e = p.check("root", 0).unwrap_err();
        assert!(e.to_string().contains("--allow-task-user root"), "{e}");
        assert!(p.check("www-data", 33).is_err());
        p.allowed.insert("www-data".into());
        assert!(p.check("www-data", 33).is_ok());
        assert!(p.check("daemon", 1).is_err());
    }
}
