"""The only code in memlab that touches /proc.

Parsers (parse_*) are pure functions on bytes, tested on captured files in tests/data;
readers (read_*) add the I/O and translate OSError once, in _io.py, into
NoSuchProcess / ZombieProcess / AccessDenied.  MemReader reads process memory.

Import from the submodules (memlab.procfs.maps ...): this package imports nothing, so
`memlab audit`, which needs only _io, does not pay for ctypes and the model.
"""
