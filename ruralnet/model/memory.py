"""Giving memory back to the system between the big steps of an analysis."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
from functools import cache

log = logging.getLogger(__name__)


@cache
def _libc():
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return lib if lib is not None and hasattr(lib, "malloc_trim") else None


#: Below this resident size a trim is not worth its full garbage collection (50 ms a time on
#: the bundled county, which holds 320-380 MB at its 7 trims; generated 英德 holds 420-870 MB).
TRIM_ABOVE_MB = 400


def resident_mb() -> float | None:
    """The process's resident memory now, in MB (``None`` where ``/proc`` is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def trim_heap(above_mb: float = TRIM_ABOVE_MB) -> None:
    """Collect garbage and return the freed heap to the system (glibc's ``malloc_trim``; a
    no-op elsewhere), when the process holds more than ``above_mb``.

    A solver's or a matrix's memory freed in Python stays in the process's heap until then,
    so the next big step would start from the last one's peak.
    """
    rss = resident_mb()
    if rss is not None and rss < above_mb:
        return
    gc.collect()
    lib = _libc()
    if lib is not None:
        lib.malloc_trim(0)
