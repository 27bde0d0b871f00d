//! Starts the command to record, held before `exec` until the probes are
//! attached. `std::process::Command` cannot do this (its `spawn` waits for
//! the exec), so this is a small fork/exec with two pipes: one that releases
//! the child, one that reports a failed exec.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The byte that lets the held child `exec`.
const RELEASE_BYTE: u8 = 1;
/// Exit status of a held child whose release pipe closed without the byte.
pub(super) const RELEASED_NEVER: i32 = 125;

/// A child process waiting before its `exec`.
#[derive(Debug)]
pub(super) struct HeldChild {
    /// Its pid.
    pub pid: u32,
    release_fd: i32,
    error_fd: i32,
}

impl HeldChild {
    /// Forks a child that will `exec` `program` with `args` once released.
    pub(super) fn spawn(program: &Path, args: &[String]) -> std::io::Result<Self> {
        let to_c = |s: &[u8]| {
            CString::new(s).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
        };
        let program_c = to_c(program.as_os_str().as_bytes())?;
        let argv_c: Vec<CString> = args
            .iter()
            .map(|a| to_c(a.as_bytes()))
            .collect::<Result<_, _>>()?;
        let mut argv: Vec<*const libc::c_char> = argv_c.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let release = crate::sys::pipe::cloexec_pipe()?;
        let error = crate::sys::pipe::cloexec_pipe()?;
        // SAFETY: after fork the child only calls async-signal-safe functions
        // (read, close, execv, write, _exit) on memory prepared before fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if pid == 0 {
            unsafe {
                libc::close(release[1]);
                libc::close(error[0]);
                let mut byte = 0u8;
                let mut n;
                loop {
                    n = libc::read(release[0], (&mut byte as *mut u8).cast(), 1);
                    if n >= 0 || *libc::__errno_location() != libc::EINTR {
                        break;
                    }
                }
                // EOF without the release byte: coldspy died (kill -9) or gave
                // up before the probes were attached. Never run unprofiled.
                if n != 1 || byte != RELEASE_BYTE {
                    libc::_exit(RELEASED_NEVER);
                }
                libc::close(release[0]);
                libc::execv(program_c.as_ptr(), argv.as_ptr());
                let errno = *libc::__errno_location();
                libc::write(error[1], (&errno as *const i32).cast(), 4);
                libc::_exit(127);
            }
        }
        // SAFETY: closing our copies of the child's ends.
        unsafe {
            libc::close(release[0]);
            libc::close(error[1]);
        }
        Ok(Self {
            pid: pid as u32,
            release_fd: release[1],
            error_fd: error[0],
        })
    }

    /// Closes the release pipe without the byte, as a dying coldspy would.
    #[cfg(test)]
    fn close_release_for_test(&mut self) {
        // SAFETY: closing our own descriptor; Drop skips it after this.
        unsafe { libc::close(self.release_fd) };
        self.release_fd = -1;
    }

    /// Lets the child `exec`; returns the exec error if it failed.
    pub(super) fn release(&mut self) -> std::io::Result<()> {
        let byte = RELEASE_BYTE;
        // SAFETY: writing one byte to our pipe end, then closing it.
        unsafe {
            libc::write(self.release_fd, (&byte as *const u8).cast(), 1);
            libc::close(self.release_fd);
        }
        self.release_fd = -1;
        let mut errno = 0i32;
        // SAFETY: reading at most 4 bytes into `errno`; EOF means exec succeeded.
        let n = unsafe { libc::read(self.error_fd, (&mut errno as *mut i32).cast(), 4) };
        unsafe { libc::close(self.error_fd) };
        self.error_fd = -1;
        if n == 4 {
            return Err(std::io::Error::from_raw_os_error(errno));
        }
        Ok(())
    }

    /// The exit status if the child has exited (`None` while it runs).
    pub(super) fn try_wait(&self) -> Option<i32> {
        let mut status = 0;
        // SAFETY: non-blocking wait on our own child.
        let r = unsafe { libc::waitpid(self.pid as i32, &mut status, libc::WNOHANG) };
        (r == self.pid as i32).then(|| exit_code(status))
    }

    /// Waits for the child to exit.
    pub(super) fn wait(&self) -> i32 {
        let mut status = 0;
        loop {
            // SAFETY: blocking wait on our own child.
            let r = unsafe { libc::waitpid(self.pid as i32, &mut status, 0) };
            if r == self.pid as i32 {
                return exit_code(status);
            }
            if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return 1;
            }
        }
    }
}

impl Drop for HeldChild {
    fn drop(&mut self) {
        for fd in [self.release_fd, self.error_fd] {
            if fd >= 0 {
                // SAFETY: closing a descriptor we own.
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// A shell-style exit code from a wait status: the code, or 128 + signal.
fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_child_runs_only_when_released_and_reports_its_status() {
        let mut child = HeldChild::spawn(
            Path::new("/bin/sh"),
            &["sh".into(), "-c".into(), "exit 7".into()],
        )
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(child.try_wait(), None, "child must wait for release");
        child.release().unwrap();
        assert_eq!(child.wait(), 7);
    }

    #[test]
    fn a_held_child_exits_without_running_when_the_release_pipe_closes() {
        let dir = std::env::temp_dir().join(format!("coldspy-held-{}", std::process::id()));
        let witness = dir.join("ran");
        std::fs::create_dir_all(&dir).unwrap();
        let script = format!("touch {}", witness.display());
        let mut child =
            HeldChild::spawn(Path::new("/bin/sh"), &["sh".into(), "-c".into(), script]).unwrap();
        // What a `kill -9` of coldspy does: its end of the pipe closes.
        child.close_release_for_test();
        assert_eq!(child.wait(), RELEASED_NEVER);
        assert!(!witness.exists(), "the command ran unprofiled");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
