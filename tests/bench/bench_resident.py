"""Resident memory: `memlab inspect -X` (maps + smaps + smaps_rollup) against `pmap -X`,
which reads the same smaps in C, on the sleeper and on a 60,000-mapping process
(c_samples/manymaps.c); and what smaps adds to snapshot(pid) in-process (why plain
`inspect` does not read it).

Target (docs/benchmarks.md): `memlab inspect -X --json` within 3x of `pmap -X` on the
60,000-mapping process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from memlab.collect import snapshot
from tests.bench._common import compile_memlab, median_ms


def _run(cmd: list[str]):
    return lambda: subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  check=True)


def _vs_pmap(label: str, pid: int, runs: int) -> list[dict]:
    memlab = os.path.join(os.path.dirname(sys.executable), "memlab")
    ours = median_ms(_run([memlab, "inspect", "-X", "--json", str(pid)]), runs, warm=True)
    rows = [dict(name=f"memlab inspect -X --json, {label}", value=round(ours, 2), unit="ms",
                 compare_to=None, ratio=None, note="maps + smaps + smaps_rollup + the rest "
                 "of the snapshot, JSON out")]
    if shutil.which("pmap"):
        pmap = median_ms(_run(["pmap", "-X", str(pid)]), runs, warm=True)
        rows.append(dict(name=f"pmap -X, {label}", value=round(pmap, 2), unit="ms",
                         compare_to=f"memlab inspect -X --json, {label}",
                         ratio=round(ours / pmap, 2),
                         note="ratio = memlab / pmap (target <= 3x on 60,000 maps)"))
    return rows


def bench_inspect_with_smaps_vs_pmap():
    from memlab.launch import launch

    compile_memlab()
    rows = []
    with launch("sleeper", [], [b"A=1"], hold="ready") as child:
        rows += _vs_pmap("sleeper", child.pid, 20)
        plain = median_ms(lambda: snapshot(child.pid), 200, warm=True)
        full = median_ms(lambda: snapshot(child.pid, memory=True), 200, warm=True)
        rows.append(dict(name="snapshot(pid, memory=True), sleeper", value=round(full * 1e3),
                         unit="us", compare_to="snapshot(pid)", ratio=round(full / plain, 2),
                         note=f"snapshot(pid) alone {plain * 1e3:.0f} us: smaps is read "
                         "only when asked"))
    with launch("manymaps", ["60000"], [b"A=1"], hold="ready", timeout=60) as child:
        rows += _vs_pmap("60,000 maps lines", child.pid, 5)
    return rows


if __name__ == "__main__":
    for row in bench_inspect_with_smaps_vs_pmap():
        print(row)
