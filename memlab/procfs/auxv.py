"""/proc/PID/auxv: the auxiliary vector the kernel gave the program at execve.

The file is a copy of ``mm->saved_auxv`` (fs/binfmt_elf.c create_elf_tables): pairs of
native-endian unsigned longs (type, value), ending with an AT_NULL pair.  The same pairs
sit on the initial stack above envp[] (memlab.analysis.initstack compares the two).
"""

from __future__ import annotations

import struct

from memlab.errors import ParseError
from memlab.kernel.abi import AT_NULL
from memlab.model import AuxvEntry, records
from memlab.procfs._io import read_proc_file

_PAIR = struct.Struct("=QQ")  # x86_64: two 8-byte unsigned longs, native endian


def parse_auxv(data: bytes, *, require_null: bool = True) -> list[AuxvEntry]:
    """(type, value) pairs up to, not including, AT_NULL.

    Empty input (kernel thread) -> [].  A length that is not a whole number of pairs, or
    (with require_null) no AT_NULL terminator, is a truncated vector: ParseError.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParseError(f"auxv data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) % _PAIR.size:
        raise ParseError(f"auxv is {len(data)} bytes: not a whole number of "
                         f"{_PAIR.size}-byte (type, value) pairs")
    flat = struct.unpack(f"={len(data) // 8}Q", data)
    types = flat[0::2]
    if AT_NULL in types:
        n = types.index(AT_NULL)
    elif require_null and data:
        raise ParseError(f"auxv has no AT_NULL terminator after {len(types)} pairs")
    else:
        n = len(types)
    return records(AuxvEntry, zip(types[:n], flat[1:2 * n:2]))


def read_auxv(pid: int) -> list[AuxvEntry]:
    return parse_auxv(read_proc_file(pid, "auxv"))
