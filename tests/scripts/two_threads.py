"""Two threads, each with its own known stack, for ~1 s."""
import threading
import time


def worker_a(deadline):
    while time.monotonic() < deadline:  # line 7
        pass


def worker_b(deadline):
    while time.monotonic() < deadline:  # line 12
        pass


def main():
    deadline = time.monotonic() + 1.0
    threads = [
        threading.Thread(target=worker_a, args=(deadline,)),
        threading.Thread(target=worker_b, args=(deadline,)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


main()
