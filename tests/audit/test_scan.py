"""The scanning reader (lldecode.audit.scan) against the line-by-line one.

The line-by-line reading (records.SCAN = False) is the reference: on every
fixture, on logs generated at a quiet and a busy event rate, and on such
logs with hostile lines spliced in (lines over the limit, CRLF, colour
codes, broken headers, numbers out of range, Landlock-looking garbage,
notices, another carrier's lines, no final newline), cut in small blocks so
that block boundaries fall everywhere, the scanning reading yields the same
records and notices (file, line number, text), the same diagnostics, the
same events (their records, in order) and the same grouping statistics
(but the counts of records read and of late records, which only count the
lines read), and every command prints the same bytes.
"""

from __future__ import annotations

import io
import random
import re
from pathlib import Path
from typing import Any, List, Tuple

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.loggen import generate
from lldecode.analysis.pipeline import Reading
from lldecode.audit import records, scan, sources
from lldecode.audit.events import EVENT_TIMEOUT, SERIAL_WINDOW
from lldecode.audit.records import Diagnostics, Notice, read_records
from lldecode.cli.app import cli
from tests.conftest import FIXTURES

# Every log shipped with the project (files, and the rotated set as one input).
LOGS = sorted(p for p in FIXTURES.glob("*") if p.is_file() and p.suffix in (".log", ".txt",
                                                                            ".json"))
LOGS += sorted((FIXTURES / "samples").glob("*"))
INPUTS = [str(p) for p in LOGS] + [str(FIXTURES / "rotated")]


def _items(inputs: List[str], landlock_only: bool, use_scan: bool) -> Tuple[Any, ...]:
    """What read_records makes of the inputs, as plain values."""
    records.SCAN = records.SIEVE = use_scan  # (the reference: every line)
    try:
        diagnostics = Diagnostics()
        found = []
        for item in read_records(sources.expand(inputs), diagnostics, landlock_only):
            if isinstance(item, Notice):
                found.append(("notice", item.kind, item.count, item.source, item.lineno,
                              item.line))
            else:
                found.append(("record", item.type, item.kind, item.source, item.lineno,
                              item.line, item.serial, item.time, item.domain, item.blockers))
        return (found, diagnostics.messages, diagnostics.malformed, diagnostics.errors,
                diagnostics.notes)
    finally:
        records.SCAN = records.SIEVE = True


def _events(inputs: List[str], context: bool, use_scan: bool) -> Tuple[Any, ...]:
    """The events of a reading without serial-gap counting, as plain values."""
    records.SCAN = records.SIEVE = use_scan  # (the reference: every line)
    try:
        diagnostics = Diagnostics()
        reading = Reading(inputs, diagnostics, context=context, serial_gaps=False)
        events = [(event.key, event.late, [(r.source, r.lineno) for r in event.records],
                   [(d.domain, d.blockers) for d in denials])
                  for event, denials in reading.events()]
        stats = reading.grouper.stats
        return (events, diagnostics.messages, diagnostics.malformed, stats.events,
                stats.suppressed, stats.lost, stats.evicted, stats.duplicates,
                [(n.kind, n.count, n.source, n.lineno) for n in stats.notices],
                [repr(i.to_plain()) for i in reading.registry.ordered()])
    finally:
        records.SCAN = records.SIEVE = True


def _agree(inputs: List[str]) -> None:
    for landlock_only in (True, False):
        assert _items(inputs, landlock_only, True) == _items(inputs, landlock_only, False)
    for context in (True, False):
        assert _events(inputs, context, True) == _events(inputs, context, False)


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: Path(p).name)
def test_fixtures_agree(path):
    _agree([path])


def test_scanned_at_all(tmp_path):
    """The scan is taken for uncompressed files, and skips lines (this is
    not a test that cannot fail)."""
    path = tmp_path / "audit.log"
    path.write_bytes(b"\n".join(GENERATED["mixed", 50.0]) + b"\n")
    source = sources.file_source(str(path))
    assert records._scanner(source, records._never, None) is not None
    assert sum(1 for _ in scan.Scan(str(path), 0, None, 1, 1 << 20).lines()) < sum(
        1 for _ in source.lines()) / 3


COMMANDS = [
    ["filter"], ["filter", "--count"], ["filter", "--format", "ndjson"],
    ["filter", "--format", "raw"], ["explain"], ["explain", "--format", "json"],
    ["summarize"], ["summarize", "--by", "exe,syscall"], ["summarize", "--by", "blocker,path"],
    ["domains"], ["domains", "--format", "json"],
]


def _cli(args: List[str], use_scan: bool) -> Tuple[int, bytes, bytes]:
    records.SCAN = records.SIEVE = use_scan  # (the reference: every line)
    try:
        result = CliRunner().invoke(cli, args, env={"NO_COLOR": "1", "TZ": "UTC"})
        return result.exit_code, result.stdout_bytes, result.stderr_bytes
    finally:
        records.SCAN = records.SIEVE = True


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: Path(p).name)
def test_cli_outputs_identical(path):
    for command in COMMANDS:
        args = [*command, "-j", "1", path]
        assert _cli(args, True) == _cli(args, False), command


# -- generated logs, hostile lines, small blocks -------------------------------------

def _generated(shape: str, rate: float, events: int) -> List[bytes]:
    out = io.StringIO()
    generate(out, shape, events=events, rate=rate, ordinary_per_landlock=6)
    return out.getvalue().encode("latin-1").split(b"\n")[:-1]


GENERATED = {(shape, rate): _generated(shape, rate, 40)
             for shape in ("mixed", "dense") for rate in (50.0, 3000.0)}


def _seed(names: List[str]) -> List[bytes]:
    lines: List[bytes] = []
    for name in names:
        lines.extend((FIXTURES / name).read_bytes().splitlines()[:60])
    return lines


OTHER_CARRIERS = _seed(["ausearch-i.txt", "dmesg.txt", "dmesg-ratelimited.txt",
                        "journal-short.txt", "journal-json.json", "auditd-node.log",
                        "auditd-enriched.log"])

HOSTILE = [
    b"", b"----", b"\x1b[31mtype=UNKNOWN[1423] msg=audit(1800000000.100:5): domain=1 blockers=x",
    b"type=SYSCALL msg=audit(99999999999.100:5): x=1", b"type=SYSCALL msg=audit(1.1234567890:5):",
    b"type=SYSCALL msg=audit(1800000000.100:" + b"9" * 25 + b"): a=1",
    b"type=SYSCALL msg=audit(1800000000.1x0:5): LANDLOCK_ACCESS domain=1 blockers=a",
    b"type=LANDLOCK_ACCESS msg=audit(1800000000.100:17): nodomain",
    b"type=UNKNOWN[1424] msg=audit(1800000000.100:18): domain=zz status=allocated",
    b"kauditd_printk_skb: 12 callbacks suppressed", b"audit: audit_lost=7 audit_rate_limit=0",
    b"audit: backlog limit exceeded", b"garbage type=1423 audit(1800000000.100:19): domain=2",
    b"audit(1800000000.100:20): domain=3 blockers=fs.read_file path=\"/x\"",
    b"type=SYSCALL msg=audit(1800000000.100:21): comm=\"type=UNKNOWN[1423]\" 142",
    b"type=EOE msg=audit(1800000000.100:22): ", b"x" * 700,
    # far in serials or in time: the open events are complete
    b"type=SYSCALL msg=audit(1800000000.100:900000): a=1",
    b"type=SYSCALL msg=audit(1800000000.500:3): a=1",
    b"type=CWD msg=audit(1800000099.000:1003): cwd=\"/\"",
    b"type=CWD msg=audit(1799999000.000:1004): cwd=\"/\"",
    b"node=h1 type=SYSCALL msg=audit(1800000000.040:1002): a=1",
    b"type=SYSCALL msg=audit(1800000000.500:2500): a=1",
    b"type=SYSCALL msg=audit(1800000003.100:1050): a=1",
]
# The generated logs' serials start at 1001: plain records that join (or
# come late to) one of their events.
HOSTILE += [b"type=PATH msg=audit(1800000000.%03d:%d): item=9 name=\"/joined\"" % (t, serial)
            for t, serial in ((20, 1001), (40, 1002), (60, 1004), (900, 1010), (999, 1020))]


@st.composite
def hostile_logs(draw):
    base = list(draw(st.sampled_from(sorted(GENERATED.items())))[1])
    # Cut, reorder a little (interleaved events), and splice hostile lines.
    start = draw(st.integers(0, len(base) // 2))
    lines = base[start:start + draw(st.integers(1, len(base)))]
    rnd = random.Random(draw(st.integers(0, 1 << 30)))
    for _ in range(draw(st.integers(0, 3))):
        i = rnd.randrange(len(lines))
        j = min(len(lines) - 1, i + rnd.randrange(1, 6))
        lines[i], lines[j] = lines[j], lines[i]
    for _ in range(draw(st.integers(0, 6))):
        piece = draw(st.sampled_from(HOSTILE + OTHER_CARRIERS))
        lines.insert(draw(st.integers(0, len(lines))), piece)
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    data = ending.join(lines) + (ending if draw(st.booleans()) else b"")
    return data, draw(st.sampled_from([256, 1024, 4096, 1 << 16])), draw(
        st.sampled_from([600, 1 << 20])), draw(st.sampled_from([1, 1024, 1 << 30])), draw(
        st.sampled_from([1, 3, 64]))


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(hostile_logs())
def test_generated_and_hostile_logs_agree(tmp_path_factory, monkeypatch, log):
    data, block, limit, dense, rows = log
    path = tmp_path_factory.mktemp("scan") / "audit.log"
    path.write_bytes(data)
    monkeypatch.setattr(scan, "BLOCK", block)
    monkeypatch.setattr(scan, "PROBE", block // 4 or 1)
    monkeypatch.setattr(scan, "DENSE", dense)  # 1: never split whole; 1 << 30: always
    monkeypatch.setattr(scan, "ROWS", rows)
    monkeypatch.setattr(sources, "DEFAULT_MAX_LINE_LENGTH", limit)
    inputs = [str(path)]
    for landlock_only in (True, False):
        assert _items(inputs, landlock_only, True) == _items(inputs, landlock_only, False)
    for context in (True, False):
        assert _events(inputs, context, True) == _events(inputs, context, False)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(GENERATED)), st.integers(0, 1 << 20), st.integers(0, 1 << 20))
def test_ranges_agree(tmp_path_factory, monkeypatch, which, a, b):
    """A part of a file (lldecode.analysis.parallel) reads the same lines either way."""
    data = b"\n".join(GENERATED[which]) + b"\n"
    path = tmp_path_factory.mktemp("range") / "audit.log"
    path.write_bytes(data)
    monkeypatch.setattr(scan, "BLOCK", 2048)
    a, b = sorted((a % len(data), b % len(data)))
    a = data.rfind(b"\n", 0, a) + 1
    for landlock_only in (True, False):
        results = []
        for use_scan in (True, False):
            records.SCAN = records.SIEVE = use_scan  # (the reference: every line)
            try:
                diagnostics = Diagnostics()
                part = sources.RangeSource(str(path), a, b)
                results.append([(i.lineno, i.line) for i in read_records(
                    [part], diagnostics, landlock_only)])
            finally:
                records.SCAN = records.SIEVE = True
        assert results[0] == results[1]


@pytest.mark.parametrize("which", sorted(GENERATED), ids=lambda w: f"{w[0]}-{w[1]:g}")
def test_cli_outputs_identical_on_generated_logs(tmp_path, which):
    path = tmp_path / "audit.log"
    path.write_bytes(b"\n".join(GENERATED[which]) + b"\n")
    for command in COMMANDS:
        args = [*command, "-j", "1", str(path)]
        assert _cli(args, True) == _cli(args, False), command


_STAMP = re.compile(rb"msg=audit\((\d+)\.(\d+):(\d+)\)")


@st.composite
def boundary_logs(draw):
    """A generated log where, after a Landlock record, plain records of its
    event, and records just inside or just past the grouper's serial window
    and timeout, are placed at random: where the open event is completed,
    and what joins it, must be the reference's."""
    lines = list(draw(st.sampled_from(sorted(GENERATED.items())))[1])
    landlock = [i for i, line in enumerate(lines) if b"UNKNOWN[142" in line]
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.sampled_from(landlock))
        m = _STAMP.search(lines[at])
        assert m is not None
        seconds, serial = int(m.group(1)), int(m.group(3))
        millis = int(m.group(2))
        for _ in range(draw(st.integers(1, 3))):
            d_serial = draw(st.sampled_from([0, 0, 1, SERIAL_WINDOW, SERIAL_WINDOW + 1,
                                             -SERIAL_WINDOW - 1, 2 * SERIAL_WINDOW - 1]))
            d_millis = draw(st.sampled_from([0, 1000, int(EVENT_TIMEOUT * 1000),
                                             int(EVENT_TIMEOUT * 1000) + 1, 5000, -3000]))
            total = seconds * 1000 + millis + d_millis
            line = (b"type=PATH msg=audit(%d.%03d:%d): item=5 name=\"/b\""
                    % (total // 1000, total % 1000, max(1, serial + d_serial)))
            lines.insert(draw(st.integers(at + 1, min(len(lines), at + 200))), line)
    return b"\n".join(lines) + b"\n", draw(st.sampled_from([1, 3, 64]))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(boundary_logs())
def test_window_and_timeout_boundaries_agree(tmp_path_factory, monkeypatch, log):
    data, rows = log
    path = tmp_path_factory.mktemp("bounds") / "audit.log"
    path.write_bytes(data)
    monkeypatch.setattr(scan, "BLOCK", 4096)
    monkeypatch.setattr(scan, "DENSE", 1)
    monkeypatch.setattr(scan, "ROWS", rows)
    assert _events([str(path)], True, True) == _events([str(path)], True, False)


def _walk_log(serials: List[str], seconds: List[str]) -> bytes:
    """A Landlock event (serial 99998, stamp 1800000000.500), its SYSCALL, then
    plain records of the given serial and stamp texts."""
    lines = [b'type=UNKNOWN[1423] msg=audit(1800000000.500:99998): domain=1b6b16519 '
             b'blockers=fs.read_file path="/tmp/x" dev="vda" ino=12',
             b'type=SYSCALL msg=audit(1800000000.500:99998): arch=c000003e syscall=257 '
             b'success=no exit=-13 pid=7 uid=0 comm="cat" exe="/usr/bin/cat"']
    for serial, stamp in zip(serials, seconds):
        lines.append(b'type=PATH msg=audit(%s:%s): item=0 name="/b"'
                     % (stamp.encode(), serial.encode()))
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("serials, seconds", [
    # serials as wide as the open one's, then wider (the digit strings of one
    # width compare as numbers; the others are read row by row)
    (["99999", "100000", "100001", "099998", "99998"], ["1800000000.600"] * 5),
    # the open serial written with leading zeros: its record joins the event
    (["0099998", "99999"], ["1800000000.600"] * 2),
    # stamps around the timeout (2 s), seconds of another width
    (["99999"] * 5, ["1800000002.499", "1800000002.500", "1800000002.501",
                     "180000000.9", "18000000003.0"]),
    (["99999"] * 3, ["1800000001.999", "1800000002.000", "1800000003.000"]),
    # a record of the open event after the timeout: late, it joins nothing
    (["99999", "99999", "99998"], ["1800000002.498", "1800000002.999", "1800000003.100"]),
])
def test_the_walk_compares_digit_strings_as_numbers(tmp_path, monkeypatch, serials, seconds):
    path = tmp_path / "walk.log"
    data = _walk_log(serials, seconds)
    # (many copies: blocks of several rows and runs of several rows)
    path.write_bytes(data + b"".join(
        data.replace(b":99998)", b":%d)" % (99998 + 50 * i)) for i in range(1, 40)))
    monkeypatch.setattr(scan, "BLOCK", 4096)
    monkeypatch.setattr(scan, "DENSE", 1)   # (walked, not split whole)
    for rows in (1, 3, 64):
        monkeypatch.setattr(scan, "ROWS", rows)
        assert _events([str(path)], True, True) == _events([str(path)], True, False)
