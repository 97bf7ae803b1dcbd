"""Where memlab's pod directories live: <per-user state dir>/pods, one directory per pod.

A module of its own, importing nothing heavy (not even pathlib): every `memlab env`/
`inspect` looks here for the Secret values of the pod a process belongs to
(memlab.k8s.podsecrets), and must not pay for importing memlab.k8s.pod.
memlab.k8s.poddir.default_pod_root() is the same directory as a Path.
"""

from __future__ import annotations

import os

from memlab.statedir import state_root

POD_ROOT_NAME = "pods"


def pod_root() -> str:
    """<per-user state dir>/pods: where `k8s run` (and the TUI Pod view) put pods."""
    return os.path.join(state_root(), POD_ROOT_NAME)
