"""ELF correlation: the file the kernel loaded, compared with what it became in memory.

    load(path) -> ElfInfo                 parsed once, cached (path, dev, inode, mtime)
    load_bias(info, auxv) -> Bias         AT_ENTRY - e_entry, checked against AT_PHDR
    segment_map(info, regions, bias)      each PT_LOAD -> the maps lines it became
    analyse(snapshot) -> ElfMemoryMap     all of it for one process (+ heap evidence)
    snapshot_section(snapshot) -> dict    its JSON form
    attach.snapshot_with_elf(pid)         a Snapshot with it as Snapshot.elf

pyelftools is imported lazily (by the parse), so importing this package is cheap.
"""

from memlab.elf.correlate import (Bias, SegmentMapping, bias_from_maps, load_bias,
                                  runtime_symbols, segment_map)
from memlab.elf.memorymap import analyse, snapshot_section
from memlab.elf.model import ElfInfo, Section, Segment, Symbol
from memlab.elf.reader import clear_cache, load, load_stream
from memlab.kernel.abi import page_down, page_up


__all__ = ["Bias", "ElfInfo", "Section", "Segment", "SegmentMapping", "Symbol", "analyse",
           "bias_from_maps", "clear_cache", "load", "load_bias", "load_stream", "page_down",
           "page_up", "runtime_symbols", "segment_map", "snapshot_section"]
