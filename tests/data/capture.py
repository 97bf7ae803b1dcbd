"""Re-capture the /proc files in tests/data from real processes on this machine.

Run as root from the repo root:  .venv/bin/python -m tests.data.capture
Each file is written as the kernel returned it (bytes, no editing).  What each process
was is in tests/data/README.md.  The unit tests assert on values that hold for any
capture (shape, invariants, known strings) plus a few pinned to these bytes.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.helpers import NOBODY, run_as, wait_until

HERE = Path(__file__).resolve().parent
STATIC_SRC = b"#include <unistd.h>\nint main(void){ pause(); return 0; }\n"
# env given to `sleep` through a raw execve: entries Python's os.execve refuses
RAW_ENV = [b"A=1", b"NO_EQUALS_SIGN", b"", b"BAD_UTF8=\xff\xfe\x80", b"SPACES=x y  z",
           b"EQUALS==a=b", b"EMPTY=", b"UTF8=h\xc3\xa9llo"]
# sh keeps its initial env block untouched while it waits for /bin/sleep
RAW_ARGV = [b"/bin/sh", b"-c", b"/bin/sleep 30", b"arg with spaces", b""]


def proc(pid: int | str, name: str) -> bytes:
    with open(f"/proc/{pid}/{name}", "rb") as f:
        return f.read()


def execd(pid: int) -> bool:
    """pid runs another program than this Python (its execve is done)."""
    return os.readlink(f"/proc/{pid}/exe") != os.readlink("/proc/self/exe")


def state(pid: int) -> bytes:
    return proc(pid, "stat").rsplit(b")", 1)[1].split()[0]


def save(name: str, data: bytes) -> None:
    (HERE / name).write_bytes(data)
    print(f"{name}: {len(data)} bytes")


def raw_execve_child(argv: list[bytes], env: list[bytes]) -> int:
    """fork + execve with exactly these argv/env byte strings (via libc)."""
    libc = ctypes.CDLL(None, use_errno=True)
    c_argv = (ctypes.c_char_p * (len(argv) + 1))(*argv, None)
    c_env = (ctypes.c_char_p * (len(env) + 1))(*env, None)
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)  # its own group: the parent kills sh and sleep together
        libc.execve(argv[0], c_argv, c_env)
        os._exit(127)
    wait_until(lambda: execd(pid), what=f"{argv[0]!r} to be exec'd")
    return pid


def comm_child(name: bytes) -> int:
    """A child that renamed itself (prctl PR_SET_NAME) and waits."""
    pid = os.fork()
    if pid == 0:
        ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME
        time.sleep(30)  # the process to capture; killed by main()
        os._exit(0)
    wait_until(lambda: proc(pid, "comm") == name[:15] + b"\n", what="the renamed child")
    return pid


def edge_maps_child(tmp: str) -> tuple[int, int]:
    """A child mapping a file with spaces in its name, an unlinked file, a memfd and
    PROT_NONE / shared anonymous memory.  Returns (pid, write end of its pipe)."""
    spaced = os.path.join(tmp, "my lib (v2).so")
    gone = os.path.join(tmp, "removed.bin")
    for p in (spaced, gone):
        with open(p, "wb") as f:
            f.write(b"\0" * 8192)
    r, w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.close(ready_r)
        keep = []
        for p, prot in ((spaced, mmap.PROT_READ), (gone, mmap.PROT_READ | mmap.PROT_WRITE)):
            with open(p, "r+b") as f:
                keep.append(mmap.mmap(f.fileno(), 8192, mmap.MAP_SHARED, prot))
        os.unlink(gone)
        fd = os.memfd_create("memlab secret")
        os.ftruncate(fd, 4096)
        keep.append(mmap.mmap(fd, 4096))
        keep.append(mmap.mmap(-1, 4096, prot=0))  # PROT_NONE
        keep.append(mmap.mmap(-1, 4096, flags=mmap.MAP_SHARED))
        os.write(ready_w, b"x")  # all mapped
        os.read(r, 1)  # wait until the parent has read our maps
        os._exit(0)
    os.close(r)
    os.close(ready_w)
    assert os.read(ready_r, 1) == b"x", "the edge-maps child died before mapping"
    os.close(ready_r)
    return pid, w


def main() -> int:
    if os.geteuid() != 0:
        print("run as root (the masked stat capture drops to uid 65534)", file=sys.stderr)
        return 2
    save("maps_cat.txt", subprocess.run(["cat", "/proc/self/maps"], check=True,
                                        capture_output=True).stdout)
    py = subprocess.Popen(["python3", "-c", "import time; print(flush=True); time.sleep(30)"],
                          stdout=subprocess.PIPE)
    py.stdout.readline()  # started: its imports are done
    save("maps_python3.txt", proc(py.pid, "maps"))
    save("auxv_python3.bin", proc(py.pid, "auxv"))
    save("stat_python3.txt", proc(py.pid, "stat"))
    save("stat_masked.txt", run_as(NOBODY, proc, py.pid, "stat"))
    py.kill()
    py.wait()

    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "pause.c")
        exe = os.path.join(tmp, "pause-static")
        Path(src).write_bytes(STATIC_SRC)
        subprocess.run(["gcc", "-static", "-O1", "-o", exe, src], check=True)
        st = subprocess.Popen([exe])
        wait_until(lambda: os.readlink(f"/proc/{st.pid}/exe") == exe, what="pause-static")
        save("maps_static.txt", proc(st.pid, "maps"))
        save("auxv_static.bin", proc(st.pid, "auxv"))
        save("stat_static.txt", proc(st.pid, "stat"))
        st.kill()
        st.wait()

        pid, w = edge_maps_child(tmp)
        save("maps_edge.txt", proc(pid, "maps"))
        os.write(w, b"x")
        os.waitpid(pid, 0)

    pid = raw_execve_child(RAW_ARGV, RAW_ENV)
    save("environ_raw.bin", proc(pid, "environ"))
    save("cmdline_raw.bin", proc(pid, "cmdline"))
    save("stat_raw.txt", proc(pid, "stat"))
    os.killpg(pid, 9)
    os.waitpid(pid, 0)

    pid = raw_execve_child([b"/bin/sleep", b"30"], [])
    save("environ_empty.bin", proc(pid, "environ"))
    os.killpg(pid, 9)
    os.waitpid(pid, 0)

    pid = comm_child(b"a) (b c) d")
    save("stat_comm_parens.txt", proc(pid, "stat"))
    os.kill(pid, 9)
    os.waitpid(pid, 0)

    save("stat_pid1.txt", proc(1, "stat"))
    save("stat_kthreadd.txt", proc(2, "stat"))
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    wait_until(lambda: state(pid) == b"Z", what="the child a zombie")
    save("stat_zombie.txt", proc(pid, "stat"))
    os.waitpid(pid, 0)
    moving_targets()
    resident()
    return 0


def _ready_line(p: subprocess.Popen) -> dict:
    import json

    return json.loads(p.stdout.readline())


def moving_targets() -> None:
    """The samples of tests/security/test_moving_target.py (built by `make samples`)."""
    from tests.helpers import sample

    p = subprocess.Popen([sample("leaderexit")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, env={"PATH": "/usr/bin:/bin"})
    tid = _ready_line(p)["tid"]
    wait_until(lambda: state(p.pid) == b"Z", what="leaderexit's leader a zombie")
    save("stat_leader_exited.txt", proc(p.pid, "stat"))
    save("stat_leader_exited_task.txt", proc(p.pid, f"task/{tid}/stat"))
    p.kill()
    p.wait()

    p = subprocess.Popen([sample("execloop"), "0", sample("execloop-static"),
                          sample("execloop")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, env={"PATH": "/usr/bin:/bin"})
    _ready_line(p)
    save("stat_execloop_pie.txt", proc(p.pid, "stat"))
    p.stdin.write(b"exec\n")
    p.stdin.flush()
    _ready_line(p)
    save("stat_execloop_static.txt", proc(p.pid, "stat"))
    p.kill()
    p.wait()

    # execloop every 0.3 ms, stat read in a loop until it shows a layout execve is
    # still building: start_code 0 while the argument or env fields are already set
    p = subprocess.Popen([sample("execloop"), "300", sample("execloop-static"),
                          sample("execloop")], stdout=subprocess.PIPE,
                         env={"PATH": "/usr/bin:/bin"})
    _ready_line(p)
    wanted = {"stat_mid_exec_args.txt": lambda f: f[48 - 3] != b"0" and f[51 - 3] == b"0",
              "stat_mid_exec_env.txt": lambda f: f[51 - 3] != b"0"}
    for _ in range(2_000_000):
        data = proc(p.pid, "stat")
        fields = data[data.rfind(b")") + 1:].split()
        if fields[26 - 3] != b"0":
            continue  # start_code set: the exec is done
        for name, test in list(wanted.items()):
            if test(fields):
                save(name, data)
                del wanted[name]
        if not wanted:
            break
    p.kill()
    p.wait()



def resident() -> None:
    """smaps, smaps_rollup, pagemap and a thread's syscall file of the sleeper after
    `threads 1`, `reserve 409600` (100 pages, 99 whole ones) and `touch <first> 7`."""
    import json

    from tests.helpers import sample

    p = subprocess.Popen([sample("sleeper")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         env={"PATH": "/usr/bin:/bin"})
    _ready_line(p)

    def ask(line: str) -> dict:
        p.stdin.write(line.encode() + b"\n")
        p.stdin.flush()
        return _ready_line(p)

    tid = ask("threads 1")["tids"][0]
    reserved = ask("reserve 409600")
    ask(f"touch {reserved['pages_start']} 7")
    save("smaps_sleeper.txt", proc(p.pid, "smaps"))
    save("smaps_rollup_sleeper.txt", proc(p.pid, "smaps_rollup"))
    start = int(reserved["pages_start"], 16)
    with open(f"/proc/{p.pid}/pagemap", "rb") as f:
        f.seek(start // 4096 * 8)
        save("pagemap_touch7of99.bin", f.read(reserved["pages"] * 8))
    save("pagemap_touch7of99.json", json.dumps({"start": reserved["pages_start"],
                                                "pages": reserved["pages"]}).encode())
    save("task_syscall_blocked.txt", proc(p.pid, f"task/{tid}/syscall"))
    p.kill()
    p.wait()


if __name__ == "__main__":
    sys.exit(main())
