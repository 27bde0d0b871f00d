//! The CPU sampler: a perf_event program on every CPU that records the
//! Python stack of the interrupted thread when it belongs to a target.

use crate::{globals, maps, pystack};
use aya_ebpf::{
    bindings::BPF_F_USER_STACK,
    helpers::{bpf_get_current_pid_tgid, bpf_get_smp_processor_id, bpf_ktime_get_ns, generated},
    macros::perf_event,
    programs::PerfEventContext,
    EbpfContext,
};
use coldspy_common::sample::SampleEvent;

/// Samples the current thread if its process is a target (the frame walk
/// unrolled: for kernels before 5.17).
#[perf_event]
pub fn coldspy_sample(ctx: PerfEventContext) -> u32 {
    sample(ctx, false)
}

/// The same, walking frames with `bpf_loop` (kernel 5.17+): verified in a
/// fraction of the time, so a recording starts sooner.
#[perf_event]
pub fn coldspy_sample_loop(ctx: PerfEventContext) -> u32 {
    sample(ctx, true)
}

#[inline(always)]
fn sample(ctx: PerfEventContext, use_bpf_loop: bool) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    let tid = pid_tgid as u32;
    if tgid == 0 || tgid == globals::self_tgid() {
        return 0;
    }
    let Some(cfg) = maps::current_target(tgid) else {
        return 0;
    };
    // SAFETY: map value pointer valid for this program run.
    let cfg = unsafe { &*cfg };
    let Some(mut entry) = maps::SAMPLES.reserve::<SampleEvent>(0) else {
        maps::count_lost(maps::LOST_SAMPLES);
        return 0;
    };
    let event = entry.as_mut_ptr();
    // SAFETY: `event` points at a reserved record of the right size.
    let causes = unsafe {
        (*event).ktime_ns = bpf_ktime_get_ns();
        (*event).pid = tgid;
        (*event).tid = tid;
        (*event).cpu = bpf_get_smp_processor_id();
        (*event)._pad = 0;
        (*event).user_ip = 0;
        // One entry of the user stack: the user registers' instruction
        // pointer (no frame-pointer walk), so native work in an extension
        // module is attributed to it.
        let _ = generated::bpf_get_stack(
            ctx.as_ptr(),
            core::ptr::addr_of_mut!((*event).user_ip).cast(),
            8,
            u64::from(BPF_F_USER_STACK),
        );
        let frames = core::ptr::addr_of_mut!((*event).frames);
        let walk = pystack::walk_if_ready(cfg, tid, frames, use_bpf_loop);
        (*event).depth = walk.depth;
        (*event).flags = walk.flags;
        walk.causes
    };
    entry.submit(maps::DATA_RING_SUBMIT);
    maps::count_read_failures(&ctx, tgid, causes);
    0
}
