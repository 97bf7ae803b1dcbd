"""The checks a lesson can ask for: named predicates over what memlab measured.

A lesson file names a check and gives its parameters; a parameter written as
"$name.path" is a measurement (resolved by the engine before the check runs), anything
else is a literal.  Every check returns a Verdict that carries the MEASURED value, so a
learner (and CI) sees not only "fail" but what memlab actually found.

Adding a check: decorate a function `fn(a: Args) -> Verdict` with @check(name, params,
optional).  tests/lessons/test_checks.py iterates over CHECKS and insists on a case that
makes every check fail, so a check that cannot fail cannot ship.
"""

from __future__ import annotations

import operator
import re
import re._constants as re_constants  # 3.11+: sre_parse's successor (loaded by re)
import re._parser as re_parser
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from memlab.kernel.abi import PAGE_SIZE, page_up
from memlab.lessons.words import (ACTIONS, CHANNEL, PATH_WORDS, PHRASES, SOURCES, WHO,
                                  table, word)
from memlab.secrets import Masker, display_value, looks_secret_name

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class Verdict:
    status: str  # PASS / FAIL / SKIP
    measured: str  # what memlab found, as the learner should read it
    expected: str = ""  # what the check wanted
    # the kernel's own text behind `measured` (a maps line, a stat field, bytes): shown
    # beside the verdict (memlab.lessons.evidence)
    source: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def to_dict(self) -> dict[str, str]:
        return {"status": self.status, "measured": self.measured, "expected": self.expected}


def verdict(ok: bool, measured: str, expected: str = "") -> Verdict:
    return Verdict(PASS if ok else FAIL, measured, expected)


class Args:
    """A check's parameters: resolved values by name, and the text the lesson wrote
    for each (so `$p.env.start` can be shown next to its value)."""

    def __init__(self, values: Mapping[str, Any], labels: Mapping[str, Any],
                 lang: str = "en"):
        self._values = dict(values)
        self._labels = dict(labels)
        self.lang = lang  # the words of the verdict (memlab.lessons.words)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)

    def has(self, name: str) -> bool:
        return name in self._values

    def label(self, name: str) -> str:
        raw = self._labels.get(name, name)
        if isinstance(raw, list):  # each measurement by where it comes from
            return "[" + ", ".join(self.labels(name)) + "]"
        return raw.lstrip("\0") if isinstance(raw, str) else fmt(raw)

    def is_measured(self, name: str) -> bool:
        raw = self._labels.get(name)
        return isinstance(raw, str) and raw.startswith(("\0", "$"))

    def show(self, name: str, value: Any = None) -> str:
        """"$p.env.start = 0x7ff..." for a measurement, just the value for a literal."""
        value = self._values.get(name) if value is None else value
        raw = self._labels.get(name)
        if isinstance(raw, list) and isinstance(value, list) and len(raw) == len(value) \
                and any(isinstance(r, str) and r.startswith("\0") for r in raw):
            # a list of measurements: each by where it comes from
            return "; ".join(Args({"v": v}, {"v": r}).show("v") for r, v in zip(raw, value))
        if isinstance(raw, str) and raw.startswith("\0"):  # a measurement, described
            raw = raw[1:]
            last = re.split(r"[\s./:]", raw)[-1]
            if isinstance(value, str) and not _reveal and looks_secret_name(last):
                return f"{raw} = {display_value(last, value, False)}"
            return f"{raw} = {fmt(value)}"
        return fmt(value)

    def labels(self, name: str) -> list[str]:
        raw = self._labels.get(name, [])
        return [describe_ref(r, lang=self.lang).lstrip("\0") if isinstance(r, str) else fmt(r)
                for r in raw]


@dataclass(frozen=True)
class CheckSpec:
    name: str
    fn: Callable[[Args], Verdict]
    params: tuple[str, ...]  # required
    optional: tuple[str, ...]
    doc: str
    # what is wrong with the literal parameters a lesson file gives, checked when the
    # file is loaded (None: anything goes)
    literal_problem: Callable[[dict[str, Any]], str | None] | None = None

    @property
    def all_params(self) -> tuple[str, ...]:
        return self.params + self.optional


CHECKS: dict[str, CheckSpec] = {}


def check(name: str, params: Iterable[str], optional: Iterable[str] = (),
          literal_problem: Callable[[dict[str, Any]], str | None] | None = None):
    def register(fn: Callable[[Args], Verdict]) -> Callable[[Args], Verdict]:
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        CHECKS[name] = CheckSpec(name, fn, tuple(params), tuple(optional), doc,
                                 literal_problem)
        return fn
    return register


# --------------------------------------------------------------------------- display
_reveal = False


def revealed() -> bool:
    return _reveal


# Where a measurement comes from and what a check asks, in words: the tables live in
# memlab.lessons.words, one per language (describe_ref / describe_check take `lang`).
# a lesson's reference to a measurement: "$name.path.to.value"
REF_RE = re.compile(r"^\$([A-Za-z_][\w-]*)((?:\.[^.\s]+)*)$")


def key_length(container: Any, parts: list[str]) -> int:
    """How many of PARTS make the longest key CONTAINER has: a key may itself contain
    dots ("/etc/app/settings.conf", "key.p12") although a reference splits it there.
    0 when none does."""
    if isinstance(container, Mapping):
        for j in range(len(parts), 0, -1):
            if ".".join(parts[:j]) in container:
                return j
    return 0


def _longest_key(container: Any, parts: list[str]) -> tuple[str, list[str]]:
    """The key a dotted path starts with (key_length), else its first part."""
    n = key_length(container, parts) or min(1, len(parts))
    return ".".join(parts[:n]), parts[n:]


def _keys(container: Any, parts: list[str]) -> list[str]:
    """A dotted rest of a path split into the keys it walks ("data_hex", "key.p12")."""
    out: list[str] = []
    while parts:
        key, parts = _longest_key(container, parts)
        out.append(key)
        container = container.get(key) if isinstance(container, Mapping) else None
    return out


def _words(parts: list[str], lang: str = "en") -> str:
    words = table(PATH_WORDS, lang)
    out: list[str] = []
    for part in parts:
        if part.lstrip("-").isdigit() and part not in words:
            out.append(f"[{part}]")
        elif part in words:
            if words[part]:
                out.append(words[part])
        else:
            out.append(part)
    return " ".join(out)


def _join(src: str, rest: str) -> str:
    if not rest:
        return src.rstrip(":")
    if rest.startswith("("):
        return f"{src.rstrip(':')} {rest}"
    return f"{src} {rest}" if src.endswith(":") else f"{src}: {rest}"


def describe_ref(value: Any, measurements: Mapping[str, Any] | None = None,
                 made_by: Mapping[str, str] | None = None, lang: str = "en") -> Any:
    """A "$name.path" parameter as the learner should read it (a \\0 in front marks it
    as a measurement for Args.show), also inside a list; anything else unchanged.
    `made_by` (save name -> action) picks the words for what that action measured;
    `lang` the language of those words (memlab.lessons.words)."""
    if isinstance(value, list):
        return [describe_ref(v, measurements, made_by, lang) for v in value]
    if not isinstance(value, str):
        return value
    m = REF_RE.match(value)
    if not m:
        return value
    root, parts = m.group(1), [p for p in m.group(2).split(".") if p]
    meas = (measurements or {}).get(root)
    meas = meas if isinstance(meas, Mapping) else {}
    pid = meas.get("pid") if isinstance(meas.get("pid"), int) else "PID"
    action = (made_by or {}).get(root)
    if not parts:
        return "\0" + word(lang, "what_measured", who=action or "memlab", root=root)
    head = parts[0]
    own = meas.get("_sources")
    if isinstance(own, Mapping) and isinstance(own.get(head), str):
        # an action that names its own sources (k8s_exec: "`env` via runc exec:")
        return "\0" + _join(own[head], _words(parts[1:], lang))
    if isinstance(own, Mapping) and isinstance(own.get(head), (list, tuple)) \
            and len(own[head]) == 2 and isinstance(own[head][1], Mapping):
        # the same, in memlab.lessons.words: [word, its fields] (a field naming a word
        # itself, "how": "how_runc", is that word)
        name, fields = own[head]
        fields = {k: word(lang, v) if isinstance(v, str) and v.startswith("how_") else v
                  for k, v in fields.items()}
        return "\0" + _join(word(lang, name, **fields), _words(parts[1:], lang))
    tmpls = table(ACTIONS, lang).get(action or "", table(SOURCES, lang))
    if action == "exposure" and head == "rows" and len(parts) >= 3:
        who, channel = parts[1], parts[2]
        src = word(lang, "exposure", who=table(WHO, lang).get(who, who.replace("_", " ")),
                   channel=table(CHANNEL, lang).get(channel, channel))
        return "\0" + _join(src, _words(parts[3:], lang))
    if action in ("k8s_run", "k8s_apply") and head == "results" and len(parts) >= 5 \
            and parts[2] == "env_drift":
        return "\0" + word(lang, "pod_drift", save=root, key=parts[3],
                            rest=_words(parts[4:], lang))
    tmpl = tmpls.get(head) or tmpls.get("*")
    if tmpl is None:  # no action known: the path as words
        return "\0" + _join(root, _words(parts, lang))
    key, rest = _longest_key(meas.get(head), parts[1:]) if "{key}" in tmpl \
        else ("", parts[1:])
    rest = _keys(meas.get(head) if not key else (meas.get(head) or {}).get(key), rest)
    tail = ""
    if "{tail}" in tmpl:
        tail, rest = "/".join(rest), []
    dumpable = meas.get("dumpable")
    fields = {"pid": pid, "save": root, "head": head, "key": key, "tail": tail,
              "crash": word(lang, "crash", dumpable=word(lang, "unchanged")
                            if dumpable is None else dumpable,
                            rlimit=meas.get("rlimit_core", "?")),
              "runs": meas.get("runs", word(lang, "runs_the")), "uid": meas.get("uid", "?"),
              "target_pid": meas.get("target_pid", "PID")}
    src = tmpl.format(**fields)
    if head == "stat" and len(rest) == 1:  # a field of the kernel's line: "stat env_start"
        return "\0" + f"{src} {rest[0]}"
    return "\0" + _join(src, _words(rest, lang))


def describe_check(name: str, params: Mapping[str, Any], say: str | None = None,
                   measurements: Mapping[str, Any] | None = None,
                   made_by: Mapping[str, str] | None = None, lang: str = "en") -> str:
    """What a check asks, in words: its `say`, else a sentence built from its
    measurements' sources and literals ("pod v: /etc/config/LOG_LEVEL is DEBUG"),
    never the call syntax name(param=...)."""
    if say:
        return say

    def plain(v: Any) -> str:
        d = describe_ref(v, measurements, made_by, lang)
        if isinstance(d, list):
            return "[" + ", ".join(plain(x) for x in v) + "]"
        if isinstance(d, str) and d.startswith("\0"):
            return d[1:]
        return fmt(d)

    shown = {k: plain(v) for k, v in params.items()}
    value, expected = params.get("value"), params.get("expected")
    if name == "equals" and isinstance(value, list) and isinstance(expected, list) \
            and len(value) == len(expected):  # pairwise: "a is x, b is y"
        return ", ".join(word(lang, "pairwise_is", value=plain(v), expected=plain(e))
                         for v, e in zip(value, expected))
    if name == "ordered" and isinstance(params.get("values"), list):
        shown["values"] = " < ".join(plain(v) for v in params["values"])
    phrase = table(PHRASES, lang).get(name)
    try:
        return phrase.format(**shown) if phrase else \
            f"{name}: " + "; ".join(shown.values())
    except KeyError:  # a parameter the phrase needs is missing: list what there is
        return f"{name}: " + "; ".join(shown.values())


def set_reveal(reveal: bool) -> None:
    """Show secret-looking values in verdicts (the CLI's --reveal); masked by default."""
    global _reveal
    _reveal = bool(reveal)


def _masked(s: str) -> str:
    """Each NUL-separated part with its secrets masked: NAME=value, --password=x, a
    URL's password (memlab.secrets)."""
    if _reveal:
        return s

    masker = Masker()
    return "\0".join(masker.text(part) for part in s.split("\0"))


def fmt(value: Any) -> str:
    """A measured value as a learner reads it: big ints (addresses) in hex, values of
    secret-looking variables masked (memlab.secrets) unless set_reveal(True)."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "none"}[value]
    if isinstance(value, int):
        return f"0x{value:x}" if abs(value) > 0xFFFF else str(value)
    if isinstance(value, bytes):
        return repr(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(fmt(v) for v in list(value)[:8])
        more = f", ... ({len(value)} items)" if len(value) > 8 else ""
        return f"[{inner}{more}]"
    if isinstance(value, dict):
        if "start" in value and "end" in value and "path" in value:
            return f"{value.get('path') or '(anonymous)'} {fmt(value['start'])}-{fmt(value['end'])}"
        keys = list(value)[:6]
        shown = [f"{k}: " + (display_value(str(k), v, _reveal) if isinstance(v, str)
                             else fmt(v)) for k, v in ((k, value[k]) for k in keys)]
        return "{" + ", ".join(shown) + (", ..." if len(value) > 6 else "") + "}"
    if isinstance(value, str):
        return _masked(value).replace("\0", "\\0")
    return str(value)


def _num(value: Any) -> int | float:
    """Ints stay ints; "0x.."/decimal strings become ints; anything else is an error."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        return int(value, 0)
    raise TypeError(f"not a number: {fmt(value)}")


def _region_label(r: Mapping[str, Any]) -> str:
    return f"{r.get('path') or '(anonymous)'} {fmt(r['start'])}-{fmt(r['end'])}"


def _region_at(regions: Iterable[Mapping[str, Any]], addr: int) -> Mapping[str, Any] | None:
    for r in regions:
        if r["start"] <= addr < r["end"]:
            return r
    return None


def _has(container: Any, item: Any) -> bool:
    if isinstance(container, (bytes, bytearray)):
        return (item.encode() if isinstance(item, str) else item) in container
    if isinstance(container, str):
        return str(item) in container
    if isinstance(container, Mapping):
        return item in container
    return item in list(container)


# --------------------------------------------------------------------------- checks
@check("equals", ["value", "expected"])
def _equals(a: Args) -> Verdict:
    """value == expected (numbers compare by value: 0x10 equals 16)."""
    v, e = a["value"], a["expected"]
    try:
        same = _num(v) == _num(e) if not isinstance(v, bool) and not isinstance(e, bool) \
            else v == e
    except (TypeError, ValueError):
        same = v == e
    shown = a.show("value") + (f"; {a.show('expected')}" if a.is_measured("expected")
                               else "")
    return verdict(same, shown, fmt(e))


@check("differs", ["value", "other"])
def _differs(a: Args) -> Verdict:
    """value != other: something changed (or two runs disagree)."""
    v, o = a["value"], a["other"]
    return verdict(v != o, f"{a.show('value')}; {a.show('other')}",
                   word(a.lang, "want_different"))


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}


@check("compare", ["left", "op", "right"])
def _compare(a: Args) -> Verdict:
    """left OP right, OP one of < <= > >= == != (numbers, addresses)."""
    op = a["op"]
    if op not in _OPS:
        return verdict(False, f"unknown operator {op!r}", " ".join(_OPS))
    left, right = _num(a["left"]), _num(a["right"])
    return verdict(_OPS[op](left, right),
                   f"{a.show('left', left)}; {a.show('right', right)}",
                   f"{a.label('left')} {op} {a.label('right')}")


@check("between", ["value", "low", "high"])
def _between(a: Args) -> Verdict:
    """low <= value < high."""
    v, lo, hi = _num(a["value"]), _num(a["low"]), _num(a["high"])
    return verdict(lo <= v < hi, f"{a.label('value')} = {fmt(v)}",
                   word(a.lang, "want_between", low=fmt(lo), high=fmt(hi)))


@check("in_region", ["address", "regions", "region"])
def _in_region(a: Args) -> Verdict:
    """address lies inside the mapping whose path (or kind) is `region`, e.g. "[stack]"."""
    addr, name = _num(a["address"]), a["region"]
    r = _region_at(a["regions"], addr)
    where = _region_label(r) if r else word(a.lang, "no_mapping")
    ok = r is not None and name in (r.get("path"), r.get("kind"))
    return verdict(ok, word(a.lang, "in_region", label=a.label("address"), address=fmt(addr),
                            where=where), word(a.lang, "want_inside", region=name))


@check("same_region", ["a", "b", "regions"])
def _same_region(a: Args) -> Verdict:
    """Two addresses lie in the same mapping (one line of /proc/PID/maps)."""
    x, y = _num(a["a"]), _num(a["b"])
    rx, ry = _region_at(a["regions"], x), _region_at(a["regions"], y)
    lx = _region_label(rx) if rx else word(a.lang, "unmapped")
    ly = _region_label(ry) if ry else word(a.lang, "unmapped")
    return verdict(rx is not None and rx is ry,
                   word(a.lang, "same_region", a=a.label("a"), x=fmt(x), where_a=lx,
                        b=a.label("b"), y=fmt(y), where_b=ly),
                   word(a.lang, "want_same_mapping"))


@check("contains", ["container", "item"])
def _contains(a: Args) -> Verdict:
    """item is in container (a list, a dict's keys, a string or bytes)."""
    c, i = a["container"], a["item"]
    return verdict(_has(c, i), _membership(a, c, i), word(a.lang, "want_contains", item=fmt(i)))


def _membership(a: Args, c: Any, i: Any) -> str:
    found = _has(c, i)
    if isinstance(c, (str, bytes, bytearray)):
        hay = c if isinstance(c, str) else c.decode("latin-1")
        if found:
            return word(a.lang, "holds_at", label=a.label("container"), n=len(hay),
                        item=repr(str(i)), at=hay.find(str(i)))
        return word(a.lang, "not_holds", label=a.label("container"), n=len(hay),
                    item=repr(str(i)))
    if isinstance(c, (list, tuple, dict)) and len(c) > 8:
        return word(a.lang, "one_of" if found else "not_one_of", label=a.label("container"),
                    n=len(c), item=fmt(i))
    return f"{a.show('container', c)}"


@check("lacks", ["container", "item"])
def _lacks(a: Args) -> Verdict:
    """item is NOT in container."""
    c, i = a["container"], a["item"]
    return verdict(not _has(c, i), _membership(a, c, i),
                   word(a.lang, "want_lacks", item=fmt(i)))


@check("length", ["value", "expected"])
def _length(a: Args) -> Verdict:
    """len(value) == expected."""
    v = a["value"]
    n = len(v)
    return verdict(n == _num(a["expected"]), f"len({a.label('value')}) = {n} ({fmt(v)})",
                   str(a["expected"]))


@check("ordered", ["values"])
def _ordered(a: Args) -> Verdict:
    """values strictly increase, in the order listed (addresses from low to high)."""
    vals = [_num(v) for v in a["values"]]
    labels = a.labels("values") or [str(i) for i in range(len(vals))]
    pairs = list(zip(labels, vals))
    bad = [f"{pairs[i][0]} >= {pairs[i + 1][0]}" for i in range(len(pairs) - 1)
           if not pairs[i][1] < pairs[i + 1][1]]
    shown = " < ".join(f"{lab}={fmt(v)}" for lab, v in pairs)
    return verdict(not bad, shown if not bad else word(a.lang, "out_of_order", shown=shown,
                                                       bad=", ".join(bad)),
                   word(a.lang, "want_increasing"))


@check("distinct", ["values"], ["at_least", "at_most"])
def _distinct(a: Args) -> Verdict:
    """The number of distinct values is within [at_least, at_most] (ASLR varies bases)."""
    vals = list(a["values"])
    n = len(set(map(repr, vals)))
    lo, hi = a.get("at_least"), a.get("at_most")
    ok = (lo is None or n >= _num(lo)) and (hi is None or n <= _num(hi))
    want = " and ".join(x for x in (f">= {lo}" if lo is not None else "",
                                    f"<= {hi}" if hi is not None else "") if x)
    return verdict(ok, word(a.lang, "distinct_of", n=n, total=len(vals), values=fmt(vals)),
                   word(a.lang, "want_distinct", want=want))


@check("page_aligned", ["value"])
def _page_aligned(a: Args) -> Verdict:
    """value is a multiple of the page size (4096)."""
    v = _num(a["value"])
    return verdict(v % PAGE_SIZE == 0, f"{a.label('value')} = {fmt(v)} (mod 4096 = {v % PAGE_SIZE})",
                   word(a.lang, "want_page"))


@check("page_align_of", ["value", "of"])
def _page_align_of(a: Args) -> Verdict:
    """value == PAGE_ALIGN(of): the next page boundary at or above `of`."""
    v, o = _num(a["value"]), _num(a["of"])
    aligned = page_up(o)
    return verdict(v == aligned, word(a.lang, "page_align_diff", label=a.label("value"),
                                      value=fmt(v), of=a.label("of"), aligned=fmt(aligned),
                                      diff=fmt(v - aligned)), fmt(aligned))


# --------------------------------------------------------------------------- regexes
# A lesson's `matches` pattern is anyone's text, and Python's re backtracks: `^(a+)+$`
# takes exponential time on "aaaa...b", two adjacent `\d*\d*` a cubic one.  memlab
# accepts only patterns whose backtracking is bounded (FORMAT.md "Limits"): at most one
# variable repetition (`*`, `+`, `{m,n}`), nothing variable inside it (no nested
# repetition, no alternation, no `?`), at most MAX_OPTIONAL `?`, no backreferences; the
# pattern and the text it is matched against have length limits.
MAX_PATTERN = 256
MAX_SUBJECT = 4096
MAX_OPTIONAL = 4


def _regex_parser():
    return re_parser, re_constants


def pattern_problem(pattern: Any) -> str | None:
    """None when PATTERN is a regular expression memlab will match, else why not."""
    if not isinstance(pattern, str):
        return f"pattern must be a string, not {fmt(pattern)}"
    if len(pattern) > MAX_PATTERN:
        return f"pattern is {len(pattern)} characters; at most {MAX_PATTERN}"
    parser, c = _regex_parser()
    try:
        parsed = parser.parse(pattern)
    except (re.error, RecursionError, OverflowError) as err:
        return f"pattern is not a regular expression: {err}"
    counts = {"repeat": 0, "optional": 0}
    repeat_ops = (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None))

    def walk(items, inside: bool) -> str | None:
        for op, av in items:
            if op in repeat_ops:
                lo, hi, body = av
                variable = lo != hi
                if variable and hi == 1 and not inside:  # x? outside a repetition
                    counts["optional"] += 1
                    if counts["optional"] > MAX_OPTIONAL:
                        return f"more than {MAX_OPTIONAL} optional parts (?)"
                elif variable:
                    if inside:
                        return "a repetition inside a repetition (like (a+)+)"
                    counts["repeat"] += 1
                    if counts["repeat"] > 1:
                        return ("more than one variable repetition (*, +, {m,n}); "
                                "memlab allows one per pattern")
                why = walk(body, inside or hi > 1)  # (a+){10} repeats a+ too
            elif op is c.BRANCH:
                if inside:
                    return "an alternation (|) inside a repetition"
                why = next(filter(None, (walk(b, inside) for b in av[1])), None)
            elif op is c.SUBPATTERN:
                why = walk(av[-1], inside)
            elif op in (c.ASSERT, c.ASSERT_NOT):
                why = walk(av[1], inside)
            elif op is getattr(c, "ATOMIC_GROUP", None):
                why = walk(av, inside)
            elif op in (c.GROUPREF, c.GROUPREF_EXISTS, getattr(c, "GROUPREF_IGNORE", None)):
                return "a backreference (\\1, (?P=name), (?(1)...))"
            else:
                why = None
            if why:
                return why
        return None

    return walk(parsed, False)


def _literal_pattern(params: dict[str, Any]) -> str | None:
    pattern = params.get("pattern")
    if isinstance(pattern, str) and pattern.startswith("$"):
        return None  # a measurement: checked when the lesson runs
    return pattern_problem(pattern)


@check("matches", ["value", "pattern"], literal_problem=_literal_pattern)
def _matches(a: Args) -> Verdict:
    """The value (as text) matches a regular expression (one memlab's rules allow)."""
    v = a["value"]
    s = v.decode("latin-1") if isinstance(v, bytes) else str(v)
    pattern = a["pattern"]
    why = pattern_problem(pattern)
    if why:
        return verdict(False, why, "a pattern memlab matches (FORMAT.md, Limits)")
    if len(s) > MAX_SUBJECT:
        return verdict(False, f"{a.label('value')} is {len(s)} characters; `matches` looks "
                       f"at most {MAX_SUBJECT}", f"matches /{pattern}/")
    # shown as show() shows it: the value of a secret-looking name masked, like the
    # kernel's line beside it
    return verdict(re.search(pattern, s) is not None, a.show("value", s),
                   f"matches /{pattern}/")
