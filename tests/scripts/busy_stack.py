"""Known stack: main -> parse -> tokenize, spinning in tokenize for ~2 s."""
import sys
import time

FOREVER = "--forever" in sys.argv


def tokenize(deadline):
    n = 0
    while time.monotonic() < deadline:  # line 10: the hot line
        n += 1
    return n


def parse(deadline):
    return tokenize(deadline)  # line 16


def main():
    deadline = time.monotonic() + (1e9 if FOREVER else 2.0)
    parse(deadline)  # line 21


if __name__ == "__main__":
    main()  # line 25
