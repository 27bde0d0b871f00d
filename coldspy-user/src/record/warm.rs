//! Attaching to a warm FaaS runtime (`record --pid`): its handler module
//! was imported long ago, so the handler's code object is found where the
//! runtime's invoke loop holds the handler (awslambdaric's `run` frame,
//! local `request_handler`), by walking every thread's frames once.

use crate::model::runtime::Runtime;
use crate::python::interpreter::Interpreter;
use crate::python::memory::{ProcessMemory, ReadMemory};
use crate::python::symbolize::Symbolizer;
use coldspy_common::offsets::NO_OFFSET;

/// Frames walked per thread at most.
const MAX_FRAMES: usize = 256;
/// Threads walked at most.
const MAX_THREADS: usize = 4096;

/// The code object of `function`, the handler a warm `runtime` process
/// calls, or why it cannot be found.
pub(super) fn handler_code(
    interpreter: &Interpreter,
    runtime: Runtime,
    function: &str,
) -> Result<u64, String> {
    let (file_suffix, loop_function, local) = runtime.handler_local().ok_or_else(|| {
        format!(
            "a warm {} process: its handler is not found (only awslambdaric)",
            runtime.name()
        )
    })?;
    let memory = ProcessMemory {
        pid: interpreter.pid,
    };
    let symbolizer = Symbolizer::new(interpreter.pid, interpreter.layout);
    let kernel = &interpreter.layout.kernel;
    let read = |addr: u64| memory.read_u64(addr).unwrap_or(0);
    let follow = |mut addr: u64, chain: &coldspy_common::offsets::PtrChain| {
        for &offset in &chain.offsets[..chain.len as usize] {
            if addr == 0 {
                break;
            }
            addr = read(addr.wrapping_add(offset as u64));
        }
        addr
    };
    let mut tstate = follow(interpreter.runtime_addr, &kernel.runtime_to_first_tstate);
    // Bounded: a thread list being torn down can loop.
    for _ in 0..MAX_THREADS {
        if tstate == 0 {
            break;
        }
        let mut frame = follow(tstate, &kernel.tstate_to_frame);
        for _ in 0..MAX_FRAMES {
            if frame == 0 {
                break;
            }
            let code = read(frame.wrapping_add(kernel.frame_code as u64)) & kernel.code_ptr_mask;
            let name_of = |offset: u32| {
                symbolizer
                    .read_unicode(read(code.wrapping_add(offset as u64)))
                    .unwrap_or_default()
            };
            let layout = &interpreter.layout.code;
            if code != 0
                && name_of(layout.name) == loop_function
                && name_of(layout.filename).ends_with(file_suffix)
            {
                return symbolizer
                    .function_code_in_local(
                        frame,
                        code,
                        local,
                        function,
                        interpreter.code_type_addr,
                        interpreter.version.minor,
                    )
                    .ok_or_else(|| {
                        format!("{loop_function}'s `{local}` is not the function {function}")
                    });
            }
            frame = read(frame.wrapping_add(kernel.frame_previous as u64));
        }
        if kernel.tstate_next == NO_OFFSET {
            break;
        }
        tstate = read(tstate.wrapping_add(kernel.tstate_next as u64));
    }
    Err(format!(
        "no thread is in {}'s {loop_function} loop",
        runtime.name()
    ))
}
