//! Kernel-side read-failure causes: indices into the eBPF `READ_FAILS`
//! per-CPU array. Each counter is the number of samples in which that cause
//! happened at least once (a sample can count under several causes).

/// Reading the thread state (GIL holder, cached or list search) faulted.
pub const FAIL_THREAD_STATE: u32 = 0;
/// Reading the thread state's pointer to its innermost frame faulted.
pub const FAIL_FRAME_POINTER: u32 = 1;
/// A frame's header could not be read in one piece (its fields were then
/// read one by one, which may have failed too).
pub const FAIL_FRAME_READ: u32 = 2;
/// A code object's header could not be read in one piece.
pub const FAIL_CODE_READ: u32 = 3;
/// A frame pointed at an object whose type is not `PyCode_Type`
/// (freed or being replaced); the frame was kept without a code object.
pub const FAIL_NOT_CODE: u32 = 4;
/// The stack was deeper than [`crate::limits::MAX_FRAMES`] frames.
pub const FAIL_TRUNCATED: u32 = 5;
/// The number of causes (the map's size).
pub const FAIL_CAUSES: u32 = 6;

/// The short name of a cause, as the profile's `stats.read_failures` keys it.
pub fn cause_name(cause: u32) -> &'static str {
    match cause {
        FAIL_THREAD_STATE => "thread_state_read",
        FAIL_FRAME_POINTER => "frame_pointer_read",
        FAIL_FRAME_READ => "frame_read",
        FAIL_CODE_READ => "code_object_read",
        FAIL_NOT_CODE => "not_a_code_object",
        FAIL_TRUNCATED => "stack_truncated",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_has_a_distinct_name() {
        let names: std::vec::Vec<&str> = (0..FAIL_CAUSES).map(cause_name).collect();
        for (i, a) in names.iter().enumerate() {
            assert_ne!(*a, "unknown", "cause {i}");
            assert!(names[i + 1..].iter().all(|b| b != a), "{a} twice");
        }
        assert_eq!(cause_name(FAIL_CAUSES), "unknown");
    }
}
