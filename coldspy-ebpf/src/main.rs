//! coldspy's eBPF programs: CPU sampling of Python stacks ([`sampler`]),
//! file opens ([`openat`]), process lifecycle ([`lifecycle`]), import
//! edges ([`imports`]), module bodies ([`module_exec`]) and a runtime's
//! handler calls ([`handler_watch`]). Maps shared between them live in [`maps`].
#![no_std]
#![no_main]
// A binary crate: nothing is reachable from outside, so `pub` inside it
// only says "used by sibling modules"; the lint is for the library crates.
#![allow(unreachable_pub)]

mod connect;
mod globals;
mod handler_watch;
mod imports;
mod lifecycle;
mod maps;
mod module_exec;
mod openat;
mod pystack;
mod sampler;
mod system_wide;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
