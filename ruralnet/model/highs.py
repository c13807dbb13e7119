"""Helpers for HiGHS through ``highspy``: its banner kept off the standard output, what is left
of a wall-clock cap for its ``time_limit``."""

from __future__ import annotations

import contextlib
import os
import sys
import time


@contextlib.contextmanager
def quiet_stdout():
    """Silence HiGHS's banner and stray debug lines on the process's standard output (a
    library never prints); Python's own ``sys.stdout`` is untouched."""
    try:
        fd = sys.__stdout__.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.__stdout__.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def time_left(started: float, time_limit_s: float | None) -> float | None:
    """What is left of an optional wall-clock cap begun at ``started`` (``time.perf_counter``),
    at least 0.1 s (HiGHS needs a positive limit); ``None``: no cap."""
    if time_limit_s is None:
        return None
    return max(time_limit_s - (time.perf_counter() - started), 0.1)
