"""`exposure demo` as root against a process of the victim's uid planting symlinks.

The demo hands a directory over to the victim uid (memlab.exposure.demo_dir).  Another
process of that uid races it: for every demo directory it sees, it tries without pause
to plant a symlink where root puts the sample's copy, pointing at a root-only canary
file or into a root 0700 canary directory, for the whole of the demo.  Root must never
follow one: after many demos the canary is unchanged and the canary directory empty.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import stat
import tempfile
import time

import pytest

from memlab.exposure import matrix
from tests.conftest import requires_root

pytestmark = [requires_root,
              pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv")]

RUNS = 20
PLANTED = ("sleeper", matrix.DEMO_NAME.lower())  # what root creates in the directory


def attacker(base: str, canary_file: str, canary_dir: str) -> None:
    """The victim uid's loop (never returns): plant symlinks in each demo directory
    until it can, or until the directory is gone."""
    seen: set[str] = set()
    signal.alarm(300)  # never outlive a test run gone wrong
    while True:
        for d in glob.glob(os.path.join(base, "memlab-exposure-*")):
            if d in seen:
                continue
            seen.add(d)
            target = canary_file if len(seen) % 2 else os.path.join(canary_dir, "planted")
            while os.path.isdir(d):
                for name in PLANTED:
                    try:
                        os.symlink(target, os.path.join(d, name))
                    except OSError:
                        pass
        time.sleep(0.0005)  # the attacker's pace (racing root is the test), not a wait


def start_attacker(uid: int, *args: str) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            attacker(*args)
        finally:
            os._exit(0)
    return pid


@pytest.fixture
def shared_tmp(monkeypatch):
    """A private /tmp look-alike (root, 1777): the demo's directories go here, so the
    attacker races this test's demos only, not those of other tests running."""
    base = tempfile.mkdtemp(prefix="memlab-race-", dir="/tmp")
    os.chmod(base, 0o1777)
    monkeypatch.setattr(tempfile, "tempdir", base)
    yield base
    shutil.rmtree(base)


def test_a_symlink_planter_of_the_victim_uid_never_wins(tmp_path, shared_tmp):
    canary_dir = tmp_path / "canary-dir"
    canary_dir.mkdir(mode=0o700)
    canary = tmp_path / "canary-file"
    canary.write_bytes(b"root's own bytes\n")
    canary.chmod(0o600)
    before = canary.stat()
    pid = start_attacker(matrix.VICTIM_UID, shared_tmp, str(canary), str(canary_dir))
    try:
        for _ in range(RUNS):
            m = matrix.demo(timeout=10.0)
            assert m.row("same_uid").uid == matrix.VICTIM_UID
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    after = canary.stat()
    assert canary.read_bytes() == b"root's own bytes\n"
    assert (stat.S_IMODE(after.st_mode), after.st_uid, after.st_gid) == (
        0o600, before.st_uid, before.st_gid)
    assert list(canary_dir.iterdir()) == []
    assert glob.glob(os.path.join(shared_tmp, "memlab-exposure-*")) == []


def test_the_demo_directory_is_roots_and_not_writable_by_the_victim(shared_tmp):
    with matrix.demo_victims() as v:
        d = os.stat(v.directory)
        assert (d.st_uid, stat.S_IMODE(d.st_mode)) == (0, 0o711)
        exe = os.stat(os.path.join(v.directory, "sleeper"))
        assert (exe.st_uid, stat.S_IMODE(exe.st_mode)) == (0, 0o755)
        f = os.stat(v.file)
        assert (f.st_uid, stat.S_IMODE(f.st_mode)) == (matrix.VICTIM_UID, 0o400)


def test_the_demo_refuses_a_tmpdir_another_user_may_change(tmp_path, monkeypatch):
    loose = tmp_path / "loose"
    loose.mkdir()
    loose.chmod(0o777)  # world-writable, not sticky: anyone may rename our directory
    monkeypatch.setattr(tempfile, "tempdir", str(loose))
    with pytest.raises(matrix.MemlabError, match="may be changed by another user"):
        with matrix.demo_victims():
            pass
    assert list(loose.iterdir()) == []


@pytest.mark.parametrize("name", ["../../x", "A/B", "", "A=B", "X" * 65])
def test_the_demo_variable_name_cannot_name_a_path(name):
    with pytest.raises(matrix.UsageError):
        matrix.demo(name=name)


def test_the_file_channel_reads_a_bounded_amount(tmp_path):
    """The secret file is the victim uid's: it may grow it while root's observer reads.
    A file over the limit is refused (a cell with the reason), never read whole."""
    from memlab.exposure.observers import Target, probe
    from memlab.inputfile import SECRET_FILE

    big = tmp_path / "big"
    big.write_bytes(b"x" * (SECRET_FILE.limit + 4096))
    cell = probe("file", Target(pid=os.getpid(), file=str(big)))
    assert not cell.ok and "too big" in cell.note
    fits = tmp_path / "fits"
    fits.write_bytes(b"x" * SECRET_FILE.limit)
    cell = probe("file", Target(pid=os.getpid(), file=str(fits)))
    assert cell.ok and cell.size == SECRET_FILE.limit
