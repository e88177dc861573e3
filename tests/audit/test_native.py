"""The C candidate search (lldecode/audit/_native.c) against the Python one.

The extension is optional (setup.py): an installation without a C compiler
reads with the Python search, which stays the reference.  These tests build
the extension from its source when it is not importable (skipped, with the
reason, when no compiler is found), then check that it finds the same
candidate lines as scan.Scan._python_positions, and the same newline counts as
bytes.count, on hypothesis-made lines that go through every branch of
scan.PLAIN_RECORD, on every fixture and on generated logs; and that every
command prints the same bytes with it and without it.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sysconfig
from pathlib import Path
from types import ModuleType
from typing import List, Optional, Tuple

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import lldecode.audit
from lldecode.audit import records, scan
from lldecode.cli.app import cli
from tests.audit.test_scan import COMMANDS, GENERATED, HOSTILE, INPUTS, OTHER_CARRIERS

SOURCE = Path(lldecode.audit.__file__).parent / "_native.c"


@pytest.fixture(scope="module")
def native(tmp_path_factory) -> ModuleType:
    """The extension: installed, or built here from its source."""
    try:
        from lldecode.audit import _native

        return _native
    except ImportError:
        pass
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build lldecode/audit/_native.c (the Python search "
                    "is used)")
    out = tmp_path_factory.mktemp("native") / ("_native" + sysconfig.get_config_var(
        "EXT_SUFFIX"))
    subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-Wall", "-Werror",
                    "-I" + sysconfig.get_paths()["include"], str(SOURCE), "-o", str(out)],
                   check=True)
    spec = importlib.util.spec_from_file_location("lldecode.audit._native", out)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reference(block: bytes, size: int) -> Tuple[List[int], List[int], int]:
    starts = scan.Scan("/dev/null", 0, None, 1, 1 << 22)._python_positions(block, size)
    return starts, [block.count(b"\n", 0, start) for start in starts], block.count(
        b"\n", 0, size)


# Pieces of headers: each branch of PLAIN_RECORD, and the ways to miss it.
PIECES = ["node=", "node=h1 ", "node=a\tb ", "node=\r ", "type=", "LANDLOCK_", "LL_",
          "UNKNOWN[142", "UNKNOWN[1423]", "UNKNOWN[1300]", "UNKNOWN[", "UNKNOWN[]", "]",
          "AUDIT142", "AUDIT1300", "142", "1300", "14", "SYSCALL", "A", "a", "_", "9", "[",
          " msg=audit(", " msg=audit", "msg=audit(", ".", ":", "):", ")", " ", "\t", "\r",
          "\x1b", "x", "1800000000", "12345678901", "123", "123456789", "1234567890",
          "12345678901234567890", "123456789012345678901", "é"]

lines_st = st.lists(st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
                    min_size=1, max_size=30)


@st.composite
def headers(draw):
    """Lines that are mostly well-formed plain records, each with one change."""
    node = draw(st.sampled_from(["", "node=h1 ", "node=x\t ", "node= "]))
    kind = draw(st.sampled_from(["SYSCALL", "UNKNOWN[1300]", "1300", "USER_AVC", "LANDLOCK_X",
                                 "LL_DOMAIN", "UNKNOWN[1423]", "AUDIT1424", "1423", "S[", "S[9",
                                 "S[]", "s", "UNKNOWN[12]x"]))
    seconds = draw(st.sampled_from(["1", "1800000000", "12345678901", ""]))
    fraction = draw(st.sampled_from(["1", "123", "123456789", "1234567890", ""]))
    serial = draw(st.sampled_from(["1", "12345678901234567890", "123456789012345678901", ""]))
    end = draw(st.sampled_from(["): x=1", "):", ")", ") :", "):\r"]))
    return f"{node}type={kind} msg=audit({seconds}.{fraction}:{serial}{end}"


def _check(native: ModuleType, lines: List[str], terminated: bool, cut: int) -> None:
    block = ("\n".join(lines) + ("\n" if terminated else "")).encode("utf-8")
    for size in {len(block), max(0, len(block) - cut)}:
        assert native.candidates(block, size) == _reference(block, size)


@settings(max_examples=400, deadline=None)
@given(lines=lines_st, terminated=st.booleans(), cut=st.integers(0, 30))
def test_pieces(native, lines, terminated, cut):
    _check(native, lines, terminated, cut)


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(headers(), min_size=1, max_size=20), terminated=st.booleans(),
       cut=st.integers(0, 30))
def test_headers(native, lines, terminated, cut):
    _check(native, lines, terminated, cut)


def test_blocks_of_every_log(native):
    logs = [Path(p).read_bytes() for p in INPUTS if Path(p).is_file()]
    logs += [b"\n".join(lines) + b"\n" for lines in GENERATED.values()]
    logs.append(b"\n".join(HOSTILE + OTHER_CARRIERS))
    for data in logs:
        for size in (len(data), len(data) // 2, 1000):
            block = data[:size]
            assert native.candidates(block, len(block)) == _reference(block, len(block))


def test_bad_sizes(native):
    with pytest.raises(ValueError):
        native.candidates(b"abc", 4)
    with pytest.raises(ValueError):
        native.candidates(b"abc", -1)
    assert native.candidates(b"", 0) == ([], [], 0)


def _cli(args: List[str], module) -> Tuple[int, bytes, bytes]:
    saved = scan.native
    scan.native = module
    try:
        result = CliRunner().invoke(cli, args, env={"NO_COLOR": "1", "TZ": "UTC"})
        return result.exit_code, result.stdout_bytes, result.stderr_bytes
    finally:
        scan.native = saved


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: Path(p).name)
def test_cli_outputs_identical(native, path):
    assert records.SCAN
    for command in COMMANDS:
        args = [*command, "-j", "1", path]
        assert _cli(args, native) == _cli(args, None), command


# -- quiet_rows: the walk over plain records while events are open -------------------

def _matters(line: bytes, oldest: int, window: int, stamp: Optional[float], timeout: float,
             serials: Tuple[int, ...]) -> bool:
    """The grouper's own test (pipeline._Wanted), for a line with a header;
    True for a line without one (the walk reads it)."""
    m = scan._HEADER_RE.match(line)
    if m is None or m.group(1):
        return True
    sec, ms, serial = m.group(2), m.group(3), int(m.group(4))
    time = int(sec) + int(ms) / 10 ** len(ms)
    return (serial in serials or not (-window <= serial - oldest <= window
                                      and (stamp is None or time - stamp <= timeout)))


ROW_SERIALS = [1, 999, 1000, 1001, 1500, 2000, 2001, 2002, 10 ** 18, 10 ** 19 + 7]


@st.composite
def stretches(draw):
    rows = []
    for _ in range(draw(st.integers(0, 30))):
        sec = draw(st.sampled_from([1799999999, 1800000000, 1800000001, 1800000002,
                                    1800000003, 12345678901234567890]))
        serial = draw(st.sampled_from(ROW_SERIALS))
        kind = draw(st.sampled_from(["SYSCALL", "PATH", "UNKNOWN[1300]", "1300"]))
        node = draw(st.sampled_from(["", "", "", "node=h1 "]))
        ms = draw(st.sampled_from(["0", "999", "5", "000001"]))
        rows.append(f"{node}type={kind} msg=audit({sec}.{ms}:{serial}): x=1")
    if draw(st.booleans()):
        rows.insert(draw(st.integers(0, len(rows))), draw(st.sampled_from(
            ["type= msg=audit(1.2:3):", "type=X msg=audit(1.2:3)", "garbage", ""])))
    return rows


@settings(max_examples=500, deadline=None)
@given(rows=stretches(), oldest=st.sampled_from(ROW_SERIALS), window=st.sampled_from([0, 500,
                                                                                      1000]),
       stamp=st.sampled_from([1800000000.5, 1799999999.0, None]),
       serials=st.lists(st.sampled_from(ROW_SERIALS), max_size=3), lead=st.booleans(),
       terminated=st.booleans())
def test_quiet_rows_pass_over_only_rows_that_do_not_matter(native, rows, oldest, window, stamp,
                                                           serials, lead, terminated):
    timeout = 2.0
    head = b"lead line\n" if lead else b""
    body = "\n".join(rows).encode() + (b"\n" if terminated and rows else b"")
    block = head + body
    late = float("inf") if stamp is None else stamp + timeout - scan._MARGIN
    offset, passed = native.quiet_rows(block, len(head), len(block), oldest, window, late,
                                       tuple(serials))
    assert len(head) <= offset <= len(block)
    unterminated = offset == len(block) > len(head) and not block.endswith(b"\n")
    assert block.count(b"\n", len(head), offset) + unterminated == passed
    assert offset == len(head) or block[offset - 1:offset] == b"\n" or offset == len(block)
    for line in block[len(head):offset].split(b"\n")[:passed]:
        assert not _matters(line, oldest, window, stamp, timeout, tuple(serials)), line
    huge = any(abs(n) > 1 << 62 for n in (oldest, *serials))  # (every row may matter)
    if offset < len(block) and not huge:  # it stops at a line that may matter, by its test
        line = block[offset:].split(b"\n")[0]
        m = scan._HEADER_RE.match(line)
        if m is not None and not m.group(1) and len(m.group(2)) <= 18 and len(m.group(4)) <= 18:
            serial = int(m.group(4))
            assert (serial in serials or abs(serial - oldest) > window
                    or int(m.group(2)) + 1 > late)


def test_quiet_rows_bad_ranges(native):
    with pytest.raises(ValueError):
        native.quiet_rows(b"abc", 2, 1, 0, 0, 0.0, ())
    with pytest.raises(ValueError):
        native.quiet_rows(b"abc", 0, 4, 0, 0, 0.0, ())
    assert native.quiet_rows(b"", 0, 0, 0, 0, 0.0, ()) == (0, 0)
    row = b"type=PATH msg=audit(1800000000.1:5): x\n"
    assert native.quiet_rows(row * 3, 0, 3 * len(row), 5, 10, 2e9, (10 ** 30,)) == (0, 0)
    assert native.quiet_rows(row * 3, 0, 3 * len(row), 5, 10, 2e9, (4, 6)) == (3 * len(row), 3)
