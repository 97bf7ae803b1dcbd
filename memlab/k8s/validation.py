"""The API server's validation, for what memlab uses, in Kubernetes' own words.

Rules and messages follow pkg/apis/core/validation/validation.go (ValidateConfigMap,
ValidateSecret, ValidateConfigMapUpdate, ValidateSecretUpdate, validateKeyToPath,
ValidateLocalNonReservedPath, validateEnv...) and k8s.io/apimachinery
pkg/util/validation (IsConfigMapKey, RegexError, MaxLenError) and .../field (the
`<field>: <Type>: <detail>` form of field.Error).  Every function returns a list of
FieldError; `check(obj)` raises one ValidationError naming the object and file:line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from memlab.errors import UsageError
from memlab.k8s.manifests import (ConfigMap, DaemonSet, Manifest, Pod, Secret,
                                  ServiceAccount)
from memlab.k8s.resources import QuantityError, canonical_divisor, parse_quantity

MAX_SECRET_SIZE = 1 * 1024 * 1024  # core.MaxSecretSize: 1 MiB, for ConfigMaps too
DNS1123_SUBDOMAIN_MAX = 253
IMMUTABLE_MSG = "field is immutable when `immutable` is set"
FILE_MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"

_CONFIG_KEY_FMT = r"[-._a-zA-Z0-9]+"
_CONFIG_KEY_RE = re.compile(rf"^{_CONFIG_KEY_FMT}$")
_DNS1123_LABEL_FMT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = rf"{_DNS1123_LABEL_FMT}(\.{_DNS1123_LABEL_FMT})*"
_DNS1123_SUBDOMAIN_RE = re.compile(rf"^{_DNS1123_SUBDOMAIN_FMT}$")
_DNS1123_LABEL_RE = re.compile(rf"^{_DNS1123_LABEL_FMT}$")
# env var names: strict C-identifier-ish rule before 1.34; relaxed (printable ASCII, no
# '=') since the RelaxedEnvironmentVariableValidation gate went GA in 1.34.
_ENV_NAME_STRICT_RE = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class Key(str):
    """A map key inside a field path: rendered `data[tls.key]`, not `data.tls.key`."""


@dataclass(frozen=True)
class FieldError:
    """field.Error: type is one of Required, Invalid, Forbidden, Too long, Duplicate."""

    path: tuple
    type: str
    value: Any = None
    detail: str = ""

    @property
    def field(self) -> str:
        if not self.path:
            return "[]"  # field.NewPath("") - the whole object (the 1 MiB size check)
        out = ""
        for p in self.path:
            if isinstance(p, Key):
                out += f"[{p}]"
            elif isinstance(p, int):
                out += f"[{p}]"
            else:
                out += f".{p}" if out else p
        return out

    def body(self) -> str:
        # field.Error.ErrorBody: every type but these four shows the bad value.
        s = self.type
        if self.type not in ("Required value", "Forbidden", "Too long", "Internal error"):
            s += f": {_go_value(self.value)}"
        if self.detail:
            s += f": {self.detail}"
        return s

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def _go_value(v: Any) -> str:
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # Go's %q for printable strings
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def required(path, detail="") -> FieldError:
    return FieldError(tuple(path), "Required value", None, detail)


def invalid(path, value, detail) -> FieldError:
    return FieldError(tuple(path), "Invalid value", value, detail)


def forbidden(path, detail) -> FieldError:
    return FieldError(tuple(path), "Forbidden", None, detail)


def too_long(path, max_bytes: int) -> FieldError:
    return FieldError(tuple(path), "Too long", None, f"may not be more than {max_bytes} bytes")


def duplicate(path, value) -> FieldError:
    return FieldError(tuple(path), "Duplicate value", value)


class ValidationError(UsageError):
    """An object the API server would refuse: `FILE:LINE: Kind "name" is invalid: ...`."""

    def __init__(self, obj: Manifest, errors: list[FieldError]):
        self.obj = obj
        self.errors = errors
        line = obj.line_of(errors[0].path) if errors else obj.line
        body = "; ".join(str(e) for e in errors)
        super().__init__(f"{obj.source}:{line}: The {obj.kind} \"{obj.name}\" is invalid: "
                         f"{body}")


# --- apimachinery helpers -----------------------------------------------------------------

def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    # k8s.io/apimachinery/pkg/util/validation.RegexError, quirks (double spaces) included.
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    msg += " (e.g. "
    for i, ex in enumerate(examples):
        if i > 0:
            msg += " or "
        msg += f"'{ex}', "
    return msg + f"regex used for validation is '{fmt}')"


def is_config_map_key(value: str) -> list[str]:
    """validation.IsConfigMapKey: the messages for a bad data/binaryData/items key."""
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters")
    if not _CONFIG_KEY_RE.match(value):
        errs.append(_regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters")
    if not _DNS1123_SUBDOMAIN_RE.match(value):
        errs.append(_regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character",
            _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1123_LABEL_RE.match(value):
        errs.append(_regex_error(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
            "or '-', and must start and end with an alphanumeric character",
            _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def env_var_name_errors(name: str, strict: bool = False) -> list[str]:
    """validation.IsEnvVarName (strict, before 1.34) / the relaxed rule (1.34 GA)."""
    if strict:
        errs = []
        if not _ENV_NAME_STRICT_RE.match(name):
            errs.append(_regex_error(
                "a valid environment variable name must consist of alphabetic characters, "
                "digits, '_', '-', or '.', and must not start with a digit",
                "[-._a-zA-Z][-._a-zA-Z0-9]*", "my.env-name", "MY_ENV.NAME", "MyEnvName1"))
        return errs
    if name and all(32 <= ord(c) <= 126 for c in name) and "=" not in name:
        return []
    return ["a valid environment variable name must consist only of printable ASCII "
            "characters other than '='"]


def _meta_errors(obj: Manifest, label: bool = False) -> list[FieldError]:
    meta = obj.raw.get("metadata") or {}
    if not meta.get("name") and not meta.get("generateName"):
        return [required(("metadata", "name"), "name or generateName is required")]
    errs = []
    check = is_dns1123_label if label else is_dns1123_subdomain
    for msg in check(meta.get("name", "")):
        errs.append(invalid(("metadata", "name"), meta.get("name", ""), msg))
    ns = meta.get("namespace")
    if ns:
        for msg in is_dns1123_label(ns):
            errs.append(invalid(("metadata", "namespace"), ns, msg))
    return errs


# --- ConfigMap / Secret ------------------------------------------------------------------

def validate_configmap(cm: ConfigMap) -> list[FieldError]:
    errs = _meta_errors(cm)
    total = 0
    for key, value in cm.data.items():
        for msg in is_config_map_key(key):
            errs.append(invalid(("data", Key(key)), key, msg))
        if key in cm.binary_data:
            errs.append(invalid(("data", Key(key)), key, "duplicate of key present in binaryData"))
        total += len(value.encode("utf-8"))  # Go len(string): bytes
    for key, value in cm.binary_data.items():
        for msg in is_config_map_key(key):
            errs.append(invalid(("binaryData", Key(key)), key, msg))
        total += len(value)
    if total > MAX_SECRET_SIZE:
        errs.append(too_long((), MAX_SECRET_SIZE))
    return errs


SECRET_TYPES = {
    "Opaque": (), "": (),
    "kubernetes.io/service-account-token": (),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/basic-auth": ("username", "password"),  # at least one of
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "bootstrap.kubernetes.io/token": (),
}
SERVICE_ACCOUNT_NAME_KEY = "kubernetes.io/service-account.name"


_GO_JSON_TYPES = {str: "string", int: "number", float: "number", bool: "bool",
                  list: "array"}


def _go_constant(name: str):
    # Python's json accepts NaN/Infinity/-Infinity; Go's encoding/json does not.
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _go_float(text: str) -> float:
    f = float(text)
    if f in (float("inf"), float("-inf")):  # Go: a number out of float64's range
        raise ValueError(f"json: cannot unmarshal number {text} into Go value of type "
                         "float64")
    return f


def _json_error(data: bytes) -> str | None:
    """What json.Unmarshal(data, &map[string]interface{}{}) says (ValidateSecret for
    dockercfg/dockerconfigjson), or None when Go accepts it.  Go's decoder takes bytes:
    invalid UTF-8 inside strings becomes U+FFFD (no error), a UTF-8 BOM is an error, a
    top-level `null` leaves the map nil without error, duplicate keys are fine, NaN and
    Infinity are not JSON."""
    text = data.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        return "invalid character 'ï' looking for beginning of value"
    try:
        value = json.loads(text, parse_constant=_go_constant, parse_float=_go_float)
    except ValueError as err:
        return str(err)
    except RecursionError:
        return "exceeded max depth"
    if value is None or isinstance(value, dict):
        return None
    return (f"json: cannot unmarshal {_GO_JSON_TYPES.get(type(value), 'value')} into Go "
            "value of type map[string]interface {}")


def validate_secret(s: Secret) -> list[FieldError]:
    errs = _meta_errors(s)
    total = 0
    for key, value in s.data.items():
        for msg in is_config_map_key(key):
            errs.append(invalid(("data", Key(key)), key, msg))
        total += len(value)
    if total > MAX_SECRET_SIZE:
        errs.append(too_long(("data",), MAX_SECRET_SIZE))
    t, data = s.type, s.data
    if t == "kubernetes.io/service-account-token":
        if not s.annotations.get(SERVICE_ACCOUNT_NAME_KEY):
            errs.append(required(("metadata", "annotations", Key(SERVICE_ACCOUNT_NAME_KEY))))
    elif t in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = SECRET_TYPES[t][0]
        if key not in data:
            errs.append(required(("data", Key(key))))
        else:
            msg = _json_error(data[key])
            if msg:
                errs.append(invalid(("data", Key(key)), "<secret contents redacted>", msg))
    elif t == "kubernetes.io/basic-auth":
        # "username or password might be empty, but the field must be present"
        if "username" not in data and "password" not in data:
            errs.append(required(("data", Key("username"))))
            errs.append(required(("data", Key("password"))))
    elif t == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errs.append(required(("data", Key("ssh-privatekey"))))
    elif t == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                errs.append(required(("data", Key(key))))
    return errs


def validate_update(new: Manifest, old: Manifest) -> list[FieldError]:
    """ValidateConfigMapUpdate / ValidateSecretUpdate: immutability, then the object."""
    errs: list[FieldError] = []
    if isinstance(new, Secret) and isinstance(old, Secret) and new.type != old.type:
        errs.append(invalid(("type",), new.type, "field is immutable"))
    if old.immutable:  # type: ignore[attr-defined]
        if not new.immutable:  # type: ignore[attr-defined]
            errs.append(forbidden(("immutable",), IMMUTABLE_MSG))
        if new.data != old.data:  # type: ignore[attr-defined]
            errs.append(forbidden(("data",), IMMUTABLE_MSG))
        if isinstance(new, ConfigMap) and isinstance(old, ConfigMap) and \
                new.binary_data != old.binary_data:
            errs.append(forbidden(("binaryData",), IMMUTABLE_MSG))
    return errs + validate(new)


# --- Pod (the parts memlab runs) ----------------------------------------------------------

def _mask_trailing_dash(name: str) -> str:
    # apimachinery validation.maskTrailingDash: a generateName-style prefix may end in '-'
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def _object_name_errors(name: str, prefix: bool = False) -> list[str]:
    """ValidateNameFunc(ValidateSecretName) = NameIsDNSSubdomain(name, prefix)."""
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def _key_ref_errors(ref: dict, path: tuple) -> list[FieldError]:
    # validateConfigMapKeySelector / validateSecretKeySelector: the name is checked as a
    # DNS-1123 subdomain with no "Required" case, so an empty name is `Invalid value: ""`
    # with the subdomain regex message.
    errs = []
    name = ref.get("name", "")
    for msg in _object_name_errors(name):
        errs.append(invalid(path + ("name",), name, msg))
    key = ref.get("key", "")
    if not key:
        errs.append(required(path + ("key",)))
    else:
        for msg in is_config_map_key(key):
            errs.append(invalid(path + ("key",), key, msg))
    return errs


# validation.go validEnvDownwardAPIFieldPathExpressions / validVolumeDownwardAPIFieldPath
# Expressions; pkg/apis/core/pods/helpers.go ConvertDownwardAPIFieldLabel's label list.
ENV_FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                   "spec.serviceAccountName", "status.hostIP", "status.hostIPs",
                   "status.podIP", "status.podIPs")
VOLUME_FIELD_PATHS = ("metadata.annotations", "metadata.labels", "metadata.name",
                      "metadata.namespace", "metadata.uid")
_CONVERTIBLE = {"metadata.annotations", "metadata.labels", "metadata.name",
                "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.restartPolicy",
                "spec.serviceAccountName", "spec.schedulerName", "status.phase",
                "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}
RESOURCE_FIELD_PATHS = ("limits.cpu", "limits.ephemeral-storage", "limits.memory",
                        "requests.cpu", "requests.ephemeral-storage", "requests.memory")
_QUALIFIED_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_RE = re.compile(rf"^{_QUALIFIED_FMT}$")
_QUALIFIED_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start "
                  "and end with an alphanumeric character")


def split_maybe_subscripted_path(field_path: str) -> tuple[str, str, bool]:
    """k8s.io/kubernetes/pkg/fieldpath SplitMaybeSubscriptedPath: `metadata.labels['k']`
    -> ("metadata.labels", "k", True)."""
    if not field_path.endswith("']"):
        return field_path, "", False
    parts = field_path[:-2].split("['", 1)
    if len(parts) < 2 or not parts[0]:
        return field_path, "", False
    return parts[0], parts[1], True


def convert_downward_api_field_label(version: str, label: str) -> str:
    """pkg/apis/core/pods/helpers.go ConvertDownwardAPIFieldLabel: the internal path, or
    ValueError with its message."""
    if version != "v1":
        raise ValueError(f"unsupported pod version: {version}")
    path, _, ok = split_maybe_subscripted_path(label)
    if ok:
        if path in ("metadata.annotations", "metadata.labels"):
            return label
        raise ValueError(f"field label does not support subscript: {label}")
    if label == "spec.host":  # old v1 clients
        return "spec.nodeName"
    if label in _CONVERTIBLE:
        return label
    raise ValueError(f"field label not supported: {label}")


def is_qualified_name(value: str) -> list[str]:
    """apimachinery validation.IsQualifiedName (label keys, annotation keys)."""
    errs = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix)]
    else:
        return ["a qualified name " + _regex_error(_QUALIFIED_MSG, _QUALIFIED_FMT, "MyName",
                                                   "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if name and not _QUALIFIED_RE.match(name):
        errs.append("name part " + _regex_error(_QUALIFIED_MSG, _QUALIFIED_FMT, "MyName",
                                                "my.name", "123-abc"))
    return errs


def not_supported(path, value, supported) -> FieldError:
    # field.NotSupported: `Unsupported value: "x": supported values: "a", "b"`
    return FieldError(tuple(path), "Unsupported value", value,
                      "supported values: " + ", ".join(f'"{v}"' for v in sorted(supported)))


def object_field_selector_errors(ref: dict, expressions, path: tuple) -> list[FieldError]:
    """validateObjectFieldSelector (apiVersion defaults to "v1": SetDefaults_ObjectFieldSelector)."""
    version = ref.get("apiVersion") or "v1"
    fp = ref.get("fieldPath", "")
    if not fp:
        return [required(path + ("fieldPath",))]
    try:
        internal = convert_downward_api_field_label(version, fp)
    except ValueError as err:
        return [invalid(path + ("fieldPath",), fp, f"error converting fieldPath: {err}")]
    base, sub, ok = split_maybe_subscripted_path(internal)
    errs = []
    if ok:
        check = sub.lower() if base == "metadata.annotations" else sub
        for msg in is_qualified_name(check):
            errs.append(invalid(path, sub, msg))
    elif base not in expressions:
        errs.append(not_supported(path + ("fieldPath",), base, expressions))
    return errs


_DIVISOR_MSG = {
    "cpu": "only divisor's values 1m and 1 are supported with the cpu resource",
    "memory": "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, "
              "1Ei are supported with the memory resource",
    "ephemeral-storage": "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, "
                         "1Ti, 1Pi, 1Ei are supported with the local ephemeral storage "
                         "resource",
}


def resource_field_selector_errors(ref: dict, path: tuple, volume: bool) -> list[FieldError]:
    """validateContainerResourceFieldSelector + validateContainerResourceDivisor."""
    resource = ref.get("resource", "")
    errs = []
    if volume and not ref.get("containerName"):
        errs.append(required(path + ("containerName",)))
    elif not resource:
        errs.append(required(path + ("resource",)))
    elif resource not in RESOURCE_FIELD_PATHS:
        errs.append(not_supported(path + ("resource",), resource, RESOURCE_FIELD_PATHS))
    divisor = ref.get("divisor")
    if divisor not in (None, "", 0) and resource in RESOURCE_FIELD_PATHS:
        res = resource.partition(".")[2]
        allowed = ("1m", "1") if res == "cpu" else (
            "1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei")
        if canonical_divisor(divisor) not in allowed:
            errs.append(invalid(path + ("divisor",), resource, _DIVISOR_MSG[res]))
    return errs


def _descending_path_errors(target: str, path: tuple) -> list[FieldError]:
    # validateLocalDescendingPath: not absolute, and validatePathNoBacksteps (no '..'
    # component).  subPath gets only this.
    errs = []
    if target.startswith("/"):
        errs.append(invalid(path, target, "must be a relative path"))
    if ".." in target.split("/"):
        errs.append(invalid(path, target, "must not contain '..'"))
    return errs


def _local_path_errors(target: str, path: tuple) -> list[FieldError]:
    # ValidateLocalNonReservedPath = validateLocalDescendingPath + the '..' prefix rule
    # (a configMap/secret items[].path must not collide with AtomicWriter's ..data).
    errs = _descending_path_errors(target, path)
    if target.startswith("..") and ".." not in target.split("/"):
        # "Don't report this error if .. was already caught"
        errs.append(invalid(path, target, "must not start with '..'"))
    return errs


def _mode_errors(mode: int | None, path: tuple) -> list[FieldError]:
    if mode is not None and not 0 <= mode <= 0o777:
        return [invalid(path, mode, FILE_MODE_MSG)]
    return []


def _projection_errors(src: dict, path: tuple, name_field: str) -> list[FieldError]:
    errs = []
    if not src.get(name_field):
        errs.append(required(path + (name_field,)))
    errs += _mode_errors(src.get("defaultMode"), path + ("defaultMode",))
    for i, item in enumerate(src.get("items") or []):
        ip = path + ("items", i)
        if not item.get("key"):
            errs.append(required(ip + ("key",)))
        if not item.get("path"):
            errs.append(required(ip + ("path",)))
        errs += _local_path_errors(item.get("path", ""), ip + ("path",))
        errs += _mode_errors(item.get("mode"), ip + ("mode",))
    return errs


def _resources_errors(res: dict, path: tuple) -> list[FieldError]:
    """ValidateResourceRequirements for cpu and memory: each a Quantity (the decoder's
    ParseQuantity message), not negative (ValidateNonnegativeQuantity), a request not
    above its limit.  Values are shown as written (Go shows Quantity.String())."""
    errs = []
    parsed: dict = {}
    for kind in ("limits", "requests"):
        for rname, q in (res.get(kind) or {}).items():
            if rname not in ("cpu", "memory"):
                continue
            qp = path + (kind, Key(rname))
            try:
                amount = parse_quantity(q)[0]
            except QuantityError as err:
                errs.append(invalid(qp, str(q), str(err)))
                continue
            if amount < 0:
                errs.append(invalid(qp, str(q), "must be greater than or equal to 0"))
            parsed[(kind, rname)] = (amount, str(q))
    for rname in ("cpu", "memory"):
        lim, req = parsed.get(("limits", rname)), parsed.get(("requests", rname))
        if lim and req and lim[0] < req[0]:
            errs.append(invalid(path + ("requests", Key(rname)), req[1],
                                f"must be less than or equal to {rname} limit of {lim[1]}"))
    return errs


def _container_errors(c: dict, path: tuple, volume_names: set[str]) -> list[FieldError]:
    errs = []
    name = c.get("name", "")
    if not name:
        errs.append(required(path + ("name",)))
    else:
        for msg in is_dns1123_label(name):
            errs.append(invalid(path + ("name",), name, msg))
    if not c.get("image"):
        errs.append(required(path + ("image",)))
    errs += _resources_errors(c.get("resources") or {}, path + ("resources",))
    for i, ev in enumerate(c.get("env") or []):
        ep = path + ("env", i)
        ename = ev.get("name", "")
        if not ename:
            errs.append(required(ep + ("name",)))
        else:
            for msg in env_var_name_errors(ename):
                errs.append(invalid(ep + ("name",), ename, msg))
        vf = ev.get("valueFrom")
        if vf is not None:
            sources = [k for k in ("configMapKeyRef", "secretKeyRef", "fieldRef",
                                   "resourceFieldRef", "fileKeyRef") if k in vf]
            if ev.get("value"):
                errs.append(invalid(ep + ("valueFrom",), "", "may not be specified when "
                                    "`value` is not empty"))
            if len(sources) == 0:
                errs.append(invalid(ep + ("valueFrom",), "", "must specify one of: "
                                    "`fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
                                    "`secretKeyRef`"))
            elif len(sources) > 1:
                errs.append(invalid(ep + ("valueFrom",), "", "may not have more than one "
                                    "field specified at a time"))
            for k in ("configMapKeyRef", "secretKeyRef"):
                if k in vf:
                    errs += _key_ref_errors(vf[k], ep + ("valueFrom", k))
            if "fieldRef" in vf:
                errs += object_field_selector_errors(vf["fieldRef"], ENV_FIELD_PATHS,
                                                     ep + ("valueFrom", "fieldRef"))
            if "resourceFieldRef" in vf:
                errs += resource_field_selector_errors(
                    vf["resourceFieldRef"], ep + ("valueFrom", "resourceFieldRef"), False)
    for i, ef in enumerate(c.get("envFrom") or []):
        fp = path + ("envFrom", i)
        refs = [k for k in ("configMapRef", "secretRef") if k in ef]
        if len(refs) != 1:
            # ValidateEnvFrom reports this on the envFrom list itself, not the item
            errs.append(invalid(path + ("envFrom",), "", "must specify one of: "
                                "`configMapRef` or `secretRef`" if not refs else
                                "may not have more than one field specified at a time"))
        for k in refs:
            # validateConfigMapEnvSource / validateSecretEnvSource: Required when empty,
            # else ValidateConfigMapName(name, prefix=true)
            ref_name = ef[k].get("name", "")
            if not ref_name:
                errs.append(required(fp + (k, "name")))
            for msg in (_object_name_errors(ref_name, prefix=True) if ref_name else []):
                errs.append(invalid(fp + (k, "name"), ref_name, msg))
        prefix = ef.get("prefix")
        if prefix:
            for msg in env_var_name_errors(prefix):
                errs.append(invalid(fp + ("prefix",), prefix, msg))
    seen_paths: set[str] = set()
    for i, vm in enumerate(c.get("volumeMounts") or []):
        mp = path + ("volumeMounts", i)
        if not vm.get("name"):
            errs.append(required(mp + ("name",)))
        elif vm["name"] not in volume_names:
            errs.append(FieldError(mp + ("name",), "Not found", vm["name"]))
        mount = vm.get("mountPath", "")
        if not mount:
            errs.append(required(mp + ("mountPath",)))
        elif mount in seen_paths:
            errs.append(invalid(mp + ("mountPath",), mount, "must be unique"))
        elif ".." in mount.split("/"):
            # memlab's own rule, not the API server's: ValidateVolumeMounts accepts any
            # non-empty mountPath and the runtime resolves it inside the container's
            # root (runc: securejoin.SecureJoin); memlab maps it under the pod
            # directory's rootfs/ on the host (memlab/k8s/pod.py mount_components).
            errs.append(invalid(mp + ("mountPath",), mount, "must not contain '..' "
                                "(memlab maps mountPath under the pod directory)"))
        seen_paths.add(mount)
        if vm.get("subPath"):
            # ValidateVolumeMounts: validateLocalDescendingPath(mnt.SubPath) - relative,
            # no '..' component
            errs += _descending_path_errors(vm["subPath"], mp + ("subPath",))
        if vm.get("subPath") and vm.get("subPathExpr"):
            errs.append(invalid(mp + ("subPathExpr",), vm["subPathExpr"],
                                "subPathExpr and subPath are mutually exclusive"))
    return errs


def _downward_file_errors(item: dict, path: tuple) -> list[FieldError]:
    """validateDownwardAPIVolumeFile."""
    errs = []
    if not item.get("path"):
        errs.append(required(path + ("path",)))
    errs += _local_path_errors(item.get("path", ""), path + ("path",))
    if "fieldRef" in item:
        errs += object_field_selector_errors(item["fieldRef"], VOLUME_FIELD_PATHS,
                                             path + ("fieldRef",))
        if "resourceFieldRef" in item:
            errs.append(invalid(path, "resource", "fieldRef and resourceFieldRef can not be "
                                "specified simultaneously"))
    elif "resourceFieldRef" in item:
        errs += resource_field_selector_errors(item["resourceFieldRef"],
                                               path + ("resourceFieldRef",), True)
    else:
        errs.append(required(path, "one of fieldRef and resourceFieldRef is required"))
    errs += _mode_errors(item.get("mode"), path + ("mode",))
    return errs


def _projected_errors(src: dict, path: tuple) -> list[FieldError]:
    """validateProjectedVolumeSource / validateProjectionSources for the sources memlab
    projects.  Quirks kept: "conflicting duplicate paths" and the token's path errors are
    reported on the projected volume's path, not the source's."""
    errs = _mode_errors(src.get("defaultMode"), path + ("defaultMode",))
    all_paths: set[str] = set()

    def seen(p: str, value) -> None:
        if p in all_paths:
            errs.append(invalid(path, value, "conflicting duplicate paths"))
        all_paths.add(p)

    for i, proj in enumerate(src.get("sources") or []):
        sp = path + ("sources", i)
        kinds = [k for k in ("secret", "configMap", "downwardAPI", "serviceAccountToken",
                             "clusterTrustBundle", "podCertificate") if k in proj]
        for k in ("secret", "configMap"):
            if k in proj:
                errs += _projection_errors(proj[k], sp + (k,), "name")
                for item in proj[k].get("items") or []:
                    if item.get("path"):
                        seen(item["path"], proj[k].get("name", ""))
        for j, item in enumerate((proj.get("downwardAPI") or {}).get("items") or []):
            errs += _downward_file_errors(item, sp + ("downwardAPI", "items", j))
            if item.get("path"):
                seen(item["path"], item["path"])
        sat = proj.get("serviceAccountToken")
        if sat is not None:
            exp = sat.get("expirationSeconds", 3600)
            ep = sp + ("serviceAccountToken", "expirationSeconds")
            if exp < 600:
                errs.append(invalid(ep, exp, "may not specify a duration less than 10 "
                                    "minutes"))
            if exp > 1 << 32:
                errs.append(invalid(ep, exp, "may not specify a duration larger than 2^32 "
                                    "seconds"))
            if not sat.get("path"):
                errs.append(required(path + ("path",)))
            else:
                errs += _local_path_errors(sat["path"], path + ("path",))
        if len(kinds) > 1:
            errs.append(forbidden(sp, "may not specify more than 1 volume type per source"))
    return errs


def validate_pod(pod: Pod, template: bool = False) -> list[FieldError]:
    """ValidatePodCreate for what memlab runs; TEMPLATE: a pod template (no name)."""
    errs = [] if template else _meta_errors(pod)
    spec = pod.spec
    volume_names: set[str] = set()
    for i, vol in enumerate(pod.volumes):
        vp = ("spec", "volumes", i)
        name = vol.get("name", "")
        if not name:
            errs.append(required(vp + ("name",)))
        elif name in volume_names:
            errs.append(duplicate(vp + ("name",), name))
        else:
            for msg in is_dns1123_label(name):
                errs.append(invalid(vp + ("name",), name, msg))
        volume_names.add(name)
        if "configMap" in vol:
            errs += _projection_errors(vol["configMap"], vp + ("configMap",), "name")
        if "secret" in vol:
            errs += _projection_errors(vol["secret"], vp + ("secret",), "secretName")
        if "downwardAPI" in vol:
            dp = vp + ("downwardAPI",)
            errs += _mode_errors(vol["downwardAPI"].get("defaultMode"), dp + ("defaultMode",))
            for j, item in enumerate(vol["downwardAPI"].get("items") or []):
                errs += _downward_file_errors(item, dp + ("items", j))
        if "projected" in vol:
            errs += _projected_errors(vol["projected"], vp + ("projected",))
    if not spec.get("containers"):
        errs.append(required(("spec", "containers")))
    names: set[str] = set()
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or []):
            cp = ("spec", group, i)
            errs += _container_errors(c, cp, volume_names)
            if c.get("name") and c["name"] in names:
                errs.append(duplicate(cp + ("name",), c["name"]))
            names.add(c.get("name", ""))
    rp = spec.get("restartPolicy")
    if rp is not None and rp not in ("Always", "OnFailure", "Never"):
        errs.append(FieldError(("spec", "restartPolicy"), "Unsupported value", rp,
                               'supported values: "Always", "OnFailure", "Never"'))
    return errs


def validate_daemonset(ds: DaemonSet) -> list[FieldError]:
    """ValidateDaemonSet for what memlab uses: the name, a selector that matches the
    template's labels, restartPolicy Always, and the template as a Pod (ValidatePodTemplate
    SpecForReplicaSet); paths are the DaemonSet's (spec.template.spec...)."""
    errs = _meta_errors(ds)
    spec = ds.raw.get("spec") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    labels = ((ds.template.get("metadata") or {}).get("labels")) or {}
    if not spec.get("selector"):
        errs.append(required(("spec", "selector")))
    elif not selector and not (spec.get("selector") or {}).get("matchExpressions"):
        errs.append(invalid(("spec", "selector"), "{}", "empty selector is invalid for "
                            "daemonset"))
    elif any(labels.get(k) != v for k, v in selector.items()):
        errs.append(invalid(("spec", "template", "metadata", "labels"), labels,
                            "`selector` does not match template `labels`"))
    rp = (ds.template.get("spec") or {}).get("restartPolicy", "Always")
    if rp != "Always":
        errs.append(FieldError(("spec", "template", "spec", "restartPolicy"),
                               "Unsupported value", rp, 'supported values: "Always"'))
    pod = ds.template_pod(name=ds.name or "template")
    for e in validate_pod(pod, template=True):
        errs.append(FieldError(DaemonSet.TEMPLATE + e.path, e.type, e.value, e.detail))
    return errs


def validate(obj: Manifest) -> list[FieldError]:
    if isinstance(obj, ConfigMap):
        return validate_configmap(obj)
    if isinstance(obj, Secret):
        return validate_secret(obj)
    if isinstance(obj, Pod):
        return validate_pod(obj)
    if isinstance(obj, DaemonSet):
        return validate_daemonset(obj)
    if isinstance(obj, ServiceAccount):
        return _meta_errors(obj)
    raise TypeError(obj)


def pod_warnings(pod: Pod, prefix: tuple = ()) -> list[str]:
    """The API server's warnings for a pod (pkg/api/pod/warnings.go warningsForPodSpec
    AndMeta), for what memlab checks: duplicate env names.  An entry that repeats an
    earlier name warns unless its value refers to the old one (`X=$(X)-suffix`)."""
    out = []
    for group in ("initContainers", "containers"):
        for ci, c in enumerate(pod.spec.get(group) or []):
            seen: set[str] = set()
            for i, ev in enumerate(c.get("env") or []):
                name = ev.get("name", "")
                if name not in seen:
                    seen.add(name)
                    continue
                ref = f"$({name})"
                value = ev.get("value", "")
                bad = ev.get("valueFrom") is not None or value == ref or ref not in value
                if bad:
                    where = FieldError(prefix + ("spec", group, ci, "env", i), "").field
                    out.append(f"{where}: hides previous definition of {_go_value(name)}, "
                               "which may be dropped when using apply")
    return out


def warnings(obj: Manifest) -> list[str]:
    """The API server's warnings for OBJ (a Pod, or a DaemonSet's pod template)."""
    if isinstance(obj, Pod):
        return pod_warnings(obj)
    if isinstance(obj, DaemonSet):
        return pod_warnings(obj.template_pod(name=obj.name or "template"), DaemonSet.TEMPLATE)
    return []


def expand_workloads(docs: list[Manifest]) -> list[Manifest]:
    """Replace each DaemonSet by the Pod its controller would create on this node, after
    checking the DaemonSet (ValidationError).  Other objects pass through."""
    out: list[Manifest] = []
    for d in docs:
        if isinstance(d, DaemonSet):
            check(d)
            out.append(d.template_pod())
        else:
            out.append(d)
    return out


def check(obj: Manifest, old: Manifest | None = None) -> None:
    """Raise ValidationError if the API server would refuse OBJ (as an update of OLD)."""
    errs = validate_update(obj, old) if old is not None else validate(obj)
    if errs:
        raise ValidationError(obj, errs)


def check_all(objs) -> None:
    for o in objs:
        check(o)
