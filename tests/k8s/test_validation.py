"""API-server validation in Kubernetes' words (case 8 of §6 and the rules of §3), and the
structural errors kubectl would give (malformed YAML, unknown kinds/fields, wrong types)."""

from __future__ import annotations

import pytest

from memlab.errors import UsageError
from memlab.k8s import validation
from memlab.k8s.manifests import ManifestError, load_text
from tests.k8s.conftest import one

SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"


def errors(obj) -> list[str]:
    return [str(e) for e in validation.validate(obj)]


def test_tls_without_key():
    s = one(SECRET + "type: kubernetes.io/tls\ndata: {tls.crt: aGVsbG8=}\n")
    assert errors(s) == ["data[tls.key]: Required value"]
    with pytest.raises(validation.ValidationError) as exc:
        validation.check(s)
    assert str(exc.value) == ('t.yaml:5: The Secret "s" is invalid: '
                              "data[tls.key]: Required value")
    assert exc.value.exit_code == 2


def test_basic_auth_with_only_password_is_valid():
    assert errors(one(SECRET + "type: kubernetes.io/basic-auth\nstringData: {password: p}\n")) == []


def test_basic_auth_with_neither():
    assert errors(one(SECRET + "type: kubernetes.io/basic-auth\n")) == [
        "data[username]: Required value", "data[password]: Required value"]


def test_string_data_wins_and_is_stored_as_data():
    s = one(SECRET + "data: {k: aGVsbG8=}\nstringData: {k: world}\n")
    assert s.data == {"k": b"world"}
    from memlab.k8s.poddir import object_to_api
    assert object_to_api(s)["data"] == {"k": "d29ybGQ="}
    assert "stringData" not in object_to_api(s)


def test_configmap_size_limit():
    ok = one(CM + f"data: {{a: {'x' * (1048576 - 1)}, b: y}}\n")
    assert errors(ok) == []
    big = one(CM + f"data: {{a: {'x' * 1048576}, b: y}}\n")  # 1,048,577 bytes
    assert errors(big) == ["[]: Too long: may not be more than 1048576 bytes"]


def test_size_counts_data_and_binary_data_together():
    import base64
    half = base64.b64encode(b"\0" * 524289).decode()
    cm = one(CM + f"data: {{a: {'x' * 524288}}}\nbinaryData: {{b: {half}}}\n")
    assert errors(cm) == ["[]: Too long: may not be more than 1048576 bytes"]


def test_secret_size_limit():
    import base64
    v = base64.b64encode(b"x" * 1048577).decode()
    assert errors(one(SECRET + f"data: {{k: {v}}}\n")) == [
        "data: Too long: may not be more than 1048576 bytes"]


@pytest.mark.parametrize("key,msg", [
    ("..foo", "must not start with '..'"),
    ("..", "must not be '..'"),
    (".", "must not be '.'"),
    ("a b", "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
            "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
            "is '[-._a-zA-Z0-9]+')"),
])
def test_bad_keys(key, msg):
    assert errors(one(CM + f"data: {{'{key}': v}}\n")) == [
        f'data[{key}]: Invalid value: "{key}": {msg}']


def test_key_too_long():
    k = "k" * 254
    assert errors(one(CM + f"data: {{{k}: v}}\n")) == [
        f'data[{k}]: Invalid value: "{k}": must be no more than 253 characters']


def test_duplicate_of_binary_data():
    assert errors(one(CM + "data: {a: x}\nbinaryData: {a: eA==}\n")) == [
        'data[a]: Invalid value: "a": duplicate of key present in binaryData']


@pytest.mark.parametrize("path,msg", [
    ("../x", "must not contain '..'"),
    ("/x", "must be a relative path"),
    ("..x", "must not start with '..'"),
])
def test_items_paths_rejected(path, msg):
    pod = one("""apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c, image: i}]
  volumes:
  - name: v
    configMap:
      name: cm
      items: [{key: k, path: "%s"}]
""" % path)
    assert errors(pod) == [
        f'spec.volumes[0].configMap.items[0].path: Invalid value: "{path}": {msg}']


def test_modes_range():
    pod = one("""apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c, image: i}]
  volumes:
  - name: v
    secret: {secretName: s, defaultMode: 01000, items: [{key: k, path: p, mode: -1}]}
""")
    assert errors(pod) == [
        "spec.volumes[0].secret.defaultMode: Invalid value: 512: must be a number between "
        "0 and 0777 (octal), both inclusive",
        "spec.volumes[0].secret.items[0].mode: Invalid value: -1: must be a number between "
        "0 and 0777 (octal), both inclusive"]


@pytest.mark.parametrize("typ,data,expect", [
    ("kubernetes.io/dockerconfigjson", "{}", ["data[.dockerconfigjson]: Required value"]),
    ("kubernetes.io/ssh-auth", "{ssh-privatekey: ''}", ["data[ssh-privatekey]: Required value"]),
    ("kubernetes.io/service-account-token", "{}",
     ["metadata.annotations[kubernetes.io/service-account.name]: Required value"]),
    ("bootstrap.kubernetes.io/token", "{}", []),
    ("Opaque", "{}", []),
])
def test_secret_types(typ, data, expect):
    assert errors(one(SECRET + f"type: {typ}\ndata: {data}\n")) == expect


def test_dockerconfigjson_must_be_json():
    errs = validation.validate(one(SECRET + "type: kubernetes.io/dockerconfigjson\n"
                                   "stringData: {.dockerconfigjson: 'not json'}\n"))
    assert len(errs) == 1 and errs[0].type == "Invalid value"
    assert str(errs[0]).startswith(
        'data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": ')


def test_immutable_update_rules():
    old = one(CM + "immutable: true\ndata: {a: '1'}\n")
    same = one(CM + "immutable: true\ndata: {a: '1'}\n")
    changed = one(CM + "immutable: true\ndata: {a: '2'}\n")
    unset = one(CM + "data: {a: '1'}\n")
    assert validation.validate_update(same, old) == []
    assert [str(e) for e in validation.validate_update(changed, old)] == [
        "data: Forbidden: field is immutable when `immutable` is set"]
    assert [str(e) for e in validation.validate_update(unset, old)] == [
        "immutable: Forbidden: field is immutable when `immutable` is set"]


def test_secret_type_cannot_change():
    old = one(SECRET + "type: Opaque\n")
    new = one(SECRET + "type: kubernetes.io/basic-auth\nstringData: {username: u}\n")
    assert [str(e) for e in validation.validate_update(new, old)] == [
        'type: Invalid value: "kubernetes.io/basic-auth": field is immutable']


def test_pod_missing_fields_in_kubernetes_words():
    pod = one("apiVersion: v1\nkind: Pod\nmetadata: {}\nspec:\n"
              "  containers:\n  - image: x\n    env: [{value: v}]\n"
              "    volumeMounts: [{name: nope, mountPath: /m}]\n")
    assert errors(pod) == [
        "metadata.name: Required value: name or generateName is required",
        "spec.containers[0].name: Required value",
        "spec.containers[0].env[0].name: Required value",
        'spec.containers[0].volumeMounts[0].name: Not found: "nope"',
    ]


def test_pod_without_containers():
    assert errors(one("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n")) == [
        "spec.containers: Required value"]


# --- structural: one clear error each, with the line ------------------------------------------

@pytest.mark.parametrize("text,msg", [
    ("a: [\n", "t.yaml:2: malformed YAML: "),
    ("kind: Deployment\napiVersion: apps/v1\n",
     't.yaml:1: no matches for kind "Deployment" in version "apps/v1"'),
    ("apiVersion: v1\nmetadata: {name: x}\n", "t.yaml:1: Object 'Kind' is missing"),
    ("apiVersion: v2\nkind: ConfigMap\n", 't.yaml:1: no matches for kind "ConfigMap" in '
                                          'version "v2"'),
    (CM + "data:\n  PORT: 80\n", "t.yaml:5: ConfigMap data.PORT: expected string, got "
                                 "integer 80 (quote it)"),
    (CM + "data: [a]\n", "t.yaml:4: ConfigMap data: expected mapping of strings, got list"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
     "  - name: c\n    image: i\n    env:\n    - name: A\n      valueFrom:\n"
     "        configMapKeyref: {name: a, key: b}\n",
     't.yaml:11: Pod: unknown field "spec.containers[0].env[0].valueFrom.configMapKeyref"'),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: {name: c}\n",
     "t.yaml:5: Pod spec.containers: expected list, got mapping"),
    (CM + "immutable: 'yes'\n", "t.yaml:4: ConfigMap immutable: expected boolean, got "
                                "string 'yes'"),
    (SECRET + "data: {k: 'not base64!'}\n", "t.yaml:4: Secret data.k: illegal base64 data"),
    (CM + "data: {a: x, a: y}\n", "t.yaml:4: key 'a' already set in map"),
    ("- a\n- b\n", "t.yaml:1: a manifest must be a mapping, got list"),
])
def test_structural_errors(text, msg):
    with pytest.raises(ManifestError) as exc:
        load_text(text, "t.yaml")
    assert str(exc.value).startswith(msg), str(exc.value)
    assert "\n" not in str(exc.value)
    assert isinstance(exc.value, UsageError) and exc.value.exit_code == 2


def test_yaml11_octal_modes_and_empty_documents():
    objs = load_text("---\n---\n" + "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                     "  containers: [{name: c, image: i}]\n  volumes:\n"
                     "  - {name: v, configMap: {name: cm, defaultMode: 0400}}\n---\n")
    assert len(objs) == 1
    assert objs[0].volumes[0]["configMap"]["defaultMode"] == 0o400


def test_line_numbers_point_at_the_field():
    text = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata:\n"
            "  good: x\n  ..bad: y\n")
    cm = load_text(text, "f.yaml")[0]
    with pytest.raises(validation.ValidationError) as exc:
        validation.check(cm)
    assert str(exc.value).startswith('f.yaml:6: The ConfigMap "cm" is invalid: data[..bad]')
