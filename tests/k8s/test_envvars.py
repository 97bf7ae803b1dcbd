"""makeEnvironmentVariables and $(VAR) expansion (spec §2; cases 1-4 of §6)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memlab.k8s.envvars import (CreateContainerConfigError, container_environment,
                                expand, make_environment, mapping_func_for, to_execve)
from memlab.k8s.manifests import ObjectStore, Pod
from tests.k8s.conftest import load

POD_HEAD = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"


def env_of(text: str, **kw) -> dict[str, str]:
    objs = load(text)
    pod = next(o for o in objs if isinstance(o, Pod))
    store = ObjectStore(o for o in objs if not isinstance(o, Pod))
    return {e.name: e.value for e in make_environment(pod, pod.container(), store,
                                                      services=False, **kw)}


def test_case1_expansion_example():
    env = env_of(POD_HEAD + """  - name: c
    image: x
    env:
    - {name: A, value: x}
    - {name: B, value: "$(A)-$(C)"}
    - {name: C, value: z}
    - {name: D, value: "$$(A)"}
    - {name: E, value: "$$$(A)"}
    - {name: F, value: "$(A"}
    - {name: G, value: "${A}"}
""")
    assert env == {"A": "x", "B": "x-$(C)", "C": "z", "D": "$(A)", "E": "$x",
                   "F": "$(A", "G": "${A}"}


def test_case2_envfrom_prefix_optional_and_overrides():
    env = env_of("""
apiVersion: v1
kind: ConfigMap
metadata: {name: cm1}
data: {LOG: info, PORT: "80"}
---
""" + POD_HEAD + """  - name: c
    image: x
    envFrom:
    - prefix: APP_
      configMapRef: {name: cm1}
    - configMapRef: {name: missing, optional: true}
    env:
    - {name: APP_LOG, value: debug}
    - name: APP_PORT
      valueFrom:
        configMapKeyRef: {name: cm1, key: nope, optional: true}
    - {name: REF, value: "$(APP_PORT)"}
""")
    assert env == {"APP_LOG": "debug", "APP_PORT": "80", "REF": "80"}


CASE3 = """
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {a: "1"}
binaryData: {b: AAE=}
---
""" + POD_HEAD


def test_case3_binary_data_never_in_env():
    env = env_of(CASE3 + "  - name: c\n    image: x\n    envFrom: [{configMapRef: {name: cm}}]\n")
    assert env == {"a": "1"}


def test_case3_ref_to_binary_key_fails_with_kubelet_message():
    with pytest.raises(CreateContainerConfigError) as exc:
        env_of(CASE3 + """  - name: c
    image: x
    env:
    - name: B
      valueFrom: {configMapKeyRef: {name: cm, key: b}}
""")
    assert exc.value.message == "couldn't find key b in ConfigMap default/cm"
    assert str(exc.value) == ("CreateContainerConfigError: couldn't find key b in "
                              "ConfigMap default/cm")


def test_case4_invalid_env_names_from_envfrom_pass_through():
    env = env_of("""
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {1badkey: a, app.conf: b, GOOD: c}
---
""" + POD_HEAD + "  - name: c\n    image: x\n    envFrom: [{configMapRef: {name: cm}}]\n")
    assert env == {"1badkey": "a", "app.conf": "b", "GOOD": "c"}


@pytest.mark.parametrize("ref,msg", [
    ("configMapKeyRef: {name: nope, key: k}", 'configmap "nope" not found'),
    ("secretKeyRef: {name: nope, key: k}", 'secret "nope" not found'),
    ("secretKeyRef: {name: s, key: k}", "couldn't find key k in Secret default/s"),
])
def test_missing_object_or_key_messages(ref, msg):
    with pytest.raises(CreateContainerConfigError) as exc:
        env_of("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {x: eA==}\n---\n"
               + POD_HEAD + f"  - name: c\n    image: x\n    env:\n    - name: V\n"
               f"      valueFrom: {{{ref}}}\n")
    assert exc.value.message == msg


def test_missing_envfrom_source_not_optional():
    with pytest.raises(CreateContainerConfigError) as exc:
        env_of(POD_HEAD + "  - name: c\n    image: x\n    envFrom: [{secretRef: {name: s}}]\n")
    assert exc.value.message == 'secret "s" not found'


def test_optional_key_ref_keeps_envfrom_value_and_later_envfrom_wins():
    env = env_of("""
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
data: {X: from-a, Y: from-a}
---
apiVersion: v1
kind: Secret
metadata: {name: b}
stringData: {Y: from-b}
---
""" + POD_HEAD + """  - name: c
    image: x
    envFrom: [{configMapRef: {name: a}}, {secretRef: {name: b}}]
    env:
    - name: X
      valueFrom: {configMapKeyRef: {name: a, key: missing, optional: true}}
    - {name: Z, value: "$(Y)"}
    - name: W
      valueFrom: {secretKeyRef: {name: b, key: Y}}
    - {name: V, value: "$(W)/$(U)"}
    - {name: U, value: u}
""")
    assert env == {"X": "from-a", "Y": "from-b", "Z": "from-b", "W": "from-b",
                   "V": "from-b/$(U)", "U": "u"}  # U: forward reference stays literal


def test_value_from_is_not_expanded():
    env = env_of("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
                 "data: {K: \"$(HOME)\"}\n---\n" + POD_HEAD +
                 "  - name: c\n    image: x\n    envFrom: [{configMapRef: {name: a}}]\n"
                 "    env:\n    - name: R\n      valueFrom: {configMapKeyRef: {name: a, key: K}}\n")
    assert env == {"K": "$(HOME)", "R": "$(HOME)"}


def test_service_variables_only_for_unset_names_and_expansion_sees_them():
    objs = load(POD_HEAD + "  - name: c\n    image: x\n    env:\n"
                "    - {name: KUBERNETES_SERVICE_PORT, value: '8443'}\n"
                "    - {name: API, value: 'https://$(KUBERNETES_SERVICE_HOST)'}\n")
    pod = objs[0]
    env = {e.name: e for e in container_environment(pod, pod.container(), ObjectStore())}
    assert env["KUBERNETES_SERVICE_PORT"].value == "8443"
    assert env["KUBERNETES_SERVICE_PORT"].source == "env"
    assert env["API"].value == "https://10.96.0.1"
    assert env["HOSTNAME"].value == "p"
    names = [e.name for e in container_environment(pod, pod.container(), ObjectStore())]
    assert names == sorted(names)


def test_to_execve_bytes():
    from memlab.k8s.envvars import EnvVar
    assert to_execve([EnvVar("A", "é", "env")]) == ["A=é".encode()]


# --- hypothesis: Expand against reference properties ---------------------------------------

names = st.text(alphabet="ABC_x", min_size=1, max_size=3)
plain = st.text(alphabet=st.characters(blacklist_characters="$", blacklist_categories=("Cs",)),
               max_size=20)  # YAML text never holds lone surrogates


@settings(max_examples=300)
@given(plain)
def test_fuzz_no_dollar_is_identity(s):
    assert expand(s, mapping_func_for({"A": "zz"})) == s


@settings(max_examples=300)
@given(st.dictionaries(names, plain, max_size=4), names, plain, plain)
def test_fuzz_defined_reference_is_replaced(ctx, name, before, after):
    value = f"{before}$({name}){after}"
    expect = before + (ctx[name] if name in ctx else f"$({name})") + after
    assert expand(value, mapping_func_for(ctx)) == expect


@settings(max_examples=300)
@given(plain, plain)
def test_fuzz_escaped_operator(before, after):
    # `$$` -> `$`, and what follows is not a reference
    assert expand(f"{before}$$(A){after}", mapping_func_for({"A": "x"})) == \
        f"{before}$(A){after}"


@settings(max_examples=300)
@given(st.text(alphabet="$(){}Ax", max_size=16))
def test_fuzz_against_regex_reference(s):
    """A regex tokenizer written independently of the byte loop: $$ | $(name) | $( | $c."""
    ctx = {"A": "1", "": "E"}
    out = []
    i = 0
    while i < len(s):
        m = re.compile(r"\$\$|\$\(([^)]*)\)|\$\(|\$.").match(s, i) if s[i] == "$" else None
        if m is None:
            out.append(s[i])
            i += 1
            continue
        tok = m.group(0)
        if tok == "$$":
            out.append("$")
            i += 2
        elif m.group(1) is not None:
            out.append(ctx.get(m.group(1), tok))
            i = m.end()
        else:  # "$(" unterminated, or "$c": the operator and one char are copied
            out.append(tok)
            i = m.end()
    assert expand(s, mapping_func_for(ctx)) == "".join(out)


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20))
def test_fuzz_never_crashes_and_trailing_dollar_kept(s):
    assert expand(s + "$", mapping_func_for({})).endswith("$")


def test_non_ascii_after_operator_is_go_byte_quirk():
    # Go's string(input[0]) turns the first byte of "é" (0xc3) into U+00C3.
    out = expand("$é", mapping_func_for({}))
    assert out.encode("utf-8", "surrogateescape") == b"$\xc3\x83\xa9"


def test_case4_before_1_30_invalid_names_skipped_with_event():
    objs = load("""
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {1badkey: a, app.conf: b, GOOD: c, 2x: d}
---
""" + POD_HEAD + "  - name: c\n    image: x\n    envFrom: [{configMapRef: {name: cm}}]\n")
    pod, store = objs[1], ObjectStore([objs[0]])
    events: list[str] = []
    env = make_environment(pod, pod.container(), store, services=False, kubelet_minor=29,
                           events=events)
    assert {e.name: e.value for e in env} == {"app.conf": "b", "GOOD": "c"}
    assert events == ["Warning InvalidEnvironmentVariableNames: Keys [1badkey, 2x] from the "
                      "EnvFrom configMap default/cm were skipped since they are considered "
                      "invalid environment variable names."]
