"""memlab's per-user state directory (memlab.statedir): one per user, never shared, never
trusted when someone else made it.

Users other than root and nobody are random uids with no passwd entry, so their
/tmp/memlab-<uid> cannot be anyone else's; everything made here is removed after.
"""

from __future__ import annotations

import os
import random
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from memlab.k8s.poddir import default_pod_root
from tests.conftest import requires_root
from tests.helpers import NOBODY, run_as
from tests.security.pod_helpers import CM, memlab, pod_yaml, refused, snapshot

pytestmark = requires_root


def _no_xdg() -> dict:
    return {"XDG_RUNTIME_DIR": ""}


@pytest.fixture
def shared_dir():
    """A directory every uid can read (manifests for other users), removed after."""
    d = Path(tempfile.mkdtemp(prefix="memlab-test-state-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def uid():
    """A uid nobody uses; its /tmp/memlab-<uid> is removed after the test."""
    u = random.randrange(3_000_000, 4_000_000)
    root = Path(f"/tmp/memlab-{u}")
    assert not os.path.lexists(root)
    yield u
    if root.is_symlink() or root.is_file():
        root.unlink()
    elif root.exists():
        shutil.rmtree(root)


def write_pod(d: Path, name: str) -> Path:
    f = d / f"{name}.yaml"
    f.write_text((CM % "1") + "---\n" + pod_yaml(name=name))
    f.chmod(0o644)
    return f


def state_root_as(u: int, xdg: str | None) -> str:
    def probe():
        if xdg is None:
            os.environ.pop("XDG_RUNTIME_DIR", None)
        else:
            os.environ["XDG_RUNTIME_DIR"] = xdg
        return str(default_pod_root())
    return run_as(u, probe)


def test_two_users_each_get_their_own_default_root(shared_dir):
    """root's `k8s run` never makes a directory another user's `k8s run` then needs."""
    name = f"st-{random.randrange(10**9)}"
    f = write_pod(shared_dir, name)
    made = []
    try:
        for u in (0, NOBODY):
            root = Path(f"/tmp/memlab-{u}")
            if not os.path.lexists(root):
                made.append(root)
            r = memlab("k8s", "run", f, env=_no_xdg(), user=u if u else None)
            assert r.returncode == 0, (u, r.stderr)
            pod_dir = root / "pods" / name
            st = os.lstat(pod_dir)
            assert st.st_uid == u and stat.S_IMODE(st.st_mode) == 0o700
            assert stat.S_IMODE(os.lstat(root).st_mode) == 0o700
            assert os.lstat(root).st_uid == u
    finally:
        for u in (0, NOBODY):
            shutil.rmtree(f"/tmp/memlab-{u}/pods/{name}", ignore_errors=True)
        for root in made:  # only what this test created, and only if nobody else uses it
            for d in (root / "pods", root):
                try:
                    os.rmdir(d)
                except OSError:
                    pass


def test_xdg_runtime_dir_is_used_when_it_is_the_users_own(tmp_path, shared_dir):
    xdg = tmp_path / "run"
    xdg.mkdir(mode=0o700)
    f = write_pod(shared_dir, "xdg")
    r = memlab("k8s", "run", f, env={"XDG_RUNTIME_DIR": str(xdg)})
    assert r.returncode == 0, r.stderr
    assert (xdg / "memlab" / "pods" / "xdg" / "pod.json").is_file()
    assert stat.S_IMODE(os.stat(xdg / "memlab").st_mode) == 0o700


@pytest.mark.parametrize("case", ["other-owner", "group-writable", "relative"])
def test_xdg_runtime_dir_not_the_users_own_is_not_used(case, uid, shared_dir):
    xdg = shared_dir / "xdg"
    xdg.mkdir()
    if case == "other-owner":
        os.chmod(xdg, 0o700)  # root's
    else:
        os.chown(xdg, uid, uid)
        os.chmod(xdg, 0o770 if case == "group-writable" else 0o700)
    arg = str(xdg) if case != "relative" else "xdg"
    assert state_root_as(uid, arg) == f"/tmp/memlab-{uid}/pods"
    assert state_root_as(uid, None) == f"/tmp/memlab-{uid}/pods"


def _precreate(case: str, u: int, shared_dir: Path) -> Path:
    root = Path(f"/tmp/memlab-{u}")
    if case == "another-owner":
        root.mkdir(mode=0o700)
        (root / "pods").mkdir(mode=0o777)
        os.chown(root, NOBODY, NOBODY)
    elif case == "world-writable":
        root.mkdir()
        os.chmod(root, 0o777)
        os.chown(root, u, u)
    elif case == "group-writable":
        root.mkdir()
        os.chmod(root, 0o770)
        os.chown(root, u, u)
    elif case == "symlink":
        target = shared_dir / "elsewhere"
        target.mkdir(mode=0o700)
        os.chown(target, u, u)
        root.symlink_to(target)
    elif case == "file":
        root.write_text("not a directory\n")
    return root


@pytest.mark.parametrize("case", ["another-owner", "world-writable", "group-writable",
                                  "symlink", "file"])
def test_a_precreated_state_dir_is_refused_untouched(case, uid, shared_dir):
    root = _precreate(case, uid, shared_dir)
    f = write_pod(shared_dir, "pre")
    before_root, before_shared = snapshot(root), snapshot(shared_dir)
    r = memlab("k8s", "run", f, env=_no_xdg(), user=uid)
    refused(r, "refusing to use memlab's state directory", f"/tmp/memlab-{uid}")
    assert snapshot(root) == before_root and snapshot(shared_dir) == before_shared
    st = os.lstat(root)
    assert st.st_uid == {"another-owner": NOBODY, "file": 0, "symlink": 0}.get(case, uid)
    if case == "file":
        assert root.read_text() == "not a directory\n"


def test_a_fresh_state_dir_is_made_0700(uid, shared_dir):
    f = write_pod(shared_dir, "fresh")
    r = memlab("k8s", "run", f, env=_no_xdg(), user=uid)
    assert r.returncode == 0, r.stderr
    root = Path(f"/tmp/memlab-{uid}")
    for d in (root, root / "pods", root / "pods" / "fresh"):
        st = os.lstat(d)
        assert stat.S_ISDIR(st.st_mode) and st.st_uid == uid
        assert stat.S_IMODE(st.st_mode) == 0o700


def test_tui_pod_view_uses_the_state_dir_and_removes_its_pod_on_quit(tmp_path, monkeypatch,
                                                                       shared_dir):
    from memlab.tui.source import LiveSource

    xdg = tmp_path / "run"
    xdg.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
    source = LiveSource()
    try:
        pod = source.run_pod(str(write_pod(shared_dir, "tui")))
        assert pod.pod_dir == xdg / "memlab" / "pods" / "tui"
        assert (pod.pod_dir / "pod.json").is_file()
    finally:
        source.stop()  # what quitting the TUI does
    # the pod and the state directories made for it: nothing is left
    assert os.listdir(xdg) == []


def test_tui_keeps_a_state_dir_it_did_not_make(tmp_path, monkeypatch, shared_dir):
    from memlab.tui.source import LiveSource

    xdg = tmp_path / "run"
    xdg.mkdir(mode=0o700)
    (xdg / "memlab").mkdir(mode=0o700)  # there before the session: not the TUI's
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
    source = LiveSource()
    try:
        source.run_pod(str(write_pod(shared_dir, "tui")))
    finally:
        source.stop()
    assert os.listdir(xdg) == ["memlab"] and os.listdir(xdg / "memlab") == []
