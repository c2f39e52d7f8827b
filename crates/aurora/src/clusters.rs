//! `clusters.json`: the clusters a user can name in job keys. Read, in this order, from
//! `/etc/aurora/clusters.json`, `$AURORA_CONFIG_ROOT/clusters.json` and `~/.aurora/clusters.json`;
//! a later file's cluster replaces an earlier one of the same name. A file holds a list of cluster
//! objects, or an object of them; entries without a `name` are ignored, unknown keys are kept.

use anyhow::Context;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One cluster.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Cluster {
    pub name: String,
    #[serde(default)]
    pub scheduler_uri: Option<String>,
    /// Several schedulers (on etcd, one leads): tried in turn; `scheduler_uri`, when also given,
    /// first.
    #[serde(default)]
    pub scheduler_uris: Vec<String>,
    #[serde(default)]
    pub proxy_url: Option<String>,
    #[serde(default)]
    pub auth_mechanism: Option<String>,
    /// With `auth_mechanism: "COOKIE"`: the Netscape cookie jar to send cookies from.
    #[serde(default)]
    pub cookie_jar: Option<PathBuf>,
    /// Certificates (PEM) to trust for an `https://` scheduler, besides the system's.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// Every other key (`zk`, `slave_root`...), kept as written.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl Cluster {
    /// Where the scheduler's API is (the first of several).
    pub fn scheduler(&self) -> anyhow::Result<&str> {
        self.scheduler_uri
            .as_deref()
            .or(self.scheduler_uris.first().map(String::as_str))
            .map(|u| u.trim_end_matches('/'))
            .with_context(|| {
                format!(
                    "cluster {} has no scheduler_uri (or scheduler_uris) in clusters.json",
                    self.name
                )
            })
    }

    /// Every scheduler to try, comma-separated (what the API client takes).
    pub fn schedulers(&self) -> anyhow::Result<String> {
        let first = self.scheduler()?;
        let mut all = vec![first];
        all.extend(
            self.scheduler_uris
                .iter()
                .map(|u| u.trim_end_matches('/'))
                .filter(|u| *u != first),
        );
        Ok(all.join(","))
    }

    /// The base of the URLs shown to people: `proxy_url`, else the scheduler.
    pub fn web_base(&self) -> anyhow::Result<&str> {
        match &self.proxy_url {
            Some(p) => Ok(p.trim_end_matches('/')),
            None => self.scheduler(),
        }
    }
}

/// The clusters, and the files they came from.
#[derive(Debug, Default)]
pub struct Clusters {
    pub clusters: BTreeMap<String, Cluster>,
    pub files: Vec<PathBuf>,
}

/// Parses one file's text.
pub fn parse(text: &str) -> anyhow::Result<Vec<Cluster>> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    let entries: Vec<serde_json::Value> = match value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(map) => map.into_iter().map(|(_, v)| v).collect(),
        _ => anyhow::bail!("expected a list of clusters or an object of clusters"),
    };
    Ok(entries
        .into_iter()
        .filter(|e| e.get("name").is_some_and(|n| n.is_string()))
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()?)
}

/// The files searched, in order.
pub fn search_path() -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("/etc/aurora/clusters.json")];
    if let Some(root) = std::env::var_os("AURORA_CONFIG_ROOT") {
        let p = Path::new(&root).join("clusters.json");
        if !files.contains(&p) {
            files.push(p);
        }
    }
    if let Some(home) = dirs::home_dir() {
        files.push(home.join(".aurora").join("clusters.json"));
    }
    files
}

impl Clusters {
    /// Loads every file of the search path that exists.
    pub fn load() -> anyhow::Result<Self> {
        let mut out = Clusters::default();
        for file in search_path() {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let list = parse(&text).with_context(|| format!("reading {}", file.display()))?;
            for c in list {
                out.clusters.insert(c.name.clone(), c);
            }
            out.files.push(file);
        }
        Ok(out)
    }

    /// The cluster `name`, or an error listing the known ones.
    /// The cluster named, or, when none is, the only one configured.
    pub fn named_or_only(&self, name: Option<&str>) -> anyhow::Result<&Cluster> {
        if let Some(n) = name {
            return self.get(n);
        }
        let mut all = self.clusters.values();
        match (all.next(), all.next()) {
            (Some(only), None) => Ok(only),
            _ => anyhow::bail!(
                "name the cluster with --cluster: clusters.json has {} clusters",
                self.clusters.len()
            ),
        }
    }

    pub fn get(&self, name: &str) -> anyhow::Result<&Cluster> {
        self.clusters.get(name).with_context(|| {
            let known: Vec<&str> = self.clusters.keys().map(String::as_str).collect();
            let files: Vec<String> = self.files.iter().map(|f| f.display().to_string()).collect();
            format!(
                "Unknown cluster: {name} (known: {}; clusters.json read from: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                },
                if files.is_empty() {
                    search_path()
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                        + " (none found)"
                } else {
                    files.join(", ")
                }
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_objects_unnamed_entries_and_extra_keys() {
        let list = parse(r#"[{"name": "build", "scheduler_uri": "https://a/", "auth_mechanism": "KERBEROS", "slave_root": "/build/mesos"}, {"zk": "x"}]"#).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].scheduler().unwrap(), "https://a");
        assert_eq!(list[0].other["slave_root"], "/build/mesos");
        let obj = parse(
            r#"{"dev": {"name": "dev", "scheduler_uri": "http://h:1", "proxy_url": "http://p"}}"#,
        )
        .unwrap();
        assert_eq!(obj[0].web_base().unwrap(), "http://p");
        assert!(parse("3").is_err());
        // Several schedulers: scheduler_uri first, then the list without it.
        let ha = parse(r#"[{"name": "ha", "scheduler_uris": ["http://s1:8081/", "http://s2:8081"]}, {"name": "both", "scheduler_uri": "http://s2:8081", "scheduler_uris": ["http://s1:8081", "http://s2:8081"]}]"#).unwrap();
        assert_eq!(ha[0].scheduler().unwrap(), "http://s1:8081");
        assert_eq!(ha[0].schedulers().unwrap(), "http://s1:8081,http://s2:8081");
        assert_eq!(ha[1].schedulers().unwrap(), "http://s2:8081,http://s1:8081");
    }

    #[test]
    fn unknown_clusters_name_the_known_ones() {
        let mut c = Clusters::default();
        c.clusters
            .insert("a".into(), parse(r#"[{"name": "a"}]"#).unwrap().remove(0));
        let e = c.get("b").unwrap_err().to_string();
        assert!(
            e.contains("Unknown cluster: b") && e.contains("known: a"),
            "{e}"
        );
        assert!(c.get("a").unwrap().scheduler().is_err());
    }
}
