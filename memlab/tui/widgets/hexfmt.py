"""One hex-dump line as rich Text (shared by the env block view and the hex view).

Cells are Text, never markup strings: a `[heap]` in a dump would otherwise vanish.
"""

from __future__ import annotations

from typing import Callable

from rich.text import Text

UNREADABLE = "unreadable"


def printable(b: int) -> str:
    return chr(b) if 0x20 <= b < 0x7F else "."


def row_width(bytes_per_row: int, addr_digits: int = 12) -> int:
    return addr_digits + 1 + 3 * bytes_per_row + bytes_per_row


def bytes_per_row_for(width: int, addr_digits: int = 12) -> int:
    """16 when it fits, else 8 (80-column terminals with a border or scrollbar)."""
    return 16 if width >= row_width(16, addr_digits) else 8


def hex_line(addr: int, data: bytes | None, bytes_per_row: int, *,
             addr_digits: int = 12,
             style_at: Callable[[int], str | None] | None = None,
             masked_at: Callable[[int], bool] | None = None,
             skip: int = 0) -> Text:
    """`addr hh hh ... text` for the bytes at addr.  style_at(address) gives a style
    per byte; masked_at(address) hides a byte (secret values) as `**` / `*`.
    data None: the row could not be read, and says so.  The first `skip` bytes of the
    row are left blank (a block that starts mid-row)."""
    line = Text(f"{addr:0{addr_digits}x} ", style="dim")
    if data is None:
        line.append("?? " * 2 + UNREADABLE, style="red")
        return line
    text = Text()
    for i in range(bytes_per_row):
        if i < skip or i >= len(data):
            line.append("   ")
            text.append(" ")
            continue
        a = addr + i
        style = style_at(a) if style_at else None
        if masked_at is not None and masked_at(a):
            line.append("**", style=style or "")
            text.append("*", style=style or "")
        else:
            line.append(f"{data[i]:02x}", style=style or "")
            text.append(printable(data[i]), style=style or "")
        line.append(" ")
    line.append_text(text)
    return line
