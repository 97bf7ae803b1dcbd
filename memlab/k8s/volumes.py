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
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from memlab.errors import MemlabError
from memlab.k8s.atomic_writer import AtomicWriter, FileProjection, WriteResult
from memlab.k8s.manifests import ConfigMap, ObjectStore, Pod, Secret
from memlab.safefs import Dir, check_name, open_trusted

DEFAULT_MODE = 0o644
PLUGIN_DIRS = {"configMap": "kubernetes.io~configmap", "secret": "kubernetes.io~secret"}


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
    kind: str  # "configMap" | "secret"
    object_name: str  # the ConfigMap / Secret it projects
    items: tuple  # ({"key","path","mode"?}, ...)
    default_mode: int
    optional: bool

    @property
    def object_kind(self) -> str:
        return "ConfigMap" if self.kind == "configMap" else "Secret"

    def host_dir(self, pod_dir: str | os.PathLike) -> str:
        return os.path.join(os.fspath(pod_dir), *volume_dir_names(self))


def volume_sources(pod: Pod) -> list[VolumeSource]:
    """The pod's configMap/secret volumes (other types are not simulated)."""
    out = []
    for vol in pod.volumes:
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
            if "configMap" not in v and "secret" not in v]


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


def resolve(vs: VolumeSource, pod: Pod, store: ObjectStore) -> dict[str, FileProjection]:
    """SetUpAt's fetch + MakePayload: FailedMount when the object is missing."""
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
                 pod_dir: Dir | str | os.PathLike) -> WriteResult:
    """SetUpAt: resolve the payload and hand it to AtomicWriter in the volume's host dir,
    volumes/<plugin>/<volume>, made below the pod directory's held fd (memlab.safefs;
    a path is opened as a trusted directory first)."""
    if not isinstance(pod_dir, Dir):
        with open_trusted(pod_dir) as d:
            return setup_volume(vs, pod, store, d)
    payload = resolve(vs, pod, store)
    fs_group = pod.fs_group
    set_perms = None
    if fs_group is not None:
        def set_perms(target: Dir, ts_name: str) -> None:
            _ownership_tree(target, ts_name, fs_group)
    with pod_dir.makedirs(volume_dir_names(vs), 0o750) as target:
        return AtomicWriter(target, f"{vs.kind} volume {vs.name}").write(payload, set_perms)


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
