"""Known process trees for coldspy's descendant tests.

Every process that runs Python spins in a function named after its role and
then appends one JSON line {"role", "pid", "ppid", "cpu_s"} to the file named
by argv[2], so the test knows each process's CPU time (the oracle for its
sample count). Modes (argv[1]):
  fork_of_fork       parent -> child -> grandchild, plain os.fork
  pool_fork          multiprocessing pool of 2 workers, "fork" start method
  pool_forkserver    the same with "forkserver" (workers are the forkserver's children)
  wait_children      a parent with 2 already-running children it waits for
                     (for --pid --subprocesses); argv[3] = seconds, argv[4] =
                     a file whose creation tells the children to start spinning
"""
import json
import multiprocessing
import os
import sys
import time

SPIN_S = float(os.environ.get("SPIN_S", "1.5"))


def report(role, out):
    line = json.dumps(
        {"role": role, "pid": os.getpid(), "ppid": os.getppid(), "cpu_s": time.process_time()}
    )
    with open(out, "a") as f:
        f.write(line + "\n")


def spin(seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
    return n


def spin_parent(seconds):
    return spin(seconds)


def spin_child(seconds):
    return spin(seconds)


def spin_grandchild(seconds):
    return spin(seconds)


def spin_worker(seconds):
    return spin(seconds)


def pool_task(args):
    seconds, out = args
    spin_worker(seconds)
    report("worker", out)
    return os.getpid()


def fork_of_fork(out):
    child = os.fork()
    if child == 0:
        grandchild = os.fork()
        if grandchild == 0:
            spin_grandchild(SPIN_S)
            report("grandchild", out)
            os._exit(0)
        spin_child(SPIN_S)
        os.waitpid(grandchild, 0)
        report("child", out)
        os._exit(0)
    spin_parent(SPIN_S / 3)
    os.waitpid(child, 0)
    report("parent", out)


def pool(method, out):
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2) as p:
        # One task per worker: each spins long enough to be sampled.
        pids = p.map(pool_task, [(SPIN_S, out), (SPIN_S, out)], chunksize=1)
    report("parent", out)
    return pids


def wait_children(out, seconds, go):
    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            # Spin only once coldspy is attached, so all CPU time is sampled.
            while not os.path.exists(go):
                time.sleep(0.01)
            spin_child(seconds)
            report("child", out)
            os._exit(0)
        children.append(pid)
    print("ready", flush=True)
    for pid in children:
        os.waitpid(pid, 0)
    report("parent", out)


if __name__ == "__main__":
    mode, out = sys.argv[1], sys.argv[2]
    if mode == "fork_of_fork":
        fork_of_fork(out)
    elif mode in ("pool_fork", "pool_forkserver"):
        pool(mode.split("_")[1], out)
    elif mode == "wait_children":
        wait_children(out, float(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(f"unknown mode {mode}")
