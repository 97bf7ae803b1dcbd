"""`kubectl apply` + kubelet's sync, on memlab's pod directory: validate the new object
against the stored one (immutable, type) -> store it -> re-run AtomicWriter for every
volume that projects it, as kubelet's sync loop would (here at once, not after the
60-90 s sync period).  The running process's environment does not change: it was fixed
at execve (kubernetes#22368); the env drift says what a restarted container would see.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from memlab.errors import MemlabError, UsageError
from memlab.k8s import validation
from memlab.k8s.atomic_writer import WriteResult
from memlab.k8s.envvars import make_environment
from memlab.k8s.manifests import Manifest, ObjectStore, Pod, build_object, text_or_path
from memlab.k8s.poddir import (STATE_FILE, json_bytes, load_objects, locked, object_file_name,
                               object_to_api, read_state)
from memlab.k8s.volumes import FailedMount, setup_volume, volume_sources
from memlab.safefs import Dir, open_trusted
from memlab.secrets import display_value

ENV_NOTE = ("the environment of a running process never changes: it was copied onto its "
            "stack at execve (kubernetes#22368); a restarted container would get new values")

@dataclass
class ApplyResult:
    """What one apply did to one volume (or to nothing, when no volume uses the object)."""

    object: str  # "ConfigMap default/test-config"
    action: str  # "created" | "updated" | "unchanged"
    volume: str | None = None
    write: WriteResult | None = None
    event: str | None = None  # a FailedMount message when the payload is invalid now
    env_drift: dict | None = None  # name -> {"running": v, "on_restart": v}

    def to_dict(self, reveal: bool = True) -> dict:
        drift = None
        if self.env_drift is not None:
            drift = {k: {"running": _show(k, v["running"], v.get("secret"), reveal),
                         "on_restart": _show(k, v["on_restart"], v.get("secret"), reveal)}
                     for k, v in self.env_drift.items()}
        return {"object": self.object, "action": self.action, "volume": self.volume,
                "write": self.write.to_dict() if self.write else None,
                "event": self.event, "env_drift": drift}


def _show(name: str, value: str, secret: bool | None, reveal: bool) -> str:
    return display_value(name, value, reveal, bool(secret))


def apply_to_pod_dir(pod_dir: str | os.PathLike, manifest) -> list[ApplyResult]:
    """`memlab k8s apply OBJ.yaml --pod DIR`: works from any process.

    DIR must be memlab's pod directory (load_state).  Validates every document first
    (nothing written if one fails), then per object: store it, re-run AtomicWriter for
    each volume projecting it, report env drift."""
    docs = text_or_path(manifest)
    with open_trusted(os.path.abspath(pod_dir)) as d:
        state = read_state(d)
        ns = state["namespace"]
        for obj in docs:
            if isinstance(obj, Pod):
                raise UsageError(f"{obj.where()}: a Pod's spec cannot be updated in place "
                                 "(most fields are immutable): stop it and run it again")
            if obj.namespace != ns:
                raise UsageError(f"{obj.where()}: {obj.kind} {obj.namespace}/{obj.name} is "
                                 f"not in the pod's namespace {ns!r}")
        with locked(d):
            return _apply(d, state, docs)


def _apply(d: Dir, state: dict, docs: list[Manifest]) -> list[ApplyResult]:
    results: list[ApplyResult] = []
    store = load_objects(d)
    for obj in docs:  # validate all before writing any
        validation.check(obj, store.get(obj.kind, obj.namespace, obj.name))
    pod = build_object(state["pod"], {}, 1, d.join(STATE_FILE))
    container = pod.container(state["container"])
    frozen = {e["name"]: (e["value"], e.get("from_secret", False)) for e in state["env"]}
    for obj in docs:
        old = store.get(obj.kind, obj.namespace, obj.name)
        same = old is not None and object_to_api(old) == object_to_api(obj)
        action = "created" if old is None else ("unchanged" if same else "updated")
        with d.mkdir("objects") as objects:
            objects.write_file(object_file_name(obj), json_bytes(object_to_api(obj)))
        store.put(obj)
        label = f"{obj.kind} {obj.namespace}/{obj.name}"
        drift = _env_drift(pod, container, store, frozen)
        touched = False
        for vs in volume_sources(pod):
            if not vs.projects(obj.kind, obj.name):
                continue
            touched = True
            if (state.get("runtime") and vs.kind == "secret"
                    and not os.path.ismount(vs.host_dir(d.path))):
                # a runtime's pod keeps Secret volumes on a tmpfs, gone with the pod:
                # kubelet never writes a Secret volume to disk
                results.append(ApplyResult(label, action, vs.name, None,
                                           "not written: the pod is stopped and its Secret "
                                           "tmpfs is gone", drift))
                continue
            try:
                wr = setup_volume(vs, pod, store, d)
                results.append(ApplyResult(label, action, vs.name, wr, None, drift))
            except FailedMount as err:  # kubelet keeps the old content, emits an event
                results.append(ApplyResult(label, action, vs.name, None, str(err), drift))
        if not touched:
            results.append(ApplyResult(label, action, None, None, None, drift))
    return results


def _env_drift(pod: Pod, container: dict, store: ObjectStore,
               frozen: dict[str, tuple[str, bool]]) -> dict:
    """Variables whose value a restarted container would see differently:
    name -> {"running", "on_restart", "secret"}."""
    try:
        fresh = {e.name: e for e in make_environment(pod, container, store)}
    except MemlabError as err:  # the restarted container would not even start
        return {"(restart)": {"running": "", "on_restart": str(err), "secret": False}}
    drift = {}
    for name in sorted(set(fresh) | {k for k in frozen if k not in ("HOSTNAME", "PATH")}):
        old = frozen.get(name)
        new = fresh.get(name)
        old_v = old[0] if old else None
        new_v = new.value if new else None
        if old_v != new_v:
            drift[name] = {"running": old_v if old_v is not None else "(unset)",
                           "on_restart": new_v if new_v is not None else "(unset)",
                           "secret": bool((old and old[1]) or (new and new.from_secret))}
    return drift
