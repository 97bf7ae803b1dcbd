"""Path traversal and hostile pod directories against `memlab k8s validate|run|apply`.

Every attack leaves a victim tree beside the pod directory (a file, a link, a 0700
directory) and checks, from a snapshot taken before (type, mode, owner, content or link
target of every entry), that memlab touched nothing outside: one line on stderr, exit 2.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import requires_root
from tests.helpers import NOBODY, wait_until
from tests.security.pod_helpers import (CM, memlab, pod_yaml, refused, snapshot,
                                        stdlib_python_as)


@pytest.fixture
def victim(tmp_path) -> Path:
    """/tmp/.../victim: what an attacker wants memlab to overwrite or delete."""
    v = tmp_path / "victim"
    (v / "secret").mkdir(parents=True)
    os.chmod(v / "secret", 0o700)
    (v / "secret" / "key").write_text("root-only\n")
    (v / "important.txt").write_text("keep me\n")
    (v / "target").write_text("the link's target\n")
    (v / "important-link").symlink_to(v / "target")
    return v


@pytest.fixture
def files(tmp_path) -> Path:
    f = tmp_path / "in"
    f.mkdir()
    (f / "cm.yaml").write_text(CM % "1")
    (f / "cm2.yaml").write_text(CM % "2")
    return f


def run_pod(files: Path, pod_dir: Path, text: str | None = None, simulate: bool = False):
    (files / "pod.yaml").write_text(text or pod_yaml())
    return memlab("k8s", "run", files / "pod.yaml", "-f", files / "cm.yaml",
                  "--pod-dir", pod_dir, *(["--simulate"] if simulate else []))


# --- manifests: every path-taking field ---------------------------------------------------

def _escape_to(victim: Path) -> str:
    return "/" + "../" * 12 + str(victim).lstrip("/")


@pytest.mark.parametrize("field", ["mountPath", "subPath", "items", "volume", "podname"])
def test_traversal_in_manifest_fields_is_refused(field, victim, files, tmp_path):
    link = str(victim / "important-link")
    kw = {"mountPath": dict(mount=_escape_to(victim) + "/important-link"),
          "subPath": dict(extra=', subPath: "../../../victim"'),
          "items": dict(items=', items: [{key: a, path: "../../../../victim/important.txt"}]'),
          "volume": dict(vol='"../../victim"'),
          "podname": dict(name='"../victim"')}[field]
    text = pod_yaml(**kw)
    (files / "pod.yaml").write_text(text)
    before = snapshot(victim)
    r = memlab("k8s", "validate", files / "pod.yaml")
    assert r.returncode == 2 and "invalid" in r.stdout, r.stdout
    r = run_pod(files, tmp_path / "pod", text)
    refused(r, "is invalid")
    assert snapshot(victim) == before and os.readlink(link) == str(victim / "target")
    assert not (tmp_path / "pod").exists()  # nothing written before everything is valid


@pytest.mark.parametrize("mount", ["/../../x", "/a/../../x", "..", "/", "", "a/./../b"])
def test_mount_mapping_never_leaves_rootfs_even_unvalidated(mount):
    from memlab.errors import UsageError
    from memlab.k8s.poddir import mount_components

    with pytest.raises(UsageError, match="mountPath"):
        mount_components(mount)
    assert mount_components("/etc//./config/") == ["etc", "config"]


def test_validate_names_the_mountpath_rule(files):
    (files / "pod.yaml").write_text(pod_yaml(mount="/etc/../../x"))
    r = memlab("k8s", "validate", files / "pod.yaml")
    assert r.returncode == 2
    assert "spec.containers[0].volumeMounts[0].mountPath" in r.stdout
    assert "must not contain '..'" in r.stdout


def test_lesson_k8s_run_action_refuses_a_dotdot_mountpath(victim, tmp_path):
    """The lesson action goes through the same prepare()/run() as the CLI."""
    from memlab.errors import UsageError
    from memlab.lessons.actions import ACTIONS, RunContext

    manifest = (CM % "1") + "---\n" + pod_yaml(mount=_escape_to(victim) + "/important-link")
    before = snapshot(victim)
    ctx = RunContext(lesson_dir=tmp_path)
    try:
        with pytest.raises(UsageError, match="must not contain '..'"):
            ACTIONS["k8s_run"].fn(ctx, {"manifest": manifest}, "pod")
    finally:
        ctx.close()
    assert snapshot(victim) == before


# --- run --pod-dir: only an empty directory or memlab's own -------------------------------

def test_run_refuses_a_dir_with_any_json_pod_json(victim, files):
    (victim / "volumes").mkdir()
    (victim / "volumes" / "important.txt").write_text("project file\n")
    (victim / "pod.json").write_text("{}\n")
    os.chmod(victim, 0o700)
    before = snapshot(victim)
    refused(run_pod(files, victim), "not a memlab pod directory")
    assert snapshot(victim) == before


def test_run_refuses_a_pod_json_of_another_owner(files, tmp_path):
    pod_dir = tmp_path / "pod"
    assert run_pod(files, pod_dir).returncode == 0
    state = json.loads((pod_dir / "pod.json").read_text())
    state["owner"] = os.geteuid() + 1
    (pod_dir / "pod.json").write_text(json.dumps(state))
    before = snapshot(pod_dir)
    refused(run_pod(files, pod_dir), "another owner")
    assert snapshot(pod_dir) == before


def test_run_reuses_its_own_pod_dir(files, tmp_path):
    pod_dir = tmp_path / "pod"
    assert run_pod(files, pod_dir).returncode == 0
    r = run_pod(files, pod_dir)
    assert r.returncode == 0, r.stderr
    assert json.loads((pod_dir / "pod.json").read_text())["owner"] == os.geteuid()


# rootfs/ is the simulation's (mountPath links); bundles/ and containers/ the runtime's
# (config.json, the overlay rootfs, termination-log), where runc is installed
@pytest.mark.parametrize("sub", ["volumes", "objects", "rootfs", "rootfs/etc",
                                 "volumes/kubernetes.io~configmap", "bundles", "bundles/c",
                                 "containers", "containers/c"])
def test_run_never_follows_a_symlinked_subdir(sub, victim, files, tmp_path):
    pod_dir = tmp_path / "pod"
    simulate = sub.startswith("rootfs")
    assert run_pod(files, pod_dir, simulate=simulate).returncode == 0
    if not (pod_dir / sub).exists():
        pytest.skip(f"{sub}/ is made only with a container runtime (install runc)")
    shutil.rmtree(pod_dir / sub)
    (pod_dir / sub).symlink_to(victim)
    before = snapshot(victim)
    r = run_pod(files, pod_dir, simulate=simulate)
    assert r.returncode in (0, 2), r.stderr  # reused (the link removed as a link) or refused
    assert snapshot(victim) == before


def test_run_refuses_a_symlink_as_the_pod_dir(victim, files, tmp_path):
    (tmp_path / "pod").symlink_to(victim)
    before = snapshot(victim)
    refused(run_pod(files, tmp_path / "pod"), "refusing")
    assert snapshot(victim) == before


@requires_root
def test_run_refuses_another_uids_empty_dir(files, tmp_path):
    pod_dir = tmp_path / "theirs"
    pod_dir.mkdir(mode=0o700)
    os.chown(pod_dir, NOBODY, NOBODY)
    refused(run_pod(files, pod_dir), f"uid {NOBODY}")
    assert os.listdir(pod_dir) == []


def test_run_refuses_a_group_writable_dir(files, tmp_path):
    pod_dir = tmp_path / "loose"
    pod_dir.mkdir()
    os.chmod(pod_dir, 0o770)
    refused(run_pod(files, pod_dir), "writable by group or others")
    assert os.listdir(pod_dir) == [] and stat.S_IMODE(os.stat(pod_dir).st_mode) == 0o770


@requires_root
def test_run_refuses_a_pod_dir_below_another_uids_dir(files, tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, NOBODY, NOBODY)
    refused(run_pod(files, theirs / "pod"), f"uid {NOBODY}")
    assert os.listdir(theirs) == []


# --- apply --pod: memlab's own pod directory only -----------------------------------------

@pytest.fixture
def pod_dir(files, tmp_path) -> Path:
    d = tmp_path / "pod"
    r = run_pod(files, d)
    assert r.returncode == 0, r.stderr
    return d


def vol_dir(pod_dir: Path) -> Path:
    return pod_dir / "volumes" / "kubernetes.io~configmap" / "v"


def apply(files: Path, pod_dir: Path, **kw):
    return memlab("k8s", "apply", files / "cm2.yaml", "--pod", pod_dir, **kw)


def test_apply_works_on_its_own_pod_dir(pod_dir, files):
    r = apply(files, pod_dir)
    assert r.returncode == 0, r.stderr
    assert (vol_dir(pod_dir) / "a").read_text() == "2"


@pytest.mark.parametrize("how", ["absolute", "relative"])
def test_apply_refuses_an_escaping_data_link(how, pod_dir, victim, files):
    target = str(victim / "secret") if how == "absolute" else "../../../../victim/secret"
    data = vol_dir(pod_dir) / "..data"
    data.unlink()
    data.symlink_to(target)
    assert (vol_dir(pod_dir) / "..data").resolve() == victim / "secret"
    before = snapshot(victim)
    refused(apply(files, pod_dir), "..data")
    assert snapshot(victim) == before


def test_apply_refuses_a_data_link_to_a_file(pod_dir, victim, files):
    data = vol_dir(pod_dir) / "..data"
    data.unlink()
    data.symlink_to("..2026_01_01_00_00_00.1")
    (vol_dir(pod_dir) / "..2026_01_01_00_00_00.1").symlink_to(victim / "secret")
    before = snapshot(victim)
    refused(apply(files, pod_dir), "..data")
    assert snapshot(victim) == before


@pytest.mark.parametrize("sub", ["volumes", "objects", "volumes/kubernetes.io~configmap",
                                 "volumes/kubernetes.io~configmap/v"])
def test_apply_never_follows_a_symlinked_subdir(sub, pod_dir, victim, files):
    shutil.rmtree(pod_dir / sub)
    (pod_dir / sub).symlink_to(victim)
    before = snapshot(victim)
    refused(apply(files, pod_dir), "refusing")
    assert snapshot(victim) == before


def test_apply_refuses_a_symlink_as_the_pod_dir(pod_dir, victim, files, tmp_path):
    (tmp_path / "alias").symlink_to(pod_dir)
    before = snapshot(pod_dir)
    refused(apply(files, tmp_path / "alias"), "refusing")
    assert snapshot(pod_dir) == before


def test_apply_refuses_any_json(victim, files):
    os.chmod(victim, 0o700)
    (victim / "pod.json").write_text('{"schema": "memlab.pod/1"}')
    before = snapshot(victim)
    refused(apply(files, victim), "not a memlab pod directory")
    assert snapshot(victim) == before


def test_apply_validates_the_stored_pod_spec(pod_dir, victim, files):
    """A volume named ../../x in pod.json would put the volume dir outside the pod."""
    state = json.loads((pod_dir / "pod.json").read_text())
    escape = "../../../../victim"
    state["pod"]["spec"]["volumes"][0]["name"] = escape
    state["pod"]["spec"]["containers"][0]["volumeMounts"][0]["name"] = escape
    (pod_dir / "pod.json").write_text(json.dumps(state))
    before = snapshot(victim)
    refused(apply(files, pod_dir), "is invalid")
    assert snapshot(victim) == before


def test_apply_validates_stored_objects(pod_dir, files):
    objects = pod_dir / "objects"
    [name] = os.listdir(objects)
    os.rename(objects / name, objects / "ConfigMap_default_other.json")
    refused(apply(files, pod_dir), "not an object file memlab wrote")


@requires_root
def test_apply_refuses_another_uids_pod_dir(pod_dir, victim, files):
    for dirpath, dirs, fs in os.walk(pod_dir):
        for p in [dirpath] + [os.path.join(dirpath, n) for n in dirs + fs]:
            os.lchown(p, NOBODY, NOBODY)
    before = snapshot(pod_dir)
    refused(apply(files, pod_dir), f"uid {NOBODY}")
    assert snapshot(pod_dir) == before


def test_apply_refuses_a_group_writable_pod_dir(pod_dir, files):
    os.chmod(pod_dir, 0o770)
    before = snapshot(pod_dir)
    refused(apply(files, pod_dir), "writable by group or others")
    assert snapshot(pod_dir) == before


# --- a second uid racing symlinks against root ----------------------------------------

RACER = """
import os, sys
path, victim, stop = sys.argv[1:]
while not os.path.exists(stop):
    for make in (lambda: os.symlink(victim, path), lambda: os.mkdir(path, 0o700)):
        try:
            make()
        except OSError:
            pass
        try:
            os.unlink(path)
        except IsADirectoryError:
            os.rmdir(path)
        except OSError:
            pass
"""


@requires_root
@pytest.mark.parametrize("where", ["their-dir", "tmp"])
def test_symlink_race_with_a_second_uid(where, victim, files, capsys):
    """uid 65534 keeps swapping the pod directory between a symlink to a root-only victim
    (which looks like a pod directory) and a directory of its own; root runs `k8s run`
    and `k8s apply` on it over and over: the victim is never touched."""
    from memlab.cli import main

    (victim / "volumes").mkdir()
    (victim / "volumes" / "important.txt").write_text("project file\n")
    (victim / "pod.json").write_text('{"schema": "memlab.pod/1"}')
    (files / "pod.yaml").write_text(pod_yaml())
    os.chmod(files.parent, 0o755)
    os.chmod(files, 0o755)
    before = snapshot(victim)
    theirs = Path(tempfile.mkdtemp(prefix="memlab-test-podrace-"))
    os.chown(theirs, NOBODY, NOBODY)
    target = theirs / "pod" if where == "their-dir" else Path(f"{theirs}-pod")
    stop = theirs / "stop"
    racer = subprocess.Popen(["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY),
                              "--clear-groups", stdlib_python_as(NOBODY), "-I", "-c", RACER,
                              str(target),
                              str(victim), str(stop)])
    codes = set()
    try:
        wait_until(lambda: os.path.lexists(target), 30, interval=0.001,
                   what="the racer's first plant")
        for _ in range(40):
            codes.add(main(["k8s", "run", str(files / "pod.yaml"), "-f",
                            str(files / "cm.yaml"), "--pod-dir", str(target)]))
            codes.add(main(["k8s", "apply", str(files / "cm2.yaml"), "--pod", str(target)]))
    finally:
        stop.touch()
        racer.wait(timeout=30)
        shutil.rmtree(theirs)
        if target.is_symlink():
            target.unlink()
        elif target.exists():  # root won a round in /tmp: its own 0700 pod dir
            shutil.rmtree(target)
    err = capsys.readouterr().err
    # Refused, or (in sticky /tmp) root found the name free and made its own directory
    # there, which uid 65534 can neither remove nor replace.
    assert codes <= {0, 2} and (where == "tmp" or codes == {2}), err
    assert "Traceback" not in err
    assert snapshot(victim) == before
