"""Known stack: main -> parse -> tokenize, spinning in tokenize for ~1 s."""
import time


def tokenize(deadline):
    n = 0
    while time.monotonic() < deadline:  # line 7: the hot line
        n += 1
    return n


def parse(deadline):
    return tokenize(deadline)  # line 13


def main():
    deadline = time.monotonic() + 1.0
    parse(deadline)  # line 18


if __name__ == "__main__":
    main()  # line 22
