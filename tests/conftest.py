"""Build the C samples once per test session, so any test can launch them."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.helpers import REPO


def pytest_sessionstart(session):
    subprocess.run(["make", "-s", "-C", str(REPO), "samples"], check=True)


@pytest.fixture
def is_root() -> bool:
    return os.geteuid() == 0


requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch uid")
