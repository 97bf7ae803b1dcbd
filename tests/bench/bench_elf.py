"""ELF correlation cost: snapshot with ELF, cold (parse) vs cached, for python3.

The acceptance bar: a cached refresh (same binary, same inode/mtime) adds under 10% to a
snapshot without ELF.  python3.11 is a large binary (~6 MB, a big .dynsym).
"""

from __future__ import annotations

import os
import shutil
import statistics

from tests.bench._common import median_ms
from tests.helpers import wait_until

PYTHON = os.path.realpath("/usr/bin/python3" if os.path.exists("/usr/bin/python3")
                          else shutil.which("python3") or "python3")


def _median_ms(fn, n: int) -> float:
    return median_ms(fn, n, warm=False)  # no warm call: cold() must really be cold


def _python_process():
    from memlab.collect import snapshot
    from memlab.launch import launch

    child = launch(PYTHON, ["-c", "import time; time.sleep(120)"], hold="none",
                   env=[b"A=1"])

    def loaded():
        regions = snapshot(child.pid).regions
        return any(r.kind == "heap" for r in regions) and any(
            r.path and "libm" in r.path for r in regions)
    wait_until(loaded, what="python's heap and libm")
    return child


def bench_snapshot_elf_cold_vs_cached():
    from memlab.collect import snapshot
    from memlab.elf.attach import snapshot_with_elf
    from memlab.elf import clear_cache, load, snapshot_section
    from memlab.elf import memorymap

    rows = []
    with _python_process() as child:
        pid = child.pid
        snapshot_with_elf(pid)  # warm imports (elftools) and page cache

        def cold():
            clear_cache()
            snapshot_with_elf(pid)

        cold_ms = _median_ms(cold, 10)
        snapshot_with_elf(pid)
        # interleaved, so both see the same machine load (2 shared cores)
        base_t, cached_t = [], []
        for _ in range(200):
            base_t.append(_median_ms(lambda: snapshot(pid), 1))
            cached_t.append(_median_ms(lambda: snapshot_with_elf(pid), 1))
        base, cached = statistics.median(base_t), statistics.median(cached_t)
        snap = snapshot(pid)
        section = _median_ms(lambda: snapshot_section(snap), 500)

        def miss():  # parse cached, but the maps changed: bias/segments/heap redone
            memorymap._MEMO.clear()
            snapshot_section(snap)

        section_miss = _median_ms(miss, 500)
        clear_cache()
        parse = _median_ms(lambda: (clear_cache(), load(os.path.realpath(PYTHON))), 10)
        size = os.path.getsize(os.path.realpath(PYTHON))
    overhead = cached / base - 1
    rows.append(dict(name="snapshot python3, no ELF", value=round(base, 3), unit="ms",
                     compare_to=None, ratio=None, note="maps+stat+auxv+environ+stack"))
    rows.append(dict(name="snapshot python3 + ELF, cold", value=round(cold_ms, 3),
                     unit="ms", compare_to="snapshot, no ELF", ratio=round(cold_ms / base, 2),
                     note=f"parses {os.path.basename(os.path.realpath(PYTHON))} "
                          f"({size / 1e6:.1f} MB)"))
    rows.append(dict(name="snapshot python3 + ELF, cached", value=round(cached, 3),
                     unit="ms", compare_to="snapshot, no ELF", ratio=round(cached / base, 3),
                     note=f"adds {overhead:+.1%} (bar: < +10%)"))
    rows.append(dict(name="ELF section alone, cached", value=round(section * 1e3, 1),
                     unit="us", compare_to="snapshot, no ELF",
                     ratio=round(section / base, 3),
                     note="stat /proc/PID/exe + memo check"))
    rows.append(dict(name="ELF section, parse cached, maps changed", unit="us",
                     value=round(section_miss * 1e3, 1), compare_to="snapshot, no ELF",
                     ratio=round(section_miss / base, 3),
                     note="refresh after the process mapped something new"))
    rows.append(dict(name="pyelftools parse of python3 (load)", value=round(parse, 3),
                     unit="ms", compare_to=None, ratio=None, note="what the cache saves"))
    return rows


if __name__ == "__main__":
    for row in bench_snapshot_elf_cold_vs_cached():
        print(row)
