"""Session fixtures: the C samples, built once and only for the tests that launch them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import REPO, build_samples

# Test directories whose tests launch no C sample (pure parsers, captured data): a test
# there that does asks for the `samples_built` fixture itself.
NO_SAMPLES = {REPO / "tests" / "unit"}


@pytest.fixture(scope="session")
def samples_built() -> Path:
    """c_samples/bin, built (once per session)."""
    return build_samples()


@pytest.fixture(autouse=True)
def _samples_for_this_directory(request):
    """Every test outside NO_SAMPLES may launch a sample, by path or by name through
    memlab, a lesson or a pod: build them before the first such test."""
    if Path(request.node.path).parent not in NO_SAMPLES:
        request.getfixturevalue("samples_built")


@pytest.fixture
def is_root() -> bool:
    return os.geteuid() == 0


requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch uid")
