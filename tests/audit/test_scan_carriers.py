"""The scan of other carriers than auditd's (lldecode.audit.scan) against
the line-by-line reading.

``ausearch`` output (``-i`` or not) is read by events: an event between two
separators whose lines are all plain records of other types than Landlock's
is not read (Scan._events).  dmesg is walked as auditd is, with its own
header pattern (scan.DMESG).  The line-by-line reading (records.SCAN =
False) is the reference: on every fixture and sample converted to each
carrier, on generated logs of both rates (converted, and through the real
``ausearch`` when it is installed), and on such logs with hostile lines
spliced in, cut in small blocks, the events, diagnostics, domains,
serial-gap counts and every command's output are the same bytes.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lldecode.analysis.pipeline import Reading
from lldecode.audit import records, scan, sources
from lldecode.audit.records import Diagnostics
from tests.audit.test_scan import (
    COMMANDS,
    GENERATED,
    HOSTILE,
    INPUTS,
    OTHER_CARRIERS,
    _cli,
    _items,
)

_RAW_RE = re.compile(rb"(node=[^ ]+ )?type=([^ ]+) msg=audit\(([0-9]+)\.([0-9]+):([0-9]+)\): ?")


def _grouped(lines: Sequence[bytes]) -> List[List[bytes]]:
    """The lines as ausearch groups them: the records of one event
    together (in the order of their first record); any other line alone."""
    groups: "OrderedDict[Any, List[bytes]]" = OrderedDict()
    for i, line in enumerate(lines):
        m = _RAW_RE.match(line)
        key: Any = (m.group(1), m.group(5)) if m else i
        groups.setdefault(key, []).append(line)
    return list(groups.values())


def _interpreted(line: bytes) -> bytes:
    """An auditd record in ``ausearch -i``'s spelling of its header."""
    m = _RAW_RE.match(line)
    if m is None:
        return line
    node, kind, sec, ms, serial = m.groups()
    date = time.strftime("%m/%d/%y %H:%M:%S", time.localtime(int(sec))).encode()
    return b"%stype=%s msg=audit(%s.%s:%s) : %s" % (node or b"", kind, date, ms, serial,
                                                   line[m.end():])


def ausearch(lines: Sequence[bytes], interpreted: bool) -> List[bytes]:
    """The lines as ``ausearch`` (``-i``: interpreted) prints them: each
    event after a separator, its records reversed (and ``time->`` first
    without -i)."""
    out: List[bytes] = []
    for group in _grouped(lines):
        out.append(b"----")
        m = _RAW_RE.match(group[0])
        if not interpreted and m is not None:
            out.append(b"time->" + time.strftime(
                "%a %b %e %H:%M:%S %Y", time.localtime(int(m.group(3)))).encode())
        for line in reversed(group):
            out.append(_interpreted(line) if interpreted else line)
    return out


def dmesg(lines: Sequence[bytes], stamps: bool = True) -> List[bytes]:
    """The auditd lines as the kernel console writes them (numeric types)."""
    numbers = {b"SYSCALL": b"1300", b"PATH": b"1302", b"CWD": b"1307", b"PROCTITLE": b"1327",
               b"SOCKADDR": b"1306", b"EOE": b"1320", b"UNKNOWN[1423]": b"1423",
               b"UNKNOWN[1424]": b"1424"}
    out = []
    for i, line in enumerate(lines):
        m = _RAW_RE.match(line)
        if m is None or m.group(1):
            out.append(line)
            continue
        kind = numbers.get(m.group(2), b"1105")
        prefix = b"[%5d.%06d] " % (1000 + i // 1000, i % 1000) if stamps else b""
        out.append(b"%saudit: type=%s audit(%s.%s:%s): %s" % (
            prefix, kind, m.group(3), m.group(4), m.group(5), line[m.end():]))
    return out


def journal_kernel(lines: Sequence[bytes]) -> List[bytes]:
    """The console's lines as journalctl -k prints them (short, -iso, -precise)."""
    stamps = [b"Nov 30 03:00:00 vm kernel: ", b"2026-11-26T23:52:12+0000 h-1.lan kernel: ",
              b"Nov  3 03:00:00.123456 vm kernel: "]
    return [stamps[i % 3] + line[line.find(b"] ") + 2:] if line.startswith(b"[") else line
            for i, line in enumerate(dmesg(lines))]


CARRIERS = {
    "journal-kernel": journal_kernel,
    "ausearch-i": lambda lines: ausearch(lines, True),
    "ausearch": lambda lines: ausearch(lines, False),
    "dmesg": dmesg,
    "dmesg-bare": lambda lines: dmesg(lines, False),
}


def _reading(inputs: List[str], use_scan: bool, context: bool,
             gaps: bool) -> Tuple[Any, ...]:
    """What a reading makes of the inputs, as plain values: events, their
    denials, diagnostics and counts, grouping statistics (but the counts of
    records read and of late records, which only count the lines read),
    serial gaps and last serials (when counted), domains."""
    records.SCAN = records.SIEVE = use_scan  # (the reference: every line)
    try:
        diagnostics = Diagnostics()
        reading = Reading(inputs, diagnostics, context=context, serial_gaps=gaps)
        events = [(event.key, event.late, [(r.source, r.lineno, r.line) for r in event.records],
                   [(d.domain, d.blockers) for d in denials])
                  for event, denials in reading.events()]
        grouper = reading.grouper
        stats = grouper.stats
        return (events, diagnostics.messages, diagnostics.counts(), stats.events,
                stats.suppressed, stats.lost, stats.evicted, stats.duplicates,
                stats.serial_gaps, sorted(stats.first_serials.items(), key=repr),
                # (the last serials matter only to the gap count)
                sorted(grouper._last_serial.items(), key=repr) if gaps else None,
                [(n.kind, n.count, n.source, n.lineno) for n in stats.notices],
                [repr(i.to_plain()) for i in reading.registry.ordered()])
    finally:
        records.SCAN = records.SIEVE = True


def _agree(inputs: List[str]) -> None:
    # The records and notices of a reading of Landlock records only (those of
    # a reading with context are not the same: the records of the events
    # that hold none are not read), then the events.
    assert _items(inputs, True, True) == _items(inputs, True, False)
    for context, gaps in ((True, False), (True, True), (False, False)):
        assert _reading(inputs, True, context, gaps) == _reading(inputs, False, context, gaps)


def _write(path: Path, lines: Sequence[bytes], ending: bytes = b"\n",
           last: bool = True) -> str:
    path.write_bytes(ending.join(lines) + (ending if last and lines else b""))
    return str(path)


FILES = [Path(p) for p in INPUTS if Path(p).is_file()]


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_fixtures_in_each_carrier_agree(tmp_path, path, carrier):
    lines = path.read_bytes().split(b"\n")
    converted = _write(tmp_path / f"{carrier}.txt", CARRIERS[carrier](lines), last=False)
    _agree([converted])
    for command in (["explain"], ["filter", "--format", "csv"], ["domains"]):
        args = [*command, "-j", "1", converted]
        assert _cli(args, True) == _cli(args, False), command


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
@pytest.mark.parametrize("which", sorted(GENERATED), ids=lambda w: f"{w[0]}-{w[1]:g}")
def test_generated_logs_in_each_carrier_agree(tmp_path, which, carrier):
    path = _write(tmp_path / f"{carrier}.txt", CARRIERS[carrier](GENERATED[which]))
    _agree([path])
    for command in [*COMMANDS, ["filter", "--format", "json"], ["filter", "--format", "csv"]]:
        args = [*command, "-j", "1", path]
        assert _cli(args, True) == _cli(args, False), command


AUSEARCH = shutil.which("ausearch")


@pytest.mark.skipif(AUSEARCH is None, reason="ausearch (the audit package) is not installed")
@pytest.mark.parametrize("interpreted", [True, False], ids=["-i", "raw"])
@pytest.mark.parametrize("which", sorted(GENERATED), ids=lambda w: f"{w[0]}-{w[1]:g}")
def test_real_ausearch_output_agrees(tmp_path, which, interpreted):
    """The output of the real ausearch on generated logs of both rates."""
    log = _write(tmp_path / "audit.log", GENERATED[which])
    assert AUSEARCH is not None
    done = subprocess.run([AUSEARCH, "--input", log, *(["-i"] if interpreted else [])],
                          capture_output=True, check=False, timeout=120)
    assert done.stdout.count(b"\n----\n") > 30, done.stderr
    path = tmp_path / "ausearch.txt"
    path.write_bytes(done.stdout)
    _agree([str(path)])
    for command in (["explain"], ["filter"], ["filter", "--format", "json"],
                    ["filter", "--format", "csv"], ["summarize"], ["domains"]):
        args = [*command, "-j", "1", str(path)]
        assert _cli(args, True) == _cli(args, False), command


def test_events_are_passed_over(tmp_path):
    """Not a test that cannot fail: on ausearch -i output of a mixed log, the
    scan gives far fewer lines than the file holds; on dmesg too."""
    for carrier in ("ausearch-i", "ausearch", "dmesg", "journal-kernel"):
        path = _write(tmp_path / f"{carrier}.txt", CARRIERS[carrier](GENERATED["mixed", 50.0]))
        total = sum(1 for _ in sources.file_source(path).lines())
        made = scan.Scan(path, 0, None, 1, 1 << 20, hold=lambda: False)
        given_lines = sum(1 for _ in made.lines())
        assert given_lines < total / 3, carrier
        assert made.last_lineno == total


# -- hostile logs in small blocks ------------------------------------------------

INTERPRETED_HOSTILE = [
    b"type=SYSCALL msg=audit(13/45/27 08:00:00.019:1001) : a=1",
    b"type=SYSCALL msg=audit(01/15/9999 08:00:00.019:1001) : a=1",
    b"type=SYSCALL msg=audit(01/15/27 08:00:00.0123456789:1001) : a=1",
    b"type=SYSCALL msg=audit(01/15/27 08:00:00.019:" + b"9" * 25 + b") : a=1",
    b"type=SYSCALL msg=audit(2027-01-15 08:00:00.019:1002) : a=1",
    b"type=PROCTITLE msg=audit(01/15/27 08:00:00.019:1002) : proctitle={\"ID\": 1}",
    # laurel's JSON after a plain header: a broken event, and a Landlock one
    b"type=PROCTITLE msg=audit(01/15/27 08:00:00.019:1002) : proctitle={\"ID\":\"x\"}",
    b"type=PROCTITLE msg=audit(01/15/27 08:00:00.019:1002) : proctitle={\"ID\":"
    b"\"1800000000.019:1002\",\"UNKNOWN[1423]\":{\"domain\":\"1b\",\"blockers\":\"fs.x\"}}",
    b'{"ID":"1800000000.019:1003","UNKNOWN[1423]":{"domain":"1","blockers":"fs.x"}}',
    b"type=UNKNOWN[1423] msg=audit(01/15/27 08:00:00.019:1004) : domain=1b blockers=fs.x "
    b"path=/x",
    b"type=LANDLOCK_ACCESS msg=audit(01/15/27 08:00:00.019:1005) : nodomain",
    b"type=UNKNOWN[1424] msg=audit(01/15/27 08:00:00.019:1001) : domain=zz status=allocated",
    b"----x", b"---- ", b"-----", b"----\r", b"----", b"----", b"", b"\r",
    b"time->Thu Jan  1 00:00:00 1970", b"time->garbage type=1423 audit: 1423",
    b"\x1b[0mtype=CWD msg=audit(01/15/27 08:00:00.019:1001) : cwd=/",
    b"node=h1 type=CWD msg=audit(01/15/27 08:00:00.019:1001) : cwd=/",
    b"type=CWD msg=audit(01/15/27 08:00:00.019:1001) : cwd=/ type=UNKNOWN[1423] "
    b"msg=audit(01/15/27 08:00:00.019:1001) : domain=1 blockers=fs.x",
    b"type=CWD msg=audit(01/15/27 08:00:00.019:1001) : audit: backlog limit exceeded",
    b"type=CWD msg=audit(01/15/27 08:00:00.019:1001): cwd=/ (no space before the colon)",
    b"type=PATH msg=audit(01/15/27 08:00:09.019:1040) : item=0 name=/joined-late",
    b"type=PATH msg=audit(01/15/27 08:00:00.519:2500) : item=0 name=/far",
]
DMESG_HOSTILE = [
    b"[ 1000.000001] audit: type=1300 audit(1800000000.019:1001): comm=\"{x}\"",
    b"[ 1000.000001] audit: type=1327 audit(1800000000.019:1002): proctitle={\"ID\":\"x\"}",
    b"[ 1000.000001] audit: type=1300 audit(99999999999.019:1001): a=1",
    b"[ 1000.000001] audit: type=1300 audit(1800000000.0123456789:1001): a=1",
    b"[ 1000.000001] audit: type=1300 audit(1800000000.019:" + b"9" * 25 + b"): a=1",
    b"[ 1000.000001] audit: type=1423 audit(1800000000.019:1004): domain=1b blockers=fs.x",
    b"[ 1000.000001] audit: type=14230 audit(1800000000.019:1004): a=1",
    b"[ 1000.000001] \x1b[1maudit: type=1302 audit(1800000000.019:1001): item=1",
    b"[ 1000.000001] audit: type=1302 audit(1800000002.600:1001): item=1 name=\"/late\"",
    b"[ 1000.000001] audit: type=1302 audit(1800000000.600:3000): item=1 name=\"/far\"",
    b"[ 1000.000001] usb 1-1: new high-speed USB device number 2",
    b"[ 1000.000001] audit: type=1300 audit(1800000000.019:1001): type=UNKNOWN[1423] "
    b"msg=audit(1800000000.019:1001): domain=1 blockers=fs.x",
    b"[ 1000.000001]audit: type=1300 audit(1800000000.019:1001): a=1",
    b"audit: type=1300 audit(1800000000.019:1003): a=1",
    b"type=1300 audit(1800000000.019:1003): a=1",
    b"Nov 30 03:00:00 vm kernel: audit: type=1300 audit(1800000000.019:1001): comm=\"{\"",
    b"Nov 30 03:00:00 node=x kernel: audit: type=1300 audit(1800000000.019:1001): a=1",
    b"Nov 30 03:00:00 type=x kernel: audit: type=1300 audit(1800000000.019:1001): a=1",
    b"Nov 30 03:00:00 vm kernel: audit: type=1423 audit(1800000000.019:1004): domain=1b "
    b"blockers=fs.x",
    b"Nov 30 03:00:00 vm audit[12]: SYSCALL arch=c000003e syscall=257 success=no exit=-13",
    b"Nov 30 03:00:00 vm audit: AUDIT1423 domain=1b6b16662 blockers=fs.read_file path=\"/x\"",
    b"Nov 30 03:00:00 vm kernel: audit: type=1302 audit(1800000002.600:1001): item=1",
]

PIECES = HOSTILE + OTHER_CARRIERS + INTERPRETED_HOSTILE + DMESG_HOSTILE


@st.composite
def hostile_logs(draw):
    carrier = draw(st.sampled_from(sorted(CARRIERS)))
    base = list(draw(st.sampled_from(sorted(GENERATED.items())))[1])
    start = draw(st.integers(0, len(base) // 2))
    lines = CARRIERS[carrier](base[start:start + draw(st.integers(1, len(base)))])
    rnd = random.Random(draw(st.integers(0, 1 << 30)))
    for _ in range(draw(st.integers(0, 3))):  # (interleaved records, events cut)
        i = rnd.randrange(len(lines))
        j = min(len(lines) - 1, i + rnd.randrange(1, 6))
        lines[i], lines[j] = lines[j], lines[i]
    for _ in range(draw(st.integers(0, 6))):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(PIECES)))
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    data = ending.join(lines) + (ending if draw(st.booleans()) else b"")
    return (data, draw(st.sampled_from([256, 1024, 4096, 1 << 16])),
            draw(st.sampled_from([600, 1 << 20])), draw(st.sampled_from([1, 8192, 1 << 30])),
            draw(st.sampled_from([1, 3, 64])))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(hostile_logs())
def test_hostile_logs_agree(tmp_path_factory, monkeypatch, log):
    data, block, limit, evented, rows = log
    path = tmp_path_factory.mktemp("carriers") / "log.txt"
    path.write_bytes(data)
    monkeypatch.setattr(scan, "BLOCK", block)
    monkeypatch.setattr(scan, "PROBE", block // 4 or 1)
    monkeypatch.setattr(scan, "EVENTED", evented)  # 1 << 30: by events at any separator
    monkeypatch.setattr(scan, "ROWS", rows)
    monkeypatch.setattr(sources, "DEFAULT_MAX_LINE_LENGTH", limit)
    _agree([str(path)])
    # (the same bytes compressed: scanned from the stream)
    packed = path.with_suffix(".gz")
    packed.write_bytes(COMPRESSORS["gz"](data))
    assert _streamed([str(packed)], True) == _streamed([str(packed)], False)


@pytest.mark.parametrize("carrier", ["ausearch-i", "ausearch", "dmesg", "journal-kernel"])
@pytest.mark.parametrize("piece", range(len(HOSTILE + INTERPRETED_HOSTILE + DMESG_HOSTILE)))
def test_each_hostile_line_inside_a_quiet_event(tmp_path, carrier, piece):
    """Each hostile line, inside an event of no Landlock record (one the
    scan would pass over: in the middle of a block)."""
    lines = CARRIERS[carrier](GENERATED["mixed", 50.0][:400])
    quiet = [i for i in range(2, len(lines) - 4)
             if b"142" not in lines[i] and b"142" not in lines[i - 1]
             and lines[i - 1] != b"----" and lines[i] != b"----"]
    at = quiet[len(quiet) // 2]
    lines[at:at] = [(HOSTILE + INTERPRETED_HOSTILE + DMESG_HOSTILE)[piece]]
    path = _write(tmp_path / "log.txt", lines)
    _agree([path])


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(CARRIERS)), st.sampled_from(sorted(GENERATED)),
       st.integers(0, 1 << 20), st.integers(0, 1 << 20))
def test_ranges_agree(tmp_path_factory, monkeypatch, carrier, which, a, b):
    """A part of a file (lldecode.analysis.parallel) reads the same events either way."""
    data = b"\n".join(CARRIERS[carrier](GENERATED[which])) + b"\n"
    path = tmp_path_factory.mktemp("range") / "log.txt"
    path.write_bytes(data)
    monkeypatch.setattr(scan, "BLOCK", 2048)
    a, b = sorted((a % len(data), b % len(data)))
    a = data.rfind(b"\n", 0, a) + 1
    found: Dict[bool, Any] = {}
    for use_scan in (True, False):
        records.SCAN = records.SIEVE = use_scan
        try:
            diagnostics = Diagnostics()
            reading = Reading([], diagnostics, given_sources=[
                sources.RangeSource(str(path), a, b)])
            found[use_scan] = ([(e.key, [(r.lineno, r.line) for r in e.records])
                                for e, _ in reading.events()],
                               reading.grouper.stats.serial_gaps, diagnostics.counts())
        finally:
            records.SCAN = records.SIEVE = True
    assert found[True] == found[False]


# -- compressed files and standard input: scanned from the stream ----------------

COMPRESSORS = {"gz": __import__("gzip").compress, "bz2": __import__("bz2").compress,
               "xz": __import__("lzma").compress}


def _streamed(inputs: List[str], use_scan: bool) -> Tuple[Any, ...]:
    records.STREAMS = use_scan
    try:
        return _reading(inputs, use_scan, True, True)
    finally:
        records.STREAMS = True


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
@pytest.mark.parametrize("carrier", ["auditd", "ausearch-i", "dmesg"])
@pytest.mark.parametrize("which", sorted(GENERATED), ids=lambda w: f"{w[0]}-{w[1]:g}")
def test_compressed_logs_agree(tmp_path, monkeypatch, which, carrier, kind):
    lines = GENERATED[which] if carrier == "auditd" else CARRIERS[carrier](GENERATED[which])
    data = b"\n".join(lines) + b"\n"
    path = tmp_path / f"log.{kind}"
    path.write_bytes(COMPRESSORS[kind](data))
    monkeypatch.setattr(scan, "BLOCK", 4096)
    assert _streamed([str(path)], True) == _streamed([str(path)], False)
    args = ["explain", "-j", "1", str(path)]
    assert _cli(args, True) == _cli(args, False)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_compressed_fixtures_agree(tmp_path, path):
    packed = tmp_path / (path.name + ".gz")
    packed.write_bytes(COMPRESSORS["gz"](path.read_bytes()))
    assert _streamed([str(packed)], True) == _streamed([str(packed)], False)
    for command in (["explain"], ["filter", "--format", "csv"], ["domains"]):
        args = [*command, "-j", "1", str(packed)]
        assert _cli(args, True) == _cli(args, False), command


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.999])
def test_truncated_compressed_log_agrees(tmp_path, monkeypatch, cut):
    """A compressed log cut short: the lines before the failure, then the
    error, as the line reading gives them."""
    data = b"\n".join(CARRIERS["ausearch-i"](GENERATED["mixed", 50.0])) + b"\n"
    packed = COMPRESSORS["gz"](data)
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[:int(len(packed) * cut)])
    for block in (4096, 1 << 20):
        monkeypatch.setattr(scan, "BLOCK", block)
        assert _streamed([str(path)], True) == _streamed([str(path)], False)
        args = ["explain", "-j", "1", str(path)]
        assert _cli(args, True) == _cli(args, False)


def _stdin_cli(args: List[str], data: bytes, use_scan: bool) -> Tuple[int, bytes, bytes]:
    from click.testing import CliRunner

    from lldecode.cli.app import cli

    records.SCAN = records.SIEVE = records.STREAMS = use_scan
    try:
        result = CliRunner().invoke(cli, args, input=data, env={"NO_COLOR": "1", "TZ": "UTC"})
        return result.exit_code, result.stdout_bytes, result.stderr_bytes
    finally:
        records.SCAN = records.SIEVE = records.STREAMS = True


@pytest.mark.parametrize("carrier", ["auditd", "ausearch-i", "dmesg"])
def test_standard_input_agrees(carrier):
    lines = (GENERATED["mixed", 50.0] if carrier == "auditd"
             else CARRIERS[carrier](GENERATED["mixed", 50.0]))
    data = b"\n".join(lines) + b"\n"
    for command in (["explain"], ["filter", "--format", "json"], ["domains"]):
        args = [*command, "-j", "1", "-"]
        assert _stdin_cli(args, data, True) == _stdin_cli(args, data, False), command


def test_streams_are_scanned(tmp_path):
    """Not a test that cannot fail: a compressed log is scanned from its
    stream when the process records are read."""
    path = tmp_path / "log.gz"
    path.write_bytes(COMPRESSORS["gz"](b"\n".join(GENERATED["mixed", 50.0]) + b"\n"))
    source = sources.file_source(str(path))
    made = records._scanner(source, records._never, None)
    assert made is not None and made.chunks is not None
    given_lines = sum(1 for _ in made.lines())
    assert given_lines < len(GENERATED["mixed", 50.0]) / 3
    assert made.last_lineno == len(GENERATED["mixed", 50.0])
    assert records._scanner(source, records._never, None, landlock_only=True) is None


@pytest.mark.parametrize("limit", [600, 1 << 20])
@pytest.mark.parametrize("block", [256, 4096])
def test_long_lines_in_a_stream_agree(tmp_path, monkeypatch, limit, block):
    """Lines longer than a block (more is read), and over the limit (split
    line by line from there on), in a compressed stream."""
    lines = list(GENERATED["mixed", 50.0][:300])
    lines[40:40] = [b"type=SYSCALL msg=audit(1800000000.100:1003): a=" + b"x" * 5000]
    lines[200:200] = [b"y" * 3000]
    path = tmp_path / "long.gz"
    path.write_bytes(COMPRESSORS["gz"](b"\n".join(lines)))  # (no final newline)
    monkeypatch.setattr(scan, "BLOCK", block)
    monkeypatch.setattr(sources, "DEFAULT_MAX_LINE_LENGTH", limit)
    assert _streamed([str(path)], True) == _streamed([str(path)], False)
