"""ELF correlation: the file the kernel loaded, compared with what it became in memory.

    load(path) -> ElfInfo                 parsed once, cached (path, dev, inode, mtime)
    load_bias(info, auxv) -> Bias         AT_ENTRY - e_entry, checked against AT_PHDR
    segment_map(info, regions, bias)      each PT_LOAD -> the maps lines it became
    analyse(snapshot) -> ElfMemoryMap     all of it for one process (+ heap evidence)
    snapshot_section(snapshot) -> dict    its JSON form: snapshot.extra["elf"]

pyelftools is imported lazily (by the parse), so importing this package is cheap.
"""

from memlab.elf.correlate import (Bias, SegmentMapping, bias_from_maps, load_bias,
                                  runtime_symbols, segment_map)
from memlab.elf.model import ElfInfo, Section, Segment, Symbol, page_down, page_up
from memlab.elf.reader import clear_cache, load, load_stream


def analyse(snapshot, **kw):
    """ElfMemoryMap of a Snapshot (see memlab.elf.memorymap.analyse)."""
    from memlab.elf.memorymap import analyse as _analyse

    return _analyse(snapshot, **kw)


def snapshot_section(snapshot, **kw) -> dict:
    """JSON-ready "elf" section of a Snapshot (see memlab.elf.memorymap)."""
    from memlab.elf.memorymap import snapshot_section as _section

    return _section(snapshot, **kw)


__all__ = ["Bias", "ElfInfo", "Section", "Segment", "SegmentMapping", "Symbol", "analyse",
           "bias_from_maps", "clear_cache", "load", "load_bias", "load_stream", "page_down",
           "page_up", "runtime_symbols", "segment_map", "snapshot_section"]
