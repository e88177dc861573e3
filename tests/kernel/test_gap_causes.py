"""``domains``' causes of unlogged denials, on records the kernel logs now.

A child enforces a ruleset, is denied once as itself (python), then
executes ``cat`` on a denied file.  With the default flags the kernel logs
only the first denial and counts both: the execve rule.  With
LOG_NEW_EXEC_ON | LOG_SAME_EXEC_OFF it logs only cat's: the log shows an
execve, so not the execve rule.  Read as the audit log (netlink spelling),
and as the kernel console, which would say when the backlog dropped records.
Run under the shared lock.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from lldecode.analysis.domain_report import gap_causes
from lldecode.analysis.domains import DEALLOCATED, DomainRegistry
from lldecode.analysis.pipeline import Reading
from lldecode.audit.netlink import AuditControl, AuditMulticast, record_as_line
from lldecode.audit.records import Diagnostics
from lldecode.audit.sources import LinesSource
from tools.kernel.landlock import LOG_NEW_EXEC_ON, LOG_SAME_EXEC_OFF, Ruleset, run_in_child

pytestmark = pytest.mark.kernel

READ_FILE = 1 << 2
SYSTEM = ("/usr", "/bin", "/lib", "/lib64", "/etc")


@pytest.fixture(scope="module")
def feed(landlock_audit):
    with AuditControl() as control:
        was_enabled = control.status()["enabled"]
        if not was_enabled:
            control.set_enabled(True)
        try:
            with AuditMulticast() as multicast:
                yield multicast
        finally:
            if not was_enabled:
                control.set_enabled(False)


def capture(feed, flags):
    """The records of one run (until the domain's deallocation)."""
    root = tempfile.mkdtemp(prefix="lldecode-gap-", dir="/tmp")
    secret = os.path.join(root, "secret")
    with open(secret, "w") as stream:
        stream.write("secret\n")

    def act():
        ruleset = Ruleset(handled_fs=READ_FILE)
        for path in SYSTEM:
            if os.path.exists(path):
                ruleset.allow_path(path, READ_FILE)
        ruleset.enforce(flags=flags)
        try:
            open(secret).close()
        except PermissionError:
            pass
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.execv("/bin/cat", ["cat", secret])

    try:
        run_in_child(act)
        lines, domain = [], None
        for rtype, payload in feed.messages(timeout=5.0, idle=1.0):
            lines.append(record_as_line(rtype, payload))
            if domain is None and f'path="{secret}"' in payload:
                domain = payload.split("domain=", 1)[1].split()[0]
            elif domain and f"domain={domain} status=deallocated" in payload:
                break  # the domain's own deallocation ends the capture
        return lines, secret
    finally:
        shutil.rmtree(root, ignore_errors=True)


def causes(lines, secret, console=False):
    if console:  # the kernel console's spelling of the same records
        lines = [f"[ 1000.000000] audit: {line}" for line in lines]
    registry = DomainRegistry()
    reading = Reading([], Diagnostics(), registry=registry,
                      given_sources=[LinesSource(lines)])
    domains = {d.domain_info.id for _, denials in reading.events() for d in denials
               if d.path == secret.encode()}
    assert len(domains) == 1, domains
    info = next(i for i in registry.ordered() if i.id in domains)
    assert info.status == DEALLOCATED and info.denials_reported == 2
    assert info.denials_logged == 1
    return info, gap_causes(info, reading.grouper.stats)


def test_default_flags_point_to_the_execve_rule(feed, undisturbed):
    with undisturbed("gap causes: execve rule"):
        lines, secret = capture(feed, 0)
    info, found = causes(lines, secret)
    assert (info.exe_creator, info.exe_other) == (1, 0)
    assert found[0].startswith("possible: the kernel drops records when its audit backlog")
    assert found[1].startswith("possible: the execve rule: denials are not logged after "
                               "execve unless")
    assert found[1].endswith("every logged denial comes from the creator's executable: the "
                             "unlogged ones may be those of a program it executed")
    # on the console, which says when the backlog drops records, and does not
    info, found = causes(lines, secret, console=True)
    assert found[-2].startswith("likely: the execve rule") and \
        found[-2].endswith("(the backlog is ruled out)")
    assert found[-1].startswith("unlikely: the kernel's audit backlog")


def test_an_execve_logged_rules_out_the_execve_rule(feed, undisturbed):
    with undisturbed("gap causes: logged after execve"):
        lines, secret = capture(feed, LOG_NEW_EXEC_ON | LOG_SAME_EXEC_OFF)
    info, found = causes(lines, secret)
    assert (info.exe_creator, info.exe_other) == (0, 1)
    flags = next(c for c in found if "LOG_SAME_EXEC_OFF or LOG_SUBDOMAINS_OFF" in c)
    assert flags.startswith("possible: the logging flags")
    assert "not the execve rule: 1 logged denials come from another executable" in flags
