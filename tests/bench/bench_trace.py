"""The tracer's overhead against strace's, on the same programs.

Each program runs three ways, best of ROUNDS wall times: untraced (memlab.launch,
hold="none"), under `strace -f -e trace=brk,mmap,munmap,mprotect,mremap,execve -o
/dev/null`, and under memlab's tracer (memlab.trace.session: launch held at exec,
adopt, run to the end; the library, without the CLI's Python start-up, which is in
the last row).  Both tracers stop the program at every system call's entry and exit
(strace without --seccomp-bpf does too); memlab also reads /proc/PID/maps before and
after each traced call, to name the change - the part strace does not do.

- `python3 -c pass`: about 700 system calls, about 100 of them map changes;
- `ls -lR /usr/include`: tens of thousands of system calls, a handful of map changes
  (the price of a stop in Python against strace's C).

Target: within 3x strace's time on the map-heavy start-up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from memlab.launch import launch
from memlab.trace.session import Session, TraceEnded
from tests.bench._common import best_of, compile_memlab

ROUNDS = 5
CALLS = "brk,mmap,munmap,mprotect,mremap,execve"
PROGRAMS = {
    "python3 -c pass": [sys.executable, "-S", "-c", "pass"],
    "ls -lR /usr/include": ["ls", "-lR", "/usr/include"],
}


def _devnull() -> int:
    return os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)


def _plain(argv: list[str]) -> None:
    null = _devnull()
    try:
        child = launch(argv[0], argv[1:], hold="none", stdio=(null, null, null))
        child.wait()
    finally:
        os.close(null)


def _memlab(argv: list[str]) -> int:
    null = _devnull()
    n = 0
    try:
        session = Session(CALLS.split(","))
        session.adopt(launch(argv[0], argv[1:], hold="exec", stdio=(null, null, null)))
        try:
            while True:
                n += len(session.step())
        except TraceEnded:
            pass
    finally:
        os.close(null)
    return n


def _strace(argv: list[str]) -> None:
    subprocess.run(["strace", "-f", "-e", f"trace={CALLS}", "-o", "/dev/null", *argv],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)


def bench_trace_vs_strace():
    if shutil.which("strace") is None:
        return [dict(name="trace vs strace", value=None, unit="", compare_to="strace",
                     ratio=None, note="strace is not installed")]
    rows = []
    load = os.getloadavg()[0]
    for label, argv in PROGRAMS.items():
        plain, _ = best_of(lambda a=argv: _plain(a), ROUNDS)
        strace, _ = best_of(lambda a=argv: _strace(a), ROUNDS)
        mine, calls = best_of(lambda a=argv: _memlab(a), ROUNDS)
        rows.append(dict(name=f"trace {label} (library)", value=round(mine * 1e3, 1),
                         unit="ms", compare_to=f"strace -f -e trace=... "
                         f"{strace * 1e3:.1f} ms", ratio=round(mine / strace, 2),
                         note=f"untraced {plain * 1e3:.1f} ms; {calls} traced calls; "
                         f"best of {ROUNDS}, load {load:.1f}"))
    compile_memlab()
    argv = PROGRAMS["python3 -c pass"]

    def cli() -> None:
        subprocess.run([sys.executable, "-m", "memlab", "trace", "-e", CALLS, *argv],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)

    start = time.perf_counter()
    cli()
    best, _ = best_of(cli, ROUNDS)
    strace, _ = best_of(lambda: _strace(argv), ROUNDS)
    rows.append(dict(name="memlab trace python3 -c pass (CLI)", value=round(best * 1e3, 1),
                     unit="ms", compare_to=f"strace {strace * 1e3:.1f} ms",
                     ratio=round(best / strace, 2),
                     note=f"with memlab's own start; first run "
                     f"{(time.perf_counter() - start) * 1e3:.0f} ms"))
    return rows
