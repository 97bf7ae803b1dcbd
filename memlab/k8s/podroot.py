"""Where memlab's pod directories live: <per-user state dir>/pods, one directory per pod.

A module of its own, importing nothing heavy: every `memlab env`/`inspect` looks here
for the Secret values of the pod a process belongs to (memlab.k8s.podsecrets), and
must not pay for importing memlab.k8s.pod.
"""

from __future__ import annotations

from pathlib import Path

from memlab.statedir import state_root

POD_ROOT_NAME = "pods"


def default_pod_root() -> Path:
    """<per-user state dir>/pods: where `k8s run` (and the TUI Pod view) put pods."""
    return state_root() / POD_ROOT_NAME
