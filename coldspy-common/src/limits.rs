//! Sizes fixed at compile time: frame depth, string lengths, map capacities.
//! One place, so the kernel programs, the wire types and the docs agree.

/// Deepest Python stack a sample records; deeper stacks are cut at the
/// innermost `MAX_FRAMES` frames and flagged [`crate::sample::SAMPLE_TRUNCATED`].
pub const MAX_FRAMES: usize = 192;

/// Longest path (bytes, NUL included) a file-open event carries.
pub const MAX_PATH_BYTES: usize = 256;

/// Longest module name (bytes, NUL included) an import event carries.
pub const MAX_MODULE_NAME_BYTES: usize = 128;

/// How many processes can be profiled at once.
pub const MAX_TARGETS: u32 = 4096;

/// How many threads can have an `openat` call in flight at once.
pub const MAX_INFLIGHT_OPENS: u32 = 16384;

/// How many threads can have imports (and module bodies) in flight at once
/// under `record`: one stack each in the kernel's `IMPORT_STACKS` and
/// `EXEC_STACKS`, freed when the thread's outermost one ends. More are
/// counted as lost events.
pub const MAX_IMPORTING_THREADS: u32 = 1024;

/// The same under `record --all`, for every Python process of a host
/// (≈ 8.5 MiB per map, created once by the daemon).
pub const MAX_IMPORTING_THREADS_SYSTEM_WIDE: u32 = 16384;

/// Executables `record --all` keeps a verdict on (`EXE_VERDICTS`).
pub const MAX_EXE_VERDICTS: u32 = 65536;

/// Steps of a pointer chain in [`crate::offsets::PyLayout`].
pub const MAX_CHAIN: usize = 4;

/// Bytes of each ring buffer the kernel writes to (a power of two).
pub const SAMPLE_RING_BYTES: u32 = 8 << 20;
/// Bytes of the ring buffer for lifecycle events (exec, fork, exit, entry stops).
pub const CONTROL_RING_BYTES: u32 = 256 << 10;
/// Bytes of the ring buffer for file and import events.
pub const EVENT_RING_BYTES: u32 = 4 << 20;

/// Deepest import nesting tracked per thread.
pub const MAX_IMPORT_DEPTH: usize = 64;

/// Thread states searched per sample when the sampled thread is not the
/// GIL holder (the interpreter's thread list is cut after this many).
pub const MAX_THREADS: usize = 32;

/// Threads whose thread state the kernel caches (tid → `PyThreadState*`).
pub const MAX_CACHED_THREADS: u32 = 16384;
