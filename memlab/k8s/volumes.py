"""configMap and secret volumes: the payload kubelet hands to AtomicWriter, and SetUp.

pkg/volume/configmap/configmap.go and pkg/volume/secret/secret.go:
  - MakePayload: without items every key is a file (ConfigMap: data and binaryData;
    Secret: data), mode defaultMode; with items only the listed keys, at `path`, mode
    `mode` or defaultMode.  A listed key that does not exist is an error unless the
    volume is optional (then it is skipped).
  - SetUpAt: a missing object fails the mount (event FailedMount, the pod stays
    ContainerCreating) unless optional: then the volume is empty (a ts dir and ..data).
  - defaultMode defaults to 0644.  With fsGroup, SetVolumeOwnership chowns the tree to
    the group and ORs 0440 into file modes (volumes are read-only) and setgid+r-x into
    directories (pkg/volume/volume_linux.go).
Host layout mirrors kubelet: <pod dir>/volumes/kubernetes.io~configmap/<volume name>.

downwardAPI volumes (pkg/volume/downwardapi CollectData) and projected volumes
(pkg/volume/projected collectData: configMap, secret, downwardAPI and serviceAccountToken
sources merged into one payload, defaultMode 0644) go through the same AtomicWriter.
The service-account token is memlab's own fake (memlab.k8s.serviceaccount).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from memlab.errors import MemlabError
import json
import time

from memlab.k8s.atomic_writer import AtomicWriter, FileProjection, WriteResult
from memlab.k8s.downward import (Unsupported, extract_field_path_as_string,
                                 resource_field_value)
from memlab.k8s.manifests import ConfigMap, ObjectStore, Pod, Secret, build_object
from memlab.k8s.poddir import STATE_FILE, load_objects, locked, read_state
from memlab.k8s.serviceaccount import (ROOT_CA_CONFIGMAP, fake_root_ca, fake_token,
                                       token_source)
from memlab.safefs import Dir, check_name, open_trusted

DEFAULT_MODE = 0o644
PLUGIN_DIRS = {"configMap": "kubernetes.io~configmap", "secret": "kubernetes.io~secret",
               "downwardAPI": "kubernetes.io~downward-api",
               "projected": "kubernetes.io~projected"}
TOKEN_STATE = "serviceaccount-token.json"  # in the pod directory: when the token was issued


class FailedMount(MemlabError):
    """MountVolume.SetUp failed: the pod would stay in ContainerCreating."""

    reason = "FailedMount"

    def __init__(self, volume: str, message: str):
        self.volume = volume
        self.message = message
        super().__init__(f'{self.reason}: MountVolume.SetUp failed for volume "{volume}" : '
                         f"{message}")


@dataclass(frozen=True)
class VolumeSource:
    """One configMap/secret volume of a pod."""

    name: str  # the volume's name in the pod
    kind: str  # "configMap" | "secret" | "downwardAPI" | "projected"
    object_name: str  # the ConfigMap / Secret it projects ("" for the others)
    items: tuple  # ({"key","path","mode"?}, ...); downwardAPI: its items
    default_mode: int
    optional: bool
    sources: tuple = ()  # projected: the spec's sources

    @property
    def object_kind(self) -> str:
        return {"configMap": "ConfigMap", "secret": "Secret"}.get(self.kind, "")

    def projects(self, kind: str, name: str) -> bool:
        """Does a change of the object KIND/NAME change this volume's content?"""
        if self.kind in ("configMap", "secret"):
            return self.object_kind == kind and self.object_name == name
        field = {"ConfigMap": "configMap", "Secret": "secret"}.get(kind)
        return any((src.get(field) or {}).get("name") == name for src in self.sources
                   if field)

    @property
    def has_token(self) -> bool:
        return any("serviceAccountToken" in src for src in self.sources)

    def host_dir(self, pod_dir: str | os.PathLike) -> str:
        return os.path.join(os.fspath(pod_dir), *volume_dir_names(self))


def volume_sources(pod: Pod) -> list[VolumeSource]:
    """The pod's configMap/secret/downwardAPI/projected volumes (others are not
    simulated)."""
    out = []
    for vol in pod.volumes:
        for kind in ("downwardAPI", "projected"):
            src = vol.get(kind)
            if src is None:
                continue
            mode = src.get("defaultMode")
            out.append(VolumeSource(vol["name"], kind, "", tuple(src.get("items") or ()),
                                    DEFAULT_MODE if mode is None else mode, False,
                                    tuple(src.get("sources") or ())))
        for kind, name_field in (("configMap", "name"), ("secret", "secretName")):
            src = vol.get(kind)
            if src is None:
                continue
            mode = src.get("defaultMode")
            out.append(VolumeSource(vol["name"], kind, src.get(name_field, ""),
                                    tuple(src.get("items") or ()),
                                    DEFAULT_MODE if mode is None else mode,
                                    bool(src.get("optional"))))
    return out


def unsupported_volumes(pod: Pod) -> list[str]:
    return [v.get("name", "?") for v in pod.volumes
            if not any(k in v for k in PLUGIN_DIRS)]


def make_payload(vs: VolumeSource, obj: ConfigMap | Secret | None) -> dict[str, FileProjection]:
    """MakePayload for one volume.  OBJ None means optional-and-missing: empty payload."""
    if obj is None:
        return {}
    if isinstance(obj, ConfigMap):
        files: dict[str, bytes] = {k: v.encode("utf-8") for k, v in obj.data.items()}
        files.update(obj.binary_data)
        missing = "configmap references non-existent config key: {}"
    else:
        files = dict(obj.data)
        missing = "references non-existent secret key: {}"
    payload: dict[str, FileProjection] = {}
    if not vs.items:
        for k, data in files.items():
            payload[k] = FileProjection(data, vs.default_mode)
        return payload
    for item in vs.items:
        key = item["key"]
        if key not in files:
            if vs.optional:
                continue
            raise FailedMount(vs.name, missing.format(key))
        mode = item.get("mode")
        payload[item["path"]] = FileProjection(files[key],
                                               vs.default_mode if mode is None else mode)
    return payload


def downward_payload(items, pod: Pod, default_mode: int, vol: str
                     ) -> dict[str, FileProjection]:
    """pkg/volume/downwardapi CollectData: fieldRef -> ExtractFieldPathAsString,
    resourceFieldRef -> ExtractResourceValueByContainerNameAndNodeAllocatable."""
    out = {}
    for item in items:
        mode = item.get("mode")
        mode = default_mode if mode is None else mode
        if "fieldRef" in item:
            text = extract_field_path_as_string(pod, item["fieldRef"].get("fieldPath", ""))
        elif "resourceFieldRef" in item:
            text = resource_field_value(pod, item["resourceFieldRef"])
        else:
            raise Unsupported(f"downwardAPI item {item.get('path')!r} in volume {vol!r}")
        out[item["path"]] = FileProjection(text.encode("utf-8", "surrogateescape"), mode)
    return out


def projected_payload(vs: VolumeSource, pod: Pod, store: ObjectStore,
                      issued_at: float | None = None) -> dict[str, FileProjection]:
    """pkg/volume/projected collectData: each source's files, in order, into one
    payload; a missing object fails the mount unless its source is optional."""
    payload: dict[str, FileProjection] = {}
    for i, src in enumerate(vs.sources):
        if "configMap" in src or "secret" in src:
            kind = "configMap" if "configMap" in src else "secret"
            p = src[kind]
            sub = VolumeSource(vs.name, kind, p.get("name", ""), tuple(p.get("items") or ()),
                               vs.default_mode, bool(p.get("optional")))
            if kind == "configMap" and sub.object_name == ROOT_CA_CONFIGMAP and \
                    store.configmap(pod.namespace, ROOT_CA_CONFIGMAP) is None:
                # rootcacertpublisher puts kube-root-ca.crt in every namespace; memlab
                # has no cluster CA, so it serves a fake one
                payload.update(make_payload(sub, fake_root_ca(pod.namespace)))
                continue
            payload.update(resolve(sub, pod, store))
        elif "downwardAPI" in src:
            payload.update(downward_payload(src["downwardAPI"].get("items") or (), pod,
                                            vs.default_mode, vs.name))
        elif "serviceAccountToken" in src:
            sat = token_source(src)
            token = fake_token(pod, sat, issued_at)
            payload[sat["path"]] = FileProjection(token.encode("ascii"), vs.default_mode)
        else:
            raise Unsupported(f"projected source {sorted(src)} (volume {vs.name!r}, "
                              f"sources[{i}])")
    return payload


def resolve(vs: VolumeSource, pod: Pod, store: ObjectStore,
            issued_at: float | None = None) -> dict[str, FileProjection]:
    """SetUpAt's fetch + MakePayload: FailedMount when the object is missing."""
    if vs.kind == "downwardAPI":
        return downward_payload(vs.items, pod, vs.default_mode, vs.name)
    if vs.kind == "projected":
        return projected_payload(vs, pod, store, issued_at)
    if vs.kind == "configMap":
        obj = store.configmap(pod.namespace, vs.object_name)
        what = "configmap"
    else:
        obj = store.secret(pod.namespace, vs.object_name)
        what = "secret"
    if obj is None and not vs.optional:
        raise FailedMount(vs.name, f'{what} "{vs.object_name}" not found')
    return make_payload(vs, obj)


def setup_volume(vs: VolumeSource, pod: Pod, store: ObjectStore,
                 pod_dir: Dir | str | os.PathLike, *, rotate: bool = False) -> WriteResult:
    """SetUpAt: resolve the payload and hand it to AtomicWriter in the volume's host dir,
    volumes/<plugin>/<volume>, made below the pod directory's held fd (memlab.safefs;
    a path is opened as a trusted directory first).  A volume with a service-account
    token keeps the token issued before (kubelet's token manager caches it) unless
    ROTATE: then a new one is issued now."""
    if not isinstance(pod_dir, Dir):
        with open_trusted(pod_dir) as d:
            return setup_volume(vs, pod, store, d, rotate=rotate)
    issued_at = None
    if vs.has_token:
        if rotate:
            issued_at = time.time()
            pod_dir.write_file(TOKEN_STATE, json.dumps({"issued_at": issued_at}).encode())
        else:
            issued_at = _token_issued_at(pod_dir)
    payload = resolve(vs, pod, store, issued_at)
    fs_group = pod.fs_group
    set_perms = None
    if fs_group is not None:
        def set_perms(target: Dir, ts_name: str) -> None:
            _ownership_tree(target, ts_name, fs_group)
    with pod_dir.makedirs(volume_dir_names(vs), 0o750) as target:
        return AtomicWriter(target, f"{vs.kind} volume {vs.name}").write(payload, set_perms)


def _token_issued_at(pod_dir: Dir) -> float | None:
    if pod_dir.lstat(TOKEN_STATE) is None:
        return None
    try:
        return float(json.loads(pod_dir.read_file(TOKEN_STATE))["issued_at"])
    except (ValueError, KeyError, TypeError):
        return None


def rotate_token(pod_dir: str | os.PathLike) -> list[WriteResult]:
    """Issue a new service-account token into every volume of the pod that projects
    one, through the same AtomicWriter ..data swap (kubelet's token manager refreshes a
    token once 80% of its lifetime has passed, pkg/kubelet/token requiresRefresh)."""
    results = []
    with open_trusted(os.path.abspath(pod_dir)) as d:
        with locked(d):
            state = read_state(d)
            pod = build_object(state["pod"], {}, 1, d.join(STATE_FILE))
            store = load_objects(d)
            first = True
            for vs in volume_sources(pod):
                if vs.has_token:
                    results.append(setup_volume(vs, pod, store, d, rotate=first))
                    first = False
    return results


def volume_dir_names(vs: VolumeSource) -> tuple[str, str, str]:
    """The components of the volume's host dir below the pod directory.  vs.name was
    validated as a DNS-1123 label (ValidateVolumes); check_name holds even if not."""
    return ("volumes", PLUGIN_DIRS[vs.kind], check_name(vs.name))


def _ownership_tree(target: Dir, ts_name: str, fs_group: int) -> None:
    """SetVolumeOwnership for a read-only volume: group fsGroup, files |= 0440,
    directories |= setgid + 0550 (pkg/volume/volume_linux.go, roMask/execMask).
    fd-based (os.fwalk): a link in the tree is chowned as a link, never followed."""
    def fix(name: str, dir_fd: int) -> None:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        os.chown(name, -1, fs_group, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            return
        mode = stat.S_IMODE(st.st_mode) | 0o440
        if stat.S_ISDIR(st.st_mode):
            mode |= stat.S_ISGID | 0o110
        os.chmod(name, mode, dir_fd=dir_fd)

    fix(ts_name, target.fd)
    for _root, dirs, files, dir_fd in os.fwalk(ts_name, dir_fd=target.fd):
        for name in dirs + files:
            fix(name, dir_fd)


def read_volume(host_dir: str) -> dict[str, bytes]:
    """What a reader of the mounted volume sees: user-visible path -> content (through
    the ..data links), for every regular file reachable from a top-level link."""
    out: dict[str, bytes] = {}
    try:
        names = sorted(os.listdir(host_dir))
    except FileNotFoundError:
        return out
    inside = os.path.realpath(host_dir) + os.sep
    for name in names:
        if name.startswith(".."):
            continue
        top = os.path.join(host_dir, name)
        if not os.path.realpath(top).startswith(inside):
            continue  # a link out of the volume is not the volume's content
        if os.path.isdir(top):
            for dirpath, _dirs, files in os.walk(top, followlinks=True):
                for f in sorted(files):
                    full = os.path.join(dirpath, f)
                    if not os.path.realpath(full).startswith(inside):
                        continue
                    with open(full, "rb") as fh:
                        out[os.path.relpath(full, host_dir)] = fh.read()
        elif os.path.isfile(top):
            with open(top, "rb") as fh:
                out[name] = fh.read()
    return dict(sorted(out.items()))
