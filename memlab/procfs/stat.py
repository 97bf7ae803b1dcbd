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

import re

from memlab.errors import ParseError
from memlab.model import STAT_ADDRESS_FIELDS, ProcStat, text
from memlab.procfs._io import PF_KTHREAD, read_proc_file

FIELD_STATE = 3
FIELD_PPID = 4
FIELD_FLAGS = 9
FIELD_EXIT_CODE = 52
# the last field memlab needs; kernels since 3.5 print at least 52
_MIN_FIELDS = STAT_ADDRESS_FIELDS["env_end"]

_INT = re.compile(rb"-?[0-9]{1,20}")
_STATE = re.compile(rb"[A-Za-z]")
# Every field after state, joined by single spaces: one regex instead of one per field
# (fields come from split(): none holds whitespace, so this matches iff each one does).
_NUMBERS = re.compile(rb"-?[0-9]{1,20}(?: -?[0-9]{1,20})*")


def split_stat(data: bytes) -> tuple[int, bytes, list[bytes]]:
    """(pid, comm, fields) where fields[n] is proc_pid_stat(5) field n (1-based;
    fields[0] and fields[1] are placeholders for pid and comm)."""
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
    comm = data[open_paren + 2:close_paren]
    rest = data[close_paren + 1:].split()
    return int(pid_field), comm, [pid_field, comm, *rest]


def _int_field(fields: list[bytes], n: int) -> int:
    raw = fields[n - 1]
    if not _INT.fullmatch(raw):
        raise ParseError(f"stat field {n} is not a number: {raw[:24]!r}")
    return int(raw)


# What do_task_stat prints for the address fields when permitted is false (and there is
# an mm), in STAT_ADDRESS_FIELDS order: start_code = end_code = 1, the rest 0.
_MASKED = tuple(int(name in ("start_code", "end_code")) for name in STAT_ADDRESS_FIELDS)
_ADDRESS_INDEXES = tuple(n - 1 for n in STAT_ADDRESS_FIELDS.values())


def parse_stat(data: bytes) -> ProcStat:
    pid, comm, fields = split_stat(data)
    if len(fields) < _MIN_FIELDS:
        raise ParseError(f"stat has {len(fields)} fields, memlab needs {_MIN_FIELDS}")
    state = fields[FIELD_STATE - 1]
    if not _STATE.fullmatch(state):
        raise ParseError(f"stat state field is not a letter: {state[:8]!r}")
    if not _NUMBERS.fullmatch(b" ".join(fields[FIELD_PPID - 1:])):
        # after state, the kernel prints numbers: name the first field that is not one
        for n in range(FIELD_PPID, len(fields) + 1):
            _int_field(fields, n)
    addresses = tuple(int(fields[i]) for i in _ADDRESS_INDEXES)
    exit_code = int(fields[FIELD_EXIT_CODE - 1]) if len(fields) >= FIELD_EXIT_CODE else None
    # ProcStat's fields: pid, comm, state, ppid, then STAT_ADDRESS_FIELDS in order
    return ProcStat(pid, text(comm), state.decode("ascii"), int(fields[FIELD_PPID - 1]),
                    *addresses, exit_code, addresses == _MASKED)


def read_stat(pid: int) -> ProcStat:
    return parse_stat(read_proc_file(pid, "stat"))


def parse_flags(data: bytes) -> int:
    """Field 9, the task's PF_* flags."""
    _, _, fields = split_stat(data)
    if len(fields) < FIELD_FLAGS:
        raise ParseError(f"stat has {len(fields)} fields, no flags field")
    return _int_field(fields, FIELD_FLAGS)


def is_kernel_thread(pid: int) -> bool:
    """True for kthreadd and its children (PF_KTHREAD): they have no user memory, so
    environ/auxv/maps read empty for them."""
    return bool(parse_flags(read_proc_file(pid, "stat")) & PF_KTHREAD)
