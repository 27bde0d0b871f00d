"""Busy threads with a few known stacks each, until killed (or for the
seconds given as the first argument): a long `record --pid` target."""
import sys
import threading
import time


def leaf(n):
    total = 0
    for i in range(n):  # line 11: the hot loop
        total += i * i
    return total


def middle(depth, n):
    if depth == 0:
        return leaf(n)
    return middle(depth - 1, n)


def worker(k, deadline):
    while time.monotonic() < deadline:
        middle(k % 4, 2000 + 500 * k)
        time.sleep(0)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1e9
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    deadline = time.monotonic() + seconds
    pool = [threading.Thread(target=worker, args=(k, deadline)) for k in range(threads)]
    for t in pool:
        t.start()
    worker(threads, deadline)
    for t in pool:
        t.join()


if __name__ == "__main__":
    main()
