"""Tell a kernel test's failure from another process disturbing the audit subsystem.

The kernel has one audit subsystem, shared with every other process on the
machine: an audit daemon may register (or go away) in the middle of a
scenario, someone may switch audit off or change its limits with auditctl,
and a flood of records from elsewhere may make the kernel drop records
(its ``lost`` counter) or overrun our multicast socket (ENOBUFS).  A
scenario that misses records then for reasons that say nothing about
Landlock or about lldecode.

:func:`audit_undisturbed` reads the audit status before and after a block
and raises :class:`Disturbed`, with the reason, when it changed::

    with audit_undisturbed("scenario fs_read_file") as guard:
        run_the_scenario()
        if socket_overran:
            guard.disturb("the multicast socket overran")

A failure inside the block stays what it is when the status did not
change; when it did, the failure becomes a :class:`Disturbed` (chained to
it).  The tests' conftest turns :class:`Disturbed` into a skip.

Caveat: with ``audit=1`` on the kernel command line and no audit daemon,
the kernel counts as lost every record its hold queue cannot keep (once
``backlog_limit`` records wait), although the multicast group got them; a
guard there reports every scenario as disturbed.
"""

from __future__ import annotations

import errno
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Union

Status = Dict[str, int]
StatusReader = Callable[[], Status]
PidSpec = Union[int, Callable[[], int], None]

# Settings another process may change with auditctl (-e, -f, -r, -b,
# --backlog_wait_time); the harness itself only switches ``enabled``, and
# outside the guarded blocks.
SETTINGS = ("enabled", "failure", "rate_limit", "backlog_limit", "backlog_wait_time")


class Disturbed(Exception):
    """The audit subsystem changed under a kernel test: ``reason`` says how."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def read_status() -> Status:
    """The kernel's audit status (struct audit_status as a dict)."""
    from lldecode.audit.netlink import AuditControl

    with AuditControl() as control:
        return control.status()


def changes(before: Status, after: Status, expected_pid: Optional[int] = None) -> List[str]:
    """How the audit status changed in a way that can disturb a scenario.

    ``expected_pid`` is the audit daemon pid the caller expects afterwards
    (one it started itself); by default the one registered before.
    """
    reasons = []
    lost = (after["lost"] - before["lost"]) % (1 << 32)  # a u32 counter
    if lost:
        reasons.append(f"the kernel lost {lost} audit record(s) "
                       f"(lost counter {before['lost']} -> {after['lost']})")
    wanted = before["pid"] if expected_pid is None else expected_pid
    if after["pid"] != wanted:
        if after["pid"] == 0:
            reasons.append(f"the audit daemon (pid {wanted}) went away")
        elif wanted == 0:
            reasons.append(f"an audit daemon (pid {after['pid']}) registered with the kernel")
        else:
            reasons.append(f"another audit daemon registered (pid {wanted} -> {after['pid']})")
    for key in SETTINGS:
        if before.get(key) != after.get(key):
            reasons.append(f"another process changed audit {key} "
                           f"({before.get(key)} -> {after.get(key)})")
    return reasons


class Guard:
    """The status before a block, and what disturbed it."""

    def __init__(self, what: str, reader: StatusReader, expected_pid: PidSpec):
        self.what = what
        self.reader = reader
        self.expected_pid = expected_pid
        self.before = reader()
        self.reasons: List[str] = []

    def disturb(self, reason: str) -> None:
        """Record a disturbance the harness itself saw (the block goes on;
        :class:`Disturbed` is raised when it ends)."""
        self.reasons.append(reason)

    def check(self) -> List[str]:
        """Every reason to call the block disturbed (empty: undisturbed)."""
        try:
            after = self.reader()
        except (OSError, TimeoutError) as exc:
            return self.reasons + [f"the audit status could not be read afterwards ({exc})"]
        expected = self.expected_pid() if callable(self.expected_pid) else self.expected_pid
        return self.reasons + changes(self.before, after, expected)

    def message(self, reasons: List[str]) -> str:
        return f"audit disturbed during {self.what}: " + "; ".join(reasons)


@contextmanager
def audit_undisturbed(what: str = "the scenario", read_status: Optional[StatusReader] = None,
                      expected_pid: PidSpec = None) -> Iterator[Guard]:
    """Raise :class:`Disturbed` if the audit status changed during the block.

    ``read_status`` defaults to this module's :func:`read_status` (looked up
    at call time); ``expected_pid`` is the audit daemon pid expected at the
    end (an int, or a function called at the end), by default the one
    registered at the start.
    """
    guard = Guard(what, read_status or _default_reader(), expected_pid)
    try:
        yield guard
    except Exception as exc:  # pytest's skip/fail outcomes are BaseExceptions: not caught
        reasons = guard.check()
        if isinstance(exc, OSError) and exc.errno == errno.ENOBUFS:
            reasons.append("the audit multicast socket overran (ENOBUFS): records were dropped")
        if reasons:
            failure = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]
            raise Disturbed(f"{guard.message(reasons)} (the failure may come from it: {failure})"
                            ) from exc
        raise
    reasons = guard.check()
    if reasons:
        raise Disturbed(guard.message(reasons))


def _default_reader() -> StatusReader:
    return read_status
