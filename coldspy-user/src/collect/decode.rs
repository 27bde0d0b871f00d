//! Decoding raw ring-buffer records into typed events.

use coldspy_common::{
    connect_event::{ConnectEvent, EVENT_KIND_CONNECT},
    import_event::{ImportEvent, EVENT_KIND_IMPORT_END, EVENT_KIND_IMPORT_START},
    invocation::{InvocationEvent, EVENT_KIND_INVOCATION_END, EVENT_KIND_INVOCATION_START},
    lifecycle::{
        LifecycleEvent, EVENT_KIND_ENTRY, EVENT_KIND_EXEC, EVENT_KIND_EXIT, EVENT_KIND_FORK,
    },
    module_exec::{
        ModuleConstsEvent, ModuleExecEvent, EVENT_KIND_MODULE_CONSTS, EVENT_KIND_MODULE_EXEC_END,
        EVENT_KIND_MODULE_EXEC_START,
    },
    open_event::{OpenEvent, EVENT_KIND_OPEN},
    sample::SampleEvent,
};

/// An event from the `EVENTS` ring buffer.
#[derive(Debug, Clone)]
pub enum Event {
    /// A finished `openat`.
    Open(OpenEvent),
    /// An import edge.
    Import(ImportEvent),
    /// A handler call's start or end (the runtime watch).
    Invocation(InvocationEvent),
    /// A module body's start or end.
    ModuleBody(Box<ModuleExecEvent>),
    /// The first constants of a module body (a FaaS runtime's process).
    ModuleConsts(Box<ModuleConstsEvent>),
    /// Exec, fork, exit or entry stop.
    Lifecycle(LifecycleEvent),
    /// A network connection started.
    Connect(Box<ConnectEvent>),
}

/// Reads a `T` from the start of `bytes`, if it is long enough.
fn read<T: Copy>(bytes: &[u8]) -> Option<T> {
    (bytes.len() >= size_of::<T>())
        // SAFETY: length checked; `T` is a plain `#[repr(C)]` wire type valid
        // for any bit pattern; read_unaligned has no alignment requirement.
        .then(|| unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

/// Decodes a record of the `SAMPLES` ring buffer.
pub fn sample(bytes: &[u8]) -> Option<SampleEvent> {
    read(bytes)
}

/// Decodes a record of the `EVENTS` ring buffer by its kind tag.
pub fn event(bytes: &[u8]) -> Option<Event> {
    let kind: u32 = read(bytes)?;
    match kind {
        EVENT_KIND_OPEN => read(bytes).map(Event::Open),
        EVENT_KIND_IMPORT_START | EVENT_KIND_IMPORT_END => read(bytes).map(Event::Import),
        EVENT_KIND_INVOCATION_START | EVENT_KIND_INVOCATION_END => {
            read(bytes).map(Event::Invocation)
        }
        EVENT_KIND_MODULE_EXEC_START | EVENT_KIND_MODULE_EXEC_END => {
            read(bytes).map(|e| Event::ModuleBody(Box::new(e)))
        }
        EVENT_KIND_MODULE_CONSTS => read(bytes).map(|e| Event::ModuleConsts(Box::new(e))),
        EVENT_KIND_CONNECT => read(bytes).map(|e| Event::Connect(Box::new(e))),
        EVENT_KIND_EXEC | EVENT_KIND_FORK | EVENT_KIND_EXIT | EVENT_KIND_ENTRY => {
            read(bytes).map(Event::Lifecycle)
        }
        _ => None,
    }
}

/// `127.0.0.1:8080` or `[::1]:443` from a `struct sockaddr_in`/`sockaddr_in6`.
pub fn socket_address(addr: &[u8; coldspy_common::connect_event::SOCKADDR_BYTES]) -> String {
    use coldspy_common::connect_event::AF_INET6;
    let family = u16::from_ne_bytes([addr[0], addr[1]]);
    let port = u16::from_be_bytes([addr[2], addr[3]]);
    if family == AF_INET6 {
        let mut ip = [0u8; 16];
        ip.copy_from_slice(&addr[8..24]);
        format!("[{}]:{port}", std::net::Ipv6Addr::from(ip))
    } else {
        let ip = std::net::Ipv4Addr::new(addr[4], addr[5], addr[6], addr[7]);
        format!("{ip}:{port}")
    }
}

/// A NUL-terminated byte string from a fixed buffer.
pub fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_records_are_rejected_and_tags_dispatch() {
        assert!(sample(&[0u8; 8]).is_none());
        let mut open = vec![0u8; size_of::<OpenEvent>()];
        open[..4].copy_from_slice(&EVENT_KIND_OPEN.to_le_bytes());
        open[40..43].copy_from_slice(b"/a\0");
        match event(&open) {
            Some(Event::Open(e)) => assert_eq!(c_string(&e.path), "/a"),
            other => panic!("{other:?}"),
        }
        assert!(event(&99u32.to_le_bytes()).is_none());
    }

    #[test]
    fn socket_addresses_read_as_written() {
        let mut v4 = [0u8; 28];
        v4[..2].copy_from_slice(&2u16.to_ne_bytes());
        v4[2..4].copy_from_slice(&8080u16.to_be_bytes());
        v4[4..8].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(socket_address(&v4), "127.0.0.1:8080");
        let mut v6 = [0u8; 28];
        v6[..2].copy_from_slice(&10u16.to_ne_bytes());
        v6[2..4].copy_from_slice(&443u16.to_be_bytes());
        v6[23] = 1;
        assert_eq!(socket_address(&v6), "[::1]:443");
    }
}
