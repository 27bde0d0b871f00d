//! A network connection a target thread starts (`connect(2)` on an IPv4 or
//! IPv6 socket), with the Python stack that made it.

use crate::limits::MAX_FRAMES;
use crate::sample::RawFrame;

/// Kind tag of [`ConnectEvent`] in the `EVENTS` ring buffer.
pub const EVENT_KIND_CONNECT: u32 = 8;

/// Bytes of the socket address kept: a `sockaddr_in6`.
pub const SOCKADDR_BYTES: usize = 28;

/// A `connect` call at its entry: the address and the thread's Python stack.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ConnectEvent {
    /// Always [`EVENT_KIND_CONNECT`].
    pub kind: u32,
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Frames filled in `frames`, innermost first.
    pub depth: u32,
    /// `bpf_ktime_get_ns()` at the call.
    pub ktime_ns: u64,
    /// The `struct sockaddr` passed (family first; `AF_INET` or `AF_INET6`).
    pub addr: [u8; SOCKADDR_BYTES],
    /// `SAMPLE_*` flags of the stack walk.
    pub flags: u32,
    /// The stack, innermost frame first.
    pub frames: [RawFrame; MAX_FRAMES],
}

/// `AF_INET`.
pub const AF_INET: u16 = 2;
/// `AF_INET6`.
pub const AF_INET6: u16 = 10;

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn sizes_are_pinned() {
        assert_eq!(offset_of!(ConnectEvent, addr), 24);
        assert_eq!(offset_of!(ConnectEvent, frames), 56);
        assert_eq!(size_of::<ConnectEvent>(), 56 + 24 * MAX_FRAMES);
    }
}
