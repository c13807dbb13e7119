"""Giving memory back to the system between the big steps of an analysis."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
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


def trim_heap() -> None:
    """Collect garbage and return the freed heap to the system (glibc's ``malloc_trim``; a
    no-op elsewhere).

    A solver's or a matrix's memory freed in Python stays in the process's heap until then,
    so the next big step would start from the last one's peak.
    """
    gc.collect()
    lib = _libc()
    if lib is not None:
        lib.malloc_trim(0)
