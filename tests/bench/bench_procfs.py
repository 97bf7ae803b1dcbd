"""procfs cost: MemReader throughput and the raw /proc readers.

- read_into over a 512 MiB anonymous mapping (every page touched) of a child, 1 MiB
  chunks into one reused buffer: process_vm_readv vs pread on /proc/PID/mem
  (docs/kernel-facts.md#reading-speed measured 9.9 vs 4.9 GB/s on this machine);
- the same with read() (a fresh bytes object per chunk) to show what allocation costs;
- maps + stat + auxv + environ for one process (about 0.1 ms:
  docs/kernel-facts.md#reading-speed).
"""

from __future__ import annotations

import os
import signal

from memlab.procfs.auxv import read_auxv
from memlab.procfs.environ import read_environ
from memlab.procfs.maps import read_maps
from memlab.procfs.mem import MemReader
from memlab.procfs.stat import read_stat
from tests.bench._common import best_of, child_with_mapping, median_ms

SIZE = 512 << 20
CHUNK = 1 << 20
ROUNDS = 3


def _gbps(fn, size: int) -> float:
    return size / best_of(fn, ROUNDS)[0] / 1e9


def bench_memreader_throughput():
    pid, addr = child_with_mapping(SIZE, b"\x5a" * CHUNK)  # every page touched
    try:
        regions = read_maps(pid)
        buf = bytearray(CHUNK)
        results = {}
        for method in ("vm_readv", "pread"):
            with MemReader(pid, regions, method=method) as mem:
                def stream():
                    for off in range(0, SIZE, CHUNK):
                        assert mem.read_into(addr + off, buf) == CHUNK

                def allocate():
                    for off in range(0, SIZE, CHUNK):
                        mem.read(addr + off, CHUNK)

                stream()  # warm: fault in page tables on our side, open the fd
                assert buf[:4] == b"\x5a" * 4
                results[method] = _gbps(stream, SIZE)
                results[method + " alloc"] = _gbps(allocate, SIZE)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    base = results["pread"]
    load = os.getloadavg()[0]
    return [
        dict(name="read_into process_vm_readv, 1 MiB reused", value=round(results["vm_readv"], 2),
             unit="GB/s", compare_to="pread /proc/PID/mem", ratio=round(results["vm_readv"] / base, 2),
             note=f"512 MiB touched anon mapping, best of 3, load {load:.1f} on "
                  f"{os.cpu_count()} cpus; docs/kernel-facts.md: 9.9"),
        dict(name="read_into pread /proc/PID/mem, 1 MiB reused", value=round(base, 2),
             unit="GB/s", compare_to=None, ratio=None, note="docs/kernel-facts.md: 4.9"),
        dict(name="read() process_vm_readv, new bytes per chunk",
             value=round(results["vm_readv alloc"], 2), unit="GB/s",
             compare_to="read_into process_vm_readv",
             ratio=round(results["vm_readv alloc"] / results["vm_readv"], 2),
             note="allocating each chunk"),
        dict(name="read() pread, new bytes per chunk", value=round(results["pread alloc"], 2),
             unit="GB/s", compare_to="read_into pread",
             ratio=round(results["pread alloc"] / base, 2), note="allocating each chunk"),
    ]


def bench_proc_readers():
    """maps + stat + auxv + environ of one process, from Python: the sleeper sample (small,
    like the processes memlab teaches with) and this Python process (many libraries)."""
    from memlab.launch import launch

    def readers_ms(pid: int) -> float:
        def all_four():
            read_maps(pid)
            read_stat(pid)
            read_auxv(pid)
            read_environ(pid)

        return median_ms(all_four, 200, warm=True)

    rows = []
    with launch("sleeper", env=[b"A=1", b"DB_PASSWORD=hunter2"]) as child:
        targets = [("sleeper", child.pid), ("this python", os.getpid())]
        for label, pid in targets:
            rows.append(dict(name=f"read maps+stat+auxv+environ, {label}",
                             value=round(readers_ms(pid), 3), unit="ms", compare_to=None,
                             ratio=None, note=f"{len(read_maps(pid))} maps lines, median of "
                             "200; docs/kernel-facts.md: ~0.1"))
    return rows
