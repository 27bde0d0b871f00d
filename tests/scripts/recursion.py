"""Known stack: main -> recurse x50 -> spin, for ~1 s."""
import time


def spin(deadline):
    while time.monotonic() < deadline:  # line 6
        pass


def recurse(n, deadline):
    if n == 0:
        return spin(deadline)  # line 12
    return recurse(n - 1, deadline)  # line 13


def main():
    recurse(49, time.monotonic() + 1.0)  # line 17: 50 recurse frames


main()  # line 20
