//! Writing an output file whole or not at all, without ever replacing what
//! is not ours to replace.
//!
//! - `-` is standard output.
//! - An existing non-regular file (`/dev/null`, `/dev/full`, a FIFO, a
//!   terminal) is written *into*, like a shell redirection; it is never
//!   replaced by a regular file.
//! - Anything else is written to a private temporary file in the destination
//!   directory (mode 0600, owned by the user who ran `sudo`), then renamed
//!   into place. On any failure the temporary file is removed.
//!
//! [`OutputFile::create`] only *checks* the path (it creates and removes a
//! probe file), so that a bad path fails before recording starts and a
//! `kill -9` during the recording leaves no empty file behind.

use crate::error::SetupError;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Destination {
    /// Standard output (`-`).
    Stdout,
    /// An existing device, FIFO or socket: written into, never replaced.
    Special(PathBuf),
    /// A regular file (existing or not): temporary file, then rename.
    Regular(PathBuf),
}

/// An output file, checked and ready to be written once.
#[derive(Debug)]
pub struct OutputFile {
    destination: Destination,
}

/// Errors writing an output file, each naming the path.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Writing (or renaming into place) failed; nothing was left behind.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The destination.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn not_writable(path: &Path, source: std::io::Error) -> SetupError {
    SetupError::OutputNotWritable {
        path: path.to_path_buf(),
        source,
    }
}

/// The temporary file next to `path`, private to this process.
fn tmp_path_for(path: &Path, purpose: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{purpose}-{}", std::process::id()))
}

/// Symbolic links followed through before a path is refused (as the kernel's
/// `ELOOP` limit).
const MAX_LINK_HOPS: u32 = 40;

/// The path a symbolic link names if `path` is one whose target is missing
/// (relative targets resolved against the link's directory).
fn dangling_link_target(path: &Path) -> Option<PathBuf> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_symlink() || std::fs::metadata(path).is_ok() {
        return None;
    }
    let target = std::fs::read_link(path).ok()?;
    Some(match path.parent() {
        Some(dir) if target.is_relative() => dir.join(target),
        _ => target,
    })
}

fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

impl OutputFile {
    /// Checks that `path` can be written, before anything is recorded: `-`
    /// is standard output; a directory (or a path ending in `/`) is refused;
    /// for a regular file the destination directory must accept a new file.
    pub fn create(path: &Path) -> Result<Self, SetupError> {
        Self::create_following(path, 0)
    }

    /// [`OutputFile::create`] after `hops` dangling symbolic links.
    fn create_following(path: &Path, hops: u32) -> Result<Self, SetupError> {
        let stdout_names = ["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"];
        if stdout_names.iter().any(|n| path.as_os_str() == *n) {
            return Ok(Self {
                destination: Destination::Stdout,
            });
        }
        let is_dir_error = || {
            not_writable(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::IsADirectory,
                    "is a directory (give a file name)",
                ),
            )
        };
        if path.as_os_str().is_empty() {
            return Err(not_writable(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty path"),
            ));
        }
        if path.as_os_str().to_string_lossy().ends_with('/') {
            return Err(is_dir_error());
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => return Err(is_dir_error()),
            Ok(meta) if !meta.is_file() => {
                if meta.file_type().is_block_device() {
                    return Err(not_writable(
                        path,
                        std::io::Error::other("refusing to write onto a block device"),
                    ));
                }
                return Ok(Self {
                    destination: Destination::Special(path.to_path_buf()),
                });
            }
            // Whatever /dev and /proc name is written into, never renamed over.
            Ok(_) if path.starts_with("/dev") || path.starts_with("/proc") => {
                return Ok(Self {
                    destination: Destination::Special(path.to_path_buf()),
                });
            }
            // A symlink to a regular file: the file is replaced, the link kept.
            Ok(_) if path.is_symlink() => {
                let real = std::fs::canonicalize(path).map_err(|e| not_writable(path, e))?;
                return Self::create(&real);
            }
            _ => {}
        }
        if let Some(target) = dangling_link_target(path) {
            // Written through, as a shell's `>` does: the file it names is
            // created and the link kept (never replaced by a regular file).
            if hops >= MAX_LINK_HOPS {
                return Err(not_writable(
                    path,
                    std::io::Error::other("too many levels of symbolic links"),
                ));
            }
            return Self::create_following(&target, hops + 1);
        }
        // A probe file proves the directory takes a new file; removed at once.
        let probe = tmp_path_for(path, "probe");
        create_private(&probe).map_err(|source| not_writable(path, source))?;
        let _ = std::fs::remove_file(&probe);
        Ok(Self {
            destination: Destination::Regular(path.to_path_buf()),
        })
    }

    /// Whether this output is standard output (then messages go to stderr).
    pub fn is_stdout(&self) -> bool {
        self.destination == Destination::Stdout
    }

    /// The path as the user gave it (`-` for standard output).
    pub fn path(&self) -> PathBuf {
        match &self.destination {
            Destination::Stdout => PathBuf::from("-"),
            Destination::Special(p) | Destination::Regular(p) => p.clone(),
        }
    }

    /// Writes `bytes` whole: into standard output or a special file, or into
    /// a temporary file renamed into place. Returns the path written.
    pub fn commit(self, bytes: &[u8]) -> Result<PathBuf, OutputError> {
        let path = self.path();
        let fail = |source| OutputError::Write {
            path: path.clone(),
            source,
        };
        match &self.destination {
            Destination::Stdout => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(bytes).map_err(fail)?;
                stdout.flush().map_err(fail)?;
            }
            Destination::Special(p) => {
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(p)
                    .map_err(fail)?;
                file.write_all(bytes).map_err(fail)?;
                file.flush().map_err(fail)?;
            }
            Destination::Regular(p) => replace_whole(p, bytes, true).map_err(fail)?,
        }
        Ok(path)
    }
}

/// Replaces `path` with `bytes` through a temporary file beside it (mode
/// 0600, created new) renamed into place, so a reader sees the old file or
/// the whole new one; the temporary file never stays behind (a full disk
/// stays full otherwise). `durable`: the data reaches the disk before the
/// rename and the file goes to the invoking `sudo` user, as `record -o`
/// wants; the system-wide daemon writes hundreds a minute and skips both.
pub fn replace_whole(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<()> {
    let tmp = tmp_path_for(path, "tmp");
    let result = (|| {
        let mut file = create_private(&tmp)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
        drop(file);
        if durable {
            give_to_invoking_user(&tmp);
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Where a profile goes when its own path fails after recording:
/// `$TMPDIR/coldspy-<pid>-<unix seconds>-<what>.json`.
pub fn fallback_path(what: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("coldspy-{}-{secs}-{what}.json", std::process::id()))
}

/// Writes `bytes` to `output`; if that fails, to [`fallback_path`]. Returns
/// the path written and, when the fallback was used, the first error.
pub fn commit_or_fallback(
    output: OutputFile,
    what: &str,
    bytes: &[u8],
) -> Result<(PathBuf, Option<OutputError>), OutputError> {
    match output.commit(bytes) {
        Ok(path) => Ok((path, None)),
        Err(first) => {
            let fallback = fallback_path(what);
            let written = OutputFile::create(&fallback)
                .map_err(|e| OutputError::Write {
                    path: fallback.clone(),
                    source: std::io::Error::other(e.to_string()),
                })
                .and_then(|out| out.commit(bytes));
            match written {
                Ok(path) => Ok((path, Some(first))),
                Err(second) => Err(OutputError::Write {
                    path: fallback,
                    source: std::io::Error::other(format!(
                        "{first}; fallback failed too: {second}"
                    )),
                }),
            }
        }
    }
}

/// Under `sudo`, hands the file to the user who ran it (still mode 0600).
pub fn give_to_invoking_user(path: &Path) {
    let parse = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    if let (Some(uid), Some(gid)) = (parse("SUDO_UID"), parse("SUDO_GID")) {
        let _ = std::os::unix::fs::chown(path, Some(uid), Some(gid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("coldspy-out-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<std::ffi::OsString> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn commit_renames_a_private_file_and_create_leaves_nothing() {
        let dir = scratch("commit");
        let path = dir.join("p.json");
        let out = OutputFile::create(&path).unwrap();
        assert!(
            names(&dir).is_empty(),
            "checking a path must not leave a file"
        );
        out.commit(b"{}").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        drop(OutputFile::create(&dir.join("q.json")).unwrap());
        assert_eq!(names(&dir), vec![std::ffi::OsString::from("p.json")]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            OutputFile::create(Path::new("/proc/nope/p.json")),
            Err(SetupError::OutputNotWritable { .. })
        ));
    }

    #[test]
    fn device_nodes_are_written_into_never_replaced() {
        let out = OutputFile::create(Path::new("/dev/null")).unwrap();
        out.commit(b"{}").unwrap();
        let meta = std::fs::metadata("/dev/null").unwrap();
        assert!(meta.file_type().is_char_device(), "/dev/null was replaced");
        let err = OutputFile::create(Path::new("/dev/full"))
            .unwrap()
            .commit(b"{}")
            .unwrap_err();
        assert!(err.to_string().contains("/dev/full"), "{err}");
        assert!(std::fs::metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device());
    }

    #[test]
    fn a_symlink_to_a_file_is_kept_and_its_target_written() {
        let dir = scratch("symlink");
        let real = dir.join("real.json");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        OutputFile::create(&link).unwrap().commit(b"new").unwrap();
        assert!(link.is_symlink(), "the link was replaced");
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        assert!(OutputFile::create(Path::new("/dev/stdout"))
            .unwrap()
            .is_stdout());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_dangling_symlink_is_written_through_and_kept() {
        let dir = scratch("dangling");
        let link = dir.join("link.json");
        std::os::unix::fs::symlink("sub/../real.json", &link).unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        let out = OutputFile::create(&link).unwrap();
        out.commit(b"new").unwrap();
        assert!(link.is_symlink(), "the link was replaced");
        assert_eq!(std::fs::read(dir.join("real.json")).unwrap(), b"new");
        // A loop of links is refused, and nothing replaces them.
        let (a, b) = (dir.join("a.json"), dir.join("b.json"));
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        assert!(OutputFile::create(&a).is_err());
        assert!(a.is_symlink() && b.is_symlink());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_fifo_receives_the_bytes() {
        let dir = scratch("fifo");
        let fifo = dir.join("pipe");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a NUL-terminated path we own.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        OutputFile::create(&fifo).unwrap().commit(b"hello").unwrap();
        assert_eq!(reader.join().unwrap(), b"hello");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_or_trailing_slash_is_refused_up_front() {
        let dir = scratch("dir");
        for path in [
            dir.clone(),
            PathBuf::from(format!("{}/", dir.display())),
            dir.join("new/"),
        ] {
            let err = OutputFile::create(&path).unwrap_err();
            assert!(err.to_string().contains("directory"), "{path:?}: {err}");
        }
        assert!(names(&dir).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file_and_the_fallback_gets_the_bytes() {
        let dir = scratch("fail");
        let path = dir.join("p.json");
        let out = OutputFile::create(&path).unwrap();
        // The directory disappears between the check and the write.
        std::fs::remove_dir_all(&dir).unwrap();
        let (written, first) = commit_or_fallback(out, "test", b"{\"x\":1}").unwrap();
        assert!(first.unwrap().to_string().contains("p.json"));
        assert_eq!(std::fs::read(&written).unwrap(), b"{\"x\":1}");
        assert!(written.starts_with(std::env::temp_dir()));
        std::fs::remove_file(written).unwrap();
    }
}
