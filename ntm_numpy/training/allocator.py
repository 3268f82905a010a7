"""Keep freed memory in the process, for CPU training loops.

NumPy takes every array from malloc. With glibc's defaults a block over 128 KiB is mapped
fresh from the kernel (the threshold moves up as blocks are freed), and free memory at the top
of the heap is handed back once more than a trim threshold lies there. A training step
allocates dozens of [B, N, M] arrays (640 KiB each at the copy configuration, batch 64) and
keeps one per time step until the backward pass frees them all: with the defaults, each batch's
arrays arrive as fresh pages, and every page is a fault the kernel answers by zeroing it.

``keep_freed_memory`` raises both thresholds so freed blocks are reused instead. It changes no
result, only where memory comes from; the process keeps its peak heap (up to the trim
threshold) rather than returning it between steps. It is called by the trainer and the
benchmarks; a no-op where the C library has no ``mallopt`` (not Linux, or not glibc).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 2**30

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Serve large arrays from the heap and keep up to 1 GiB of freed heap; True if applied."""
    global _applied
    if _applied is None:
        _applied = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                mallopt = libc.mallopt
            except (OSError, AttributeError):  # no C library found, or not glibc
                return False
            mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            _applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
                mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
            )
    return _applied
