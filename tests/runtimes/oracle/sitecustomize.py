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
- call_start / call_end: the handler's own timing of each call, from its first
  line to its last (it calls `_timed(started)`, which this replaces with a
  logger; see _watch_calls). Any CPython version; a call that raises logs nothing.
Each line: {"event", "pid", "tid", "mono_ns", "wall_ns", ...}.
"""
import os
import sys
import time

_LOG = os.environ.get("COLDSPY_ORACLE_LOG")
_FILE = os.environ.get("COLDSPY_ORACLE_FILE")
_FUNC = os.environ.get("COLDSPY_ORACLE_FUNC", "")


def _emit(event, extra=""):
    _write(event, time.monotonic_ns(), time.time_ns(), extra)


def _write(event, m, w, extra=""):
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
    """Makes the handler module log its own timing of each call: its
    `_timed(started)` (a no-op, called by the handler's last line with the
    time of its first) is replaced with a logger. Nothing takes a reference
    to the handler's code object (coldspy's watch traps on those), and the
    call's frame is the handler's own, called by the runtime as in a plain
    run; the write happens after the span it logs."""
    if not callable(getattr(module, "_timed", None)):
        return
    mono, wall = time.monotonic_ns, time.time_ns

    def timed(started):
        ended = mono()
        ended_wall = wall()
        started_wall = ended_wall - (ended - started)
        _write("call_start", started, started_wall, ', "qualname": "%s"' % _FUNC)
        _write("call_end", ended, ended_wall, ', "how": "return"')

    module._timed = timed


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
