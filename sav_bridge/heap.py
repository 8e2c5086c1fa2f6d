"""Giving the C heap back to the system once start-up is over.

Building the posting policy (RE2 sets, term tables, the expanded context patterns) allocates and frees
tens of megabytes of temporary objects. glibc's allocator keeps freed memory inside the process for
later use, so the process's resident size stayed at its start-up peak, ~23 MB more than what it holds
(bench/startup_memory.py). `malloc_trim(0)` hands those free pages back; it does nothing to what is in
use. Where the C library is not glibc (musl, macOS), there is nothing to call and nothing is done.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim  # the C library the interpreter runs on
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


def give_back() -> bool:
    """Return the C heap's free pages to the system; whether there was a way to (glibc)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
