"""Memory map view: the tower (highest address on top) beside the regions table.

Teaches: a process is a handful of mappings with big holes between them; the program's
text/data sit low, the heap just above them (brk), libraries and mmaps high, the stack
at the very top; and what each line of /proc/PID/maps says.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Static

from memlab.model import Region
from memlab.render.safe import printable
from memlab.tui.diff import human_size, region_changes
from memlab.tui.views import ViewSpec
from memlab.tui.widgets.base import SnapshotView
from memlab.tui.widgets.tower import Tower, kind_style
from memlab.tui.widgets.virtual import VirtualTable

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


class MemoryMapView(SnapshotView):
    BINDINGS = [Binding("x", "hex", "Hex of region")]

    class OpenHex(Message):
        def __init__(self, region: Region) -> None:
            super().__init__()
            self.region = region

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Tower(id="tower")
            with Vertical(id="map-right"):
                # path before end: on 80 columns the name matters more than the end
                yield VirtualTable("start", "size", "perms", "kind", "path", "end",
                                   id="regions", zebra_stripes=True)
                yield Static(id="region-details")

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#regions", VirtualTable)

    def render_snapshot(self) -> None:
        snap = self.snapshot
        changes = region_changes(self.previous, snap)
        marks = {i: changes[(r.start, r.path)].change
                 for i, r in enumerate(snap.regions) if (r.start, r.path) in changes} \
            if changes else {}
        self._marks = marks
        tower = self.query_one(Tower)
        keep = self.table.cursor_row if self.table.row_count else None
        tower.set_snapshot(snap, marks)
        self.table.set_rows(len(snap.regions), self._region_row)
        if snap.regions:
            row = keep if keep is not None and keep < len(snap.regions) else self._default_row()
            self.table.move_cursor(row=row)
            self._select(row)

    def _region_row(self, i: int) -> tuple[Text, ...]:
        r = self.snapshot.regions[i]
        style = "bold yellow" if i in self._marks else ""
        return (Text(f"{r.start:x}", style=style),
                Text(human_size(r.size), justify="right"), Text(r.perms),
                Text(r.kind, style=kind_style(r.kind)),
                # Text: "[heap]" must not be read as markup; a path may hold ESC
                Text(printable(r.label), style=style),
                Text(f"{r.end:x}", style=style))

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
        if self.snapshot is not None and event.cursor_row is not None \
                and event.cursor_row < len(self.snapshot.regions):
            self._select(event.cursor_row)

    def on_virtual_table_row_selected(self, event: VirtualTable.RowSelected) -> None:
        self.action_hex()

    def on_tower_selected(self, event: Tower.Selected) -> None:
        self.table.move_cursor(row=event.index)
        self._select(event.index)

    def action_hex(self) -> None:
        if self.snapshot is not None and self.table.row_count:
            self.post_message(self.OpenHex(self.snapshot.regions[self.table.cursor_row]))


VIEW = ViewSpec(
    id="map", title="Map", key="m", factory=MemoryMapView,
    teaches="the layout of the address space: tower + /proc/PID/maps, one block a mapping")
