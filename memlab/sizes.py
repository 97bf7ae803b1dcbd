"""The one size format of memlab: binary units, three significant digits.

    512 B   8.00 KiB   124 KiB   0.977 MiB   16.0 EiB

Every front end (the CLI's tables and `memlab layout`, the layout SVG, the TUI) prints a
byte count with `human_size`, so one size reads the same everywhere.  A number never has
more than three significant digits: a value that would round to 1000 of a unit is
written in the next one (1000 KiB is "0.977 MiB"), so the longest result is 9
characters ("0.977 MiB"), 10 with a minus sign.  Sizes up to 999 bytes are exact.
"""

from __future__ import annotations

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
MAX_WIDTH = 9  # len("0.977 MiB"); a negative size adds its "-"


def _three_digits(v: float) -> str | None:
    """v (>= 0.5) with three significant digits, or None when it rounds to 1000+."""
    for decimals in (3, 2, 1, 0):
        s = f"{v:.{decimals}f}"
        if len(s.replace(".", "").lstrip("0")) <= 3:
            return s if float(s) < 1000 else None
    return None


def human_size(n: int) -> str:
    """n bytes in the one format (module doc): 4096 -> "4.00 KiB"."""
    sign = "-" if n < 0 else ""
    n = abs(int(n))
    if n < 1000:
        return f"{sign}{n} B"
    v = float(n)
    for unit in UNITS[1:]:
        v /= 1024
        s = _three_digits(v)
        if s is not None:
            return f"{sign}{s} {unit}"
    return f"{sign}{v:.0f} {UNITS[-1]}"  # past 1000 YiB: no 64-bit size gets here


def parse_size(text: str) -> float:
    """The byte count a human_size string stands for (tests; the inverse, rounded)."""
    num, unit = text.split()
    return float(num) * 1024 ** UNITS.index(unit)
