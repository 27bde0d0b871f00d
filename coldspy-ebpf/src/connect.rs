//! Network connections of target threads: `sys_enter_connect` on an IPv4
//! or IPv6 socket emits the address and the thread's Python stack (the
//! sampler's walk), so userspace can name the program's line that made it.

use crate::{globals, maps, pystack};
use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns, bpf_probe_read_user},
    macros::tracepoint,
    programs::TracePointContext,
};
use coldspy_common::connect_event::{
    ConnectEvent, AF_INET, AF_INET6, EVENT_KIND_CONNECT, SOCKADDR_BYTES,
};

/// A `connect` of a target thread, its frames walked by `bpf_loop` (5.17+;
/// the unrolled walk would add ≈ 0.6 s of verification to every start, so
/// older kernels record no connections).
#[tracepoint]
pub fn coldspy_connect_loop(ctx: TracePointContext) -> u32 {
    let use_bpf_loop = true;
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    let tid = pid_tgid as u32;
    let Some(cfg) = maps::current_target(tgid) else {
        return 0;
    };
    // SAFETY: map value pointer valid for this program run.
    let cfg = unsafe { &*cfg };
    // SAFETY: offset read from the tracepoint format by userspace.
    let Ok(addr_ptr) = (unsafe { ctx.read_at::<u64>(globals::connect_addr_offset()) }) else {
        return 0;
    };
    // SAFETY: bpf_probe_read_user checks the address.
    let Ok(addr) = (unsafe { bpf_probe_read_user(addr_ptr as *const [u8; SOCKADDR_BYTES]) }) else {
        return 0;
    };
    let family = u16::from_ne_bytes([addr[0], addr[1]]);
    if family != AF_INET && family != AF_INET6 {
        return 0;
    }
    let Some(mut entry) = maps::EVENTS.reserve::<ConnectEvent>(0) else {
        maps::count_lost(maps::LOST_EVENTS);
        return 0;
    };
    let event = entry.as_mut_ptr();
    // SAFETY: `event` points at a reserved record of the right size.
    unsafe {
        (*event).kind = EVENT_KIND_CONNECT;
        (*event).pid = tgid;
        (*event).tid = tid;
        (*event).ktime_ns = bpf_ktime_get_ns();
        (*event).addr = addr;
        let frames = core::ptr::addr_of_mut!((*event).frames);
        let walk = pystack::walk_if_ready(cfg, tid, frames, use_bpf_loop);
        (*event).depth = walk.depth;
        (*event).flags = walk.flags;
    }
    entry.submit(maps::DATA_RING_SUBMIT);
    0
}
