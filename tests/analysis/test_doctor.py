"""lldecode doctor's checks against fake hosts: a fake root (/proc, /sys,
/etc, /boot, libraries), fake netlink answers and rule lists; each cause of
an empty log reported with its fix, and what could not be checked said."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from lldecode.analysis import doctor
from lldecode.analysis.doctor import OK, PROBLEM, UNKNOWN, WARNING, Host, diagnose, healthy

GOOD_STATUS = {"mask": 0, "enabled": 1, "failure": 1, "pid": 4242, "rate_limit": 0,
               "backlog_limit": 8192, "lost": 0, "backlog": 0, "feature_bitmap": 127,
               "backlog_wait_time": 60000}


def fake_root(tmp_path: Path, processes=("auditd",), log_mode=0o600, libaudit=b"LANDLOCK_ACCESS",
              config="CONFIG_AUDIT=y\nCONFIG_SECURITY_LANDLOCK=y\n", ratelimit="5",
              cmdline="BOOT_IMAGE=/vmlinuz root=/dev/vda") -> Path:
    root = tmp_path / "root"
    for i, comm in enumerate(processes, 100):
        (root / "proc" / str(i)).mkdir(parents=True)
        (root / "proc" / str(i) / "comm").write_text(comm + "\n")
    (root / "proc" / "sys" / "kernel").mkdir(parents=True)
    (root / "proc" / "sys" / "kernel" / "printk_ratelimit").write_text(ratelimit + "\n")
    (root / "proc" / "sys" / "kernel" / "printk_ratelimit_burst").write_text("10\n")
    (root / "proc" / "cmdline").write_text(cmdline + "\n")
    (root / "boot").mkdir()
    if config is not None:
        (root / "boot" / "config-6.18.0").write_text(config)
    (root / "etc" / "audit").mkdir(parents=True)
    log = root / "var" / "log" / "audit" / "audit.log"
    log.parent.mkdir(parents=True)
    (root / "etc" / "audit" / "auditd.conf").write_text(f"log_file = {log}\n")
    log.write_text("")
    log.chmod(log_mode)
    if libaudit is not None:
        (root / "usr" / "lib64").mkdir(parents=True)
        (root / "usr" / "lib64" / "libaudit.so.1").write_bytes(b"\0ELF..." + libaudit + b"\0")
    return root


def host(tmp_path, status=GOOD_STATUS, rules=(), abi=7, release="6.18.0", euid=0,
         probe=(True, False), journald_socket=None, **root_options) -> Host:
    def audit_status():
        if isinstance(status, Exception):
            raise status
        return dict(status)

    def landlock_abi():
        if isinstance(abi, Exception):
            raise abi
        return abi

    return Host(run=lambda argv: journald_socket,
                root=str(fake_root(tmp_path, **root_options)), audit_status=audit_status,
                audit_rules=(lambda: None) if rules is None else (lambda: list(rules)),
                landlock_abi=landlock_abi, release=release, euid=euid,
                probe=None if probe is None else (lambda after_exec: probe[after_exec]))


def by_name(checks):
    return {c.name: c for c in checks}


def test_a_healthy_host(tmp_path):
    checks = diagnose(host(tmp_path))
    statuses = {c.name: c.status for c in checks}
    assert healthy(checks)
    assert statuses.pop("exec_logging") == WARNING  # Landlock's default, always said
    assert set(statuses.values()) == {OK}, statuses


@pytest.mark.parametrize("change, name, status, fix", [
    ({"status": {**GOOD_STATUS, "enabled": 0}}, "audit_enabled", PROBLEM, "auditctl -e 1"),
    ({"rules": ["-a never,exclude -F msgtype=1423"]}, "exclude_rules", PROBLEM,
     "auditctl -d never,exclude -F msgtype=1423"),
    ({"rules": ["-a exclude,never -F msgtype=UNKNOWN[1424]"]}, "exclude_rules", PROBLEM,
     "auditctl -d"),
    ({"status": {**GOOD_STATUS, "rate_limit": 100}}, "rate_limit", WARNING, "auditctl -r 0"),
    ({"status": {**GOOD_STATUS, "lost": 12, "backlog_limit": 64}}, "backlog", WARNING,
     "auditctl -b 8192"),
    ({"release": "6.14.2"}, "kernel", PROBLEM, "6.15"),
    ({"config": "# CONFIG_AUDIT is not set\n"}, "config_audit", PROBLEM, "CONFIG_AUDIT=y"),
    ({"abi": 6}, "landlock", PROBLEM, "6.15"),
    ({"abi": OSError(errno.EOPNOTSUPP, "no")}, "landlock", PROBLEM, "lsm="),
    ({"abi": OSError(errno.ENOSYS, "no")}, "landlock", PROBLEM, "CONFIG_SECURITY_LANDLOCK"),
    ({"status": {**GOOD_STATUS, "pid": 0}, "processes": ()}, "collector", PROBLEM,
     "start auditd"),
    ({"status": {**GOOD_STATUS, "pid": 0}, "processes": ("systemd-journal",)}, "collector",
     WARNING, "systemd-journald-audit.socket"),
    ({"status": {**GOOD_STATUS, "pid": 0}, "processes": ("systemd-journal",),
      "journald_socket": "inactive\n"}, "collector", PROBLEM, "systemd-journald-audit.socket"),
    ({"status": {**GOOD_STATUS, "pid": 0}, "processes": ("systemd-journal",),
      "journald_socket": "active\n"}, "collector", OK, None),
    ({"status": {**GOOD_STATUS, "pid": 0}}, "collector", PROBLEM, "systemctl restart auditd"),
    ({"status": {**GOOD_STATUS, "pid": 0}, "processes": ()}, "printk_ratelimit", WARNING,
     "kernel.printk_ratelimit=0"),
    ({"libaudit": b"nothing of the kind"}, "type_names", WARNING, "upgrade"),
    ({"probe": (False, False)}, "test_denial", PROBLEM, None),
])
def test_each_cause_is_reported_with_its_fix(tmp_path, change, name, status, fix):
    checks = by_name(diagnose(host(tmp_path, **change)))
    assert checks[name].status == status, checks[name]
    if fix is not None:
        assert fix in checks[name].fix
    if status == PROBLEM:
        assert not healthy(checks.values())


def test_an_unreadable_log_is_a_problem(tmp_path):
    made = host(tmp_path, euid=1000)
    made.readable = lambda path: False   # (root reads every file: the probe is replaced)
    checks = by_name(diagnose(made))
    assert checks["log_file"].status == PROBLEM and "log_group" in checks["log_file"].fix


def test_no_log_file_with_auditd_running_is_a_problem(tmp_path):
    made = host(tmp_path)
    os.unlink(os.path.join(made.root, "var/log/audit/audit.log"))
    checks = by_name(diagnose(made))
    assert checks["log_file"].status == PROBLEM


def test_without_root_it_says_what_it_could_not_check(tmp_path):
    made = host(tmp_path, status=PermissionError(errno.EPERM, "Operation not permitted"),
                rules=None, euid=1000, probe=None)
    checks = by_name(diagnose(made))
    for name in ("audit_enabled", "rate_limit", "backlog", "exclude_rules", "test_denial"):
        assert checks[name].status == UNKNOWN, checks[name]
        assert "root" in checks[name].detail or "root" in (checks[name].fix or "")
    assert checks["collector"].status == OK  # auditd is seen among the processes
    assert healthy(checks.values())


def test_audit_off_from_boot_is_seen_without_root(tmp_path):
    made = host(tmp_path, status=PermissionError(errno.EPERM, "no"), euid=1000,
                cmdline="root=/dev/vda audit=0 quiet")
    assert by_name(diagnose(made))["audit_enabled"].status == PROBLEM


def test_exec_logging_is_checked_only_when_a_denial_is_logged(tmp_path):
    checks = by_name(diagnose(host(tmp_path, probe=(True, True))))
    assert checks["exec_logging"].status == OK
    checks = by_name(diagnose(host(tmp_path / "second", probe=(False, True))))
    assert checks["exec_logging"].status == WARNING
    assert "not logged" not in checks["exec_logging"].detail


def test_the_command_text_json_and_exit_status(tmp_path, monkeypatch):
    from lldecode.cli.app import cli

    bad = host(tmp_path, status={**GOOD_STATUS, "enabled": 0})
    monkeypatch.setattr(doctor, "Host", lambda: bad)
    runner = CliRunner()
    text = runner.invoke(cli, ["doctor", "--color", "never"])
    assert text.exit_code == 1
    assert "problem  audit enabled: the kernel's audit is off" in text.output
    assert "         fix: auditctl -e 1" in text.output
    assert text.output.splitlines()[-1].startswith("denials would not be logged")
    as_json = runner.invoke(cli, ["doctor", "--format", "json"])
    document = json.loads(as_json.output)
    assert as_json.exit_code == 1 and document["healthy"] is False
    assert {c["check"] for c in document["checks"]} >= {"audit_enabled", "collector"}
    good = host(tmp_path / "good")
    monkeypatch.setattr(doctor, "Host", lambda: good)
    assert runner.invoke(cli, ["doctor"]).exit_code == 0


def test_hostile_names_are_escaped(tmp_path):
    from lldecode.output.doctor import render_text
    from lldecode.output.text import Style

    check = doctor.Check("log_file", "audit log readable", PROBLEM,
                         "/var/log/\x1b[31mevil\n cannot be read", "chmod")
    out = render_text([check], False, Style("never"))
    assert "\x1b" not in out and out.count("\n") == 3
