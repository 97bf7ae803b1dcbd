"""No survivors: whatever memlab starts dies with it, however memlab ends.

memlab is SIGKILLed (no handler runs, no finalizer) or killed by SIGPIPE (`| head -1`)
at a few points: right after it started its child, and once the child's own children
run.  Children are `sh -c 'sleep MARKER; :'` (sleep is a grandchild: PR_SET_PDEATHSIG
does not reach it) and a set-user-ID copy of sleep (its execve clears PDEATHSIG:
fs/exec.c begin_new_exec).  MARKER is a sleep duration no one else uses; the test then
scans /proc/*/cmdline for it until nothing alive carries it (memlab.reaper).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.conftest import requires_root
from tests.helpers import NOBODY, REPO, wait_until

MEMLAB = str(Path(sys.executable).with_name("memlab"))
VOLUME_POD = REPO / "memlab" / "k8s" / "examples" / "volume-pod.yaml"
SURVIVAL = 10.0  # how long the test waits for the marked processes to go


def new_marker() -> str:
    """A sleep duration no other process on the machine has in its argv."""
    return f"{random.randint(3000, 8999)}.{random.randint(100000, 999999)}"


def marked(marker: str) -> list[int]:
    """The live (not zombie) processes whose argv contains `marker`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != b"Z":
            found.append(int(name))
    return found


def cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ")
    except OSError:
        return b""


def running_sleep(marker: str) -> bool:
    """The marked sleep itself runs (not just the shell that will start it)."""
    for pid in marked(marker):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv[-2:] == [marker.encode(), b""] and os.path.basename(argv[0]) != b"sh":
            return True
    return False


def reaper_of(session: int) -> list[int]:
    """memlab's reaper for a memlab that ran in `session` (its argv[4])."""
    out = []
    for pid in marked("memlab/reaper.py"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if len(argv) > 4 and argv[4] == str(session).encode():
            out.append(pid)
    return out


@pytest.fixture
def marker():
    """A fresh marker; whatever still carries it at the end is killed (by pid: only
    our own processes carry it), so a failing test leaves nothing behind."""
    value = new_marker()
    yield value
    for pid in marked(value):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def assert_no_survivors(marker: str, memlab: subprocess.Popen) -> None:
    memlab.wait(timeout=SURVIVAL)
    wait_until(lambda: not marked(marker), SURVIVAL,
               what=lambda: f"memlab ended ({memlab.returncode}) and left "
                            f"{marked(marker)} running")
    # the reaper (memlab ran as a session leader: session == its pid) is gone too
    wait_until(lambda: not reaper_of(memlab.pid), SURVIVAL, what="the reaper to end with its job")


def start(argv: list[str], **kw) -> subprocess.Popen:
    """memlab in a session of its own (its pid is its session id: reaper_of)."""
    return subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, **kw)


def first_line(proc: subprocess.Popen) -> bytes:
    line = proc.stdout.readline()
    assert line, f"memlab printed nothing (exit {proc.poll()})"
    return line


@pytest.fixture
def setuid_sleep(tmp_path) -> str:
    """A set-user-ID (uid 65534) copy of sleep, in a directory others can traverse."""
    d = tmp_path / "suid"
    d.mkdir(mode=0o755)
    tmp_path.chmod(0o755)
    path = d / "sleep"
    shutil.copy(shutil.which("sleep"), path)
    os.chown(path, NOBODY, NOBODY)
    path.chmod(0o4755)
    return str(path)


# --------------------------------------------------------------------------- launch()
LIBRARY = textwrap.dedent("""
    import sys, time
    from memlab.launch import launch
    child = launch(sys.argv[1], sys.argv[2:], hold="none")
    print(child.pid, flush=True)
    time.sleep(600)  # memlab's library user stays up until the test kills it
""")


def sh_sleep(marker: str) -> list[str]:
    return ["/bin/sh", "-c", f"sleep {marker}; :"]


def test_sigkill_of_a_library_user_kills_the_grandchild(marker):
    memlab = start([sys.executable, "-c", LIBRARY, *sh_sleep(marker)])
    first_line(memlab)
    wait_until(lambda: running_sleep(marker), SURVIVAL, what="the marked sleep to run")
    memlab.kill()
    assert_no_survivors(marker, memlab)


@requires_root
def test_sigkill_of_a_library_user_kills_a_setuid_child(marker, setuid_sleep):
    memlab = start([sys.executable, "-c", LIBRARY, setuid_sleep, marker])
    first_line(memlab)
    wait_until(lambda: running_sleep(marker), SURVIVAL, what="the marked sleep to run")
    memlab.kill()
    assert_no_survivors(marker, memlab)


# --------------------------------------------------------------------------- k8s run
def pod_manifest(tmp_path: Path, command: list[str]) -> str:
    """The volume example pod (and its ConfigMap), running `command` instead."""
    docs = list(yaml.safe_load_all(VOLUME_POD.read_text()))
    pod = next(d for d in docs if d["kind"] == "Pod")
    pod["spec"]["containers"][0]["command"] = command
    path = tmp_path / "pod.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def k8s_run(tmp_path: Path, command: list[str], simulate: bool = False) -> list[str]:
    return [MEMLAB, "k8s", "run", pod_manifest(tmp_path, command),
            "--pod-dir", str(tmp_path / "pod"), *(["--simulate"] if simulate else [])]


@pytest.mark.parametrize("when", ["started", "running"])
def test_sigkill_of_k8s_run_kills_the_container_processes(tmp_path, marker, when):
    memlab = start(k8s_run(tmp_path, ["sh", "-c", f"sleep {marker}; :"]))
    first_line(memlab)  # printed once the process is started
    if when == "running":
        wait_until(lambda: running_sleep(marker), SURVIVAL, what="the marked sleep to run")
    memlab.kill()
    assert_no_survivors(marker, memlab)


@requires_root
def test_sigkill_of_k8s_run_kills_a_setuid_container(tmp_path, marker, setuid_sleep):
    # a host program: the simulation runs it (a runtime's rootfs does not have it)
    memlab = start(k8s_run(tmp_path, [setuid_sleep, marker], simulate=True))
    first_line(memlab)
    wait_until(lambda: running_sleep(marker), SURVIVAL, what="the marked sleep to run")
    memlab.kill()
    assert_no_survivors(marker, memlab)


def test_sigpipe_of_k8s_run_kills_the_container_processes(tmp_path, marker):
    """`memlab k8s run pod.yaml | head -1`: head exits, memlab's next line (the
    container's output, relayed) gets SIGPIPE."""
    argv = k8s_run(tmp_path, ["sh", "-c", f"sleep {marker} & "
                              "while :; do echo tick; sleep 0.05; done"])
    pipeline = " ".join(f"'{a}'" for a in argv) + " | head -1"
    memlab = start(["/bin/sh", "-c", pipeline])  # sh is memlab's session leader
    assert first_line(memlab).startswith(b"pod ")
    assert_no_survivors(marker, memlab)


# --------------------------------------------------------------------------- tui
@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_sigkill_of_the_tui_kills_the_grandchild(tmp_path, marker):
    from tests.tui.test_real_tui import Tmux

    # exec: the pane's process is memlab itself; tmux's own argv has no marker
    script = tmp_path / "tui.sh"
    script.write_text(f"exec {MEMLAB} tui --launch /bin/sh -- -c 'sleep {marker}; :'\n")
    tui = Tmux(f"sh {script}")
    try:
        wait_until(lambda: running_sleep(marker), SURVIVAL, what="the marked sleep to run")
        (memlab,) = [pid for pid in marked(marker) if b" tui " in cmdline(pid)]
        os.kill(memlab, signal.SIGKILL)
        wait_until(lambda: not marked(marker), SURVIVAL, what="the TUI's grandchild to end")
    finally:
        tui.kill()


# --------------------------------------------------------------------------- the reaper
def test_the_reaper_kills_only_groups_of_memlabs_session(marker):
    """Guard against a reused group id: a group of another session, or one whose
    members started before memlab, is not memlab's (memlab.reaper.live_groups)."""
    from memlab import reaper

    ours = subprocess.Popen(["sleep", marker], process_group=0)
    theirs = subprocess.Popen(["sleep", marker], start_new_session=True)
    try:
        wait_until(lambda: len(marked(marker)) == 2, SURVIVAL, what="two marked processes")
        me = reaper.proc_stat("self")
        session, since = me[2], me[3]
        wanted = {ours.pid, theirs.pid}
        assert reaper.live_groups(wanted, session, since) == {ours.pid}
        later = reaper.proc_stat(str(ours.pid))[3] + 1
        assert reaper.live_groups(wanted, session, later) == set()
        reaper.kill_groups(wanted, session, since)
        assert ours.wait(timeout=SURVIVAL) == -signal.SIGKILL
        assert theirs.poll() is None  # spared
    finally:
        for proc in (ours, theirs):
            proc.kill()
            proc.wait()


def test_the_reaper_kills_what_is_watched_when_its_pipe_closes(marker):
    """reaper.stop() closes the pipe as memlab's death does: the watched group dies."""
    from memlab import reaper
    from memlab.launch import launch

    with launch("/bin/sh", ["-c", f"sleep {marker}; :"], hold="none") as child:
        wait_until(lambda: running_sleep(marker), SURVIVAL, what="the marked sleep to run")
        reaper.stop()
        wait_until(lambda: not marked(marker), SURVIVAL, what="the marked processes to end")
        assert child.wait(SURVIVAL) == -signal.SIGKILL


@requires_root
def test_sigkill_of_a_uid_dropped_fork_kills_its_grandchild(marker):
    """A copy of root's memlab that dropped to nobody (who may not run root's python,
    under a 0700 /root here) gets the reaper in C (forked, no exec): SIGKILL is covered
    too."""
    from memlab.launch import launch  # imported as root: nobody may not read the stdlib

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            child = launch("/bin/sh", ["-c", f"sleep {marker}; :"], hold="none")
            os.write(w, b"x")
            signal.pause()
            child.kill()  # not reached: held until SIGKILL (a dropped Launched is killed)
        finally:
            os._exit(1)
    os.close(w)
    try:
        assert os.read(r, 1) == b"x"
        wait_until(lambda: running_sleep(marker), SURVIVAL, what="the marked sleep to run")
    finally:
        os.close(r)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    wait_until(lambda: not marked(marker), SURVIVAL, what="the grandchild to end")
