"""Fixtures for the tests that need a real kernel."""

from __future__ import annotations

import pytest

from tools.kernel.landlock import unavailable_reason


@pytest.fixture(scope="session")
def landlock_audit() -> None:
    """Skip unless Landlock can log denials here (Linux, root, ABI >= 7, audit)."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
