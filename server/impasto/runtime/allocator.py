"""Keeps freed memory in the process instead of returning it to the OS after every large tensor.

glibc serves allocations above 128 KiB with fresh mmap()s and unmaps them on free,
so every full-resolution activation costs page faults on first touch — on CPU
that is a large share of a style network's or VGG19's time. Raising the mmap
threshold and the trim threshold makes freed tensors reusable; the cost is that
the process holds on to its peak memory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4


def keep_freed_memory(trim_threshold: int = 1 << 30) -> bool:
    """Tunes glibc malloc; True when applied (Linux with glibc), False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))
