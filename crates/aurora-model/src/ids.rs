//! Opaque string identifiers that are not task ids: an agent's id and a configuration's digest.
//! Each is its own type so that a map keyed by one cannot be indexed by the other. [`crate::task::TaskId`]
//! lives with the task, since it has a constructor of its own. Nothing here parses or validates:
//! ids are made elsewhere (an agent names itself; `Job::instance_digest` hashes a config).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Declares a string newtype with the conversions every id needs: from/into `String`, `&str`
/// views, `Borrow<str>` (so a `HashMap<Id, _>` is looked up with a `&str`) and `Display`.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The id as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    };
}

string_id!(
    /// An agent's id: the name it registers under (by default its hostname).
    AgentId
);
string_id!(
    /// The digest of one instance's configuration (`Job::instance_digest`): tasks name the
    /// configuration they run by it.
    ConfigDigest
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn ids_serialise_as_plain_strings_and_look_up_by_str() {
        let a = AgentId::from("host-1");
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"host-1\"");
        let back: AgentId = serde_json::from_str("\"host-1\"").unwrap();
        assert_eq!(back, a);
        let mut m = HashMap::new();
        m.insert(a.clone(), 1);
        assert_eq!(m.get("host-1"), Some(&1));
        assert_eq!(a.to_string(), "host-1");
        assert_ne!(ConfigDigest::from("x").as_str(), "y");
    }
}
