"""/proc/PID/stat: the memory-layout fields, and whether the kernel hid them.

Format (fs/proc/array.c do_task_stat, proc_pid_stat(5)): ``pid (comm) state ppid ...``.
comm is the task's name, up to 15 bytes, chosen by the program: it may contain spaces
and ')' (e.g. "a) b"), so the line is split after the LAST ')', like psutil's
_parse_stat_file does.

Masking: do_task_stat computes ``permitted = ptrace_may_access(task,
PTRACE_MODE_READ_FSCREDS | PTRACE_MODE_NOAUDIT)``.  When it is false the kernel still
answers, but prints start_code=1, end_code=1, startstack=0, and 0 for fields 45-51
(start_data .. env_end) and exit_code.  Those 1s and 0s are not addresses.
Kernel threads and zombies have no mm: every address field is 0 (not masked).
"""

from __future__ import annotations

import operator
import re

from memlab.errors import NoSuchProcess, ParseError
from memlab.kernel.abi import (PF_KTHREAD, STAT_ADDRESS_FIELDS, STAT_EXIT_CODE,
                               STAT_FLAGS, STAT_NUM_THREADS, STAT_PPID, STAT_STATE)
from memlab.model import ProcStat, text
from memlab.procfs import _cproc  # the C fast path (None when not compiled)
from memlab.procfs._io import check_pid, read_proc_file, state_and_flags

# the last field memlab needs; kernels since 3.5 print at least 52
_MIN_FIELDS = STAT_ADDRESS_FIELDS["env_end"]

_INT = re.compile(rb"-?[0-9]{1,20}")
_STATE = re.compile(rb"[A-Za-z]")
# What follows comm: the state letter, then numbers, all whitespace-separated (the rule
# of bytes.split(), which split_stat uses).  One regex validates every field at once;
# possessive (never backtracking: no field can give a character to the next), a third
# faster.
_TAIL = re.compile(rb"\s*+[A-Za-z](?:\s++-?+[0-9]{1,20}+)*+\s*+")


def _pid_and_comm(data) -> tuple[bytes, int, bytes, int]:
    """(data as bytes, pid, comm, index of the ')' closing comm)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParseError(f"stat data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    open_paren = data.find(b" (")
    close_paren = data.rfind(b")")  # the LAST ')': comm may contain ')'
    if open_paren < 1 or close_paren < open_paren:
        raise ParseError(f"stat is malformed (no 'pid (comm)'): {data[:80]!r}")
    pid_field = data[:open_paren]
    if not pid_field.isdigit():
        raise ParseError(f"stat pid field is not a number: {pid_field[:20]!r}")
    return data, int(pid_field), data[open_paren + 2:close_paren], close_paren


def split_stat(data: bytes) -> tuple[int, bytes, list[bytes]]:
    """(pid, comm, fields) where fields[n] is proc_pid_stat(5) field n (1-based;
    fields[0] and fields[1] are placeholders for pid and comm)."""
    data, pid, comm, close_paren = _pid_and_comm(data)
    return pid, comm, [data[:data.find(b" (")], comm, *data[close_paren + 1:].split()]


def _int_field(fields: list[bytes], n: int) -> int:
    raw = fields[n - 1]
    if not _INT.fullmatch(raw):
        raise ParseError(f"stat field {n} is not a number: {raw[:24]!r}")
    return int(raw)


# What do_task_stat prints for the address fields when permitted is false (and there is
# an mm), in STAT_ADDRESS_FIELDS order: start_code = end_code = 1, the rest 0.
_MASKED = tuple(int(name in ("start_code", "end_code")) for name in STAT_ADDRESS_FIELDS)
_ADDRESS_FIELDS = tuple(STAT_ADDRESS_FIELDS.values())
# what _cproc.c's parse_stat assumes: 16 fields, start_code and end_code first (masking)
assert len(ProcStat._fields) == 16 and _ADDRESS_FIELDS[:2] == (26, 27)
# the address fields out of split()'s list after comm, whose item 0 is field 3
_ADDRESSES = operator.itemgetter(*(n - 3 for n in _ADDRESS_FIELDS))


def parse_stat(data: bytes) -> ProcStat:
    """The memory-layout fields of /proc/PID/stat; ParseError for anything malformed."""
    if _cproc is not None and type(data) is bytes:
        fast = _cproc.parse_stat(data, ProcStat, _ADDRESS_FIELDS)
        if fast is not None:
            return fast
    return parse_stat_python(data)


def parse_stat_python(data: bytes) -> ProcStat:
    """parse_stat in Python: the reference the C fast path is tested against, and what
    runs (and names the error) when C does not take the input on."""
    data, pid, comm, close_paren = _pid_and_comm(data)
    if _TAIL.fullmatch(data, close_paren + 1) is None:
        _name_the_bad_field(data)
    fields = data[close_paren + 1:].split()  # fields[0] is field 3, the state
    if len(fields) + 2 < _MIN_FIELDS:
        raise ParseError(f"stat has {len(fields) + 2} fields, memlab needs {_MIN_FIELDS}")
    addresses = tuple(map(int, _ADDRESSES(fields)))
    exit_code = int(fields[STAT_EXIT_CODE - 3]) if len(fields) + 2 >= STAT_EXIT_CODE else None
    # ProcStat's fields: pid, comm, state, ppid, then STAT_ADDRESS_FIELDS in order
    return ProcStat(pid, text(comm), fields[0].decode("ascii"), int(fields[1]),
                    *addresses, exit_code, addresses == _MASKED)


def _name_the_bad_field(data: bytes) -> None:
    """Raise the ParseError that names the first field after comm that is malformed."""
    _, _, fields = split_stat(data)
    if len(fields) < STAT_STATE or not _STATE.fullmatch(fields[STAT_STATE - 1]):
        state = fields[STAT_STATE - 1] if len(fields) >= STAT_STATE else b""
        raise ParseError(f"stat state field is not a letter: {state[:8]!r}")
    for n in range(STAT_PPID, len(fields) + 1):
        _int_field(fields, n)
    raise ParseError("stat is malformed after comm")


def read_stat(pid: int) -> ProcStat:
    return parse_stat(read_proc_file(pid, "stat"))


# The address fields execve sets (fs/binfmt_elf.c load_elf_binary: start_code, end_code,
# start_data, end_data, start_brk; create_elf_tables: start_stack, arg_*, env_*) and
# nothing else changes while the program runs (prctl PR_SET_MM aside): two reads of
# stat whose values differ were made in two different program images.
_EXEC_FIELDS = operator.itemgetter(*range(ProcStat._fields.index("start_code"),
                                          ProcStat._fields.index("env_end") + 1))


def exec_fields(stat: ProcStat) -> tuple[int, ...]:
    """stat's exec-time address fields (masked values when the kernel hid them)."""
    return _EXEC_FIELDS(stat)


def exec_settled(stat: ProcStat) -> bool:
    """False while execve is still building the new image.  fs/exec.c exec_mmap
    installs a fresh mm (every field 0), setup_arg_pages points start_stack at the
    argument strings, create_elf_tables sets arg_* and env_*, and load_elf_binary
    (fs/binfmt_elf.c) sets start_code .. end_data and the final start_stack last: a
    stat read in between shows a half-built layout (env_end or start_code still 0).
    Masked fields cannot tell and count as settled; a task without an mm (kernel
    thread, exiting) reads all 0 too, and callers tell those apart first."""
    return stat.masked or (stat.start_code != 0 and stat.env_end != 0)


def parse_flags(data: bytes) -> int:
    """Field 9, the task's PF_* flags."""
    _, _, fields = split_stat(data)
    if len(fields) < STAT_FLAGS:
        raise ParseError(f"stat has {len(fields)} fields, no flags field")
    return _int_field(fields, STAT_FLAGS)


def is_kernel_thread(pid: int) -> bool:
    """True for kthreadd and its children (PF_KTHREAD): they have no user memory, so
    environ/auxv/maps read empty for them.  NoSuchProcess when pid is gone."""
    found = state_and_flags(check_pid(pid))
    if found is None:
        raise NoSuchProcess("no such process", pid=pid)
    return bool(found[1] & PF_KTHREAD)


def num_threads(data: bytes) -> int:
    """Field 20, the number of threads (1 for a malformed line: nothing to look for)."""
    rest = data[data.rfind(b")") + 1:].split(None, STAT_NUM_THREADS - 2)
    try:
        return int(rest[STAT_NUM_THREADS - 3])
    except (IndexError, ValueError):
        return 1
