//! The guardian: a child process that resumes every process the daemon's
//! hooks hold if the daemon dies, even by `kill -9`.
//!
//! It is forked right after the programs are loaded (the daemon has one
//! thread then) and keeps only three descriptors: the read end of a pipe
//! whose write end only the daemon has, and the `HELD` and `HEARTBEAT`
//! maps. When the pipe reaches end of file (the daemon exited, however),
//! it zeroes the heartbeat — so the hooks hold nothing new — sends SIGCONT
//! to every process left in `HELD`, and exits.

use crate::loader::SystemMaps;
use aya::maps::IterableMap as _;
use std::os::fd::{AsFd as _, AsRawFd as _, RawFd};

/// The daemon's end of the guardian: dropping it (or dying) releases the
/// held processes.
pub(super) struct Guardian {
    /// The write end of the pipe; closing it tells the guardian.
    write: Option<std::os::fd::OwnedFd>,
    /// The guardian's pid.
    pid: libc::pid_t,
}

impl Guardian {
    /// Forks the guardian. Call while the process has a single thread.
    pub(super) fn spawn(maps: &mut SystemMaps) -> std::io::Result<Self> {
        let [read, write] = crate::sys::pipe::cloexec_pipe()?;
        // SAFETY: two fresh descriptors we own.
        let (read, write) = unsafe {
            use std::os::fd::FromRawFd as _;
            (
                std::os::fd::OwnedFd::from_raw_fd(read),
                std::os::fd::OwnedFd::from_raw_fd(write),
            )
        };
        let keep = [
            read.as_raw_fd(),
            maps.held.map().fd().as_fd().as_raw_fd(),
            maps.heartbeat.map().fd().as_fd().as_raw_fd(),
            libc::STDERR_FILENO,
        ];
        // SAFETY: fork in a single-threaded process; the child only makes
        // system calls and map operations, then `_exit`s.
        match unsafe { libc::fork() } {
            -1 => Err(std::io::Error::last_os_error()),
            0 => {
                drop(write);
                guard(&keep, read.as_raw_fd(), maps)
            }
            pid => {
                drop(read);
                Ok(Self {
                    write: Some(write),
                    pid,
                })
            }
        }
    }

    /// Tells the guardian the daemon is done and waits for it to exit.
    pub(super) fn finish(mut self) {
        self.write = None;
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(self.pid, &mut status, 0) };
    }
}

/// The guardian's life: wait for end of file, then release everything.
fn guard(keep: &[RawFd], pipe: RawFd, maps: &mut SystemMaps) -> ! {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1] {
        // SAFETY: ignoring a signal in our own process.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    // SAFETY: PR_SET_NAME with a NUL-terminated name.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"coldspy-guard".as_ptr()) };
    close_all_but(keep);
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reading into our buffer from our pipe.
        let n = unsafe { libc::read(pipe, buf.as_mut_ptr().cast(), buf.len()) };
        if n == 0
            || (n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted)
        {
            break;
        }
    }
    let _ = maps.heartbeat.set(0, 0, 0);
    // Twice: a hook that read a fresh heartbeat just before may still add one.
    for _ in 0..2 {
        maps.resume_held();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SAFETY: leave without running the daemon's destructors or atexit handlers.
    unsafe { libc::_exit(0) }
}

/// Closes every descriptor except `keep` (the daemon's programs, links and
/// rings must not live on in the guardian).
fn close_all_but(keep: &[RawFd]) {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        if !keep.contains(&fd) {
            // SAFETY: closing a descriptor of our own (the read_dir one is gone).
            unsafe { libc::close(fd) };
        }
    }
}
