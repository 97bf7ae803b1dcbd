"""What a lesson step can DO: launch a sample, talk to it, take a snapshot, run the
exposure observers, apply Kubernetes manifests, run the ASLR experiment...

Each action is a thin adapter over memlab's library, registered (registry.py) by the
module of its domain: process.py (launch, command, snapshot, poke, wait_output), elf.py
(heap, aslr), exposure.py (exposure, search, observe), k8s.py (k8s_validate, k8s_run,
k8s_apply, k8s_state, k8s_exec, k8s_mountinfo), trace.py (trace), core.py (core_dump).
Importing this package registers them all.
"""

from memlab.lessons.actions import core, elf, exposure, k8s, process, trace  # noqa: F401  (register)
from memlab.lessons.actions.registry import (ACTIONS, PROGRAM_PARAMS, ActionResult, ActionSpec,
                                             Bound, RunContext, Skipped, action, bounded,
                                             param_value)

__all__ = ["ACTIONS", "PROGRAM_PARAMS", "ActionResult", "ActionSpec", "Bound", "RunContext",
           "Skipped", "action", "bounded", "param_value"]
