//! Pipes between coldspy and the processes it starts.

use std::os::fd::{FromRawFd, OwnedFd};

/// A close-on-exec pipe: `[read end, write end]` as raw descriptors the
/// caller owns (for the fork/exec path, which must not allocate).
pub fn cloexec_pipe() -> std::io::Result<[i32; 2]> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fds)
}

/// A pipe (read end, write end) whose read end (`inherit_read`) or write end
/// is inherited by children; the other end is close-on-exec.
pub fn pipe_inheriting(inherit_read: bool) -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let inherited = if inherit_read { fds[0] } else { fds[1] };
    // SAFETY: clearing close-on-exec on a descriptor we just made.
    unsafe { libc::fcntl(inherited, libc::F_SETFD, 0) };
    // SAFETY: fresh descriptors, owned from here on.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
