"""The address-space picture: one block model, several renderers.

`build_blocks(snapshot)` turns a Snapshot (and its ELF area, Snapshot.elf, when
memlab.elf.attach added it) into a list of Blocks, HIGHEST address first, the way the classic
diagram is drawn: kernel space and [vsyscall], the non-canonical hole, [stack] (with the
strings execve copied to its top, then auxv/envp/argv and the stack pointer), the unmapped
gap, the mmap area and libraries, [heap], the executable's bss/data/rodata/text, and the
`vm.mmap_min_addr` guard with the unmapped space above it.  Unmapped gaps become
compressed blocks labelled with their size.

The model (Block, Marker) is plain data: the CLI renders it as text
(memlab.render.layout_text: 80 columns, plain or rich) or as SVG
(memlab.render.layout_svg); the TUI draws its own tower from the same list.

Labels and notes hold strings from the process (file names, AT_EXECFN, ELF section
names): the blocks keep them as they are (JSON escapes them itself); every renderer
escapes them (memlab.render.safe) — the terminal must not obey them, and XML does not
allow most control characters at all, not even as &#27;.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any, Iterator

from memlab.kernel.abi import ADDR_END, CANONICAL_USER_END, KERNEL_START, TASK_SIZE_MAX
from memlab.model import Region, Snapshot, hexaddr
from memlab.sizes import human_size


# kind -> one-line "what it is" when nothing more specific is known
WHAT = {
    "text": "code (.text)",
    "rodata": "read-only data",
    "data": "initialised globals (.data)",
    "bss": ".bss past the file (zeroed)",
    "heap": "brk heap: malloc's small blocks",
    "stack": "main thread stack: grows down",
    "vdso": "kernel code: fast gettimeofday",
    "vvar": "vDSO data (unreadable)",
    "vsyscall": "legacy fixed syscall page",
    "lib": "shared library",
    "anon": "anonymous mmap",
    "file": "mapped file",
    "thread-stack": "a thread's stack: grows down",
}


@dataclass(frozen=True)
class Marker:
    """A named address inside (or at the edge of) a block: sp, _end, start_brk, ..."""

    address: int
    label: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"address": hexaddr(self.address), "label": self.label, "note": self.note}


@dataclass(frozen=True)
class Block:
    """[start, end) drawn as one box.  `kind` is a Region kind (text, heap, stack ...) or
    one of: gap, kernel, noncanonical, reserved, part (a piece inside a parent block)."""

    start: int
    end: int
    kind: str
    label: str
    what: str = ""
    perms: str | None = None
    markers: tuple[Marker, ...] = ()
    children: tuple["Block", ...] = ()  # highest first, inside [start, end)
    lines: int = 1  # how many maps lines it stands for
    resident: int | None = None  # bytes in RAM (smaps Rss), None when not measured

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def is_gap(self) -> bool:
        return self.kind in ("gap", "noncanonical", "reserved")

    def to_dict(self) -> dict[str, Any]:
        return {"start": hexaddr(self.start), "end": hexaddr(self.end), "size": self.size,
                "kind": self.kind, "label": self.label, "what": self.what,
                "perms": self.perms, "maps_lines": self.lines,
                "markers": [m.to_dict() for m in self.markers],
                "children": [c.to_dict() for c in self.children],
                "resident": self.resident}


def walk(blocks: list[Block], depth: int = 0) -> Iterator[tuple[int, Block]]:
    """(depth, block) for every block and child, in drawing order (highest first)."""
    for b in blocks:
        yield depth, b
        yield from walk(list(b.children), depth + 1)


# --------------------------------------------------------------------------- model
class _ElfFacts:
    """What the layout needs from the ELF area (Snapshot.elf): runtime addresses of the
    symbols and allocated sections (link-time address + load bias)."""

    def __init__(self, elf):
        self.ok = bool(elf) and elf.available
        self.symbols: dict[str, int] = {}
        self.sections: list[tuple[int, int, str]] = []
        self.heap_below_binary = bool(elf) and elf.heap is not None \
            and elf.heap.heap_below_binary
        self.kind = elf.info.kind if self.ok else None
        bias = elf.bias.value if self.ok and elf.bias is not None else None
        if bias is None:
            return
        for sym in elf.info.symbols:
            self.symbols.setdefault(sym.name, sym.value + bias)
        for s in elf.info.sections:
            if s.alloc and s.size:
                self.sections.append((s.addr + bias, s.addr + bias + s.size, s.name))

    def sections_in(self, start: int, end: int) -> list[str]:
        return [n for a, e, n in sorted(self.sections) if a < end and e > start]

    def first(self, *names: str) -> int | None:
        return next((self.symbols[n] for n in names if n in self.symbols), None)


def _exe_label(r: Region, facts: _ElfFacts, exe_name: str) -> tuple[str, str]:
    names = facts.sections_in(r.start, r.end)
    shown = " ".join(names[:4]) + (" ..." if len(names) > 4 else "")
    if r.kind == "text":
        what = f"code: {shown}" if names else WHAT["text"]
    elif r.kind == "rodata":
        what = f"ro: {shown}" if names else (
            "ELF headers, symbols" if r.offset == 0 else "read-only data (.rodata)")
    elif r.kind == "data" and not r.perms.startswith("rw"):
        what = f"RELRO: {shown}" if names else "RELRO: .got .dynamic (now r/o)"
    elif r.kind == "data":
        what = f"rw: {shown}" if names else ".data (+ .bss in its last page)"
    else:  # bss
        what = f"anonymous: {shown}" if names else WHAT["bss"]
    return f"{r.kind} {exe_name}", what


def _stack_children(snap: Snapshot, r: Region) -> tuple[Block, ...]:
    """The pieces execve laid out at the top of the stack (fs/exec.c, fs/binfmt_elf.c
    create_elf_tables), highest first, tiling [r.start, r.end)."""
    st, stack, env = snap.stat, snap.stack, snap.env
    if st.masked or not r.contains(st.start_stack):
        return ()
    parts: list[tuple[int, int, str, str]] = []
    top = r.end
    execfn = stack.execfn_address if stack else None
    if env is not None and env.end <= top:
        # fs/exec.c: bprm->p = vm_end - sizeof(void *): 8 zero bytes at the very top,
        # below them the executable's path (AT_EXECFN), then env strings.
        parts.append((env.end, top, "execfn + end marker",
                      f"AT_EXECFN {stack.execfn!r}" if stack and stack.execfn else
                      "path of the executable, 8 zero bytes"))
        parts.append((env.start, env.end, "env strings (env block)",
                      f"/proc/PID/environ: {len(env.entries)} vars"))
    if st.arg_start and st.arg_end and st.arg_end <= (env.start if env else top):
        parts.append((st.arg_start, st.arg_end, "argv strings",
                      f"/proc/PID/cmdline: {len(snap.argv)} args"))
    if stack is not None:
        table_end = stack.auxv_address + (len(stack.auxv) + 1) * 16
        lowest_str = st.arg_start or (env.start if env else None)
        if lowest_str and table_end < lowest_str:
            parts.append((table_end, lowest_str, "random pad + AT_RANDOM",
                          "padding, 16 random bytes, platform"))
        parts.append((stack.sp, table_end, "argc, argv, envp, auxv",
                      f"{len(stack.argv)}+{len(stack.envp)} pointers, "
                      f"{len(stack.auxv)} auxv pairs"))
    elif execfn is None:
        parts.append((st.start_stack, st.arg_start or st.start_stack, "argc, argv, envp, auxv",
                      "pointer table (memory not read)"))
    parts = [p for p in parts if r.start <= p[0] < p[1] <= r.end]
    parts.sort(key=lambda p: -p[0])
    out: list[Block] = []
    cursor = r.end
    for s, e, label, what in parts:
        if e > cursor:  # overlapping guesses: keep the higher one
            continue
        if e < cursor:
            out.append(Block(e, cursor, "part", "alignment", "alignment / padding"))
        out.append(Block(s, e, "part", label, what))
        cursor = s
    low = cursor
    if low > r.start:
        out.append(Block(r.start, low, "part", "free stack below sp",
                         "used after start-up; grows down"))
    return tuple(out)


def _markers(snap: Snapshot, facts: _ElfFacts) -> list[Marker]:
    st = snap.stat
    ms: list[Marker] = []
    if not st.masked and st.start_stack:
        ms.append(Marker(st.start_stack, "sp at exec", "startstack: argc"))
    if snap.env is not None:
        ms.append(Marker(snap.env.start, "env_start", "the env block starts here"))
    main = facts.first("main")
    if main is not None:
        ms.append(Marker(main, "main", "ELF symbol + bias"))
    end = facts.first("_end", "end")
    if end is not None:
        ms.append(Marker(end, "_end", "end of .bss (ELF symbol + bias)"))
    if not st.masked and st.start_brk:
        ms.append(Marker(st.start_brk, "start_brk", "where the kernel put the heap"))
    return ms


def _group_libs(regions: list[Region]) -> list[list[Region]]:
    """Consecutive lines of the same shared library become one group (one block)."""
    groups: list[list[Region]] = []
    for r in regions:
        prev = groups[-1][-1] if groups else None
        if (prev is not None and r.kind == "lib" and prev.kind == "lib" and prev.path == r.path
                and prev.end == r.start):
            groups[-1].append(r)
        else:
            groups.append([r])
    return groups


def _gap(start: int, end: int, what: str = "") -> Block:
    return Block(start, end, "gap", "unmapped", what)


def build_blocks(snap: Snapshot, mmap_min_addr: int | None = None) -> list[Block]:
    """The picture's blocks, highest address first (see module doc).  `mmap_min_addr`:
    vm.mmap_min_addr (memlab.procfs.sysctl), the guard at the bottom; None when unknown."""
    facts = _ElfFacts(snap.elf)
    exe_name = os.path.basename((snap.exe or "exe").replace(" (deleted)", "")) or "exe"
    regions = sorted(snap.regions, key=lambda r: r.start)
    user = [r for r in regions if r.start < CANONICAL_USER_END]
    high = [r for r in regions if r.start >= CANONICAL_USER_END]
    markers = _markers(snap, facts)

    blocks: list[Block] = []  # built lowest first, reversed at the end
    lowest = user[0].start if user else TASK_SIZE_MAX
    blocks.extend(_low_area(lowest, mmap_min_addr))
    cursor = lowest
    for group in _group_libs(user):
        first, last = group[0], group[-1]
        if first.start > cursor:
            blocks.append(_gap(cursor, first.start, _gap_what(cursor, first.start, snap)))
        blocks.append(_region_block(snap, group, facts, exe_name))
        cursor = last.end
    top = max(cursor, TASK_SIZE_MAX)
    if top > cursor:
        blocks.append(_gap(cursor, top, "random gap above the stack"
                           if any(r.kind == "stack" for r in user) else ""))
    if top < CANONICAL_USER_END:
        blocks.append(Block(top, CANONICAL_USER_END, "gap", "guard page",
                            "last user page, never mapped"))
    blocks.append(Block(CANONICAL_USER_END, KERNEL_START, "noncanonical",
                        "non-canonical hole",
                        "not addresses: the CPU faults"))
    cursor = KERNEL_START
    kernel_parts = []
    for r in high:
        if r.start > cursor:
            kernel_parts.append(Block(cursor, r.start, "kernel", "kernel space",
                                      "kernel memory: no user access"))
        kernel_parts.append(_region_block(snap, [r], facts, exe_name))
        cursor = r.end
    if cursor < ADDR_END:
        kernel_parts.append(Block(cursor, ADDR_END, "kernel", "kernel space",
                                  "kernel memory: no user access"))
    blocks.extend(kernel_parts)
    blocks = [_with_markers(b, markers) for b in blocks]
    return blocks[::-1]


def _low_area(lowest: int, guard: int | None) -> list[Block]:
    """Below the first mapping, lowest first: only [0, vm.mmap_min_addr) is refused to
    mmap (mm/mmap.c: mmap_region -> security_mmap_addr, security/min_addr.c); the rest
    up to the first mapping is ordinary unmapped space a program could map."""
    if lowest <= 0:
        return []
    out: list[Block] = []
    guard = min(guard, lowest) if guard is not None else None
    if guard:
        out.append(Block(0, guard, "reserved", "mmap_min_addr guard",
                         "no mmap below it: NULL guard"))
    start = guard or 0
    if lowest > start:
        out.append(_gap(start, lowest, "free: a program could map it"
                        if guard is not None else
                        "vm.mmap_min_addr unread: its bottom is the guard"))
    return out


def _gap_what(lo: int, hi: int, snap: Snapshot) -> str:
    below = snap.region_at(lo - 1) if lo else None
    above = snap.region_at(hi)
    if above is not None and above.kind == "heap":
        return "brk randomisation gap"
    if below is not None and below.kind == "heap":
        return "room for the heap to grow (brk)"
    if above is not None and above.kind == "stack":
        return "stack gap; mmap_base below it"
    return ""


def _region_block(snap: Snapshot, group: list[Region], facts: _ElfFacts,
                  exe_name: str) -> Block:
    r = group[0]
    start, end = r.start, group[-1].end
    if r.kind in ("text", "rodata", "data", "bss"):
        label, what = _exe_label(r, facts, exe_name)
        if r.deleted:
            what = "(file deleted) " + what
    elif r.kind == "lib":
        label = os.path.basename(r.path or "") + (" (deleted)" if r.deleted else "")
        what = WHAT["lib"]
        if len(group) > 1:
            what = f"shared library, {len(group)} maps lines"
    elif r.kind == "file":
        label, what = os.path.basename(r.path or ""), f"mapped file {r.path}"
    elif r.kind == "heap" and facts.heap_below_binary:
        label, what = r.path or "[heap]", "brk heap BELOW the binary (static-PIE)"
    elif r.path and r.path.startswith("["):
        label, what = r.path, WHAT.get(r.kind, "kernel-named mapping")
    else:
        label, what = "anonymous", WHAT.get(r.kind, "")
    if r.kind == "thread-stack":
        tids = [t.tid for t in snap.threads if t.region_start == r.start]
        label = f"thread {tids[0]} stack" if tids else "thread stack"
    perms = r.perms if len(group) == 1 else None
    children: tuple[Block, ...] = ()
    if r.kind == "stack":
        children = _stack_children(snap, r)
    return Block(start, end, r.kind, label, what, perms, lines=len(group),
                 children=children, resident=_resident(snap, group))


def _resident(snap: Snapshot, group: list[Region]) -> int | None:
    """Bytes of the group in RAM (smaps Rss, Snapshot.memory), None when not measured."""
    if snap.memory is None:
        return None
    index = {r.start: i for i, r in enumerate(snap.regions)}
    values = [snap.memory.regions[index[r.start]] for r in group if r.start in index]
    if not values or any(m is None for m in values):
        return None
    return sum(m.rss for m in values)


def _with_markers(b: Block, markers: list[Marker]) -> Block:
    """Attach the markers that fall in [start, end) -- or exactly at `end` for one-past
    symbols like _end -- to the deepest block holding them."""
    if b.children:
        kids = tuple(_with_markers(c, markers) for c in b.children)
        b = replace(b, children=kids)
    mine = tuple(m for m in markers if b.start <= m.address < b.end and
                 not any(c.start <= m.address < c.end for c in b.children))
    if b.kind == "gap":
        mine = tuple(m for m in markers if b.start <= m.address < b.end)
    ends = tuple(m for m in markers if m.label == "_end" and m.address == b.end
                 and b.kind in ("data", "bss"))
    if mine or ends:
        b = replace(b, markers=tuple(sorted(mine + ends, key=lambda m: -m.address)))
    return b


def fmt_addr(addr: int) -> str:
    """Boundary address, 16 hex digits; the top of the address space (2^64, one past
    the last byte) is written as its last byte."""
    return f"{min(addr, ADDR_END - 1):#018x}"


def blocks_to_json(blocks: list[Block]) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks]


__all__ = ["Block", "Marker", "blocks_to_json", "build_blocks", "fmt_addr", "human_size",
           "walk"]
