"""Helpers shared by the bench_*.py modules (not a bench module: the runner only
discovers bench_*.py)."""

from __future__ import annotations

import ctypes
import mmap
import os
import signal
import statistics
import time
from collections.abc import Callable, Iterable


def median_ms(fn: Callable[[], object], n: int, *, warm: bool) -> float:
    """Median wall time of `n` calls of fn, in ms.  warm=True calls fn once first, untimed
    (imports, page cache, dentries)."""
    if warm:
        fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def best_of(fn: Callable[[], object], rounds: int) -> tuple[float, object]:
    """(fastest of `rounds` calls of fn in seconds, what the last call returned)."""
    best, out = float("inf"), None
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def child_with_mapping(size: int, page: bytes,
                       plant: Iterable[tuple[int, bytes]] = ()) -> tuple[int, int]:
    """Fork a child holding `size` bytes of anonymous memory, every byte written with
    copies of `page` (so every page is touched), then each (offset, bytes) of `plant`
    written over it; the child pauses until killed.  Returns (pid, mapping address)."""
    chunk = len(page)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            area = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            for off in range(0, size, chunk):
                area[off:off + chunk] = page
            for at, data in plant:
                area[at:at + len(data)] = data
            addr = ctypes.addressof(ctypes.c_char.from_buffer(area))
            os.write(w, addr.to_bytes(8, "little"))
            os.close(w)
            signal.pause()
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        addr = int.from_bytes(f.read(8), "little")
    return pid, addr


def compile_memlab() -> None:
    """Write memlab's .pyc files, as a normal first run would.  This sandbox sets
    PYTHONDONTWRITEBYTECODE=1, which makes every `memlab` process recompile every module
    (about +10 ms a run): not what a user measures."""
    import compileall

    import memlab

    compileall.compile_dir(os.path.dirname(memlab.__file__), quiet=1)
