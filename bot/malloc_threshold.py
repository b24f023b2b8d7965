"""Large freed blocks go back to the system (issue 25: RSS after start).

glibc serves a block of 128 KiB or more with its own mmap and unmaps it when freed, but the
first time such a block is freed it raises that threshold to the block's size, for speed.
scrypt's 16 MiB (the cross-signing key file at every start, the database's sealed files on
PostgreSQL) is such a block: once it has been freed, the next scrypt's 16 MiB comes from a
thread's heap and stays resident after it returns, 16 MiB more per thread that ran one
(tests/unit/test_malloc_threshold.py). Setting the threshold once keeps it where it is. Not
glibc (musl, macOS): nothing to do.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # <malloc.h>
THRESHOLD = 128 * 1024  # glibc's own starting value


def pin_mmap_threshold() -> bool:
    """Fix the threshold (before threads start); True if the C library took it."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD))
