"""The audit guard of the kernel tests, on faked audit status (no root needed)."""

from __future__ import annotations

import errno
from contextlib import contextmanager

import pytest

from tools.kernel import audit_guard, capture
from tools.kernel.audit_guard import Disturbed, audit_undisturbed, changes

BASE = {"mask": 0, "enabled": 1, "failure": 1, "pid": 0, "rate_limit": 0,
        "backlog_limit": 64, "lost": 7, "backlog": 0, "feature_bitmap": 127,
        "backlog_wait_time": 15000}


def status(**changed):
    return dict(BASE, **changed)


class FakeStatus:
    """Returns the given statuses in turn (the last one from then on)."""

    def __init__(self, *statuses):
        self.statuses = list(statuses)
        self.reads = 0

    def __call__(self):
        self.reads += 1
        if len(self.statuses) > 1:
            return self.statuses.pop(0)
        return self.statuses[0]


def guarded(*statuses, **options):
    reader = FakeStatus(*statuses)
    return reader, audit_undisturbed("scenario x", read_status=reader, **options)


# --- the status comparison ---------------------------------------------------------

def test_an_unchanged_status_is_undisturbed():
    assert changes(status(), status()) == []
    # The backlog and the feature bitmap move on their own: not a disturbance.
    assert changes(status(), status(backlog=12, mask=3)) == []


@pytest.mark.parametrize("after, words", [
    (status(lost=9), ["lost 2 audit record(s)", "7 -> 9"]),
    (status(pid=4321), ["an audit daemon (pid 4321) registered"]),
    (status(enabled=0), ["enabled", "1 -> 0"]),
    (status(failure=2), ["failure", "1 -> 2"]),
    (status(rate_limit=100), ["rate_limit", "0 -> 100"]),
    (status(backlog_limit=8192), ["backlog_limit", "64 -> 8192"]),
    (status(backlog_wait_time=0), ["backlog_wait_time"]),
])
def test_each_change_is_a_reason(after, words):
    reasons = changes(status(), after)
    assert len(reasons) == 1
    for word in words:
        assert word in reasons[0]


def test_the_daemon_pid_changing_or_going_away():
    assert "went away" in changes(status(pid=100), status(pid=0))[0]
    reason = changes(status(pid=100), status(pid=200))[0]
    assert "100 -> 200" in reason


def test_an_expected_daemon_is_no_disturbance():
    assert changes(status(pid=0), status(pid=555), expected_pid=555) == []
    assert "556" in changes(status(pid=0), status(pid=556), expected_pid=555)[0]
    assert "went away" in changes(status(pid=0), status(pid=0), expected_pid=555)[0]


def test_the_lost_counter_wraps_around():
    reason = changes(status(lost=2 ** 32 - 1), status(lost=1))
    assert "lost 2 audit record(s)" in reason[0]


def test_several_changes_are_all_reported():
    assert len(changes(status(), status(lost=8, pid=9, enabled=0))) == 3


# --- the context manager -------------------------------------------------------------

def test_undisturbed_block_runs_and_passes():
    reader, guard = guarded(status(), status())
    ran = []
    with guard as g:
        ran.append(True)
        assert g.before == status()
    assert ran == [True]
    assert reader.reads == 2  # before and after


def test_status_read_once_before_the_block():
    reader, guard = guarded(status(), status())
    with guard:
        assert reader.reads == 1


def test_a_change_raises_disturbed_even_when_the_block_succeeded():
    _, guard = guarded(status(), status(lost=10))
    with pytest.raises(Disturbed) as info:
        with guard:
            pass
    assert info.value.reason.startswith("audit disturbed during scenario x: ")
    assert "lost 3 audit record(s)" in info.value.reason
    assert str(info.value) == info.value.reason
    assert info.value.__cause__ is None


def test_a_failure_with_the_status_unchanged_stays_a_failure():
    _, guard = guarded(status(), status(backlog=5))
    with pytest.raises(AssertionError, match="the simulator is wrong"):
        with guard:
            raise AssertionError("the simulator is wrong")


def test_a_failure_while_disturbed_becomes_disturbed():
    _, guard = guarded(status(), status(pid=4242))
    with pytest.raises(Disturbed) as info:
        with guard:
            raise AssertionError("saw 1 marker records, not 2")
    assert isinstance(info.value.__cause__, AssertionError)
    assert "an audit daemon (pid 4242) registered" in info.value.reason
    assert "AssertionError: saw 1 marker records, not 2" in info.value.reason


def test_a_multicast_overrun_is_a_disturbance():
    _, guard = guarded(status(), status())
    with pytest.raises(Disturbed, match="overran") as info:
        with guard:
            raise OSError(errno.ENOBUFS, "No buffer space available")
    assert isinstance(info.value.__cause__, OSError)


def test_other_os_errors_stay_errors():
    _, guard = guarded(status(), status())
    with pytest.raises(PermissionError):
        with guard:
            raise PermissionError(errno.EPERM, "Operation not permitted")


def test_a_disturbance_the_harness_saw():
    _, guard = guarded(status(), status())
    with pytest.raises(Disturbed, match="socket overran 3 time"):
        with guard as g:
            g.disturb("the socket overran 3 time(s)")


def test_expected_pid_may_be_known_only_at_the_end():
    daemon = {"pid": 0}
    reader, guard = guarded(status(pid=0), status(pid=777),
                            expected_pid=lambda: daemon["pid"])
    with guard:
        daemon["pid"] = 777  # the test started its own auditd
    assert reader.reads == 2


def test_a_status_that_cannot_be_read_afterwards_is_a_disturbance():
    calls = []

    def reader():
        calls.append(1)
        if len(calls) > 1:
            raise TimeoutError("no answer from the kernel's audit netlink socket")
        return status()

    with pytest.raises(Disturbed, match="could not be read afterwards"):
        with audit_undisturbed("x", read_status=reader):
            pass


def test_a_status_that_cannot_be_read_at_first_is_an_error():
    def reader():
        raise PermissionError(errno.EPERM, "Operation not permitted")

    with pytest.raises(PermissionError):
        with audit_undisturbed("x", read_status=reader):
            pytest.fail("the block must not run")


def test_skips_and_fails_of_pytest_pass_through_unchecked():
    reader, guard = guarded(status(), status(lost=100))
    with pytest.raises(pytest.skip.Exception):
        with guard:
            pytest.skip("not here")
    assert reader.reads == 1


def test_the_default_reader_is_looked_up_when_used(monkeypatch):
    reader = FakeStatus(status(), status(enabled=0))
    monkeypatch.setattr(audit_guard, "read_status", reader)
    with pytest.raises(Disturbed, match="enabled"):
        with audit_undisturbed():
            pass
    assert reader.reads == 2


# --- the conftest fixtures turn Disturbed into a skip ----------------------------------

def test_undisturbed_fixture_skips_when_disturbed(undisturbed):
    reader = FakeStatus(status(), status(lost=8))
    with pytest.raises(pytest.skip.Exception, match="lost 1 audit record"):
        with undisturbed("scenario y", read_status=reader):
            pass


def test_undisturbed_fixture_keeps_failures(undisturbed):
    reader = FakeStatus(status(), status())
    with pytest.raises(AssertionError, match="real"):
        with undisturbed("scenario y", read_status=reader):
            raise AssertionError("real")
    reader = FakeStatus(status(), status())
    with undisturbed("scenario y", read_status=reader) as guard:
        assert guard.before == status()


def test_skip_if_disturbed_fixture(skip_if_disturbed):
    with pytest.raises(pytest.skip.Exception, match="because"):
        with skip_if_disturbed():
            raise Disturbed("because")
    with pytest.raises(ValueError):
        with skip_if_disturbed():
            raise ValueError("not a disturbance")


# --- the capture tool's guarded run ---------------------------------------------------

class FakeCollector:
    def __init__(self, overruns):
        self.records = [(1423, "audit(1.0:1): domain=1 blockers=fs.read_file")]
        self.overruns = overruns


class FakeSession:
    def __init__(self, overruns):
        self.collector = FakeCollector(overruns)
        self.reports = []

    def run(self, plan):
        self.reports.append({"scenario": "s", "ok": True, "value": {"pid": 1}})

    def check_foreign(self):
        pass


@pytest.fixture
def fake_capture(monkeypatch):
    def install(overruns, *statuses):
        @contextmanager
        def session():
            yield FakeSession(overruns)
        monkeypatch.setattr(capture, "session", session)
        reader = FakeStatus(*statuses)
        monkeypatch.setattr(audit_guard, "read_status", reader)
        return reader
    return install


def test_capture_netlink_undisturbed(fake_capture):
    reader = fake_capture(0, status(), status())
    records, reports = capture.capture_netlink([], undisturbed=True)
    assert len(records) == 1 and reports[0]["ok"]
    assert reader.reads == 2


def test_capture_netlink_reports_an_overrun(fake_capture):
    fake_capture(2, status(), status())
    with pytest.raises(Disturbed, match="overran 2 time"):
        capture.capture_netlink([], undisturbed=True)


def test_capture_netlink_reports_a_status_change(fake_capture):
    fake_capture(0, status(), status(pid=99))
    with pytest.raises(Disturbed, match="pid 99"):
        capture.capture_netlink([], undisturbed=True)


def test_capture_netlink_unguarded_by_default(fake_capture):
    reader = fake_capture(2, status(), status(pid=99))
    records, _ = capture.capture_netlink([])
    assert records and reader.reads == 0
