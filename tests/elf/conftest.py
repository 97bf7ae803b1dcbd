"""Fixtures for the ELF area: the four sleeper variants, launched and reporting."""

from __future__ import annotations

import pytest

from tests.helpers import sample

VARIANTS = ("sleeper", "sleeper-nopie", "sleeper-static", "sleeper-static-pie")


@pytest.fixture(params=VARIANTS)
def variant(request) -> str:
    return request.param


@pytest.fixture
def running(variant):
    """(variant name, Launched) held at "ready": .report has the self-reported
    addresses (main, etext, edata, end, malloc, sbrk as "0x..." strings)."""
    from memlab.launch import launch

    with launch(sample(variant), hold="ready", env=[b"A=1"]) as child:
        yield variant, child
