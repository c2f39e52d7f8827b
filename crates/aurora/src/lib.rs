//! The client side shared by the `aurora` and `aurora_admin` binaries: clusters.json
//! (`clusters`), the verbs that talk to a scheduler (`commands`, `admin`), and how their output is
//! shaped (`format`, `inspect`). The binaries only parse arguments and call these.

pub mod admin;
pub mod clusters;
pub mod commands;
pub mod credentials;
pub mod format;
pub mod inspect;
