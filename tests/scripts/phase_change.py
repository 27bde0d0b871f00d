"""The hot function changes half-way: first_half for 0.5 s, then second_half."""
import time


def first_half(deadline):
    while time.monotonic() < deadline:  # line 6
        pass


def second_half(deadline):
    while time.monotonic() < deadline:  # line 11
        pass


def main():
    first_half(time.monotonic() + 0.5)  # line 16
    second_half(time.monotonic() + 0.5)  # line 17


main()  # line 20
