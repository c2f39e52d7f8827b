//! The job update table: every update kept (active and past), each job's updates by when they
//! started, each job's active update, when an active update wants to be looked at again (a watch
//! period ending, a pulse due) and which jobs with an active update saw their tasks change since
//! the updates were last driven.
//!
//! The fields are private, so the indexes cannot fall out of step: an update enters with
//! [`Updates::insert`] (active if its state is), leaves the active index with [`Updates::end`] and
//! the table with [`Updates::remove`]. Driving updates against tasks is `state::update`'s.

use aurora_model::JobKey;
use aurora_model::update::JobUpdate;
use std::collections::{BTreeSet, HashMap, HashSet};

/// The updates and their indexes.
#[derive(Debug, Default)]
pub struct Updates {
    by_id: HashMap<String, JobUpdate>,
    /// Job → (started at, id) of each of its updates.
    by_job: HashMap<JobKey, BTreeSet<(i64, String)>>,
    /// Job → its active update.
    active: HashMap<JobKey, String>,
    /// Active update → when it wants to be looked at again.
    wake: HashMap<String, i64>,
    /// Jobs with an active update whose tasks changed since the updates were last driven.
    touched: HashSet<JobKey>,
}

impl Updates {
    pub fn get(&self, id: &str) -> Option<&JobUpdate> {
        self.by_id.get(id)
    }

    /// An update, to record progress or a state change. A change to a terminal state is followed
    /// by [`Updates::end`].
    pub fn get_mut(&mut self, id: &str) -> Option<&mut JobUpdate> {
        self.by_id.get_mut(id)
    }

    /// Every update kept, in no order.
    pub fn values(&self) -> impl Iterator<Item = &JobUpdate> {
        self.by_id.values()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Adds an update (new, or restored); an active one becomes its job's active update.
    pub fn insert(&mut self, u: JobUpdate) {
        self.by_job
            .entry(u.job.clone())
            .or_default()
            .insert((u.created_ms(), u.id.clone()));
        if u.status.is_active() {
            self.active.insert(u.job.clone(), u.id.clone());
        }
        self.by_id.insert(u.id.clone(), u);
    }

    /// Takes an active update out to drive it without a copy; [`Updates::put_back`] returns it.
    /// Its indexes stay as they are meanwhile.
    pub fn take(&mut self, id: &str) -> Option<JobUpdate> {
        self.by_id.remove(id)
    }

    /// Returns an update [`Updates::take`] took out.
    pub fn put_back(&mut self, u: JobUpdate) {
        self.by_id.insert(u.id.clone(), u);
    }

    /// The update ended: it is no longer its job's active update, nor woken.
    pub fn end(&mut self, id: &str) {
        if let Some(u) = self.by_id.get(id)
            && self.active.get(&u.job).is_some_and(|a| a == id)
        {
            self.active.remove(&u.job);
        }
        self.wake.remove(id);
    }

    /// Forgets an update.
    pub fn remove(&mut self, id: &str) -> Option<JobUpdate> {
        self.end(id);
        let u = self.by_id.remove(id)?;
        if let Some(set) = self.by_job.get_mut(&u.job) {
            set.remove(&(u.created_ms(), u.id.clone()));
            if set.is_empty() {
                self.by_job.remove(&u.job);
            }
        }
        Some(u)
    }

    /// A job's updates, newest first.
    pub fn of_job(&self, job: &JobKey) -> Vec<&JobUpdate> {
        self.by_job
            .get(job)
            .into_iter()
            .flatten()
            .rev()
            .filter_map(|(_, id)| self.by_id.get(id))
            .collect()
    }

    /// The id of a job's active update.
    pub fn active_id(&self, job: &JobKey) -> Option<&String> {
        self.active.get(job)
    }

    /// A job's active update.
    pub fn active_of(&self, job: &JobKey) -> Option<&JobUpdate> {
        self.by_id.get(self.active.get(job)?)
    }

    /// Every active update, as (job, id).
    pub fn active(&self) -> impl Iterator<Item = (&JobKey, &String)> {
        self.active.iter()
    }

    /// Whether any update is active.
    pub fn any_active(&self) -> bool {
        !self.active.is_empty()
    }

    /// A job's tasks changed: its active update, if it has one, is looked at again.
    pub fn touch(&mut self, job: &JobKey) {
        if self.active.contains_key(job) {
            self.touched.insert(job.clone());
        }
    }

    /// The jobs touched since the last call.
    pub fn take_touched(&mut self) -> HashSet<JobKey> {
        std::mem::take(&mut self.touched)
    }

    /// Asks for an update to be looked at again at `at_ms`.
    pub fn wake_at(&mut self, id: &str, at_ms: i64) {
        self.wake.insert(id.to_owned(), at_ms);
    }

    /// Forgets when an update wanted to be looked at again (it is being looked at).
    pub fn clear_wake(&mut self, id: &str) {
        self.wake.remove(id);
    }

    /// Whether an update's wake-up time has come.
    pub fn wakes_by(&self, id: &str, now_ms: i64) -> bool {
        self.wake.get(id).is_some_and(|w| *w <= now_ms)
    }

    /// The soonest wake-up asked for.
    pub fn next_wake(&self) -> Option<i64> {
        self.wake.values().copied().min()
    }
}

impl std::ops::Index<&str> for Updates {
    type Output = JobUpdate;
    fn index(&self, id: &str) -> &JobUpdate {
        &self.by_id[id]
    }
}

impl std::ops::Index<&String> for Updates {
    type Output = JobUpdate;
    fn index(&self, id: &String) -> &JobUpdate {
        &self.by_id[id]
    }
}
