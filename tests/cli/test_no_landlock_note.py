"""A reading that held lines but no Landlock record says so on stderr (an
empty report must not pass for a clean log)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

SELINUX = (
    'type=AVC msg=audit(1795737091.445:5321): avc:  denied  { read } for  pid=812 '
    'comm="cat" name="shadow" dev="vda1" ino=1041 scontext=user_u:user_r:user_t:s0 '
    'tcontext=system_u:object_r:shadow_t:s0 tclass=file permissive=0\n'
    'type=SYSCALL msg=audit(1795737091.445:5321): arch=c000003e syscall=257 success=no '
    'exit=-13 a0=ffffff9c a1=7ffd a2=0 a3=0 items=1 ppid=700 pid=812 auid=1000 uid=1000 '
    'gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 '
    'comm="cat" exe="/usr/bin/cat" subj=user_u:user_r:user_t:s0 key=(null)\n'
    'type=PROCTITLE msg=audit(1795737091.445:5321): proctitle=636174002F6574632F736861646F77\n')
NOTE = "lldecode: note: no Landlock records in {} lines; see `lldecode doctor`"


def _run(*args):
    return subprocess.run([sys.executable, "-m", "lldecode", *args], cwd=ROOT,
                          capture_output=True, timeout=120)


@pytest.fixture
def selinux_log(tmp_path):
    path = tmp_path / "selinux.log"
    path.write_text(SELINUX)
    return path


@pytest.mark.parametrize("command, status", [
    (["filter"], 1), (["filter", "--count"], 1), (["explain"], 1), (["summarize"], None),
    (["domains"], None)])
def test_selinux_only_log(selinux_log, command, status):
    result = _run(*command, str(selinux_log))
    if status is not None:
        assert result.returncode == status
    assert result.stderr.decode().splitlines()[-1] == NOTE.format(3)


def test_binary_file(tmp_path):
    binary = tmp_path / "program"
    binary.write_bytes(bytes(range(256)) * 40 + b"\n\x7fELF\x00\x01\n" * 5)
    result = _run("filter", str(binary))
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert lines[-1] == NOTE.format(40 + 10), lines  # (byte 10 is a newline)


def test_no_note_when_there_are_landlock_records_or_no_lines(tmp_path, selinux_log):
    with_landlock = _run("filter", "--count", str(selinux_log), "fixtures/auditd-raw.log")
    assert with_landlock.stdout == b"56\n" and b"no Landlock records" not in with_landlock.stderr
    # a selection that matches nothing is no reason for the note
    none = _run("filter", "--domain", "1", "fixtures/auditd-raw.log")
    assert none.returncode == 1 and b"no Landlock records" not in none.stderr
    empty = tmp_path / "empty.log"
    empty.write_text("")
    assert b"no Landlock records" not in _run("filter", str(empty)).stderr
    # a malformed Landlock record was diagnosed already
    bad = tmp_path / "bad.log"
    bad.write_text("type=UNKNOWN[1423] msg=audit(1795737091.445:5321): domain=zz blockers=x\n")
    result = _run("filter", str(bad))
    assert b"no Landlock records" not in result.stderr and b"bad.log:1:" in result.stderr


def test_one_line_is_said_in_the_singular(tmp_path):
    log = tmp_path / "one.log"
    log.write_text(SELINUX.splitlines()[0] + "\n")
    result = _run("summarize", str(log))
    assert result.stderr.decode().splitlines()[-1] == (
        "lldecode: note: no Landlock records in 1 line; see `lldecode doctor`")


def test_parts_read_in_parallel_add_up(tmp_path, monkeypatch):
    from lldecode.analysis import parallel
    from lldecode.analysis.reader import LogReader
    from lldecode.analysis.selection import Selection
    from lldecode.audit.records import Diagnostics
    from lldecode.cli.common import no_landlock_note

    monkeypatch.setattr(parallel, "MIN_PART", 1024)
    paths = []
    for n in range(2):
        path = tmp_path / f"selinux-{n}.log"
        # events of their own (the parts are cut between events)
        path.write_text("".join(SELINUX.replace(":5321)", f":{5321 + 100 * n + i})")
                                for i in range(20)))
        paths.append(str(path))
    assert len(parallel.plan(paths, 2)) >= 2, "the files would not be read in parallel"
    options = dict(domains=(), blockers=(), exes=(), comms=(), pids=(), uids=(), paths=(),
                   syscalls=(), since=None, until=None, where=None)
    diagnostics = Diagnostics()
    LogReader(paths, Selection.from_options(**options), diagnostics, jobs=2,
              selection_options=options).tally()
    assert no_landlock_note(diagnostics) == NOTE.format(2 * 20 * 3)
