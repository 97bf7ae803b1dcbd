"""What looks like a secret, and how memlab masks it (CLI/JSON show `***` unless --reveal).

Three things are recognised:
  - a NAME=value whose name looks secret (DB_PASSWORD, MYSQL_PWD, API_TOKEN ...) or
    whose value is shaped like a credential (a JWT, an AWS key id, a private key ...);
  - an argv flag that carries a secret: `--password=x`, `--db-token x`, `-api-key=x`
    (the value after a separate `--password` argument too);
  - a URL with credentials (`postgres://user:pw@host/db`, `redis://:pw@host`): only the
    password part is masked, the rest teaches where the process connects.
A `Masker` adds the values known to be secret for one process (its secret-looking
environment, its secret argv values, the values kubelet took from a Secret for a pod
memlab ran) and masks each of them wherever it appears: a heap copy, a log buffer, a
search context, the hex view.
"""

from __future__ import annotations

import functools
import re
from typing import Iterable, NamedTuple, Sequence

from memlab.errors import MemlabError
from memlab.procfs._io import read_proc_file

# memlab.model, memlab.procfs.environ and memlab.k8s.podsecrets are imported where they
# are used: `memlab audit` imports this module for its rules and must not load the
# snapshot engine (tests/unit/test_import_hygiene.py).

MASK = "***"

# Names people give secrets: DB_PASSWORD, API_TOKEN, AWS_SECRET_ACCESS_KEY, GITHUB_PAT,
# MYSQL_PWD (mysql's client reads it), PGPASSWORD (libpq) ...  PWD/OLDPWD (the working
# directory) are not: a _PWD suffix is.
_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|(^|_)PASS($|_)|(^|_)PW($|_)|(?<=.)_PWD$|SECRET|TOKEN|"
    r"CREDENTIAL|PRIVATE|(^|_)KEY$|_KEY_|APIKEY|API_KEY|"
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
)
# scheme://[user]:password@host (RFC 3986 userinfo): group 1 is the password.  The user
# may be empty (`redis://:pw@host`, the form redis-cli and Redis URLs use).  Every
# pattern here runs over strings a process chose (up to 128 KiB): none may try a
# long run from each of its positions, hence the bounded scheme and the lookbehinds
# that start a name only where a run of name characters starts.
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://[^/\s:@]*:([^/\s@]+)@")
# An option whose value is a secret, by its last word: --password, --db-pass, --token,
# --api-key, --client-secret, -passphrase (one or two dashes; `--password-file` is not).
_SECRET_FLAG = re.compile(
    r"-{1,2}(?:[A-Za-z0-9]+[-_.])*(?:password|passwd|passphrase|pass|pwd|secret|token|"
    r"api[-_]?key|access[-_]?key|secret[-_]?key|private[-_]?key|key|credentials?|auth)",
    re.IGNORECASE)
_FLAG_WITH_VALUE = re.compile(_SECRET_FLAG.pattern + r"=(.*)", re.IGNORECASE | re.DOTALL)
# NAME=value tokens inside a longer text (a line of a config file in the heap, a shell
# command line): the value ends at white space.
_TOKEN = re.compile(r"(?<![A-Za-z0-9_.-])([A-Za-z_][A-Za-z0-9_.-]*)=([^\s\0]+)")
_LINE_BREAK = re.compile(r"[\n\r]")

# A known secret value shorter than this is not looked for elsewhere (masking every
# "1" or "on" in a hex dump would hide the dump, not a secret); its own entry still is.
MIN_VALUE_LEN = 4
# In memory, a copy of a secret may be partial (a buffer reused, a string cut or copied
# in pieces): any GRAM bytes in a row that also occur in a known secret value are
# masked, so a fragment of a secret shows at most GRAM - 1 of its bytes.
GRAM = 5


def looks_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def looks_secret_value(value: str) -> bool:
    return bool(_SECRET_VALUE.search(value) or _URL_PASSWORD.search(value))


def looks_secret(name: str, value: str = "") -> bool:
    return looks_secret_name(name) or looks_secret_value(value)


def _whole_value_secret(name: str, value: str) -> bool:
    """The whole value is masked: a secret name or a credential-shaped value (a value
    that only holds a URL with a password keeps everything but the password)."""
    return looks_secret_name(name) or bool(_SECRET_VALUE.search(value))


def is_secret_flag(arg: str) -> bool:
    """`--password` and the like: the next argument is a secret."""
    return bool(_SECRET_FLAG.fullmatch(arg))


def mask(value: str) -> str:
    return MASK if value else value


def mask_url_passwords(s: str) -> str:
    """`postgres://app:pw@db/x` -> `postgres://app:***@db/x` (every URL in s)."""
    return _join_masked(s, [m.span(1) for m in _URL_PASSWORD.finditer(s)])


def display_value(name: str, value: str, reveal: bool, from_secret: bool = False) -> str:
    """The value to print for env entry (or file) NAME: masked when it looks secret or
    came from a Kubernetes Secret (from_secret), unless reveal.  A value that is only
    secret because it holds a URL with a password shows the URL, password masked."""
    if reveal:
        return value
    if from_secret or _whole_value_secret(name, value):
        return mask(value)
    return mask_url_passwords(value)


def looks_secret_entry(raw: bytes | str) -> bool:
    s = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
    name, sep, value = s.partition("=")
    return bool(sep) and looks_secret(name, value)


def mask_env_string(s: str) -> str:
    """`NAME=value` -> `NAME=***` (the name stays: it is what teaches); a value that
    only holds a URL with a password keeps the URL, password masked."""
    name, sep, value = s.partition("=")
    return f"{name}{sep}{display_value(name, value, False)}" if sep else s


def mask_command(line: str, reveal: bool = False) -> str:
    """A sample command line as logged: `setenv DB_PASSWORD s3cret` ->
    `setenv DB_PASSWORD ***` (c_samples/sleeper.c: setenv NAME VALUE)."""
    words = line.split(None, 2)
    if len(words) == 3 and words[0] == "setenv":
        return f"setenv {words[1]} {display_value(words[1], words[2], reveal)}"
    return line


# --------------------------------------------------------------------------- spans
def string_spans(s: str) -> list[tuple[int, int]]:
    """[start, end) of every secret part of s, one whole string (an env entry, an argv
    string, a NUL-delimited string read from memory): the value of a secret-looking
    NAME=value (judged on the whole string, then line by line and token by token), the
    value of a `--password=x` flag, the password of a URL.  For bytes, pass
    s.decode("latin-1"): the offsets are then byte offsets."""
    spans: list[tuple[int, int]] = []
    name, sep, value = s.partition("=")
    if sep and _whole_value_secret(name, value):
        spans.append((len(name) + 1, len(s)))
    m = _FLAG_WITH_VALUE.match(s)
    if m:
        spans.append(m.span(1))
    pos = 0
    for line in _LINE_BREAK.split(s) if _LINE_BREAK.search(s) else ():
        name, sep, value = line.partition("=")
        if sep and _whole_value_secret(name, value):
            spans.append((pos + len(name) + 1, pos + len(line)))
        pos += len(line) + 1
    if "=" in s:
        for m in _TOKEN.finditer(s):
            if _whole_value_secret(m.group(1), m.group(2)):
                spans.append(m.span(2))
    if "://" in s:
        spans += [m.span(1) for m in _URL_PASSWORD.finditer(s)]
    return [(a, b) for a, b in spans if b > a]


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, overlapping or touching spans joined."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _join_masked(s: str, spans: Iterable[tuple[int, int]]) -> str:
    """s with each merged span replaced by MASK."""
    out, pos = [], 0
    for a, b in merge_spans(spans):
        out.append(s[pos:a])
        out.append(MASK)
        pos = b
    if not out:
        return s
    out.append(s[pos:])
    return "".join(out)


def argv_secret_indexes(argv: Sequence[str]) -> set[int]:
    """Indexes of argv strings that are wholly a secret: the argument after a separate
    `--password` (unless it is itself an option)."""
    return {i + 1 for i, a in enumerate(argv[:-1])
            if is_secret_flag(a) and not argv[i + 1].startswith("--")}


# --------------------------------------------------------------------------- masker
def _text(raw: bytes) -> str:
    from memlab.model import text  # lazy: see the imports

    return text(raw)


class Masker(NamedTuple):
    """What is secret in one process, to mask in every view of it.

    names: env variables whose value is secret whatever their name (kubelet took them
    from a Secret); values: byte strings masked wherever they appear.  reveal: show
    everything (--reveal, the TUI's `v`)."""

    names: frozenset[str] = frozenset()
    values: frozenset[bytes] = frozenset()
    reveal: bool = False

    # -- building
    @classmethod
    def build(cls, env: Iterable[bytes] = (), argv: Sequence[str] = (), *,
              names: Iterable[str] = (), values: Iterable[bytes] = (),
              reveal: bool = False) -> Masker:
        """The masker for a process with these env strings and argv, plus the names and
        values known from elsewhere (a pod's Secret)."""
        names = frozenset(names)
        found = set(values)
        for raw in env:
            name, sep, value = raw.partition(b"=")
            if not sep or not value:
                continue
            if _text(name) in names:
                found.add(value)
            else:
                found.update(_secret_parts(raw))
        wholly = argv_secret_indexes(argv)
        for i, a in enumerate(argv):
            raw = a.encode("utf-8", "surrogateescape")
            if i in wholly:
                found.add(raw)
            else:
                found.update(_secret_parts(raw))
        return cls(names, frozenset(v for v in found if len(v) >= MIN_VALUE_LEN), reveal)

    @classmethod
    def for_snapshot(cls, snap, reveal: bool = False, *, pods: bool = True) -> Masker:
        """The masker for a Snapshot: its env block (or /proc/PID/environ), its argv and,
        with pods, the Secret values of the memlab pod it belongs to
        (memlab.k8s.podsecrets)."""
        entries = (snap.env.entries if snap.env is not None else snap.proc_environ) or ()
        return cls.for_pid(snap.pid, [e.raw for e in entries], snap.argv, reveal=reveal,
                           pods=pods)

    @classmethod
    def for_pid(cls, pid: int, env: Iterable[bytes] | None = None,
                argv: Sequence[str] | None = None, *, reveal: bool = False,
                pods: bool = True) -> Masker:
        """As for_snapshot; env and argv read from /proc/PID when not given (what the
        kernel refuses is simply not known)."""
        if reveal:
            return cls(reveal=True)
        if env is None or argv is None:
            from memlab.procfs.environ import parse_cmdline, parse_environ  # see imports

            try:
                env = [e.raw for e in parse_environ(read_proc_file(pid, "environ"))] \
                    if env is None else env
            except MemlabError:
                env = ()
            try:
                argv = [_text(a) for a in parse_cmdline(read_proc_file(pid, "cmdline"))] \
                    if argv is None else argv
            except MemlabError:
                argv = ()
        names: frozenset[str] = frozenset()
        values: frozenset[bytes] = frozenset()
        if pods:
            from memlab.k8s.podsecrets import secrets_for_pid  # lazy: see the imports

            names, values = secrets_for_pid(pid)
        return cls.build(env, argv, names=names, values=values)

    # -- showing
    def env_value(self, name: str, value: str, from_secret: bool = False) -> str:
        """An env entry's value as shown."""
        if self.reveal:
            return value
        if from_secret or name in self.names or _whole_value_secret(name, value):
            return mask(value)
        return self.text(value)

    def env_string(self, s: str) -> str:
        """A `NAME=value` string as shown (an envp string, an env entry)."""
        name, sep, value = s.partition("=")
        return f"{name}{sep}{self.env_value(name, value)}" if sep else self.text(s)

    def argv(self, argv: Sequence[str]) -> list[str]:
        """argv as shown: secret flag values, the argument after `--password`, URL
        passwords, NAME=value assignments and known secret values masked."""
        if self.reveal:
            return list(argv)
        wholly = argv_secret_indexes(argv)
        return [mask(a) if i in wholly else self.text(a) for i, a in enumerate(argv)]

    def text(self, s: str) -> str:
        """Any string from the process with its secret parts and every known secret
        value masked."""
        if self.reveal or not s:
            return s
        spans = string_spans(s)
        if self.values:
            spans += _piece_spans(s, *_value_pieces(self.values, True), 0, len(s))
        return _join_masked(s, spans)

    def byte_spans(self, data: bytes, lo: int = 0, hi: int | None = None
                   ) -> list[tuple[int, int]]:
        """[start, end) offsets of the secret bytes of data that overlap data[lo:hi]:
        every NUL-delimited string overlapping the window is judged whole
        (string_spans), and every known value is found wherever it lies, in whole or
        in pieces of GRAM bytes or more.  data should
        reach past the window on both sides (a few KiB) so that the strings cut by the
        window are seen whole."""
        if self.reveal:
            return []
        hi = len(data) if hi is None else hi
        first = data.rfind(b"\0", 0, lo) + 1
        last = data.find(b"\0", hi)
        last = len(data) if last < 0 else last
        spans: list[tuple[int, int]] = []
        pos = first
        while pos <= last:
            end = data.find(b"\0", pos, last)
            end = last if end < 0 else end
            if end > pos:
                spans += [(pos + a, pos + b)
                          for a, b in string_spans(data[pos:end].decode("latin-1"))]
            pos = end + 1
        if self.values:
            spans += _piece_spans(data, *_value_pieces(self.values, False), lo, hi)
        return [(a, b) for a, b in merge_spans(spans) if b > lo and a < hi]


@functools.lru_cache(maxsize=16)
def _value_pieces(values: frozenset[bytes], as_text: bool
                  ) -> tuple[frozenset, frozenset]:
    """(the values shorter than GRAM, every GRAM-long piece of the longer ones), as
    bytes or as text.  Sets: looking up each position of a string costs the same for
    a hundred thousand secret values as for one."""
    vals = {_text(v) for v in values} if as_text else set(values)
    short = frozenset(v for v in vals if len(v) < GRAM)
    grams = frozenset(v[i:i + GRAM] for v in vals for i in range(len(v) - GRAM + 1))
    return short, grams


def _piece_spans(data, short: frozenset, grams: frozenset, lo: int, hi: int
                 ) -> list[tuple[int, int]]:
    """Spans of data (bytes or str) that are a short value or a GRAM-long piece of a
    longer one, overlapping data[lo:hi]."""
    spans = []
    for n in {len(v) for v in short} | ({GRAM} if grams else set()):
        pieces = grams if n == GRAM else short
        for at in range(max(0, lo - n + 1), min(hi, len(data) - n + 1)):
            if data[at:at + n] in pieces:
                spans.append((at, at + n))
    return spans


def _secret_parts(raw: bytes) -> set[bytes]:
    """The secret byte strings inside one env or argv string (string_spans)."""
    s = raw.decode("latin-1")
    return {raw[a:b] for a, b in string_spans(s)}
