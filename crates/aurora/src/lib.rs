//! The client side shared by the `aurora` and `aurora_admin` binaries: clusters.json
//! (`clusters`), the verbs that talk to a scheduler (`commands`, `admin`), and how their output is
//! shaped (`format`, `inspect`). The binaries only parse arguments and call these.

pub mod admin;
pub mod clusters;
pub mod commands;
pub mod credentials;
pub mod format;
pub mod inspect;

/// Runs a command on a single-threaded runtime: its error is one line on stderr and exit status 1.
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
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
