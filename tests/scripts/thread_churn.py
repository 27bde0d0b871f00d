"""Thread churn: 1,500 short-lived threads, one after another, each making a
failing import of its own module name (an import start and end) and running
a module body of its own (`exec`). More threads than the kernel's per-thread
stack maps hold under `record` (1,024): each thread's entry must be freed
when its outermost import or body ends."""
import threading

THREADS = 1500


def work(i):
    try:
        __import__(f"churn_missing_{i}")
    except ImportError:
        pass
    exec(compile("x = 1", f"<churn {i}>", "exec"), {})


for i in range(THREADS):
    t = threading.Thread(target=work, args=(i,))
    t.start()
    t.join()
