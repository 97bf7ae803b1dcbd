"""Pure transforms from what /proc said to what memlab teaches.

Nothing here opens /proc: functions take model objects and a "memory" object (anything
with read / read_u64s / read_cstring, e.g. procfs.mem.MemReader or bytesmemory.BytesMemory),
so they run unchanged on captured bytes in the unit tests.
"""
