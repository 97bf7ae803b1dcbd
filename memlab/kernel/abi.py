"""Numbers of the Linux ABI memlab reads and uses, each with the header it comes from.

A leaf module: it imports nothing of memlab (tests/unit/test_import_graph.py checks),
so every layer can take its constants from here.  x86_64 only where it says so.
"""

# --------------------------------------------------------------------------- memory
# arch/x86/include/asm/page_types.h: PAGE_SHIFT 12 (x86_64 has no other base page size)
PAGE_SIZE = 4096



def page_down(addr: int) -> int:
    """The start of the page holding addr (PAGE_MASK of include/asm-generic/page.h)."""
    return addr & ~(PAGE_SIZE - 1)


def page_up(addr: int) -> int:
    """PAGE_ALIGN() of include/linux/mm.h: the next page boundary at or above addr."""
    return (addr + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


# x86_64, 4-level paging (arch/x86/include/asm/page_64_types.h): user space ends at
# TASK_SIZE_MAX = 2^47 - PAGE_SIZE (the guard page below is never mapped); kernel space
# starts at 0xffff800000000000; the addresses in between are non-canonical (the CPU
# faults on them).
CANONICAL_USER_END = 1 << 47
TASK_SIZE_MAX = CANONICAL_USER_END - PAGE_SIZE
KERNEL_START = 0xFFFF800000000000
ADDR_END = 1 << 64
# arch/x86/include/uapi/asm/vsyscall.h VSYSCALL_ADDR: the legacy [vsyscall] page
VSYSCALL_ADDR = 0xFFFFFFFFFF600000

# include/uapi/linux/binfmts.h: MAX_ARG_STRLEN = PAGE_SIZE * 32, the longest single
# argv or envp string execve accepts (E2BIG past it)
MAX_ARG_STRLEN = 32 * PAGE_SIZE

# include/linux/threads.h PID_MAX_LIMIT on 64-bit: no pid is larger (a bigger number
# cast to the kernel's 32-bit pid_t would name another process)
PID_MAX_LIMIT = 4 * 1024 * 1024

# --------------------------------------------------------------------------- auxv
# Every AT_* the kernel headers define (the type of a /proc/PID/auxv pair).
AT_NULL = 0
AT_PHDR = 3
AT_ENTRY = 9
AT_PLATFORM = 15
AT_BASE_PLATFORM = 24
AT_RANDOM = 25
AT_EXECFN = 31
AT_NAMES: dict[int, str] = {
    # include/uapi/linux/auxvec.h (all architectures)
    AT_NULL: "AT_NULL",  # end of vector
    1: "AT_IGNORE",  # entry should be ignored
    2: "AT_EXECFD",  # file descriptor of program (binfmt_misc)
    AT_PHDR: "AT_PHDR",  # program headers for program
    4: "AT_PHENT",  # size of program header entry
    5: "AT_PHNUM",  # number of program headers
    6: "AT_PAGESZ",  # system page size
    7: "AT_BASE",  # base address of interpreter (ld.so)
    8: "AT_FLAGS",  # flags
    AT_ENTRY: "AT_ENTRY",  # entry point of program
    10: "AT_NOTELF",  # program is not ELF
    11: "AT_UID",  # real uid
    12: "AT_EUID",  # effective uid
    13: "AT_GID",  # real gid
    14: "AT_EGID",  # effective gid
    AT_PLATFORM: "AT_PLATFORM",  # string identifying CPU for optimizations
    16: "AT_HWCAP",  # arch dependent hints at CPU capabilities
    17: "AT_CLKTCK",  # frequency at which times() increments
    23: "AT_SECURE",  # secure mode boolean (setuid/setgid/capabilities exec)
    AT_BASE_PLATFORM: "AT_BASE_PLATFORM",  # string identifying real platform
    AT_RANDOM: "AT_RANDOM",  # address of 16 random bytes
    26: "AT_HWCAP2",  # extension of AT_HWCAP
    27: "AT_RSEQ_FEATURE_SIZE",  # rseq supported feature size (6.3+)
    28: "AT_RSEQ_ALIGN",  # rseq allocation alignment (6.3+)
    29: "AT_HWCAP3",  # extension of AT_HWCAP (recent kernels)
    30: "AT_HWCAP4",  # extension of AT_HWCAP (recent kernels)
    AT_EXECFN: "AT_EXECFN",  # filename of program
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
# Entries whose value is the address of a string in the process (create_elf_tables
# copies the platform strings and bprm->exec's path onto the stack).
AT_STRING_TYPES = frozenset({AT_PLATFORM, AT_BASE_PLATFORM, AT_EXECFN})


def auxv_name(t: int) -> str:
    """"AT_PHDR" for 3; an unknown type (a newer kernel) is shown as its number."""
    return AT_NAMES.get(t, str(t))


# --------------------------------------------------------------------------- /proc/PID/stat
# Field numbers (1-based, proc_pid_stat(5)), in the order fs/proc/array.c do_task_stat
# prints them.
STAT_STATE = 3
STAT_PPID = 4
STAT_FLAGS = 9
STAT_EXIT_CODE = 52
# The memory-layout fields memlab uses, name -> field number.
STAT_ADDRESS_FIELDS: dict[str, int] = {
    "start_code": 26,
    "end_code": 27,
    "start_stack": 28,
    "start_data": 45,
    "end_data": 46,
    "start_brk": 47,
    "arg_start": 48,
    "arg_end": 49,
    "env_start": 50,
    "env_end": 51,
}

# --------------------------------------------------------------------------- task flags
# include/linux/sched.h: PF_KTHREAD, the task is a kernel thread (stat field 9)
PF_KTHREAD = 0x00200000

# --------------------------------------------------------------------------- prctl, personality, ptrace
# include/uapi/linux/prctl.h
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
# include/uapi/linux/personality.h
ADDR_NO_RANDOMIZE = 0x0040000
# include/uapi/linux/ptrace.h
PTRACE_TRACEME = 0
PTRACE_DETACH = 17
# include/uapi/linux/capability.h
CAP_SYS_PTRACE = 19

# --------------------------------------------------------------------------- core files
# include/uapi/linux/elf.h: e_type of a core file, p_flags bits, note types
ET_CORE = 4
EM_X86_64 = 62
ELF_PF_X = 0x1
ELF_PF_W = 0x2
ELF_PF_R = 0x4
NT_PRSTATUS = 1
NT_PRPSINFO = 3
NT_AUXV = 6
NT_SIGINFO = 0x53494749
NT_FILE = 0x46494C45
# include/uapi/linux/elfcore.h struct elf_prstatus on x86_64: pr_pid at byte 32, pr_cursig
# (a short) at 12, then pr_reg (arch/x86/include/asm/user_64.h struct user_regs_struct,
# 27 unsigned longs) at 112; the whole note is 336 bytes.
PRSTATUS_SIZE = 336
PRSTATUS_CURSIG = 12
PRSTATUS_PID = 32  # pr_pid, pr_ppid, pr_pgrp, pr_sid: four ints
PRSTATUS_REGS = 112
USER_REGS_NAMES = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
                   "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags",
                   "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs")
# struct elf_prpsinfo on x86_64 (136 bytes): pr_state, pr_sname, pr_zomb, pr_nice (chars),
# pr_flag (unsigned long) at 8, pr_uid, pr_gid (unsigned int) at 16, pr_pid, pr_ppid,
# pr_pgrp, pr_sid at 24, pr_fname[16] at 40, pr_psargs[80] at 56 (ELF_PRARGSZ).
PRPSINFO_SIZE = 136
PRPSINFO_SNAME = 1
PRPSINFO_UID = 16
PRPSINFO_PID = 24
PRPSINFO_FNAME = 40
PRPSINFO_PSARGS = 56
# Documentation/filesystems/proc.rst, /proc/PID/coredump_filter: bit 0 anonymous
# private, 1 anonymous shared, 2 file-backed private, 3 file-backed shared, 4 ELF
# headers, 5 private huge pages, 6 shared huge pages ... ; the default is 0x33
# (MMF_DUMP_FILTER_DEFAULT, include/linux/sched/coredump.h).
COREDUMP_FILTER_DEFAULT = 0x33
COREDUMP_FILTER_BITS = ("anonymous private", "anonymous shared", "file-backed private",
                        "file-backed shared", "ELF headers", "private huge pages",
                        "shared huge pages", "private DAX pages", "shared DAX pages")

# --------------------------------------------------------------------------- resident memory
# /proc/PID/stat: the thread count and a task's saved stack pointer (proc_pid_stat(5);
# fs/proc/array.c do_task_stat prints kstkesp only for a task that is dumping core,
# 0 otherwise since Linux 4.9)
STAT_NUM_THREADS = 20
STAT_KSTKESP = 29
# /proc/PID/smaps: the "Name:  N kB" lines memlab keeps, in bytes, per mapping
# (fs/proc/task_mmu.c __show_smap), key -> the name in Region memory / JSON
SMAPS_FIELDS = {
    b"Rss": "rss",
    b"Pss": "pss",
    b"Shared_Clean": "shared_clean",
    b"Shared_Dirty": "shared_dirty",
    b"Private_Clean": "private_clean",
    b"Private_Dirty": "private_dirty",
    b"Swap": "swap",
    b"AnonHugePages": "anon_huge",
}
# /proc/PID/pagemap: one 64-bit little-endian entry per virtual page
# (Documentation/admin-guide/mm/pagemap.rst, fs/proc/task_mmu.c PM_*)
PAGEMAP_ENTRY_SIZE = 8
PM_PFN_MASK = (1 << 55) - 1  # bits 0-54: the page frame number (zero unless CAP_SYS_ADMIN)
PM_SWAP_TYPE_MASK = 0x1F  # bits 0-4 of a swapped entry: swap type, bits 5-54: offset
PM_SOFT_DIRTY = 1 << 55
PM_MMAP_EXCLUSIVE = 1 << 56  # the page is mapped by this process only
PM_UFFD_WP = 1 << 57
PM_GUARD_REGION = 1 << 58  # Linux 6.15: a MADV_GUARD_INSTALL guard page
PM_FILE = 1 << 61  # file page or shared anonymous
PM_SWAP = 1 << 62
PM_PRESENT = 1 << 63
# /proc/PID/task/TID/syscall: "NR a0 .. a5 sp pc" in a syscall, "-1 sp pc" blocked
# elsewhere, "running" (fs/proc/base.c proc_pid_syscall)
SYSCALL_RUNNING = b"running"

# --------------------------------------------------------------------------- the tracer
# include/uapi/linux/ptrace.h: the requests memlab's tracer (memlab/trace/) makes
PTRACE_CONT = 7
PTRACE_SYSCALL = 24
PTRACE_SETOPTIONS = 0x4200
PTRACE_GETEVENTMSG = 0x4201
PTRACE_GETSIGINFO = 0x4202
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_LISTEN = 0x4208
PTRACE_GET_SYSCALL_INFO = 0x420E  # Linux 5.3+
# PTRACE_SETOPTIONS / PTRACE_SEIZE options
PTRACE_O_TRACESYSGOOD = 0x1  # syscall stops report SIGTRAP | 0x80
PTRACE_O_TRACECLONE = 0x8
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_EXITKILL = 0x100000  # SIGKILL the tracee when the tracer exits
# events, in bits 16-23 of a wait status (status >> 16)
PTRACE_EVENT_CLONE = 3
PTRACE_EVENT_EXEC = 4
PTRACE_EVENT_STOP = 128
# struct ptrace_syscall_info's op
PTRACE_SYSCALL_INFO_NONE = 0
PTRACE_SYSCALL_INFO_ENTRY = 1
PTRACE_SYSCALL_INFO_EXIT = 2
PTRACE_SYSCALL_INFO_SECCOMP = 3
# include/uapi/linux/wait.h: wait for every child, thread or not (a traced thread of
# another process is a "clone" child of its tracer)
WALL = 0x40000000

# arch/x86/entry/syscalls/syscall_64.tbl: the calls that change a process's map (x86_64)
SYSCALL_NUMBERS: dict[str, int] = {
    "mmap": 9,
    "mprotect": 10,
    "munmap": 11,
    "brk": 12,
    "mremap": 25,
    "madvise": 28,
    "shmat": 30,
    "execve": 59,
    "shmdt": 67,
    "execveat": 322,
    "pkey_mprotect": 329,
    "mseal": 462,
}
SYSCALL_NAMES: dict[int, str] = {nr: name for name, nr in SYSCALL_NUMBERS.items()}

# include/uapi/asm-generic/mman-common.h, mman.h and arch/x86/include/uapi/asm/mman.h
PROT_NAMES: dict[int, str] = {
    0x1: "PROT_READ", 0x2: "PROT_WRITE", 0x4: "PROT_EXEC", 0x8: "PROT_SEM",
    0x01000000: "PROT_GROWSDOWN", 0x02000000: "PROT_GROWSUP",
}
MAP_TYPE_MASK = 0x0F  # MAP_SHARED / MAP_PRIVATE / MAP_SHARED_VALIDATE / MAP_DROPPABLE
MAP_TYPE_NAMES: dict[int, str] = {
    0x01: "MAP_SHARED", 0x02: "MAP_PRIVATE", 0x03: "MAP_SHARED_VALIDATE",
    0x08: "MAP_DROPPABLE",
}
MAP_FLAG_NAMES: dict[int, str] = {
    0x10: "MAP_FIXED", 0x20: "MAP_ANONYMOUS", 0x40: "MAP_32BIT",
    0x0100: "MAP_GROWSDOWN", 0x0800: "MAP_DENYWRITE", 0x1000: "MAP_EXECUTABLE",
    0x2000: "MAP_LOCKED", 0x4000: "MAP_NORESERVE", 0x8000: "MAP_POPULATE",
    0x10000: "MAP_NONBLOCK", 0x20000: "MAP_STACK", 0x40000: "MAP_HUGETLB",
    0x80000: "MAP_SYNC", 0x100000: "MAP_FIXED_NOREPLACE", 0x4000000: "MAP_UNINITIALIZED",
}
# include/uapi/linux/mman.h
MREMAP_NAMES: dict[int, str] = {1: "MREMAP_MAYMOVE", 2: "MREMAP_FIXED", 4: "MREMAP_DONTUNMAP"}
# include/uapi/asm-generic/mman-common.h MADV_*
MADV_NAMES: dict[int, str] = {
    0: "MADV_NORMAL", 1: "MADV_RANDOM", 2: "MADV_SEQUENTIAL", 3: "MADV_WILLNEED",
    4: "MADV_DONTNEED", 8: "MADV_FREE", 9: "MADV_REMOVE", 10: "MADV_DONTFORK",
    11: "MADV_DOFORK", 12: "MADV_MERGEABLE", 13: "MADV_UNMERGEABLE",
    14: "MADV_HUGEPAGE", 15: "MADV_NOHUGEPAGE", 16: "MADV_DONTDUMP", 17: "MADV_DODUMP",
    18: "MADV_WIPEONFORK", 19: "MADV_KEEPONFORK", 20: "MADV_COLD", 21: "MADV_PAGEOUT",
    22: "MADV_POPULATE_READ", 23: "MADV_POPULATE_WRITE", 24: "MADV_DONTNEED_LOCKED",
    25: "MADV_COLLAPSE", 100: "MADV_HWPOISON", 101: "MADV_SOFT_OFFLINE",
    102: "MADV_GUARD_INSTALL", 103: "MADV_GUARD_REMOVE",
}
