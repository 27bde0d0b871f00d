//! Values userspace sets at load time (`EbpfLoader::set_global`): tracepoint
//! field offsets read from tracefs and struct offsets from the kernel's BTF,
//! so no kernel layout is hard-coded.

/// Offset of `child_pid` in the `sched_process_fork` tracepoint record.
#[unsafe(no_mangle)]
static FORK_CHILD_PID_OFFSET: u32 = 20;

/// Offset of `group_dead` in `sched_process_exit`, or `u32::MAX` if absent.
#[unsafe(no_mangle)]
static EXIT_GROUP_DEAD_OFFSET: u32 = u32::MAX;

/// Offset of `filename` in the `sys_enter_openat` record (the default is
/// the x86-64 syscall ABI's; userspace sets the one tracefs states).
#[unsafe(no_mangle)]
static OPENAT_FILENAME_OFFSET: u32 = 24;

/// Offset of `uservaddr` in the `sys_enter_connect` record.
#[unsafe(no_mangle)]
static CONNECT_ADDR_OFFSET: u32 = 24;

/// Offset of `ret` in the `sys_exit_openat` record.
#[unsafe(no_mangle)]
static OPENAT_RET_OFFSET: u32 = 16;

/// Offset of the `filename` `__data_loc` in the `sched_process_exec` record.
#[unsafe(no_mangle)]
static EXEC_FILENAME_LOC_OFFSET: u32 = 8;

/// Offset of `thread.fsbase` in `task_struct` (from the kernel's BTF), or
/// `u32::MAX` if unknown: identifies a thread by its `pthread_self()` on
/// CPython 3.9/3.10, which have no `native_thread_id`.
#[unsafe(no_mangle)]
static TASK_FSBASE_OFFSET: u32 = u32::MAX;

/// 1 under `record --all`: the exec hook looks at every process.
#[unsafe(no_mangle)]
static SYSTEM_WIDE: u32 = 0;

/// 1 when `record --all` has a `--cgroup` filter (`CGROUP_ALLOW`).
#[unsafe(no_mangle)]
static CGROUP_FILTER: u32 = 0;

/// Offsets (from the kernel's BTF) of the chain from the current task to
/// its executable's identity: `task_struct.mm`, `mm_struct.exe_file`,
/// `file.f_inode`, `inode.i_ino`, `inode.i_sb`, `super_block.s_dev`.
/// `u32::MAX` when unknown (then `record --all` refuses to start).
#[unsafe(no_mangle)]
static EXE_CHAIN: [u32; 6] = [u32::MAX; 6];

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

/// See [`OPENAT_FILENAME_OFFSET`].
#[inline(always)]
pub fn openat_filename_offset() -> usize {
    read(&OPENAT_FILENAME_OFFSET) as usize
}

/// See [`CONNECT_ADDR_OFFSET`].
#[inline(always)]
pub fn connect_addr_offset() -> usize {
    read(&CONNECT_ADDR_OFFSET) as usize
}

/// See [`OPENAT_RET_OFFSET`].
#[inline(always)]
pub fn openat_ret_offset() -> usize {
    read(&OPENAT_RET_OFFSET) as usize
}

/// See [`EXEC_FILENAME_LOC_OFFSET`].
#[inline(always)]
pub fn exec_filename_loc_offset() -> usize {
    read(&EXEC_FILENAME_LOC_OFFSET) as usize
}

/// See [`SYSTEM_WIDE`].
#[inline(always)]
pub fn system_wide() -> bool {
    read(&SYSTEM_WIDE) != 0
}

/// See [`CGROUP_FILTER`].
#[inline(always)]
pub fn cgroup_filter() -> bool {
    read(&CGROUP_FILTER) != 0
}

/// Step `i` of [`EXE_CHAIN`].
#[inline(always)]
pub fn exe_chain(i: usize) -> usize {
    // SAFETY: a plain read of a static array; volatile as above.
    unsafe { core::ptr::read_volatile(&EXE_CHAIN[i]) as usize }
}
