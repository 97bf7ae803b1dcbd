"""The service account every pod gets: what the API server's admission adds, and the
token kubelet writes.

plugin/pkg/admission/serviceaccount/admission.go (Admit): spec.serviceAccountName
defaults to "default"; unless automount is off (shouldAutomount: the pod's
automountServiceAccountToken wins, else the ServiceAccount's, else true) a projected
volume `kube-api-access-<5 random chars>` (TokenVolumeSource: a serviceAccountToken at
`token` with expirationSeconds 3607, the kube-root-ca.crt ConfigMap's ca.crt, and the
namespace from the downward API; defaultMode 0644) is added and mounted read-only at
/var/run/secrets/kubernetes.io/serviceaccount in every container and init container
that has no mount there.  The API server also fills metadata.uid and
creationTimestamp on create (rest.BeforeCreate -> FillObjectMetaSystemFields).

The token is FAKE: JWT-shaped (header.payload.signature, base64url) with the claims a
bound token has (pkg/serviceaccount/claims.go), but unsigned ("alg": "none") and its
signature segment says memlab-fake.  It opens nothing; it is there to be found.
"""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from datetime import datetime, timezone

from memlab.k8s.downward import node_name
from memlab.k8s.manifests import ConfigMap, ObjectStore, Pod, rand_suffix

TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"  # DefaultAPITokenMountPath
VOLUME_PREFIX = "kube-api-access-"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"  # CertificateConfigMapName
TOKEN_EXPIRATION = 3607  # serviceaccount.WarnOnlyBoundTokenExpirationSeconds
DEFAULT_EXPIRATION = 3600  # SetDefaults_ServiceAccountTokenProjection
ISSUER = "https://kubernetes.default.svc.cluster.local"
FAKE_SIGNATURE = "memlab-fake-signature-not-a-real-token"
FAKE_CA = ("-----BEGIN CERTIFICATE-----\n"
           "bWVtbGFiLWZha2UgY2x1c3RlciBDQTogbm90IGEgY2VydGlmaWNhdGU=\n"
           "-----END CERTIFICATE-----\n")  # "memlab-fake cluster CA: not a certificate"


def token_volume_source() -> dict:
    """admission.go TokenVolumeSource."""
    return {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": TOKEN_EXPIRATION}},
        {"configMap": {"name": ROOT_CA_CONFIGMAP,
                       "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}


def should_automount(pod: Pod, store: ObjectStore) -> bool:
    """admission.go shouldAutomount: the pod's field, else the ServiceAccount's, else
    true."""
    own = pod.spec.get("automountServiceAccountToken")
    if own is not None:
        return bool(own)
    sa = store.service_account(pod.namespace, pod.spec.get("serviceAccountName") or "default")
    if sa is not None and sa.automount is not None:
        return bool(sa.automount)
    return True


def _rfc3339(t: float) -> str:
    return datetime.fromtimestamp(int(t), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def admit(pod: Pod, store: ObjectStore) -> Pod:
    """The Pod as stored by the API server after defaulting and the ServiceAccount
    admission plugin (a copy; POD is not changed).  Idempotent: a pod that already has
    its uid and a kube-api-access volume is returned as is."""
    raw = copy.deepcopy(pod.raw)
    meta = raw.setdefault("metadata", {})
    meta.setdefault("uid", str(uuid.uuid4()))
    meta.setdefault("creationTimestamp", _rfc3339(time.time()))
    spec = raw.setdefault("spec", {})
    spec.setdefault("serviceAccountName", "default")
    out = Pod(kind="Pod", name=pod.name, namespace=pod.namespace, raw=raw,
              source=pod.source, line=pod.line, lines=pod.lines, spec=spec)
    has_volume = any(v.get("name", "").startswith(VOLUME_PREFIX) and "projected" in v
                     for v in spec.get("volumes") or [])
    if has_volume or not should_automount(out, store):
        return out
    name = VOLUME_PREFIX + rand_suffix()
    spec.setdefault("volumes", []).append({"name": name, "projected": token_volume_source()})
    for group in ("initContainers", "containers"):
        for c in spec.get(group) or []:
            mounts = c.setdefault("volumeMounts", [])
            if not any(m.get("mountPath") == TOKEN_MOUNT_PATH for m in mounts):
                mounts.append({"name": name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH})
    return out


def token_source(src: dict) -> dict:
    sat = dict(src["serviceAccountToken"])
    sat.setdefault("expirationSeconds", DEFAULT_EXPIRATION)
    return sat


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _created(pod: Pod) -> float:
    ts = (pod.raw.get("metadata") or {}).get("creationTimestamp")
    try:
        return datetime.strptime(str(ts), "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=timezone.utc).timestamp()
    except ValueError:
        return 0.0


def fake_token(pod: Pod, sat: dict, issued_at: float | None = None) -> str:
    """A JWT-shaped, unsigned token with a bound token's claims, issued at ISSUED_AT
    (default: the pod's creation).  The same inputs give the same token."""
    issued = issued_at if issued_at is not None else _created(pod)
    iat = int(issued)
    exp = iat + int(sat.get("expirationSeconds", DEFAULT_EXPIRATION))
    meta = pod.raw.get("metadata") or {}
    sa = pod.spec.get("serviceAccountName") or "default"
    claims = {
        "aud": [sat["audience"]] if sat.get("audience") else [ISSUER],
        "exp": exp, "iat": iat, "nbf": iat, "iss": ISSUER,
        "jti": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{meta.get('uid')}/{issued!r}")),
        "kubernetes.io": {
            "namespace": pod.namespace,
            "node": {"name": node_name(pod)},
            "pod": {"name": pod.name, "uid": str(meta.get("uid", ""))},
            "serviceaccount": {"name": sa, "uid": str(uuid.uuid5(
                uuid.NAMESPACE_URL, f"serviceaccount/{pod.namespace}/{sa}"))},
        },
        "sub": f"system:serviceaccount:{pod.namespace}:{sa}",
        "memlab": "FAKE token made by memlab-fake: unsigned, valid nowhere",
    }
    header = {"alg": "none", "kid": "memlab-fake", "typ": "JWT"}
    return ".".join((_b64url(json.dumps(header, separators=(",", ":")).encode()),
                     _b64url(json.dumps(claims, separators=(",", ":")).encode()),
                     FAKE_SIGNATURE))


def fake_root_ca(namespace: str) -> ConfigMap:
    """The kube-root-ca.crt ConfigMap rootcacertpublisher keeps in every namespace,
    with a fake CA."""
    return ConfigMap(kind="ConfigMap", name=ROOT_CA_CONFIGMAP, namespace=namespace, raw={},
                     source="memlab (simulated)", line=0, data={"ca.crt": FAKE_CA})
