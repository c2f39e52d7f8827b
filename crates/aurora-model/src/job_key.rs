//! Job keys: `ROLE/ENV/NAME` inside a cluster, and `CLUSTER/ROLE/ENV/NAME` as users write them.
//!
//! Parsing validates every component (Aurora's `GOOD_IDENTIFIER_PATTERN`, `^[\w\-\.]+$`), so a key
//! that gets past here is safe to use in a file path, a URL or an SQL parameter.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why a job key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobKeyError {
    /// Not exactly `CLUSTER/ROLE/ENV/NAME`.
    #[error("invalid job key '{0}': expected CLUSTER/ROLE/ENV/NAME")]
    Shape(String),
    /// One component holds characters outside `[A-Za-z0-9_.-]` or is empty.
    #[error(
        "invalid {component} '{value}' in job key: only letters, digits, '_', '-' and '.' are allowed"
    )]
    Component {
        /// Which part of the key: cluster, role, environment or name.
        component: &'static str,
        /// The offending text.
        value: String,
    },
}

/// Is `s` a valid identifier for a cluster, role, environment or job name?
///
/// Aurora's `GOOD_IDENTIFIER_PATTERN` is `^[\w\-\.]+$`; we accept the ASCII subset and also refuse
/// `.` and `..`, which would be path components.
pub fn is_good_identifier(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

fn check(component: &'static str, value: &str) -> Result<(), JobKeyError> {
    if is_good_identifier(value) {
        Ok(())
    } else {
        Err(JobKeyError::Component {
            component,
            value: value.to_owned(),
        })
    }
}

/// A job's identity inside one cluster: `ROLE/ENV/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JobKey {
    /// The role (Unix user and quota/ACL unit) that owns the job.
    pub role: String,
    /// The environment: `prod`, `devel`, `test`, `staging<N>`...
    pub environment: String,
    /// The job's name.
    pub name: String,
}

impl JobKey {
    /// Builds a key after validating each component.
    pub fn new(role: &str, environment: &str, name: &str) -> Result<Self, JobKeyError> {
        check("role", role)?;
        check("environment", environment)?;
        check("name", name)?;
        Ok(Self {
            role: role.to_owned(),
            environment: environment.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for JobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.role, self.environment, self.name)
    }
}

/// A job key as users type it: `CLUSTER/ROLE/ENV/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JobPath {
    /// The cluster, a name from `clusters.json`.
    pub cluster: String,
    /// The job inside that cluster.
    pub key: JobKey,
}

impl JobPath {
    /// Builds a path after validating each component.
    pub fn new(
        cluster: &str,
        role: &str,
        environment: &str,
        name: &str,
    ) -> Result<Self, JobKeyError> {
        check("cluster", cluster)?;
        Ok(Self {
            cluster: cluster.to_owned(),
            key: JobKey::new(role, environment, name)?,
        })
    }
}

impl FromStr for JobPath {
    type Err = JobKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [cluster, role, env, name] => JobPath::new(cluster, role, env, name),
            _ => Err(JobKeyError::Shape(s.to_owned())),
        }
    }
}

impl fmt::Display for JobPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.cluster, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_a_full_key() {
        let p: JobPath = "devcluster/www-data/prod/hello".parse().unwrap();
        assert_eq!(p.cluster, "devcluster");
        assert_eq!(p.key.role, "www-data");
        assert_eq!(p.key.environment, "prod");
        assert_eq!(p.key.name, "hello");
        assert_eq!(p.to_string(), "devcluster/www-data/prod/hello");
    }

    #[test]
    fn refuses_wrong_shapes() {
        for bad in ["", "a/b/c", "a/b/c/d/e", "a//c/d"] {
            assert!("a/b/c/d".parse::<JobPath>().is_ok());
            assert!(bad.parse::<JobPath>().is_err(), "{bad} should be refused");
        }
        assert_eq!(
            "a/b/c".parse::<JobPath>().unwrap_err(),
            JobKeyError::Shape("a/b/c".into())
        );
    }

    #[test]
    fn refuses_bad_characters_and_traversal() {
        let err = "c/ro le/prod/x".parse::<JobPath>().unwrap_err();
        assert_eq!(
            err,
            JobKeyError::Component {
                component: "role",
                value: "ro le".into()
            }
        );
        assert!("c/../prod/x".parse::<JobPath>().is_err());
        assert!("c/r/prod/x;drop".parse::<JobPath>().is_err());
        assert!("c/r.1/staging2/my_job-1.0".parse::<JobPath>().is_ok());
    }
}
