"""A stack deeper than coldspy's 192-frame limit: main -> recurse x300 -> spin, ~1 s."""
import sys
import time

sys.setrecursionlimit(2000)


def spin(deadline):
    while time.monotonic() < deadline:
        pass


def recurse(n, deadline):
    if n == 0:
        return spin(deadline)
    return recurse(n - 1, deadline)


recurse(299, time.monotonic() + 1.0)
