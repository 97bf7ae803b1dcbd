"""Kubelet and API-server details memlab had wrong, each checked against the function of
kubelet's or the API server's source that its test names."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys

import pytest

from memlab.k8s import pod as k8spod
from memlab.k8s import validation
from memlab.k8s.envvars import container_environment, expand_command_and_args
from memlab.k8s.manifests import ManifestError, ObjectStore
from memlab.procfs._io import read_proc_file
from tests.k8s.conftest import load, one

MEMLAB = [sys.executable, "-m", "memlab"]

POD = """apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox
%s
"""


def pod_with(container_yaml: str, spec_extra: str = ""):
    return one(POD % container_yaml + spec_extra)


def errors(text: str) -> list[str]:
    return [str(e) for o in load(text) for e in validation.validate(o)]


# --- $(VAR): GenerateRunContainerOptions / kubecontainer.ExpandContainerCommandAndArgs ----

def test_expand_container_command_and_args_sees_only_kubelets_env():
    """GenerateRunContainerOptions expands command/args with the env makeEnvironment
    Variables built: the runtime's HOSTNAME and the image's PATH are not in it."""
    p = pod_with('    command: [echo, "$(PATH)", "$(HOSTNAME)", "$(A)"]\n'
                 '    env: [{name: A, value: a}]')
    env = container_environment(p, p.containers[0], ObjectStore())
    assert {e.name for e in env} >= {"PATH", "HOSTNAME", "A"}
    command, args = expand_command_and_args(p.containers[0], env)
    assert command == ["echo", "$(PATH)", "$(HOSTNAME)", "a"]
    # a variable kubelet does build (the service links) is expanded
    p2 = pod_with('    command: [echo, "$(KUBERNETES_SERVICE_HOST)"]')
    env2 = container_environment(p2, p2.containers[0], ObjectStore())
    assert expand_command_and_args(p2.containers[0], env2)[0] == ["echo", "10.96.0.1"]


def test_expand_container_command_and_args_in_a_running_pod(tmp_path):
    """kubecontainer.ExpandContainerCommandAndArgs, end to end: the process's argv keeps
    `$(PATH)` literally."""
    text = POD % '    command: [sh, -c, "sleep 60", "$(PATH)"]'
    with k8spod.run(text, pod_dir=tmp_path / "p") as pr:
        assert read_proc_file(pr.pid, "cmdline").split(b"\0")[3] == b"$(PATH)"


# --- non-UTF-8 Secret values -------------------------------------------------------------

SECRET_NON_UTF8 = """apiVersion: v1
kind: Secret
metadata: {name: s}
data:
  K: %s
---
""" % base64.b64encode(b"\xff\xfe=x").decode()


def test_make_environment_variables_keeps_non_utf8_secret_bytes(tmp_path):
    """makeEnvironmentVariables copies a Secret's bytes (Go strings are bytes): `k8s
    run` used to die with an internal error writing pod.json; the process gets the raw
    bytes and the state file stays valid JSON."""
    text = SECRET_NON_UTF8 + POD % (
        '    command: [sleep, "60"]\n'
        '    env: [{name: X, valueFrom: {secretKeyRef: {name: s, key: K}}}]')
    with k8spod.run(text, pod_dir=tmp_path / "p") as pr:
        environ = read_proc_file(pr.pid, "environ").split(b"\0")
        assert b"X=\xff\xfe=x" in environ
        state = json.loads((tmp_path / "p/pod.json").read_bytes())
        x = next(e for e in state["env"] if e["name"] == "X")
        assert x["value"].encode("utf-8", "surrogateescape") == b"\xff\xfe=x"


def test_k8s_run_cli_with_non_utf8_secret_exits_cleanly(tmp_path):
    """The reproduction: `memlab k8s run` with such a Secret runs the pod (exit 0 when
    its command exits 0), no traceback, no internal error."""
    f = tmp_path / "p.yaml"
    f.write_text(SECRET_NON_UTF8 + POD % (
        '    command: ["true"]\n'
        '    env: [{name: X, valueFrom: {secretKeyRef: {name: s, key: K}}}]'))
    r = subprocess.run(MEMLAB + ["k8s", "run", str(f), "--pod-dir", str(tmp_path / "d"),
                                 "--json", "--reveal"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"internal error" not in r.stderr and b"Traceback" not in r.stderr
    assert json.loads(r.stdout.splitlines()[-1]) == {"event": "exited", "exit_code": 0}


# --- base64: encoding/base64 decodeQuantum skips \r and \n ---------------------------------

def test_base64_decode_quantum_skips_newlines():
    """Go's base64.StdEncoding.Decode (decodeQuantum) drops '\\r' and '\\n': a Secret's
    value folded by a YAML `|` block is valid; a space is not."""
    value = base64.b64encode(b"a fairly long secret value, long enough to fold").decode()
    folded = "\n".join(value[i:i + 16] for i in range(0, len(value), 16))
    block = "\n".join("    " + ln for ln in folded.splitlines())
    s = one(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ndata:\n  K: |\n{block}\n")
    assert s.data["K"] == b"a fairly long secret value, long enough to fold"
    crlf = one("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n"
               '  K: "YWJj\\r\\nZA=="\n')
    assert crlf.data["K"] == b"abcd"
    with pytest.raises(ManifestError, match="illegal base64"):
        one('apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  K: "YWJj ZA=="\n')


# --- unsupported: "memlab does not support X" ----------------------------------------------

def test_make_environment_variables_unsupported_value_from_exits_1(tmp_path):
    """makeEnvironmentVariables handles fileKeyRef (1.34 alpha); memlab does not: it says
    so (exit 1), not CreateContainerConfigError, which would blame the pod."""
    f = tmp_path / "p.yaml"
    f.write_text(POD % ('    env: [{name: X, valueFrom: {fileKeyRef: '
                        '{volumeName: v, path: p, key: k}}}]'))
    r = subprocess.run(MEMLAB + ["k8s", "env", str(f)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1
    assert r.stderr == "memlab: memlab does not support valueFrom fileKeyRef (env X)\n"
    assert "CreateContainerConfigError" not in r.stderr


# --- validateConfigMapKeySelector / validateSecretKeySelector / ValidateEnvFrom ------------

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric "
                 "character (e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def test_validate_config_map_key_selector_name_is_a_subdomain():
    """validateConfigMapKeySelector: ValidateNameFunc(ValidateSecretName)(name, false);
    no Required case, so an empty name is Invalid with the subdomain message."""
    errs = errors(POD % '    env: [{name: X, valueFrom: {configMapKeyRef: '
                  '{name: Bad_Name, key: k}}}, {name: Y, valueFrom: {secretKeyRef: {key: k}}}]')
    assert errs == [
        'spec.containers[0].env[0].valueFrom.configMapKeyRef.name: Invalid value: '
        f'"Bad_Name": {SUBDOMAIN_MSG}',
        'spec.containers[0].env[1].valueFrom.secretKeyRef.name: Invalid value: '
        f'"": {SUBDOMAIN_MSG}']


def test_validate_env_from_names_and_sources():
    """ValidateEnvFrom -> validateConfigMapEnvSource: Required when empty, else
    ValidateConfigMapName(name, prefix=true) (a trailing '-' is allowed); 'must specify
    one of' is reported on the envFrom list itself."""
    errs = errors(POD % ('    envFrom: [{configMapRef: {name: ""}}, {secretRef: {name: UP}},'
                         ' {configMapRef: {name: ends-}}, {prefix: P_}]'))
    assert errs == [
        "spec.containers[0].envFrom[0].configMapRef.name: Required value",
        f'spec.containers[0].envFrom[1].secretRef.name: Invalid value: "UP": {SUBDOMAIN_MSG}',
        'spec.containers[0].envFrom: Invalid value: "": must specify one of: '
        '`configMapRef` or `secretRef`']


def test_validate_object_field_selector():
    """validateObjectFieldSelector with validEnvDownwardAPIFieldPathExpressions:
    conversion errors (ConvertDownwardAPIFieldLabel), NotSupported with the sorted list,
    subscripts only on labels/annotations (IsQualifiedName)."""
    def env(fp, api=""):
        api_field = f", apiVersion: {api}" if api else ""
        return errors(POD % (f'    env: [{{name: X, valueFrom: {{fieldRef: '
                             f'{{fieldPath: "{fp}"{api_field}}}}}}}]'))
    p = "spec.containers[0].env[0].valueFrom.fieldRef"
    assert env("metadata.name") == [] and env("metadata.labels['app']") == []
    assert env("spec.host") == []  # old clients: converted to spec.nodeName
    assert env("metadata.labels") == [
        f'{p}.fieldPath: Unsupported value: "metadata.labels": supported values: '
        '"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", '
        '"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", '
        '"status.podIPs"']
    assert env("spec.containers") == [
        f'{p}.fieldPath: Invalid value: "spec.containers": error converting fieldPath: '
        'field label not supported: spec.containers']
    assert env("metadata.name", "v2") == [
        f'{p}.fieldPath: Invalid value: "metadata.name": error converting fieldPath: '
        'unsupported pod version: v2']
    assert env("metadata.name['x']") == [
        f'{p}.fieldPath: Invalid value: "metadata.name[\'x\']": error converting fieldPath: '
        "field label does not support subscript: metadata.name['x']"]
    assert env("metadata.labels['-bad']")[0].startswith(
        f'{p}: Invalid value: "-bad": name part must consist of alphanumeric characters')


def test_validate_volume_mounts_sub_path():
    """ValidateVolumeMounts: validateLocalDescendingPath(subPath) - relative, and
    validatePathNoBacksteps (no '..' component; '..x' is fine)."""
    base = ('    volumeMounts: [{name: v, mountPath: /m, subPath: "%s"}]\n'
            '  volumes: [{name: v, configMap: {name: cm}}]')
    p = "spec.containers[0].volumeMounts[0].subPath"
    assert errors(POD % (base % "a/..x")) == []
    assert errors(POD % (base % "/etc/passwd")) == [
        f'{p}: Invalid value: "/etc/passwd": must be a relative path']
    assert errors(POD % (base % "a/../../b")) == [
        f'{p}: Invalid value: "a/../../b": must not contain \'..\'']


# --- ValidateSecret: json.Unmarshal(data, &map[string]interface{}{}) -----------------------

@pytest.mark.parametrize("data, ok", [
    (b'{"auths": {}}', True),
    (b"null", True),  # Unmarshal of null into a map: no error, nil map
    (b'{"a": 1, "a": 2}', True),  # duplicate keys: the last wins, no error
    (b'{"a": "\xff"}', True),  # invalid UTF-8 in a string: U+FFFD, no error
    (b' \n{"a": 1e308}\t', True),
    (b'{"a": NaN}', False),  # Python's json takes NaN; Go's does not
    (b'{"a": Infinity}', False),
    (b'{"a": 1e400}', False),  # out of float64 range: "cannot unmarshal number"
    (b"\xef\xbb\xbf{}", False),  # a BOM
    (b"[]", False),
    (b'"s"', False),
])
def test_validate_secret_dockerconfigjson_is_go_json_unmarshal(data, ok):
    """ValidateSecret for kubernetes.io/dockerconfigjson: what Go's json.Unmarshal into
    map[string]interface{} accepts."""
    text = ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
            "type: kubernetes.io/dockerconfigjson\ndata:\n"
            f"  .dockerconfigjson: {base64.b64encode(data).decode()}\n")
    errs = errors(text)
    assert (errs == []) is ok, errs
    if data == b"[]":
        assert errs == ['data[.dockerconfigjson]: Invalid value: "<secret contents '
                        'redacted>": json: cannot unmarshal array into Go value of type '
                        'map[string]interface {}']


# --- warningsForPodSpecAndMeta: duplicate env ----------------------------------------------

def test_warnings_for_pod_spec_and_meta_duplicate_env(tmp_path):
    """pkg/api/pod/warnings.go: a repeated env name warns unless the new value refers to
    the old one; `k8s validate` and `k8s run` print the API server's text."""
    text = POD % ('    command: [sleep, "60"]\n'
                  '    env: [{name: A, value: "1"}, {name: A, value: "2"}, '
                  '{name: A, value: "$(A)-x"}, {name: A, value: "$(A)"}]')
    w = 'spec.containers[0].env[%d]: hides previous definition of "A", which may be ' \
        'dropped when using apply'
    assert validation.pod_warnings(one(text)) == [w % 1, w % 3]
    f = tmp_path / "p.yaml"
    f.write_text(text)
    r = subprocess.run(MEMLAB + ["k8s", "validate", str(f)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and f"Warning: {w % 1}" in r.stdout
    with k8spod.run(text, pod_dir=tmp_path / "p") as pr:
        assert w % 1 in pr.warnings


# --- spec.hostname, spec.nodeName -------------------------------------------------------

def test_generate_pod_host_name_and_domain_sets_hostname():
    """GeneratePodHostNameAndDomain: spec.hostname, else the pod name, cut to 63
    characters (truncatePodHostnameIfNeeded); hostNetwork: the node's hostname."""
    def hostname(extra):
        p = one(POD % '    command: [sleep, "1"]' + extra)
        env = {e.name: e.value for e in container_environment(p, p.containers[0],
                                                              ObjectStore())}
        return env["HOSTNAME"]
    assert hostname("") == "p"
    assert hostname("  hostname: web-0\n") == "web-0"
    assert hostname("  hostNetwork: true\n") == socket.gethostname()


def test_pod_field_selector_runtime_value_node_name():
    """podFieldSelectorRuntimeValue: spec.nodeName is the pod's own when set (the
    scheduler's binding), else this node's name."""
    env = '    env: [{name: N, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]'
    p = one(POD % env + "  nodeName: node-7\n")
    got = {e.name: e.value for e in container_environment(p, p.containers[0], ObjectStore())}
    assert got["N"] == "node-7"
    p = one(POD % env)
    got = {e.name: e.value for e in container_environment(p, p.containers[0], ObjectStore())}
    assert got["N"] == socket.gethostname().lower()


def test_validate_resource_requirements():
    """ValidateResourceRequirements: cpu/memory are quantities, not negative, and a
    request is not above its limit (resourceFieldRef reads them)."""
    errs = errors(POD % ('    resources: {limits: {cpu: 500m, memory: 1Gix}, '
                         'requests: {cpu: "1", memory: "-1"}}'))
    p = "spec.containers[0].resources"
    assert errs == [
        f'{p}.limits[memory]: Invalid value: "1Gix": quantities must match the regular '
        "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        f'{p}.requests[memory]: Invalid value: "-1": must be greater than or equal to 0',
        f'{p}.requests[cpu]: Invalid value: "1": must be less than or equal to cpu limit '
        'of 500m']
