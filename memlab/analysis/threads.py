"""Which mapping is which thread's stack.

The main thread runs on [stack], the stack execve built.  Every other thread runs on a
stack its library mapped for it: glibc's pthread_create takes an anonymous mapping and
makes its lowest page(s) PROT_NONE as a guard
(docs/kernel-facts.md#resident-memory-and-thread-stacks), so /proc/PID/maps shows a
"---p" guard line and, right above it, the "rw-p" stack.  Nothing in maps says whose stack it is: the thread's
stack pointer does (memlab.procfs.tasks).  The region holding it gets kind
"thread-stack"; Snapshot.threads keeps tid, sp and that region.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from memlab.model import Region, ThreadStack, region_at

THREAD_STACK = "thread-stack"


def label_thread_stacks(regions: Sequence[Region],
                        sps: Iterable[tuple[int, int | None, str]]
                        ) -> tuple[tuple[Region, ...], tuple[ThreadStack, ...]]:
    """(regions with each thread's stack labelled, one ThreadStack per thread) from
    (tid, sp, source) triples.  A sp in [stack] (a thread on the main stack, e.g.
    vfork) or in no mapping leaves the regions as they are."""
    out = list(regions)
    index = {r.start: i for i, r in enumerate(out)}
    threads = []
    for tid, sp, source in sps:
        region = region_at(out, sp) if sp is not None else None
        if region is None:
            threads.append(ThreadStack(tid, sp, source, None))
            continue
        i = index[region.start]
        below = out[i - 1] if i > 0 else None
        guard = (below is not None and below.end == region.start
                 and below.perms[:3] == "---")
        if region.kind in ("anon", THREAD_STACK):
            out[i] = region._replace(kind=THREAD_STACK)
        threads.append(ThreadStack(tid, sp, source, region.start, guard))
    return tuple(out), tuple(threads)
