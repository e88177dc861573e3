"""simulate's ``open PATH FLAGS``: a read-write open, O_CREAT, O_TRUNC (the
same cases run against the kernel in tests/kernel/test_open_flags.py)."""

from __future__ import annotations

import pytest

from lldecode.landlock.policy import Policy, parse_layer
from lldecode.landlock.simulate import Options, SimulationError, parse_open_flags, simulate

POLICY = Policy((parse_layer(
    '[[ruleset]]\nhandled_access_fs = ["read_file", "write_file", "truncate", "make_reg"]\n'
    '[[path_beneath]]\nallowed_access = ["read_file"]\nparent = ["/dev"]\n'
    '[[path_beneath]]\nallowed_access = ["write_file", "make_reg"]\nparent = ["/w"]\n',
    "p.toml"),))


def blockers(path, flags, **options):
    outcome = simulate(POLICY, "open", [path, flags] if flags else [path], Options(**options))
    return [(d.blockers, d.object["path"]) for d in outcome.denials]


def test_read_write_open_is_one_record_with_both_rights():
    # bash's exec 3<>/dev/tty
    assert blockers("/dev/tty", "O_RDWR") == [(("fs.write_file",), "/dev/tty")]
    assert blockers("/etc/x", "O_RDWR") == [(("fs.write_file", "fs.read_file"), "/etc/x")]
    assert blockers("/dev/tty", None) == []


def test_creat_checks_make_reg_on_the_directory_of_a_new_file_only():
    assert blockers("/etc/new", "O_WRONLY|O_CREAT") == [(("fs.make_reg",), "/etc")]
    assert blockers("/etc/new", "O_WRONLY|O_CREAT", exists=True) == [
        (("fs.write_file",), "/etc/new")]
    assert blockers("/w/new", "wronly,creat") == []
    assert blockers("/w/new", "O_WRONLY|O_CREAT|O_EXCL", exists=True) == []


def test_trunc_needs_truncate_on_an_existing_file_only():
    assert blockers("/w/f", "O_WRONLY|O_TRUNC") == [(("fs.truncate",), "/w/f")]
    assert blockers("/w/f", "O_WRONLY|O_CREAT|O_TRUNC") == []          # created: not truncated
    assert blockers("/w/f", "O_WRONLY|O_CREAT|O_TRUNC", exists=True) == [
        (("fs.truncate",), "/w/f")]


@pytest.mark.parametrize("text, names", [
    ("", ("O_RDONLY",)), ("rdwr", ("O_RDWR",)), ("O_TRUNC", ("O_RDONLY", "O_TRUNC")),
    ("o_wronly | o_creat + excl", ("O_WRONLY", "O_CREAT", "O_EXCL")),
])
def test_parse_open_flags(text, names):
    assert parse_open_flags(text) == names


@pytest.mark.parametrize("text, message", [
    ("O_RDWR|O_WRONLY", "more than one access mode"),
    ("O_EXCL", "only with O_CREAT"),
    ("O_APPENDX", "unknown open flag 'O_APPENDX'"),
])
def test_bad_open_flags(text, message):
    with pytest.raises(SimulationError, match=message):
        parse_open_flags(text)
