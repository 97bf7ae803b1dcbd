"""memlab audit: exactly the planted secrets, over hundreds of real processes, some of
which exit or are killed while the scan runs."""

from __future__ import annotations

import os
import signal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memlab.exposure import audit as audit_mod
from memlab.exposure.audit import audit, finding_reason, scan_block
from tests.exposure.conftest import requires_root
from tests.helpers import NOBODY, gone, run_as, wait_until

SLEEP = "/bin/sleep"
JWT = b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpM"


# --------------------------------------------------------------- pure rules
@pytest.mark.parametrize("name,value,why", [
    (b"DB_PASSWORD", b"x", "name contains PASSWORD"),
    (b"mysql_passwd", b"x", "name contains PASSWORD"),
    (b"CLIENT_SECRET", b"x", "name contains SECRET"),
    (b"GITHUB_TOKEN", b"x", "name contains TOKEN"),
    (b"STRIPE_API_KEY", b"x", "name ends in KEY"),
    (b"AWS_ACCESS_KEY_ID", b"AKIAABCDEFGHIJKLMNOP", "name starts with AWS_"),
    (b"BLOB", JWT, "value is shaped like a credential"),
    (b"DATABASE_URL", b"postgres://u:pw@db/x", "value is shaped like a credential"),
])
def test_findings(name, value, why):
    assert finding_reason(name, value) == why


@pytest.mark.parametrize("name,value", [
    (b"AWS_REGION", b"eu-west-1"),  # configuration, not a credential
    (b"DB_PASSWORD", b""),  # empty: nothing exposed
    (b"XDG_SESSION_ID", b"3"),  # masked on screen, but not an audit finding
    (b"KEYBOARD", b"us"),
    (b"PATH", b"/usr/bin"),
])
def test_not_findings(name, value):
    assert finding_reason(name, value) is None


entries = st.lists(st.tuples(
    st.sampled_from([b"DB_PASSWORD", b"PATH", b"AWS_REGION", b"AWS_SECRET", b"X_KEY",
                     b"KEYS", b"token", b"HOME", b"A"]) | st.binary(max_size=12),
    st.sampled_from([b"", b"1", JWT, b"AKIAABCDEFGHIJKLMNOP", b"ghp_" + b"a" * 36,
                     b"https://u:p@h/", b"plain"]) | st.binary(max_size=20)),
    max_size=12)


@given(entries)
def test_prefilter_never_hides_a_finding(items):
    """The whole-block prefilter is an optimisation only: same answer as checking every
    entry one by one (and never an exception, whatever the bytes)."""
    block = b"\0".join(n.replace(b"\0", b"") + b"=" + v.replace(b"\0", b"")
                       for n, v in items)
    slow = []
    for raw in block.split(b"\0"):
        n, eq, v = raw.partition(b"=")
        if eq and finding_reason(n, v):
            slow.append(n.decode("utf-8", "backslashreplace"))
    assert [f[0] for f in scan_block(block)] == slow


# --------------------------------------------------------------- real processes
def spawn(env: dict[str, str], seconds: str = "600") -> int:
    return os.posix_spawn(SLEEP, ["sleep", seconds], env)


def reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def execd_sleep(pid: int) -> bool:
    """pid runs sleep now (or is gone: nothing to wait for)."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() == "sleep"
    except OSError:
        return True


@pytest.fixture
def crowd():
    """500 sleeping processes: every 7th with a password, every 11th with a JWT-shaped
    value under a harmless name, every 13th with AWS_REGION only (not a finding); plus 40
    short sleepers (half with a secret) that exit while the scan runs."""
    pids: list[int] = []
    planted: dict[int, set[str]] = {}
    short: set[int] = set()
    try:
        for i in range(500):
            env = {"PATH": "/usr/bin", "INDEX": str(i)}
            want = set()
            if i % 7 == 0:
                env[f"DB_PASSWORD_{i}"] = f"pw-{i}"
                want.add(f"DB_PASSWORD_{i}")
            if i % 11 == 0:
                env["BLOB"] = JWT.decode()
                want.add("BLOB")
            if i % 13 == 0:
                env["AWS_REGION"] = "eu-west-1"
            pid = spawn(env)
            pids.append(pid)
            planted[pid] = want
        for i in range(40):
            env = {"INDEX": f"s{i}"}
            if i % 2:
                env["API_TOKEN"] = f"t{i}"
            pid = spawn(env, f"0.0{i % 10}")
            pids.append(pid)
            short.add(pid)
            planted[pid] = {"API_TOKEN"} if i % 2 else set()
        # Every sleeper has exec'd (environ then holds the planted env, not ours).
        for pid in pids:
            if pid not in short:
                wait_until(lambda pid=pid: execd_sleep(pid), interval=0.001,
                           what=f"pid {pid} to exec sleep")
        yield pids, planted, short
    finally:
        for pid in pids:
            reap(pid)


def test_audit_finds_exactly_the_planted_secrets_while_processes_die(crowd):
    pids, planted, short = crowd
    ours = set(pids)
    order = sorted(p for p in pids if p not in short)
    # Killed from inside the scan, before the scanner reaches them: some reaped (gone,
    # ENOENT) and some left as zombies (empty environ) -- both must count as vanished.
    doomed_reaped = set(order[-60::3])
    doomed_zombie = set(order[-59::3])
    killed = False

    def progress(done: int, total: int, pid: int) -> None:
        nonlocal killed
        if not killed and pid in ours:
            killed = True
            for victim in doomed_reaped:
                reap(victim)
            for victim in doomed_zombie:
                os.kill(victim, signal.SIGKILL)
            # let SIGKILL land: the zombies must be zombies
            wait_until(lambda: all(gone(v) for v in doomed_zombie), what="the killed zombies")

    report = audit(progress=progress)
    assert killed
    found: dict[int, set[str]] = {}
    for f in report.findings:
        if f.pid in ours:
            found.setdefault(f.pid, set()).add(f.variable)
            assert f.variable in planted[f.pid]  # never a false positive
            assert f.user == "root" and f.name == "sleep"
    for pid, want in planted.items():
        if pid in doomed_reaped or pid in doomed_zombie:
            assert pid not in found
        elif pid in short:
            assert found.get(pid, set()) <= want  # found only if scanned before exit
        else:
            assert found.get(pid, set()) == want, pid
    assert report.vanished >= len(doomed_reaped) + len(doomed_zombie)
    assert report.scanned >= len(order) - len(doomed_reaped) - len(doomed_zombie)
    assert report.errors == []
    # Readers: root processes, read by root only; the JSON never carries a value.
    d = report.to_dict()
    assert all(f["value"] == "***" for f in d["findings"])
    assert "pw-7" not in str(d)


@requires_root
def test_audit_as_nobody_counts_denials_and_finds_nothing_of_roots(crowd):
    pids, _planted, _short = crowd
    report = run_as(NOBODY, audit)
    assert report.denied >= 500  # the long sleepers are root's: refused, counted
    assert not {f.pid for f in report.findings} & set(pids)
    assert report.uid == NOBODY


@requires_root
def test_readers_same_uid_and_dumpable():
    from memlab.exposure.matrix import VICTIM_UID, demo_victims

    with demo_victims() as v:
        report = audit(pids=[v.main.pid, v.nodump.pid])
        by_pid = {f.pid: f for f in report.findings}
        main, nodump = by_pid[v.main.pid], by_pid[v.nodump.pid]
        assert main.uid == VICTIM_UID and main.readers.dumpable is True
        assert main.readers.same_uid_processes >= 1  # the non-dumpable twin
        assert "any process of uid 1000" in main.readers.summary
        assert nodump.readers.dumpable is False
        assert nodump.readers.summary.startswith("root only")


def test_kernel_threads_are_counted_empty_not_errors():
    report = audit(pids=[2])  # kthreadd
    assert report.empty == 1 and report.errors == [] and report.scanned == 0


def test_exclude_self_by_default():
    report = audit(pids=[os.getpid()])
    assert report.total == 0
    assert audit_mod.audit(pids=[os.getpid()], exclude_self=False).scanned == 1
