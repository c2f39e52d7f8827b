//! What the binaries (`aurora`, `aurora_admin`, `aurora-scheduler`, `aurora-agent`) share on
//! their command lines, beside their own clap definitions:
//!
//! - [`settings`]: a TOML settings file read as flags (`aurora-scheduler --config
//!   /etc/aurora/scheduler.toml`): every long flag can be set there, under its own name;
//! - [`docs`]: their man pages (`clap_mangen`) and bash, zsh and fish completions
//!   (`clap_complete`), written by `BINARY --generate-docs DIR` (what `scripts/package.sh` ships).
//!
//! [`parse`] is what a binary's `main` calls instead of `clap::Parser::parse`. Not here: any
//! binary's own flags or what they mean (each binary's `main.rs`).

pub mod docs;
pub mod settings;

use std::ffi::OsString;

/// The flag a binary accepts as its first argument to write its documentation and exit.
pub const GENERATE_DOCS: &str = "--generate-docs";

/// Parses this process's command line into `P`, as `clap::Parser::parse` does, and besides:
/// `BINARY --generate-docs DIR` writes the man pages and completions to DIR and exits, and
/// `--config FILE` reads FILE's settings as flags given before the command line's own (so the
/// command line wins). Errors exit the process: 2 for bad arguments or settings, 1 for a
/// documentation directory that cannot be written.
pub fn parse<P: clap::Parser>() -> P {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == GENERATE_DOCS) {
        std::process::exit(match generate_docs::<P>(&args) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        });
    }
    match settings::parse_with_settings::<P>(args) {
        Ok(p) => p,
        Err(settings::Error::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2)
        }
    }
}

fn generate_docs<P: clap::CommandFactory>(args: &[OsString]) -> Result<(), docs::DocsError> {
    let Some(dir) = args.get(2).filter(|_| args.len() == 3) else {
        return Err(docs::DocsError::Usage);
    };
    docs::write_all(P::command(), std::path::Path::new(dir))
}
