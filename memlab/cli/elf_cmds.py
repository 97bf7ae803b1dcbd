"""memlab elf | layout | heap | aslr: the ELF file next to the memory it became."""

from __future__ import annotations

import argparse
import sys

from memlab.cli._output import (CorePath, add_json_flag, console, pid_arg, pid_or_core_arg,
                                print_json)
from memlab.errors import UsageError
from memlab.render.safe import printable, printable_lines

ELF_EPILOG = """\
examples:
  memlab elf 1234                 ELF type, load bias (checked), PT_LOAD -> maps lines,
                                  main/_end/etext... at run time
  memlab elf 1234 --json          the same as JSON (the snapshot's "elf" section)
  memlab elf /usr/bin/sleep       just the file: headers, segments, symbols

A stripped binary (no .symtab) falls back to .dynsym and the section headers; what
neither can tell (usually `main`) is listed as missing.
"""

LAYOUT_EPILOG = """\
examples:
  memlab layout 1234                   the address space, highest address first
  memlab layout 1234 --svg layout.svg  the same picture as an SVG (slides, docs)
  memlab layout 1234 --json            the blocks as JSON
  memlab launch --keep sleeper         then: memlab layout PID

Reading it: the kernel sits above 0xffff800000000000; user space ends at 0x7ffffffff000.
[stack] holds the strings execve copied (executable path, env block, argv) at its top,
then the argc/argv[]/envp[]/auxv[] table at the initial stack pointer.  Below a large
unmapped gap: the mmap area (libraries, [vdso]), then [heap] (start_brk), then the
executable's data/bss, read-only data and text.  Unmapped gaps are compressed to one
line; the size column tells how big they are.  Colour on a terminal; plain when piped
or NO_COLOR is set.
"""

HEAP_EPILOG = """\
examples:
  memlab heap 1234          &_end, start_brk, brk, gaps, and why they differ
  memlab heap 1234 --json

start_brk = PAGE_ALIGN(&_end) (+ up to 1 GiB of brk randomisation with ASLR on
x86_64 6.x).  A static-PIE has its heap BELOW the binary.
"""

ASLR_EPILOG = """\
examples:
  memlab aslr sleeper --runs 5                 which bases move, and by how many bits
  memlab aslr sleeper --runs 5 --no-aslr       every column constant
  memlab aslr sleeper-static-pie               the heap lies below the binary
  memlab aslr /usr/bin/sleep --json -- 60      any executable (held at exec)

Samples are run until they report ("ready"); other programs are stopped at their first
instruction, measured and killed.  Progress goes to stderr.
"""


def register(sub) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("elf", help="ELF file vs memory: load bias, segments, symbols",
                       description="Correlate the executable's ELF file with the "
                       "process's memory map.", epilog=ELF_EPILOG, formatter_class=fmt)
    p.add_argument("target", metavar="PID|FILE", help="a process id, or an ELF file path")
    add_json_flag(p)
    p.set_defaults(func=cmd_elf)

    p = sub.add_parser("layout", help="draw the address space (text or SVG)",
                       description="Draw a process's address space from the highest "
                       "address down.", epilog=LAYOUT_EPILOG, formatter_class=fmt)
    p.add_argument("pid", type=pid_or_core_arg, metavar="PID|CORE")
    p.add_argument("--svg", metavar="FILE", help="also write the picture as SVG to FILE")
    add_json_flag(p)
    p.set_defaults(func=cmd_layout)

    p = sub.add_parser("heap", help="where the heap starts, with the evidence",
                       description="&_end, start_brk, brk and the first allocation.",
                       epilog=HEAP_EPILOG, formatter_class=fmt)
    p.add_argument("pid", type=pid_arg, metavar="PID")
    add_json_flag(p)
    p.set_defaults(func=cmd_heap)

    p = sub.add_parser("aslr", help="launch a program N times: which addresses move",
                       description="The ASLR experiment: per run the bases of text, "
                       "heap, mmap area, stack, vdso and env block; per column the bits "
                       "that changed.", epilog=ASLR_EPILOG, formatter_class=fmt)
    p.add_argument("target", metavar="TARGET", help="a sample name or an executable")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="-- ARGS",
                   help="arguments for the target (after --)")
    _aslr_options(p)
    p.set_defaults(func=cmd_aslr)


def _aslr_options(p) -> None:
    from memlab.aslr import MAX_RUNS
    from memlab.cli._output import count_arg

    p.add_argument("--runs", "-n", type=count_arg(MAX_RUNS), default=5,
                   help=f"how many launches (5; at most {MAX_RUNS})")
    p.add_argument("--no-aslr", action="store_true",
                   help="launch with ADDR_NO_RANDOMIZE (like setarch -R)")
    add_json_flag(p)


def _split_aslr_args(args) -> list[str]:
    """Options may follow TARGET (`memlab aslr sleeper --runs 5`): argparse's REMAINDER
    keeps them in args.args, so parse what comes before `--` here; what follows `--` is
    the target's argv."""
    from memlab.errors import UsageError

    rest = list(args.args)
    extra: list[str] = []
    if "--" in rest:
        i = rest.index("--")
        rest, extra = rest[:i], rest[i + 1:]
    if rest:
        from memlab.cli import Parser

        mini = Parser(prog="memlab aslr", add_help=False, exit_on_error=False)
        _aslr_options(mini)
        try:
            ns, unknown = mini.parse_known_args(rest, namespace=argparse.Namespace(
                runs=args.runs, no_aslr=args.no_aslr, json=args.json))
        except argparse.ArgumentError as err:  # a bad --runs after TARGET
            raise UsageError(f"aslr: {err} (see `memlab aslr --help`)") from None
        if unknown:
            raise UsageError(f"aslr: unexpected {' '.join(unknown)!r} (target arguments "
                             "go after --)")
        args.runs, args.no_aslr, args.json = ns.runs, ns.no_aslr, ns.json
    return extra


# ---------------------------------------------------------------------------- elf
def cmd_elf(args) -> int:
    from memlab.elf import load

    if not (args.target.isascii() and args.target.isdigit()):  # digits: a PID (0: below)
        info = load(args.target)
        if args.json:
            print_json(info.to_dict())
        else:
            console().print(_file_text(info, None), end="", markup=False)
        return 0
    from memlab.elf.memorymap import snapshot_and_map

    try:
        pid = pid_arg(args.target)
    except argparse.ArgumentTypeError as err:
        raise UsageError(str(err)) from None
    snap, emap = snapshot_and_map(pid)
    if args.json:
        print_json(emap.to_dict(snap.regions))
        return 0
    console().print(elf_map_text(emap, snap), end="", markup=False)
    return 0


def _lines(lines: list[str]) -> str:
    """The text to print: each line escaped on its own (symbol and section names, paths
    and notes come from the ELF file or the process), so a newline in a name stays
    visible as \\x0a instead of faking a line."""
    return "".join(printable(line) + "\n" for line in lines)


def _file_text(info, bias: int | None) -> str:
    return _lines(_file_lines(info, bias))


def _file_lines(info, bias: int | None) -> list[str]:
    from memlab.model import hexaddr

    lines = [f"file      {info.path}",
             f"type      {info.e_type} ({info.kind}), {info.machine}, entry "
             f"{hexaddr(info.e_entry)}",
             f"interp    {info.interp or '(none: static, the kernel jumps to the entry)'}",
             f"symbols   {'.symtab' if info.has_symtab else 'stripped (no .symtab)'}"
             f"{', .dynsym' if info.has_dynsym else ''}"]
    lines.append("")
    lines.append("program headers (PT_LOAD are mapped):")
    for s in info.segments:
        lines.append(f"  {s.type:<14} {s.perms} vaddr {s.vaddr:#10x}  filesz {s.filesz:#8x}"
                     f"  memsz {s.memsz:#8x}")
    lines.append("")
    lines.append("symbols" + (" (value + bias = run-time address):" if bias is not None
                              else ":"))
    for s in info.symbols:
        rt = f" -> {s.value + bias:#x}" if bias is not None else ""
        lines.append(f"  {s.name:<12} {s.value:#10x}{rt}  ({s.source})")
    if info.missing:
        lines.append(f"  unknown: {', '.join(info.missing)} (not in .symtab/.dynsym, "
                     "not derivable from the section headers)")
    return lines


def elf_map_text(emap, snap) -> str:
    from memlab.model import hexaddr

    if not emap.available:
        lines = [f"pid {emap.pid}: {emap.reason}"]
        st = snap.stat
        if not st.masked:
            lines.append(f"  stat: code {hexaddr(st.start_code)}-{hexaddr(st.end_code)}, "
                         f"data {hexaddr(st.start_data)}-{hexaddr(st.end_data)}, "
                         f"start_brk {hexaddr(st.start_brk)}")
        for r in snap.regions:
            if r.kind in ("text", "rodata", "data", "bss"):
                lines.append(f"  {r.start:#x}-{r.end:#x} {r.perms} {r.kind:<6} {r.label}")
        return _lines(lines)
    info, bias = emap.info, emap.bias
    out = [f"pid {emap.pid}" + (" (executable deleted since exec)" if emap.deleted else "")]
    out.extend(_file_lines(info, bias.value))
    out.append("")
    check = {True: "consistent", False: "MISMATCH", None: "not cross-checked"}[bias.consistent]
    out.append(f"load bias {hexaddr(bias.value)} from {bias.source}: AT_ENTRY - e_entry = "
               f"{hexaddr(bias.from_entry)}, AT_PHDR - phdr = {hexaddr(bias.from_phdr)}, "
               f"maps = {hexaddr(bias.from_maps)} -> {check}")
    out.append("")
    out.append("PT_LOAD -> maps lines  [PAGE_DOWN(vaddr+bias), PAGE_ALIGN(vaddr+memsz+bias))")
    for m in emap.segments:
        out.append(f"  {m.segment.perms} {m.start:#x}-{m.end:#x}  {m.verdict}")
        for r in m.regions:
            out.append(f"      {r.start:#x}-{r.end:#x} {r.perms} {r.label}")
        for n in m.notes:
            out.append(f"      note: {n}")
    if emap.libc is not None and emap.libc.environ is not None:
        out.append("")
        out.append(f"environ   {hexaddr(emap.libc.environ)} in {emap.libc.path}"
                   + (f" -> {hexaddr(emap.libc.environ_value)} (libc's current envp)"
                      if emap.libc.environ_value is not None else ""))
        if emap.libc.note:
            out.append(f"          {emap.libc.note}")
    for w in emap.warnings:
        out.append(f"warning: {w}")
    return _lines(out)


# ---------------------------------------------------------------------------- layout
def cmd_layout(args) -> int:
    from memlab.collect import snapshot
    from memlab.elf.attach import with_elf
    from memlab.render.layout import blocks_to_json, build_blocks
    from memlab.render.layout_svg import render_svg
    from memlab.procfs.sysctl import read_mmap_min_addr
    from memlab.render.layout_text import WIDTH, render_rich

    if isinstance(args.pid, CorePath):  # no ELF area: it reads the live process's exe
        from memlab.core.snapshot import core_snapshot

        snap = core_snapshot(args.pid)
    else:  # memory=True: each block says how much of it is resident (smaps Rss)
        snap = snapshot(args.pid, extend=with_elf, memory=True)
    blocks = build_blocks(snap, read_mmap_min_addr())
    if args.svg is not None:  # --svg '' is an error (open fails), not "no SVG"
        title = f"memlab layout: pid {snap.pid} {snap.exe or ''}"  # render_svg escapes
        try:
            with open(args.svg, "w", encoding="utf-8") as f:
                f.write(render_svg(blocks, title))
        except OSError as err:
            from memlab.errors import UsageError

            raise UsageError(f"cannot write the SVG: {err.strerror}", path=args.svg) from err
    if args.json:
        print_json({"schema": "memlab.layout/1", "source": snap.extra.get("source", "process"),
                    "pid": snap.pid, "exe": snap.exe,
                    "blocks": blocks_to_json(blocks), "warnings": list(snap.warnings)})
        return 0
    con = console()
    con.print(printable(f"pid {snap.pid}  {snap.exe or '(exe unknown)'}"), highlight=False,
              markup=False)
    # as wide as the output (memlab.cli._output: $COLUMNS, the terminal, or 100 piped)
    con.print(render_rich(blocks, max(con.width, WIDTH)), end="", markup=False)
    for w in snap.warnings:
        con.print(printable(f"warning: {w}"), style="yellow", highlight=False, markup=False)
    if args.svg:
        print(f"SVG written to {args.svg}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------- heap
def heap_text(ev) -> str:
    from memlab.model import hexaddr
    from memlab.sizes import human_size

    def sz(n):
        return "?" if n is None else f"{n:#x} ({'-' if n < 0 else ''}{human_size(abs(n))})"

    lines = [
        f"&_end        {hexaddr(ev.end_symbol) or 'unknown'}"
        + (f"   ({ev.end_source} + bias)" if ev.end_source else ""),
        f"start_brk    {hexaddr(ev.start_brk) or 'hidden'}   (/proc/PID/stat field 47)",
        f"brk now      {hexaddr(ev.brk) or '?'}   ({ev.brk_source or 'unknown'})",
        f"first alloc  {hexaddr(ev.first_alloc) or 'unknown'}"
        + (f"   ({ev.first_alloc_source})" if ev.first_alloc_source else ""),
        "",
        f"start_brk - &_end          {sz(ev.end_to_start_brk)}",
        f"  page round-up            {sz(ev.page_round_up)}",
        f"  randomisation            {sz(ev.randomisation)}",
        f"first alloc - start_brk    {sz(ev.first_alloc_offset)}",
        f"heap size (brk-start_brk)  {sz(ev.heap_size)}",
    ]
    if ev.chunks:
        lines.append("")
        lines.append("first malloc chunks from start_brk (glibc headers read from memory):")
        for c in ev.chunks:
            what = ("top: free space up to brk" if c.is_top else
                    "glibc's tcache" if c.address == ev.start_brk
                    and c.size == 0x290 else "chunk")
            lines.append(f"  {c.address:#x}  size {c.size:#8x}  user {c.user:#x}  {what}")
    if ev.heap_below_binary:
        lines.append(f"the heap is BELOW the binary (binary at {hexaddr(ev.exe_low)})")
    lines.append("")
    import textwrap

    lines.extend(textwrap.wrap(f"why: {ev.explanation}", 79, subsequent_indent="     "))
    for n in ev.notes:
        lines.extend(textwrap.wrap(f"note: {n}", 79, subsequent_indent="      "))
    return _lines(lines)


def cmd_heap(args) -> int:
    from memlab.elf.memorymap import snapshot_and_map

    snap, emap = snapshot_and_map(args.pid, walk_heap=True)
    ev = emap.heap
    if args.json:
        d = ev.to_dict()
        d.update(schema="memlab.heap/1", pid=snap.pid, elf_available=emap.available,
                 elf_reason=emap.reason)
        print_json(d)
        return 0
    con = console()
    con.print(printable(f"pid {snap.pid}  {snap.exe or ''}"), highlight=False, markup=False)
    if not emap.available:
        con.print(printable(f"({emap.reason})"), highlight=False, markup=False)
    con.print(heap_text(ev), end="", highlight=False, markup=False)
    return 0


# ---------------------------------------------------------------------------- aslr
def cmd_aslr(args) -> int:
    from memlab.aslr import render_text, run_experiment

    extra = _split_aslr_args(args)
    show = sys.stderr.isatty()  # "\rrun i/n" piped into a log is one unreadable line

    def progress(i: int, n: int) -> None:
        if show:
            print(f"\rrun {i}/{n}", end="" if i < n else "\n", file=sys.stderr, flush=True)

    res = run_experiment(args.target, args.runs, no_aslr=args.no_aslr, args=tuple(extra),
                         progress=progress)
    if args.json:
        print_json(res.to_dict())
        return 0
    # the target's path and the notes: escaped
    console().print(printable_lines(render_text(res)), end="", highlight=False,
                    markup=False)
    return 0
