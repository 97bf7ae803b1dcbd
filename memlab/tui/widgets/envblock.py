"""Env block view: the bytes between env_start and env_end, as hex and text.

Teaches: the environment is one run of `NAME=value\\0` strings that execve copied to
the top of [stack], right above the argument strings; /proc/PID/environ reads exactly
these bytes; unsetenv leaves them in place (libc edits only its pointer array) while
scrub overwrites them — changed bytes are highlighted after each refresh.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from memlab.model import EnvBlock, Snapshot
from memlab.render.safe import printable
from memlab.secrets import Masker
from memlab.sizes import human_size
from memlab.tui.diff import env_changed_addresses
from memlab.tui.views import ViewSpec
from memlab.tui.widgets.base import SnapshotView
from memlab.tui.widgets.hexfmt import bytes_per_row_for, hex_line, row_width
from memlab.tui.widgets.virtual import VirtualLines, VirtualTable

NAME_STYLES = ("bold cyan", "bold green")
VALUE_STYLES = ("cyan", "green")
CHANGED = "bold white on red"


def entry_spans(env: EnvBlock) -> list[tuple[int, int, int]]:
    """(start, equals, end) absolute addresses of each entry's NAME=value string
    (end excludes the NUL); equals == end when there is no '='."""
    spans: list[tuple[int, int, int]] = []
    pos = 0
    for entry in env.entries:
        if entry.address is not None:
            pos = entry.address - env.start
        start = env.start + pos
        eq = entry.raw.find(b"=")
        end = start + len(entry.raw)
        spans.append((start, start + eq if eq >= 0 else end, end))
        pos += len(entry.raw) + 1
    return spans


def verdict_text(ok: bool | None, yes: str, no: str, unknown: str) -> Text:
    if ok is None:
        return Text("? " + unknown, style="yellow")
    return Text("✓ " + yes, style="green") if ok else Text("✗ " + no, style="bold red")


def place_in_stack(snap: Snapshot) -> Text:
    """A few lines: where the block sits between the top of [stack] and sp."""
    env, st = snap.env, snap.stat
    t = Text()
    region = snap.region_at(env.start) if env else None
    if region is None:
        t.append("the env block is not inside any mapping read\n", style="red")
        return t
    rows = [
        (f"top of {printable(region.label)}", f"0x{region.end:x}", ""),
    ]
    if env.distance_to_stack_top is not None:
        rows.append(("", f"↕ {env.distance_to_stack_top} bytes",
                     "AT_EXECFN path + end marker"))
    rows.append(("env block", f"0x{env.start:x}–0x{env.end:x}",
                 f"{env.end - env.start} bytes, {len(env.entries)} "
                 f"string{'s' if len(env.entries) != 1 else ''}"))
    if not st.masked:
        gap = env.distance_to_args
        rows.append(("argument strings", f"0x{st.arg_start:x}–0x{st.arg_end:x}",
                     "adjacent to the env block" if gap == 0 else
                     f"{gap} bytes below the env block" if gap is not None else ""))
        rows.append(("sp (argc) …", f"0x{st.start_stack:x}",
                     "then argv[] envp[] auxv"))
    for what, where, note in rows:
        t.append(f"  {what:<17}", style="bold")
        t.append(f"{where:<31}")
        t.append(note + "\n", style="dim")
    return t


class EnvBlockView(SnapshotView):
    """The summary, the block as hex and one row per entry: both virtual (a process
    may pass 100,000 variables), each line formatted when it is drawn."""

    def compose(self) -> ComposeResult:
        yield Static(id="env-summary")
        yield VirtualLines(id="env-hex")
        yield VirtualTable("address", "bytes", "name", "value", id="env-entries")

    def render_snapshot(self) -> None:
        snap = self.snapshot
        summary = self.query_one("#env-summary", Static)
        table = self.query_one("#env-entries", VirtualTable)
        env = snap.env
        self._secret: dict[int, bool] = {}
        if env is None:
            table.clear()
            summary.update(Text("no env block: " + printable("; ".join(snap.warnings) or
                                                             "it could not be read"),
                                style="yellow"))
            self.query_one("#env-hex", VirtualLines).set_lines(0, None, 0)
            return
        self._changed = env_changed_addresses(self.previous, snap)
        self._changed_sorted = sorted(self._changed)
        # secret-looking values, argv secrets and the pod's Secret values (memlab.secrets)
        self._masker = Masker.for_snapshot(snap, self.reveal)
        # known secret values anywhere in the block, as sorted absolute [start, end) spans
        self._value_masks = sorted((env.start + lo, env.start + hi)
                                   for lo, hi in self._masker.byte_spans(env.raw))
        self._spans = entry_spans(env)
        self._starts = [start for start, _, _ in self._spans]
        t = Text()
        t.append(f"env block {human_size(env.end - env.start)} in "
                 f"{printable(env.region or '?')}  ",
                 style="bold")
        t.append_text(verdict_text(env.matches_proc_environ,
                                   "matches /proc/PID/environ",
                                   "differs from /proc/PID/environ",
                                   "/proc/PID/environ not readable"))
        if self._changed:
            t.append(f"  {len(self._changed)} byte(s) changed since last refresh",
                     style=CHANGED)
        t.append("\n")
        t.append_text(place_in_stack(snap))
        summary.update(t)
        self._render_hex()
        table.set_rows(len(env.entries), self._entry_row)

    def _is_secret(self, i: int) -> bool:
        """Entry i's value is masked (memlab.secrets.Masker), judged once, when drawn."""
        if i not in self._secret:
            entry = self.snapshot.env.entries[i]
            self._secret[i] = (entry.has_equals and
                               self._masker.env_value(entry.name, entry.value) != entry.value)
        return self._secret[i]

    def _entry_row(self, i: int) -> tuple[Text, ...]:
        entry = self.snapshot.env.entries[i]
        start, _, end = self._spans[i]
        n = bisect_left(self._changed_sorted, start)  # a changed byte in [start, end]?
        changed = n < len(self._changed_sorted) and self._changed_sorted[n] <= end
        style = CHANGED if changed else ""
        value = (self._masker.env_value(entry.name, entry.value)
                 if entry.has_equals else "(no '=')")
        return (Text(f"0x{start:x}", style=style),
                Text(str(len(entry.raw)), justify="right"),
                Text(printable(entry.name), style=NAME_STYLES[i % 2]),
                Text(printable(value), style=style))

    def _byte_style(self, addr: int) -> str | None:
        """The colour of the byte at addr: its entry's name or value, or changed."""
        if addr in self._changed:
            return CHANGED
        i = bisect_right(self._starts, addr) - 1
        if i < 0:
            return None
        start, eq, end = self._spans[i]
        if start <= addr < eq:
            return NAME_STYLES[i % 2]
        if eq < addr < end:
            return VALUE_STYLES[i % 2]
        return None

    def _masked(self, addr: int) -> bool:
        if self.reveal:
            return False
        i = bisect_right(self._starts, addr) - 1
        if i < 0:
            return False
        _, eq, end = self._spans[i]
        if eq < addr < end and self._is_secret(i):
            return True
        n = bisect_right(self._value_masks, (addr, float("inf"))) - 1  # a copy of a value
        return n >= 0 and self._value_masks[n][0] <= addr < self._value_masks[n][1]

    def _render_hex(self) -> None:
        env = self.snapshot.env
        width = self.size.width or 80
        per_row = bytes_per_row_for(width - 2)
        base = env.start - env.start % per_row
        top = env.start + len(env.raw)

        def line_at(y: int) -> Text:
            addr = base + y * per_row
            lo, hi = max(addr, env.start), min(addr + per_row, top)
            # the leading partial row is padded so columns line up with their addresses
            data = b"\0" * (lo - addr) + bytes(env.raw[lo - env.start:hi - env.start])
            return hex_line(addr, data, per_row, style_at=self._byte_style,
                            masked_at=self._masked, skip=lo - addr)

        self.query_one("#env-hex", VirtualLines).set_lines(
            -(-(top - base) // per_row), line_at, row_width(per_row))

    def on_resize(self) -> None:
        if self.snapshot is not None and self.snapshot.env is not None:
            self._render_hex()


VIEW = ViewSpec(
    id="env", title="Env", key="e", factory=EnvBlockView,
    teaches="the env block at the top of [stack]: each NAME=value string, its address, "
            "the /proc/PID/environ cross-check, what setenv/unsetenv/scrub change")
