"""Helpers for HiGHS through ``highspy``: its banner kept off the standard output."""

from __future__ import annotations

import contextlib
import os
import sys


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
