"""A pod run here and updated, end to end: env frozen, volume reloaded (docs/article.md 4, 8).

Real processes (c_samples/hotreload, sleeper, /bin/sh), the real /proc: the env of the
running process never changes, its file does; a directory watch sees the swap within a
second; a key-file watch dies after the first swap; a held fd keeps the old content."""

from __future__ import annotations

import json
import os

import pytest

from memlab.k8s import pod as k8spod
from memlab.k8s.envvars import to_execve
from memlab.launch import launch
from memlab.procfs._io import read_proc_file
from memlab.k8s.serviceaccount import TOKEN_MOUNT_PATH
from tests.helpers import wait_until

CM = """apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data:
  LOG_LEVEL: %s
  other: "x"
"""

POD = """apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  containers:
  - name: app
    image: example/app
    env:
    - name: LOG_LEVEL
      valueFrom:
        configMapKeyRef: {name: app-config, key: LOG_LEVEL}
    volumeMounts:
    - {name: config, mountPath: /etc/config}
  volumes:
  - name: config
    configMap: {name: app-config}
"""


def next_json(proc, timeout: float = 1.0) -> dict | None:
    """The next stdout JSON line of a launched sample within TIMEOUT, or None."""
    from memlab.errors import LaunchError
    try:
        line = proc.read_stdout_line(timeout=timeout)
    except LaunchError:
        return None
    return None if line is None else json.loads(line)


def lines_until(proc, pred, timeout: float = 10.0) -> tuple[list[dict], dict]:
    """Read JSON lines until pred(obj); return (all read, the match).  No match within
    timeout fails the test."""
    seen = []

    def matched():
        obj = next_json(proc, 0.05)
        if obj is not None:
            seen.append(obj)
            return obj if pred(obj) else None
        return None
    found = wait_until(matched, timeout, interval=0,
                       what=lambda: f"a matching line from pid {proc.pid}; read: {seen}")
    return seen, found


def environ(pid: int) -> bytes:
    return read_proc_file(pid, "environ")


def test_run_apply_env_frozen_volume_hot_reloaded(tmp_path):
    runs = []
    try:
        # pod A: the robust reloader (directory watch) is the container's process
        a = k8spod.run(POD % "pod-a", [CM % "info"], pod_dir=tmp_path / "a",
                       exec_sample="hotreload",
                       exec_args=["/etc/config/LOG_LEVEL", "LOG_LEVEL"])
        runs.append(a)
        # pod B: a reader that keeps the file open (--hold-fd)
        b = k8spod.run(POD % "pod-b", [CM % "info"], pod_dir=tmp_path / "b",
                       exec_sample="hotreload",
                       exec_args=["--hold-fd", "/etc/config/LOG_LEVEL", "LOG_LEVEL"])
        runs.append(b)
        assert a.launched.report["file_value"] == "info"
        assert a.launched.report["env_value"] == "info"
        assert a.launched.report["file"] == str(tmp_path / "a/rootfs/etc/config/LOG_LEVEL")
        # a naive reloader in pod A's container, watching the key file itself
        keyfile = launch("hotreload", ["--watch-file", a.mounts[0].mapped_path + "/LOG_LEVEL",
                                       "LOG_LEVEL"], to_execve(list(a.env)))
        runs.append(keyfile)
        env_before = environ(a.pid)
        assert b"LOG_LEVEL=info" in env_before.split(b"\0")
        assert env_before == b"".join(e + b"\0" for e in to_execve(list(a.env)))

        # --- first update ---
        results = a.apply(CM % "debug")
        _, reload_ = lines_until(a.launched, lambda o: o.get("event") == "reload")
        assert reload_["file_value"] == "debug" and reload_["trigger"] == "..data"
        assert reload_["env_value"] == "info"  # getenv: fixed at execve
        assert environ(a.pid) == env_before  # /proc/PID/environ unchanged
        assert a.volume_files()["/etc/config/LOG_LEVEL"] == b"debug"
        [r] = results
        assert r.action == "updated" and r.volume == "config" and r.write.written
        assert r.env_drift == {"LOG_LEVEL": {"running": "info", "on_restart": "debug",
                                             "secret": False}}

        # the key-file watcher saw its inode go away, never a MODIFY
        seen, _ = lines_until(keyfile, lambda o: o.get("event") == "watch-gone")
        masks = [tuple(o["mask"]) for o in seen if o.get("event") == "inotify"]
        important = [m for m in masks if not set(m) & {"OPEN", "ACCESS", "CLOSE_NOWRITE"}]
        assert important == [("ATTRIB",), ("DELETE_SELF",), ("IGNORED",)]
        assert not any(o.get("event") == "reload" for o in seen)

        # pod B: the held fd still reads the old inode; a fresh open sees the new file
        b.apply(CM % "debug")
        _, held = lines_until(b.launched, lambda o: o.get("event") == "reload")
        assert held["file_value"] == "info" and held["path_value"] == "debug"

        # --- second update: the directory watch sees it, the key-file watch does not ---
        a.apply(CM % "warn")
        _, reload2 = lines_until(a.launched, lambda o: o.get("event") == "reload")
        assert reload2["file_value"] == "warn"
        # missed: the watcher prints nothing (a bounded look for a line that must not come)
        assert next_json(keyfile, 0.5) is None
        assert keyfile.alive
        assert environ(a.pid) == env_before
        b.apply(CM % "warn")
        _, held2 = lines_until(b.launched, lambda o: o.get("event") == "reload")
        assert held2["file_value"] == "info" and held2["path_value"] == "warn"
    finally:
        for r in runs:
            (r.stop if hasattr(r, "stop") else r.kill)()
    for r in runs[:2]:
        assert not r.alive


def test_article_env_example_runs_with_sleeper(tmp_path):
    ex = k8spod.__file__.replace("pod.py", "examples")
    with k8spod.run(f"{ex}/env-pod.yaml", [f"{ex}/my-configmap.yaml"],
                    pod_dir=tmp_path / "p") as pr:
        assert pr.target == "sleeper" and "redis" in pr.note
        got = set(e for e in environ(pr.pid).split(b"\0") if e)
        assert b"MY_ENV_VARIABLE=my-value" in got
        assert got == set(to_execve(list(pr.env)))
        assert pr.launched.report is not None  # the sleeper self-report


def test_article_volume_example_runs_its_command(tmp_path):
    ex = k8spod.__file__.replace("pod.py", "examples")
    with k8spod.run(f"{ex}/volume-pod.yaml", pod_dir=tmp_path / "p") as pr:
        assert read_proc_file(pr.pid, "cmdline") == b"sh\0-c\0sleep 3600\0"
        files = {k: v for k, v in pr.volume_files().items()
                 if not k.startswith(TOKEN_MOUNT_PATH)}  # the service account's volume
        assert files == {"/etc/config/APP_NAME": b"MyTestApp",
                         "/etc/config/DATABASE_HOST": b"db.example.com",
                         "/etc/config/DATABASE_PORT": b"5432",
                         "/etc/config/LOG_LEVEL": b"INFO"}
        mapped = tmp_path / "p/rootfs/etc/config"
        assert os.path.islink(mapped)
        assert (mapped / "LOG_LEVEL").read_bytes() == b"INFO"
        res = pr.apply(f"{ex}/test-config-debug.yaml")
        assert res[0].write.written
        assert pr.volume_files()["/etc/config/LOG_LEVEL"] == b"DEBUG"
        assert list(pr.data_targets())[0] == "config-volume"
        assert list(pr.data_targets())[1].startswith("kube-api-access-")
        assert pr.volume_contents()["config-volume"]["LOG_LEVEL"] == b"DEBUG"


def test_pod_state_lets_another_process_apply(tmp_path):
    ex = k8spod.__file__.replace("pod.py", "examples")
    with k8spod.run(f"{ex}/volume-pod.yaml", pod_dir=tmp_path / "p") as pr:
        state = json.loads((tmp_path / "p/pod.json").read_text())
        assert state["pid"] == pr.pid and state["schema"] == "memlab.pod/1"
        assert (tmp_path / "p/objects/ConfigMap_default_test-config.json").exists()
        # a second run into the same live pod dir is refused
        from memlab.errors import UsageError
        with pytest.raises(UsageError, match="already running"):
            k8spod.run(f"{ex}/volume-pod.yaml", pod_dir=tmp_path / "p")
    # once stopped, the directory can be reused
    with k8spod.run(f"{ex}/volume-pod.yaml", pod_dir=tmp_path / "p") as pr2:
        assert pr2.alive


def test_hotreload_directory_watch_event_order(tmp_path):
    """The same §5 order, seen by the C sample's directory watch (--events)."""
    with k8spod.run(POD % "pod-e", [CM % "info"], pod_dir=tmp_path / "p",
                    exec_sample="hotreload",
                    exec_args=["--events", "/etc/config/LOG_LEVEL", "LOG_LEVEL"]) as pr:
        old_ts = pr.data_targets()["config"]
        [res] = pr.apply(CM % "debug")
        seen, reload_ = lines_until(pr.launched, lambda o: o.get("event") == "reload")
        assert reload_["file_value"] == "debug"
        seen += lines_until(pr.launched, lambda o: o.get("name") == old_ts)[0]
        events = [(tuple(o["mask"]), o["name"]) for o in seen if o["event"] == "inotify"]
        new_ts = res.write.ts_dir
        assert events == [
            (("CREATE", "ISDIR"), new_ts),
            (("ATTRIB", "ISDIR"), new_ts),
            (("CREATE",), "..data_tmp"),
            (("MOVED_FROM",), "..data_tmp"),
            (("MOVED_TO",), "..data"),
            (("DELETE", "ISDIR"), old_ts),
        ]
        # the reload line comes right after MOVED_TO ..data
        kinds = [o["event"] if o["event"] != "inotify" else o["name"] for o in seen]
        assert kinds.index("reload") == kinds.index("..data") + 1
