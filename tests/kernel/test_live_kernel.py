"""Issue 13 on the real kernel, as root, under the audit lock
(``flock /tmp/lldecode-audit.lock python -m pytest tests/kernel/test_live_kernel.py``):

* ``lldecode explain netlink:`` and ``--follow`` of a real auditd's log show a
  denial within half a second, on a pseudo-terminal, with no later event;
* ``lldecode doctor`` reports each cause made true on this machine (audit
  disabled, an exclude rule, Landlock's log flags, no audit daemon), and the
  machine is put back as it was.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.cli.test_live_cli import LATENCY, Terminal

pytestmark = pytest.mark.kernel


@pytest.fixture
def audit_on(landlock_audit):
    """Audit enabled for the test (and put back off if it was off)."""
    from tools.kernel.capture import audit_enabled

    with audit_enabled():
        yield


@pytest.fixture
def terminal():
    started = []

    def start(*args: str) -> Terminal:
        made = Terminal(*args)
        started.append(made)
        return made

    yield start
    for made in started:
        if made.status is None:
            made.kill()
            made.finish(2)


def _deny(directory: Path, name: str) -> str:
    """Make a denial on a new directory ``name``; its path, as logged."""
    from lldecode.landlock.probe import deny_mkdir

    parent = directory / name
    parent.mkdir()
    assert deny_mkdir(str(parent / "refused")) is not None
    return str(parent)


def test_a_denial_on_netlink_shows_within_half_a_second(audit_on, terminal, tmp_path):
    term = terminal("explain", "netlink:")
    time.sleep(1.0)                       # subscribed
    started = time.monotonic()
    target = _deny(tmp_path, "netlink-latency")
    seen = term.read_until(target.encode(), timeout=5)
    assert time.monotonic() - started < LATENCY + 0.2 and seen < LATENCY
    os.write(term.fd, b"\x03")
    assert term.finish() == 130


def test_a_denial_in_a_followed_auditd_log_shows_within_half_a_second(audit_on, terminal,
                                                                      tmp_path):
    from tools.kernel.auditd import AuditdConfig, running_auditd

    scratch = Path(tempfile.mkdtemp(prefix="lldecode-follow-"))
    try:
        with running_auditd(scratch, AuditdConfig()) as daemon:
            first = _deny(tmp_path, "first")
            deadline = time.monotonic() + 5
            while first.encode() not in daemon.log_file.read_bytes():
                assert time.monotonic() < deadline, "auditd did not log the first denial"
                time.sleep(0.05)
            term = terminal("explain", "--follow", str(daemon.log_file))
            term.read_until(first.encode())
            time.sleep(0.5)
            started = time.monotonic()
            second = _deny(tmp_path, "second")
            term.read_until(second.encode(), timeout=5)
            assert time.monotonic() - started < LATENCY
            os.kill(term.pid, signal.SIGINT)
            assert term.finish() == 130
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# -- doctor, each cause made true --------------------------------------------------------

def _doctor(**host_options):
    from lldecode.analysis.doctor import Host, diagnose

    return {c.name: c for c in diagnose(Host(**host_options))}


def _auditctl(*args: str) -> None:
    subprocess.run([shutil.which("auditctl") or "auditctl", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_doctor_on_this_machine_with_audit_on(audit_on):
    checks = _doctor()
    assert checks["audit_enabled"].status == "ok"
    assert checks["test_denial"].status == "ok", checks["test_denial"]
    # Landlock's default: a denial after execve is not logged
    assert checks["exec_logging"].status == "warning"
    assert "after execve was not logged" in checks["exec_logging"].detail


def test_the_log_flag_scenario(audit_on):
    from lldecode.analysis.doctor import _probe_denial
    from lldecode.landlock.probe import LOG_NEW_EXEC_ON

    assert _probe_denial(after_exec=False) is True
    assert _probe_denial(after_exec=True) is False
    assert _probe_denial(after_exec=True, flags=LOG_NEW_EXEC_ON) is True


def test_doctor_sees_audit_disabled_and_puts_it_back(audit_on):
    from lldecode.audit.netlink import AuditControl

    if shutil.which("auditctl") is None:
        pytest.skip("no auditctl")
    _auditctl("-e", "0")
    try:
        checks = _doctor()
    finally:
        _auditctl("-e", "1")
    with AuditControl() as control:
        assert control.status()["enabled"] == 1
    assert checks["audit_enabled"].status == "problem"
    assert checks["audit_enabled"].fix.startswith("auditctl -e 1")
    assert checks["test_denial"].status == "problem"


def test_doctor_sees_an_exclude_rule_and_removes_it(audit_on):
    if shutil.which("auditctl") is None:
        pytest.skip("no auditctl")
    rule = ("never,exclude", "-F", "msgtype=1423")
    _auditctl("-a", *rule)
    try:
        checks = _doctor()
    finally:
        _auditctl("-d", *rule)
    assert checks["exclude_rules"].status == "problem"
    assert "auditctl -d never,exclude" in checks["exclude_rules"].fix
    assert checks["test_denial"].status == "problem"
    listed = subprocess.run(["auditctl", "-l"], capture_output=True, text=True).stdout
    assert "exclude" not in listed
    assert _doctor()["test_denial"].status == "ok"


def test_doctor_with_and_without_an_audit_daemon(audit_on, tmp_path, monkeypatch):
    from tools.kernel.auditd import AuditdConfig, audit_pid, running_auditd

    if audit_pid() != 0:
        pytest.skip("an audit daemon runs here: cannot make its absence true")
    absent = _doctor(probe=lambda after_exec: None)
    assert absent["collector"].status in ("problem", "warning")
    scratch = Path(tempfile.mkdtemp(prefix="lldecode-doctor-"))
    try:
        with running_auditd(scratch, AuditdConfig()) as daemon:
            monkeypatch.setenv("LLDECODE_AUDITD_CONF", str(daemon.config_dir / "auditd.conf"))
            present = _doctor()
        assert audit_pid() == 0                      # stopped again
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert present["collector"].status == "ok"
    assert present["printk_ratelimit"].status == "ok"
    assert present["log_file"].status == "ok", present["log_file"]
    assert present["test_denial"].status == "ok"
