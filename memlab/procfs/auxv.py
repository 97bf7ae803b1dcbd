"""/proc/PID/auxv: the auxiliary vector the kernel gave the program at execve.

The file is a copy of ``mm->saved_auxv`` (fs/binfmt_elf.c create_elf_tables): pairs of
native-endian unsigned longs (type, value), ending with an AT_NULL pair.  The same pairs
sit on the initial stack above envp[] (memlab.analysis.initstack compares the two).
"""

from __future__ import annotations

import struct

from memlab.errors import ParseError
from memlab.model import AuxvEntry, records
from memlab.procfs._io import read_proc_file

AT_NULL = 0
_PAIR = struct.Struct("=QQ")  # x86_64: two 8-byte unsigned longs, native endian

# Every AT_* the kernel headers define.
AT_NAMES: dict[int, str] = {
    # include/uapi/linux/auxvec.h (all architectures)
    0: "AT_NULL",  # end of vector
    1: "AT_IGNORE",  # entry should be ignored
    2: "AT_EXECFD",  # file descriptor of program (binfmt_misc)
    3: "AT_PHDR",  # program headers for program
    4: "AT_PHENT",  # size of program header entry
    5: "AT_PHNUM",  # number of program headers
    6: "AT_PAGESZ",  # system page size
    7: "AT_BASE",  # base address of interpreter (ld.so)
    8: "AT_FLAGS",  # flags
    9: "AT_ENTRY",  # entry point of program
    10: "AT_NOTELF",  # program is not ELF
    11: "AT_UID",  # real uid
    12: "AT_EUID",  # effective uid
    13: "AT_GID",  # real gid
    14: "AT_EGID",  # effective gid
    15: "AT_PLATFORM",  # string identifying CPU for optimizations
    16: "AT_HWCAP",  # arch dependent hints at CPU capabilities
    17: "AT_CLKTCK",  # frequency at which times() increments
    23: "AT_SECURE",  # secure mode boolean (setuid/setgid/capabilities exec)
    24: "AT_BASE_PLATFORM",  # string identifying real platform
    25: "AT_RANDOM",  # address of 16 random bytes
    26: "AT_HWCAP2",  # extension of AT_HWCAP
    27: "AT_RSEQ_FEATURE_SIZE",  # rseq supported feature size (6.3+)
    28: "AT_RSEQ_ALIGN",  # rseq allocation alignment (6.3+)
    29: "AT_HWCAP3",  # extension of AT_HWCAP (recent kernels)
    30: "AT_HWCAP4",  # extension of AT_HWCAP (recent kernels)
    31: "AT_EXECFN",  # filename of program
    51: "AT_MINSIGSTKSZ",  # minimal stack size for signal delivery (5.14+)
    # arch/x86/include/uapi/asm/auxvec.h
    32: "AT_SYSINFO",  # vsyscall entry (32-bit processes only)
    33: "AT_SYSINFO_EHDR",  # address of the vDSO ELF header
    # other architectures' uapi asm/auxvec.h (never on x86_64, named for completeness)
    18: "AT_FPUCW",  # sh, nds32: used FPU control word
    19: "AT_DCACHEBSIZE",  # powerpc: data cache block size
    20: "AT_ICACHEBSIZE",  # powerpc: instruction cache block size
    21: "AT_UCACHEBSIZE",  # powerpc: unified cache block size
    22: "AT_IGNOREPPC",  # powerpc: entry should be ignored
    34: "AT_L1I_CACHESHAPE",  # alpha
    35: "AT_L1D_CACHESHAPE",  # alpha
    36: "AT_L2_CACHESHAPE",  # alpha
    37: "AT_L3_CACHESHAPE",  # alpha
    40: "AT_L1I_CACHESIZE",  # powerpc, riscv
    41: "AT_L1I_CACHEGEOMETRY",  # powerpc, riscv
    42: "AT_L1D_CACHESIZE",  # powerpc, riscv
    43: "AT_L1D_CACHEGEOMETRY",  # powerpc, riscv
    44: "AT_L2_CACHESIZE",  # powerpc, riscv
    45: "AT_L2_CACHEGEOMETRY",  # powerpc, riscv
    46: "AT_L3_CACHESIZE",  # powerpc, riscv
    47: "AT_L3_CACHEGEOMETRY",  # powerpc, riscv
    48: "AT_ADI_BLKSZ",  # sparc: ADI block size
    49: "AT_ADI_NBITS",  # sparc: ADI version tag bits
    50: "AT_ADI_UEONADI",  # sparc: ADI UE on ADI error
}
AT_NUMBERS: dict[str, int] = {name: number for number, name in AT_NAMES.items()}

# Entries whose value is an address of a string in the process.
STRING_TYPES = frozenset({15, 24, 31})  # AT_PLATFORM, AT_BASE_PLATFORM, AT_EXECFN


def auxv_name(t: int) -> str:
    """"AT_PHDR" for 3; an unknown type (a newer kernel) is shown as its number."""
    return AT_NAMES.get(t, str(t))


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
