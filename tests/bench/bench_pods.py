"""Pods in runc: `k8s run` to the container's first output, against `runc run` of the
same bundle by hand (target: within 1.5x), and `k8s apply` to the change seen inside.

The container runs memlab's static sleeper (the env-pod example: image redis, no
command).  Its first stdout line is its self-report, written a few microseconds after
its first instruction (a static binary: no ld.so), so "first line" stands for "first
instruction" on both sides.  memlab's side is prepare() + start() in this process (what
`memlab k8s run` does after Python has started): validation, the env, the pod directory,
the volumes, the rootfs copy, config.json, the cleanup shim, `runc run`.  The hand side
is `runc run` of the very bundle memlab wrote.  Without runc or root: one row that says so.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from memlab.k8s import pod as k8spod

EX = Path(k8spod.__file__).parent / "examples"
ROUNDS = 11


def _memlab_run(pod_dir: str) -> tuple[float, object]:
    t = time.perf_counter()
    pr = k8spod.prepare(str(EX / "env-pod.yaml"), [str(EX / "my-configmap.yaml")],
                        runtime=True, pod_dir=pod_dir)
    pr.start(timeout=30)
    line = pr.launched.read_stdout_line(timeout=30)
    took = time.perf_counter() - t
    assert line and line.startswith("{"), line
    return took, pr


def _by_hand(runc: str, root: str, bundle: str, cid: str) -> float:
    t = time.perf_counter()
    proc = subprocess.Popen([runc, "--root", root, "run", "--bundle", bundle, cid],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    line = proc.stdout.readline()
    took = time.perf_counter() - t
    assert line.startswith(b"{"), line
    subprocess.run([runc, "--root", root, "delete", "--force", cid], capture_output=True)
    proc.kill()
    proc.wait()
    return took


def bench_pod_start_and_apply():
    runc = shutil.which("runc")
    if runc is None or os.geteuid() != 0 or shutil.which("busybox") is None:
        return [dict(name="k8s run -> first instruction", value=None, unit="ms",
                     note="skipped: needs runc, busybox-static and root")]
    mine, hand, applies, execs = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="memlab-bench-pods-") as tmp:
        for i in range(ROUNDS):
            took, pr = _memlab_run(os.path.join(tmp, f"pod{i}"))
            mine.append(took)
            bundle = pr.main.bundle
            try:
                # the same bundle by hand: a copy, so memlab's container keeps its own
                copy = os.path.join(tmp, f"hand{i}")
                shutil.copytree(bundle, copy, symlinks=True)
                if os.path.exists(os.path.join(copy, "pid")):
                    os.unlink(os.path.join(copy, "pid"))
                hand.append(_by_hand(runc, pr.runtime.root, copy, f"memlab-bench-{i}"))
            finally:
                pr.stop()
        # apply: the volume pod (the env pod has no volume)
        vol_pod = k8spod.prepare(str(EX / "volume-pod.yaml"), runtime=True,
                                 pod_dir=os.path.join(tmp, "vol"))
        vol_pod.start(timeout=30)
        try:
            for i in range(ROUNDS):
                level = "DEBUG" if i % 2 == 0 else "INFO"
                path = os.path.join(tmp, f"cm-{i}.yaml")
                Path(path).write_text((EX / "test-config-debug.yaml").read_text().replace(
                    'LOG_LEVEL: "DEBUG"', f'LOG_LEVEL: "{level}"'))
                t = time.perf_counter()
                vol_pod.apply(path)
                t1 = time.perf_counter()
                r = vol_pod.runtime.exec(vol_pod.main.id, ["cat", "/etc/config/LOG_LEVEL"])
                t2 = time.perf_counter()
                assert r.stdout == level.encode(), r
                applies.append(t1 - t)
                execs.append(t2 - t1)
        finally:
            vol_pod.stop()
    m, h = statistics.median(mine) * 1e3, statistics.median(hand) * 1e3
    a, e = statistics.median(applies) * 1e3, statistics.median(execs) * 1e3
    return [
        dict(name="k8s run -> container's first instruction", value=round(m, 1), unit="ms",
             compare_to="runc run of the same bundle", ratio=round(m / h, 2),
             note=f"runc by hand {h:.1f} ms (target: within 1.5x); median of {ROUNDS}"),
        dict(name="k8s apply -> change seen in the container", value=round(a, 1), unit="ms",
             compare_to=None, ratio=None,
             note=f"..data swap under the bind mount; then `runc exec cat` ({e:.0f} ms) "
                  "already reads the new value"),
    ]


if __name__ == "__main__":
    for row in bench_pod_start_and_apply():
        print(row)
