"""Strings from a process are data, never terminal control.

An env name or value, an argv string, comm or a mapped path is chosen by whoever started
the process.  Printed raw, `ESC ] 52 ; c ; ...` writes the reader's clipboard and
`ESC [ 2J` clears the screen: rich passes ESC through (it strips only BEL, BS, VT, FF and
CR), and so does Textual, so memlab escapes every C0/C1 control character and DEL as
`\\xNN` before such a string becomes a rich Text, a Textual widget or a printed line.
JSON: json.dumps escapes C0 itself, but with ensure_ascii=False it writes DEL and the C1
controls (U+0080-U+009F; a UTF-8 xterm obeys U+009B as CSI) as they are: `json_text`.
A string cut to a column width is escaped first, then cut, never inside an escape: `fit`.

The Unicode bidirectional controls are escaped too, as \\uNNNN: an override (U+202E
RIGHT-TO-LEFT OVERRIDE) or isolate in a name makes the terminal draw the text after it
in another order than the bytes ("Trojan Source", CVE-2021-42574): U+202A-U+202E
embeddings/overrides, U+2066-U+2069 isolates, U+200E/U+200F marks, U+061C ARABIC
LETTER MARK (Unicode Standard Annex #9, "Explicit Directional Formatting Characters").
"""

from __future__ import annotations

import re

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_CONTROL_BUT_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI}]")
_JSON_UNESCAPED = re.compile(f"[\x7f-\x9f{_BIDI}]")


def _escape(ch: str) -> str:
    n = ord(ch)
    return f"\\x{n:02x}" if n <= 0xff else f"\\u{n:04x}"


def _hex(m: re.Match) -> str:
    return _escape(m.group())


def printable(s: str) -> str:
    """s with each control character shown as \\xNN (tab and newline too: one value
    stays on one line of a table)."""
    return _CONTROL.sub(_hex, s)


def printable_lines(s: str) -> str:
    """printable(s), except that newlines stay: for text of several lines that has
    process strings in it (a lesson step with its measurements, a file's content)."""
    return _CONTROL_BUT_NEWLINE.sub(_hex, s)


def fit(s: str, width: int) -> str:
    """printable(s) in at most width characters: unchanged when it fits, else cut with
    "…" as its last character.  The cut never splits an escape: a control character
    shows as its whole \\xNN (\\uNNNN) or not at all (an "\\x1" could be read as
    another byte).
    width 1 gives "…"; width 0 or less gives "" (nothing fits, not even the mark)."""
    shown = printable(s)
    if len(shown) <= width:
        return shown
    if width <= 0:
        return ""
    room, used, cut = width - 1, 0, 0
    for ch in s:  # the original characters: an escape's columns for a control, else 1
        w = len(_escape(ch)) if _CONTROL.match(ch) else 1
        if used + w > room:
            break
        used += w
        cut += 1
    return printable(s[:cut]) + "…"


def fit_middle(s: str, width: int) -> str:
    """Like fit, but cut from the middle: a long path keeps its start and its whole file
    name where the width allows ("/usr/l…/libc.so.6").  Escapes are never split."""
    shown = printable(s)
    if len(shown) <= width:
        return shown
    if width <= 1:
        return fit(s, width)
    pieces = [_escape(ch) if _CONTROL.match(ch) else ch for ch in s]
    tail_room = (width - 1) // 2 + (width - 1) % 2
    name = printable("/" + s.rsplit("/", 1)[1]) if "/" in s else ""
    if tail_room < len(name) <= width - 3:  # the whole "/file name", and 2 of the start
        tail_room = len(name)
    head_room = width - 1 - tail_room
    tail: list[str] = []
    used = 0
    for piece in reversed(pieces):
        if used + len(piece) > tail_room:
            break
        tail.append(piece)
        used += len(piece)
    head: list[str] = []
    used = 0
    for piece in pieces[:len(pieces) - len(tail)]:
        if used + len(piece) > head_room:
            break
        head.append(piece)
        used += len(piece)
    return "".join(head) + "…" + "".join(reversed(tail))


def json_text(s: str) -> str:
    """JSON text from json.dumps(..., ensure_ascii=False) with DEL, the C1 controls and
    the bidi controls written as \\uNNNN (the same JSON value: only string contents can
    hold them)."""
    if s.isascii() and "\x7f" not in s:  # the usual case, checked at C speed
        return s
    return _JSON_UNESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", s)
