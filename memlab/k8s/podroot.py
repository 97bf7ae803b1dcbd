"""Where memlab's pod directories live (one directory per pod).

A module of its own, importing nothing heavy: every `memlab env`/`inspect` looks here
for the Secret values of the pod a process belongs to (memlab.k8s.podsecrets), and
must not pay for importing memlab.k8s.pod.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_pod_root() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "memlab-pods"
    return Path("/tmp/memlab-pods")
