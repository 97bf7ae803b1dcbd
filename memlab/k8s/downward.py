"""The downward API: the values of fieldRef and resourceFieldRef, for env and volumes.

pkg/kubelet/kubelet_pods.go podFieldSelectorRuntimeValue answers spec.nodeName,
spec.serviceAccountName, status.hostIP(s) and status.podIP(s) itself and hands the rest
to pkg/fieldpath ExtractFieldPathAsString (metadata.name/namespace/uid, labels and
annotations as FormatMap text, `metadata.labels['k']` as one value).  The downwardAPI
volume plugin (pkg/volume/downwardapi CollectData) uses ExtractFieldPathAsString for
fieldRef (metadata only, by validation) and ExtractResourceValueByContainerNameAndNode
Allocatable for resourceFieldRef.

This machine is the node: spec.nodeName is the pod's own when it sets one (the
scheduler's binding), else this host's name lowercased (kubelet's nodeutil.GetHostname);
hostIP is the address this host would use to reach the outside; memlab's pods share the
node's network, so podIP is the hostIP (as for a hostNetwork pod).
"""

from __future__ import annotations

import json
import socket

from memlab.errors import MemlabError
from memlab.k8s.manifests import Pod
from memlab.k8s.resources import QuantityError, extract_container_resource_value
from memlab.k8s.validation import convert_downward_api_field_label, split_maybe_subscripted_path


class Unsupported(MemlabError):
    """Something valid for Kubernetes that memlab does not simulate: exit 1, one line
    that says so (never dressed up as a kubelet failure)."""

    def __init__(self, what: str):
        super().__init__(f"memlab does not support {what}")


def node_name(pod: Pod) -> str:
    return pod.spec.get("nodeName") or socket.gethostname().lower()


def host_ip() -> str:
    """This host's primary IPv4 address: the source address of a route to a public
    address (a UDP connect sends nothing); 127.0.0.1 without a route."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: never contacted
        return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        s.close()


def format_map(m: dict) -> str:
    """pkg/fieldpath FormatMap: sorted `key="value"` lines (Go %q), no trailing newline."""
    return "\n".join(f"{k}={json.dumps(m[k], ensure_ascii=False)}" for k in sorted(m))


def extract_field_path_as_string(pod: Pod, field_path: str) -> str:
    """pkg/fieldpath ExtractFieldPathAsString for a Pod."""
    meta = pod.raw.get("metadata") or {}
    path, sub, ok = split_maybe_subscripted_path(field_path)
    if ok:
        if path == "metadata.annotations":
            return (meta.get("annotations") or {}).get(sub, "")
        if path == "metadata.labels":
            return (meta.get("labels") or {}).get(sub, "")
        raise Unsupported(f"fieldPath {field_path!r}")
    if field_path == "metadata.annotations":
        return format_map(meta.get("annotations") or {})
    if field_path == "metadata.labels":
        return format_map(meta.get("labels") or {})
    if field_path == "metadata.name":
        return pod.name
    if field_path == "metadata.namespace":
        return pod.namespace
    if field_path == "metadata.uid":
        return str(meta.get("uid", ""))
    raise Unsupported(f"fieldPath {field_path!r}")


def pod_field_selector_runtime_value(pod: Pod, ref: dict) -> str:
    """kubelet_pods.go podFieldSelectorRuntimeValue."""
    try:
        internal = convert_downward_api_field_label(ref.get("apiVersion") or "v1",
                                                    ref.get("fieldPath", ""))
    except ValueError as err:
        raise Unsupported(f"fieldRef {ref.get('fieldPath')!r} ({err})") from err
    if internal == "spec.nodeName":
        return node_name(pod)
    if internal == "spec.serviceAccountName":
        return pod.spec.get("serviceAccountName") or "default"
    if internal in ("status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"):
        return host_ip()
    return extract_field_path_as_string(pod, internal)


def container_named(pod: Pod, name: str) -> dict | None:
    for group in ("containers", "initContainers"):
        for c in pod.spec.get(group) or []:
            if c.get("name") == name:
                return c
    return None


def resource_field_value(pod: Pod, ref: dict, container: dict | None = None) -> str:
    """ExtractContainerResourceValue on the container (env: the container itself;
    volumes: ref.containerName), limits defaulted to node allocatable."""
    if container is None:
        container = container_named(pod, ref.get("containerName", ""))
        if container is None:
            raise Unsupported(f"resourceFieldRef to container "
                              f"{ref.get('containerName')!r}, which the pod does not have")
    resource = ref.get("resource", "")
    if resource.partition(".")[2] not in ("cpu", "memory"):
        raise Unsupported(f"resourceFieldRef resource {resource!r} (only cpu and memory)")
    try:
        return extract_container_resource_value(ref, container)
    except QuantityError as err:
        raise Unsupported(f"the quantity in {container.get('name')}'s resources: "
                          f"{err}") from err
