//! Wire types shared by coldspy's eBPF programs and its userspace.
//!
//! Every type here is `#[repr(C)]` with explicit padding, so the kernel side
//! and the user side agree byte for byte; `tests` in this crate pin the sizes
//! and offsets. With the `user` feature the types also implement `aya::Pod`.
// The crate's public items are its contract with the system crate (and,
// for coldspy-common, with the eBPF programs): every one is documented.
#![warn(missing_docs)]
#![no_std]

pub mod connect_event;
pub mod diag;
pub mod import_event;
pub mod invocation;
pub mod lifecycle;
pub mod limits;
pub mod module_exec;
pub mod offsets;
pub mod open_event;
pub mod sample;
pub mod system_wide;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: every type below is `#[repr(C)]`, `Copy`, made only of integers
    // and arrays of integers, with explicit padding: any bit pattern is valid.
    unsafe impl aya::Pod for crate::offsets::TargetConfig {}
    unsafe impl aya::Pod for crate::offsets::PyLayout {}
    unsafe impl aya::Pod for crate::system_wide::ExeKey {}
    unsafe impl aya::Pod for crate::invocation::HandlerKey {}
}

#[cfg(test)]
extern crate std;
