"""memlab k8s validate|env|run|apply: outputs, JSON keys, exit codes, one-line errors, and
nothing written to the pod directory when a manifest is refused."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from memlab.cli import main
from memlab.k8s import pod as k8spod
from memlab.procfs._io import read_proc_file
from memlab.k8s.serviceaccount import TOKEN_MOUNT_PATH
from tests.helpers import LineReader, gone, wait_until

EX = Path(k8spod.__file__).parent / "examples"
MEMLAB = [sys.executable, "-m", "memlab"]


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path, name, text) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_validate_examples_ok(capsys):
    code, out, _ = run_cli(capsys, "k8s", "validate", *sorted(map(str, EX.glob("*.yaml"))))
    assert code == 0
    assert "valid    " in out and "invalid" not in out


def test_validate_invalid_json(tmp_path, capsys):
    f = write(tmp_path, "s.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
              "type: kubernetes.io/tls\ndata: {tls.crt: eA==}\n")
    code, out, _ = run_cli(capsys, "k8s", "validate", "--json", f)
    assert code == 2
    doc = json.loads(out)
    assert doc["schema"] == "memlab.k8s.validate/1" and doc["valid"] is False
    [obj] = doc["objects"]
    assert obj["kind"] == "Secret" and obj["name"] == "s" and obj["valid"] is False
    assert obj["errors"][0]["message"] == "data[tls.key]: Required value"
    assert obj["errors"][0]["field"] == "data[tls.key]" and obj["errors"][0]["line"] == 5


def test_env_sorted_with_sources_and_masking(tmp_path, capsys):
    f = write(tmp_path, "p.yaml", """apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {DB_PASSWORD: hunter2}
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: x
    envFrom: [{secretRef: {name: db}}]
    env: [{name: Z_PLAIN, value: "pw=$(DB_PASSWORD)"}]
""")
    code, out, _ = run_cli(capsys, "k8s", "env", f, "--json", "--no-services")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) >= {"schema", "pod", "namespace", "container", "env"}
    names = [e["name"] for e in doc["env"]]
    assert names == sorted(names) == ["DB_PASSWORD", "HOSTNAME", "PATH", "Z_PLAIN"]
    by = {e["name"]: e for e in doc["env"]}
    assert by["DB_PASSWORD"]["value"] == "***"
    assert by["DB_PASSWORD"]["source"] == "envFrom secret default/db key DB_PASSWORD"
    code, out, _ = run_cli(capsys, "k8s", "env", f, "--json", "--reveal", "--no-runtime",
                           "--no-services")
    by = {e["name"]: e for e in json.loads(out)["env"]}
    assert by["DB_PASSWORD"]["value"] == "hunter2" and by["Z_PLAIN"]["value"] == "pw=hunter2"
    assert "HOSTNAME" not in by
    code, out, _ = run_cli(capsys, "k8s", "env", f)
    assert code == 0 and "hunter2" not in out and "DB_PASSWORD" in out


def test_env_missing_configmap_is_create_container_config_error(capsys):
    code, _, err = run_cli(capsys, "k8s", "env", str(EX / "env-pod.yaml"))
    assert code == 1
    assert err == 'memlab: CreateContainerConfigError: configmap "my-configmap" not found\n'


BAD = {
    "malformed": "apiVersion: v1\nkind: Pod\nmetadata: {name: p\n",
    "unknown-kind": "apiVersion: v1\nkind: Service\nmetadata: {name: p}\n",
    "missing-field": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                     "  containers: [{name: c}]\n",
    "wrong-type": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                  "  containers: [{name: c, image: x, command: sh}]\n",
    "unknown-field": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                     "  containers: [{name: c, image: x, comand: [sh]}]\n",
    "invalid-object": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                      "  containers: [{name: c, image: x}]\n---\napiVersion: v1\n"
                      "kind: ConfigMap\nmetadata: {name: cm}\ndata: {..x: y}\n",
}
BAD_MSG = {
    "malformed": "malformed YAML",
    "unknown-kind": 'no matches for kind "Service" in version "v1"',
    "missing-field": "spec.containers[0].image: Required value",
    "wrong-type": "spec.containers[0].command: expected list, got string 'sh'",
    "unknown-field": 'unknown field "spec.containers[0].comand"',
    "invalid-object": "data[..x]: Invalid value: \"..x\": must not start with '..'",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_run_refuses_bad_manifests_and_writes_nothing(tmp_path, capsys, case):
    f = write(tmp_path, f"{case}.yaml", BAD[case])
    pod_dir = tmp_path / "pod"
    code, out, err = run_cli(capsys, "k8s", "run", f, "--pod-dir", str(pod_dir))
    assert code == 2
    assert err.startswith(f"memlab: {f}:") and err.count("\n") == 1, err
    assert BAD_MSG[case] in err
    assert "Traceback" not in err and out == ""
    assert not pod_dir.exists()


def test_failed_mount_writes_nothing(tmp_path, capsys):
    text = (EX / "volume-pod.yaml").read_text().split("---\n")[2]  # the Pod only
    f = write(tmp_path, "pod.yaml", text)
    code, _, err = run_cli(capsys, "k8s", "run", f, "--pod-dir", str(tmp_path / "pod"))
    assert code == 1
    assert err == ('memlab: FailedMount: MountVolume.SetUp failed for volume "config-volume"'
                   ' : configmap "test-config" not found\n')
    assert not (tmp_path / "pod").exists()


def test_failed_mount_missing_item_key(tmp_path, capsys):
    f = write(tmp_path, "pod.yaml", """apiVersion: v1
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
  - name: v
    secret: {secretName: s, optional: true}
  - name: w
    configMap: {name: cm, items: [{key: b, path: b}]}
""")
    code, _, err = run_cli(capsys, "k8s", "run", f, "--pod-dir", str(tmp_path / "pod"))
    assert code == 1
    assert err == ('memlab: FailedMount: MountVolume.SetUp failed for volume "w" : '
                   "configmap references non-existent config key: b\n")
    assert not (tmp_path / "pod").exists()


def test_apply_immutable_is_refused_and_changes_nothing(tmp_path, capsys):
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\nimmutable: true\ndata: {a: '%s'}\n"
    pod = write(tmp_path, "pod.yaml", (cm % "1") + """---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c, image: x, command: [sh, -c, "sleep 60"]}]
  volumes: [{name: v, configMap: {name: cm}}]
""")
    with k8spod.run(pod, pod_dir=tmp_path / "p") as pr:
        before = pr.data_targets()
        obj_file = tmp_path / "p/objects/ConfigMap_default_cm.json"
        stored = obj_file.read_bytes()
        f = write(tmp_path, "cm2.yaml", cm % "2")
        code, out, err = run_cli(capsys, "k8s", "apply", f, "--pod", str(pr.pod_dir))
        assert code == 2
        assert err == (f'memlab: {f}:5: The ConfigMap "cm" is invalid: data: Forbidden: '
                       "field is immutable when `immutable` is set\n")
        assert pr.data_targets() == before and obj_file.read_bytes() == stored
        # no volumeMounts: nothing mapped but the service account's token volume
        assert all(k.startswith(TOKEN_MOUNT_PATH) for k in pr.volume_files())
        assert (Path(pr.volume_sources[0].host_dir(pr.pod_dir)) / "a").read_bytes() == b"1"


def test_apply_json_and_noop(tmp_path, capsys):
    with k8spod.run(str(EX / "volume-pod.yaml"), pod_dir=tmp_path / "p") as pr:
        old = pr.data_targets()["config-volume"]
        code, out, _ = run_cli(capsys, "k8s", "apply", str(EX / "test-config-debug.yaml"),
                               "--pod", str(pr.pod_dir), "--json")
        assert code == 0
        doc = json.loads(out)
        assert doc["schema"] == "memlab.k8s.apply/1" and "note" in doc
        [r] = doc["results"]
        assert r["object"] == "ConfigMap default/test-config" and r["action"] == "updated"
        assert r["volume"] == "config-volume" and r["write"]["written"] is True
        assert r["write"]["old_ts_dir"] == old and r["write"]["ts_dir"] != old
        assert r["env_drift"] == {}
        code, out, _ = run_cli(capsys, "k8s", "apply", str(EX / "test-config-debug.yaml"),
                               "--pod", str(pr.pod_dir))
        assert code == 0 and "unchanged" in out and "nothing written" in out


def test_apply_to_a_non_pod_dir(tmp_path, capsys):
    code, _, err = run_cli(capsys, "k8s", "apply", str(EX / "my-configmap.yaml"),
                           "--pod", str(tmp_path))
    assert code == 2 and "not a memlab pod directory" in err


def test_cli_run_foreground_then_apply_from_another_process(tmp_path):
    pod_dir = tmp_path / "pod"
    proc = subprocess.Popen(MEMLAB + ["k8s", "run", str(EX / "volume-pod.yaml"), "--json",
                                      "--pod-dir", str(pod_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = LineReader(proc.stdout.fileno(), "memlab k8s run")
    try:
        started = out.json()
        assert started["event"] == "started" and started["pod_dir"] == str(pod_dir)
        assert set(started) >= {"pid", "argv", "env", "volumes", "mounts", "note"}
        pid = started["pid"]
        # `sh -c "sleep 3600"`: busybox sh execs its last command in place, so the
        # pid first holds sh's env block and then the one sh builds for sleep
        # (SHLVL, PWD added). "Frozen at execve" is per execve: wait for the last.
        wait_until(lambda: read_proc_file(pid, "comm") == b"sleep\n",
                   what=f"pid {pid} to exec sleep")
        env_before = read_proc_file(pid, "environ")
        vol = started["volumes"]["config-volume"]
        assert vol["data_target"] and any(e["path"] == "..data" for e in vol["tree"])
        ap = subprocess.run(MEMLAB + ["k8s", "apply", str(EX / "test-config-debug.yaml"),
                                      "--pod", str(pod_dir)],
                            capture_output=True, text=True, timeout=30)
        assert ap.returncode == 0, ap.stderr
        assert "..data ->" in ap.stdout
        event = out.json()
        assert event["event"] == "volume" and event["previous"] == vol["data_target"]
        assert read_proc_file(pid, "environ") == env_before
        proc.send_signal(signal.SIGINT)
        stopped = out.json()
        assert stopped["event"] == "stopped"
        assert proc.wait(10) == 0
        wait_until(lambda: gone(pid), what=f"the pod's process {pid} to end")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_pod_dir_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("")
    code, _, err = run_cli(capsys, "k8s", "run", str(EX / "volume-pod.yaml"),
                           "--pod-dir", str(f))
    assert code == 2 and "not a directory" in err and err.count("\n") == 1


def test_validate_an_empty_file_is_not_silently_valid(tmp_path, capsys):
    """`memlab k8s validate empty.yaml` printed nothing and exited 0."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing here\n---\n")
    rc, out, _ = run_cli(capsys, "k8s", "validate", str(empty))
    assert rc == 2 and "no objects" in out and str(empty) in out
    rc, out, _ = run_cli(capsys, "k8s", "validate", str(empty), "--json")
    d = json.loads(out)
    assert rc == 2 and d["valid"] is False and "no objects" in d["objects"][0]["errors"][0]["message"]


@pytest.mark.parametrize("bad", ["-1", "0", "nan", "x"])
def test_run_timeout_must_be_positive(capsys, bad):
    with pytest.raises(SystemExit) as info:
        run_cli(capsys, "k8s", "run", str(EX / "volume-pod.yaml"), "--timeout", bad)
    assert info.value.code == 2
    assert "seconds" in capsys.readouterr().err


def test_env_text_fits_80_columns_apart_from_long_values(capsys, monkeypatch):
    """Each line was NAME + value padded to 40 + source: 90-120 columns."""
    monkeypatch.setenv("COLUMNS", "80")
    rc, out, _ = run_cli(capsys, "k8s", "env", str(EX / "env-pod.yaml"), "-f",
                         str(EX / "my-configmap.yaml"))
    assert rc == 0 and "MY_ENV_VARIABLE" in out and "configMapKeyRef" in out
    long = [line for line in out.splitlines() if len(line) > 80]
    assert [line.split()[0] for line in long] == ["PATH"]  # the value alone is 60 chars


def test_apply_to_a_stopped_pod_says_it_is_not_running(tmp_path, capsys):
    """After Ctrl-C, `k8s apply --pod DIR` still said "the environment of a running
    process never changes", as if a process were there to see the update."""
    with k8spod.run(str(EX / "volume-pod.yaml"), pod_dir=tmp_path / "p") as pr:
        code, out, _ = run_cli(capsys, "k8s", "apply", str(EX / "test-config-debug.yaml"),
                               "--pod", str(pr.pod_dir), "--json")
        assert code == 0 and json.loads(out)["running_pid"] == pr.pid
        pod_dir = pr.pod_dir
    code, out, _ = run_cli(capsys, "k8s", "apply", str(EX / "my-configmap.yaml"),
                           "--pod", str(pod_dir))
    assert code == 0 and "the pod is not running" in out and "running process" not in out
    code, out, _ = run_cli(capsys, "k8s", "apply", str(EX / "my-configmap.yaml"),
                           "--pod", str(pod_dir), "--json")
    assert json.loads(out)["running_pid"] is None
