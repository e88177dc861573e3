"""Fixtures for the tests that need a real kernel."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import pytest

from tools.kernel.audit_guard import Disturbed, Guard, audit_undisturbed
from tools.kernel.landlock import unavailable_reason


@pytest.fixture(scope="session")
def landlock_audit() -> None:
    """Skip unless Landlock can log denials here (Linux, root, ABI >= 7, audit)."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)


@contextmanager
def _skipping_when_disturbed() -> Iterator[None]:
    try:
        yield
    except Disturbed as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def skip_if_disturbed():
    """``with skip_if_disturbed(): ...``: a :class:`Disturbed` raised in the
    block (by a guard inside it) skips the test, with its reason."""
    return _skipping_when_disturbed


@pytest.fixture(scope="session")
def undisturbed():
    """``with undisturbed("scenario X") as guard: ...``: the block under
    :func:`tools.kernel.audit_guard.audit_undisturbed`, the test skipped
    (not failed) when another process disturbed the audit subsystem."""

    @contextmanager
    def guarded(what: str = "the scenario", **options) -> Iterator[Guard]:
        with _skipping_when_disturbed(), audit_undisturbed(what, **options) as guard:
            yield guard

    return guarded
