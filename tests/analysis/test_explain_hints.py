"""explain's fixes, on the real records of fixtures/auditd-raw.log and
fixtures/dmesg.txt (issue 12): the hint on rights kept at open time only for
ftruncate and ioctl on a descriptor; a sentence on older layers."""

from __future__ import annotations

from pathlib import Path

import pytest

from lldecode.analysis.explain import (
    OLDER_LAYERS,
    OPENED_FILE_HINT,
    Paragraph,
    explanation,
    operations,
)
from lldecode.analysis.reader import LogReader

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def explained(name, blocker):
    from lldecode.analysis.selection import Selection

    reader = LogReader([str(FIXTURES / name)], Selection.from_options(blockers=[blocker]))
    return [explanation(Paragraph(op)) for op in operations(reader.denials())]


@pytest.mark.parametrize("syscall, hinted", [
    ("truncate", False),      # truncate(2) by path: the rules at the call
    ("openat", False),        # open(O_TRUNC): the rules at the call
    ("ftruncate", True),      # on a descriptor: the rules when it was opened
])
def test_truncate_hint_only_on_a_descriptor(syscall, hinted):
    found = [e for e in explained("auditd-raw.log", "fs.truncate")
             if e["what"]["syscall"] == syscall]
    assert len(found) == 1
    assert (OPENED_FILE_HINT in found[0]["fix"]) is hinted


def test_ioctl_dev_hint():
    (ioctl,) = explained("auditd-raw.log", "fs.ioctl_dev")
    assert ioctl["what"]["syscall"] == "ioctl" and OPENED_FILE_HINT in ioctl["fix"]


def test_without_syscall_records_the_truncate_hint_is_a_condition(tmp_path):
    # only the Landlock records of the capture (as `ausearch -m 1423,1424
    # --raw` selects them): which truncate it was is unknown
    landlock_only = tmp_path / "landlock-only.log"
    with open(FIXTURES / "auditd-raw.log", encoding="latin-1") as stream:
        landlock_only.write_text("".join(line for line in stream
                                         if line.startswith(("type=UNKNOWN[1423]",
                                                              "type=UNKNOWN[1424]"))),
                                 encoding="latin-1")
    from lldecode.analysis.selection import Selection

    reader = LogReader([str(landlock_only)], Selection.from_options(blockers=["fs.truncate"]))
    found = [explanation(Paragraph(op)) for op in operations(reader.denials())]
    assert len(found) == 3 and all(e["what"]["syscall"] is None for e in found)
    for e in found:
        hints = [f for f in e["fix"] if OPENED_FILE_HINT in f]
        assert hints == [b"if the file was truncated through an open descriptor (ftruncate), "
                         b"not by path (truncate, open with O_TRUNC): " + OPENED_FILE_HINT]


def test_older_layers_may_deny_too_without_a_policy():
    for blocker in ("fs.read_file", "net.bind_tcp", "scope.signal"):
        for e in explained("auditd-raw.log", blocker):
            assert e["fix"][-1] == OLDER_LAYERS
    for e in explained("auditd-raw.log", "ptrace"):
        assert OLDER_LAYERS not in e["fix"]
