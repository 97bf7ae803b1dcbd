"""Capture the initial stack of real processes for tests/unit/test_{initstack,envblock,
classify}.py.

Run as root from the repo root:  .venv/bin/python -m tests.data.initstack.capture
For each case it writes tests/data/initstack/CASE/: the kernel's bytes of maps, stat,
auxv, environ and cmdline, stack.bin (memory from startstack rounded down to 16 bytes
up to the end of [stack]: argc .. the exec path), and meta.json (stack.bin's base
address, readlink exe, how the process was started).  Cases are in README.md.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from memlab.launch import launch
from memlab.procfs._io import read_proc_file, readlink_proc
from memlab.procfs.maps import parse_maps
from memlab.procfs.mem import MemReader
from memlab.procfs.stat import parse_stat

HERE = Path(__file__).resolve().parent
ENV = [b"A=1", b"B=x y", b"DB_PASSWORD=hunter2"]

# name: (target, args, env, launch keywords, sample commands to run before capturing)
CASES = {
    "sleep_exec": ("/usr/bin/sleep", ["100"], ENV, {"hold": "exec"}, []),
    "sleep_exec_noaslr": ("/usr/bin/sleep", ["100"], ENV,
                          {"hold": "exec", "no_aslr": True}, []),
    "sleeper_ready": ("sleeper", ["arg one"], ENV, {"hold": "ready"}, []),
    # glibc's environ IS the stack's envp[] until it must grow: unsetenv shifts the
    # pointers down in place, setenv of an existing name replaces one (stdlib/setenv.c)
    "sleeper_envp_changed": ("sleeper", [], ENV + [b"C=3"], {"hold": "ready"},
                             ["unsetenv A", "setenv B changed"]),
    "sleeper_nopie_ready": ("sleeper-nopie", [], ENV, {"hold": "ready"}, []),
    "sleeper_static_ready": ("sleeper-static", [], ENV, {"hold": "ready"}, []),
    "sleeper_static_pie_exec": ("sleeper-static-pie", [], ENV, {"hold": "exec"}, []),
    "sleeper_static_pie_ready": ("sleeper-static-pie", [], ENV, {"hold": "ready"}, []),
}


def capture(name: str, target, args, env, kw, commands) -> None:
    out = HERE / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    with launch(target, args, env, **kw) as child:
        for line in commands:
            child.command(line)
        files = {n: read_proc_file(child.pid, n)
                 for n in ("maps", "stat", "auxv", "environ", "cmdline")}
        regions = parse_maps(files["maps"])
        stat = parse_stat(files["stat"])
        stack = next(r for r in regions if r.contains(stat.start_stack))
        base = stat.start_stack & ~0xF
        with MemReader(child.pid, regions) as mem:
            data = mem.read(base, stack.end - base)
        exe = readlink_proc(child.pid, "exe")
        argv, report = child.argv, child.report
    for n, content in files.items():
        (out / n).write_bytes(content)
    (out / "stack.bin").write_bytes(data)
    meta = {"base": f"0x{base:x}", "exe": exe, "argv": argv,
            "env": [e.decode() for e in env], "launch": kw, "commands": commands,
            "report": report}
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"{name}: {len(data)} stack bytes, {len(regions)} maps lines")


def main() -> None:
    for name, case in CASES.items():
        capture(name, *case)


if __name__ == "__main__":
    main()
