"""The only code in memlab that touches /proc.

Parsers (parse_*) are pure functions on bytes, tested on captured files in tests/data;
readers (read_*) add the I/O and translate OSError once, in _io.py, into
NoSuchProcess / ZombieProcess / AccessDenied.  MemReader reads process memory.

Import from the submodules (memlab.procfs.maps ...): this package imports nothing but
the C fast paths, so `memlab audit`, which needs only _io, does not pay for the model.

_cproc (_cproc.c, built by pip install from pyproject's ext-modules) holds the C fast
paths of parse_maps and parse_stat and process_vm_readv; None when it was not compiled
(no compiler): the parsers then run in Python and MemReader reads /proc/PID/mem.
"""

try:
    from memlab.procfs import _cproc
except ImportError:
    _cproc = None
