"""Every cell of the access matrix, against the real kernel (root here and in CI; the
other-uid and same-uid rows are observers that dropped to that uid, in process)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from memlab.exposure import matrix
from memlab.exposure.matrix import OTHER_UID, VICTIM_UID, access_matrix, plan_rows
from memlab.exposure.observers import CHANNELS, Identity, Target, observe
from tests.exposure.conftest import requires_root, yama_scope
from tests.helpers import NOBODY, gone, run_as, wait_until

S, R, M = "SECRET", "read", "masked"
ATTACH_SAME_UID = S if yama_scope() == 0 else "EPERM"  # Yama refuses non-descendants
EXPECTED = {
    #                  environ   cmdline stat maps      auxv      mem        vm_readv  file
    "same_uid":        (S,        R,      R,   R,        R,        S,         S,        S),
    "other_uid":       ("EACCES", R,      M,   "EACCES", "EACCES", "EACCES",  "EPERM",  "EACCES"),
    "root":            (S,        R,      R,   R,        R,        S,         S,        S),
    "same_uid_nodump": ("EACCES", R,      M,   "EACCES", "EACCES", "EACCES",  "EPERM",  S),
}
if yama_scope():
    EXPECTED["same_uid"] = EXPECTED["same_uid"][:5] + ("EACCES", "EPERM", S)

CELLS = [(row, ch, want) for row, wants in EXPECTED.items()
         for ch, want in zip(CHANNELS, wants)]


@pytest.mark.parametrize("row,channel,want", CELLS,
                         ids=[f"{r}-{c}" for r, c, _ in CELLS])
def test_every_cell_of_the_demo_matrix(demo_matrix, row, channel, want):
    cell = demo_matrix.cell(row, channel)
    assert cell is not None, f"row {row} was skipped: {demo_matrix.row(row).skipped}"
    assert cell.verdict == want, cell
    if want.startswith("E"):
        assert not cell.ok
        assert cell.errno == getattr(errno, want)  # the kernel's own number
        assert cell.secret_found is None
    else:
        assert cell.ok
    if channel in ("environ", "mem", "process_vm_readv", "file") and cell.ok:
        assert cell.secret_found is True
    if channel == "cmdline":
        assert cell.secret_found is False  # the secret is in env, not argv


def test_observers_ran_as_the_uid_of_their_row(demo_matrix):
    uids = {r.key: r.uid for r in demo_matrix.rows}
    assert uids == {"same_uid": VICTIM_UID, "other_uid": OTHER_UID, "root": 0,
                    "same_uid_nodump": VICTIM_UID}
    assert demo_matrix.victim.uid == VICTIM_UID
    assert demo_matrix.victim.dumpable is True
    assert demo_matrix.victim.secret_names == ("DB_PASSWORD",)
    assert demo_matrix.skipped == []
    assert any("0711" in n for n in demo_matrix.notes)  # the file-mode explanation


@requires_root
def test_cells_match_what_the_kernel_tells_a_plain_open_as_nobody():
    """Cross-check the observer against run_as + os.open (no memlab code in between)."""
    from memlab.exposure.matrix import demo_victims

    def errno_of_open(path: str) -> int | None:
        try:
            os.close(os.open(path, os.O_RDONLY))
        except OSError as err:
            return err.errno
        return None

    with demo_victims() as v:
        pid = v.main.pid
        m = access_matrix(pid, secret=matrix.DEMO_SECRET, file=v.file,
                          rows=["other_uid"])
        for channel, name in (("environ", "environ"), ("maps", "maps"),
                              ("auxv", "auxv"), ("mem", "mem")):
            direct = run_as(NOBODY, errno_of_open, f"/proc/{pid}/{name}")
            assert m.cell("other_uid", channel).errno == direct == errno.EACCES
        assert m.cell("other_uid", "file").errno == run_as(NOBODY, errno_of_open, v.file)
        # ... and the same uid opens them all.
        for name in ("environ", "maps", "auxv", "mem"):
            assert run_as(VICTIM_UID, errno_of_open, f"/proc/{pid}/{name}") is None


@requires_root
def test_existing_root_process_matrix_says_same_uid_is_root():
    from memlab.launch import launch

    with launch("sleeper", env=[b"API_TOKEN=tok-123456"], hold="ready") as p:
        m = access_matrix(p.pid)  # secret: the value of its secret-looking variable
        assert m.victim.secret_names == ("API_TOKEN",)
        assert m.cell("same_uid", "environ").verdict == "SECRET"
        assert m.cell("other_uid", "environ").errno == errno.EACCES
        assert m.cell("root", "mem").secret_found is True
        assert m.cell("same_uid", "file") is None  # no file given: no file channel
        assert "file" not in m.channels
        assert m.row("same_uid_nodump") is None
        assert any("victim runs as root" in n for n in m.notes)


@requires_root
def test_row_subset_for_the_tui():
    from memlab.launch import launch

    with launch("sleeper", env=[b"DB_PASSWORD=pw-777"], hold="ready") as p:
        m = access_matrix(p.pid, rows=["same_uid", "other_uid"], channels=["environ"])
        assert [r.key for r in m.rows] == ["same_uid", "other_uid"]
        assert [c.channel for r in m.rows for c in r.cells] == ["environ", "environ"]


def test_unknown_row_or_channel_is_a_usage_error():
    from memlab.errors import UsageError

    with pytest.raises(UsageError):
        access_matrix(os.getpid(), rows=["bogus"])
    with pytest.raises(UsageError):
        access_matrix(os.getpid(), channels=["bogus"])


# --------------------------------------------------------------- never escalate
def test_plan_as_non_root_skips_what_needs_root_and_says_why():
    rows = {k: (ident, why) for k, _l, ident, why in plan_rows(1000, nodump=True, me=1000)}
    assert rows["same_uid"] == (Identity(), None)  # runs as itself
    assert rows["same_uid_nodump"] == (Identity(), None)
    assert rows["other_uid"][0] is None and "needs root" in rows["other_uid"][1]
    assert rows["root"][0] is None and "not root" in rows["root"][1]


def test_plan_as_non_root_against_another_users_process():
    rows = {k: (ident, why) for k, _l, ident, why in plan_rows(0, me=1000)}
    assert rows["same_uid"][0] is None and "never escalates" in rows["same_uid"][1]
    assert rows["other_uid"] == (Identity(), None)  # memlab itself is the other uid


def test_plan_picks_another_other_uid_when_the_victim_is_nobody():
    keys = {k: ident for k, _l, ident, _w in plan_rows(OTHER_UID, me=0)}
    assert keys["other_uid"].uid == OTHER_UID - 1


def _environ_has(pid: int, name: bytes) -> bool:
    try:
        return name in Path(f"/proc/{pid}/environ").read_bytes()
    except PermissionError:
        return False


@requires_root
def test_unprivileged_memlab_runs_only_its_own_rows():
    """memlab run as nobody (a forked child that dropped to 65534) against its own
    process: same uid runs, other uid and root are skipped, nothing raises."""
    def as_nobody():
        import subprocess

        child = subprocess.Popen(["/bin/sleep", "30"], env={"DB_PASSWORD": "nb-secret"})
        try:
            # Popen returns when the exec has replaced the mm (fs/exec.c exec_mmap wakes
            # the vfork parent), before begin_new_exec makes the new mm dumpable and
            # load_elf_binary sets env_start: until then /proc/PID/environ is root's
            # (EACCES) or empty, and access_matrix would find no secret.
            wait_until(lambda: _environ_has(child.pid, b"DB_PASSWORD"), interval=0.001,
                       what="sleep's environ")
            m = access_matrix(child.pid)
            return ({r.key: (r.skipped is None) for r in m.rows},
                    m.cell("same_uid", "environ").verdict)
        finally:
            child.kill()
            child.wait()

    ran, verdict = run_as(NOBODY, as_nobody)
    assert ran == {"same_uid": True, "other_uid": False, "root": False}
    assert verdict == "SECRET"


def test_observer_refuses_to_switch_uid_without_root():
    if os.geteuid() == 0:
        result = run_as(NOBODY, _try_switch)
    else:
        result = _try_switch()
    assert result == "PermissionError"


def _try_switch():
    try:
        observe(Target(pid=os.getpid()), Identity(0, 0))
    except PermissionError:
        return "PermissionError"
    return "switched"


@requires_root
def test_demo_as_an_unprivileged_user_runs_its_rows_and_skips_the_rest():
    """`memlab exposure demo` run by a normal user (here: a child dropped to nobody):
    victims run as that user; same-uid rows run, other-uid and root rows are skipped."""
    from memlab.errors import LaunchError

    def as_nobody():
        m = matrix.demo()
        return ({r.key: r.skipped for r in m.rows},
                {r.key: {c.channel: c.verdict for c in r.cells} for r in m.rows},
                m.victim.uid)

    try:
        skipped, verdicts, uid = run_as(NOBODY, as_nobody)
    except LaunchError as err:  # the repo is not executable by nobody (under /root)
        pytest.skip(f"sample not executable as nobody: {err}")
    assert uid == NOBODY
    assert skipped["same_uid"] is None and skipped["same_uid_nodump"] is None
    assert "needs root" in skipped["other_uid"] and "not root" in skipped["root"]
    assert verdicts["same_uid"]["environ"] == "SECRET"
    assert verdicts["same_uid_nodump"]["environ"] == "EACCES"
    assert verdicts["same_uid_nodump"]["file"] == "SECRET"


def test_matrix_from_a_worker_thread_like_the_tui():
    """The TUI calls access_matrix from a thread worker: observers fork from that
    thread (nothing imported in the child) and report back the same way."""
    import threading

    from memlab.launch import launch

    with launch("sleeper", env=[b"DB_PASSWORD=thread-pw"], hold="ready") as p:
        out = {}
        t = threading.Thread(target=lambda: out.update(
            m=access_matrix(p.pid, rows=["same_uid"], channels=["environ", "mem"])))
        t.start()
        t.join(30)
        cells = {c.channel: c.verdict for c in out["m"].row("same_uid").cells}
        assert cells == {"environ": "SECRET", "mem": "SECRET"}


def test_kernel_thread_reads_empty_not_denied():
    m = access_matrix(2, rows=["same_uid"])  # kthreadd
    row = m.row("same_uid")
    if row.skipped:
        pytest.skip(row.skipped)  # not root: kthreadd is root's
    verdicts = {c.channel: c.verdict for c in row.cells}
    assert verdicts["environ"] == "empty" and verdicts["maps"] == "empty"
    assert verdicts["mem"] == "n/a"
    assert any("kernel thread" in n for n in m.notes)


def test_zombie_has_nothing_to_observe():
    from memlab.errors import ZombieProcess

    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        wait_until(lambda: gone(pid), what=f"child {pid} a zombie")  # ours: not reaped
        with pytest.raises(ZombieProcess):
            access_matrix(pid)
    finally:
        os.waitpid(pid, 0)


def test_demo_leaves_nothing_behind(demo_matrix):
    """The victims are killed and the private directory with the 0400 file removed."""
    import glob

    from memlab.exposure.matrix import demo_victims

    with demo_victims() as v:
        pids, directory = (v.main.pid, v.nodump.pid), v.directory
        assert oct(os.stat(directory).st_mode & 0o777) == "0o711"
        assert oct(os.stat(v.file).st_mode & 0o777) == "0o400"
    assert not os.path.exists(directory)
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}")
    assert demo_matrix.victim.file not in glob.glob("/tmp/memlab-exposure-*/*")


@requires_root
def test_an_observer_as_another_uid_is_a_separate_python_process(monkeypatch):
    """observe() runs `python -m memlab.exposure.observer_process`: a new process (not a
    fork of memlab: its exe is the interpreter, its argv names the module), leading its
    own process group, that reports the uid it dropped to."""
    import subprocess
    import sys

    from memlab.exposure import observers

    seen = {}

    class Watched(subprocess.Popen):
        def communicate(self, *args, **kwargs):
            # The observer is alive here: it waits for its job on stdin.
            seen["exe"] = os.readlink(f"/proc/{self.pid}/exe")
            with open(f"/proc/{self.pid}/cmdline", "rb") as f:
                seen["argv"] = f.read().split(b"\0")[:-1]
            seen["pgid"] = os.getpgid(self.pid)
            seen["pid"] = self.pid
            return super().communicate(*args, **kwargs)

    monkeypatch.setattr(observers.subprocess, "Popen", Watched)
    result = observe(Target(pid=os.getpid()), Identity(NOBODY, NOBODY), observer="x",
                     channels=["environ", "cmdline"])
    assert result.error is None and result.uid == NOBODY
    assert seen["exe"] == os.path.realpath(sys.executable)
    assert seen["pid"] != os.getpid() and seen["pgid"] == seen["pid"]
    assert b"memlab.exposure.observer_process" in seen["argv"]
    verdicts = {c.channel: c.verdict for c in result.cells}
    assert verdicts == {"environ": "EACCES", "cmdline": "read"}
