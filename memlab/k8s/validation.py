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
from memlab.k8s.manifests import ConfigMap, Manifest, Pod, Secret

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


def _json_error(data: bytes) -> str | None:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        return str(err)
    if not isinstance(value, dict):  # json.Unmarshal into map[string]interface{}
        return f"json: cannot unmarshal {type(value).__name__} into Go value of type " \
               "map[string]interface {}"
    return None


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

def _key_ref_errors(ref: dict, path: tuple) -> list[FieldError]:
    errs = []
    if not ref.get("name"):
        # an empty name is allowed by the schema but never resolves; the API server
        # requires it for envFrom/keyRefs (validateConfigMapKeySelector).
        errs.append(required(path + ("name",)))
    key = ref.get("key", "")
    if not key:
        errs.append(required(path + ("key",)))
    else:
        for msg in is_config_map_key(key):
            errs.append(invalid(path + ("key",), key, msg))
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
    for i, ef in enumerate(c.get("envFrom") or []):
        fp = path + ("envFrom", i)
        refs = [k for k in ("configMapRef", "secretRef") if k in ef]
        if len(refs) != 1:
            errs.append(invalid(fp, "", "must specify one of: `configMapRef` or `secretRef`"
                                if not refs else
                                "may not have more than one field specified at a time"))
        for k in refs:
            if not ef[k].get("name"):
                errs.append(required(fp + (k, "name")))
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
            errs += _descending_path_errors(vm["subPath"], mp + ("subPath",))
    return errs


def validate_pod(pod: Pod) -> list[FieldError]:
    errs = _meta_errors(pod)
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


def validate(obj: Manifest) -> list[FieldError]:
    if isinstance(obj, ConfigMap):
        return validate_configmap(obj)
    if isinstance(obj, Secret):
        return validate_secret(obj)
    if isinstance(obj, Pod):
        return validate_pod(obj)
    raise TypeError(obj)


def check(obj: Manifest, old: Manifest | None = None) -> None:
    """Raise ValidationError if the API server would refuse OBJ (as an update of OLD)."""
    errs = validate_update(obj, old) if old is not None else validate(obj)
    if errs:
        raise ValidationError(obj, errs)


def check_all(objs) -> None:
    for o in objs:
        check(o)
