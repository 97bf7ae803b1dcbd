"""Pods in a real OCI runtime (runc): the article's pods unchanged, volumes as kubelet
binds them, the security context enforced by the kernel, exec, and nothing left behind.

Every test runs the real runc (memlab.k8s.runtime) as root and reads the real /proc;
without runc or root they are skipped, with the reason."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from memlab.cli import main
from memlab.k8s import pod as k8spod
from memlab.k8s.runtime import Runtime, find_runtime, mounted_below
from memlab.procfs._io import read_proc_file
from memlab.procfs.mountinfo import namespaces, read_mountinfo
from memlab.procfs.status import read_status
from tests.helpers import LineReader, gone, wait_until

EX = Path(k8spod.__file__).parent / "examples"
MEMLAB = [sys.executable, "-m", "memlab"]

pytestmark = [
    pytest.mark.skipif(shutil.which("runc") is None and shutil.which("crun") is None,
                       reason="no OCI runtime (install runc)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="runc needs root here"),
    pytest.mark.skipif(shutil.which("busybox") is None,
                       reason="no busybox (install busybox-static)"),
]


@pytest.fixture
def pods():
    """Start pods with prepare(runtime=True).start(); every one is stopped after."""
    started = []

    def run(*manifests, **kw):
        exec_sample = kw.pop("exec_sample", None)
        exec_args = kw.pop("exec_args", None)
        pr = k8spod.prepare(manifests[0], manifests[1:], runtime=True, **kw)
        assert pr.simulated is None
        started.append(pr)
        return pr.start(exec_sample, exec_args, timeout=20)
    yield run
    for pr in started:
        pr.stop()


def rt_exec(pr, *argv) -> subprocess.CompletedProcess:
    return pr.runtime.exec(pr.main.id, list(argv))


def mount_of(pid: int, path: str):
    return next(m for m in read_mountinfo(pid) if m.mount_point == path)


def test_article_volume_pod_runs_in_runc_with_a_bind_mount(pods, tmp_path):
    pr = pods(str(EX / "volume-pod.yaml"), pod_dir=tmp_path / "pod")
    pid = pr.pid
    # busybox sh -c execs its last command itself
    wait_until(lambda: read_proc_file(pid, "cmdline") == b"sleep\x003600\x00",
               what="sh -c to exec sleep 3600")
    m = mount_of(pid, "/etc/config")
    vol = pr.volume_sources[0].host_dir(pr.pod_dir)
    assert vol.endswith("/volumes/kubernetes.io~configmap/config-volume")
    assert m.root == vol and m.options.split(",")[0] == "ro"
    ns, host = namespaces(pid), namespaces("self")
    assert ns["mnt"] != host["mnt"] and ns["pid"] != host["pid"]
    assert ns["net"] == host["net"]  # the host's network, as the output says
    r = rt_exec(pr, "cat", "/etc/config/LOG_LEVEL")
    assert r.returncode == 0 and r.stdout == b"INFO"
    assert rt_exec(pr, "hostname").stdout.strip() == b"test-pod-volume-only"
    # every pod's service-account token (the projected kube-api-access-* volume) is on a
    # tmpfs, as kubelet's projected plugin keeps it, read-only at the well-known path
    sa = mount_of(pid, "/var/run/secrets/kubernetes.io/serviceaccount")
    assert sa.fstype == "tmpfs" and sa.options.split(",")[0] == "ro"
    token = rt_exec(pr, "cat", "/var/run/secrets/kubernetes.io/serviceaccount/token")
    assert token.returncode == 0 and b"memlab-fake" in token.stdout


def test_article_env_pod_runs_the_sample(pods, tmp_path):
    pr = pods(str(EX / "env-pod.yaml"), str(EX / "my-configmap.yaml"),
              pod_dir=tmp_path / "pod")
    assert b"MY_ENV_VARIABLE=my-value" in read_proc_file(pr.pid, "environ").split(b"\0")
    report = json.loads(pr.launched.read_stdout_line(timeout=10))
    assert report["pid"] == 1  # sleeper is PID 1 of its own PID namespace


def test_a_started_pod_pid_already_runs_the_containers_program(pods, tmp_path):
    """runc writes its pid file before its init execs the program: start() returns only
    after that execve, so the env read at once is kubelet's, never runc init's."""
    for i in range(3):
        pr = pods(str(EX / "env-pod.yaml"), str(EX / "my-configmap.yaml"),
                  pod_dir=tmp_path / f"pod{i}")
        environ = read_proc_file(pr.pid, "environ").split(b"\0")
        assert not [e for e in environ if e.startswith(b"_LIBCONTAINER_")], environ
        assert b"MY_ENV_VARIABLE=my-value" in environ
        assert read_proc_file(pr.pid, "comm") == b"sleeper\n"
        pr.stop()


CM = """apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data:
  LOG_LEVEL: %s
"""
POD_SUBPATH = """apiVersion: v1
kind: Pod
metadata: {name: subpath}
spec:
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    env:
    - name: LOG_LEVEL
      valueFrom: {configMapKeyRef: {name: app-config, key: LOG_LEVEL}}
    volumeMounts:
    - {name: config, mountPath: /etc/config}
    - {name: config, mountPath: /etc/level, subPath: LOG_LEVEL}
  volumes:
  - name: config
    configMap: {name: app-config}
"""


def test_apply_exec_sees_new_value_subpath_and_environ_keep_old(pods, tmp_path):
    (tmp_path / "cm.yaml").write_text(CM % "INFO")
    (tmp_path / "cm2.yaml").write_text(CM % "DEBUG")
    pr = pods(POD_SUBPATH, str(tmp_path / "cm.yaml"), pod_dir=tmp_path / "pod")
    env_before = read_proc_file(pr.pid, "environ")
    assert any("subPath" in w and "never updates" in w for w in pr.warnings)
    assert rt_exec(pr, "cat", "/etc/level").stdout == b"INFO"
    pr.apply(str(tmp_path / "cm2.yaml"))
    assert rt_exec(pr, "cat", "/etc/config/LOG_LEVEL").stdout == b"DEBUG"  # at once
    assert rt_exec(pr, "cat", "/etc/level").stdout == b"INFO"  # the bound file, forever
    assert read_proc_file(pr.pid, "environ") == env_before
    assert b"LOG_LEVEL=INFO" in env_before.split(b"\0")


SECRET_POD = """apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: hunter2}
---
apiVersion: v1
kind: Pod
metadata: {name: secret-pod}
spec:
  securityContext: %s
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    volumeMounts:
    - {name: s, mountPath: /etc/secret}
  volumes:
  - name: s
    secret: {secretName: db, defaultMode: %s}
"""


def test_run_as_user_cannot_read_a_0400_secret(pods, tmp_path):
    pr = pods(SECRET_POD % ("{runAsUser: 1000}", "0400"), pod_dir=tmp_path / "pod")
    r = rt_exec(pr, "cat", "/etc/secret/password")
    assert r.returncode != 0 and b"Permission denied" in r.stderr  # EACCES
    assert rt_exec(pr, "id", "-u").stdout.strip() == b"1000"
    m = mount_of(pr.pid, "/etc/secret")
    assert m.fstype == "tmpfs"  # never on disk
    host = pr.volume_sources[0].host_dir(pr.pod_dir)
    assert host in mounted_below(str(pr.pod_dir))


def test_fs_group_with_0440_can_read_the_secret(pods, tmp_path):
    pr = pods(SECRET_POD % ("{runAsUser: 1000, fsGroup: 2000}", "0440"),
              pod_dir=tmp_path / "pod")
    r = rt_exec(pr, "cat", "/etc/secret/password")
    assert r.returncode == 0 and r.stdout == b"hunter2", r.stderr
    groups = rt_exec(pr, "id", "-G").stdout.split()
    assert b"2000" in groups


INIT_POD = """apiVersion: v1
kind: Pod
metadata: {name: init-pod}
spec:
  initContainers:
  - {name: first, image: busybox, command: [sh, -c, "cat /proc/uptime > /dev/termination-log"]}
  - {name: second, image: busybox, command: [sh, -c, "%s"]}
  containers:
  - {name: app, image: busybox, command: [sleep, "3600"]}
"""


def _uptime(path: Path) -> float:
    return float(path.read_text().split()[0])


def test_init_containers_run_first_in_order(pods, tmp_path):
    pr = pods(INIT_POD % "cat /proc/uptime > /dev/termination-log", pod_dir=tmp_path / "pod")
    assert [c.name for c in pr.containers_run] == ["_pause", "first", "second", "app"]
    first = _uptime(tmp_path / "pod/containers/first/termination-log")
    second = _uptime(tmp_path / "pod/containers/second/termination-log")
    assert first <= second
    assert all(not c.alive for c in pr.containers_run[1:3]) and pr.main.alive


def test_a_failing_init_container_stops_the_pod_and_leaves_nothing(tmp_path):
    pr = k8spod.prepare(INIT_POD % "exit 3", runtime=True, pod_dir=tmp_path / "pod")
    with pytest.raises(Exception, match="init container 'second' exited 3"):
        pr.start(timeout=20)
    assert [c["id"] for c in pr.runtime.list()
            if c["id"].startswith("memlab-init-pod-")] == []


def test_exec_env_differs_from_memory_after_scrub(tmp_path, capsys):
    pr = k8spod.prepare(str(EX / "env-pod.yaml"), [str(EX / "my-configmap.yaml")],
                        runtime=True, pod_dir=tmp_path / "pod")
    pr.start(timeout=20)
    try:
        pr.launched.read_stdout_line(timeout=10)  # the self-report
        pr.launched.command("scrub MY_ENV_VARIABLE")
        environ = read_proc_file(pr.pid, "environ").split(b"\0")
        assert b"MY_ENV_VARIABLE=XXXXXXXX" in environ
        code = main(["k8s", "exec", "--pod", str(tmp_path / "pod"), "--", "env"])
        out, err = capsys.readouterr()
        assert code == 0 and "MY_ENV_VARIABLE=my-value" in out.splitlines()
        assert "process.env" in err and f"memlab env {pr.pid}" in err
    finally:
        pr.stop()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP,
                                 signal.SIGINT])
def test_killed_k8s_run_leaves_no_container_mount_or_state(tmp_path, sig):
    pod_dir = tmp_path / "pod"
    (tmp_path / "p.yaml").write_text(SECRET_POD % ("{}", "0400"))
    proc = subprocess.Popen(MEMLAB + ["k8s", "run", "--json", "--pod-dir", str(pod_dir),
                                      str(tmp_path / "p.yaml")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        started = LineReader(proc.stdout.fileno(), "memlab k8s run").json(timeout=30)
        pid = started["pid"]
        cid = started["containers"][0]["id"]
        assert mounted_below(str(pod_dir))
        proc.send_signal(sig)
        proc.wait(30)
        wait_until(lambda: gone(pid), what=f"the container's process {pid} to end")
        wait_until(lambda: not mounted_below(str(pod_dir)), what="the tmpfs to go")
        runtime = Runtime(find_runtime())
        wait_until(lambda: runtime.state(cid) is None, what=f"runc state of {cid} to go")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_unsupported_volume_is_one_line_exit_1_and_nothing_left(tmp_path, capsys):
    f = tmp_path / "p.yaml"
    f.write_text("""apiVersion: v1
kind: Pod
metadata: {name: hp}
spec:
  containers: [{name: app, image: busybox, command: [sleep, "1"]}]
  volumes: [{name: h, hostPath: {path: /etc}}]
""")
    code = main(["k8s", "run", str(f), "--pod-dir", str(tmp_path / "pod")])
    _, err = capsys.readouterr()
    assert code == 1 and len(err.strip().splitlines()) == 1 and "does not support" in err
    assert not (tmp_path / "pod").exists()


def test_an_image_memlab_cannot_provide_is_exit_1(tmp_path, capsys):
    f = tmp_path / "p.yaml"
    f.write_text("""apiVersion: v1
kind: Pod
metadata: {name: redis}
spec:
  containers: [{name: app, image: redis, command: [redis-server]}]
""")
    code = main(["k8s", "run", str(f), "--pod-dir", str(tmp_path / "pod")])
    _, err = capsys.readouterr()
    assert code == 1 and "memlab cannot provide 'redis-server'" in err
    assert len(err.strip().splitlines()) == 1


def test_a_missing_runtime_path_is_exit_1(tmp_path, capsys):
    code = main(["k8s", "run", str(EX / "volume-pod.yaml"), "--runtime",
                 str(tmp_path / "no-runc"), "--pod-dir", str(tmp_path / "pod")])
    _, err = capsys.readouterr()
    assert code == 1 and "--runtime" in err and len(err.strip().splitlines()) == 1


def test_without_a_runtime_the_output_says_simulated(tmp_path):
    env = dict(os.environ, PATH="/nonexistent")
    proc = subprocess.Popen(MEMLAB + ["k8s", "run", str(EX / "volume-pod.yaml"),
                                      "--pod-dir", str(tmp_path / "pod"), "--exec", "sleeper"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        out = LineReader(proc.stdout.fileno(), "memlab k8s run")
        lines = [out.line(timeout=30) for _ in range(3)]
        assert b"simulated: no container runtime (install runc)" in lines
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


TWO_POD = """apiVersion: v1
kind: Secret
metadata: {name: app-secret}
stringData: {API_TOKEN: s3cr3t-token}
---
apiVersion: v1
kind: Pod
metadata: {name: two}
spec:
  shareProcessNamespace: %s
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    env:
    - name: API_TOKEN
      valueFrom: {secretKeyRef: {name: app-secret, key: API_TOKEN}}
    volumeMounts: [{name: config, mountPath: /etc/config}]
  - name: sidecar
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{name: config, mountPath: /config}]
  volumes:
  - name: config
    configMap: {name: app-config}
"""


def _container(pr, name):
    return next(c for c in pr.containers_run if c.name == name)


def test_two_containers_share_a_volume_and_the_sandbox_ipc_uts(pods, tmp_path):
    (tmp_path / "cm.yaml").write_text(CM % "INFO")
    (tmp_path / "cm2.yaml").write_text(CM % "DEBUG")
    pr = pods(TWO_POD % "false", str(tmp_path / "cm.yaml"), pod_dir=tmp_path / "pod")
    app, side = _container(pr, "app"), _container(pr, "sidecar")
    pause = next(c for c in pr.containers_run if c.sandbox)
    a, b, p = (namespaces(c.host_pid) for c in (app, side, pause))
    assert a["ipc"] == b["ipc"] == p["ipc"] and a["uts"] == b["uts"] == p["uts"]
    assert a["pid"] != b["pid"] and a["mnt"] != b["mnt"]
    pr.apply(str(tmp_path / "cm2.yaml"))
    assert pr.runtime.exec(side.id, ["cat", "/config/LOG_LEVEL"]).stdout == b"DEBUG"
    assert pr.runtime.exec(app.id, ["cat", "/etc/config/LOG_LEVEL"]).stdout == b"DEBUG"
    # without a shared PID namespace the sidecar cannot even see the app
    r = pr.runtime.exec(side.id, ["sh", "-c", "cat /proc/[0-9]*/environ"])
    assert b"s3cr3t-token" not in r.stdout


def test_share_process_namespace_lets_a_sidecar_read_the_apps_environ(pods, tmp_path):
    (tmp_path / "cm.yaml").write_text(CM % "INFO")
    pr = pods(TWO_POD % "true", str(tmp_path / "cm.yaml"), pod_dir=tmp_path / "pod")
    app, side = _container(pr, "app"), _container(pr, "sidecar")
    assert namespaces(app.host_pid)["pid"] == namespaces(side.host_pid)["pid"]
    r = pr.runtime.exec(side.id, ["sh", "-c", "cat /proc/[0-9]*/environ"])
    assert b"API_TOKEN=s3cr3t-token" in r.stdout.split(b"\0")
    pids = pr.runtime.exec(side.id, ["sh", "-c", "echo /proc/[0-9]*"]).stdout.split()
    assert b"/proc/1" in pids  # the sandbox (pause) is PID 1


def test_k8s_ps_json_lists_containers_with_pids_namespaces_mounts(tmp_path, capsys,
                                                                 monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "xdg"))
    (tmp_path / "xdg").mkdir(mode=0o700)
    pr = k8spod.prepare(str(EX / "volume-pod.yaml"), runtime=True)
    pr.start(timeout=20)
    try:
        assert main(["k8s", "ps", "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["schema"] == "memlab.k8s.ps/1"
        (p,) = doc["pods"]
        (c,) = p["containers"]
        assert c["state"] == "running" and c["host_pid"] == pr.pid
        assert c["container_pid"] == 1
        assert c["namespaces"]["mnt"] != namespaces("self")["mnt"]
        assert any(m["mount_point"] == "/etc/config" for m in c["mounts"])
    finally:
        pr.stop()


def test_read_commands_take_a_containers_host_pid(pods, tmp_path, capsys):
    pr = pods(str(EX / "env-pod.yaml"), str(EX / "my-configmap.yaml"),
              pod_dir=tmp_path / "pod")
    for cmd in (["env", str(pr.pid)], ["inspect", str(pr.pid)]):
        assert main(cmd) == 0, cmd
        out = capsys.readouterr().out
        assert "MY_ENV_VARIABLE" in out or cmd[0] == "inspect"


def test_pod_json_naming_another_runtime_is_refused(pods, tmp_path, capsys):
    pr = pods(str(EX / "volume-pod.yaml"), pod_dir=tmp_path / "pod")
    state = json.loads((tmp_path / "pod/pod.json").read_text())
    (tmp_path / "evil").write_text("#!/bin/sh\ntouch /tmp/pwned\n")
    (tmp_path / "evil").chmod(0o777)
    state["runtime"] = str(tmp_path / "evil")
    (tmp_path / "pod/pod.json").write_text(json.dumps(state))
    code = main(["k8s", "exec", "--pod", str(tmp_path / "pod"), "--", "true"])
    assert code == 2 and "'runtime'" in capsys.readouterr().err
    pr.stop()


HOSTPID_POD = """apiVersion: v1
kind: Pod
metadata: {name: hostpid}
spec:
  hostPID: true
  containers:
  - {name: app, image: busybox, command: [sleep, "3600"]}
"""


def test_host_pid_puts_the_container_in_the_hosts_pid_namespace(pods, tmp_path):
    pr = pods(HOSTPID_POD, pod_dir=tmp_path / "pod")
    assert namespaces(pr.pid)["pid"] == namespaces("self")["pid"]
    assert namespaces(pr.pid)["mnt"] != namespaces("self")["mnt"]
    r = rt_exec(pr, "cat", f"/proc/{os.getpid()}/cmdline")
    assert r.returncode == 0 and r.stdout == read_proc_file(os.getpid(), "cmdline")



def test_a_mount_the_runtime_refuses_is_one_line_exit_1_and_nothing_left(tmp_path, capsys):
    f = tmp_path / "p.yaml"
    f.write_text("""apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {a: "1"}
---
apiVersion: v1
kind: Pod
metadata: {name: ro}
spec:
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{name: v, mountPath: /proc/sys/memlab}]
  volumes: [{name: v, configMap: {name: cm}}]
""")
    pod_dir = tmp_path / "pod"
    code = main(["k8s", "run", str(f), "--pod-dir", str(pod_dir)])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "/proc/sys/memlab" in err
    assert not mounted_below(str(pod_dir))
    assert not [c for c in Runtime(find_runtime()).list() if c["id"].startswith("memlab-ro-")]


SC_POD = """apiVersion: v1
kind: Pod
metadata: {name: sc}
spec:
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    workingDir: /etc
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
"""


def test_security_context_reaches_the_kernel(pods, tmp_path):
    pr = pods(SC_POD, pod_dir=tmp_path / "pod")
    st = read_status(pr.pid)
    assert st["NoNewPrivs"].strip() == "1"
    assert int(st["CapBnd"], 16) == 1 << 10 == int(st["CapEff"], 16)  # CAP_NET_BIND_SERVICE
    assert rt_exec(pr, "pwd").stdout.strip() == b"/etc"
    r = rt_exec(pr, "touch", "/x")
    assert r.returncode != 0 and b"Read-only file system" in r.stderr  # EROFS


def test_exec_into_a_simulated_pod_is_exit_1(tmp_path, capsys):
    pr = k8spod.prepare(str(EX / "volume-pod.yaml"), pod_dir=tmp_path / "pod")
    pr.start(timeout=20)
    try:
        code = main(["k8s", "exec", "--pod", str(tmp_path / "pod"), "--", "env"])
        err = capsys.readouterr().err
        assert code == 1 and "simulated" in err and len(err.strip().splitlines()) == 1
    finally:
        pr.stop()


def test_apply_to_a_stopped_runtime_pod_never_writes_a_secret_to_disk(tmp_path, capsys):
    pr = k8spod.prepare(SECRET_POD % ("{}", "0400"), runtime=True, pod_dir=tmp_path / "pod")
    pr.start(timeout=20)
    vol = Path(pr.volume_sources[0].host_dir(pr.pod_dir))
    pr.stop()
    assert not os.path.ismount(vol)
    (tmp_path / "s2.yaml").write_text("""apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: new-value}
""")
    assert main(["k8s", "apply", str(tmp_path / "s2.yaml"), "--pod", str(pr.pod_dir)]) == 0
    out = capsys.readouterr().out
    assert "tmpfs is gone" in out and "not running" in out
    assert not any(b"new-value" in p.read_bytes() for p in vol.rglob("*") if p.is_file())
