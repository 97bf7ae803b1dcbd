"""Strings from a process are data, never terminal control.

An env name or value, an argv string, comm or a mapped path is chosen by whoever started
the process.  Printed raw, `ESC ] 52 ; c ; ...` writes the reader's clipboard and
`ESC [ 2J` clears the screen: rich passes ESC through (it strips only BEL, BS, VT, FF and
CR), so memlab escapes every C0/C1 control character and DEL as `\\xNN` before such a
string becomes a rich Text.  JSON needs none of this: json.dumps escapes them itself.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def printable(s: str) -> str:
    """s with each control character shown as \\xNN (tab and newline too: one value
    stays on one line of a table)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s)
