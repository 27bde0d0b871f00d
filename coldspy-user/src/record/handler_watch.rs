//! Watching a recognized FaaS runtime's handler calls, for `record` and the
//! daemon alike: once the runtime's loader runs the handler module's body,
//! the handler function's code object is found in the module's constants
//! and a write watchpoint over its reference count marks each call.

use crate::collect::collector::HandlerModule;
use crate::collect::Collector;
use crate::loader::Probes;
use crate::model::runtime::Runtime;
use crate::python::interpreter::Interpreter;
use crate::python::memory::{ProcessMemory, ReadMemory};
use crate::python::version::PythonVersion;
use coldspy_common::offsets::TARGET_WATCH_HANDLERS;

/// Whether this interpreter's handler calls can be watched (the frame
/// holds its code object strongly from CPython 3.11 on).
pub(crate) fn watchable(version: PythonVersion) -> bool {
    (version.major, version.minor) >= (3, 11)
}

/// [`TARGET_WATCH_HANDLERS`] for an interpreter whose command line is a
/// recognized FaaS runtime whose calls can be watched, else 0: its module
/// bodies then send their constants ([`Probes::flag_watch_handlers`] flags
/// a runtime recognized later, by its code).
pub(crate) fn target_flags(interpreter: &Interpreter) -> u32 {
    let runtime = Runtime::of_command(&crate::sys::proc::cmdline(interpreter.pid)).is_some();
    if runtime && watchable(interpreter.version) {
        TARGET_WATCH_HANDLERS
    } else {
        0
    }
}

/// Sets the handler watch for each handler module a known runtime started
/// loading since the last call; returns the runtime of the last one watched.
pub(crate) fn watch_loaded_handlers(
    collector: &mut Collector,
    probes: &mut Probes,
    version: PythonVersion,
    code_type_addr: u64,
) -> Option<Runtime> {
    let mut watched = None;
    for module in collector.take_handler_modules() {
        if let Some(runtime) = watch_module(collector, probes, &module, version, code_type_addr) {
            watched = Some(runtime);
        }
    }
    watched
}

/// [`watch_loaded_handlers`] for one handler module.
fn watch_module(
    collector: &Collector,
    probes: &mut Probes,
    module: &HandlerModule,
    version: PythonVersion,
    code_type_addr: u64,
) -> Option<Runtime> {
    let pid = module.pid;
    let runtime = module.runtime;
    if !watchable(version) {
        log::info!(
            "pid {pid}: {} recognized; handler calls are watched on CPython 3.11+ only",
            runtime.name()
        );
        return None;
    }
    let function = handler_function_of(pid, runtime)?;
    let Some(code) = collector.handler_code(module, &function, code_type_addr) else {
        eprintln!(
            "coldspy: warning: pid {pid}: {}: no function {function} in the handler module; invocations are not counted",
            runtime.name()
        );
        return None;
    };
    let watched = watch(probes, pid, runtime, &function, code);
    log::info!(
        "pid {pid}: the handler watch was set {:.1} ms after its module began",
        crate::sys::clock::monotonic_ns().saturating_sub(module.started_ns) as f64 / 1e6
    );
    watched.then_some(runtime)
}

/// Watches the calls of the handler whose code object is `code` in `pid`;
/// whether the watch is set.
pub(crate) fn watch(
    probes: &mut Probes,
    pid: u32,
    runtime: Runtime,
    function: &str,
    code: u64,
) -> bool {
    let refcnt = ProcessMemory { pid }.read_u64(code).unwrap_or(0) & 0xffff_ffff;
    let name = runtime.name();
    match probes.watch_handler(pid, code, refcnt) {
        Ok(threads) => {
            log::info!("pid {pid}: {name}: watching the calls of {function} ({threads} threads)");
            true
        }
        Err(e) => {
            eprintln!("coldspy: warning: pid {pid}: {name}: handler calls not watched: {e}");
            false
        }
    }
}

/// The handler function a recognized runtime in `pid` calls, from its
/// command line and environment (e.g. `app.handler`, `_HANDLER`).
pub(crate) fn handler_function_of(pid: u32, runtime: Runtime) -> Option<String> {
    let environ = crate::sys::proc::nul_separated(pid, "environ");
    let env = |name: &str| {
        environ
            .iter()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=').map(String::from))
    };
    runtime.handler_function(&crate::sys::proc::cmdline(pid), env)
}
