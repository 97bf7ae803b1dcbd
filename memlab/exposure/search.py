"""Secret search: every occurrence of a byte string in a process's readable memory.

This is what an attacker with ptrace-attach access (same uid and a dumpable process, or
root) can do, and what `unsetenv` cannot undo: a secret copied by the program (strdup,
a config struct, a log buffer) stays in the heap whatever happens to the env block.

Speed (docs/kernel-facts.md#reading-speed): one reused buffer of CHUNK + len(needle) - 1 bytes,
filled by MemReader.read_into (process_vm_readv straight into it, no allocation), then
bytearray.find over the filled part.  The last len(needle) - 1 bytes of each chunk are
carried to the front of the buffer, so a match that straddles two chunks is found once.

What a hit's context may show (memlab.secrets.Masker.byte_spans): the strings the
24-byte window cuts are judged whole (JUDGE bytes either side are read for that), so
searching the variable after a secret, or a piece of a secret, never prints the rest
of it; and every value the process holds as a secret (its env, argv, its pod's Secrets)
is masked wherever it lies, whole or in pieces.
"""

from __future__ import annotations

import re
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from memlab.analysis.classify import classify
from memlab.errors import MemlabError, UnreadableMemory, UsageError
from memlab.kernel.abi import MAX_ARG_STRLEN
from memlab.model import Region, hexaddr
from memlab.procfs._io import no_mm_reason
from memlab.procfs.maps import read_maps
from memlab.procfs.mem import ADDRESS_LIMIT, MemReader
from memlab.procfs.stat import read_stat
from memlab.secrets import MASK, Masker, merge_spans

CHUNK = 1 << 20
CONTEXT = 24  # bytes shown either side of a hit
# Bytes read either side of a hit to judge the strings its context cuts: a NAME=value
# is masked by what its whole string says (memlab.secrets.Masker.byte_spans), not by the
# 24 bytes shown.  A string that reaches past them is read again up to MAX_ARG_STRLEN
# (memlab.kernel.abi: the longest env string execve takes).
JUDGE = 4096
MAX_STRING = MAX_ARG_STRLEN
MAX_HITS = 10_000  # a one-byte needle must not exhaust memory

SCHEMA = "memlab.search/1"


@dataclass(frozen=True)
class Hit:
    address: int
    region: str  # the region's label ("[heap]", "/usr/lib/...", "(anonymous)")
    kind: str  # the region's kind (memlab.analysis.classify): stack, heap, anon ...
    offset: int  # address - region start
    before: bytes  # up to CONTEXT bytes before the hit (never crosses the region start)
    after: bytes  # up to CONTEXT bytes after it
    # [start, end) offsets into before + needle + after of the secret bytes, judged on
    # the whole strings around the hit and the process's known secret values; None:
    # judge the context alone (a Hit made by hand)
    masked: tuple[tuple[int, int], ...] | None = None

    def context(self, needle: bytes, reveal: bool = False) -> str:
        """One line of printable context; the needle and the secret bytes around it
        shown as *** unless reveal."""
        return render_context(self.before, needle, self.after, reveal, self.masked)

    def to_dict(self, needle: bytes, reveal: bool = False) -> dict[str, Any]:
        return {"address": hexaddr(self.address), "region": self.region,
                "kind": self.kind, "offset": self.offset,
                "context": self.context(needle, reveal)}


@dataclass
class SearchResult:
    pid: int
    needle: bytes
    hits: list[Hit] = field(default_factory=list)
    bytes_scanned: int = 0
    regions_scanned: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (region, why)
    truncated: bool = False  # stopped at max_hits
    elapsed: float = 0.0
    method: str = ""

    @property
    def throughput(self) -> float:
        """Bytes per second."""
        return self.bytes_scanned / self.elapsed if self.elapsed > 0 else 0.0

    def to_dict(self, reveal: bool = False) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "pid": self.pid, "needle_length": len(self.needle),
            "count": len(self.hits), "truncated": self.truncated,
            "hits": [h.to_dict(self.needle, reveal) for h in self.hits],
            "bytes_scanned": self.bytes_scanned, "regions_scanned": self.regions_scanned,
            "skipped": [{"region": r, "why": w} for r, w in self.skipped],
            "elapsed_ms": round(self.elapsed * 1000, 1),
            "throughput_mb_s": round(self.throughput / 1e6, 1), "method": self.method,
        }


# --------------------------------------------------------------------------- context
_NUL_RUN = re.compile(rb"\0{4,}")


def _printable(raw: bytes) -> str:
    """Bytes as one line: printable ASCII kept, NUL as `\\0` (a run of 4 or more as
    `\\0*N`), other bytes as `.`."""
    out = []
    pos = 0
    for m in _NUL_RUN.finditer(raw):
        out.append(_plain(raw[pos:m.start()]))
        out.append(f"\\0*{m.end() - m.start()}")
        pos = m.end()
    out.append(_plain(raw[pos:]))
    return "".join(out)


def _plain(raw: bytes) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7f else ("\\0" if b == 0 else ".") for b in raw)


def render_context(before: bytes, needle: bytes, after: bytes, reveal: bool,
                   masked: Sequence[tuple[int, int]] | None = None) -> str:
    """before[needle]after as one printable line.  Unless reveal, the needle is [***]
    and every masked span of before + needle + after (offsets; None: judged on these
    bytes alone) is ***."""
    if reveal:
        return _printable(before) + "[" + _printable(needle) + "]" + _printable(after)

    data = before + needle + after
    n0, n1 = len(before), len(before) + len(needle)
    if masked is None:
        masked = Masker().byte_spans(data)
    out, pos = [], 0
    for a, b in merge_spans([*masked, (n0, n1)]):
        out.append(_printable(data[pos:a]))
        if a <= n0 and n1 <= b:  # the needle, with the secret bytes next to it
            out.append("[" + MASK + "]")
        else:
            out.append(MASK)
        pos = b
    out.append(_printable(data[pos:]))
    return "".join(out)


# --------------------------------------------------------------------------- search
def parse_needle(text: str, *, hex_input: bool = False) -> bytes:
    """The bytes to look for: TEXT as UTF-8, or with hex_input "de ad be ef"/"deadbeef"."""
    if hex_input:
        try:
            needle = bytes.fromhex(text.replace(":", " "))
        except ValueError as err:
            raise UsageError(f"not a hex byte string: {text!r} ({err})") from err
    else:
        needle = text.encode("utf-8", "surrogateescape")
    if not needle:
        raise UsageError("the search text is empty")
    return needle


def searchable(regions: Sequence[Region]) -> tuple[list[Region], list[tuple[str, str]]]:
    """Regions worth reading, and the others with the reason they are skipped."""
    keep, skipped = [], []
    for r in regions:
        if r.perms == "????":  # a core file's NT_FILE mapping without a PT_LOAD
            skipped.append((r.label, "not in the core file (no PT_LOAD: no bytes)"))
        elif not r.readable:
            skipped.append((r.label, f"no read permission ({r.perms})"))
        elif r.start >= ADDRESS_LIMIT:
            skipped.append((r.label, "above 2**63 ([vsyscall]): not readable via /proc"))
        else:
            keep.append(r)
    return keep, skipped


def classified_regions(pid: int) -> list[Region]:
    """The maps of pid with each region's kind (stack, heap, lib ...) filled in."""
    regions = read_maps(pid)
    if not regions:
        if no_mm_reason(pid) == "kernel thread":  # empty maps, not denied (fs/proc/base.c)
            raise UnreadableMemory("kernel thread: it has no user memory to search "
                                   "(its maps are empty, not denied)", pid=pid)
    try:
        return list(classify(regions, read_stat(pid), None))
    except MemlabError:  # the kinds are a nicety: plain maps still search fine
        return regions


def search(pid: int, needle: bytes, *, regions: Sequence[Region] | None = None,
           progress: Callable[[int, int], None] | None = None,
           max_hits: int = MAX_HITS, chunk: int = CHUNK, method: str = "auto",
           context: int = CONTEXT, masker: Masker | None = None,
           reader=None) -> SearchResult:
    """Every occurrence of needle in pid's readable regions, in address order.

    Each hit's context carries the spans masker (default: Masker.for_pid(pid), the
    process's own secrets and its pod's) finds secret; shown masked unless revealed.

    progress(done_bytes, total_bytes) is called after each chunk.  Regions that refuse
    reads ([vvar], guard pages) are skipped and listed with the reason; AccessDenied /
    NoSuchProcess are raised (nothing can be searched).

    reader: what to read instead of the live process (a memlab.core.reader.CoreFile,
    with regions and masker from its snapshot); it stays open.
    """
    if not needle:
        raise UsageError("the search text is empty")
    t0 = time.perf_counter()
    if masker is None:
        masker = Masker.for_pid(pid)
    if regions is None:
        regions = classified_regions(pid)
    todo, skipped = searchable(regions)
    total = sum(r.size for r in todo)
    result = SearchResult(pid=pid, needle=needle, skipped=skipped)
    overlap = len(needle) - 1
    buf = bytearray(chunk + overlap)
    mv = memoryview(buf)
    done = 0
    with (MemReader(pid, regions, method=method) if reader is None
          else nullcontext(reader)) as reader:
        for region in todo:
            addr, carry, read_any = region.start, 0, False
            while addr < region.end:
                want = min(chunk, region.end - addr)
                n = reader.read_into(addr, mv[carry:carry + want])
                filled = carry + n
                base = addr - carry  # the address of buf[0]
                pos = buf.find(needle, 0, filled)
                while pos >= 0:
                    if len(result.hits) >= max_hits:
                        result.truncated = True
                        break
                    result.hits.append(_hit(reader, region, base + pos, needle, context,
                                            masker))
                    pos = buf.find(needle, pos + 1, filled)
                read_any = read_any or n > 0
                result.bytes_scanned += n
                done += n
                if progress is not None:
                    progress(done, total)
                if n < want or result.truncated:
                    if n < want:
                        why = (reader.missing(addr + n) if hasattr(reader, "missing")
                               else f"unreadable from {hexaddr(addr + n)} (the kernel "
                               "refused the read)")
                        skipped.append((region.label, why))
                    break
                keep = min(overlap, filled)
                if keep:
                    buf[0:keep] = buf[filled - keep:filled]
                carry = keep
                addr += n
            if read_any:
                result.regions_scanned += 1
            if result.truncated:
                break
        result.method = reader.method
    del mv
    result.elapsed = time.perf_counter() - t0
    return result


def _hit(reader: MemReader, region: Region, addr: int, needle: bytes,
         context: int, masker: Masker) -> Hit:
    end = addr + len(needle)
    try:
        before = _read_before(reader, region, addr, JUDGE)
        after = _read_after(reader, region, end, JUDGE)
        if b"\0" not in before and len(before) == JUDGE:  # a long string: its start
            before = _read_before(reader, region, addr, MAX_STRING)
        if b"\0" not in after and len(after) == JUDGE:
            after = _read_after(reader, region, end, MAX_STRING)
    except UnreadableMemory:
        before, after = b"", b""
    shown_before, shown_after = before[len(before) - min(context, len(before)):], \
        after[:context]
    cut = len(before) - len(shown_before)  # offset of the shown context in data
    data = before + needle + after
    spans = masker.byte_spans(data, cut, len(before) + len(needle) + len(shown_after))
    limit = len(shown_before) + len(needle) + len(shown_after)
    masked = tuple((max(0, a - cut), min(limit, b - cut)) for a, b in spans)
    return Hit(address=addr, region=region.label, kind=region.kind,
               offset=addr - region.start, before=shown_before, after=shown_after,
               masked=masked)


def _read_before(reader: MemReader, region: Region, addr: int, size: int) -> bytes:
    lo = max(region.start, addr - size)
    return reader.read_partial(lo, addr - lo)


def _read_after(reader: MemReader, region: Region, start: int, size: int) -> bytes:
    return reader.read_partial(start, max(0, min(size, region.end - start)))
