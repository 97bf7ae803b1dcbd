"""Fixtures for the exposure tests: real victims, real observers, real kernel answers."""

from __future__ import annotations

import os

import pytest


def yama_scope() -> int:
    """Yama's ptrace_scope (0 when Yama is absent): >= 1 refuses PTRACE_MODE_ATTACH to a
    non-descendant even for the same uid, so the same-uid mem cells change."""
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            return int(f.read())
    except OSError:
        return 0


requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch uid")


@pytest.fixture(scope="module")
def demo_matrix():
    """One run of `memlab exposure demo` (victims launched, observed, cleaned up)."""
    if os.geteuid() != 0:
        pytest.skip("the full matrix needs root (other-uid and root rows)")
    from memlab.exposure.matrix import demo

    return demo()
