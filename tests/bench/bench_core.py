"""Core engine cost: snapshot(pid) in-process vs psutil, and `memlab inspect --json` as a
whole process vs pmap, gdb and a bare Python start.

Targets (docs/benchmarks.md): snapshot() >= 3x faster than
psutil.Process.memory_maps(grouped=False) on the same process while returning more
(env block, initial stack, auxv, kinds);
`memlab inspect --json PID` >= 4x faster than gdb -batch and within 4x of `python -c pass`.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

from tests.bench._common import compile_memlab, median_ms

ENV = [b"A=1", b"B=x y", b"HOME=/root", b"PATH=/usr/bin:/bin", b"LANG=C.UTF-8",
       b"DB_PASSWORD=hunter2"]


def _median_ms(fn, n: int) -> float:
    return median_ms(fn, n, warm=True)


def _run(cmd: list[str]):
    return lambda: subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  check=True)


def _row(name, value, compare_to=None, other=None, note="", unit="ms"):
    ratio = round(other / value, 2) if other else None
    return {"name": name, "value": round(value, 3), "unit": unit,
            "compare_to": compare_to, "ratio": ratio, "note": note}


def bench_snapshot_vs_psutil():
    import psutil

    from memlab.collect import snapshot
    from memlab.launch import launch

    rows = []
    targets = [("sleeper", [], ENV, "ready"),
               (os.path.realpath(sys.executable), ["-c", "import json, decimal, ssl, "
                "time; print(flush=True); time.sleep(60)"], ENV, "none")]
    for target, args, env, hold in targets:
        with launch(target, args, env, hold=hold) as child:
            if hold == "none":
                child.read_stdout_line(10)  # the imports are done
            pid = child.pid
            snap = snapshot(pid)
            proc = psutil.Process(pid)
            n_maps = len(snap.regions)
            mine = _median_ms(lambda pid=pid: snapshot(pid), 300)
            theirs = _median_ms(lambda proc=proc: proc.memory_maps(grouped=False), 300)
            label = os.path.basename(target)
            rows.append(_row(f"snapshot(pid): {label}, {n_maps} maps lines", mine * 1000,
                             "psutil memory_maps(grouped=False)", theirs * 1000,
                             f"psutil {theirs * 1000:.0f} us; ratio = psutil / memlab "
                             f"(target >= 3); memlab also decodes env block, "
                             f"{len(snap.stack.envp)} envp, {len(snap.auxv)} auxv",
                             unit="us"))
    return rows


def bench_launch_reaper():
    """What memlab.reaper adds to launch(): starting the reaper (once, on the first
    launch of a memlab process) and telling it about a child (each launch: +pgid after
    fork, -pgid after reaping)."""
    from memlab import reaper
    from memlab.launch import launch

    starts = []
    for _ in range(30):  # timed: start() only; stop() waits for python's own start
        t = time.perf_counter()
        reaper.start()
        starts.append((time.perf_counter() - t) * 1e3)
        reaper.stop()
    start = statistics.median(starts)
    pgid = 1 << 30  # above PID_MAX_LIMIT: no real group
    tell = _median_ms(lambda: (reaper.watch(pgid), reaper.forget(pgid)), 2000)
    one = _median_ms(lambda: launch("/bin/true", hold="none").wait(), 100)
    return [_row("reaper start (first launch only)", start * 1000, unit="us",
                 note="vfork+exec of python -I -S; its interpreter starts after"),
            _row("reaper watch + forget (every launch)", tell * 1000, "launch(/bin/true)",
                 one * 1000, unit="us", note="two pipe writes; ratio = launch / this")]


def bench_env_file():
    """build_env on a 100,000-line env file: once a scan per entry made it minutes (the
    test in tests/integration/test_launch.py checks the result, this row the speed)."""
    import tempfile

    from memlab.envbuild import build_env

    with tempfile.NamedTemporaryFile("w", suffix=".env") as f:
        f.write("".join(f"V{i}=x\n" for i in range(100_000)) + "V7=y\n")
        f.flush()
        ms = _median_ms(lambda: build_env(env_files=[f.name], clear=True), 5)
        raw = _median_ms(lambda: open(f.name, "rb").read().splitlines(), 5)
    return [_row("build_env: 100,000 env-file lines", ms, "read + splitlines", raw,
                 note="linear: a rescan per entry took minutes; ratio = splitlines / "
                 "build_env")]


def bench_inspect_process():
    from memlab.launch import launch

    compile_memlab()
    memlab = os.path.join(os.path.dirname(sys.executable), "memlab")
    rows = []
    with launch("sleeper", [], ENV, hold="ready") as child:
        pid = str(child.pid)
        base = _median_ms(_run([sys.executable, "-c", "pass"]), 30)
        inspect = _median_ms(_run([memlab, "inspect", "--json", pid]), 30)
        rows.append(_row("python -c pass", base, note="interpreter + site (venv; make setup "
                         "installs memlab editable_mode=compat: a .pth, no import finder)"))
        imports = _median_ms(_run([sys.executable, "-c", "import memlab.cli.core, "
                                   "memlab.collect"]), 30)
        rows.append(_row("python -c 'import memlab.cli.core, memlab.collect'", imports,
                         "python -c pass", base, "the import share of inspect"))
        rows[-1]["ratio"] = round(imports / base, 2)
        rows.append(_row("memlab inspect --json PID", inspect, "python -c pass", base,
                         f"{inspect / base:.2f}x python -c pass (target <= 4x)"))
        rows[-1]["ratio"] = round(inspect / base, 2)
        if shutil.which("pmap"):
            pmap = _median_ms(_run(["pmap", "-X", pid]), 30)
            rows.append(_row("pmap -X PID", pmap, "memlab inspect --json", inspect,
                             "ratio = memlab / pmap (pmap is C, reads smaps only)"))
            rows[-1]["ratio"] = round(inspect / pmap, 2)
        if shutil.which("gdb"):
            gdb = _median_ms(_run(["gdb", "-nx", "-batch", "-p", pid, "-ex",
                                   "info proc mappings", "-ex", "info auxv"]), 5)
            rows.append(_row("gdb -batch info proc mappings + info auxv", gdb,
                             "memlab inspect --json", inspect,
                             f"gdb is {gdb / inspect:.1f}x slower (target >= 4x)"))
            rows[-1]["ratio"] = round(gdb / inspect, 2)
    return rows


if __name__ == "__main__":
    for fn in (bench_snapshot_vs_psutil, bench_inspect_process):
        for row in fn():
            print(row)
