"""The address-space picture as an SVG document (for slides and docs), from
memlab.render.layout's blocks.  Strings from the process are escaped for XML, control
characters first (XML 1.0 forbids them even as character references)."""

from __future__ import annotations

import math

from memlab.render.layout import Block, fmt_addr
from memlab.sizes import human_size
from memlab.render.safe import printable

SVG_W = 760
# Width of one character of the 10px monospace notes: 0.6 em for the usual monospace
# fonts (DejaVu Sans Mono, Liberation Mono: 1229/2048 em), rounded up.
NOTE_CHAR_W = 6.2


def notes_width(x: int, chars: int, char_w: float = NOTE_CHAR_W) -> int:
    """The picture's width for a note of `chars` characters starting at x (+ margin)."""
    return int(math.ceil(x + chars * char_w + 20))
_FILL = {
    "text": "#f4a6a6", "rodata": "#f7e3a1", "data": "#b9e4b0", "bss": "#a9dce6",
    "heap": "#e2b0e8", "stack": "#a8c1f0", "lib": "#d9d9d9", "anon": "#eeeeee",
    "file": "#eeeeee", "vdso": "#c4ecec", "vvar": "#c4ecec", "vsyscall": "#c4ecec",
    "kernel": "#bbbbbb", "noncanonical": "#ffffff", "gap": "#ffffff",
    "reserved": "#f3f3f3", "part": "#d3e0fa",
}


def render_svg(blocks: list[Block], title: str = "memlab layout") -> str:
    """The same blocks as an SVG document (for slides and docs): one <g class="block">
    per block in drawing order, each with a <text class="label">; gaps are short dashed
    boxes, other heights grow with log2(size) so both a page and a GiB stay visible."""
    from xml.sax.saxutils import escape as xml_escape  # pulls in urllib: SVG path only

    def escape(s: str) -> str:
        """Text content: control characters as \\xNN first (XML 1.0 forbids them)."""
        return xml_escape(printable(s))

    rows: list[str] = []
    notes: list[int] = []  # length of every note right of the tower (10px monospace)
    y = 40
    x0, box_w = 170, 560

    def height(b: Block) -> int:
        if b.is_gap or b.kind == "kernel":
            h = 26
        else:
            h = int(22 + 3 * max(0, math.log2(max(b.size, 1)) - 12))
        return max(h, 22 + 12 * len(b.markers))

    def draw(b: Block, depth: int) -> None:
        nonlocal y
        h = height(b)
        x = x0 + 16 * depth
        w = box_w - 32 * depth
        dash = ' stroke-dasharray="4 3"' if b.is_gap else ""
        rows.append(f'<g class="block" data-kind="{escape(b.kind)}" '
                    f'data-start="{b.start:#x}" data-end="{b.end:#x}">')
        rows.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" '
                    f'fill="{_FILL.get(b.kind, "#ffffff")}" stroke="#555"{dash}/>')
        if depth == 0:
            rows.append(f'<text class="addr" x="{x0 - 6}" y="{y + 10}" '
                        f'text-anchor="end">{fmt_addr(b.end)}</text>')
        rows.append(f'<text class="label" x="{x + 6}" y="{y + 15}">'
                    f'{escape(b.label)}</text>')
        info = " ".join(p for p in (b.perms or "", human_size(b.size)) if p)
        rows.append(f'<text class="info" x="{x + w - 6}" y="{y + 15}" '
                    f'text-anchor="end">{escape(info)}</text>')
        if b.what:  # to the right of the tower, whole: the picture grows to fit it
            note = escape(b.what)
            notes.append(len(printable(b.what)))
            rows.append(f'<text class="what" x="{x0 + box_w + 10}" y="{y + 14}">'
                        f'{note}</text>')
        for i, m in enumerate(b.markers):
            my = y + 26 + 12 * i
            rows.append(f'<line class="marker" x1="{x}" y1="{my - 4}" x2="{x + w}" '
                        f'y2="{my - 4}" stroke="#b00" stroke-dasharray="2 2"/>')
            mark = f"◀ {m.label} {m.address:#x}"
            notes.append(len(printable(mark)))
            rows.append(f'<text class="marker" x="{x0 + box_w + 10}" y="{my}">'
                        f'{escape(mark)}</text>')
        rows.append("</g>")
        y += h
        for c in b.children:
            draw(c, depth + 1)

    for b in blocks:
        draw(b, 0)
    if blocks:
        rows.append(f'<text class="addr" x="{x0 - 6}" y="{y + 4}" '
                    f'text-anchor="end">{fmt_addr(blocks[-1].start)}</text>')
    total_h = y + 20
    total_w = max(SVG_W + 260, notes_width(x0 + box_w + 10, max(notes, default=0)),
                  notes_width(10, len(printable(title)), NOTE_CHAR_W * 1.5))
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" '
            f'height="{total_h}" viewBox="0 0 {total_w} {total_h}" '
            'font-family="monospace" font-size="12">\n'
            f'<title>{escape(title)}</title>\n'
            '<style>.addr{fill:#333}.what{fill:#444;font-size:10px}'
            '.info{fill:#222}text.marker{fill:#b00;font-size:10px}</style>\n'
            f'<text x="10" y="22" font-size="15">{escape(title)}</text>\n')
    return head + "\n".join(rows) + "\n</svg>\n"
