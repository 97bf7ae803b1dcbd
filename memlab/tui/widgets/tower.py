"""The memory map as a vertical tower: highest address at the top, coloured by kind,
sized on a log scale so a 4 KiB page stays visible next to a 1 GiB heap, unmapped gaps
as dotted lines.  The blocks come from memlab.render.layout.build_blocks (the same model
the CLI's `memlab layout` draws), so the TUI and CLI pictures agree; this module only
decides how a block looks in a terminal cell grid."""

from __future__ import annotations

from rich.text import Text
from textual.events import Click
from textual.message import Message
from textual.widget import Widget

from memlab.model import Snapshot
from memlab.render.layout import Block, build_blocks
from memlab.render.safe import fit, printable
from memlab.tui.diff import human_size

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


def region_indexes(snapshot: Snapshot, block: Block) -> list[int]:
    """Indexes (in Snapshot.regions) of the maps lines a layout block stands for."""
    return [i for i, r in enumerate(snapshot.regions)
            if block.start <= r.start < block.end]


def block_height(size: int) -> int:
    """Log-scale height: small mappings stay one line, big ones grow a little."""
    if size < 1 << 20:
        return 1
    if size < 256 << 20:
        return 2
    return 3


def short_label(label: str, width: int) -> str:
    """Every label on the tower passes here: it is escaped (a mapped path may hold
    control characters), then shortened to its basename or cut."""
    full = printable(label)
    return full if len(full) <= width else fit(label.rsplit("/", 1)[-1], width)


class Tower(Widget, can_focus=True):
    """Draws the blocks; click (or up/down when focused) selects one."""

    BINDINGS = [("up", "move(-1)", "Up"), ("down", "move(1)", "Down")]
    CELL = 20  # width of the coloured column

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
        self._line_to_index: list[int | None] = []
        self._order: list[int] = []  # first region index of each drawn block, top down

    def set_snapshot(self, snapshot: Snapshot, marked: dict[int, str]) -> None:
        self.snapshot, self.marked = snapshot, marked
        self.blocks = build_blocks(snapshot)
        self.refresh(layout=True)

    def select(self, index: int | None) -> None:
        self.selected = index
        self.refresh()

    def build(self) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        lines: list[int | None] = []
        order: list[int] = []
        for b in self.blocks:
            indexes = region_indexes(self.snapshot, b) if self.snapshot else []
            if b.kind in FLAT_KINDS or not indexes:
                gap = short_label(f"{b.label} {human_size(b.size)}", self.CELL + 4)
                out.append(f"{'':12} ┆ {gap}\n", style="dim")
                lines.append(None)
                continue
            order.append(indexes[0])
            style = kind_style(b.kind)
            if self.selected in indexes:
                style += " reverse"
            mark = next((self.marked[i] for i in indexes if i in self.marked), None)
            rows: list[tuple[str, str]] = []
            size = human_size(b.size)
            width = self.CELL - len(size) - 2
            rows.append((f" {short_label(b.label, width):<{width}}{size} ", style))
            for c in b.children:  # the pieces execve laid out at the top of [stack]
                csize = human_size(c.size)
                cw = self.CELL - len(csize) - 3
                rows.append((f"  {short_label(c.label, cw):<{cw}}{csize} ",
                             style if self.selected in indexes else kind_style("part")))
            rows += [(" " * self.CELL, style)] * (block_height(b.size) - len(rows))
            for n, (cell, cell_style) in enumerate(rows):
                addr = f"{b.start:x}" if n == len(rows) - 1 else ""
                out.append(f"{addr:>12} ", style="dim")
                out.append(cell, style=cell_style)
                if n == 0 and mark:
                    out.append(f" {mark}", style="bold yellow")
                out.append("\n")
                lines.append(indexes[0])
        out.rstrip()
        self._line_to_index = lines
        self._order = order
        return out

    def render(self) -> Text:
        return self.build()

    def get_content_height(self, container, viewport, width) -> int:
        self.build()
        return max(1, len(self._line_to_index))

    def get_content_width(self, container, viewport) -> int:
        return 12 + 1 + self.CELL + 6

    def on_click(self, event: Click) -> None:
        if 0 <= event.y < len(self._line_to_index):
            index = self._line_to_index[event.y]
            if index is not None:
                self.post_message(self.Selected(index))

    def action_move(self, step: int) -> None:
        order = self._order
        if not order:
            return
        current = next((i for i in order if i == self.selected), None)
        if current is None and self.selected is not None and self.snapshot is not None:
            # a region inside a grouped block (libc's 5 lines): start from its block
            addr = self.snapshot.regions[self.selected].start
            current = next((i for i, b in zip(order, [b for b in self.blocks
                            if b.kind not in FLAT_KINDS and region_indexes(self.snapshot, b)])
                            if b.start <= addr < b.end), None)
        pos = order.index(current) if current in order else -1
        pos = max(0, min(len(order) - 1, pos + step))
        self.post_message(self.Selected(order[pos]))
