//! The scheduler's data at rest is its own: the data directory is `0700` (`0711` when the
//! embedded agent runs tasks as other users, who must reach their sandboxes under it but may
//! not list it), and the store (with its `-wal` and `-shm`) and the audit log are `0600`. Files
//! are created so; files and directories found with wider modes (made by an older version, or by
//! hand) are tightened at start, with a log line saying what was changed.
//!
//! Not here: the sandboxes under `agent/`, which the agent owns.

use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The mode of the store's and the audit log's files.
pub const FILE_MODE: u32 = 0o600;

/// The store's file and the files SQLite keeps beside it.
pub fn store_files(db: &Path) -> Vec<std::path::PathBuf> {
    let mut files = vec![db.to_owned()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        files.push(name.into());
    }
    files
}

/// Sets `path` to `mode` if it exists with any other permission bits; says so in the log.
pub fn tighten(path: &Path, mode: u32) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let old = meta.permissions().mode() & 0o7777;
    if old != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        tracing::warn!(
            path = %path.display(),
            "tightened mode {old:04o} to {mode:04o}: the scheduler's data is for the scheduler's user only"
        );
    }
    Ok(())
}

/// Creates the data directory (mode `dir_mode`) if missing, and tightens it and the store's and
/// audit log's files already in it. `db` is created empty with mode `0600` if missing, so that
/// SQLite (which gives `-wal` and `-shm` the database's mode) never makes them readable.
pub fn secure_data_dir(dir: &Path, dir_mode: u32, db: &Path, audit_log: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(dir_mode)
        .create(dir)?;
    tighten(dir, dir_mode)?;
    tighten(audit_log, FILE_MODE)?;
    secure_store(dir, db)
}

/// For a process other than the scheduler writing to its store (`aurora-scheduler token issue`):
/// creates the data directory with mode `0700` if missing (an existing one keeps its mode, which
/// the scheduler chose), and the store's files as [`secure_data_dir`] does.
pub fn secure_store(dir: &Path, db: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    for f in store_files(db) {
        tighten(&f, FILE_MODE)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(db)?;
    Ok(())
}

/// Opens `path` for appending, creating it with mode `0600` (and tightening it if it is wider).
pub fn open_append(path: &Path) -> io::Result<std::fs::File> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)?;
    tighten(path, FILE_MODE)?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("exists").permissions().mode() & 0o7777
    }

    #[test]
    fn new_files_are_private_and_wide_old_ones_are_tightened() {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let dir = tmp.path().join("data");
        let (db, log) = (dir.join("scheduler.db"), dir.join("audit.log"));
        secure_data_dir(&dir, 0o700, &db, &log).expect("created");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&db), 0o600);
        drop(open_append(&log).expect("the log"));
        assert_eq!(mode(&log), 0o600);
        // An older version's modes.
        let wal = dir.join("scheduler.db-wal");
        std::fs::write(&wal, b"").expect("a wal");
        for (p, m) in [(&dir, 0o755), (&db, 0o644), (&wal, 0o644), (&log, 0o644)] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod");
        }
        secure_data_dir(&dir, 0o711, &db, &log).expect("tightened");
        assert_eq!(mode(&dir), 0o711);
        for p in [&db, &wal, &log] {
            assert_eq!(mode(p), 0o600, "{}", p.display());
        }
    }
}
