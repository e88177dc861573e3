"""Fixtures shared by the tests of reading in parts."""

import pytest

from lldecode.analysis import parallel


@pytest.fixture
def tiny_parts(monkeypatch):
    """Parts of a few hundred bytes: many cuts, at every kind of boundary."""
    monkeypatch.setattr(parallel, "EXPLAIN_MIN_PART", 300)
