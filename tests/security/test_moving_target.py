"""Reading a moving target: a process that execs while memlab reads it, and a process
whose main thread exited while its other threads run.

execve keeps the pid and replaces everything memlab reads (fs/exec.c begin_new_exec ->
exec_mmap): files read before and after it describe two programs.  memlab must give a
coherent picture of one of them or say, in one line and with exit 3, that the process
exec'd while being read -- never "permission denied" to root, never one program's ELF
over another's maps.  c_samples/execloop execs on a timer (the race, many runs) or on a
command (the exec placed at a chosen point of the read, every time).

A main thread that called pthread_exit leaves the process alive in its other threads:
/proc/PID/stat says 'Z' but it is no zombie, and its environment, maps and memory are
read through a live thread (fs/proc/base.c tid_base_stuff).  c_samples/leaderexit.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import subprocess
import sys

import pytest

from memlab import collect
from memlab.cli import main
from memlab.elf import clear_cache
from memlab.errors import EXIT_NO_SUCH_PROCESS, ExecDuringRead, ZombieProcess
from memlab.exposure.audit import audit
from memlab.procfs import exe as procfs_exe
from memlab.procfs._io import explain_empty, has_mm, live_thread, readlink_proc
from memlab.procfs.environ import read_environ
from memlab.procfs.maps import read_maps
from memlab.procfs.mem import MemReader
from memlab.procfs.stat import (exec_fields, exec_settled, parse_stat, read_stat,
                                split_stat)
from tests.conftest import requires_root
from tests.helpers import NOBODY, REPO, LineReader, run_as, sample, wait_until
from tests.security.pod_helpers import as_user, python_fails_as

DATA = REPO / "tests" / "data"

EXEC_MESSAGE = "the process exec'd while being read; try again"


# --------------------------------------------------------------------------- helpers
class Child:
    """A sample on pipes; reads its JSON lines with a deadline.  Killed and reaped on
    close (execloop keeps its pid across exec, so the Popen handle stays right)."""

    def __init__(self, argv: list[str], env: dict[str, str], **popen):
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, **popen)
        self.pid = self.proc.pid
        self._out = LineReader(self.proc.stdout.fileno(), f"pid {self.pid}")

    def line(self, timeout: float = 10.0) -> dict:
        return self._out.json(timeout)

    def send(self, text: str) -> None:
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                f.close()


class ExecLoop(Child):
    """execloop alternating between its PIE build and its static build."""

    def __init__(self, usec: int):
        images = [sample("execloop-static"), sample("execloop")]
        super().__init__([sample("execloop"), str(usec), *images],
                         {"PATH": "/usr/bin:/bin", "MOVING_MARK": secrets.token_hex(8)})
        self.report = self.line()

    def exec_now(self) -> dict:
        """Exec the next image and wait until it runs (its ready line)."""
        gen = self.report["gen"]
        self.send("exec")
        self.report = self.line()
        assert self.report["gen"] == gen + 1
        return self.report


def cli(*argv: str) -> tuple[int, str, str]:
    """memlab's main() in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def memlab(*args: str, user: int | None = None) -> subprocess.CompletedProcess:
    if user is not None and (why := python_fails_as(user)):
        pytest.skip(f"{sys.executable} does not run as uid {user}: {why}")
    pre = as_user(user) if user is not None else []
    return subprocess.run([*pre, sys.executable, "-m", "memlab", *args], cwd=REPO,
                          text=True, capture_output=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})


def exec_line(pid: int) -> str:
    return f"memlab: {EXEC_MESSAGE} (pid {pid})"


def assert_exec_error(code: int, out: str, err: str, pid: int) -> None:
    assert code == EXIT_NO_SUCH_PROCESS, (code, err)
    assert err.strip().splitlines() == [exec_line(pid)], err


def name_of(path: str) -> str:
    return path.rsplit("/", 1)[-1]


# ------------------------------------------------------- coherence of one result
def check_env(d: dict) -> None:
    env = d["env"]
    assert env is not None, d["warnings"]
    # the block in memory and /proc/PID/environ were read from the same image
    assert env["matches_proc_environ"] is True, d["warnings"]
    assert any(e["name"] == "EXECLOOP_GEN" or e["name"] == "MOVING_MARK"
               for e in env["entries"])


def check_stack(d: dict) -> None:
    stack = d["stack"]
    assert stack is not None, d["warnings"]
    # AT_EXECFN (from memory) names the executable readlink(exe) named
    assert stack["execfn"] == d["exe"], (stack["execfn"], d["exe"])
    assert stack["auxv_matches_proc"] is True
    assert stack["argv"][0]["string"] == d["exe"]


def check_inspect(d: dict) -> None:
    assert d.get("denied", []) == [], d["warnings"]
    exe_lines = [r for r in d["regions"] if r["path"] == d["exe"]]
    assert exe_lines, "the maps have no line of the executable readlink named"
    start_stack = int(d["stat"]["start_stack"], 16)
    stack = [r for r in d["regions"]
             if int(r["start"], 16) <= start_stack < int(r["end"], 16)]
    assert [r["path"] for r in stack] == ["[stack]"]
    check_env(d)
    check_stack(d)


def check_elf(d: dict) -> None:
    check_inspect(d)
    elf = d["elf"]
    assert elf is not None and elf["available"], d["warnings"]
    static = name_of(d["exe"]) == "execloop-static"
    # the ELF file's type is the one of the program in the maps ...
    assert elf["file"]["kind"] == ("static" if static else "pie"), (elf["file"]["kind"],
                                                                    d["exe"])
    # ... and its bias agrees with auxv (AT_ENTRY, AT_PHDR) and the maps
    assert elf["bias"]["consistent"] is True, elf["bias"]
    assert elf["all_segments_exact"] is True
    assert (int(elf["bias"]["value"], 16) == 0) == static


def check_elf_view(view: dict) -> None:
    """`memlab elf PID --json`: the ELF view alone."""
    assert view["available"], view["reason"]
    static = name_of(view["exe"]) == "execloop-static"
    assert view["file"]["kind"] == ("static" if static else "pie"), view["exe"]
    assert view["bias"]["consistent"] is True and view["all_segments_exact"] is True


CHECKS = {"stack": check_stack, "env": check_env, "inspect": check_inspect,
          "elf": check_elf, "elfview": check_elf_view}
COMMANDS = {"stack": ("stack", "--json"), "env": ("env", "--json"),
            "inspect": ("inspect", "--json"), "elf": ("inspect", "--elf", "--json"),
            "elfview": ("elf", "--json")}
OPENS_EXE = ("elf", "elfview")


def check_run(kind: str, pid: int, code: int, out: str, err: str) -> bool:
    """One CLI run against an exec'ing process: coherent (True) or the exit-3 line
    (False); anything else fails the test."""
    assert "Traceback" not in err and "internal error" not in err, err
    if code == EXIT_NO_SUCH_PROCESS:
        assert_exec_error(code, out, err, pid)
        return False
    assert code == 0, (kind, code, err)
    CHECKS[kind](json.loads(out))
    return True


# --------------------------------------------------------------------------- (a) race
@pytest.fixture
def looping():
    child = ExecLoop(1500)  # an exec every 1.5 ms
    yield child
    child.close()


@requires_root
@pytest.mark.parametrize("kind", list(COMMANDS))
def test_commands_against_an_exec_loop_are_coherent_or_exit_3(looping, kind):
    """50 runs of each command while the target execs every 1.5 ms, alternating a PIE
    and a static build: every run is one coherent image or the one exit-3 line."""
    coherent = 0
    for _ in range(50):
        clear_cache()  # parse the ELF every time: the slow read the exec lands in
        coherent += check_run(kind, looping.pid, *cli(*COMMANDS[kind], str(looping.pid)))
    assert coherent, "not one coherent read in 50"


@requires_root
def test_real_cli_runs_against_an_exec_loop(looping):
    """The same through `python -m memlab`, text and JSON: exit 0 or the exit-3 line,
    never 4, never a traceback."""
    for _ in range(10):
        for args in (("stack",), ("inspect", "--elf"), ("env",), ("stack", "--json")):
            p = memlab(*args, str(looping.pid))
            assert "Traceback" not in p.stderr + p.stdout
            if p.returncode:
                assert p.returncode == 3 and p.stderr.strip() == exec_line(looping.pid), \
                    (args, p.returncode, p.stderr)
            if args == ("inspect", "--elf") and p.returncode == 0:
                static = "execloop-static" in p.stdout.split("\n", 1)[0]
                assert ("elf: static executable" in p.stdout) == static, p.stdout


# ------------------------------------------------------- (a) the exec at a chosen point
@pytest.fixture
def on_command():
    child = ExecLoop(0)  # execs when told
    yield child
    child.close()


def exec_when(monkeypatch, loop: ExecLoop, module, attr: str, when, times: int = 1):
    """Wrap module.attr so that the process execs (for real, and memlab waits until the
    new image runs) right before the call `when(*args)` picks, `times` times."""
    real = getattr(module, attr)
    left = [times]

    def wrapped(*args, **kwargs):
        if left[0] and when(*args):
            left[0] -= 1
            loop.exec_now()
        return real(*args, **kwargs)

    monkeypatch.setattr(module, attr, wrapped)
    return left


def reading(name: str):
    return lambda pid, what, *rest: what == name


POINTS = {
    # after stat, before maps: stat of one image, maps of the next
    "maps": (collect, "read_proc_file", reading("maps")),
    # after maps, before environ
    "environ": (collect, "read_proc_file", reading("environ")),
    # the stack window: memory read at the old image's startstack
    "memory": (MemReader, "read_partial", lambda *args: True),
    # the ELF: /proc/PID/exe opened after the maps were read (for `memlab elf`, after
    # the snapshot was taken)
    "elf": (procfs_exe, "stat_exe", lambda *args: True),
}


@requires_root
@pytest.mark.parametrize("kind, point", [(k, p) for k in COMMANDS for p in POINTS
                                         if p != "elf" or k in OPENS_EXE])
def test_one_exec_at_each_point_gives_the_new_image(on_command, monkeypatch, kind, point):
    """An exec placed inside the read: the result is the image that runs now, whole."""
    clear_cache()
    module, attr, when = POINTS[point]
    left = exec_when(monkeypatch, on_command, module, attr, when)
    code, out, err = cli(*COMMANDS[kind], str(on_command.pid))
    assert left == [0], "the exec was not triggered"
    assert check_run(kind, on_command.pid, code, out, err), err
    d = json.loads(out)
    now = sample("execloop-static" if on_command.report["static"] else "execloop")
    assert d["exe"] == now


@requires_root
@pytest.mark.parametrize("kind", list(COMMANDS))
def test_an_exec_at_every_attempt_is_one_line_exit_3(on_command, monkeypatch, kind):
    """A process that execs during every read: memlab gives up with the one line."""
    clear_cache()
    exec_when(monkeypatch, on_command, collect, "read_proc_file", reading("maps"),
              times=collect.READ_ATTEMPTS)
    code, out, err = cli(*COMMANDS[kind], str(on_command.pid))
    assert_exec_error(code, out, err, on_command.pid)
    assert out == ""


def test_mem_reader_opened_before_an_exec(on_command):
    """/proc/PID/mem keeps the mm it was opened on (fs/proc/base.c proc_mem_open);
    after the exec it reads nothing: that is an exec, not a vanished process."""
    stack = next(r for r in read_maps(on_command.pid) if r.path == "[stack]")
    with MemReader(on_command.pid, method="pread") as mem:
        assert len(mem.read(stack.end - 8, 8)) == 8
        on_command.exec_now()
        with pytest.raises(ExecDuringRead) as err:
            mem.read(stack.end - 8, 8)
    assert err.value.exit_code == EXIT_NO_SUCH_PROCESS
    assert EXEC_MESSAGE in str(err.value)


def test_exec_fields_change_at_every_exec(on_command):
    """What snapshot() compares: the exec-time address fields of stat."""
    before = exec_fields(read_stat(on_command.pid))
    assert exec_fields(read_stat(on_command.pid)) == before
    on_command.exec_now()
    assert exec_fields(read_stat(on_command.pid)) != before


# --------------------------------------------------------------------- (b) leader exit
class LeaderExit(Child):
    def __init__(self, secret: str, user: int | None = None):
        def drop():
            if user is not None:
                os.setgroups([])
                os.setresgid(user, user, user)
                os.setresuid(user, user, user)

        super().__init__([sample("leaderexit")],
                         {"PATH": "/usr/bin:/bin", "DB_PASSWORD": secret},
                         preexec_fn=drop)
        self.report = self.line()
        self.tid = self.report["tid"]
        wait_until(lambda: read_stat(self.pid).state == "Z",  # the leader's exit completes
                   what="the main thread to become Z")


@pytest.fixture
def leader_gone():
    secret = "moving-" + secrets.token_hex(12)
    child = LeaderExit(secret)
    yield child, secret
    child.close()


def test_leader_exited_is_not_a_zombie(leader_gone):
    child, secret = leader_gone
    assert [e.value for e in read_environ(child.pid) if e.name == "DB_PASSWORD"] == [secret]
    assert live_thread(child.pid) == child.tid
    assert not has_mm(child.pid) and has_mm(child.pid, child.tid)
    maps = read_maps(child.pid)
    assert any(r.path == sample("leaderexit") for r in maps)
    assert readlink_proc(child.pid, "exe") == sample("leaderexit")
    stack = next(r for r in maps if r.path == "[stack]")
    for method in ("vm_readv", "pread"):
        with MemReader(child.pid, maps, method=method) as mem:
            assert len(mem.read(stack.end - 8, 8)) == 8
    assert f"thread {child.tid}" in explain_empty(child.pid)


def test_leader_exited_cli_env_inspect_stack(leader_gone):
    child, secret = leader_gone
    honest = f"read through thread {child.tid}"
    p = memlab("env", "--json", str(child.pid))
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert [e["name"] for e in d["env"]["entries"]] == ["PATH", "DB_PASSWORD"]
    assert secret not in p.stdout  # masked, as ever
    assert any(honest in w for w in d["warnings"])
    p = memlab("env", str(child.pid))
    assert p.returncode == 0 and "DB_PASSWORD" in p.stdout and honest in p.stdout
    for args in (("inspect", "--json"), ("inspect", "--elf", "--json")):
        p = memlab(*args, str(child.pid))
        assert p.returncode == 0, p.stderr
        d = json.loads(p.stdout)
        assert d["main_thread_exited"] == {"read_through_tid": child.tid}
        assert any(honest in w for w in d["warnings"])
        check_stack(d)
        assert d["env"]["matches_proc_environ"] is True
        assert any(r["path"] == sample("leaderexit") for r in d["regions"])
    assert d["elf"]["available"] and d["elf"]["bias"]["consistent"] is True
    p = memlab("stack", str(child.pid))
    assert p.returncode == 0 and "AT_EXECFN" in p.stdout, p.stderr


def test_leader_exited_audit_finds_the_secret(leader_gone):
    child, secret = leader_gone
    report = audit([child.pid])
    assert [(f.pid, f.variable) for f in report.findings] == [(child.pid, "DB_PASSWORD")]
    assert report.vanished == 0 and report.scanned == 1
    p = memlab("audit", "--json")
    assert p.returncode in (0, 5), p.stderr
    found = [f for f in json.loads(p.stdout)["findings"] if f["pid"] == child.pid]
    assert [f["variable"] for f in found] == ["DB_PASSWORD"]
    assert secret not in p.stdout


def _own_audit(pid: int) -> tuple:
    report = audit([pid])
    return ([(f.variable, f.readers.dumpable) for f in report.findings],
            report.vanished, report.denied)


@requires_root
def test_leader_exited_read_and_audited_by_its_own_user():
    """The owner reads and audits its own process: the /proc/PID files of a main thread
    without an mm are root's (fs/proc/base.c task_dump_owner), the live thread's are the
    owner's: env and stack work, the secret is found and the process called dumpable."""
    child = LeaderExit("moving-" + secrets.token_hex(12), user=NOBODY)
    try:
        assert run_as(NOBODY, _own_audit, child.pid) == ([("DB_PASSWORD", True)], 0, 0)
        p = memlab("env", "--json", str(child.pid), user=NOBODY)
        assert p.returncode == 0, p.stderr
        assert [e["name"] for e in json.loads(p.stdout)["env"]["entries"]] == \
            ["PATH", "DB_PASSWORD"]
        p = memlab("stack", "--json", str(child.pid), user=NOBODY)
        assert p.returncode == 0, p.stderr
        check_stack(json.loads(p.stdout))
    finally:
        child.close()


def test_a_real_zombie_is_still_a_zombie():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        wait_until(lambda: read_stat(pid).state == "Z", what=f"child {pid} a zombie")
        assert live_thread(pid) is None
        with pytest.raises(ZombieProcess):
            collect.snapshot(pid)
        code, _, err = cli("env", str(pid))
        assert code == 3 and "zombie" in err
    finally:
        os.waitpid(pid, 0)


# ------------------------------------------------------- (c) on captured /proc data
def stat_of(name: str):
    """(ProcStat, fields) of a captured stat; fields[n - 1] is field n (split_stat)."""
    data = (DATA / name).read_bytes()
    return parse_stat(data), split_stat(data)[2]


def test_captured_exec_changes_every_exec_field_but_not_the_pid():
    """One execloop process before and after one exec (tests/data/README.md): the pid
    and the start time stay, the exec-time address fields all move."""
    (pie, pie_fields), (static, static_fields) = (stat_of("stat_execloop_pie.txt"),
                                                  stat_of("stat_execloop_static.txt"))
    assert pie.pid == static.pid and pie_fields[22 - 1] == static_fields[22 - 1]  # starttime
    assert exec_fields(pie) != exec_fields(static)
    assert all(a != b for a, b in zip(exec_fields(pie), exec_fields(static)))
    assert exec_fields(pie) == exec_fields(pie._replace(state="R", comm="x", ppid=1))


def test_captured_leader_exited_looks_like_a_zombie_to_stat():
    """/proc/PID/stat of a process whose main thread exited says what a zombie's says
    (state Z, no mm): only its other threads (/proc/PID/task/TID) tell them apart --
    and field 20, num_threads, which still counts them."""
    leader, leader_fields = stat_of("stat_leader_exited.txt")
    zombie, zombie_fields = stat_of("stat_zombie.txt")
    task, task_fields = stat_of("stat_leader_exited_task.txt")
    for dead in (leader, zombie):
        assert dead.is_zombie and not dead.has_mm and set(exec_fields(dead)) == {0}
    assert int(leader_fields[20 - 1]) == 2 and int(zombie_fields[20 - 1]) == 1
    assert not task.is_zombie and task.has_mm and task.pid != leader.pid
    assert int(task_fields[20 - 1]) == 2 and task.comm == leader.comm


def test_captured_half_built_exec_is_not_settled():
    """stat read while execve builds the new image (tests/data/README.md): start_code
    is still 0 while the argument (and maybe env) fields are set, start_stack points at
    the strings, not at argc.  snapshot() must not take such a layout for a program."""
    for name in ("stat_mid_exec_args.txt", "stat_mid_exec_env.txt"):
        mid, fields = stat_of(name)
        assert mid.state == "R" and mid.start_code == 0 and mid.arg_start != 0
        assert not mid.masked and not exec_settled(mid)
        assert int(fields[23 - 1]) != 0  # vsize: there is an mm (procfs._io.has_mm)
    assert stat_of("stat_mid_exec_env.txt")[0].env_end != 0
    for done in ("stat_execloop_pie.txt", "stat_execloop_static.txt",
                 "stat_leader_exited_task.txt", "stat_masked.txt"):
        assert exec_settled(stat_of(done)[0]), done
