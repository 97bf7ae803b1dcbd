"""Manifests: multi-document YAML -> ConfigMap / Secret / Pod objects, structurally checked.

What kubectl + the API server's decoder would refuse before validation even runs is
refused here, with the file and line the YAML parser gives:
  - malformed YAML, a document that is not a mapping, duplicate keys (sigs.k8s.io/yaml
    refuses them: `key "a" already set in map`);
  - an unknown kind (kubectl: `no matches for kind "X" in version "v1"`) or apiVersion;
  - a wrong type (`json: cannot unmarshal number into Go struct field ... of type string`:
    the classic is `PORT: 80` under `data:`, which must be quoted);
  - an unknown field (kubectl --validate=strict, the default since 1.27).
Missing required fields are the API server's business: validation.py reports them in
Kubernetes' own words (`spec.containers[0].name: Required value`).

YAML is read as YAML 1.1 (PyYAML), as go-yaml v2 behind sigs.k8s.io/yaml does: `0400` is
octal (256), `yes`/`on` are booleans.  PyYAML is imported lazily.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from typing import Any

from memlab.errors import UsageError
from memlab.inputfile import MANIFEST, read_input_text

Path = tuple  # a field path: ("spec", "containers", 0, "env", 1, "name")


class ManifestError(UsageError):
    """A manifest memlab cannot use: one line, `FILE:LINE: message`."""


# --- the shape of what memlab reads (types + known fields) -------------------------------
# A schema is "str" | "int" | "bool" | "any" | "strmap" | ("list", schema) | dict.
# A dict schema lists every field the real type has; fields memlab does not simulate
# are "any" (accepted, ignored), so a typo (`configMapKeyref`) is still an unknown field.

_KEYREF = {"name": "str", "key": "str", "optional": "bool"}
_OBJREF = {"name": "str", "optional": "bool"}
_KEY_TO_PATH = {"key": "str", "path": "str", "mode": "int"}
_META = {
    "name": "str", "namespace": "str", "generateName": "str", "labels": "strmap",
    "annotations": "strmap", "uid": "any", "resourceVersion": "any", "generation": "any",
    "creationTimestamp": "any", "deletionTimestamp": "any",
    "deletionGracePeriodSeconds": "any", "ownerReferences": "any", "finalizers": "any",
    "managedFields": "any", "selfLink": "any",
}
_FIELD_REF = {"apiVersion": "str", "fieldPath": "str"}  # core.ObjectFieldSelector
# core.ResourceFieldSelector: divisor is a resource.Quantity (a string or a number)
_RESOURCE_REF = {"containerName": "str", "resource": "str", "divisor": "any"}
_ENV_VAR = {
    "name": "str", "value": "str",
    "valueFrom": {"configMapKeyRef": _KEYREF, "secretKeyRef": _KEYREF,
                  "fieldRef": _FIELD_REF, "resourceFieldRef": _RESOURCE_REF,
                  "fileKeyRef": "any"},
}
_ENV_FROM = {"prefix": "str", "configMapRef": _OBJREF, "secretRef": _OBJREF}
_VOLUME_MOUNT = {
    "name": "str", "mountPath": "str", "readOnly": "bool", "subPath": "str",
    "subPathExpr": "str", "mountPropagation": "any", "recursiveReadOnly": "any",
}
_CONTAINER = {
    "name": "str", "image": "str", "command": ("list", "str"), "args": ("list", "str"),
    "workingDir": "str", "env": ("list", _ENV_VAR), "envFrom": ("list", _ENV_FROM),
    "volumeMounts": ("list", _VOLUME_MOUNT),
    **{k: "any" for k in (
        "ports", "resources", "resizePolicy", "restartPolicy", "restartPolicyRules",
        "volumeDevices", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
        "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
        "securityContext", "stdin", "stdinOnce", "tty")},
}
_DOWNWARD_FILE = {"path": "str", "fieldRef": _FIELD_REF, "resourceFieldRef": _RESOURCE_REF,
                  "mode": "int"}
_PROJECTION = {
    "configMap": {"name": "str", "items": ("list", _KEY_TO_PATH), "optional": "bool"},
    "secret": {"name": "str", "items": ("list", _KEY_TO_PATH), "optional": "bool"},
    "downwardAPI": {"items": ("list", _DOWNWARD_FILE)},
    "serviceAccountToken": {"path": "str", "audience": "str", "expirationSeconds": "int"},
    "clusterTrustBundle": "any", "podCertificate": "any",
}
_VOLUME = {
    "name": "str",
    "downwardAPI": {"items": ("list", _DOWNWARD_FILE), "defaultMode": "int"},
    "projected": {"sources": ("list", _PROJECTION), "defaultMode": "int"},
    "configMap": {"name": "str", "items": ("list", _KEY_TO_PATH), "defaultMode": "int",
                  "optional": "bool"},
    "secret": {"secretName": "str", "items": ("list", _KEY_TO_PATH), "defaultMode": "int",
               "optional": "bool"},
    **{k: "any" for k in (
        "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo",
        "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume",
        "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume",
        "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume",
        "scaleIO", "storageos", "csi", "ephemeral", "image")},
}
_POD_SPEC = {
    "containers": ("list", _CONTAINER), "initContainers": ("list", _CONTAINER),
    "volumes": ("list", _VOLUME),
    "securityContext": {"fsGroup": "int", **{k: "any" for k in (
        "runAsUser", "runAsGroup", "runAsNonRoot", "supplementalGroups",
        "supplementalGroupsPolicy", "fsGroupChangePolicy", "seLinuxOptions",
        "seccompProfile", "appArmorProfile", "sysctls", "windowsOptions",
        "seLinuxChangePolicy")}},
    "restartPolicy": "str", "enableServiceLinks": "bool",
    **{k: "any" for k in (
        "ephemeralContainers", "terminationGracePeriodSeconds", "activeDeadlineSeconds",
        "dnsPolicy", "nodeSelector", "serviceAccountName", "serviceAccount",
        "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID", "hostIPC",
        "shareProcessNamespace", "imagePullSecrets", "hostname", "subdomain", "affinity",
        "schedulerName", "tolerations", "hostAliases", "priorityClassName", "priority",
        "dnsConfig", "readinessGates", "runtimeClassName", "preemptionPolicy", "overhead",
        "topologySpreadConstraints", "setHostnameAsFQDN", "os", "hostUsers",
        "schedulingGates", "resourceClaims", "resources")},
}
_TYPE_META = {"apiVersion": "str", "kind": "str", "metadata": _META}
SCHEMAS: dict[str, dict] = {
    "ConfigMap": {**_TYPE_META, "data": "strmap", "binaryData": "strmap",
                  "immutable": "bool"},
    "Secret": {**_TYPE_META, "data": "strmap", "stringData": "strmap", "type": "str",
               "immutable": "bool"},
    "Pod": {**_TYPE_META, "spec": _POD_SPEC, "status": "any"},
    "ServiceAccount": {**_TYPE_META, "automountServiceAccountToken": "bool",
                       "secrets": "any", "imagePullSecrets": "any"},
    # apps/v1 DaemonSet: memlab validates and runs its pod template (spec.template).
    "DaemonSet": {**_TYPE_META, "status": "any", "spec": {
        "selector": {"matchLabels": "strmap", "matchExpressions": "any"},
        "template": {"metadata": _META, "spec": _POD_SPEC},
        "updateStrategy": "any", "minReadySeconds": "any", "revisionHistoryLimit": "any"}},
}
KINDS = tuple(SCHEMAS)
API_VERSIONS = {"DaemonSet": "apps/v1"}  # every other kind memlab reads is core v1


# --- objects -----------------------------------------------------------------------------

@dataclass
class Manifest:
    """What every object has: identity, where it came from, and line numbers per path."""

    kind: str
    name: str
    namespace: str
    raw: dict  # the checked document (plain dicts/lists/str/int/bool)
    source: str  # file name ("<string>" for text)
    line: int  # first line of the document
    lines: dict = field(default_factory=dict, repr=False)  # path tuple -> line

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    def line_of(self, path: Path) -> int:
        """The line of PATH, or of its nearest ancestor that the YAML had."""
        path = tuple(str(p) if isinstance(p, str) else p for p in path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.line

    def where(self, path: Path = ()) -> str:
        return f"{self.source}:{self.line_of(path)}"


@dataclass
class ConfigMap(Manifest):
    data: dict[str, str] = field(default_factory=dict)
    binary_data: dict[str, bytes] = field(default_factory=dict)
    immutable: bool | None = None


@dataclass
class Secret(Manifest):
    # data after the API server's conversion: base64 decoded, stringData merged (wins).
    data: dict[str, bytes] = field(default_factory=dict)
    type: str = "Opaque"
    immutable: bool | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    string_data_keys: tuple[str, ...] = ()


@dataclass
class Pod(Manifest):
    spec: dict = field(default_factory=dict)

    @property
    def containers(self) -> list[dict]:
        return self.spec.get("containers") or []

    @property
    def volumes(self) -> list[dict]:
        return self.spec.get("volumes") or []

    @property
    def fs_group(self) -> int | None:
        return (self.spec.get("securityContext") or {}).get("fsGroup")

    def container(self, name: str | None = None) -> dict:
        containers = self.containers
        if not containers:
            raise ManifestError(f"{self.where(('spec',))}: pod {self.name!r} has no containers")
        if name is None:
            return containers[0]
        for c in containers:
            if c.get("name") == name:
                return c
        names = ", ".join(str(c.get("name")) for c in containers)
        raise UsageError(f"pod {self.name!r} has no container {name!r} (containers: {names})")


@dataclass
class ServiceAccount(Manifest):
    automount: bool | None = None  # automountServiceAccountToken


# utilrand.String's alphabet (k8s.io/apimachinery/pkg/util/rand): no vowels, no 0/1/3.
RAND_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def rand_suffix(n: int = 5) -> str:
    """utilrand.String(n): what names.SimpleNameGenerator appends to a generateName."""
    import secrets as _secrets
    return "".join(_secrets.choice(RAND_ALPHABET) for _ in range(n))


@dataclass
class DaemonSet(Manifest):
    """apps/v1 DaemonSet: the controller creates one Pod per node from spec.template."""

    TEMPLATE = ("spec", "template")

    @property
    def template(self) -> dict:
        return (self.raw.get("spec") or {}).get("template") or {}

    def template_pod(self, name: str | None = None) -> Pod:
        """The Pod the DaemonSet controller would create on this node: the template's
        metadata and spec, named `<ds>-<5 random chars>` (generateName), in the
        DaemonSet's namespace, with line numbers of the template."""
        meta = dict(self.template.get("metadata") or {})
        meta["name"] = name or f"{self.name}-{rand_suffix()}"
        meta["namespace"] = self.namespace
        spec = self.template.get("spec") or {}
        raw = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
        n = len(self.TEMPLATE)
        lines = {p[n:]: ln for p, ln in self.lines.items() if p[:n] == self.TEMPLATE}
        return Pod(kind="Pod", name=meta["name"], namespace=self.namespace, raw=raw,
                   source=self.source, line=self.lines.get(self.TEMPLATE, self.line),
                   lines=lines, spec=spec)


# --- YAML -> plain data with line numbers --------------------------------------------------

def _yaml():
    try:
        import yaml  # heavy: only a manifest that is read pays for it
    except ImportError as err:  # pragma: no cover - PyYAML is a dependency
        raise UsageError("PyYAML is required for memlab k8s (pip install PyYAML)") from err
    return yaml


# Bounds on what one manifest may make memlab build.  A YAML alias is a reference, so a
# few lines of anchors can stand for billions of nodes ("billion laughs"); go-yaml, under
# kubectl and the API server, refuses such input with "document contains excessive
# aliasing" (gopkg.in/yaml.v2 decode.go, allowedAliasRatio).  memlab refuses:
MAX_NODES = 100_000  # nodes composed from the text of one file
MAX_ALIAS_NODES = 10_000  # nodes reached again through aliases (and merge keys)
MAX_DEPTH = 64  # nesting of mappings and sequences


class _Budget:
    """What one parse_documents call has built so far."""

    def __init__(self) -> None:
        self.seen: set[int] = set()  # ids of this document's nodes visited once
        self.aliased = 0


def _bounded_loader(yaml):
    class BoundedLoader(yaml.SafeLoader):
        """SafeLoader that refuses too many nodes and too deep a nesting while it composes
        (before anything is expanded), with the line where the limit was passed."""

        def __init__(self, stream):
            super().__init__(stream)
            self.memlab_nodes = 0
            self.memlab_depth = 0

        def compose_node(self, parent, index):
            mark = self.peek_event().start_mark
            self.memlab_nodes += 1
            if self.memlab_nodes > MAX_NODES:
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_NODES} YAML nodes in one file", mark)
            self.memlab_depth += 1
            if self.memlab_depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
            try:
                return super().compose_node(parent, index)
            finally:
                self.memlab_depth -= 1

    return BoundedLoader


def _compose(yaml, loader, node, path: Path, lines: dict, source: str, budget: _Budget,
             aliased: bool = False, depth: int = 0):
    """Construct NODE as plain data, recording the 1-based line of every path."""
    def fail(msg: str) -> ManifestError:
        return ManifestError(f"{source}:{node.start_mark.line + 1}: {msg}")

    if id(node) in budget.seen:
        aliased = True  # a node met again: reached through an alias
    else:
        budget.seen.add(id(node))
    if aliased:
        budget.aliased += 1
        if budget.aliased > MAX_ALIAS_NODES:
            raise fail(f"document contains excessive aliasing (anchors and aliases expand "
                       f"to more than {MAX_ALIAS_NODES} nodes)")
    if depth > MAX_DEPTH:  # aliases nest what the text does not (and an anchor may hold itself)
        raise fail(f"nested more than {MAX_DEPTH} levels deep (through aliases)")
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        own = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        loader.flatten_mapping(node)  # YAML merge keys (<<), as go-yaml supports them
        merged = len(node.value) - own  # flatten_mapping puts the merged pairs first
        out: dict = {}
        own_keys: set = set()
        for i, (key_node, value_node) in enumerate(node.value):
            if not isinstance(key_node, yaml.ScalarNode):  # go-yaml: "invalid map key"
                raise ManifestError(f"{source}:{key_node.start_mark.line + 1}: a map key "
                                    "must be a string, number or boolean")
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = _go_key(key)
            if i >= merged:  # the mapping's own keys override merged ones, once each
                if key in own_keys:
                    raise ManifestError(f"{source}:{key_node.start_mark.line + 1}: "
                                        f"key {key!r} already set in map")
                own_keys.add(key)
            out[key] = _compose(yaml, loader, value_node, path + (key,), lines, source,
                                budget, aliased, depth + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_compose(yaml, loader, item, path + (i,), lines, source, budget, aliased,
                         depth + 1)
                for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _go_key(key: Any) -> str:
    # sigs.k8s.io/yaml turns non-string map keys into strings when converting to JSON.
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    return str(key)


def parse_documents(text: str, source: str = "<string>") -> list[tuple[dict, dict, int]]:
    """Every non-empty document of TEXT as (data, lines, first_line).  Malformed YAML and
    YAML past the bounds above are a ManifestError naming the file and line."""
    yaml = _yaml()
    docs = []
    budget = _Budget()
    loader = None
    try:
        loader = _bounded_loader(yaml)(text)
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: dict = {}
            budget.seen.clear()  # ids are unique while this document's nodes live
            data = _compose(yaml, loader, node, (), lines, source, budget)
            loader.constructed_objects = {}
            if data is None:
                continue
            docs.append((data, lines, node.start_mark.line + 1))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        what = " ".join(str(s) for s in (err.context, err.problem) if s)
        raise ManifestError(f"{source}{line}: malformed YAML: {what}") from err
    except yaml.reader.ReaderError as err:  # a byte YAML forbids (NUL, other controls)
        line = text.count("\n", 0, err.position) + 1
        raise ManifestError(f"{source}:{line}: malformed YAML: character "
                            f"#x{err.character:04x} is not allowed in YAML") from err
    except yaml.YAMLError as err:
        raise ManifestError(f"{source}: malformed YAML: {err}") from err
    except RecursionError as err:  # merge keys (<<) chained through aliases
        raise ManifestError(f"{source}: malformed YAML: nested too deeply") from err
    finally:
        if loader is not None:
            loader.dispose()
    return docs


# --- structural check -------------------------------------------------------------------

_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string",
               list: "list", dict: "mapping"}


def _type_name(value: Any) -> str:
    for t, name in _TYPE_NAMES.items():
        if isinstance(value, t):
            return name
    return type(value).__name__  # datetime.date from an unquoted 2024-01-01, ...


def render_path(path: Path) -> str:
    """("spec","containers",0,"name") -> spec.containers[0].name"""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


def _check(value: Any, schema: Any, path: Path, lines: dict, source: str, kind: str) -> Any:
    """Check VALUE against SCHEMA; return it with YAML nulls dropped (Go's zero values)."""

    def fail(msg: str) -> ManifestError:
        line = lines.get(path) or lines.get(path[:-1]) or 1
        return ManifestError(f"{source}:{line}: {kind} {render_path(path)}: {msg}")

    def want(expected: str) -> ManifestError:
        hint = ""
        if expected == "string" and isinstance(value, (int, float, bool)):
            hint = " (quote it)"
        return fail(f"expected {expected}, got {_type_name(value)} {value!r}{hint}")

    if schema == "any":
        return value
    if schema == "str":
        if not isinstance(value, str):
            raise want("string")
        return value
    if schema == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise want("integer")
        return value
    if schema == "bool":
        if not isinstance(value, bool):
            raise want("boolean")
        return value
    if schema == "strmap":
        if not isinstance(value, dict):
            raise want("mapping of strings")
        out = {}
        for k, v in value.items():
            if v is None:  # `key:` with no value: JSON null -> "" in a map[string]string
                v = ""
            _check(v, "str", path + (k,), lines, source, kind)
            out[k] = v
        return out
    if isinstance(schema, tuple):  # ("list", item schema)
        if not isinstance(value, list):
            raise want("list")
        return [_check(v, schema[1], path + (i,), lines, source, kind)
                for i, v in enumerate(value)]
    # a struct
    if not isinstance(value, dict):
        raise want("mapping")
    out = {}
    for k, v in value.items():
        if k not in schema:
            sub = path + (k,)
            line = lines.get(sub, 1)
            raise ManifestError(f"{source}:{line}: {kind}: unknown field "
                                f"\"{render_path(sub)}\"")
        if v is None:
            continue
        out[k] = _check(v, schema[k], path + (k,), lines, source, kind)
    return out


def _b64(value: str, path: Path, lines: dict, source: str, kind: str) -> bytes:
    # Standard padded base64, as encoding/json decodes []byte (base64.StdEncoding.Decode).
    # Go's decoder skips '\r' and '\n' anywhere (encoding/base64 decodeQuantum: "if in ==
    # '\n' || in == '\r' { continue }"), so a value folded over lines by a YAML `|` block
    # is valid; any other whitespace is not.
    try:
        return base64.b64decode(value.replace("\r", "").replace("\n", "").encode("ascii"),
                                validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as err:
        line = lines.get(path, 1)
        raise ManifestError(f"{source}:{line}: {kind} {render_path(path)}: illegal base64 "
                            f"data: {err}") from err


def build_object(data: Any, lines: dict, first_line: int, source: str) -> Manifest:
    """One checked document -> ConfigMap | Secret | Pod."""
    if not isinstance(data, dict):
        raise ManifestError(f"{source}:{first_line}: a manifest must be a mapping, got "
                            f"{_type_name(data)}")
    kind = data.get("kind")
    api = data.get("apiVersion")
    if kind is None:
        raise ManifestError(f"{source}:{first_line}: Object 'Kind' is missing")
    if not isinstance(kind, str) or kind not in SCHEMAS:
        raise ManifestError(f"{source}:{lines.get(('kind',), first_line)}: no matches for "
                            f"kind \"{kind}\" in version \"{api}\" (memlab understands v1 "
                            f"{', '.join(KINDS)})")
    want = API_VERSIONS.get(kind, "v1")
    if api != want:
        raise ManifestError(f"{source}:{lines.get(('apiVersion',), first_line)}: no matches "
                            f"for kind \"{kind}\" in version \"{api}\" ({kind} is {want})")
    raw = _check(data, SCHEMAS[kind], (), lines, source, kind)
    meta = raw.get("metadata") or {}
    common = dict(kind=kind, name=meta.get("name", ""),
                  namespace=meta.get("namespace") or "default", raw=raw, source=source,
                  line=first_line, lines=lines)
    if kind == "ConfigMap":
        binary = {k: _b64(v, ("binaryData", k), lines, source, kind)
                  for k, v in (raw.get("binaryData") or {}).items()}
        return ConfigMap(**common, data=dict(raw.get("data") or {}), binary_data=binary,
                         immutable=raw.get("immutable"))
    if kind == "Secret":
        sdata = {k: _b64(v, ("data", k), lines, source, kind)
                 for k, v in (raw.get("data") or {}).items()}
        string_data = raw.get("stringData") or {}
        # pkg/apis/core/v1/conversion.go: stringData is merged into data, stringData wins.
        for k, v in string_data.items():
            sdata[k] = v.encode("utf-8")
            lines.setdefault(("data", k), lines.get(("stringData", k), first_line))
        return Secret(**common, data=sdata, type=raw.get("type") or "Opaque",
                      immutable=raw.get("immutable"),
                      annotations=dict(meta.get("annotations") or {}),
                      string_data_keys=tuple(string_data))
    if kind == "ServiceAccount":
        return ServiceAccount(**common, automount=raw.get("automountServiceAccountToken"))
    if kind == "DaemonSet":
        return DaemonSet(**common)
    return Pod(**common, spec=raw.get("spec") or {})


def load_text(text: str, source: str = "<string>") -> list[Manifest]:
    return [build_object(d, lines, line, source)
            for d, lines, line in parse_documents(text, source)]


def load_file(path: str | os.PathLike) -> list[Manifest]:
    return load_text(read_input_text(path, MANIFEST), os.fspath(path))


def load_files(paths) -> list[Manifest]:
    out: list[Manifest] = []
    for p in paths:
        out.extend(load_file(p))
    return out


def text_or_path(manifest: str | os.PathLike) -> list[Manifest]:
    """A manifest given as YAML text (contains a newline or ':') or as a file path."""
    s = os.fspath(manifest)
    if "\n" in s or (":" in s and not os.path.exists(s)):
        return load_text(s)
    return load_file(s)


class ObjectStore:
    """The API objects a pod can reference, by (kind, namespace, name): the cluster's view."""

    def __init__(self, objects=()):
        self._objs: dict[tuple[str, str, str], Manifest] = {}
        for o in objects:
            self.put(o)

    def put(self, obj: Manifest) -> None:
        self._objs[(obj.kind, obj.namespace, obj.name)] = obj

    def get(self, kind: str, namespace: str, name: str) -> Manifest | None:
        return self._objs.get((kind, namespace, name))

    def configmap(self, namespace: str, name: str) -> ConfigMap | None:
        return self.get("ConfigMap", namespace, name)  # type: ignore[return-value]

    def secret(self, namespace: str, name: str) -> Secret | None:
        return self.get("Secret", namespace, name)  # type: ignore[return-value]

    def service_account(self, namespace: str, name: str) -> ServiceAccount | None:
        return self.get("ServiceAccount", namespace, name)  # type: ignore[return-value]

    def __iter__(self):
        return iter(self._objs.values())

    def __len__(self) -> int:
        return len(self._objs)
