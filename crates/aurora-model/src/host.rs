//! The words for a machine's condition: [`HostState`] (what `aurora_admin hosts` shows for an
//! agent) and [`MaintenanceMode`] (Aurora's maintenance mode of a host), each serialised as the
//! upper-case name Aurora's tools print (`ACTIVE`, `DRAINED`).
//!
//! Plain names only: which state a host is in is decided by the scheduler (`state::hosts`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// An agent's condition as `aurora_admin hosts` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HostState {
    /// Connected and taking tasks.
    Active,
    /// In maintenance, its tasks still being moved off.
    Draining,
    /// In maintenance, with no task left.
    Drained,
    /// Its command stream is down, and it is not yet declared lost.
    Disconnected,
    /// Silent past the timeout: its tasks went LOST.
    Lost,
}

impl HostState {
    /// Every state, in the order documents list them.
    pub const ALL: [HostState; 5] = [
        HostState::Active,
        HostState::Draining,
        HostState::Drained,
        HostState::Disconnected,
        HostState::Lost,
    ];

    /// The name on the wire and in tables: `ACTIVE`.
    pub fn name(self) -> &'static str {
        match self {
            HostState::Active => "ACTIVE",
            HostState::Draining => "DRAINING",
            HostState::Drained => "DRAINED",
            HostState::Disconnected => "DISCONNECTED",
            HostState::Lost => "LOST",
        }
    }
}

impl fmt::Display for HostState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A host's maintenance mode (Aurora's `MaintenanceMode`, without `SCHEDULED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MaintenanceMode {
    /// Not in maintenance.
    None,
    /// Drained, with tasks still being moved off.
    Draining,
    /// Drained, with no task left.
    Drained,
}

impl MaintenanceMode {
    /// Every mode, in the order documents list them.
    pub const ALL: [MaintenanceMode; 3] = [
        MaintenanceMode::None,
        MaintenanceMode::Draining,
        MaintenanceMode::Drained,
    ];

    /// The name on the wire and in `aurora_admin`'s output: `DRAINED`.
    pub fn name(self) -> &'static str {
        match self {
            MaintenanceMode::None => "NONE",
            MaintenanceMode::Draining => "DRAINING",
            MaintenanceMode::Drained => "DRAINED",
        }
    }
}

impl fmt::Display for MaintenanceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_the_display_names() {
        for s in HostState::ALL {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::String(s.name().into())
            );
            assert_eq!(
                serde_json::from_value::<HostState>(s.name().into()).unwrap(),
                s
            );
        }
        for m in MaintenanceMode::ALL {
            assert_eq!(
                serde_json::to_value(m).unwrap(),
                serde_json::Value::String(m.name().into())
            );
            assert_eq!(
                serde_json::from_value::<MaintenanceMode>(m.name().into()).unwrap(),
                m
            );
        }
    }
}
