"""rich renderables for the core commands (inspect, env, stack, launch, samples).

Imported only on the text path: `--json` never loads rich.  Every string that comes from
the process (paths, argv, env entries, comm) is wrapped in rich.text.Text, so `[heap]` or
`[bold]` in a value is shown as typed, never parsed as markup.
"""

from __future__ import annotations

from typing import Iterable

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from memlab.kernel.abi import (AT_EXECFN, AT_PLATFORM, AT_RANDOM, AT_STRING_TYPES,
                               STAT_ADDRESS_FIELDS)
from memlab.model import EnvBlock, InitialStack, ProcStat, Region, Snapshot, hexaddr, text
from memlab.render.safe import printable
from memlab.sizes import human_size
from memlab.secrets import Masker

# auxv types whose value is an address or a bit mask: shown in hex; the rest in decimal.
HEX_AUXV = frozenset({3, 7, 9, 15, 16, 24, 25, 26, 31, 33})

KIND_STYLE = {
    "text": "bold red", "rodata": "magenta", "data": "yellow", "bss": "yellow3",
    "heap": "green", "stack": "cyan", "vdso": "blue", "vvar": "blue", "vsyscall": "blue",
    "lib": "white", "file": "grey70", "anon": "grey50",
}


def ptext(s: str, style: str = "") -> Text:
    """A string from the process (env, argv, comm, path) as Text: control characters
    escaped (memlab.render.safe), no markup."""
    return Text(printable(s), style=style)


def verdict(value: bool | None, what: str = "") -> Text:
    if value is None:
        return Text("not checked" + (f" ({what})" if what else ""), style="yellow")
    if value:
        return Text("✓ match" + (f" ({what})" if what else ""), style="green")
    return Text("✗ DIFFERS" + (f" ({what})" if what else ""), style="bold red")


# A rich Table measures and wraps every cell: about 0.25 ms a row, 27 s for the 100,000
# entries of `memlab launch -i --env-file big.env sleeper`.  Past this many rows a table
# is printed as plain aligned text: the same columns and values, without wrapping or
# colour.  (JSON is never affected.)
RICH_ROW_LIMIT = 2000
_PAD_MAX = 40  # a longer cell widens its own line only, not the whole column


def _filled(t: Table, rows: Iterable[tuple]) -> Table | PlainLines:
    """t (its columns defined) with rows added; as plain text when there are too many."""
    rows = list(rows)
    if len(rows) <= RICH_ROW_LIMIT:
        for row in rows:
            t.add_row(*row)
        return t
    cells = [[c.plain if isinstance(c, Text) else str(c) for c in row] for row in rows]
    heads = [str(c.header) for c in t.columns]
    widths = [min(_PAD_MAX, max(len(h), *(len(r[i]) for r in cells)))
              for i, h in enumerate(heads)]
    right = [c.justify == "right" for c in t.columns]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if r else v.ljust(w)
                         for v, w, r in zip(values, widths, right)).rstrip()

    return PlainLines([f"{t.title}  ({len(rows)} rows, plain text past {RICH_ROW_LIMIT})",
                       line(heads), "  ".join("─" * w for w in widths), *map(line, cells)])


class PlainLines:
    """Lines handed to the terminal as they are: one Segment each, no markup, wrapping
    or cropping (a rich Text of 100,000 lines takes seconds to wrap: str.partition over
    the remaining text, line by line)."""

    def __init__(self, lines: list[str]):
        self.lines = lines

    def __rich_console__(self, console, options):
        from rich.segment import Segment

        for line in self.lines:
            yield Segment(line + "\n")


def _table(title: str | None = None, **kw) -> Table:
    # Two spaces between columns (collapse_padding): at 80 columns the maps table (two
    # 18-digit addresses) leaves the path 15 columns, where it used to overflow by one
    # column and rich cropped a character off every folded path line.
    return Table(title=title, box=box.SIMPLE_HEAD, title_justify="left",
                 title_style="bold", pad_edge=False,
                 collapse_padding=True, **kw)


def header(snap: Snapshot, masker: Masker | None = None) -> Text:
    """pid, exe, comm and argv (secret flags and values masked, memlab.secrets)."""
    masker = masker or Masker()
    t = Text()
    t.append(f"pid {snap.pid}", style="bold")
    t.append("  ")
    t.append(printable(snap.exe or "(exe unknown)"))
    t.append(f"  comm={snap.stat.comm!r} state={snap.stat.state} "
             f"uid={'?' if snap.uid is None else snap.uid}")
    if snap.argv:
        t.append("\nargv: ")
        t.append(" ".join(repr(a) if (" " in a or not a) else printable(a)
                          for a in masker.argv(snap.argv)))
    return t


def regions_table(regions: Iterable[Region]) -> Table | PlainLines:
    t = _table("memory map (/proc/PID/maps, kinds by memlab)")
    for col, just in (("start", "right"), ("end", "right"), ("size", "right"),
                      ("perms", "left"), ("kind", "left")):
        t.add_column(col, justify=just, no_wrap=True)
    t.add_column("path", overflow="fold")  # a min_width here made rich crop the row
    return _filled(t, ((hexaddr(r.start), hexaddr(r.end), human_size(r.size), r.perms,
                        Text(r.kind, style=KIND_STYLE.get(r.kind, "")), ptext(r.label))
                       for r in regions))


def stat_table(stat: ProcStat) -> Table:
    t = _table("layout fields of /proc/PID/stat")
    t.add_column("field")
    t.add_column("no.", justify="right")
    t.add_column("value", justify="right")
    for name, number in STAT_ADDRESS_FIELDS.items():
        if stat.masked:
            value = Text("hidden by the kernel", style="yellow")
        else:
            value = Text(hexaddr(getattr(stat, name)) or "")
        t.add_row(name, str(number), value)
    return t


def env_summary(env: EnvBlock) -> Text:
    t = Text()
    t.append("env block ", style="bold")
    t.append(f"{hexaddr(env.start)}..{hexaddr(env.end)} ({env.end - env.start} bytes, "
             f"{len(env.entries)} entries) in ")
    t.append(printable(env.region or "no mapping"))
    if env.distance_to_stack_top is not None:
        t.append(f"; {env.distance_to_stack_top} bytes below the top of the region")
    if env.distance_to_args is not None:
        t.append(f"; {env.distance_to_args} bytes above the argument strings")
    t.append("\nmemory vs /proc/PID/environ: ")
    t.append_text(verdict(env.matches_proc_environ))
    return t


def env_table(env: EnvBlock, reveal: bool, masker: Masker | None = None
              ) -> Table | PlainLines:
    masker = masker or Masker(reveal=reveal)
    t = _table("environment strings, as execve copied them")
    t.add_column("address", justify="right", no_wrap=True)
    t.add_column("+off", justify="right")
    t.add_column("len", justify="right")
    t.add_column("name")
    t.add_column("value")

    def value(e) -> Text:
        if e.has_equals:
            return ptext(masker.env_value(e.name, e.value))
        return Text("(no '=')", style="italic")

    return _filled(t, ((hexaddr(e.address), str((e.address or 0) - env.start),
                        str(len(e.raw)), ptext(e.name), value(e)) for e in env.entries))


def _string_rows(label: str, items, shown: list[str]):
    for i, (s, string) in enumerate(zip(items, shown)):
        yield Text(f"{label}[{i}]"), hexaddr(s.slot), hexaddr(s.address), ptext(string)


def stack_tables(st: InitialStack, reveal: bool, masker: Masker | None = None) -> Group:
    masker = masker or Masker(reveal=reveal)
    argv = masker.argv([text(s.string) for s in st.argv])
    envp = [masker.env_string(text(s.string)) for s in st.envp]
    ptrs = _table(f"initial stack at startstack {hexaddr(st.sp)}: argc = {st.argc}")
    ptrs.add_column("pointer")
    ptrs.add_column("slot", justify="right", no_wrap=True)
    ptrs.add_column("points to", justify="right", no_wrap=True)
    ptrs.add_column("string")
    ptrs = _filled(ptrs, [*_string_rows("argv", st.argv, argv),
                          *_string_rows("envp", st.envp, envp)])

    aux = _table(f"auxv on the stack at {hexaddr(st.auxv_address)}")
    aux.add_column("type")
    aux.add_column("value", justify="right")
    aux.add_column("note")
    for a in st.auxv:
        value = hexaddr(a.value) if a.type in HEX_AUXV else str(a.value)
        note = ""
        if a.type == AT_RANDOM and st.at_random is not None:
            note = "16 random bytes: " + st.at_random.hex()
        elif a.type == AT_PLATFORM:
            note = repr(st.platform)
        elif a.type == AT_EXECFN:
            note = repr(st.execfn)
        elif a.type in AT_STRING_TYPES:
            note = "string"
        aux.add_row(a.name, value, Text(note))

    info = Text()
    info.append("auxv on the stack vs /proc/PID/auxv: ")
    info.append_text(verdict(st.auxv_matches_proc))
    info.append(f"\nAT_EXECFN {hexaddr(st.execfn_address)} -> {st.execfn!r}")
    info.append(f"\nAT_PLATFORM {st.platform!r}; AT_RANDOM "
                f"{st.at_random.hex() if st.at_random else None}")
    if st.padding is not None:
        info.append(f"\nrandom padding below the argument strings: {st.padding} bytes "
                    "(arch_align_stack, includes 16-byte alignment)")
    if not st.complete:
        info.append("\nthe program changed its initial stack since execve: decode is "
                    "best effort (see warnings)", style="yellow")
    return Group(ptrs, aux, info)


def stack_layout(snap: Snapshot) -> Table | None:
    """The top of [stack] from high to low addresses, as execve built it
    (docs/kernel-facts.md#the-initial-stack; fs/exec.c copy_strings, fs/binfmt_elf.c
    create_elf_tables)."""
    st, stat, env = snap.stack, snap.stat, snap.env
    if st is None or stat.masked:
        return None
    region = snap.region_at(st.sp)
    rows: list[tuple[int | None, int | None, str]] = []
    if region is not None:
        rows.append((region.end, None, f"end of {region.label}"))
        rows.append((region.end - 8, 8, "8 zero bytes (bprm->p starts below them)"))
    if st.execfn_address:
        rows.append((st.execfn_address, len(st.execfn or "") + 1,
                     "executable path string (AT_EXECFN)"))
    rows.append((stat.env_start, stat.env_end - stat.env_start,
                 f"environment strings ({len(env.entries) if env else '?'}): "
                 "env_start..env_end"))
    rows.append((stat.arg_start, stat.arg_end - stat.arg_start,
                 f"argument strings ({st.argc}): arg_start..arg_end"))
    if st.padding is not None:
        rows.append((stat.arg_start - st.padding, st.padding,
                     "random padding (arch_align_stack) + alignment"))
    values = {a.type: a.value for a in st.auxv}
    if st.platform is not None and 15 in values:
        rows.append((values[15], len(st.platform) + 1, f"platform string {st.platform!r}"))
    if st.at_random is not None and 25 in values:
        rows.append((values[25], 16, "16 random bytes (AT_RANDOM: stack protector, "
                     "pointer guard)"))
    rows.append((st.auxv_address, 16 * (len(st.auxv) + 1),
                 f"auxv: {len(st.auxv)} (type, value) pairs + AT_NULL"))
    envp_base = st.sp + 8 * (st.argc + 2)
    rows.append((envp_base, 8 * (len(st.envp) + 1), f"envp[{len(st.envp)}] + NULL"))
    rows.append((st.sp + 8, 8 * (st.argc + 1), f"argv[{st.argc}] + NULL"))
    rows.append((st.sp, 8, f"argc = {st.argc}  <- startstack (stat field 28)"))
    t = _table("top of the stack, high to low addresses")
    t.add_column("address", justify="right", no_wrap=True)
    t.add_column("bytes", justify="right")
    t.add_column("what")
    for address, size, what in sorted(rows, key=lambda r: -(r[0] or 0)):
        t.add_row(hexaddr(address), "" if size is None else str(size), ptext(what))
    return t


def warnings_text(warnings: Iterable[str]) -> Text | None:
    """One `! ...` line per warning, escaped (warnings quote paths and errors)."""
    warnings = list(warnings)
    if not warnings:
        return None
    t = Text()
    for w in warnings:
        t.append("! ", style="bold yellow")
        t.append(printable(w) + "\n")
    return t


def checks_table(checks) -> Table:
    t = _table("the sample's own report vs what memlab derived from /proc")
    t.add_column("what")
    t.add_column("sample says", justify="right", no_wrap=True)
    t.add_column("memlab", justify="right", no_wrap=True)
    t.add_column("from")
    t.add_column("")
    # One row per env string drowned the table (41 rows in a plain shell, minutes of
    # rendering for 100,000): the matching ones become one summary row; a mismatch
    # keeps its own row.
    env_ok = [c for c in checks if c.what.startswith("env ") and c.ok]
    summarized = False
    for c in checks:
        if len(env_ok) > 1 and c.what.startswith("env ") and c.ok:
            if not summarized:
                t.add_row(Text(f"env strings ({len(env_ok)})"),
                          hexaddr(env_ok[0].reported),
                          Text(f"..{hexaddr(env_ok[-1].reported)}"),
                          Text(env_ok[0].source), verdict(True, "all"))
                summarized = True
            continue
        derived = c.derived if isinstance(c.derived, str) or c.derived is None \
            else hexaddr(c.derived)
        t.add_row(ptext(c.what), hexaddr(c.reported), Text(str(derived)), Text(c.source),
                  verdict(c.ok))
    return t


def samples_table(samples) -> Table:
    t = _table("bundled C samples (make samples builds them)")
    t.add_column("name")
    t.add_column("built")
    t.add_column("what it shows")
    for s in samples:
        t.add_row(Text(s.name),
                  Text("yes", style="green") if s.built else Text("no", style="red"),
                  Text(s.description))
    return t
