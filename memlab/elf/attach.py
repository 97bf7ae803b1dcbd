"""A snapshot with its ELF area: collect.snapshot(pid), then the executable's file, load
bias, PT_LOAD -> maps and heap evidence (memlab.elf.memorymap) as Snapshot.elf.

The snapshot stays immutable: with_elf returns a new one.  It sits above memlab.collect
(collect knows nothing of ELF files, so importing it never loads the ELF layer and its
dataclasses on the `memlab inspect --json` path).
"""

from __future__ import annotations

from memlab.collect import snapshot
from memlab.elf.memorymap import _analyse
from memlab.errors import ExecDuringRead, MemlabError
from memlab.model import Snapshot


def with_elf(snap: Snapshot) -> Snapshot:
    """snap with its ELF area (Snapshot.elf), or with elf=False and a warning saying why
    the analysis failed.  No memory read: libc's environ pointer is left out (live=False;
    `memlab elf` reads it).  Raises ExecDuringRead when the process exec'd since snap
    was read (its executable is no longer the one in snap's maps)."""
    if not snap.regions:
        return snap
    try:
        view, _ = _analyse(snap, None, live=False)
    except ExecDuringRead:
        raise
    except ImportError as err:  # pyelftools missing
        return snap._replace(elf=False, warnings=snap.warnings + (
            f"ELF analysis unavailable: {err}",))
    except MemlabError as err:
        return snap._replace(elf=False, warnings=snap.warnings + (
            f"ELF analysis failed: {err}",))
    return snap._replace(elf=view)


def snapshot_with_elf(pid: int, *, partial: bool = False) -> Snapshot:
    """collect.snapshot(pid, partial=partial) with its ELF area, both read in one
    attempt: a process that exec'd under either is read again (collect.READ_ATTEMPTS
    times at most, then ExecDuringRead)."""
    return snapshot(pid, partial=partial, extend=with_elf)
