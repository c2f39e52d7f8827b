//! A settings file read as flags: `--config FILE` names a TOML file whose keys are the binary's
//! long flags without their dashes (`data-dir = "/var/lib/aurora"`, or `data_dir`), and whose
//! values are what the flag takes: a string or number, `true` for a switch, an array for a flag
//! that may be repeated. The settings go before the command line's own arguments, so a flag given
//! on the command line wins (and adds to a repeatable one).
//!
//! Every value still goes through the flag's own parser, so a bad one is refused as on the
//! command line, with the file, line and key added. A key that is no flag, a table, or an array
//! for a flag that takes one value is refused before anything runs. Only top-level flags can be
//! set (not a subcommand's, nor positional arguments).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Why the settings file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("--config needs a file")]
    NoFile,
    #[error("cannot read the settings file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("{path}, line {line}: {message}")]
    Setting {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// The command line (with the settings in it) was refused by clap; clap prints it.
    #[error("{0}")]
    Clap(#[from] clap::Error),
}

/// One setting, as the flags it becomes.
#[derive(Debug, PartialEq)]
struct Setting {
    key: String,
    line: usize,
    flags: Vec<OsString>,
}

/// Parses `args` (with the program's name first) into `P`, reading `--config FILE` first when
/// it is there.
pub fn parse_with_settings<P: clap::Parser>(args: Vec<OsString>) -> Result<P, Error> {
    let Some(path) = config_path(&args)? else {
        return Ok(P::try_parse_from(args)?);
    };
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })?;
    let command = P::command();
    let settings = read_settings(&command, &path, &text)?;
    let mut merged = Vec::with_capacity(args.len() + settings.len());
    merged.extend(args.first().cloned());
    for s in &settings {
        merged.extend(s.flags.iter().cloned());
    }
    merged.extend(args.into_iter().skip(1));
    let matches = command
        .args_override_self(true)
        .try_get_matches_from(merged)
        .map_err(|e| with_origin(e, &path, &settings))?;
    Ok(P::from_arg_matches(&matches)?)
}

/// The value of `--config FILE` or `--config=FILE`, before any `--`.
fn config_path(args: &[OsString]) -> Result<Option<PathBuf>, Error> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--config" {
            return it
                .next()
                .map(|p| Some(PathBuf::from(p)))
                .ok_or(Error::NoFile);
        }
        if let Some(p) = a.to_str().and_then(|a| a.strip_prefix("--config=")) {
            return Ok(Some(PathBuf::from(p)));
        }
    }
    Ok(None)
}

/// Reads `text` (the file at `path`) as settings of `command`'s top-level flags, in the file's
/// order.
fn read_settings(command: &clap::Command, path: &Path, text: &str) -> Result<Vec<Setting>, Error> {
    let table: BTreeMap<String, toml::Spanned<toml::Value>> =
        toml::from_str(text).map_err(|e| Error::Toml {
            path: path.to_owned(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
    let mut settings = Vec::with_capacity(table.len());
    for (key, value) in table {
        let line = text[..value.span().start].matches('\n').count() + 1;
        let fail = |message: String| Error::Setting {
            path: path.to_owned(),
            line,
            message,
        };
        let flag = key.replace('_', "-");
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(flag.as_str()))
            .filter(|_| !matches!(flag.as_str(), "config" | "help" | "version"))
            .ok_or_else(|| {
                fail(format!(
                    "unknown setting '{key}': settings are the long flags of `{} --help`, without their dashes",
                    command.get_name()
                ))
            })?;
        let flags =
            flags_of(arg, &flag, value.get_ref()).map_err(|m| fail(format!("{key}: {m}")))?;
        settings.push(Setting { key, line, flags });
    }
    settings.sort_by_key(|s| s.line);
    Ok(settings)
}

/// The command-line flags one setting stands for.
fn flags_of(arg: &clap::Arg, flag: &str, value: &toml::Value) -> Result<Vec<OsString>, String> {
    use clap::ArgAction;
    let switch = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
    let repeatable = matches!(arg.get_action(), ArgAction::Append | ArgAction::Count);
    let one = |v: &toml::Value| -> Result<OsString, String> {
        let text = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(format!(
                    "expected a string or a number, got {}",
                    kind(other)
                ));
            }
        };
        Ok(format!("--{flag}={text}").into())
    };
    match value {
        toml::Value::Boolean(on) if switch => Ok(if *on {
            vec![format!("--{flag}").into()]
        } else {
            Vec::new()
        }),
        _ if switch => Err(format!("a switch: true or false, not {}", kind(value))),
        toml::Value::Array(items) if repeatable => items.iter().map(one).collect(),
        toml::Value::Array(_) => Err("takes one value, not an array".into()),
        toml::Value::Table(_) => Err("expected a value, not a table".into()),
        v => Ok(vec![one(v)?]),
    }
}

fn kind(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// Names the setting a refused value came from, when it came from the file.
fn with_origin(e: clap::Error, path: &Path, settings: &[Setting]) -> Error {
    use clap::error::{ContextKind, ContextValue};
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return e.into();
    };
    // "--listen <LISTEN>" names the flag "listen".
    let flag = arg
        .trim_start_matches('-')
        .split([' ', '='])
        .next()
        .unwrap_or_default();
    match settings.iter().find(|s| s.key.replace('_', "-") == flag) {
        Some(s) => Error::Setting {
            path: path.to_owned(),
            line: s.line,
            message: format!("{}: {}", s.key, clap_message(&e)),
        },
        None => e.into(),
    }
}

/// clap's message without its "error: " prefix and usage lines.
fn clap_message(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug, PartialEq)]
    #[command(name = "demo")]
    struct Demo {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
        #[arg(long)]
        local_agent: bool,
        #[arg(long = "allow-task-user")]
        allow_task_users: Vec<String>,
        #[arg(long, value_delimiter = ',', default_value = "none")]
        auth: Vec<String>,
        #[arg(long, default_value_t = 60_000)]
        timeout_ms: u64,
        #[command(subcommand)]
        command: Option<Sub>,
    }

    #[derive(clap::Subcommand, Debug, PartialEq)]
    enum Sub {
        Issue { user: String },
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    fn parse(f: &tempfile::NamedTempFile, rest: &[&str]) -> Result<Demo, Error> {
        let mut args: Vec<OsString> = vec!["demo".into(), "--config".into(), f.path().into()];
        args.extend(rest.iter().map(OsString::from));
        parse_with_settings::<Demo>(args)
    }

    #[test]
    fn every_kind_of_flag_is_set_from_the_file() {
        let f = file(
            "listen = \"0.0.0.0:9000\"\ndata-dir = \"/var/lib/aurora\"\nlocal_agent = true\n\
             allow-task-user = [\"www-data\", \"nobody\"]\nauth = \"token,kerberos\"\ntimeout-ms = 5000\n",
        );
        let d = parse(&f, &[]).unwrap();
        assert_eq!(d.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(d.data_dir, PathBuf::from("/var/lib/aurora"));
        assert!(d.local_agent);
        assert_eq!(d.allow_task_users, ["www-data", "nobody"]);
        assert_eq!(d.auth, ["token", "kerberos"]);
        assert_eq!(d.timeout_ms, 5000);
        assert_eq!(d.config.as_deref(), Some(f.path()));
    }

    #[test]
    fn the_command_line_wins_and_adds() {
        let f = file(
            "listen = \"0.0.0.0:9000\"\nallow-task-user = [\"www-data\"]\nlocal-agent = false\n",
        );
        let d = parse(
            &f,
            &[
                "--listen",
                "127.0.0.1:1",
                "--allow-task-user",
                "alice",
                "--local-agent",
                "issue",
                "bob",
            ],
        )
        .unwrap();
        assert_eq!(d.listen, "127.0.0.1:1".parse().unwrap());
        assert_eq!(d.allow_task_users, ["www-data", "alice"]);
        assert!(d.local_agent);
        assert_eq!(d.command, Some(Sub::Issue { user: "bob".into() }));
        // Without --config nothing is read.
        let plain = parse_with_settings::<Demo>(vec!["demo".into()]).unwrap();
        assert_eq!(plain.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn bad_settings_name_the_file_the_line_and_the_key() {
        let message = |text: &str| match parse(&file(text), &[]) {
            Err(Error::Setting { line, message, .. }) => format!("{line}: {message}"),
            other => panic!("expected a setting error, got {other:?}"),
        };
        assert!(
            message("listen = \"127.0.0.1:1\"\n\nlisten-port = 1\n")
                .starts_with("3: unknown setting 'listen-port'")
        );
        assert!(message("config = \"/etc/x\"\n").contains("unknown setting 'config'"));
        assert!(message("local-agent = \"yes\"\n").contains("a switch: true or false"));
        assert!(message("listen = [\"a\", \"b\"]\n").contains("takes one value"));
        assert!(message("[listen]\nx = 1\n").contains("not a table"));
        assert!(message("auth = [{ a = 1 }]\n").contains("expected a string or a number"));
        // A value the flag's own parser refuses.
        let m = message("# the address\n\nlisten = \"not an address\"\n");
        assert!(
            m.starts_with("3: listen: invalid value 'not an address'"),
            "{m}"
        );
        let m = message("timeout_ms = -5\n");
        assert!(m.starts_with("1: timeout_ms: invalid value '-5'"), "{m}");
    }

    #[test]
    fn unreadable_or_broken_files_are_refused() {
        let missing = parse_with_settings::<Demo>(vec![
            "demo".into(),
            "--config=/nonexistent/aurora.toml".into(),
        ]);
        assert!(matches!(missing, Err(Error::Read { .. })));
        let broken = parse(&file("listen = \n"), &[]);
        let Err(Error::Toml { message, .. }) = broken else {
            panic!("expected a TOML error, got {broken:?}")
        };
        assert!(message.contains("line 1"), "{message}");
        assert!(matches!(
            parse_with_settings::<Demo>(vec!["demo".into(), "--config".into()]),
            Err(Error::NoFile)
        ));
    }
}
