"""What looks like a secret, and how memlab masks it (CLI/JSON show `***` unless --reveal)."""

from __future__ import annotations

import re

MASK = "***"

# Names people give secrets: DB_PASSWORD, API_TOKEN, AWS_SECRET_ACCESS_KEY, GITHUB_PAT ...
_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|(^|_)PASS($|_)|(^|_)PW($|_)|SECRET|TOKEN|CREDENTIAL|PRIVATE|(^|_)KEY$|_KEY_|APIKEY|API_KEY|"
    r"^AWS_|AUTH|SESSION|COOKIE|(^|_)PAT$|DSN|CONN(ECTION)?_?STR",
    re.IGNORECASE,
)
# Values shaped like credentials whatever their name.
_SECRET_VALUE = re.compile(
    r"^eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}$"  # JWT
    r"|^AKIA[0-9A-Z]{16}$"  # AWS access key id
    r"|^gh[pousr]_[A-Za-z0-9]{30,}$"  # GitHub token
    r"|^xox[abposr]-[A-Za-z0-9-]{10,}$"  # Slack token
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@",  # URL with user:password@
)


def looks_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def looks_secret_value(value: str) -> bool:
    return bool(_SECRET_VALUE.search(value))


def looks_secret(name: str, value: str = "") -> bool:
    return looks_secret_name(name) or looks_secret_value(value)


def mask(value: str) -> str:
    return MASK if value else value


def display_value(name: str, value: str, reveal: bool, from_secret: bool = False) -> str:
    """The value to print for env entry (or file) NAME: masked when it looks secret or
    came from a Kubernetes Secret (from_secret), unless reveal."""
    if reveal or not (from_secret or looks_secret(name, value)):
        return value
    return mask(value)


def looks_secret_entry(raw: bytes | str) -> bool:
    s = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
    name, sep, value = s.partition("=")
    return bool(sep) and looks_secret(name, value)


def mask_env_string(s: str) -> str:
    """`NAME=value` -> `NAME=***` (the name stays: it is what teaches)."""
    name, sep, value = s.partition("=")
    return f"{name}{sep}{mask(value)}" if sep else s
