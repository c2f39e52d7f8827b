//! The job table: each job's current configuration, every configuration its tasks run or ran (by
//! digest), its instance ids, and its cron entry when it is scheduled with cron. A job's tasks
//! are the task table's (`state::tasks`); submission checks are `state::valid`'s.

use super::cron::CronEntry;
use aurora_model::{Job, JobKey};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// A job and its configuration.
#[derive(Debug, Clone)]
pub struct JobEntry {
    /// What the job is now: new instances and added ones run this.
    pub config: Arc<Job>,
    /// `config`'s instance digest ([`Job::instance_digest`]).
    pub digest: String,
    /// Every configuration a task of the job runs or ran, by digest (`config` included): after a
    /// canary or a failed update, instances of one job differ.
    pub configs: BTreeMap<String, Arc<Job>>,
    /// Instance ids of the job (active or finished).
    pub instances: BTreeSet<u32>,
    /// Set while the job is scheduled with cron.
    pub cron: Option<CronEntry>,
}

impl JobEntry {
    /// A job entry for `config`, keeping the configurations its earlier tasks ran.
    pub fn new(
        config: Job,
        instances: BTreeSet<u32>,
        cron: Option<CronEntry>,
        earlier: BTreeMap<String, Arc<Job>>,
    ) -> Self {
        let config = Arc::new(config);
        let digest = config.instance_digest();
        let mut configs = earlier;
        configs.insert(digest.clone(), config.clone());
        JobEntry {
            config,
            digest,
            configs,
            instances,
            cron,
        }
    }

    /// Makes `config` the job's current configuration.
    pub fn set_config(&mut self, config: Job) {
        let config = Arc::new(config);
        self.digest = config.instance_digest();
        self.configs.insert(self.digest.clone(), config.clone());
        self.config = config;
    }
}

/// The jobs, by key.
#[derive(Debug, Default)]
pub struct Jobs {
    by_key: HashMap<JobKey, JobEntry>,
}

impl Jobs {
    pub fn get(&self, key: &JobKey) -> Option<&JobEntry> {
        self.by_key.get(key)
    }

    pub fn get_mut(&mut self, key: &JobKey) -> Option<&mut JobEntry> {
        self.by_key.get_mut(key)
    }

    pub fn contains_key(&self, key: &JobKey) -> bool {
        self.by_key.contains_key(key)
    }

    pub fn insert(&mut self, key: JobKey, entry: JobEntry) {
        self.by_key.insert(key, entry);
    }

    pub fn remove(&mut self, key: &JobKey) -> Option<JobEntry> {
        self.by_key.remove(key)
    }

    /// Every job, in no order.
    pub fn iter(&self) -> impl Iterator<Item = (&JobKey, &JobEntry)> {
        self.by_key.iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &JobKey> {
        self.by_key.keys()
    }

    pub fn values(&self) -> impl Iterator<Item = &JobEntry> {
        self.by_key.values()
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

impl std::ops::Index<&JobKey> for Jobs {
    type Output = JobEntry;
    fn index(&self, key: &JobKey) -> &JobEntry {
        &self.by_key[key]
    }
}
