"""Details of running a pod here: command resolution and $(VAR) in command/args, fsGroup
ownership, the ts dir's UTC name, import hygiene."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from memlab.k8s import pod as k8spod
from memlab.k8s.envvars import EnvVar
from memlab.k8s.pod import resolve_command
from memlab.k8s.poddir import Mount
from memlab.procfs._io import read_proc_file
from tests.conftest import requires_root
from tests.helpers import loaded_after

MEMLAB = [sys.executable, "-m", "memlab"]


def test_command_args_expanded_with_container_env():
    env = [EnvVar("GREETING", "hi", "env")]
    target, args, _ = resolve_command(
        {"image": "busybox", "command": ["sh", "-c"],
         "args": ["echo $(GREETING) $$(GREETING) $HOME $(NOPE)"]}, env, None, [], [])
    assert target == "sh"
    assert args == ["-c", "echo hi $(GREETING) $HOME $(NOPE)"]


def _path_with(monkeypatch, tmp_path, *tools: str) -> None:
    """PATH holds only `tools` (copies of /bin/true): whether busybox is installed on this
    machine must not decide the test."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in tools:
        shutil.copy(shutil.which("true"), bindir / tool)
    monkeypatch.setenv("PATH", str(bindir))


BUSYBOX_SH = {"image": "busybox", "command": ["/bin/busybox", "sh", "-c", "true"]}


def test_busybox_applet_maps_to_local_tool(monkeypatch, tmp_path):
    _path_with(monkeypatch, tmp_path, "sh")
    target, args, _ = resolve_command(BUSYBOX_SH, [], None, [], [])
    assert target == "sh" and args == ["-c", "true"]


def test_installed_busybox_runs_its_own_applet(monkeypatch, tmp_path):
    _path_with(monkeypatch, tmp_path, "sh", "busybox")
    target, args, _ = resolve_command(BUSYBOX_SH, [], None, [], [])
    # /bin/busybox itself when it exists here, else the one on PATH
    assert os.path.basename(target) == "busybox" and args == ["sh", "-c", "true"]


def test_image_without_usable_command_runs_sleeper():
    t1, a1, n1 = resolve_command({"image": "redis"}, [], None, [], [])
    t2, _, n2 = resolve_command({"image": "redis", "command": ["/usr/local/bin/redis-server"]},
                                [], None, [], [])
    assert (t1, a1, t2) == ("sleeper", [], "sleeper")
    assert "redis" in n1 and "does not exist on this machine" in n2


def test_exec_args_under_a_mount_path_are_mapped():
    m = Mount("v", "/etc/config", "/pod/volumes/x/v", "/pod/rootfs/etc/config", False)
    _, args, note = resolve_command({"image": "x"}, [], "hotreload",
                                    ["--hold-fd", "/etc/config/K", "/etc/configX", "K"], [m])
    assert args == ["--hold-fd", "/pod/rootfs/etc/config/K", "/etc/configX", "K"]
    assert "--exec" in note


def test_cli_run_relays_output_until_the_process_exits(tmp_path):
    pod = tmp_path / "pod.yaml"
    pod.write_text("""apiVersion: v1
kind: Pod
metadata: {name: hello}
spec:
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo $(GREETING) $HOSTNAME"]
    env: [{name: GREETING, value: hello}]
""")
    out = subprocess.run(MEMLAB + ["k8s", "run", str(pod), "--json", "--pod-dir",
                                   str(tmp_path / "p")], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert events[0]["event"] == "started"
    assert {"event": "stdout", "line": "hello hello"} in events
    assert events[-1] == {"event": "exited", "exit_code": 0}


def test_ts_dir_name_is_utc_now(tmp_path):
    from memlab.k8s.atomic_writer import AtomicWriter, FileProjection
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    res = AtomicWriter(tmp_path).write({"a": FileProjection(b"x")})
    after = dt.datetime.now(dt.timezone.utc)
    stamp, _, suffix = res.ts_dir[2:].rpartition(".")
    when = dt.datetime.strptime(stamp, "%Y_%m_%d_%H_%M_%S").replace(tzinfo=dt.timezone.utc)
    assert before <= when <= after and suffix.isdigit() and int(suffix) < 2**32


@requires_root
def test_fs_group_ownership_and_modes(tmp_path):
    text = """apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {a: "1", b: "2"}
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  securityContext: {fsGroup: 4321}
  containers: [{name: c, image: x, command: [sh, -c, "sleep 60"]}]
  volumes:
  - name: v
    configMap:
      name: cm
      defaultMode: 0400
      items: [{key: a, path: a}, {key: b, path: d/b, mode: 0600}]
"""
    with k8spod.run(text, pod_dir=tmp_path / "p") as pr:
        root = pr.volume_sources[0].host_dir(pr.pod_dir)
        ts = os.readlink(os.path.join(root, "..data"))
        a = os.stat(os.path.join(root, ts, "a"))
        b = os.stat(os.path.join(root, ts, "d", "b"))
        d = os.stat(os.path.join(root, ts, "d"))
        assert (stat.S_IMODE(a.st_mode), a.st_gid) == (0o440, 4321)  # 0400 | 0440
        assert (stat.S_IMODE(b.st_mode), b.st_gid) == (0o640, 4321)  # 0600 | 0440
        assert d.st_gid == 4321 and d.st_mode & stat.S_ISGID


def test_hotreload_default_args(tmp_path):
    text = """apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {level: "info"}
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: x
    envFrom: [{configMapRef: {name: cm}}]
    volumeMounts: [{name: v, mountPath: /cfg}]
  volumes: [{name: v, configMap: {name: cm}}]
"""
    with k8spod.run(text, pod_dir=tmp_path / "p", exec_sample="hotreload") as pr:
        assert pr.args == [str(tmp_path / "p/rootfs/cfg/level"), "level"]
        assert pr.launched.report["file_value"] == "info"
        assert pr.launched.report["env_value"] == "info"
        assert read_proc_file(pr.pid, "cmdline").split(b"\0")[0] == b"hotreload"


def test_unknown_exec_sample_writes_nothing(tmp_path):
    from memlab.errors import UsageError
    text = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
            "  containers: [{name: c, image: x}]\n")
    with pytest.raises(UsageError):
        k8spod.run(text, pod_dir=tmp_path / "p", exec_sample="no-such-sample-here")
    assert not (tmp_path / "p").exists()


def test_headless_imports_stay_light():
    loaded = loaded_after("import memlab.cli.k8s_cmds, memlab.k8s.pod, memlab.k8s.validation, "
                          "memlab.k8s.envvars, memlab.k8s.volumes")
    assert sorted(loaded & {"yaml", "textual", "rich"}) == []


OPTIONAL_POD = """apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {a: "1"}
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c, image: x, command: [sh, -c, "sleep 60"]}]
  volumes:
  - name: s
    secret: {secretName: later, optional: true}
  - name: w
    configMap: {name: cm, items: [{key: a, path: conf/a}]}
"""


def test_optional_missing_secret_is_an_empty_volume_filled_by_apply(tmp_path):
    with k8spod.run(OPTIONAL_POD, pod_dir=tmp_path / "p") as pr:
        root = pr.volume_sources[0].host_dir(pr.pod_dir)
        ts = os.readlink(os.path.join(root, "..data"))
        assert sorted(os.listdir(root)) == sorted([ts, "..data"]) and not os.listdir(
            os.path.join(root, ts))
        [r] = pr.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: later}\n"
                       "stringData: {token: abc}\n")
        assert r.action == "created" and r.volume == "s" and r.write.written
        assert pr.volume_contents()["s"] == {"token": b"abc"}
        assert root.endswith("volumes/kubernetes.io~secret/s")


def test_update_dropping_an_item_key_is_failed_mount_and_keeps_old_content(tmp_path):
    with k8spod.run(OPTIONAL_POD, pod_dir=tmp_path / "p") as pr:
        before = pr.data_targets()["w"]
        [r] = pr.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"
                       "data: {b: '2'}\n")
        assert r.action == "updated" and r.write is None
        assert r.event == ('FailedMount: MountVolume.SetUp failed for volume "w" : '
                           "configmap references non-existent config key: a")
        assert pr.data_targets()["w"] == before
        assert pr.volume_contents()["w"] == {"conf/a": b"1"}


def test_default_pod_root_must_be_ours(tmp_path, monkeypatch):
    from memlab.errors import UsageError
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    (runtime / "memlab").symlink_to(tmp_path)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    with pytest.raises(UsageError, match="refusing to use"):
        k8spod.prepare("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                       "  containers: [{name: c, image: x}]\n")
    (runtime / "memlab").unlink()
    pod = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
           "  containers: [{name: c, image: x}]\n")
    pr = k8spod.prepare(pod)
    assert pr.pod_dir == runtime / "memlab" / "pods" / "p"
    assert not (runtime / "memlab").exists()  # prepare() writes nothing
    with k8spod.run(pod) as pr:
        assert pr.pod_dir == runtime / "memlab" / "pods" / "p" and pr.alive
    for d in ("memlab", "memlab/pods", "memlab/pods/p"):
        assert stat.S_IMODE(os.stat(runtime / d).st_mode) == 0o700
