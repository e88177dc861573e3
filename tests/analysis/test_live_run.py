"""Which denials are the command's (lldecode.analysis.live_run.Tracker), on the
real records of fixtures/auditd-raw.netlink: the capture tool (pid 8460)
forked one child per scenario, each child enforcing its own domain."""

from __future__ import annotations

from pathlib import Path

from lldecode.analysis.live_run import Tracker, _signature, _split, proc_ancestry
from lldecode.analysis.pipeline import Reading
from lldecode.audit.records import Diagnostics

NETLINK = str(Path(__file__).resolve().parents[2] / "fixtures" / "auditd-raw.netlink")
CAPTURE_PID = 8460


def events():
    return list(Reading([NETLINK], Diagnostics()).events())


def claimed(tracker):
    return [d for _, denials in events() for d in denials if tracker.claims(d)]


def test_one_child_claims_its_domain_only():
    every = [d for _, denials in events() for d in denials]
    first = every[0]
    assert first.domain == "1b6b1611c" and first.creator["pid"] == 8472
    mine = claimed(Tracker(8472, ancestry=lambda pid: []))
    assert {d.domain for d in mine} == {"1b6b1611c"}
    assert len(mine) == sum(1 for d in every if d.domain == "1b6b1611c")


def test_the_parent_claims_every_child_by_the_ppid_of_their_syscall_records():
    tracker = Tracker(CAPTURE_PID, ancestry=lambda pid: [])
    mine = claimed(tracker)
    every = [d for _, denials in events() for d in denials]
    children = [d for d in every if (d.process or {}).get("ppid") == CAPTURE_PID]
    assert mine and len(mine) >= len(children)
    assert {d.domain for d in children} <= tracker.domains
    assert 8472 in tracker.pids


def test_a_stranger_claims_nothing():
    assert claimed(Tracker(1, ancestry=lambda pid: [])) == []


def test_a_creator_not_seen_yet_is_a_descendant_when_its_ancestry_says_so():
    # the creators' ancestry as /proc would have shown it during the capture
    tracker = Tracker(4242, ancestry=lambda pid: [CAPTURE_PID, 4242, 1]
                      if pid != CAPTURE_PID else [4242, 1])
    assert len(claimed(tracker)) == sum(len(d) for _, d in events())


def test_proc_ancestry_of_this_process():
    import os

    chain = proc_ancestry(os.getpid())
    assert chain[0] == os.getppid()
    assert proc_ancestry(2 ** 22 + 1) == []  # no such process


def test_operations_split_and_fold():
    renames = [denials for _, denials in events() if len(denials) == 2]
    assert renames, "the fixture has renames across directories"
    pair = renames[0]
    assert list(_split(pair)) == [pair]
    assert list(_split([pair[0], pair[0]])) == [[pair[0]], [pair[0]]]
    assert _signature(pair) != _signature([pair[0]])
