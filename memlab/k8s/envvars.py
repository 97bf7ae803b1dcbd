"""The container environment, computed as kubelet's makeEnvironmentVariables does.

pkg/kubelet/kubelet_pods.go, in order:
  1. envFrom sources in list order into one map (later keys overwrite earlier ones;
     `prefix` is prepended as is).  ConfigMap binaryData never feeds env.  Since v1.30
     every key is passed through (no more InvalidEnvironmentVariableNames skipping).
  2. env entries in order, each overwriting: a literal `value` is $(VAR)-expanded
     against the map as it is so far, then the service variables; valueFrom refs are
     not expanded.  An optional ref whose object or key is missing is skipped entirely
     (`continue`), so an envFrom value of the same name survives.
  3. service-link variables, only for names not set yet.
A missing object or key that is not optional stops the container from starting:
reason CreateContainerConfigError with the error's message.

Beyond kubelet, the container runtime adds HOSTNAME and the image's ENV (PATH) first;
kubelet's variables override them.  HOSTNAME is the sandbox's hostname, which kubelet
chose (GeneratePodHostNameAndDomain): spec.hostname, else the pod name, cut to 63
characters; a hostNetwork pod has the node's hostname.  $(VAR) in command/args sees only
kubelet's variables (kubecontainer.ExpandContainerCommandAndArgs, called from
GenerateRunContainerOptions with the env kubelet built), never HOSTNAME or PATH.  memlab simulates the one service
every pod sees, default/kubernetes, at the conventional 10.96.0.1:443.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Callable, Mapping

from memlab.errors import MemlabError
from memlab.k8s.downward import (Unsupported, pod_field_selector_runtime_value,
                                 resource_field_value)
from memlab.k8s.manifests import ObjectStore, Pod
from memlab.secrets import display_value

# What a plain image (busybox, debian, redis) puts in its config's Env.
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
KUBERNETES_SERVICE_IP = "10.96.0.1"

_OPERATOR = ord("$")
_OPENER = ord("(")
_CLOSER = ord(")")


class CreateContainerConfigError(MemlabError):
    """The container cannot start: kubelet's reason and message."""

    reason = "CreateContainerConfigError"

    def __init__(self, message: str, container: str = ""):
        self.message = message
        self.container = container
        super().__init__(f"{self.reason}: {message}")


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str
    source: str  # "envFrom secret default/db key K", "env", "service ...", ...
    from_secret: bool = False  # from a Secret, or expanded from such a variable
    kubelet: bool = True  # built by kubelet (False: the runtime's HOSTNAME, the image's PATH)

    def display(self, reveal: bool = False) -> str:
        """The value to print: masked when it came from a Secret or looks secret."""
        return display_value(self.name, self.value, reveal, self.from_secret)

    def to_dict(self, reveal: bool = True) -> dict:
        return {"name": self.name, "value": self.display(reveal), "source": self.source,
                "from_secret": self.from_secret}


# --- third_party/forked/golang/expansion/expand.go -----------------------------------------

def _try_read_variable_name(data: bytes) -> tuple[bytes, bool, int]:
    """tryReadVariableName: (bytes read, is a variable name, bytes to advance)."""
    c = data[0]
    if c == _OPERATOR:  # `$$`: an escaped operator
        return data[0:1], False, 1
    if c == _OPENER:
        for i in range(1, len(data)):
            if data[i] == _CLOSER:
                return data[1:i], True, i + 1
        return b"$(", False, 1  # incomplete reference: keep "$(" and go on
    # Not an expression: the operator and the first *byte*, which Go's string(byte)
    # turns into a rune: a byte >= 0x80 becomes U+0080..U+00FF (so "$é" is mangled).
    return b"$" + chr(c).encode("utf-8"), False, 1


def expand_bytes(data: bytes, mapping: Callable[[bytes], bytes]) -> bytes:
    """Expand: `$(NAME)` -> mapping(NAME); `$$` -> `$`; anything else kept."""
    buf = bytearray()
    checkpoint = 0
    cursor = 0
    n = len(data)
    while cursor < n:
        if data[cursor] == _OPERATOR and cursor + 1 < n:
            buf += data[checkpoint:cursor]
            read, is_var, advance = _try_read_variable_name(data[cursor + 1:])
            buf += mapping(read) if is_var else read
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return bytes(buf) + data[checkpoint:]


def mapping_func_for(*contexts: Mapping[str, str]) -> Callable[[str], str]:
    """MappingFuncFor: the first context that has NAME wins; else `$(NAME)` stays."""
    def mapping(name: str) -> str:
        for ctx in contexts:
            if name in ctx:
                return ctx[name]
        return f"$({name})"
    return mapping


def expand(value: str, mapping: Callable[[str], str]) -> str:
    """expansion.Expand on a Go string (bytes; non-UTF-8 round-trips as surrogates)."""
    def bmap(name: bytes) -> bytes:
        return mapping(name.decode("utf-8", "surrogateescape")).encode(
            "utf-8", "surrogateescape")
    out = expand_bytes(value.encode("utf-8", "surrogateescape"), bmap)
    return out.decode("utf-8", "surrogateescape")


# --- makeEnvironmentVariables ----------------------------------------------------------------

def service_env() -> dict[str, str]:
    """The variables of default/kubernetes, which every pod gets (enableServiceLinks or not)."""
    ip, port = KUBERNETES_SERVICE_IP, "443"
    return {
        "KUBERNETES_SERVICE_HOST": ip,
        "KUBERNETES_SERVICE_PORT": port,
        "KUBERNETES_SERVICE_PORT_HTTPS": port,
        "KUBERNETES_PORT": f"tcp://{ip}:{port}",
        "KUBERNETES_PORT_443_TCP": f"tcp://{ip}:{port}",
        "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_443_TCP_PORT": port,
        "KUBERNETES_PORT_443_TCP_ADDR": ip,
    }


# kubelet up to v1.29 skipped envFrom keys failing validation.IsEnvVarName (strict).
LATEST_MINOR = 34
_ENV_NAME_RE = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def _invalid_event(events: list[str] | None, keys: list[str], what: str, ns: str,
                   name: str) -> None:
    if keys and events is not None:
        events.append(f"Warning InvalidEnvironmentVariableNames: Keys [{', '.join(sorted(keys))}]"
                      f" from the EnvFrom {what} {ns}/{name} were skipped since they are "
                      "considered invalid environment variable names.")


def _not_found(kind: str, name: str) -> str:
    # The watch-based manager's apierrors.NewNotFound(Resource("configmap"), name).
    return f'{kind} "{name}" not found'


def make_environment(pod: Pod, container: dict, store: ObjectStore, *,
                     services: bool = True, kubelet_minor: int = LATEST_MINOR,
                     events: list[str] | None = None) -> list[EnvVar]:
    """kubelet's variables for CONTAINER (envFrom, env, services), with their sources.

    Raises CreateContainerConfigError like kubelet.  Order: as kubelet builds the map
    (the real order is a Go map's, i.e. unspecified): callers sort for display.
    kubelet_minor < 30 reproduces the old envFrom filter: keys that are not valid env
    names are skipped and a Warning event InvalidEnvironmentVariableNames is appended to
    EVENTS."""
    ns = pod.namespace
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    secret_names: set[str] = set()  # for masking only: kubelet has no such notion
    cname = container.get("name", "")

    def fetch(kind: str, name: str, optional: bool):
        obj = store.configmap(ns, name) if kind == "configmap" else store.secret(ns, name)
        if obj is None and not optional:
            raise CreateContainerConfigError(_not_found(kind, name), cname)
        return obj

    def fetch_key(kind: str, ref: dict):
        """(object, key) for a configMapKeyRef/secretKeyRef, or None when kubelet skips
        the variable (optional, and the object or the key is missing)."""
        optional = bool(ref.get("optional"))
        obj = fetch(kind, ref.get("name", ""), optional)
        if obj is None:
            return None
        key = ref.get("key", "")
        if key not in obj.data:
            if optional:
                return None
            title = "ConfigMap" if kind == "configmap" else "Secret"
            raise CreateContainerConfigError(
                f"couldn't find key {key} in {title} {ns}/{obj.name}", cname)
        return obj, key

    for ef in container.get("envFrom") or []:
        prefix = ef.get("prefix", "")
        if "configMapRef" in ef:
            ref = ef["configMapRef"]
            cm = fetch("configmap", ref.get("name", ""), bool(ref.get("optional")))
            if cm is None:
                continue  # optional and missing: the whole source is skipped
            invalid = []
            for k, v in cm.data.items():  # data only: binaryData never feeds env
                if kubelet_minor < 30 and not _ENV_NAME_RE.match(prefix + k):
                    invalid.append(prefix + k)
                    continue
                values[prefix + k] = v
                sources[prefix + k] = f"envFrom configmap {ns}/{cm.name} key {k}"
            _invalid_event(events, invalid, "configMap", ns, cm.name)
        elif "secretRef" in ef:
            ref = ef["secretRef"]
            sec = fetch("secret", ref.get("name", ""), bool(ref.get("optional")))
            if sec is None:
                continue
            invalid = []
            for k, b in sec.data.items():
                if kubelet_minor < 30 and not _ENV_NAME_RE.match(prefix + k):
                    invalid.append(prefix + k)
                    continue
                values[prefix + k] = b.decode("utf-8", "surrogateescape")
                sources[prefix + k] = f"envFrom secret {ns}/{sec.name} key {k}"
                secret_names.add(prefix + k)
            _invalid_event(events, invalid, "secret", ns, sec.name)

    svc = service_env() if services else {}
    lookup = mapping_func_for(values, svc)  # `values` grows: "defined so far"
    used: set[str] = set()

    def mapping(ref: str) -> str:
        used.add(ref)
        return lookup(ref)

    for ev in container.get("env") or []:
        name = ev["name"]
        runtime_val = ev.get("value", "")
        source = "env"
        secret = False
        used.clear()
        if runtime_val != "":
            runtime_val = expand(runtime_val, mapping)
            secret = bool(used & secret_names)
            if runtime_val != ev.get("value"):
                source = f"env (expanded from {ev.get('value')!r})"
        elif ev.get("valueFrom") is not None:
            vf = ev["valueFrom"]
            if "configMapKeyRef" in vf:
                found = fetch_key("configmap", vf["configMapKeyRef"])
                if found is None:
                    continue
                cm, key = found
                runtime_val = cm.data[key]
                source = f"configMapKeyRef {ns}/{cm.name} key {key}"
            elif "secretKeyRef" in vf:
                found = fetch_key("secret", vf["secretKeyRef"])
                if found is None:
                    continue
                sec, key = found
                runtime_val = sec.data[key].decode("utf-8", "surrogateescape")
                source = f"secretKeyRef {ns}/{sec.name} key {key}"
                secret = True
            elif "fieldRef" in vf:
                # makeEnvironmentVariables -> podFieldSelectorRuntimeValue
                runtime_val = pod_field_selector_runtime_value(pod, vf["fieldRef"])
                source = f"fieldRef {vf['fieldRef'].get('fieldPath')}"
            elif "resourceFieldRef" in vf:
                # makeEnvironmentVariables -> containerResourceRuntimeValue: the
                # container defaulted by defaultPodLimitsForDownwardAPI
                runtime_val = resource_field_value(pod, vf["resourceFieldRef"], container)
                source = f"resourceFieldRef {vf['resourceFieldRef'].get('resource')}"
            else:
                raise Unsupported(f"valueFrom {', '.join(sorted(vf))} (env {name})")
        values[name] = runtime_val
        sources[name] = source
        if secret:
            secret_names.add(name)
        else:
            secret_names.discard(name)

    result = [EnvVar(k, v, sources[k], k in secret_names) for k, v in values.items()]
    for k, v in svc.items():
        if k not in values:
            result.append(EnvVar(k, v, "service default/kubernetes (simulated)"))
    return result


def pod_hostname(pod: Pod) -> str:
    """The sandbox hostname: GeneratePodHostNameAndDomain (spec.hostname, else the pod
    name; truncatePodHostnameIfNeeded cuts it to 63 characters and trims a trailing '-'
    or '.'); a hostNetwork pod sees the node's hostname."""
    if pod.spec.get("hostNetwork"):
        return socket.gethostname()
    name = pod.spec.get("hostname") or pod.name
    if len(name) > 63:
        name = name[:63].rstrip("-.")
    return name


def expand_command_and_args(container: dict, env) -> tuple[list[str], list[str]]:
    """kubecontainer.ExpandContainerCommandAndArgs with the env kubelet built
    (GenerateRunContainerOptions -> makeEnvironmentVariables): the runtime's HOSTNAME
    and the image's PATH are not in it, so `$(PATH)` stays `$(PATH)`."""
    mapping = mapping_func_for({e.name: e.value for e in env if e.kubelet})
    return ([expand(c, mapping) for c in container.get("command") or []],
            [expand(a, mapping) for a in container.get("args") or []])


def container_environment(pod: Pod, container: dict, store: ObjectStore, *,
                          runtime: bool = True, services: bool = True,
                          kubelet_minor: int = LATEST_MINOR,
                          events: list[str] | None = None) -> list[EnvVar]:
    """What the container's process gets at execve: runtime + image env, then kubelet's.

    Sorted by name (the real order is unspecified; compare as a set)."""
    merged: dict[str, EnvVar] = {}
    if runtime:
        host = pod_hostname(pod)
        why = ("node hostname: hostNetwork" if pod.spec.get("hostNetwork") else
               "spec.hostname" if pod.spec.get("hostname") else "pod name")
        merged["HOSTNAME"] = EnvVar("HOSTNAME", host, f"runtime ({why})", kubelet=False)
        merged["PATH"] = EnvVar("PATH", IMAGE_PATH, "image ENV (simulated)", kubelet=False)
    for ev in make_environment(pod, container, store, services=services,
                               kubelet_minor=kubelet_minor, events=events):
        merged[ev.name] = ev
    return sorted(merged.values(), key=lambda e: e.name)


def to_execve(env: list[EnvVar]) -> list[bytes]:
    """`NAME=value` byte strings for execve, in the given order."""
    return [f"{e.name}={e.value}".encode("utf-8", "surrogateescape") for e in env]
