"""memlab.launch against real processes: every claim is checked in the real /proc.

The /proc reads here are deliberately done by hand (not with memlab.procfs) so these
tests check the launcher independently of the parsers.
"""

from __future__ import annotations

import errno
import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from memlab.errors import LaunchError, MemlabError, UsageError
from memlab.envbuild import build_env
from memlab.launch import Launched, launch
from tests.helpers import NOBODY, REPO, gone, run_as, sample, wait_until

VARIANTS = ("sleeper", "sleeper-nopie", "sleeper-static", "sleeper-static-pie")
SLEEP = "/usr/bin/sleep"

# Env for the cross-checks: spaces, an entry without '=', non-UTF-8 bytes, an empty value.
ODD_ENV = [b"A=1", b"B=x y", b"NOEQ", b"U=\xff\xfe\x80", b"EMPTY=", b"DB_PASSWORD=hunter2"]


# --------------------------------------------------------------------------- /proc by hand
def proc_bytes(pid: int, name: str) -> bytes:
    with open(f"/proc/{pid}/{name}", "rb") as f:
        return f.read()


def stat_field(pid: int, n: int) -> str:
    """Field n (1-based, proc_pid_stat(5)); split after the last ')'."""
    rest = proc_bytes(pid, "stat").rsplit(b")", 1)[1].split()
    return rest[n - 3].decode()


def state(pid: int) -> str:
    return stat_field(pid, 3)


def maps(pid: int) -> list[tuple[int, int, str, str]]:
    out = []
    for line in proc_bytes(pid, "maps").decode().splitlines():
        parts = line.split(None, 5)
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        out.append((lo, hi, parts[1], parts[5] if len(parts) > 5 else ""))
    return out


def region_of(pid: int, addr: int) -> tuple[int, int, str, str]:
    for r in maps(pid):
        if r[0] <= addr < r[1]:
            return r
    raise AssertionError(f"0x{addr:x} is not mapped in {pid}")


def named(pid: int, path: str) -> tuple[int, int, str, str]:
    [r] = [r for r in maps(pid) if r[3] == path]
    return r


def read_mem(pid: int, addr: int, size: int) -> bytes:
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as f:
        return os.pread(f.fileno(), size, addr)


def auxv(pid: int) -> dict[int, int]:
    data = proc_bytes(pid, "auxv")
    vals = [int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data), 8)]
    return dict(zip(vals[0::2], vals[1::2]))


def env_addresses(pid: int) -> list[tuple[int, bytes]]:
    """(address, entry) of every string of the env block, from stat + /proc/PID/environ."""
    start = int(stat_field(pid, 50))
    out, off = [], 0
    for entry in proc_bytes(pid, "environ").split(b"\0")[:-1]:
        out.append((start + off, entry))
        off += len(entry) + 1
    return out


def our_children() -> list[int]:
    """Our children, except memlab's reaper (it lives as long as this process)."""
    from memlab.reaper import reaper_pid

    me, kids, reaper = os.getpid(), [], reaper_pid()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if int(stat_field(int(name), 4)) == me and int(name) != reaper:
                    kids.append(int(name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return kids


@pytest.fixture(autouse=True)
def no_leftover_children():
    """Every test must leave no child behind: not running, not a zombie."""
    yield
    gc.collect()
    assert our_children() == []


def hexint(s: str | None) -> int:
    assert s is not None and s.startswith("0x") and s == s.lower()
    return int(s, 16)


# --------------------------------------------------------------------------- environment
def test_env_byte_exact_with_clear_via_proc_environ():
    env = [*build_env(["A=1", "B=x y"], [], clear=True), b"NOEQ", b"U=\xff\xfe\x80"]
    assert env[:2] == [b"A=1", b"B=x y"]
    with launch(SLEEP, ["60"], env=env, hold="exec") as p:
        assert proc_bytes(p.pid, "environ") == b"A=1\0B=x y\0NOEQ\0U=\xff\xfe\x80\0"
        assert p.env == env


def test_env_order_kept_and_overrides_in_place():
    base = {"Z": "1", "A": "2", "M": "3"}
    env = build_env(["A=x", "N=new", "Z=last"], [], clear=False, base=base)
    assert env == [b"Z=last", b"A=x", b"M=3", b"N=new"]
    with launch("sleeper", env=env) as p:
        assert proc_bytes(p.pid, "environ") == b"Z=last\0A=x\0M=3\0N=new\0"
        assert [e["name"] for e in p.report["env"]] == ["Z", "A", "M", "N"]


def test_env_default_base_is_memlabs_environment_in_order():
    env = build_env([], [], clear=False)
    assert env == [k + b"=" + v for k, v in os.environb.items()]
    with launch(SLEEP, ["60"], env=None, hold="exec") as p:  # None: inherit, exactly
        assert proc_bytes(p.pid, "environ") == b"".join(e + b"\0" for e in env)


def test_bare_name_takes_value_from_base_like_docker():
    assert build_env(["HOME"], [], clear=True, base={"HOME": "/h", "X": "y"}) == [b"HOME=/h"]
    with pytest.raises(UsageError, match="NOPE_NOT_SET has no value"):
        build_env(["NOPE_NOT_SET"], [], clear=True, base={})


@pytest.mark.parametrize("bad", ["=v", "", "A=\0"])
def test_bad_assignments_are_usage_errors(bad):
    with pytest.raises(UsageError):
        build_env([bad], [], clear=True, base={})


def test_env_file(tmp_path: Path):
    f = tmp_path / "app.env"
    f.write_bytes(b"# a comment\n\n   \nA=1\r\nQ=\"quoted\" kept as is \n  # indented comment\n"
                  b"RAW=\xff\xfe\nHOME\nA=2\nLAST=no newline")
    env = build_env(["A=from-e"], [str(f)], clear=True, base={"HOME": "/h"})
    # the file first (A replaced in place by the file's own A=2), then -e overrides it
    assert env == [b"A=from-e", b'Q="quoted" kept as is ', b"RAW=\xff\xfe", b"HOME=/h",
                   b"LAST=no newline"]
    with launch(SLEEP, ["60"], env=env, hold="exec") as p:
        assert proc_bytes(p.pid, "environ") == b"".join(e + b"\0" for e in env)


def test_env_file_errors_name_the_file_and_line(tmp_path: Path):
    with pytest.raises(UsageError, match="cannot read env file"):
        build_env([], [str(tmp_path / "missing.env")], clear=True)
    f = tmp_path / "bad.env"
    f.write_text("OK=1\n=oops\n")
    with pytest.raises(UsageError, match=r"bad.env:2"):
        build_env([], [str(f)], clear=True)


# --------------------------------------------------------------------------- no ASLR
def test_no_aslr_gives_the_documented_addresses():
    seen = []
    for _ in range(2):
        with launch("sleeper", env=[b"A=1"], no_aslr=True) as p:
            first = maps(p.pid)[0]
            # PIE base (docs/kernel-facts.md#heap-start-and-aslr)
            assert first[0] == 0x555555554000
            assert named(p.pid, "[stack]")[1] == 0x7ffffffff000  # stack top
            assert region_of(p.pid, hexint(p.report["main"]))[0] >= 0x555555554000
            seen.append({k: p.report[k] for k in ("main", "local", "environ0", "malloc")})
    assert seen[0] == seen[1]  # repeatable


@pytest.mark.skipif(Path("/proc/sys/kernel/randomize_va_space").read_text().strip() == "0",
                    reason="ASLR disabled on this machine")
def test_without_no_aslr_addresses_move():
    tops = set()
    for _ in range(3):
        with launch("sleeper", env=[b"A=1"]) as p:
            tops.add((named(p.pid, "[stack]")[1], maps(p.pid)[0][0]))
    assert len(tops) > 1


# --------------------------------------------------------------------------- hold at exec
def test_hold_exec_is_the_pristine_image():
    with launch(SLEEP, ["60"], env=[b"A=1"], hold="exec") as p:
        assert p.held_at_exec and p.report is None
        assert state(p.pid) == "t"  # stopped by its tracer (us)
        paths = [r[3] for r in maps(p.pid)]
        assert not any("libc" in x for x in paths)
        assert "[heap]" not in paths
        assert os.path.realpath(SLEEP) in paths
        assert any("ld-linux" in x for x in paths)
        # /proc/PID/syscall: "59 args... SP PC": in execve, SP == startstack (argc on top)
        fields = proc_bytes(p.pid, "syscall").split()
        assert fields[0] == b"59"
        sp, pc = int(fields[-2], 16), int(fields[-1], 16)
        assert sp == int(stat_field(p.pid, 28))
        assert int.from_bytes(read_mem(p.pid, sp, 8), "little") == 2  # argc: sleep 60
        assert pc == auxv(p.pid)[7] + _interp_entry_offset(p.pid)  # ld.so's entry
        p.resume()
        assert not p.held_at_exec
        wait_until(lambda: state(p.pid) == "S", what="the sample asleep (S)")
        wait_until(lambda: any("libc" in r[3] for r in maps(p.pid)), what="libc mapped")
        with pytest.raises(LaunchError, match="not held"):
            p.resume()


def _interp_entry_offset(pid: int) -> int:
    """e_entry of the ELF interpreter (AT_BASE is where it is loaded)."""
    interp = [r[3] for r in maps(pid) if "ld-linux" in r[3]][0]
    with open(interp, "rb") as f:
        head = f.read(64)
    return int.from_bytes(head[24:32], "little")


def test_hold_exec_static_binary_stops_at_its_own_entry():
    with launch("sleeper-static", env=[b"A=1"], hold="exec") as p:
        pc = int(proc_bytes(p.pid, "syscall").split()[-1], 16)
        assert pc == auxv(p.pid)[9]  # AT_ENTRY: no interpreter
        assert "[heap]" not in [r[3] for r in maps(p.pid)]
        p.resume(wait_ready=True)
        assert p.report["static"] is True
        assert p.command("getenv A")["value"] == "1"


def test_command_while_held_is_refused_and_report_is_picked_up_after_resume():
    with launch("sleeper", env=[b"A=1"], hold="exec") as p:
        with pytest.raises(LaunchError, match="held at exec"):
            p.command("report")
        p.resume()
        ans = p.command("getenv A")  # the self-report comes first and is kept aside
        assert ans["cmd"] == "getenv" and p.report["type"] == "self-report"


def test_resume_from_another_thread_is_refused():
    with launch(SLEEP, ["60"], hold="exec") as p:
        errors = []

        def other():
            try:
                p.resume()
            except LaunchError as err:
                errors.append(err)

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert errors and "thread" in str(errors[0])
        assert state(p.pid) == "t"
        p.resume()


def test_kill_while_held_leaves_no_zombie():
    p = launch(SLEEP, ["60"], hold="exec")
    pid = p.pid
    p.kill()
    assert p.returncode == -signal.SIGKILL and not p.alive
    assert not Path(f"/proc/{pid}").exists()


# --------------------------------------------------------------------------- self-report
@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_self_report_matches_proc(variant):
    with launch(variant, ["one", "two words"], env=ODD_ENV) as p:
        r = p.report
        pid = p.pid
        exe = os.path.realpath(sample(variant))
        assert r["type"] == "self-report" and r["pid"] == pid and r["argc"] == 3
        assert (r["pie"], r["static"]) == {"sleeper": (True, False),
                                           "sleeper-nopie": (False, False),
                                           "sleeper-static": (False, True),
                                           "sleeper-static-pie": (True, True)}[variant]
        # every env string, by address and name
        block = env_addresses(pid)
        assert [e for _, e in block] == ODD_ENV
        assert [(hexint(e["address"]), e["name"].encode("latin-1")) for e in r["env"]] == \
            [(a, e.split(b"=", 1)[0]) for a, e in block]
        # argv/environ arrays sit right above argc at startstack
        # (docs/kernel-facts.md#the-initial-stack)
        sp = int(stat_field(pid, 28))
        assert hexint(r["argv"]) == sp + 8
        assert hexint(r["environ"]) == sp + 8 * (3 + 2)
        assert hexint(r["argv0"]) == int(stat_field(pid, 48))  # arg_start
        assert hexint(r["environ0"]) == int(stat_field(pid, 50))  # env_start
        assert read_mem(pid, hexint(r["argv0"]), len(variant) + 1) == variant.encode() + b"\0"
        # auxv: the sample's getauxval == /proc/PID/auxv
        av = auxv(pid)
        assert hexint(r["at_execfn"]) == av[31]
        assert hexint(r["at_random"]) == av[25]
        assert hexint(r["at_platform"]) == av[15]
        stack = named(pid, "[stack]")
        execfn = hexint(r["at_execfn"])
        assert read_mem(pid, execfn, len(exe) + 1) == exe.encode() + b"\0"
        assert execfn + len(exe) + 1 == stack[1] - 8  # the top string, 8 zero bytes above
        assert int(stat_field(pid, 51)) <= execfn  # above env_end
        assert read_mem(pid, hexint(r["at_platform"]), 7) == b"x86_64\0"
        for key in ("local", "argv", "at_random", "at_platform", "environ0"):
            assert stack[0] <= hexint(r[key]) < stack[1], key
        # the image: text, rodata, data, bss
        text = region_of(pid, hexint(r["main"]))
        assert text[2] == "r-xp" and text[3] == exe
        ro = region_of(pid, hexint(r["rodata"]))
        assert "w" not in ro[2] and ro[3] == exe
        assert read_mem(pid, hexint(r["rodata"]), 25) == b"memlab: I live in .rodata"
        assert region_of(pid, hexint(r["data"]))[2] == "rw-p"
        assert read_mem(pid, hexint(r["data"]), 4) == (42).to_bytes(4, "little")
        assert region_of(pid, hexint(r["bss"]))[2] == "rw-p"
        assert hexint(r["main"]) < hexint(r["etext"]) <= hexint(r["rodata"])
        assert hexint(r["data"]) < hexint(r["edata"]) <= hexint(r["bss"]) < hexint(r["end"])
        # the heap: malloc and sbrk(0) inside [heap], which starts at start_brk
        heap = named(pid, "[heap]")
        assert heap[0] == int(stat_field(pid, 47))
        assert heap[0] <= hexint(r["malloc"]) < heap[1]
        assert heap[0] < hexint(r["sbrk"]) <= heap[1]
        if variant == "sleeper-static-pie":
            # [heap] below the binary (docs/kernel-facts.md#heap-start-and-aslr)
            assert heap[0] < hexint(r["end"])
        else:
            assert heap[0] >= hexint(r["end"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_report_command_repeats_the_self_report(variant):
    with launch(variant, env=[b"A=1"]) as p:
        again = p.command("report")
        assert again.pop("type") == "report"
        first = dict(p.report)
        assert first.pop("type") == "self-report"
        assert again == first


# --------------------------------------------------------------------------- commands
ENV = [b"A=1", b"SECRET=hunter2", b"TOKEN=abcdef", b"KEEP=me"]


@pytest.fixture
def sleeper():
    with launch("sleeper", env=ENV) as p:
        yield p


def test_setenv_new_name_goes_to_the_heap_not_the_block(sleeper):
    p = sleeper
    ans = p.command("setenv NEW value with spaces")
    heap = named(p.pid, "[heap]")
    assert heap[0] <= hexint(ans["address"]) < heap[1]
    assert read_mem(p.pid, hexint(ans["entry_address"]), 22) == b"NEW=value with spaces\0"
    assert proc_bytes(p.pid, "environ") == b"".join(e + b"\0" for e in ENV)
    assert p.command("getenv NEW")["value"] == "value with spaces"
    # environ was reallocated onto the heap to make room
    assert heap[0] <= hexint(ans["environ"]) < heap[1]


def test_setenv_existing_name_leaves_the_original_string(sleeper):
    p = sleeper
    p.command("setenv A 2")
    assert b"A=1\0" in proc_bytes(p.pid, "environ")
    assert p.command("getenv A")["value"] == "2"


def test_unsetenv_does_not_remove_it_from_proc_environ(sleeper):
    p = sleeper
    ans = p.command("unsetenv SECRET")
    assert ans == {"cmd": "unsetenv", "name": "SECRET", "was_set": True,
                   "environ": ans["environ"]}
    # docs/kernel-facts.md#environ-is-the-initial-block
    assert b"SECRET=hunter2" in proc_bytes(p.pid, "environ")
    got = p.command("getenv SECRET")
    assert got["value"] is None and got["address"] is None
    assert "SECRET" not in [e["name"] for e in p.command("environ")["entries"]]


def test_scrub_overwrites_the_original_block_string(sleeper):
    p = sleeper
    block = dict((e, a) for a, e in env_addresses(p.pid))
    ans = p.command("scrub SECRET")
    assert hexint(ans["entry_address"]) == block[b"SECRET=hunter2"]
    assert hexint(ans["address"]) == block[b"SECRET=hunter2"] + len("SECRET=")
    assert ans["length"] == 7
    env = proc_bytes(p.pid, "environ")
    assert b"hunter2" not in env and b"SECRET=XXXXXXX\0" in env
    assert p.command("getenv SECRET")["value"] == "XXXXXXX"


def test_scrub_after_setenv_touches_the_heap_copy_only(sleeper):
    p = sleeper
    p.command("setenv TOKEN newvalue")
    ans = p.command("scrub TOKEN")
    heap = named(p.pid, "[heap]")
    assert heap[0] <= hexint(ans["address"]) < heap[1]
    assert b"TOKEN=abcdef\0" in proc_bytes(p.pid, "environ")


def test_copy_puts_a_second_copy_on_the_heap(sleeper):
    p = sleeper
    ans = p.command("copy TOKEN")
    addr = hexint(ans["address"])
    heap = named(p.pid, "[heap]")
    assert heap[0] <= addr < heap[1]
    assert read_mem(p.pid, addr, 7) == b"abcdef\0"
    assert hexint(ans["source"]) == dict((e, a) for a, e in env_addresses(p.pid))[
        b"TOKEN=abcdef"] + len("TOKEN=")


@pytest.mark.parametrize("size", [16, 4096, 1 << 20])
def test_malloc_address_is_mapped_and_touched(sleeper, size):
    p = sleeper
    ans = p.command(f"malloc {size}")
    addr = hexint(ans["address"])
    region = region_of(p.pid, addr)
    if size < 128 * 1024:  # glibc M_MMAP_THRESHOLD default
        assert region[3] == "[heap]"
    else:
        assert region[3] == "" and region[2] == "rw-p"  # its own anonymous mapping
    assert read_mem(p.pid, addr, min(size, 64)) == b"\xa5" * min(size, 64)


@pytest.mark.parametrize("bad", ["malloc", "malloc -1", "malloc 12x", "malloc 99999999999999999999999"])
def test_malloc_bad_sizes_are_errors(sleeper, bad):
    assert "error" in sleeper.command(bad)


def test_getenv_and_environ_match_proc(sleeper):
    p = sleeper
    block = env_addresses(p.pid)
    ans = p.command("getenv KEEP")
    assert ans["value"] == "me"
    assert hexint(ans["entry_address"]) == dict((e, a) for a, e in block)[b"KEEP=me"]
    env = p.command("environ")
    assert [(hexint(e["address"]), e["name"]) for e in env["entries"]] == \
        [(a, e.split(b"=")[0].decode()) for a, e in block]
    base = hexint(env["environ"])
    assert base == hexint(p.report["environ"])
    assert [hexint(e["slot"]) for e in env["entries"]] == [base + 8 * i for i in range(4)]
    # the slots really hold those pointers
    for e in env["entries"]:
        assert int.from_bytes(read_mem(p.pid, hexint(e["slot"]), 8), "little") == \
            hexint(e["address"])


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch uid")
def test_nodump_hides_environ_from_the_same_uid():
    def as_nobody():
        with launch(sample("sleeper"), env=[b"S=1"]) as p:
            before = proc_bytes(p.pid, "environ")
            ans = p.command("nodump")
            try:
                proc_bytes(p.pid, "environ")
                after = None
            except PermissionError as err:
                after = err.errno
            return before, ans, after

    before, ans, after = run_as(NOBODY, as_nobody)
    assert before == b"S=1\0"
    assert ans == {"cmd": "nodump", "dumpable": 0}
    assert after == errno.EACCES


def test_unknown_command_and_bad_names_are_json_errors(sleeper):
    assert sleeper.command("frobnicate now") == {"error": "unknown command",
                                                 "cmd": "frobnicate"}
    assert "error" in sleeper.command("setenv")
    assert "error" in sleeper.command("getenv A=B")
    assert "error" in sleeper.command("scrub NOT_SET")
    assert sleeper.command("getenv A")["value"] == "1"  # still answering


def test_long_lines(sleeper):
    value = "v" * 500_000
    sleeper.command(f"setenv BIG {value}")
    assert sleeper.command("getenv BIG")["value"] == value
    assert sleeper.command("x" * (2 << 20)) == {"error": "line too long (max 1 MiB)"}
    assert sleeper.command("getenv A")["value"] == "1"


def test_quit_and_eof_exit_cleanly():
    with launch("sleeper", env=[]) as p:
        assert p.command("quit") == {"cmd": "quit"}
        assert p.wait(2) == 0
        with pytest.raises(LaunchError, match="exited"):
            p.command("report")
    with launch("sleeper", env=[]) as p:
        os.close(p._stdin)  # EOF on its stdin
        p._stdin = -1
        assert p.wait(2) == 0


def test_command_to_a_dead_process_raises_launch_error():
    with launch("sleeper", env=[]) as p:
        os.kill(p.pid, signal.SIGKILL)
        wait_until(lambda: not p.alive, what="the child to end")
        with pytest.raises(LaunchError):
            p.command("report")


def test_command_timeout_and_stdout_lines_for_a_non_sample():
    with launch("/bin/cat", hold="none") as p:
        with pytest.raises(LaunchError, match="no answer within"):
            p.command("hello, not json", timeout=0.3)
        assert p.stdout_lines == ["hello, not json"]


# --------------------------------------------------------------------------- failures
@pytest.mark.parametrize("make,match", [
    (lambda d: str(d / "missing"), "no such file"),
    (lambda d: str(d), "is a directory"),
    (lambda d: _file(d / "plain.txt", b"hello\n", 0o644), "not executable"),
    (lambda d: "no-such-command-memlab", "neither a bundled sample"),
])
def test_unlaunchable_targets_are_usage_errors(tmp_path, make, match):
    with pytest.raises(UsageError, match=match) as info:
        launch(make(tmp_path))
    assert "\n" not in str(info.value)


def _file(path: Path, data: bytes, mode: int) -> str:
    path.write_bytes(data)
    path.chmod(mode)
    return str(path)


@pytest.mark.parametrize("data,err", [
    (b"\x7fELF garbage", "Exec format error"),  # ENOEXEC
    (b"#!/nonexistent/interpreter\n", "No such file or directory"),  # ENOENT
    (b"#!/tmp\n", "Permission denied"),  # EACCES: the interpreter is a directory
])
def test_execve_failures_come_back_as_launch_errors(tmp_path, data, err):
    path = _file(tmp_path / "prog", data, 0o755)
    with pytest.raises(LaunchError, match=f"execve failed: {err}") as info:
        launch(path, hold="none")
    assert "\n" not in str(info.value) and path in str(info.value)
    # the failed child was reaped (memlab's reaper is the one child left)
    assert our_children() == []


def test_ready_on_a_program_that_prints_no_json():
    with pytest.raises(LaunchError, match="expected a JSON self-report, got 'hello'"):
        launch("/bin/echo", ["hello"], hold="ready")


def test_ready_on_a_program_that_dies_shows_its_stderr():
    with pytest.raises(LaunchError, match=r"exited with 3 .*stderr: boom"):
        launch("/bin/sh", ["-c", "echo boom >&2; exit 3"], hold="ready")


def test_ready_timeout():
    with pytest.raises(LaunchError, match="no answer within"):
        launch(SLEEP, ["60"], hold="ready", timeout=0.3)


def test_scripts_with_a_shebang_are_fine(tmp_path):
    path = _file(tmp_path / "script.sh", b"#!/bin/sh\necho '{\"hi\": 1}'\nexec cat\n", 0o755)
    with launch(path, env=[b"A=1"]) as p:
        assert p.report == {"hi": 1}
        assert p.argv == [path]


def test_bad_hold_mode():
    with pytest.raises(UsageError, match="hold must be"):
        launch("sleeper", hold="later")


# --------------------------------------------------------------------------- lifetime
def test_no_zombie_after_kill():
    p = launch("sleeper", env=[])
    pid = p.pid
    assert p.alive
    p.kill()
    assert not p.alive and p.returncode == -signal.SIGKILL
    assert not Path(f"/proc/{pid}").exists()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    p.kill()  # idempotent


def test_dropping_the_launched_object_kills_the_child():
    pid = launch("sleeper", env=[]).pid  # no reference kept
    gc.collect()
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), what=f"/proc/{pid} to go")


HELPER = textwrap.dedent("""
    import os, signal, sys, time
    from memlab.launch import launch
    mode = sys.argv[1]
    if mode == "app-handler":
        def handler(signum, frame):
            print("app handler", signum, flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, handler)
    p = launch("sleeper", env=[b"A=1"], hold="exec" if mode == "held" else "ready")
    print(p.pid, flush=True)
    if mode == "exit":
        sys.exit(0)
    time.sleep(60)  # stays up until the test's signal ends it
""")


@pytest.mark.parametrize("mode,sig", [
    ("ready", signal.SIGKILL),  # PR_SET_PDEATHSIG
    ("held", signal.SIGKILL),  # a traced child too
    ("ready", signal.SIGTERM),  # our handler, then the default action
    ("ready", signal.SIGHUP),
    ("app-handler", signal.SIGTERM),  # chained to the application's handler
    ("exit", None),  # normal interpreter exit: the finalizers
])
def test_children_never_outlive_memlab(mode, sig):
    helper = subprocess.Popen([sys.executable, "-c", HELPER, mode], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        child = int(helper.stdout.readline())
        if sig is not None:
            assert not gone(child)
            helper.send_signal(sig)
        helper.wait(10)
        wait_until(lambda: gone(child), what=f"child {child} to end with memlab")
        out = helper.stdout.read()
        err = helper.stderr.read()
        assert "Traceback" not in err
        if mode == "app-handler":
            assert out.strip() == f"app handler {signal.SIGTERM.value}"
            assert helper.returncode == 0
        elif sig is not None:
            assert helper.returncode == -sig
    finally:
        helper.kill()
        helper.wait()


def test_launched_is_a_context_manager_that_kills():
    with launch("sleeper", env=[]) as p:
        pid = p.pid
        assert isinstance(p, Launched) and p.alive
    assert p.returncode == -signal.SIGKILL
    assert not Path(f"/proc/{pid}").exists()


def test_all_errors_are_memlab_errors():
    for target in ("", "/nonexistent"):
        with pytest.raises(MemlabError):
            launch(target)


def test_pdeathsig_follows_the_launching_thread_not_the_process():
    """prctl(2): the 'parent' is the thread that forked.  This is why memlab launches
    from the main thread: a child started in a worker dies when the worker ends."""
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("p", launch("sleeper", env=[])))
    t.start()
    t.join()
    p = box["p"]
    wait_until(lambda: not p.alive, what="the child to end")
    assert p.wait(1) == -signal.SIGKILL


def test_out_of_file_descriptors_is_a_launch_error():
    held = []
    try:
        try:
            while True:
                held.append(os.open("/dev/null", os.O_RDONLY))
        except OSError as err:
            assert err.errno == errno.EMFILE
        for _ in range(3):  # room for some of the pipes, not all
            os.close(held.pop())
        before = len(os.listdir("/proc/self/fd"))
        with pytest.raises(LaunchError, match="Too many open files"):
            launch("sleeper", env=[])
        assert len(os.listdir("/proc/self/fd")) == before  # nothing leaked
    finally:
        for fd in held:
            os.close(fd)


# --------------------------------------------------------------------------- QA regressions
def test_kill_takes_the_childs_own_children_too(tmp_path):
    """`sh -c "sleep 3600; :"` forks sleep: killing only sh used to leave sleep running
    (reparented to init) after every `memlab k8s run volume-pod.yaml`."""
    marker = tmp_path / "sleep-pid"
    p = launch("/bin/sh", ["-c", f"sleep 3600 & echo $! > {marker}; wait"], env=[],
               hold="none")
    wait_until(lambda: marker.exists() and marker.read_text().strip(), what="the marker file")
    grandchild = int(marker.read_text())
    assert not gone(grandchild)
    assert os.getpgid(p.pid) == p.pid and os.getpgid(grandchild) == p.pid
    p.kill()
    wait_until(lambda: gone(grandchild), what="sleep to end with its launcher")


def test_build_env_takes_100000_entries_and_the_last_value_wins(tmp_path):
    """100,000 env-file lines, one name given twice: the later value replaces the earlier
    in place (how fast: `make bench BENCH=core`, build_env row)."""
    f = tmp_path / "big.env"
    f.write_text("".join(f"V{i}=x\n" for i in range(100_000)) + "V7=y\n")
    env = build_env(env_files=[str(f)], clear=True)
    assert len(env) == 100_000 and env[7] == b"V7=y" and env[-1] == b"V99999=x"


def test_e2big_says_which_limit():
    with pytest.raises(LaunchError, match=r"Argument list too long \(one string is "
                       r"1,048,581 bytes.*131,072 per string, MAX_ARG_STRLEN\)"):
        launch(SLEEP, env=[b"BIG=" + b"x" * (1 << 20)], hold="exec")
    many = [b"V%d=%s" % (i, b"x" * 1000) for i in range(20_000)]  # 20 MB > stack/4
    with pytest.raises(LaunchError, match=r"20,000 env strings \+ 1 args take .* bytes"):
        launch(SLEEP, env=many, hold="exec")


def test_binary_env_file_line_is_shown_short_and_escaped(tmp_path):
    f = tmp_path / "bin.env"
    f.write_bytes(bytes(range(1, 256)).replace(b"\n", b"").replace(b"=", b"") * 4)
    with pytest.raises(UsageError) as info:
        build_env(env_files=[str(f)], clear=True)
    msg = str(info.value)
    assert len(msg) < 300 and "\\x" in msg and "..." in msg
    assert all(c.isprintable() for c in msg)


# --------------------------------------------------------------------------- the C child
def _status_mask(pid: int, field: str) -> int:
    for line in proc_bytes(pid, "status").decode().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_child_gets_default_signals_an_empty_mask_and_only_stdio():
    """Held at exec (nothing of the program ran yet), the new image has fds 0-2 only
    (close-on-exec for the rest, an inheritable one included), an empty signal mask
    though launch() blocks signals around the spawn, and SIGPIPE/SIGXFSZ not ignored
    although Python ignores them."""
    r, w = os.pipe()
    os.set_inheritable(r, True)  # what a C library's fd without O_CLOEXEC looks like
    try:
        with launch("sleeper", hold="exec") as child:
            assert sorted(int(fd) for fd in os.listdir(f"/proc/{child.pid}/fd")) == [0, 1, 2]
            assert _status_mask(child.pid, "SigBlk") == 0
            ignored = _status_mask(child.pid, "SigIgn")
            for sig in (signal.SIGPIPE, signal.SIGXFSZ):
                assert not ignored & (1 << (sig - 1)), sig.name
    finally:
        os.close(r)
        os.close(w)


def test_launch_from_a_thread_heavy_process_never_hangs_nor_warns():
    """200 launches while other threads log (logging's locks), allocate (malloc's
    arenas) and import (the import lock) without pause: the child runs no Python, so
    no lock held at fork time can hang it (each launch would fail after its timeout),
    and Python 3.12+ has no fork of a multi-threaded process to warn about."""
    import importlib
    import io
    import logging
    import warnings

    stop = threading.Event()
    log = logging.getLogger("memlab-test-threads")
    handler = logging.StreamHandler(io.StringIO())
    log.addHandler(handler)
    log.propagate = False

    def logger():
        while not stop.is_set():
            log.warning("busy %s", "x" * 100)
            handler.stream.seek(0)
            handler.stream.truncate()

    def allocator():
        while not stop.is_set():
            junk = [bytearray(4096) for _ in range(64)]
            del junk

    def importer():
        while not stop.is_set():
            importlib.reload(textwrap)

    threads = [threading.Thread(target=f, daemon=True)
               for f in (logger, allocator, importer, allocator)]
    for t in threads:
        t.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(200):
                child = launch("/bin/true", hold="none")
                assert child.wait(timeout=10) == 0
    finally:
        stop.set()
        for t in threads:
            t.join()
        log.removeHandler(handler)
    assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]


def test_without_the_c_extension_launch_says_how_to_get_it(monkeypatch):
    """No Python fallback (a Python child of a threaded memlab can hang): a LaunchError
    naming the missing extension, before anything is started."""
    import memlab.launch

    monkeypatch.setattr(memlab.launch, "_cproc", None)
    with pytest.raises(LaunchError, match="C extension"):
        launch("sleeper")


def test_cwd_fd_sets_the_childs_working_directory_and_not_memlabs(tmp_path):
    """launch(cwd_fd=): the child fchdir()s between vfork and execve; memlab's own
    working directory is untouched, and a descriptor that is not a directory fails at
    its stage with the kernel's errno."""
    before = os.getcwd()
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with launch("/bin/sh", ["-c", "pwd; exec sleep 60"], env=[], hold="none",
                    cwd_fd=fd) as child:
            assert child.read_stdout_line(5).strip() == str(tmp_path)
            assert os.readlink(f"/proc/{child.pid}/cwd") == str(tmp_path)
    finally:
        os.close(fd)
    assert os.getcwd() == before
    f = tmp_path / "file"
    f.write_text("x")
    not_dir = os.open(f, os.O_RDONLY)
    try:
        with pytest.raises(LaunchError, match=r"fchdir \(the working directory\) failed: "
                           r"Not a directory"):
            launch(SLEEP, ["60"], env=[], hold="exec", cwd_fd=not_dir)
    finally:
        os.close(not_dir)
