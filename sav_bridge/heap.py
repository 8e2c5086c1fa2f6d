"""The heap of a long-running server process (`serve`, its worker process) once start-up is over.

The garbage collector (`settle`): everything built at start-up (modules, the policy, the plugins: most
of the heap) lives as long as the process, yet every full collection walked it again, ~130 ms a pass and
a pause every few seconds under load; `gc.freeze` sets it aside for good. Requests then allocate and free
thousands of short-lived objects that reference counting reclaims: a young-generation pass every 7,000
allocations instead of 700 finds the rare cycle as surely, for 4 % fewer instructions a webhook
(callgrind, in-process ASGI driver, 1,000 signed X webhooks).

The C heap (`give_back`):

Building the posting policy (RE2 sets, term tables, the expanded context patterns) allocates and frees
tens of megabytes of temporary objects. glibc's allocator keeps freed memory inside the process for
later use, so the process's resident size stayed at its start-up peak, ~23 MB more than what it holds
(bench/startup_memory.py). `malloc_trim(0)` hands those free pages back; it does nothing to what is in
use. Where the C library is not glibc (musl, macOS), there is nothing to call and nothing is done.
"""

from __future__ import annotations

import ctypes
import functools
import gc
from collections.abc import Callable

#: Allocations between two collections of the youngest generation, then the older ones' ratios.
GC_THRESHOLDS = (7_000, 10, 10)


def settle() -> None:
    """Collect once, freeze what start-up built, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


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
