//! The client side shared by the `aurora` and `aurora_admin` binaries: clusters.json
//! (`clusters`), the verbs that talk to a scheduler (`commands`, `admin`), and how their output is
//! shaped (`format`, `inspect`). The binaries only parse arguments and call these.

pub mod admin;
pub mod clusters;
pub mod commands;
pub mod credentials;
pub mod format;
pub mod inspect;
pub mod updates;

/// An error that ends the command with a particular exit status (Aurora's codes: 4 for a command
/// the scheduler refused or an update rolled back, 6 for a bad parameter such as no active update,
/// 20 for an update that ended otherwise).
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl Exit {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Exit {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// Runs a command on a single-threaded runtime: its error is one line on stderr and exit status 1
/// (or an [`Exit`]'s status).
pub fn run_cli(
    command: impl std::future::Future<Output = anyhow::Result<()>>,
) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<Exit>() {
                if !exit.message.is_empty() {
                    eprintln!("{}", exit.message);
                }
                return std::process::ExitCode::from(exit.code);
            }
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
