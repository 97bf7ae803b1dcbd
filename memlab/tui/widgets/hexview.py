"""Hex view of any region, virtual: only the rows on screen are ever read.

A 1 GiB region is 67 million rows of 16 bytes; the widget is a Line-API ScrollView whose
virtual height is that row count, and render_line asks a thread worker for the rows in
the window when they are not cached.  Rows that cannot be read (guard pages, [vvar],
a range that vanished) are shown as unreadable.  After a refresh, bytes that differ from
what the same rows held before are highlighted.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from memlab.model import Region
from memlab.render.safe import printable
from memlab.sizes import human_size
from memlab.tui.views import ViewSpec
from memlab.tui.widgets.base import SnapshotView
from memlab.tui.widgets.hexfmt import bytes_per_row_for, hex_line, row_width
from memlab.tui.widgets.memmap import locate
from memlab.tui.workers import background

CHANGED = "bold white on red"
MAX_CACHED_ROWS = 8192


def window_masks(source, region: Region, start: int, end: int,
                 rows: dict[int, bytes | None], masker) -> list[tuple[int, int]]:
    """[start, end) addresses of the secret bytes in the rows read for [start, end): each
    string the window cuts is judged whole (JUDGE bytes either side are read for that)
    and every known secret value is masked, whole or in pieces
    (memlab.secrets.Masker.byte_spans)."""
    from memlab.exposure.search import JUDGE

    window = bytearray(end - start)  # unreadable rows stay NUL: they end strings
    for addr, row in rows.items():
        if row is not None:
            window[addr - start:addr - start + len(row)] = row
    data = bytes(window)
    lo, hi = max(region.start, start - JUDGE), min(region.end, end + JUDGE)
    before = (source.read_memory(lo, start - lo) if start > lo else None) or b""
    after = (source.read_memory(end, hi - end) if hi > end else None) or b""
    base = start - len(before)
    return [(max(start, base + a), min(end, base + b)) for a, b in
            masker.byte_spans(before + data + after, len(before), len(before) + len(data))]


def secret_spans(snap) -> list[tuple[int, int]]:
    """[start, end) of every secret-looking value in the env block (masked in the dump
    as in every other view, until the user reveals)."""
    from memlab.secrets import looks_secret
    from memlab.tui.widgets.envblock import entry_spans

    if snap.env is None:
        return []
    return [(eq + 1, end) for (start, eq, end), e in zip(entry_spans(snap.env),
                                                          snap.env.entries)
            if e.has_equals and looks_secret(e.name, e.value)]


class HexGrid(ScrollView, can_focus=True):
    """The scrolling rows.  `rows` caches {row address: bytes | None (unreadable)}."""

    class RowsLoaded(Message):
        def __init__(self, generation: int, rows: dict[int, bytes | None],
                     masks: list[tuple[int, int]] = ()) -> None:
            super().__init__()
            self.generation = generation
            self.rows = rows
            self.masks = list(masks)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.hex_region: Region | None = None
        self.per_row = 16
        self.rows: dict[int, bytes | None] = {}
        self.before: dict[int, bytes | None] = {}  # rows as they were before a refresh
        self.generation = 0
        self._pending: tuple[int, int, int] | None = None
        self._goto: int | None = None  # an address to show once the grid has a size
        self.secret_spans: list[tuple[int, int]] = []  # masked unless the app reveals
        self.masker = None  # memlab.secrets.Masker of the process on screen
        # secret bytes of the rows read: {row address: [(start, end), ...]}
        self.row_masks: dict[int, list[tuple[int, int]]] = {}

    @property
    def addr_digits(self) -> int:
        return max(12, len(f"{self.hex_region.end:x}")) if self.hex_region else 12

    @property
    def row_count(self) -> int:
        r = self.hex_region
        return 0 if r is None else -(-r.size // self.per_row)

    def open(self, region: Region, *, keep_position: bool = False) -> None:
        same = self.hex_region is not None and self.hex_region.start == region.start
        self.hex_region = region
        self.before = self.rows if (same and keep_position) else {}
        self.rows, self.row_masks = {}, {}
        self.generation += 1
        self._pending = None
        self._resize_virtual()
        if not (same and keep_position):
            self.scroll_to(0, 0, animate=False)
        self.refresh()

    def goto(self, addr: int) -> None:
        if self.hex_region is None or not self.hex_region.contains(addr):
            return
        if not self.size.height:  # a hidden tab: scroll when it is laid out
            self._goto = addr
            return
        self._goto = None
        row = (addr - self.hex_region.start) // self.per_row
        self.scroll_to(0, row, animate=False, immediate=True)

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(row_width(self.per_row, self.addr_digits), self.row_count)

    def on_resize(self) -> None:
        per_row = bytes_per_row_for(self.scrollable_content_region.width, self.addr_digits)
        if per_row != self.per_row:
            self.per_row = per_row
            self.rows, self.before, self.row_masks = {}, {}, {}
            self.generation += 1
        self._resize_virtual()
        if self._goto is not None:
            self.call_after_refresh(self.goto, self._goto)

    # Jumps without animation: an animated page-down would read every row it
    # passes on the way (each frame is a window), instead of just the destination.
    def action_page_down(self) -> None:
        self.scroll_page_down(animate=False)

    def action_page_up(self) -> None:
        self.scroll_page_up(animate=False)

    def action_scroll_home(self) -> None:
        self.scroll_home(animate=False)

    def action_scroll_end(self) -> None:
        self.scroll_end(animate=False)

    # -- drawing ------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        row = int(self.scroll_offset.y) + y
        if self.hex_region is None or row >= self.row_count:
            return Strip.blank(width, self.rich_style)
        addr = self.hex_region.start + row * self.per_row
        if addr not in self.rows:
            self._request_window()
            line = Text(f"{addr:0{self.addr_digits}x}  …", style="dim")
        else:
            data = self.rows[addr]
            old = self.before.get(addr)
            style_at = None
            if data is not None and old is not None and old != data:
                diff = {addr + i for i in range(min(len(old), len(data)))
                        if old[i] != data[i]}
                style_at = lambda a: CHANGED if a in diff else None  # noqa: E731
            line = hex_line(addr, data, self.per_row, addr_digits=self.addr_digits,
                            style_at=style_at, masked_at=self._masked_at(addr))
        segments = list(line.render(self.app.console))
        strip = Strip(segments).crop(int(self.scroll_offset.x), int(self.scroll_offset.x) + width)
        return strip.extend_cell_length(width, self.rich_style)

    def _masked_at(self, addr: int):
        if getattr(self.app, "reveal", False):
            return None
        end = addr + self.per_row
        spans = [(s, e) for s, e in (*self.secret_spans, *self.row_masks.get(addr, ()))
                 if s < end and e > addr]
        if not spans:
            return None
        return lambda a: any(s <= a < e for s, e in spans)

    # -- reading (worker) ---------------------------------------------------------
    def _window(self) -> tuple[int, int]:
        first = int(self.scroll_offset.y)
        count = max(1, min(self.size.height, self.row_count - first))
        return first, count

    def _request_window(self) -> None:
        first, count = self._window()
        key = (self.generation, first, count)
        if self._pending == key:
            return
        self._pending = key
        self.load_rows(self.generation, self.hex_region, self.per_row, first, count)

    @background(exclusive=True, group="hexrows")
    def load_rows(self, generation: int, region: Region, per_row: int, first: int,
                  count: int) -> None:
        """Read rows [first, first+count) of region: one read for the window, row by
        row only when that fails (to mark exactly which rows are unreadable).  When the
        process is gone (or no longer readable) the window shows as unreadable and the
        error goes on to the banner (memlab.tui.workers)."""
        source = self.app.source
        start = region.start + first * per_row
        end = min(region.end, start + count * per_row)
        rows: dict[int, bytes | None] = dict.fromkeys(range(start, end, per_row))
        masks = []
        judged = False
        try:
            data = source.read_memory(start, end - start)
            for addr in rows:
                n = min(per_row, end - addr)
                if data is not None:
                    rows[addr] = data[addr - start:addr - start + n]
                else:
                    rows[addr] = source.read_memory(addr, n)
            if self.masker:
                masks = window_masks(source, region, start, end, rows, self.masker)
            judged = True
        finally:
            if not judged:  # bytes that could not be judged for secrets are not shown
                rows = dict.fromkeys(rows)
            self.post_message(self.RowsLoaded(generation, rows, masks))

    def on_hex_grid_rows_loaded(self, event: RowsLoaded) -> None:
        event.stop()
        if event.generation != self.generation:
            return
        if len(self.rows) > MAX_CACHED_ROWS:
            self.rows.clear()
            self.row_masks.clear()
        self.rows.update(event.rows)
        for row in event.rows:
            self.row_masks[row] = [(s, e) for s, e in event.masks
                                   if s < row + self.per_row and e > row]
        self._pending = None
        self.refresh()


class HexView(SnapshotView):
    BINDINGS = [Binding("j", "goto", "Jump to address")]

    class Opened(Message):
        pass

    def compose(self) -> ComposeResult:
        yield Static(id="hex-header")
        yield Input(placeholder="address (hex), e.g. 0x7ffd12345000 — enter to jump",
                    id="hex-goto")
        yield HexGrid(id="hex-grid")

    @property
    def grid(self) -> HexGrid:
        return self.query_one(HexGrid)

    def render_snapshot(self) -> None:
        snap = self.snapshot
        from memlab.secrets import Masker

        self.grid.secret_spans = secret_spans(snap) + list(getattr(self.app, "secret_copies", []))
        self.grid.masker = Masker.for_snapshot(snap)
        current = self.grid.hex_region
        match = None
        if current is not None:
            match = next((r for r in snap.regions if r.start == current.start), None)
        if match is None:
            # first snapshot or the region is gone: start on [stack] (the env block)
            match = next((r for r in snap.regions if r.path == "[stack]"),
                         snap.regions[0] if snap.regions else None)
        if match is not None:
            self.grid.open(match, keep_position=current is not None)
            if current is None and snap.env is not None and match.contains(snap.env.start):
                self.grid.goto(snap.env.start)  # first look: the env block
        self._header()

    def focus_main(self) -> None:
        self.grid.focus()

    def open_region(self, region: Region) -> None:
        self.grid.open(region)
        self._header()

    def _header(self) -> None:
        r = self.grid.hex_region
        if r is None:
            self.query_one("#hex-header", Static).update("no region")
            return
        t = Text()
        t.append(printable(r.label), style="bold")
        t.append(f"  0x{r.start:x}–0x{r.end:x}  {human_size(r.size)}  {r.perms}  ")
        t.append("only the rows on screen are read; j: jump to address",
                 style="dim")
        self.query_one("#hex-header", Static).update(t)

    def action_goto(self) -> None:
        box = self.query_one("#hex-goto", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "hex-goto":
            return
        event.stop()
        try:
            addr = int(event.value.strip(), 16)
        except ValueError:
            self.app.notify(f"not a hex address: {event.value!r}", severity="error")
            return
        region = self.snapshot.region_at(addr) if self.snapshot else None
        if region is None:  # the Map view's `j` words it the same (memmap.locate)
            self.app.notify(locate(self.snapshot.regions if self.snapshot else (), addr)[1],
                            severity="warning")
            return
        if self.grid.hex_region is None or region.start != self.grid.hex_region.start:
            self.open_region(region)
        self.grid.goto(addr)
        event.input.display = False
        self.grid.focus()


VIEW = ViewSpec(
    id="hex", title="Hex", key="x", factory=HexView,
    teaches="raw bytes of any region, read lazily (only the rows on screen); "
            "unreadable ranges marked")
