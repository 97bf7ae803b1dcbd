"""The environment a launched program gets: the `K=V` byte strings execve receives,
built from memlab's own environment (or none, -i), env files and -e assignments.

Byte-exact (non-UTF-8 values, entries without '=' pass through), O(n) in the number of
entries, and never quoting a value in an error message (a value may be a secret).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from memlab.errors import UsageError
from memlab.inputfile import ENV_FILE, read_input


def _entry_name(entry: bytes) -> bytes:
    return entry.split(b"=", 1)[0]


def _set_entry(env: list[bytes], entry: bytes, index: dict[bytes, int]) -> None:
    """Replace the first entry with the same name in place, else append.  `index` maps
    a name to the position of its first entry in `env` (kept up to date here), so a
    100,000-line env file costs O(n), not O(n^2)."""
    name = _entry_name(entry)
    i = index.get(name)
    if i is not None:
        env[i] = entry
        return
    index[name] = len(env)
    env.append(entry)


def base_entries(base: Mapping | None) -> list[bytes]:
    if base is None:
        return [k + b"=" + v for k, v in os.environb.items()]
    return [os.fsencode(k) + b"=" + os.fsencode(v) for k, v in base.items()]


def shown_name(raw: bytes, limit: int = 60) -> str:
    """The NAME of an entry for an error message, never its value (a value may be a
    secret, memlab.secrets): non-UTF-8 bytes as \\xNN, control characters escaped,
    cut to `limit` characters (a binary file given as --env-file must not flood the
    terminal)."""
    name = raw.split(b"=", 1)[0]
    text = name[:limit].decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text + ("..." if len(name) > limit else "")


def _assignment(item: str | bytes, base: Mapping | None, where: str) -> bytes:
    """`K=V` as bytes; a bare `K` takes K's value from the base environment (like
    `docker run -e K`).  Unlike docker, a bare K that is not set there is an error,
    not silently dropped: a lesson should not lose a variable without saying so."""
    raw = os.fsencode(item)
    if b"\0" in raw:
        raise UsageError(f"{where}: an environment entry cannot contain a NUL byte")
    if b"=" in raw:
        if raw.startswith(b"="):
            raise UsageError(f"{where}: an entry starts with '=': empty variable name "
                             f"(its {len(raw) - 1}-byte value is not shown)")
        return raw
    if not raw:
        raise UsageError(f"{where}: empty variable name")
    src = os.environb if base is None else {os.fsencode(k): os.fsencode(v)
                                            for k, v in base.items()}
    if raw not in src:
        raise UsageError(f"{where}: {shown_name(raw)} has no value and is not set in "
                         "memlab's environment (write NAME=VALUE)")
    return raw + b"=" + src[raw]


def read_env_file(path: str, base: Mapping | None = None) -> list[bytes]:
    """The entries of a docker-style env file, byte-exact: one NAME=VALUE per line, the
    value taken literally (no quotes removed, spaces kept), blank lines and lines whose
    first non-blank character is '#' skipped, a bare NAME taken from the base env."""
    data = read_input(path, ENV_FILE)
    out = []
    for lineno, line in enumerate(data.split(b"\n"), 1):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip() or line.lstrip().startswith(b"#"):
            continue
        out.append(_assignment(line, base, f"{path}:{lineno}"))
    return out


def build_env(assignments: Iterable[str | bytes] = (), env_files: Iterable[str] = (),
              clear: bool = False, base: Mapping | None = None) -> list[bytes]:
    """The environment for launch(), as the list of `K=V` byte strings execve receives.

    Starts empty with `clear` (-i), else from `base` (default: memlab's own environment,
    in its order).  Then every --env-file in order, then every -e in order: a name
    already present is replaced in place (its position kept), a new name is appended.
    """
    env = [] if clear else base_entries(base)
    index: dict[bytes, int] = {}
    for i, entry in enumerate(env):
        index.setdefault(_entry_name(entry), i)
    for path in env_files:
        for entry in read_env_file(path, base):
            _set_entry(env, entry, index)
    for item in assignments:
        name = shown_name(os.fsencode(item))
        _set_entry(env, _assignment(item, base, f"-e {name!r}" if name else "-e"), index)
    return env
