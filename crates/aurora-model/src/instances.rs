//! Instance specs as Aurora's client writes them: `CLUSTER/ROLE/ENV/NAME[/INSTANCES]`, where
//! INSTANCES is a comma list of numbers and inclusive ranges (`0-2,5`), and task instance keys
//! `CLUSTER/ROLE/ENV/NAME/INSTANCE`.

use crate::{JobKeyError, JobPath};
use std::fmt;
use std::str::FromStr;

/// Why an instance spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstancesError {
    #[error(transparent)]
    Key(#[from] JobKeyError),
    #[error("invalid instances '{0}': expected a comma list of numbers and ranges such as 0-3,5")]
    Syntax(String),
    #[error("invalid instance range {0}-{1}: the start is after the end")]
    Range(u32, u32),
    #[error("invalid task instance '{0}': expected CLUSTER/ROLE/ENV/NAME/INSTANCE")]
    TaskInstance(String),
}

/// Parses `0-2,5,7` into a sorted list without duplicates.
pub fn parse_instances(s: &str) -> Result<Vec<u32>, InstancesError> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let num = |x: &str| {
            x.trim()
                .parse::<u32>()
                .map_err(|_| InstancesError::Syntax(s.to_owned()))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(InstancesError::Range(a, b));
                }
                if b - a > 100_000 {
                    return Err(InstancesError::Syntax(s.to_owned()));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// `CLUSTER/ROLE/ENV/NAME[/INSTANCES]`: a job and some (or all) of its instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    pub job: JobPath,
    /// `None`: every instance.
    pub instances: Option<Vec<u32>>,
}

impl FromStr for InstanceSpec {
    type Err = InstancesError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [c, r, e, n] => Ok(InstanceSpec {
                job: JobPath::new(c, r, e, n)?,
                instances: None,
            }),
            [c, r, e, n, i] => Ok(InstanceSpec {
                job: JobPath::new(c, r, e, n)?,
                instances: Some(parse_instances(i)?),
            }),
            _ => Err(JobKeyError::Shape(s.to_owned()).into()),
        }
    }
}

impl fmt::Display for InstanceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.job)?;
        if let Some(i) = &self.instances {
            let list: Vec<String> = i.iter().map(u32::to_string).collect();
            write!(f, "/{}", list.join(","))?;
        }
        Ok(())
    }
}

/// `CLUSTER/ROLE/ENV/NAME/INSTANCE`: one instance of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInstanceKey {
    pub job: JobPath,
    pub instance: u32,
}

impl FromStr for TaskInstanceKey {
    type Err = InstancesError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.rsplit_once('/') {
            Some((job, i)) if job.matches('/').count() == 3 => Ok(TaskInstanceKey {
                job: job.parse()?,
                instance: i
                    .parse()
                    .map_err(|_| InstancesError::TaskInstance(s.to_owned()))?,
            }),
            _ => Err(InstancesError::TaskInstance(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges() {
        assert_eq!(parse_instances("0-3,5").unwrap(), vec![0, 1, 2, 3, 5]);
        assert_eq!(parse_instances("5,1-2,2").unwrap(), vec![1, 2, 5]);
        assert_eq!(
            parse_instances("3-1").unwrap_err(),
            InstancesError::Range(3, 1)
        );
        assert!(parse_instances("a").is_err());
        assert!(parse_instances("").is_err());
        assert!(parse_instances("1,,2").is_err());
    }

    #[test]
    fn specs_and_task_instances() {
        let s: InstanceSpec = "c/r/e/n/0-1".parse().unwrap();
        assert_eq!(s.instances, Some(vec![0, 1]));
        assert_eq!(s.to_string(), "c/r/e/n/0,1");
        let s: InstanceSpec = "c/r/e/n".parse().unwrap();
        assert_eq!(s.instances, None);
        assert!("c/r/e".parse::<InstanceSpec>().is_err());
        let t: TaskInstanceKey = "c/r/e/n/3".parse().unwrap();
        assert_eq!(t.instance, 3);
        assert!("c/r/e/n".parse::<TaskInstanceKey>().is_err());
        assert!("c/r/e/n/x".parse::<TaskInstanceKey>().is_err());
    }
}
