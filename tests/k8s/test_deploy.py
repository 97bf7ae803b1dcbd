"""deploy/: the DaemonSet that runs `memlab audit --json` on every node validates with
`memlab k8s validate`, keeps its promises (hostPID, read-only root, only SYS_PTRACE and
DAC_READ_SEARCH, no network), and its pod template is what `memlab k8s run` runs."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from memlab.k8s import pod as k8spod
from memlab.k8s import validation
from memlab.k8s.envvars import expand_command_and_args
from memlab.k8s.manifests import DaemonSet, load_file
from memlab.launch import launch
from tests.helpers import LineReader, sample
from tests.k8s.conftest import load

REPO = Path(__file__).resolve().parents[2]
DS = REPO / "deploy" / "daemonset.yaml"
MEMLAB = [sys.executable, "-m", "memlab"]


def test_daemonset_validates_with_k8s_validate():
    r = subprocess.run(MEMLAB + ["k8s", "validate", str(DS), "--json"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["valid"] and report["objects"][0]["kind"] == "DaemonSet"
    assert report["objects"][0]["warnings"] == []


def test_daemonset_template_keeps_its_promises():
    (ds,) = load_file(DS)
    assert isinstance(ds, DaemonSet)
    spec = ds.template["spec"]
    assert spec["hostPID"] is True and spec["hostNetwork"] is False
    assert spec["automountServiceAccountToken"] is False
    (c,) = spec["containers"]
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["SYS_PTRACE", "DAC_READ_SEARCH"]}
    assert "memlab audit --json" in " ".join(c["command"] + c["args"])


def test_validate_daemonset_reports_template_paths():
    """ValidateDaemonSet: the template is validated as a Pod, errors carry the
    DaemonSet's paths (spec.template.spec...), the selector must match the labels."""
    text = DS.read_text().replace("name: audit\n", "name: Audit_1\n").replace(
        "      labels:\n        app.kubernetes.io/name: memlab-audit\n    spec:",
        "      labels:\n        app.kubernetes.io/name: other\n    spec:")
    errs = [str(e) for o in load(text) for e in validation.validate(o)]
    assert any(e.startswith('spec.template.metadata.labels: Invalid value') and
               "`selector` does not match template `labels`" in e for e in errs)
    assert any(e.startswith('spec.template.spec.containers[0].name: Invalid value: '
                            '"Audit_1"') for e in errs)


def test_k8s_run_accepts_the_daemonset_template(tmp_path):
    """prepare() takes the DaemonSet file: the Pod its controller would create here
    (`memlab-audit-<5>`, namespace memlab), no service-account volume (automount off),
    and kubelet's $(AUDIT_INTERVAL_SECONDS) expansion in args."""
    pr = k8spod.prepare(str(DS), pod_dir=tmp_path / "p")
    assert pr.pod.name.startswith("memlab-audit-") and len(pr.pod.name) == 18
    assert pr.pod.namespace == "memlab" and pr.container["name"] == "audit"
    assert not any("projected" in v for v in pr.pod.volumes)
    _, args = expand_command_and_args(pr.container, list(pr.env))
    assert "sleep 3600;" in args[0] and "$(" not in args[0]


def _runtime_with_memlab_image():
    """The OCI runtime and an image `memlab:latest` whose rootfs has memlab."""
    if shutil.which("runc") is None and shutil.which("crun") is None:
        return None
    try:
        runtime = importlib.import_module("memlab.k8s.rootfs")
    except ImportError:
        return None
    provides = getattr(runtime, "provides_image", None)
    if provides is None or not provides("memlab:latest"):
        return None
    return runtime


@pytest.mark.skipif(os.geteuid() != 0 or _runtime_with_memlab_image() is None,
                    reason="needs root, runc and memlab.k8s.rootfs.provides_image("
                           "'memlab:latest'): an image name mapped to a rootfs that has "
                           "memlab; without a runtime the template's /bin/sh loop would run "
                           "on the host, not in the container")
def test_daemonset_template_runs_and_finds_a_host_secret(tmp_path):
    """hostPID: the audit inside the container sees the node's processes and finds the
    secret a host process holds - why hostPID is dangerous."""
    planted = launch(sample("sleeper"), [], [b"DB_PASSWORD=planted-host-secret-7f3a"],
                     hold="ready")
    p = subprocess.Popen(MEMLAB + ["k8s", "run", str(DS), "--json", "--pod-dir",
                                   str(tmp_path / "p")], stdout=subprocess.PIPE)
    try:
        out = LineReader(p.stdout.fileno(), "memlab k8s run")
        assert out.json(30)["event"] == "started"
        while True:
            ev = out.json(60)
            if ev["event"] == "stdout" and ev["line"].startswith("{"):
                report = json.loads(ev["line"])
                break
        found = [f for f in report["findings"] if f.get("pid") == planted.pid]
        assert any(f.get("variable") == "DB_PASSWORD" for f in found), report
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(30)
        planted.kill()
