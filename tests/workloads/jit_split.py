# SPDX-License-Identifier: Apache-2.0
# Three Python functions whose shares of CPU are 50/30/20: each runs the
# same loop, itself (each is a leaf), for its number of rounds per pass.
# Prints "ready PID", then runs for the number of seconds given.
import os
import sys
import time


def alpha(n):
    x = 1
    for _ in range(5 * n):
        x = (x * 1103515245 + 12345) % 2147483647
    return x


def beta(n):
    x = 2
    for _ in range(3 * n):
        x = (x * 1103515245 + 12345) % 2147483647
    return x


def gamma(n):
    x = 3
    for _ in range(2 * n):
        x = (x * 1103515245 + 12345) % 2147483647
    return x


def main():
    end = time.monotonic() + float(sys.argv[1])
    print("ready", os.getpid(), flush=True)
    sink = 0
    while time.monotonic() < end:
        sink += alpha(300) + beta(300) + gamma(300)
    print("done", sink % 7)


main()
