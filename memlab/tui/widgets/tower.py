"""The memory map as a vertical tower: highest address at the top, coloured by kind,
sized on a log scale so a 4 KiB page stays visible next to a 1 GiB heap, unmapped gaps
as dotted lines.  The blocks come from memlab.render.layout.build_blocks (the same model
the CLI's `memlab layout` draws), so the TUI and CLI pictures agree; this module only
decides how a block looks in a terminal cell grid."""

from __future__ import annotations

from bisect import bisect_left

from rich.text import Text
from textual.events import Click
from textual.message import Message

from memlab.model import Snapshot
from memlab.render.layout import Block, build_blocks
from memlab.render.safe import fit_middle, printable
from memlab.sizes import human_size
from memlab.tui.widgets.virtual import VirtualLines

# Colour by kind (memlab.analysis.classify names); unknown kinds fall back to "anon".
KIND_STYLES: dict[str, str] = {
    "text": "white on dark_red",
    "rodata": "black on light_salmon3",
    "data": "black on gold3",
    "relro": "black on khaki3",
    "bss": "black on yellow4",
    "heap": "black on green3",
    "stack": "white on blue3",
    "lib": "white on purple4",
    "vdso": "black on cyan3",
    "vvar": "black on dark_cyan",
    "vsyscall": "black on grey50",
    "anon": "white on grey30",
    "file": "white on dark_magenta",
    "part": "white on dark_blue",
}
FLAT_KINDS = ("gap", "noncanonical", "reserved", "kernel")  # drawn as one dim line


def kind_style(kind: str) -> str:
    if kind in KIND_STYLES:
        return KIND_STYLES[kind]
    for key, style in KIND_STYLES.items():  # "lib-text", "stack-guard" ...
        if key in kind:
            return style
    return KIND_STYLES["anon"]


def block_indexes(snapshot: Snapshot, blocks: list[Block]) -> list[list[int]]:
    """Indexes (in Snapshot.regions) of the maps lines each layout block stands for:
    one sort and a bisect per block, not a pass over every mapping per block (60,000
    mappings made that 3.6e9 steps)."""
    order = sorted(range(len(snapshot.regions)), key=lambda i: snapshot.regions[i].start)
    starts = [snapshot.regions[i].start for i in order]
    return [sorted(order[bisect_left(starts, b.start):bisect_left(starts, b.end)])
            for b in blocks]


def block_height(size: int) -> int:
    """Log-scale height: small mappings stay one line, big ones grow a little."""
    if size < 1 << 20:
        return 1
    if size < 256 << 20:
        return 2
    return 3


def short_label(label: str, width: int) -> str:
    """Every label on the tower passes here: it is escaped (a mapped path may hold
    control characters), then shortened to its basename, then cut in the middle (the
    end of a name tells libraries apart: libc.so.6, libm.so.6)."""
    full = printable(label)
    return full if len(full) <= width else fit_middle(label.rsplit("/", 1)[-1], width)


# The pieces of [stack] (memlab.render.layout) by shorter names: the tower is narrow
TOWER_NAMES = {
    "execfn + end marker": "execfn",
    "env strings (env block)": "env strings",
    "random pad + AT_RANDOM": "AT_RANDOM+pad",
    "argc, argv, envp, auxv": "argv envp auxv",
    "free stack below sp": "free stack",
}


def label_and_size(label: str, size: str, width: int) -> str:
    """`label` then `size`, right-aligned in exactly `width` columns, with at least one
    space between: the label is shortened, never the number."""
    room = max(0, width - len(size) - 1)
    return f"{short_label(TOWER_NAMES.get(label, label), room):<{room}} {size}"


class Tower(VirtualLines):
    """Draws the blocks, one line at a time as they scroll into view (a process may
    have 60,000 mappings); click (or up/down when focused) selects one."""

    BINDINGS = [("up", "move(-1)", "Up"), ("down", "move(1)", "Down")]
    CELL = 26  # width of the coloured column: a 15-character label and a size
    WIDTH = 12 + 1 + CELL + 6

    class Selected(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index  # region index in Snapshot.regions

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.snapshot: Snapshot | None = None
        self.blocks: list[Block] = []  # memlab.render.layout blocks, highest first
        self.selected: int | None = None  # region index
        self.marked: dict[int, str] = {}  # region index -> "new"/"grew"/...
        self._indexes: list[list[int]] = []  # region indexes of each block
        self._lines: list[tuple[int, int]] = []  # (block, row within it) of each line
        self._line_to_index: list[int | None] = []
        self._order: list[int] = []  # first region index of each drawn block, top down
        self._first_line: dict[int, int] = {}  # region index -> its block's first line

    def set_snapshot(self, snapshot: Snapshot, marked: dict[int, str],
                     mmap_min_addr: int | None = None) -> None:
        self.snapshot, self.marked = snapshot, marked
        self.blocks = build_blocks(snapshot, mmap_min_addr)
        self._indexes = block_indexes(snapshot, self.blocks)
        lines, to_index, order, first = [], [], [], {}
        for n, (b, indexes) in enumerate(zip(self.blocks, self._indexes)):
            if b.kind in FLAT_KINDS or not indexes:
                lines.append((n, 0))
                to_index.append(None)
                continue
            order.append(indexes[0])
            for i in indexes:
                first[i] = len(lines)
            for row in range(max(1 + len(b.children), block_height(b.size))):
                lines.append((n, row))
                to_index.append(indexes[0])
        self._lines, self._line_to_index, self._order = lines, to_index, order
        self._first_line = first
        self.set_lines(len(lines), self._tower_line, self.WIDTH)

    def select(self, index: int | None) -> None:
        self.selected = index
        line = self._first_line.get(index) if index is not None else None
        if line is not None:
            top, height = int(self.scroll_offset.y), max(1, self.size.height)
            if not top <= line < top + height:
                self.scroll_to(y=max(0, line - height // 2), animate=False,
                               immediate=True)
        self.refresh()

    def _tower_line(self, y: int) -> Text:
        n, row = self._lines[y]
        b, indexes = self.blocks[n], self._indexes[n]
        out = Text(no_wrap=True, overflow="crop")
        if b.kind in FLAT_KINDS or not indexes:
            gap = label_and_size(b.label, human_size(b.size), self.CELL + 4)
            out.append(f"{'':12} ┆ {gap}", style="dim")
            return out
        selected = self.selected in indexes
        style = kind_style(b.kind) + (" reverse" if selected else "")
        rows = 1 + len(b.children)
        last = max(rows, block_height(b.size)) - 1
        if row == 0:
            cell = f" {label_and_size(b.label, human_size(b.size), self.CELL - 2)} "
            cell_style = style
        elif row < rows:  # the pieces execve laid out at the top of [stack]
            c = b.children[row - 1]
            cell = f"  {label_and_size(c.label, human_size(c.size), self.CELL - 3)} "
            cell_style = style if selected else kind_style("part")
        else:
            cell, cell_style = " " * self.CELL, style
        addr = f"{b.start:x}" if row == last else ""
        out.append(f"{addr:>12} ", style="dim")
        out.append(cell, style=cell_style)
        mark = next((self.marked[i] for i in indexes if i in self.marked), None) \
            if row == 0 and self.marked else None
        if mark:
            out.append(f" {mark}", style="bold yellow")
        return out

    def build(self) -> Text:
        """Every line of the tower as one Text (tests, small maps)."""
        out = Text(no_wrap=True, overflow="crop")
        for y in range(len(self._lines)):
            out.append_text(self.line_text(y))
            out.append("\n")
        out.rstrip()
        return out

    def on_click(self, event: Click) -> None:
        y = int(self.scroll_offset.y) + event.y
        if 0 <= y < len(self._line_to_index):
            index = self._line_to_index[y]
            if index is not None:
                self.post_message(self.Selected(index))

    def action_move(self, step: int) -> None:
        order = self._order
        if not order:
            return
        current = self.selected
        if current is not None and current not in order:
            # a region inside a grouped block (libc's 5 lines): start from its block
            line = self._first_line.get(current)
            current = self._line_to_index[line] if line is not None else None
        pos = order.index(current) if current in order else -1
        pos = max(0, min(len(order) - 1, pos + step))
        self.post_message(self.Selected(order[pos]))
