"""Memory map view: the tower (highest address on top) beside the regions table.

Teaches: a process is a handful of mappings with big holes between them; the program's
text/data sit low, the heap just above them (brk), libraries and mmaps high, the stack
at the very top; and what each line of /proc/PID/maps says.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Static

from memlab.model import Region, RegionMemory
from memlab.render.safe import fit_middle, printable
from memlab.sizes import human_size
from memlab.tui.diff import region_changes
from memlab.tui.views import ViewSpec
from memlab.tui.widgets.base import SnapshotView
from memlab.tui.widgets.prompt import PromptInput
from memlab.tui.widgets.tower import KIND_STYLES, Tower, kind_style
from memlab.tui.widgets.virtual import MAX_COLUMN, MEASURED_ROWS, VirtualTable

KIND_NOTES: dict[str, str] = {
    "text": "the program's machine code (PT_LOAD with PF_X), mapped from the ELF file",
    "rodata": "read-only data of the program: string literals, constants",
    "data": "initialised globals, copied-on-write from the file",
    "relro": "data made read-only after relocation (GNU_RELRO)",
    "bss": "zero-initialised globals: anonymous memory past the file's data",
    "heap": "the brk heap: starts after the program's _end (plus a random offset); "
            "malloc grows it with brk, big blocks go to mmap instead",
    "stack": "the main thread's stack: argv, the env block and auxv sit at its top",
    "lib": "a shared library (libc, ld.so) mapped by the dynamic loader",
    "vdso": "kernel-provided code for fast syscalls (gettimeofday) without a syscall",
    "vvar": "kernel data the vDSO reads; reading it via /proc/PID/mem fails",
    "vsyscall": "legacy fixed-address page above 2**63 in some configs",
    "anon": "anonymous memory: mmap'd blocks (big mallocs), thread stacks, guard pages",
    "thread-stack": "a thread's stack (its stack pointer is here), with a guard page below",
}


def perms_text(perms: str) -> str:
    words = [w for w, c in zip(("read", "write", "execute"), perms[:3]) if c != "-"]
    share = "shared" if perms[3:4] == "s" else "private (copy-on-write)"
    return (", ".join(words) or "no access (guard)") + "; " + share


def resident_text(memory) -> str:
    """`resident 12K of 132K (9%), pss 12K, private dirty 12K, swap 0` (smaps)."""
    return (f"in RAM {human_size(memory.rss)}, pss {human_size(memory.pss)}, "
            f"private dirty {human_size(memory.private_dirty)}, shared "
            f"{human_size(memory.shared_clean + memory.shared_dirty)}, swap "
            f"{human_size(memory.swap)}  (/proc/PID/smaps)\n")


def region_details(r: Region, index: int, mark: str | None, memory=None) -> Text:
    t = Text()
    t.append(f"{printable(r.label)}\n", style="bold")
    t.append(f"0x{r.start:x} – 0x{r.end:x}  {human_size(r.size)} ({r.size} bytes)\n")
    t.append(f"{r.perms}: {perms_text(r.perms)}\n")
    t.append(f"offset 0x{r.offset:x}  dev {r.dev}  inode {r.inode}  kind ")
    t.append(r.kind, style=kind_style(r.kind))
    t.append(f"  (maps line {index + 1})\n")
    if memory is not None:
        t.append(resident_text(memory), style="cyan")
    note = KIND_NOTES.get(r.kind) or next(
        (v for k, v in KIND_NOTES.items() if k in r.kind), "")
    if note:
        t.append(note + "\n", style="italic")
    if mark:
        t.append(f"changed since the last refresh: {mark}\n", style="bold yellow")
    t.append("enter/x: hex view of this region", style="dim")
    return t


def _resident_share(r: Region, memory: RegionMemory | None) -> str:
    if memory is None:
        return "?"
    if memory.rss and memory.rss < r.size:
        return f"{max(1, memory.rss * 100 // r.size)}%"  # 1%: some, however little
    return "100%" if memory.rss else "0"


def _cell(text: str, style: str = "", justify: str | None = None) -> Text:
    # Text, not markup: "[heap]" must not be read as markup; a path may hold ESC
    return Text(text, style=style, justify=justify)  # type: ignore[arg-type]


class RowLook(NamedTuple):
    style: str  # "bold yellow" on a line that changed since the last refresh
    path_width: int  # what is left of the table's width for the path
    memory: RegionMemory | None  # smaps of this line; None when not read or refused


# The regions table: (heading, cell of region r).  A new column is one entry here.
# Path before end: on 80 columns the name matters more; a path longer than the room
# left is cut in the middle, so the file name stays.
REGION_COLUMNS: list[tuple[str, Callable[[Region, RowLook], Text]]] = [
    ("start", lambda r, look: _cell(f"{r.start:x}", look.style)),
    ("size", lambda r, look: _cell(human_size(r.size), justify="right")),
    # how much of the block is in RAM (smaps Rss / size; the details line has the bytes,
    # as pmap -X's RSS column); "?" when smaps was not read or refused
    ("rss", lambda r, look: _cell(_resident_share(r, look.memory),
                                  "" if look.memory and look.memory.rss else "dim",
                                  justify="right")),
    ("perms", lambda r, look: _cell(r.perms)),
    ("kind", lambda r, look: _cell(r.kind, kind_style(r.kind))),
    ("path", lambda r, look: _cell(fit_middle(r.label, look.path_width), look.style)),
    ("end", lambda r, look: _cell(f"{r.end:x}", look.style)),
]
PATH_COLUMN = [name for name, _ in REGION_COLUMNS].index("path")
MIN_PATH = 16
NARROW = 100  # below this many columns the map shows the tower or the table (t)


def legend() -> Text:
    """One line: each kind in its tower colour."""
    t = Text(no_wrap=False)
    t.append("kinds ", style="dim")
    for kind in KIND_STYLES:
        if kind != "part":
            t.append(f" {kind} ", style=KIND_STYLES[kind])
            t.append(" ")
    return t


def parse_address(text: str) -> int | None:
    """A hex address as gdb's `vmmap ADDR` takes it: 0x7ffd..., or bare hex digits."""
    text = text.strip().lower().removeprefix("0x").replace("_", "")
    if not text or len(text) > 16 or any(c not in "0123456789abcdef" for c in text):
        return None
    return int(text, 16)


def locate(regions: tuple[Region, ...] | list[Region], addr: int) -> tuple[int | None, str]:
    """(index of the maps line holding addr or None, one sentence saying where it is)."""
    below = above = None
    for i, r in enumerate(regions):
        if r.start <= addr < r.end:
            return i, (f"0x{addr:x} is in {printable(r.label)} (maps line {i + 1}, "
                       f"{r.perms}) at +0x{addr - r.start:x}")
        if r.end <= addr and (below is None or r.end > regions[below].end):
            below = i
        if r.start > addr and (above is None or r.start < regions[above].start):
            above = i
    lo = f"0x{regions[below].end:x} (end of {printable(regions[below].label)})" \
        if below is not None else "0x0"
    hi = f"0x{regions[above].start:x} ({printable(regions[above].label)})" \
        if above is not None else "the top of the address space"
    return None, f"0x{addr:x} is not mapped: it lies in the gap from {lo} to {hi}"


class MemoryMapView(SnapshotView):
    BINDINGS = [Binding("x", "hex", "Hex"),
                # j as in the Hex view (`g` stays the Lessons key, on every view)
                Binding("j", "goto", "Jump to addr"),
                Binding("t", "toggle_tower", "Tower")]

    class OpenHex(Message):
        def __init__(self, region: Region) -> None:
            super().__init__()
            self.region = region

    show_tower = False  # below NARROW columns: the tower instead of the table

    def compose(self) -> ComposeResult:
        with Horizontal(id="map-panes"):
            yield Tower(id="tower")
            with Vertical(id="map-right"):
                yield VirtualTable(*(name for name, _ in REGION_COLUMNS),
                                   id="regions", zebra_stripes=True)
                yield Static(id="region-details")
        yield Static(legend(), id="map-legend")
        yield PromptInput(placeholder="address (hex), e.g. 0x7ffd12345000 — enter to find "
                          "its mapping, Esc to cancel", id="map-goto")

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#regions", VirtualTable)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#map-goto").display = False

    # -- small screens: the tower or the table -------------------------------------------
    @property
    def narrow(self) -> bool:
        return 0 < self.size.width < NARROW

    path_width = 48

    def on_resize(self) -> None:
        self._arrange()
        self.call_after_refresh(self._fit_path)

    def _fit_path(self) -> None:
        """Give the path column what the table's width leaves (cut in the middle)."""
        table = self.table
        room = table.scrollable_content_region.width  # less the scrollbar
        if self.snapshot is None or not room:
            return
        # the columns before the path as wide as for every line (not only those a
        # filter shows): the path keeps one width while filtering
        widths = [len(name) for name, _ in REGION_COLUMNS[:PATH_COLUMN]]
        for i in range(min(table.total_count, MEASURED_ROWS)):
            cells = self._region_row(i)
            widths = [max(w, min(c.cell_len, MAX_COLUMN)) for w, c in zip(widths, cells)]
        others = sum(w + 2 for w in widths)
        width = max(MIN_PATH, room - others - 2)
        if width != self.path_width:
            self.path_width = width
            table.set_rows(table.total_count, self._region_row, self._region_text)

    def _arrange(self) -> None:
        # a short terminal: fewer lines of details, more rows of the table
        short = 0 < self.size.height < 24
        narrow, show_tower = self.narrow, self.show_tower
        if (short, narrow, show_tower) == getattr(self, "_arranged", None):
            return  # each change below lays the screen out again: only when needed
        self._arranged = (short, narrow, show_tower)
        self.query_one("#region-details").styles.max_height = 5 if short else 8
        tower, right = self.query_one(Tower), self.query_one("#map-right")
        if narrow:
            tower.display, right.display = show_tower, not show_tower
            tower.styles.width = "1fr" if show_tower else None
        else:
            tower.display = right.display = True
            tower.styles.width = None

    def action_toggle_tower(self) -> None:
        if not self.narrow:
            self.notify(f"the tower and the table are both shown from {NARROW} columns; "
                        "t switches between them on a narrower terminal")
            return
        self.show_tower = not self.show_tower
        self._arrange()
        (self.query_one(Tower) if self.show_tower else self.table).focus()

    def show_table(self) -> None:
        """The table on screen (`/` filters it), the tower too if there is room."""
        if self.show_tower:
            self.show_tower = False
            self._arrange()

    def focus_main(self) -> None:
        (self.query_one(Tower) if self.narrow and self.show_tower else self.table).focus()

    # -- j ADDR: which mapping holds an address ------------------------------------------
    def action_goto(self) -> None:
        box = self.query_one("#map-goto", PromptInput)
        box.display = True
        box.focus()

    def on_prompt_input_cancelled(self, event: PromptInput.Cancelled) -> None:
        if event.prompt.id == "map-goto":
            event.stop()
            self.focus_main()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "map-goto":
            return
        event.stop()
        addr = parse_address(event.value)
        if addr is None:
            self.app.notify(f"not a hex address: {event.value!r} (Esc cancels)",
                            severity="error")
            return
        event.input.value = ""
        event.input.display = False
        self.focus_main()
        self.find_address(addr)

    def find_address(self, addr: int) -> int | None:
        """Select the maps line holding addr (like pwndbg's `vmmap ADDR`); say where
        it is either way.  The index, or None when addr is not mapped."""
        if self.snapshot is None:
            return None
        index, sentence = locate(self.snapshot.regions, addr)
        if index is not None:
            if not self.table.move_to_index(index):
                self.table.set_filter("")  # the filter hid it: show every line
                self.table.move_to_index(index)
            self._select(index)
        self.app.notify(sentence, severity="information" if index is not None
                        else "warning", timeout=8)
        return index

    # -- drawing ---------------------------------------------------------------------
    def render_snapshot(self) -> None:
        snap = self.snapshot
        changes = region_changes(self.previous, snap)
        marks = {i: changes[(r.start, r.path)].change
                 for i, r in enumerate(snap.regions) if (r.start, r.path) in changes} \
            if changes else {}
        self._marks = marks
        tower = self.query_one(Tower)
        keep = self.table.index_of(self.table.cursor_row) if self.table.row_count else None
        source = getattr(self.app, "source", None)
        guard = source.mmap_min_addr() if source is not None else None
        tower.set_snapshot(snap, marks, guard)
        self.table.set_rows(len(snap.regions), self._region_row, self._region_text)
        if self.table.row_count:
            index = keep if keep is not None and keep < len(snap.regions) \
                else self._default_row()
            self.table.move_to_index(index, nearest=True)
            self._select(self.table.index_of(self.table.cursor_row))
        self._arrange()
        self.call_after_refresh(self._fit_path)

    def _region_row(self, i: int) -> tuple[Text, ...]:
        r = self.snapshot.regions[i]
        memory = self.snapshot.memory
        look = RowLook("bold yellow" if i in self._marks else "", self.path_width,
                       memory.regions[i] if memory is not None and i < len(memory.regions)
                       else None)
        return tuple(cell(r, look) for _, cell in REGION_COLUMNS)

    def _region_text(self, i: int) -> str:
        """What `/` searches in maps line i: every column, the whole path."""
        r = self.snapshot.regions[i]
        return (f"{r.start:x} {human_size(r.size)} {r.perms} {r.kind} "
                f"{printable(r.label)} {r.end:x}")

    def _default_row(self) -> int:
        stacks = [i for i, r in enumerate(self.snapshot.regions) if r.path == "[stack]"]
        return stacks[0] if stacks else 0

    def _select(self, index: int) -> None:
        r = self.snapshot.regions[index]
        self.query_one(Tower).select(index)
        self.query_one("#region-details", Static).update(
            region_details(r, index, getattr(self, "_marks", {}).get(index),
                           self.snapshot.memory.regions[index]
                           if self.snapshot.memory is not None else None))

    def on_virtual_table_row_highlighted(self, event: VirtualTable.RowHighlighted) -> None:
        if self.snapshot is not None and event.table.id == "regions" \
                and event.index < len(self.snapshot.regions):
            self._select(event.index)

    def on_virtual_table_row_selected(self, event: VirtualTable.RowSelected) -> None:
        self.action_hex()

    def on_tower_selected(self, event: Tower.Selected) -> None:
        if not self.table.move_to_index(event.index):
            self.table.set_filter("")
            self.table.move_to_index(event.index)
        self._select(event.index)

    def action_hex(self) -> None:
        if self.snapshot is not None and self.table.row_count:
            index = self.table.index_of(self.table.cursor_row)
            self.post_message(self.OpenHex(self.snapshot.regions[index]))


VIEW = ViewSpec(
    id="map", title="Map", key="m", factory=MemoryMapView,
    teaches="the layout of the address space: tower + /proc/PID/maps, one block a mapping")
