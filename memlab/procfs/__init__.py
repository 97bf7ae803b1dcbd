"""The only code in memlab that touches /proc.

Parsers (parse_*) are pure functions on bytes, tested on captured files in tests/data;
readers (read_*) add the I/O and translate OSError once, in _io.py, into
NoSuchProcess / ZombieProcess / AccessDenied.  MemReader reads process memory.
"""

from memlab.procfs._io import (
    PROC_ROOT,
    check_pid,
    explain_empty,
    list_pids,
    proc_path,
    read_proc_file,
    readlink_proc,
)
from memlab.procfs.auxv import AT_NAMES, auxv_name, parse_auxv, read_auxv
from memlab.procfs.environ import parse_cmdline, parse_environ, read_cmdline, read_environ
from memlab.procfs.maps import parse_maps, read_maps
from memlab.procfs.mem import MemReader
from memlab.procfs.stat import is_kernel_thread, parse_stat, read_stat
from memlab.procfs.status import read_status, uids

__all__ = [
    "AT_NAMES", "PROC_ROOT", "MemReader", "auxv_name", "check_pid", "explain_empty",
    "is_kernel_thread", "list_pids", "parse_auxv", "parse_cmdline", "parse_environ",
    "parse_maps", "parse_stat", "proc_path", "read_auxv", "read_cmdline", "read_environ",
    "read_maps", "read_proc_file", "read_stat", "read_status", "readlink_proc", "uids",
]
