//! Paths into a task's sandbox, as they arrive in URLs: checked so that nothing outside the
//! sandbox can ever be named. Used by the agent before it touches the disk and by the scheduler
//! before it forwards a request, so a bad path is refused at the first door.
//!
//! Two checks: [`relative`] refuses what is wrong on its face (`..`, NUL), without the disk;
//! [`resolve`] then follows symbolic links on disk and refuses a path that ends outside the
//! sandbox (a task can make a link to `/etc`; its sandbox browser must not follow it out).

use std::path::{Path, PathBuf};

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path '{0}' leaves the task's sandbox")]
    Escapes(String),
    #[error("path contains a NUL byte")]
    Nul,
    #[error("'{0}' is not a valid task id")]
    BadTaskId(String),
}

/// Is `s` safe as one path component (no separators, no `.`/`..`, no NUL)?
pub fn safe_component(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\', '\0'])
}

/// The sandbox-relative form of a path from a URL: `/`-separated, empty and `.` components
/// dropped (a leading `/` means the sandbox itself), any `..` refused. `""` is the sandbox.
pub fn relative(path: &str) -> Result<String, PathError> {
    if path.contains('\0') {
        return Err(PathError::Nul);
    }
    let mut parts = Vec::new();
    for c in path.split(['/', '\\']) {
        match c {
            "" | "." => {}
            ".." => return Err(PathError::Escapes(path.to_owned())),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// The real location of `path` inside the sandbox of `task_id` under `sandboxes`: the path is
/// checked with [`relative`], then resolved on disk (symbolic links followed) and refused unless
/// it stays inside the sandbox. I/O errors (a missing file) come back as `Ok(Err(..))`.
pub fn resolve(
    sandboxes: &Path,
    task_id: &str,
    path: &str,
) -> Result<std::io::Result<PathBuf>, PathError> {
    if !safe_component(task_id) {
        return Err(PathError::BadTaskId(task_id.to_owned()));
    }
    let rel = relative(path)?;
    let root = match sandboxes.join(task_id).canonicalize() {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let real = match root.join(&rel).canonicalize() {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    if real.starts_with(&root) {
        Ok(Ok(real))
    } else {
        Err(PathError::Escapes(path.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_normalised_and_parents_refused() {
        assert_eq!(relative("").unwrap(), "");
        assert_eq!(relative("/").unwrap(), "");
        assert_eq!(relative("./.logs//hello/0/").unwrap(), ".logs/hello/0");
        assert_eq!(relative("/etc/passwd").unwrap(), "etc/passwd");
        for bad in ["..", "../../etc/passwd", ".logs/../../x", "a\\..\\..\\b"] {
            assert_eq!(relative(bad), Err(PathError::Escapes(bad.into())), "{bad}");
        }
        assert_eq!(relative("a\0b"), Err(PathError::Nul));
    }

    #[test]
    fn components_are_checked() {
        for bad in ["", ".", "..", "../x", "a/b", "a\0"] {
            assert!(!safe_component(bad), "{bad:?}");
        }
        assert!(safe_component("www-data-prod-hello-0-abc"));
    }

    #[test]
    fn symbolic_links_out_of_the_sandbox_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = dir.path().join("t1");
        std::fs::create_dir_all(sandbox.join("sub")).unwrap();
        std::fs::write(sandbox.join("sub/file"), "x").unwrap();
        std::fs::write(dir.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), sandbox.join("out")).unwrap();
        std::os::unix::fs::symlink("sub/file", sandbox.join("in")).unwrap();

        let ok = resolve(dir.path(), "t1", "sub/file").unwrap().unwrap();
        assert!(ok.ends_with("t1/sub/file"));
        assert!(resolve(dir.path(), "t1", "in").unwrap().is_ok());
        assert_eq!(
            resolve(dir.path(), "t1", "out").err(),
            Some(PathError::Escapes("out".into()))
        );
        assert!(resolve(dir.path(), "t1", "missing").unwrap().is_err());
        assert_eq!(
            resolve(dir.path(), "..", "").err(),
            Some(PathError::BadTaskId("..".into()))
        );
        assert!(matches!(
            resolve(dir.path(), "t1", "../secret"),
            Err(PathError::Escapes(_))
        ));
    }
}
