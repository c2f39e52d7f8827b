//! Opening files *beneath* a directory the task controls, for code that runs as root: a task
//! owns its sandbox and can put a symbolic link (or swap a folder for one) anywhere in it at any
//! moment, so nothing inside a sandbox is ever opened by path from `/`. Instead the sandbox is
//! opened once (a directory fd) and every path below it is resolved from that fd by the kernel:
//!
//! - with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` where the kernel has it (5.6+), plus
//!   `RESOLVE_NO_SYMLINKS` for [`Links::Refuse`]: the check and the open are one system call, so
//!   no swap between them is possible;
//! - else component by component with `openat(O_NOFOLLOW)` (directories `O_DIRECTORY` too), each
//!   relative to the fd of the one before, `..` refused up front: no symbolic link is followed at
//!   all, so [`Links::Inside`] degrades to [`Links::Refuse`] there.
//!
//! Also here: creating folders and files that way ([`mkdirs`], [`create`]), and reading back a
//! file the task could have replaced ([`read_bounded`]: regular files only, opened
//! non-blocking, at most a given size), so a FIFO cannot hang the reader and `/dev/zero` cannot
//! exhaust its memory.
//!
//! Not here: which files are opened (logs: `process`; the executor's state: `checkpoint`,
//! `report`; the agent's file server).

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{Mode, SFlag, fstat, mkdirat};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

/// The most the executor and the agent read back from a file a task could have replaced.
pub const MAX_STATE_FILE: u64 = 1 << 20;

/// Whether symbolic links inside the directory may be followed while resolving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// None at all (what root uses to write).
    Refuse,
    /// Those that stay beneath the directory (what the file server uses to read); only where
    /// `openat2` exists, else none.
    Inside,
}

/// Why a file could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is not a regular file")]
    NotRegular { path: PathBuf },
    #[error("{path} is larger than {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
}

impl ReadError {
    /// Whether the file simply is not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// `openat2` support: 0 not probed yet, 1 present, 2 absent.
static OPENAT2: AtomicU8 = AtomicU8::new(0);

fn io_err(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

fn escapes(rel: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("'{}' leaves the directory it is resolved in", rel.display()),
    )
}

/// Opens a directory the caller trusts (its parents are not the task's), refusing a symbolic
/// link as its last component.
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(io_err)
}

/// The normal components of `rel`; `..`, a root or a prefix refuse it (`.` is dropped).
fn components(rel: &Path) -> io::Result<Vec<&std::ffi::OsStr>> {
    rel.components()
        .filter(|c| *c != Component::CurDir)
        .map(|c| match c {
            Component::Normal(n) => Ok(n),
            _ => Err(escapes(rel)),
        })
        .collect()
}

/// Opens `rel` beneath the directory `root` with `flags` (`O_CLOEXEC` added; `mode` for
/// `O_CREAT`). `rel` empty opens `root` itself again.
pub fn open(
    root: impl AsFd,
    rel: &Path,
    flags: OFlag,
    mode: Mode,
    links: Links,
) -> io::Result<OwnedFd> {
    let parts = components(rel)?;
    if OPENAT2.load(Ordering::Relaxed) != 2 {
        match open_openat2(root.as_fd(), &parts, flags, mode, links) {
            Err(Errno::ENOSYS) => OPENAT2.store(2, Ordering::Relaxed),
            // ELOOP: a link where none may be; EXDEV: a path that would leave `root`.
            Err(Errno::EXDEV) => return Err(escapes(rel)),
            r => {
                OPENAT2.store(1, Ordering::Relaxed);
                return r.map_err(io_err);
            }
        }
    }
    open_stepwise(root.as_fd(), &parts, flags, mode).map_err(io_err)
}

fn open_openat2(
    root: std::os::fd::BorrowedFd<'_>,
    parts: &[&std::ffi::OsStr],
    flags: OFlag,
    mode: Mode,
    links: Links,
) -> nix::Result<OwnedFd> {
    let path: PathBuf = if parts.is_empty() {
        ".".into()
    } else {
        parts.iter().collect()
    };
    let mut resolve = ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS;
    if links == Links::Refuse {
        resolve |= ResolveFlag::RESOLVE_NO_SYMLINKS;
    }
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .mode(if flags.contains(OFlag::O_CREAT) {
            mode
        } else {
            Mode::empty()
        })
        .resolve(resolve);
    openat2(root, &path, how)
}

/// The fallback: each folder on the way with `O_DIRECTORY | O_NOFOLLOW`, the last component
/// with `O_NOFOLLOW`; no link is ever followed.
fn open_stepwise(
    root: std::os::fd::BorrowedFd<'_>,
    parts: &[&std::ffi::OsStr],
    flags: OFlag,
    mode: Mode,
) -> nix::Result<OwnedFd> {
    let dir_flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let Some((last, folders)) = parts.split_last() else {
        return openat(root, ".", flags | OFlag::O_CLOEXEC, mode);
    };
    let mut dir: Option<OwnedFd> = None;
    for f in folders {
        let next = match &dir {
            None => openat(root, *f, dir_flags, Mode::empty())?,
            Some(d) => openat(d, *f, dir_flags, Mode::empty())?,
        };
        dir = Some(next);
    }
    let flags = flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match &dir {
        None => openat(root, *last, flags, mode),
        Some(d) => openat(d, *last, flags, mode),
    }
}

/// Who a folder or file made for the task belongs to (uid, gid); `None`: whoever makes it.
pub type Owner = Option<(u32, u32)>;

fn chown(fd: impl AsFd, owner: Owner) -> io::Result<()> {
    if let Some((uid, gid)) = owner {
        nix::unistd::fchown(
            fd,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        )
        .map_err(io_err)?;
    }
    Ok(())
}

/// Creates the folders of `rel` beneath `root` that do not exist yet (mode `mode`, given to
/// `owner`), never following a link; returns the last one, open.
pub fn mkdirs(root: impl AsFd, rel: &Path, mode: Mode, owner: Owner) -> io::Result<OwnedFd> {
    let dir_flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW;
    let mut dir = open(root, Path::new(""), dir_flags, Mode::empty(), Links::Refuse)?;
    for part in components(rel)? {
        let made = match mkdirat(&dir, part, mode) {
            Ok(()) => true,
            Err(Errno::EEXIST) => false,
            Err(e) => return Err(io_err(e)),
        };
        let next = open(
            &dir,
            Path::new(part),
            dir_flags,
            Mode::empty(),
            Links::Refuse,
        )?;
        if made {
            // The umask may have narrowed it; the owner is the task's.
            nix::sys::stat::fchmod(&next, mode).map_err(io_err)?;
            chown(&next, owner)?;
        }
        dir = next;
    }
    Ok(dir)
}

/// Creates the file `name` in the folder `dir` for writing: it must not exist yet (so no link,
/// FIFO or file the task put there is ever opened), with `mode`, given to `owner`.
pub fn create(dir: impl AsFd, name: &str, mode: Mode, owner: Owner) -> io::Result<File> {
    if !plain_name(name) {
        return Err(escapes(Path::new(name)));
    }
    let fd = openat(
        dir,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        mode,
    )
    .map_err(io_err)?;
    nix::sys::stat::fchmod(&fd, mode).map_err(io_err)?;
    chown(&fd, owner)?;
    Ok(File::from(fd))
}

/// Whether `name` is one path component other than `.` and `..`.
pub fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// Whether the open file is a regular file, and its size.
pub fn regular_len(fd: impl AsFd) -> io::Result<Option<u64>> {
    let st = fstat(fd).map_err(io_err)?;
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    Ok((kind == SFlag::S_IFREG).then_some(st.st_size.max(0) as u64))
}

/// Reads the whole of an open file, refusing anything but a regular file of at most `limit`
/// bytes (it is read up to `limit + 1` bytes whatever its size claims).
pub fn read_fd_bounded(fd: OwnedFd, path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let failed = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let too_large = || ReadError::TooLarge {
        path: path.to_owned(),
        limit,
    };
    match regular_len(&fd).map_err(failed)? {
        None => {
            return Err(ReadError::NotRegular {
                path: path.to_owned(),
            });
        }
        Some(len) if len > limit => return Err(too_large()),
        Some(_) => {}
    }
    let mut buf = Vec::new();
    File::from(fd)
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(failed)?;
    if buf.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(buf)
}

/// Reads the file at `path` (its last component not followed if a link; opened non-blocking,
/// so a FIFO does not wait for a writer) with [`read_fd_bounded`].
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let fd = nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ReadError::Io {
        path: path.to_owned(),
        source: io_err(e),
    })?;
    read_fd_bounded(fd, path, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn read_flags() -> OFlag {
        OFlag::O_RDONLY | OFlag::O_NONBLOCK
    }

    fn read_all(fd: OwnedFd) -> String {
        let mut s = String::new();
        File::from(fd).read_to_string(&mut s).expect("readable");
        s
    }

    /// A sandbox with a file, a link inside it, and links out of it to a secret beside it.
    fn attack() -> (tempfile::TempDir, OwnedFd) {
        let d = tempfile::tempdir().expect("tempdir");
        let sb = d.path().join("sandbox");
        std::fs::create_dir_all(sb.join("sub")).expect("mkdir");
        std::fs::write(sb.join("sub/file"), "inside").expect("write");
        std::fs::write(d.path().join("secret"), "SECRET").expect("write");
        symlink("sub/file", sb.join("in")).expect("link");
        symlink(d.path().join("secret"), sb.join("abs")).expect("link");
        symlink("../secret", sb.join("rel")).expect("link");
        symlink(d.path(), sb.join("outdir")).expect("link");
        let root = open_dir(&sb).expect("sandbox opens");
        (d, root)
    }

    fn check_refusals(root: &OwnedFd, links: Links) {
        for bad in ["abs", "rel", "outdir/secret", "../secret", "/etc/passwd"] {
            let r = open(root, Path::new(bad), read_flags(), Mode::empty(), links);
            assert!(r.is_err(), "{bad} was opened");
        }
        let ok = open(
            root,
            Path::new("sub/file"),
            read_flags(),
            Mode::empty(),
            links,
        );
        assert_eq!(read_all(ok.expect("inside")), "inside");
    }

    #[test]
    fn links_out_of_the_directory_are_never_followed() {
        let (_d, root) = attack();
        check_refusals(&root, Links::Refuse);
        check_refusals(&root, Links::Inside);
        let strict = open(
            &root,
            Path::new("in"),
            read_flags(),
            Mode::empty(),
            Links::Refuse,
        );
        assert!(strict.is_err(), "no link at all when refused");
        if OPENAT2.load(Ordering::Relaxed) == 1 {
            let inside = open(
                &root,
                Path::new("in"),
                read_flags(),
                Mode::empty(),
                Links::Inside,
            );
            assert_eq!(read_all(inside.expect("a link inside")), "inside");
        }
    }

    #[test]
    fn the_fallback_follows_no_link_either() {
        let (_d, root) = attack();
        let step = |p: &str| {
            let parts: Vec<_> = Path::new(p).iter().collect();
            open_stepwise(root.as_fd(), &parts, read_flags(), Mode::empty())
        };
        for bad in ["abs", "rel", "outdir/secret", "in"] {
            assert!(step(bad).is_err(), "{bad} was opened");
        }
        assert_eq!(read_all(step("sub/file").expect("inside")), "inside");
    }

    #[test]
    fn folders_and_files_are_made_without_following_links() {
        let d = tempfile::tempdir().expect("tempdir");
        let sb = d.path().join("sandbox");
        std::fs::create_dir_all(sb.join(".logs")).expect("mkdir");
        let target = d.path().join("target");
        std::fs::create_dir(&target).expect("mkdir");
        // The task swapped the process's log folder for a link to a folder of root's.
        symlink(&target, sb.join(".logs/p")).expect("link");
        let root = open_dir(&sb).expect("opens");
        let mode = Mode::from_bits_truncate(0o750);
        assert!(mkdirs(&root, Path::new(".logs/p/0"), mode, None).is_err());
        assert!(std::fs::read_dir(&target).expect("listed").next().is_none());
        // A real folder is made, and a file in it once only.
        let dir = mkdirs(&root, Path::new(".logs/q/0"), mode, None).expect("made");
        let file_mode = Mode::from_bits_truncate(0o640);
        create(&dir, "stdout", file_mode, None).expect("created");
        assert!(create(&dir, "stdout", file_mode, None).is_err(), "exists");
        assert!(create(&dir, "../x", file_mode, None).is_err());
        use std::os::unix::fs::PermissionsExt;
        let md = std::fs::metadata(sb.join(".logs/q/0/stdout")).expect("there");
        assert_eq!(md.permissions().mode() & 0o777, 0o640);
        let md = std::fs::metadata(sb.join(".logs/q/0")).expect("there");
        assert_eq!(md.permissions().mode() & 0o777, 0o750);
        // A link planted where the file goes is not written through.
        symlink(d.path().join("planted"), sb.join(".logs/q/0/stderr")).expect("link");
        assert!(create(&dir, "stderr", file_mode, None).is_err());
        assert!(!d.path().join("planted").exists());
    }

    #[test]
    fn reads_back_are_bounded_and_regular_files_only() {
        let d = tempfile::tempdir().expect("tempdir");
        let f = d.path().join("state.json");
        std::fs::write(&f, "{}").expect("write");
        assert_eq!(read_bounded(&f, 10).expect("small"), b"{}");
        std::fs::write(&f, vec![b'x'; 11]).expect("write");
        assert!(matches!(
            read_bounded(&f, 10),
            Err(ReadError::TooLarge { limit: 10, .. })
        ));
        // A FIFO: refused at once, not waited on.
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).expect("mkfifo");
        assert!(matches!(
            read_bounded(&fifo, 10),
            Err(ReadError::NotRegular { .. })
        ));
        // /dev/zero through a link: the link is not followed; directly: not a regular file.
        let zero = d.path().join("zero");
        symlink("/dev/zero", &zero).expect("link");
        assert!(read_bounded(&zero, 10).is_err());
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), 10),
            Err(ReadError::NotRegular { .. })
        ));
        assert!(
            read_bounded(&d.path().join("missing"), 10)
                .expect_err("missing")
                .is_not_found()
        );
    }
}
