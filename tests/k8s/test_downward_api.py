"""The downward API and the service account: fieldRef/resourceFieldRef as env and as
downwardAPI volume files (pkg/kubelet/kubelet_pods.go podFieldSelectorRuntimeValue,
pkg/volume/downwardapi CollectData, pkg/api/v1/resource ExtractContainerResourceValue),
and the projected kube-api-access volume (plugin/pkg/admission/serviceaccount
TokenVolumeSource, pkg/volume/projected) with its fake token and its rotation."""

from __future__ import annotations

import base64
import json
import math
import os
import subprocess
import sys

from memlab.k8s import pod as k8spod
from memlab.k8s.downward import host_ip
from memlab.k8s.envvars import container_environment
from memlab.k8s.manifests import ObjectStore
from memlab.k8s.resources import node_allocatable
from memlab.k8s.serviceaccount import TOKEN_MOUNT_PATH, admit
from memlab.k8s.volumes import rotate_token
from memlab.procfs._io import read_proc_file
from tests.k8s.conftest import one

MEMLAB = [sys.executable, "-m", "memlab"]

POD = """apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  uid: 0b9e6c1a-1111-2222-3333-444455556666
  labels: {app: web, tier: "front end"}
  annotations: {owner: "a \\"b\\""}
spec:
  serviceAccountName: builder
%s
  containers:
  - name: app
    image: busybox
    command: [sleep, "60"]
    resources:
      limits: {cpu: 1500m, memory: 96Mi}
      requests: {cpu: 250m}
    env:
    - {name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: UID, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}
    - {name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}
    - {name: SA, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: HOST_IP, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}
    - {name: CPU_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}
    - {name: CPU_MILLI, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}
    - {name: MEM_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    - {name: CPU_REQ, valueFrom: {resourceFieldRef: {resource: requests.cpu, divisor: 1m}}}
    - {name: MEM_REQ, valueFrom: {resourceFieldRef: {resource: requests.memory}}}
    volumeMounts: [{name: info, mountPath: /etc/podinfo}]
  - name: side
    image: busybox
    command: [sleep, "60"]
    env:
    - {name: MEM_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory}}}
    - {name: CPU_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}
  volumes:
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
      - {path: uid, fieldRef: {fieldPath: metadata.uid}, mode: 0400}
      - {path: cpu/limit, resourceFieldRef: {containerName: app, resource: limits.cpu,
                                             divisor: 1m}}
"""


def env_of(text, container=None):
    p = one(text)
    c = p.container(container)
    return {e.name: e.value for e in container_environment(p, c, ObjectStore())}


def test_pod_field_selector_runtime_value_env():
    """podFieldSelectorRuntimeValue: metadata via ExtractFieldPathAsString, SA name,
    podIP/hostIP of this node (memlab's pods share the node's network)."""
    env = env_of(POD % "")
    assert env["NAME"] == "web" and env["NS"] == "shop"
    assert env["UID"] == "0b9e6c1a-1111-2222-3333-444455556666"
    assert env["APP"] == "web" and env["SA"] == "builder"
    assert env["POD_IP"] == env["HOST_IP"] == host_ip()


def test_extract_container_resource_value_env():
    """ExtractContainerResourceValue: ceil(value / divisor); requests.memory unset is
    the memory limit (SetDefaults_Pod copies limits into missing requests); a limit the container does not set is node allocatable
    (defaultPodLimitsForDownwardAPI)."""
    env = env_of(POD % "")
    assert env["CPU_LIMIT"] == "2"  # ceil(1500m / 1)
    assert env["CPU_MILLI"] == "1500" and env["MEM_MI"] == "96"
    assert env["CPU_REQ"] == "250" and env["MEM_REQ"] == str(96 * 2**20)
    side = env_of(POD % "", "side")
    alloc = node_allocatable()
    assert side["MEM_LIMIT"] == str(int(alloc["memory"]))
    assert side["CPU_LIMIT"] == str(math.ceil(alloc["cpu"]))


def test_downward_api_volume_collect_data(tmp_path):
    """pkg/volume/downwardapi CollectData: labels/annotations as FormatMap (sorted,
    `k="v"` with Go quoting, no trailing newline), item modes, resourceFieldRef by
    containerName; written by the AtomicWriter under kubernetes.io~downward-api."""
    with k8spod.run(POD % "", pod_dir=tmp_path / "p") as pr:
        files = pr.volume_files()
        assert files["/etc/podinfo/labels"] == b'app="web"\ntier="front end"'
        assert files["/etc/podinfo/annotations"] == b'owner="a \\"b\\""'
        assert files["/etc/podinfo/uid"] == b"0b9e6c1a-1111-2222-3333-444455556666"
        assert files["/etc/podinfo/cpu/limit"] == b"1500"
        host = tmp_path / "p/volumes/kubernetes.io~downward-api/info"
        assert (host / "..data").is_symlink()
        assert oct(os.stat(host / "uid").st_mode & 0o777) == oct(0o400)


def _claims(token: bytes) -> dict:
    payload = token.split(b".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))


def test_token_volume_source_on_every_container(tmp_path):
    """admission.go: a kube-api-access-<5> projected volume (token, ca.crt, namespace)
    mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount in every
    container; the token is JWT-shaped, bound to the pod, and clearly fake."""
    with k8spod.run(POD % "", pod_dir=tmp_path / "p") as pr:
        vols = [v["name"] for v in pr.pod.volumes if "projected" in v]
        assert len(vols) == 1 and len(vols[0]) == len("kube-api-access-") + 5
        for c in pr.pod.containers:
            assert {"name": vols[0], "readOnly": True, "mountPath": TOKEN_MOUNT_PATH} in \
                c["volumeMounts"]
        files = pr.volume_files()
        token = files[f"{TOKEN_MOUNT_PATH}/token"]
        assert token.count(b".") == 2 and b"memlab-fake" in token
        claims = _claims(token)
        assert claims["sub"] == "system:serviceaccount:shop:builder"
        assert claims["kubernetes.io"]["pod"] == {"name": "web", "uid": pr.pod.raw[
            "metadata"]["uid"]}
        assert claims["exp"] - claims["iat"] == 3607
        assert files[f"{TOKEN_MOUNT_PATH}/namespace"] == b"shop"
        assert b"BEGIN CERTIFICATE" in files[f"{TOKEN_MOUNT_PATH}/ca.crt"]
        host = tmp_path / f"p/volumes/kubernetes.io~projected/{vols[0]}"
        assert (host / "..data").is_symlink() and (host / "token").is_symlink()


def test_rotate_token_swaps_data(tmp_path):
    """kubelet's token manager refreshes the token into the same volume: a new
    timestamped dir and one ..data rename; the running process's env is untouched."""
    with k8spod.run(POD % "", pod_dir=tmp_path / "p") as pr:
        vol = next(v["name"] for v in pr.pod.volumes if "projected" in v)
        before = pr.data_targets()[vol]
        old = pr.volume_files()[f"{TOKEN_MOUNT_PATH}/token"]
        environ = read_proc_file(pr.pid, "environ")
        results = rotate_token(pr.pod_dir)
        assert len(results) == 1 and results[0].written
        assert pr.data_targets()[vol] != before
        new = pr.volume_files()[f"{TOKEN_MOUNT_PATH}/token"]
        assert new != old and _claims(new)["iat"] >= _claims(old)["iat"]
        assert read_proc_file(pr.pid, "environ") == environ
        # a later sync of the volume (the CA ConfigMap it projects changes) keeps the
        # rotated token: kubelet's token manager caches it
        cm = tmp_path / "cm.yaml"
        cm.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kube-root-ca.crt,"
                      " namespace: shop}\ndata: {ca.crt: new-ca}\n")
        res = pr.apply(str(cm))
        assert res[0].volume == vol and res[0].write.written
        assert pr.volume_files()[f"{TOKEN_MOUNT_PATH}/ca.crt"] == b"new-ca"
        assert pr.volume_files()[f"{TOKEN_MOUNT_PATH}/token"] == new


def test_should_automount_pod_and_service_account():
    """admission.go shouldAutomount: the pod's automountServiceAccountToken wins, else
    the ServiceAccount's, else true."""
    sa_off = one("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: builder, "
                 "namespace: shop}\nautomountServiceAccountToken: false\n")

    def has_token(extra, store):
        p = admit(one(POD % extra), store)
        return any("projected" in v for v in p.volumes)

    assert has_token("", ObjectStore())
    assert not has_token("  automountServiceAccountToken: false", ObjectStore())
    assert not has_token("", ObjectStore([sa_off]))
    assert has_token("  automountServiceAccountToken: true", ObjectStore([sa_off]))


def test_automount_false_in_k8s_run(tmp_path):
    """`memlab k8s run` honours automountServiceAccountToken: false: no volume, no
    mount, no token file."""
    f = tmp_path / "p.yaml"
    f.write_text(POD % "  automountServiceAccountToken: false")
    r = subprocess.run(MEMLAB + ["k8s", "env", str(f), "--json"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with k8spod.run(str(f), pod_dir=tmp_path / "p") as pr:
        assert not any(k.startswith(TOKEN_MOUNT_PATH) for k in pr.volume_files())
        assert not (tmp_path / "p/volumes/kubernetes.io~projected").exists()


def test_validate_projection_sources():
    """validateProjectionSources: duplicate paths across sources, a token shorter than
    10 minutes, one volume type per source (the errors of the API server, its paths)."""
    from memlab.k8s import validation
    text = """apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c, image: x}]
  volumes:
  - name: v
    projected:
      sources:
      - serviceAccountToken: {path: token, expirationSeconds: 60}
      - configMap: {name: cm, items: [{key: a, path: same}]}
        downwardAPI: {items: [{path: same, fieldRef: {fieldPath: metadata.name}}]}
"""
    errs = [str(e) for e in validation.validate(one(text))]
    assert errs == [
        "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds: "
        "Invalid value: 60: may not specify a duration less than 10 minutes",
        'spec.volumes[0].projected: Invalid value: "same": conflicting duplicate paths',
        "spec.volumes[0].projected.sources[1]: Forbidden: may not specify more than 1 "
        "volume type per source"]


def test_rotate_token_cli(tmp_path):
    """`memlab k8s rotate-token --pod DIR`: the same ..data swap, from another process."""
    with k8spod.run(POD % "", pod_dir=tmp_path / "p") as pr:
        vol = next(v["name"] for v in pr.pod.volumes if "projected" in v)
        before = pr.data_targets()[vol]
        r = subprocess.run(MEMLAB + ["k8s", "rotate-token", "--pod", str(pr.pod_dir),
                                     "--json"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["writes"][0]["old_ts_dir"] == before
        assert pr.data_targets()[vol] == doc["writes"][0]["ts_dir"] != before
    f = tmp_path / "off.yaml"
    f.write_text(POD % "  automountServiceAccountToken: false")
    with k8spod.run(str(f), pod_dir=tmp_path / "q") as pr:
        r = subprocess.run(MEMLAB + ["k8s", "rotate-token", "--pod", str(pr.pod_dir)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and r.stderr.count("\n") == 1
        assert "no service-account token volume" in r.stderr
