"""Heap settings for a task's numerical work on a worker whose malloc thresholds are pinned.

Dask's nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (config
``distributed.nanny.pre-spawn-environ``) so that freed memory goes back to the operating system.
In glibc, setting any of the trim / top-pad / mmap thresholds (by environment or ``mallopt``)
also switches off the *dynamic* mmap threshold, so every allocation of 128 KiB or more is
``mmap``-ed and unmapped again on free: a model task's influence-matrix temporaries (n x P
doubles, 0.2 MiB at n 32) then fault in fresh zeroed pages on every step (~95,000 page faults
and 0.1-0.3 s of system time per 4-5 s model task, measured; a process with glibc's defaults
has ~100).

:func:`numeric_heap` raises the mmap threshold to glibc's dynamic maximum (32 MiB on 64-bit) and
the trim threshold to twice that (as glibc's dynamic rule would) while a task runs, so such arrays
reuse heap memory, then puts both thresholds back and trims the heap (``malloc_trim(0)``): the
worker still hands its freed memory back after each task, as the nanny's setting intends. It does
nothing where the thresholds are glibc's defaults (local worker processes, in-process runs) or
where the C library is not glibc. Sizes in bytes.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc malloc.h
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # bytes: glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
DEFAULTS = {M_TRIM_THRESHOLD: 128 * 1024, M_MMAP_THRESHOLD: 128 * 1024}  # bytes: glibc's fixed values
ENVIRONMENT = {M_TRIM_THRESHOLD: "MALLOC_TRIM_THRESHOLD_", M_MMAP_THRESHOLD: "MALLOC_MMAP_THRESHOLD_"}
#: any of these set by environment switches glibc's dynamic mmap threshold off
PINNING_VARIABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_")

_lock = threading.Lock()
_active = 0  # tasks inside numeric_heap in this process (a worker may run several threads)


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it
        libc.mallopt.argtypes, libc.malloc_trim.argtypes = [ctypes.c_int, ctypes.c_int], [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):
        return None


def pinned_thresholds() -> bool:
    """Whether this process's malloc thresholds were pinned by environment (dynamic mmap threshold off)."""
    return any(name in os.environ for name in PINNING_VARIABLES)


def _pinned_value(param: int) -> int:
    """The value the environment pinned ``param`` to (glibc's default where it set another one)."""
    try:
        return int(os.environ.get(ENVIRONMENT[param], DEFAULTS[param]))
    except ValueError:
        return DEFAULTS[param]


@contextmanager
def numeric_heap() -> Iterator[bool]:
    """Run the body with large arrays served from the heap where thresholds are pinned; yields
    whether it changed anything."""
    global _active
    libc = _glibc() if pinned_thresholds() else None
    if libc is None:
        yield False
        return
    with _lock:
        if _active == 0:
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
            libc.mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD_MAX)
        _active += 1
    try:
        yield True
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                for param in (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD):
                    libc.mallopt(param, _pinned_value(param))
                libc.malloc_trim(0)
