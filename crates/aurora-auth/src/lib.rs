//! Who may do what. Tokens (`token`: minted from the OS's randomness, stored only as a SHA-256,
//! checked for expiry, revocation and the client's address), the authorization file (`authz`:
//! administrators, groups, and which groups may act on which roles), and the denials users read
//! (`Denied`: whom to ask, how to log in).
//!
//! No I/O beyond reading the authorization file and no HTTP: the scheduler asks, this crate
//! answers.

pub mod authz;
pub mod kerberos;
pub mod token;

pub use authz::{Authz, AuthzError};
pub use token::{TokenError, mint, verify};

/// What a user asked to do, for denials and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Kill,
    Restart,
    AddInstances,
    ScheduleCron,
    DescheduleCron,
    StartCron,
    Update,
    /// Pause, resume, abort, roll back or pulse an update.
    ControlUpdate,
    Drain,
    ManageTokens,
    /// Back up the scheduler's state, stage and commit a recovery, snapshot.
    ManageStorage,
}

impl Action {
    /// How the action reads in a sentence: "create jobs".
    pub fn describe(self) -> &'static str {
        match self {
            Action::Create => "create jobs",
            Action::Kill => "kill tasks",
            Action::Restart => "restart tasks",
            Action::AddInstances => "add instances",
            Action::ScheduleCron => "schedule cron jobs",
            Action::DescheduleCron => "deschedule cron jobs",
            Action::StartCron => "start cron jobs",
            Action::Update => "update jobs",
            Action::ControlUpdate => "pause, resume, abort or roll back updates",
            Action::Drain => "change host maintenance",
            Action::ManageTokens => "manage other users' tokens",
            Action::ManageStorage => "back up and restore the scheduler's state",
        }
    }

    /// The audit log's name of the action.
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "job.create",
            Action::Kill => "job.kill",
            Action::Restart => "job.restart",
            Action::AddInstances => "job.add",
            Action::ScheduleCron => "cron.schedule",
            Action::DescheduleCron => "cron.deschedule",
            Action::StartCron => "cron.start",
            Action::Update => "update.start",
            Action::ControlUpdate => "update.control",
            Action::Drain => "maintenance",
            Action::ManageTokens => "token",
            Action::ManageStorage => "storage",
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// Nobody is logged in (HTTP 401).
    #[error(
        "authentication required: log in with `aurora auth login CLUSTER`, or put a token in ~/.aurora/auth-token"
    )]
    NotLoggedIn,
    /// The credentials presented are not good (HTTP 401).
    #[error("{0}")]
    BadCredentials(#[from] TokenError),
    /// A Kerberos (Negotiate) token was refused (HTTP 401).
    #[error("{0}; run kinit, or check the cluster's auth_mechanism")]
    Kerberos(String),
    /// Logged in, but not allowed (HTTP 403).
    #[error("user '{user}' may not {action} of role '{role}'{ask}")]
    Forbidden {
        user: String,
        action: &'static str,
        role: String,
        /// ": ask a member of ... or an administrator (...)", or empty.
        ask: String,
    },
    /// Only administrators may (HTTP 403).
    #[error("user '{user}' may not {action}: administrators only{ask}")]
    AdminOnly {
        user: String,
        action: &'static str,
        ask: String,
    },
}

impl Denied {
    /// 401 for who-are-you, 403 for you-may-not.
    pub fn status(&self) -> u16 {
        match self {
            Denied::NotLoggedIn | Denied::BadCredentials(_) | Denied::Kerberos(_) => 401,
            Denied::Forbidden { .. } | Denied::AdminOnly { .. } => 403,
        }
    }
}
