"""A function instance as a FaaS node starts one: imports (some with known
costs, from tests/scripts/imports/), a little work, optional pre-fork
workers (--workers N), optional lifetime (--sleep S)."""
import sys
import os
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "imports"))

import json  # noqa: E402
import email.parser  # noqa: E402,F401
import decimal  # noqa: E402
import slowpkg  # noqa: E402,F401  sleeps 200 ms at import


def work(n):
    total = decimal.Decimal(0)
    for i in range(n):
        total += decimal.Decimal(i) / 7
    return json.dumps({"total": str(total)})


def worker():
    import lazymod  # noqa: F401  (sleeps: no on-CPU samples)
    # ~50 ms on CPU, ~10 samples at 200 Hz: a worker that must show samples
    # of its own cannot rest on the 5 ms of work(20000), which a 5 ms tick
    # can miss.
    work(200000)
    os._exit(0)


if __name__ == "__main__":
    args = sys.argv[1:]
    workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 0
    sleep = float(args[args.index("--sleep") + 1]) if "--sleep" in args else 0.0
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            worker()
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    work(20000)
    if sleep:
        import time
        time.sleep(sleep)
