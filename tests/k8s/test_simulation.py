"""Without a container runtime memlab simulates a pod, says so, and does not lie where
the runtime would differ: a subPath is a copy made at start (a bind of one file never
updates).  Runs everywhere: no runc needed."""

from __future__ import annotations

import os

import pytest

from memlab.k8s import pod as k8spod
from memlab.procfs.status import uids
from tests.helpers import wait_until
from tests.k8s.test_runtime import CM, EX, POD_SUBPATH


def test_the_simulation_says_so(tmp_path):
    pr = k8spod.prepare(str(EX / "volume-pod.yaml"), pod_dir=tmp_path / "pod")
    pr.start(timeout=20)
    try:
        assert pr.simulated and pr.note.startswith("simulated: ")
    finally:
        pr.stop()


def test_the_simulations_subpath_is_a_copy_that_never_updates(tmp_path):
    (tmp_path / "cm.yaml").write_text(CM % "INFO")
    (tmp_path / "cm2.yaml").write_text(CM % "DEBUG")
    pr = k8spod.prepare(POD_SUBPATH, [str(tmp_path / "cm.yaml")], runtime=False,
                        pod_dir=tmp_path / "pod")
    pr.start(timeout=20)
    try:
        copy = tmp_path / "pod/rootfs/etc/level"
        assert not copy.is_symlink() and copy.read_bytes() == b"INFO"
        pr.apply(str(tmp_path / "cm2.yaml"))
        assert (tmp_path / "pod/rootfs/etc/config/LOG_LEVEL").read_bytes() == b"DEBUG"
        assert copy.read_bytes() == b"INFO"
    finally:
        pr.stop()


def test_the_simulation_applies_run_as_user_when_root(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("setuid needs root")
    pod = """apiVersion: v1
kind: Pod
metadata: {name: sim-user}
spec:
  securityContext: {runAsUser: 1000, runAsGroup: 1000}
  containers:
  - {name: app, image: busybox, command: [sleep, "3600"]}
"""
    pr = k8spod.prepare(pod, pod_dir=tmp_path / "pod")
    pr.start(timeout=20)
    try:
        wait_until(lambda: uids(pr.pid)[0] == 1000, what="setpriv to exec sleep as 1000")
        assert uids(pr.pid) == (1000, 1000, 1000, 1000)
        assert "runs as uid 1000" in pr.note
    finally:
        pr.stop()
