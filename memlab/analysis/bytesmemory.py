"""A window of process memory already read into Python: the analysis code's memory object.

collect.snapshot reads the top of [stack] (startstack .. stack end: argc, argv[], envp[],
auxv, the info block, the argument and environment strings) with ONE process_vm_readv and
decodes it from this window, instead of one system call per pointer and string.  Addresses
outside the window go to `fallback` (a procfs.mem.MemReader) when one is given.  Unit tests
build the same object from captured bytes (tests/data/).

The read methods mirror procfs.mem.MemReader: read (exact), read_u64(s), read_cstring.
"""

from __future__ import annotations

import struct

from memlab.errors import UnreadableMemory

CSTRING_LIMIT = 1 << 16


class BytesMemory:
    def __init__(self, base: int, data: bytes, fallback=None):
        self.base = base
        self.data = bytes(data)
        self.end = base + len(self.data)
        self.fallback = fallback
        # The bytes as native (x86_64: little-endian) u64 words from base: aligned reads
        # of pointers are a slice of this view, the decoder's most frequent call.
        self._words = memoryview(self.data)[:len(self.data) & ~7].cast("Q")

    def __repr__(self) -> str:
        return f"BytesMemory(0x{self.base:x}..0x{self.end:x})"

    def holds(self, addr: int, size: int) -> bool:
        """Whether addr .. addr + size is inside the bytes read (no fallback needed)."""
        return self.base <= addr and addr + size <= self.end

    def _miss(self, addr: int, size: int) -> UnreadableMemory:
        return UnreadableMemory(f"0x{addr:x}+{size} is outside the bytes read "
                                f"(0x{self.base:x}..0x{self.end:x})")

    # The reads test `holds` inline (base <= addr and addr + size <= end): the decoder
    # makes a dozen of them per snapshot.
    def read(self, addr: int, size: int) -> bytes:
        if size < 0:
            raise UnreadableMemory(f"negative read size {size} at 0x{addr:x}")
        if self.base <= addr and addr + size <= self.end:
            off = addr - self.base
            return self.data[off:off + size]
        if self.fallback is not None:
            return self.fallback.read(addr, size)
        raise self._miss(addr, size)

    def read_u64(self, addr: int) -> int:
        return self.read_u64s(addr, 1)[0]

    def read_u64s(self, addr: int, n: int) -> list[int]:
        if n < 0:
            raise UnreadableMemory(f"negative count {n} at 0x{addr:x}")
        if self.base <= addr and addr + 8 * n <= self.end:
            off = addr - self.base
            if not off & 7:
                return self._words[off >> 3:(off >> 3) + n].tolist()
            return list(struct.unpack_from(f"<{n}Q", self.data, off))
        if self.fallback is not None:
            return self.fallback.read_u64s(addr, n)
        raise self._miss(addr, 8 * n)

    def read_cstring(self, addr: int, limit: int = CSTRING_LIMIT) -> bytes:
        """The bytes at addr up to (not including) the first NUL; at most `limit` bytes
        (a string longer than that comes back truncated to `limit`)."""
        if self.base <= addr < self.end:
            off = addr - self.base
            nul = self.data.find(b"\0", off, off + limit)
            if nul >= 0:
                return self.data[off:nul]
            if off + limit <= len(self.data):
                return self.data[off:off + limit]
        if self.fallback is not None:
            return self.fallback.read_cstring(addr, limit)
        raise self._miss(addr, 1)
