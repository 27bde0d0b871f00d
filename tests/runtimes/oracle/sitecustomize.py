"""Oracle variant ONLY: timestamps of the handler's import and of each handler call.

Put on PYTHONPATH by the drivers' --oracle flag; never used otherwise, because it
changes what a profiler sees (one extra frame, sitecustomize.exec_module, around
every module execution by a path-based loader).

  COLDSPY_ORACLE_LOG   JSON-lines file, appended to with O_APPEND (fork-safe)
  COLDSPY_ORACLE_FILE  realpath of the handler's source file
  COLDSPY_ORACLE_FUNC  name of the handler function in that file

- import_start / import_end: around the loader's exec_module() of that file. Every
  path the runtimes use goes through it: importlib.import_module (awslambdaric),
  spec.loader.exec_module (functions-framework) and the import statement (index.py).
- call_start / call_end: sys.monitoring (3.12+) PY_START and PY_RETURN/PY_UNWIND
  events set on the handler's code object only (set_local_events), so no wrapper
  frame is added around the calls. Older Pythons: nothing (no call oracle).
Each line: {"event", "pid", "tid", "mono_ns", "wall_ns", ...}.
"""
import os
import sys
import time

_LOG = os.environ.get("COLDSPY_ORACLE_LOG")
_FILE = os.environ.get("COLDSPY_ORACLE_FILE")
_FUNC = os.environ.get("COLDSPY_ORACLE_FUNC", "")


def _emit(event, extra=""):
    m, w = time.monotonic_ns(), time.time_ns()
    try:
        import _thread
        tid = _thread.get_native_id()
    except Exception:
        tid = 0
    line = '{"event": "%s", "pid": %d, "tid": %d, "mono_ns": %d, "wall_ns": %d%s}\n' % (
        event, os.getpid(), tid, m, w, extra)
    os.write(_log_fd(), line.encode())


_FD = [None, None]  # (pid, fd): opened once per process (a fork reopens it)


def _log_fd():
    # One open per process: an open per line cost ~50 us inside every
    # handler call (the call_end line is written before its frame returns).
    if _FD[0] != os.getpid():
        _FD[0], _FD[1] = os.getpid(), os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    return _FD[1]


def _watch_calls(module):
    mon = getattr(sys, "monitoring", None)
    func = getattr(module, _FUNC, None)
    code = getattr(func, "__code__", None)
    if mon is None or code is None:
        return
    tool = 4  # ids 0-5; 0 debugger, 1 coverage, 2 profiler, 5 optimizer by convention
    try:
        mon.use_tool_id(tool, "coldspy-oracle")
    except ValueError:
        return
    ev = mon.events

    def on_start(c, offset):
        if c is code:
            _emit("call_start", ', "qualname": "%s"' % c.co_qualname)

    def on_return(c, offset, retval):
        if c is code:
            _emit("call_end", ', "how": "return"')

    def on_unwind(c, offset, exc):
        if c is code:
            _emit("call_end", ', "how": "unwind"')

    mon.register_callback(tool, ev.PY_START, on_start)
    mon.register_callback(tool, ev.PY_RETURN, on_return)
    mon.register_callback(tool, ev.PY_UNWIND, on_unwind)
    # PY_UNWIND cannot be a local event in 3.12; it is global but cheap here
    # (only raised when a Python frame unwinds with an exception).
    mon.set_local_events(tool, code, ev.PY_START | ev.PY_RETURN)
    mon.set_events(tool, ev.PY_UNWIND)


def _install():
    if not (_LOG and _FILE):
        return
    import _frozen_importlib_external as ext

    base = ext._LoaderBasics
    orig = base.exec_module

    def exec_module(self, module):
        origin = getattr(getattr(module, "__spec__", None), "origin", None)
        if origin is None or os.path.realpath(origin) != _FILE:
            return orig(self, module)
        _emit("import_start", ', "module": "%s"' % module.__name__)
        try:
            return orig(self, module)
        finally:
            _emit("import_end", ', "module": "%s"' % module.__name__)
            try:
                _watch_calls(module)
            except Exception as e:  # never break the runtime
                _emit("oracle_error", ', "error": "%s"' % type(e).__name__)

    base.exec_module = exec_module


_install()
