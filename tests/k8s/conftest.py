"""Fixtures for the k8s tests: a fixed umask, manifests from text."""

from __future__ import annotations

import os

import pytest

from memlab.k8s import manifests


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def load(text: str, source: str = "t.yaml"):
    """Manifests from YAML text."""
    return manifests.load_text(text, source)


def one(text: str, source: str = "t.yaml"):
    objs = load(text, source)
    assert len(objs) == 1
    return objs[0]
