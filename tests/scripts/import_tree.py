"""Known import costs: a package tree with sleeps at import (see tests/scripts/imports/)."""
import sys
import os
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "imports"))

import slowpkg  # noqa: E402  sleeps 200 ms, imports slowpkg.sub (50 ms) and slowpkg.rel
try:
    import does_not_exist_xyz  # noqa: F401  a failing import, caught
except ImportError:
    pass


def later():
    import lazymod  # noqa: F401  imported inside a function called later
    return lazymod.VALUE


def in_thread():
    import threadmod  # noqa: F401  imported in a second thread


if __name__ == "__main__":
    import threading
    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    later()
