//! Values userspace sets at load time (`EbpfLoader::set_global`): tracepoint
//! field offsets read from tracefs and struct offsets from the kernel's BTF,
//! so no kernel layout is hard-coded.

/// Offset of `child_pid` in the `sched_process_fork` tracepoint record.
#[unsafe(no_mangle)]
static FORK_CHILD_PID_OFFSET: u32 = 20;

/// Offset of `group_dead` in `sched_process_exit`, or `u32::MAX` if absent.
#[unsafe(no_mangle)]
static EXIT_GROUP_DEAD_OFFSET: u32 = u32::MAX;

/// Offset of `thread.fsbase` in `task_struct` (from the kernel's BTF), or
/// `u32::MAX` if unknown: identifies a thread by its `pthread_self()` on
/// CPython 3.9/3.10, which have no `native_thread_id`.
#[unsafe(no_mangle)]
static TASK_FSBASE_OFFSET: u32 = u32::MAX;

/// The tgid of coldspy itself: never profiled.
#[unsafe(no_mangle)]
static SELF_TGID: u32 = 0;

#[inline(always)]
fn read(value: &u32) -> u32 {
    // SAFETY: a plain read of a static; volatile so the loader's value is used.
    unsafe { core::ptr::read_volatile(value) }
}

/// See [`FORK_CHILD_PID_OFFSET`].
#[inline(always)]
pub fn fork_child_pid_offset() -> u32 {
    read(&FORK_CHILD_PID_OFFSET)
}

/// See [`EXIT_GROUP_DEAD_OFFSET`].
#[inline(always)]
pub fn exit_group_dead_offset() -> u32 {
    read(&EXIT_GROUP_DEAD_OFFSET)
}

/// See [`TASK_FSBASE_OFFSET`].
#[inline(always)]
pub fn task_fsbase_offset() -> u32 {
    read(&TASK_FSBASE_OFFSET)
}

/// See [`SELF_TGID`].
#[inline(always)]
pub fn self_tgid() -> u32 {
    read(&SELF_TGID)
}
