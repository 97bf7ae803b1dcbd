"""The address-space picture as text: one line per block boundary, per block, per piece
inside it and per marker (memlab.render.layout's blocks, highest address first).  Strings
from the process are escaped (memlab.render.safe): the terminal must not obey them."""

from __future__ import annotations

from memlab.render.layout import Block, fmt_addr
from memlab.sizes import human_size
from memlab.render.safe import fit, fit_middle

STYLE = {
    "text": "bold red", "rodata": "yellow", "data": "green", "bss": "cyan",
    "heap": "bold magenta", "stack": "bold blue", "lib": "bright_black",
    "anon": "white", "file": "white", "vdso": "bright_cyan", "vvar": "bright_cyan",
    "vsyscall": "bright_cyan", "kernel": "dim", "noncanonical": "dim", "gap": "dim",
    "reserved": "dim", "part": "blue", "thread-stack": "blue",
}
WIDTH = 80


def text_lines(blocks: list[Block], width: int = WIDTH) -> list[tuple[str, str]]:
    """The picture as (line, style) pairs: the plain text is the picture, the style is
    what a terminal colours it with.  Every block boundary is one address line, then one
    line per block, per piece inside it and per marker; gaps use a dotted bar."""
    out: list[tuple[str, str]] = []
    for i, b in enumerate(blocks):
        corner = "┌" if i == 0 else "├"
        out.append((f"  {corner}─ {fmt_addr(b.end)}", "dim"))
        _block_lines(b, 0, width, out)
    if blocks:
        out.append((f"  └─ {fmt_addr(blocks[-1].start)}", "dim"))
    return out


def _block_lines(b: Block, depth: int, width: int, out: list) -> None:
    bar = "┆" if b.is_gap else "│"
    indent = "  " * depth
    head = f"  {bar} {indent}"
    label_w = 26 - len(indent)
    # a label is cut in the middle (the end of a name tells libraries apart)
    left = f"{head}{fit_middle(b.label, label_w):<{label_w}} {b.perms or '':<4} " \
           f"{human_size(b.size):>9}  "
    what = b.what
    if b.resident is not None:  # how much of it is in RAM (smaps Rss)
        what = f"[{human_size(b.resident)} in RAM] {what}"
    out.append((left + fit(what, max(0, width - len(left))), STYLE.get(b.kind, "")))
    for c in b.children:
        _block_lines(c, depth + 1, width, out)
    for m in b.markers:
        line = f"{head}{indent}  ◀ {m.label} {m.address:#x}"
        if m.note:
            line += f"  {m.note}"
        out.append((fit(line, width), "bold"))


def render_plain(blocks: list[Block], width: int = WIDTH) -> str:
    return "\n".join(line.rstrip() for line, _ in text_lines(blocks, width)) + "\n"


def render_rich(blocks: list[Block], width: int = WIDTH):
    """A rich Text of the picture (the console decides on colour: none when piped or
    NO_COLOR)."""
    from rich.text import Text  # heavy: only the terminal renderer needs it

    t = Text()
    for line, style in text_lines(blocks, width):
        t.append(line.rstrip() + "\n", style=style or None)
    return t
