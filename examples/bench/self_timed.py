"""The target of `cargo xtask bench overhead`: a cold start that times itself.

It imports ten standard-library packages and runs a short loop, timing that
from its first line, and appends `pid microseconds` to the file named by
COLDSPY_BENCH_SELF_TIMED. The interpreter's own start-up (and a profiler's
hold before the first line) is outside this time; what a profiler costs the
program while it runs is inside it.
"""
import time

_started = time.perf_counter_ns()

import argparse  # noqa: E402,F401
import asyncio  # noqa: E402,F401
import decimal  # noqa: E402,F401
import email.parser  # noqa: E402,F401
import http.client  # noqa: E402,F401
import json  # noqa: E402,F401
import logging  # noqa: E402,F401
import sqlite3  # noqa: E402,F401
import urllib.request  # noqa: E402,F401
import xml.dom.minidom  # noqa: E402,F401


def loop(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


loop(300_000)

if __name__ == "__main__":
    import os

    elapsed_us = (time.perf_counter_ns() - _started) // 1000
    out = os.environ.get("COLDSPY_BENCH_SELF_TIMED")
    if out:
        with open(out, "a") as f:
            f.write(f"{os.getpid()} {elapsed_us}\n")
    else:
        print(elapsed_us)
