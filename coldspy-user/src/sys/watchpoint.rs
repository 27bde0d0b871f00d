//! Hardware write watchpoints on another thread's memory, as perf events
//! (`PERF_TYPE_BREAKPOINT`), each running a BPF program when it fires.
//! Inherited: threads and processes the watched thread creates later are
//! watched too.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// `PERF_TYPE_BREAKPOINT`.
const PERF_TYPE_BREAKPOINT: u32 = 5;
/// `HW_BREAKPOINT_W`: fire on writes.
const HW_BREAKPOINT_W: u32 = 2;
/// `sizeof(struct perf_event_attr)` of `PERF_ATTR_SIZE_VER7`.
const ATTR_SIZE: usize = 128;
/// `perf_event_attr` flag bits: `disabled`, `inherit`, `exclude_kernel`, `exclude_hv`.
const FLAGS: u64 = 1 | (1 << 1) | (1 << 5) | (1 << 6);
/// `PERF_FLAG_FD_CLOEXEC`.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `PERF_EVENT_IOC_ENABLE`.
const IOC_ENABLE: u64 = 0x2400;
/// `PERF_EVENT_IOC_SET_BPF`.
const IOC_SET_BPF: u64 = 0x4004_2408;

/// Opens a write watchpoint over the 8 bytes at `addr` in thread `tid`,
/// runs BPF program `program` on every write, and enables it.
pub fn watch_writes(tid: u32, addr: u64, program: RawFd) -> io::Result<OwnedFd> {
    let mut attr = [0u8; ATTR_SIZE];
    let mut put = |at: usize, bytes: &[u8]| attr[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &PERF_TYPE_BREAKPOINT.to_ne_bytes());
    put(4, &(ATTR_SIZE as u32).to_ne_bytes());
    put(16, &1u64.to_ne_bytes()); // sample_period: every write
    put(40, &FLAGS.to_ne_bytes());
    put(52, &HW_BREAKPOINT_W.to_ne_bytes());
    put(56, &addr.to_ne_bytes());
    put(64, &8u64.to_ne_bytes()); // bp_len
                                  // SAFETY: a valid perf_event_attr of ATTR_SIZE bytes; the kernel copies it.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            tid as libc::pid_t,
            -1,
            -1,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor the kernel just returned, owned by no one else.
    let event = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    let raw = fd as RawFd;
    // SAFETY: ioctls on the perf event we own, with a program fd argument.
    if unsafe { libc::ioctl(raw, IOC_SET_BPF as _, program) } < 0
        || unsafe { libc::ioctl(raw, IOC_ENABLE as _, 0) } < 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(event)
}
