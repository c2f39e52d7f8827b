//! Aurora's job constraints, parsed once per job and checked per agent:
//!
//! - value: `'rack': 'r1'`, `'rack': 'r1,r2'` (any of), `'rack': '!r1'` or `'!r1,r2'` (none of). An
//!   agent without the attribute satisfies only a negated constraint.
//! - limit: `'host': 'limit:1'`, `'rack': 'limit:2'`: at most N active instances of the job on
//!   agents sharing the attribute's value.
//! - dedicated: `'dedicated': 'ROLE/NAME'` (or `*/NAME`) is a value constraint on the agents'
//!   `dedicated` attribute; such jobs run only there, and an agent with a `dedicated` attribute takes
//!   nothing that does not ask for it. Only jobs of ROLE may ask for `ROLE/...` hosts.
//!
//! The attribute `host` is the agent's hostname unless the agent sets it explicitly.

use super::AgentView;
use std::collections::BTreeMap;

/// The attribute marking dedicated agents.
pub const DEDICATED: &str = "dedicated";

/// One constraint of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    /// The agent's `attribute` must be one of `values` (none of them, when `negated`).
    Value {
        attribute: String,
        values: Vec<String>,
        negated: bool,
    },
    /// At most `limit` active instances of the job per value of `attribute`.
    Limit { attribute: String, limit: u32 },
}

impl Constraint {
    pub fn attribute(&self) -> &str {
        match self {
            Constraint::Value { attribute, .. } | Constraint::Limit { attribute, .. } => attribute,
        }
    }
}

/// A job's constraints, checked at submission: each entry parsed, `limit:` a positive number,
/// dedicated values of the job's own role.
pub fn parse(role: &str, map: &BTreeMap<String, String>) -> Result<Vec<Constraint>, String> {
    let mut out = Vec::with_capacity(map.len());
    for (attribute, spec) in map {
        let spec = spec.trim();
        if attribute.is_empty() {
            return Err("a constraint has an empty attribute name".into());
        }
        if let Some(n) = spec.strip_prefix("limit:") {
            let limit: u32 = n.trim().parse().ok().filter(|l| *l > 0).ok_or_else(|| {
                format!("constraint '{attribute}': limit must be a positive number, got '{n}'")
            })?;
            if attribute == DEDICATED {
                return Err("constraint 'dedicated' cannot be a limit".into());
            }
            out.push(Constraint::Limit {
                attribute: attribute.clone(),
                limit,
            });
            continue;
        }
        let (negated, list) = match spec.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, spec),
        };
        let values: Vec<String> = list
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Err(format!("constraint '{attribute}' has no value"));
        }
        if attribute == DEDICATED {
            if negated {
                return Err("constraint 'dedicated' cannot be negated".into());
            }
            for v in &values {
                let owner = v.split_once('/').map(|(r, _)| r);
                if owner != Some(role) && owner != Some("*") {
                    return Err(format!(
                        "Only {} role may use hosts dedicated for that role (constraint 'dedicated': '{v}'; use '{role}/NAME')",
                        owner.unwrap_or(v)
                    ));
                }
            }
        }
        out.push(Constraint::Value {
            attribute: attribute.clone(),
            values,
            negated,
        });
    }
    Ok(out)
}

/// The agent's value of `attribute` (`host` defaults to its hostname).
pub fn attribute<'a>(agent: &'a AgentView, attribute: &str) -> Option<&'a str> {
    agent
        .attributes
        .get(attribute)
        .map(String::as_str)
        .or_else(|| (attribute == "host").then_some(agent.hostname.as_str()))
}

/// Whether `agent` satisfies `constraints`; the attribute of the first one it does not. `count`
/// gives how many active instances of the job run on agents whose attribute has a value.
pub fn check<'c>(
    constraints: &'c [Constraint],
    agent: &AgentView,
    count: &dyn Fn(&str, &str) -> u32,
) -> Result<(), &'c str> {
    let asks_dedicated = constraints.iter().any(|c| c.attribute() == DEDICATED);
    if !asks_dedicated && agent.attributes.contains_key(DEDICATED) {
        return Err(DEDICATED);
    }
    for c in constraints {
        let ok = match c {
            Constraint::Value {
                attribute: a,
                values,
                negated,
            } => {
                let has = attribute(agent, a).is_some_and(|v| values.iter().any(|x| x == v));
                has != *negated
            }
            Constraint::Limit {
                attribute: a,
                limit,
            } => match attribute(agent, a) {
                Some(v) => count(a, v) < *limit,
                // No value to share: the limit cannot be exceeded through this agent.
                None => true,
            },
        };
        if !ok {
            return Err(c.attribute());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn agent(host: &str, attrs: &[(&str, &str)]) -> AgentView {
        AgentView {
            id: host.into(),
            hostname: host.into(),
            cpu: 4.0,
            ram_mb: 4096,
            disk_mb: 4096,
            used_cpu: 0.0,
            used_ram_mb: 0,
            used_disk_mb: 0,
            port_range: (31000, 31010),
            used_ports: BTreeSet::new(),
            unavailable: false,
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn c(pairs: &[(&str, &str)]) -> Vec<Constraint> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse("www-data", &map).unwrap()
    }

    const NONE: &dyn Fn(&str, &str) -> u32 = &|_, _| 0;

    #[test]
    fn value_constraints() {
        let r1 = agent("h1", &[("rack", "r1")]);
        let r2 = agent("h2", &[("rack", "r2")]);
        let bare = agent("h3", &[]);
        let one = c(&[("rack", "r1")]);
        assert_eq!(check(&one, &r1, NONE), Ok(()));
        assert_eq!(check(&one, &r2, NONE), Err("rack"));
        assert_eq!(check(&one, &bare, NONE), Err("rack"));
        let any = c(&[("rack", "r1, r2")]);
        assert!(check(&any, &r1, NONE).is_ok() && check(&any, &r2, NONE).is_ok());
        assert_eq!(check(&any, &bare, NONE), Err("rack"));
        let not = c(&[("rack", "!r1")]);
        assert_eq!(check(&not, &r1, NONE), Err("rack"));
        assert!(check(&not, &r2, NONE).is_ok() && check(&not, &bare, NONE).is_ok());
        let none_of = c(&[("rack", "!r1,r2")]);
        assert!(check(&none_of, &r2, NONE).is_err() && check(&none_of, &bare, NONE).is_ok());
        // `host` is the hostname.
        assert!(check(&c(&[("host", "h1")]), &r1, NONE).is_ok());
        assert_eq!(check(&c(&[("host", "h1")]), &r2, NONE), Err("host"));
    }

    #[test]
    fn limit_constraints_count_per_value() {
        let a = agent("h1", &[("rack", "r1")]);
        let host1 = c(&[("host", "limit:1")]);
        assert!(check(&host1, &a, &|_, _| 0).is_ok());
        assert_eq!(
            check(&host1, &a, &|attr, v| u32::from(
                attr == "host" && v == "h1"
            )),
            Err("host")
        );
        let rack2 = c(&[("rack", "limit:2")]);
        assert!(check(&rack2, &a, &|_, v| if v == "r1" { 1 } else { 9 }).is_ok());
        assert_eq!(
            check(&rack2, &a, &|_, v| if v == "r1" { 2 } else { 0 }),
            Err("rack")
        );
        // An agent without the attribute cannot exceed the limit.
        assert!(check(&rack2, &agent("h9", &[]), &|_, _| 99).is_ok());
    }

    #[test]
    fn dedicated_agents_take_only_their_jobs() {
        let ded = agent("d1", &[("dedicated", "www-data/hello")]);
        let plain = agent("p1", &[]);
        assert_eq!(check(&[], &ded, NONE), Err("dedicated"));
        assert!(check(&[], &plain, NONE).is_ok());
        let mine = c(&[("dedicated", "www-data/hello")]);
        assert!(check(&mine, &ded, NONE).is_ok());
        assert_eq!(check(&mine, &plain, NONE), Err("dedicated"));
        assert_eq!(
            check(&c(&[("dedicated", "www-data/other")]), &ded, NONE),
            Err("dedicated")
        );
        assert!(
            check(
                &c(&[("dedicated", "*/hello")]),
                &agent("d2", &[("dedicated", "*/hello")]),
                NONE
            )
            .is_ok()
        );
    }

    #[test]
    fn bad_constraints_are_refused_with_the_reason() {
        let err = |pairs: &[(&str, &str)]| {
            let map = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            parse("www-data", &map).unwrap_err()
        };
        assert!(err(&[("host", "limit:0")]).contains("positive"));
        assert!(err(&[("host", "limit:x")]).contains("positive"));
        assert!(err(&[("rack", "")]).contains("no value"));
        assert!(err(&[("rack", "!")]).contains("no value"));
        assert!(err(&[("dedicated", "ops/db")]).contains("Only ops role may use hosts dedicated"));
        assert!(err(&[("dedicated", "!www-data/x")]).contains("negated"));
        assert!(err(&[("dedicated", "limit:1")]).contains("limit"));
    }
}
