"""Scanning keeps the serial-gap count exact (lldecode.audit.scan.Gaps).

A reading that counts the serials missing from the input (``domains``: its
gap causes) scans files too: the plain records the scan passes over go, in
log order, to EventGrouper.skip_serials, which accounts them as feed()
would.  The line-by-line reading (records.SCAN = False) is the reference:
on every fixture, on generated logs of both rates with lines deleted, on
hand-made logs (two nodes, a reboot, steps beyond the window, serials of
several widths, duplicates, headers out of range, CRLF, no final newline)
and on random streams, ``domains`` prints the same bytes in every format,
and the count and each node's last serial are the reference's.
"""

from __future__ import annotations

import io
import json
import random
import re
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.loggen import generate
from lldecode.analysis import parallel
from lldecode.analysis.pipeline import Reading
from lldecode.audit import records, scan
from lldecode.audit.events import SERIAL_WINDOW, EventGrouper
from lldecode.audit.records import Diagnostics, Record
from lldecode.audit.syntax import HeaderError
from lldecode.cli.app import cli
from tests.conftest import FIXTURES, SAMPLES

LOGS = sorted(p for p in FIXTURES.glob("*") if p.is_file() and p.suffix in (".log", ".txt",
                                                                            ".json"))
LOGS += sorted(SAMPLES.glob("*"))
INPUTS = [str(p) for p in LOGS] + [str(FIXTURES / "rotated")]

FORMATS = ["table", "text", "json", "ndjson", "csv", "tsv"]


def _stats(inputs: Sequence[str], use_scan: bool) -> Tuple[Any, ...]:
    """The serial-gap count, each node's last serial, and the events and
    domains of a reading that counts serial gaps."""
    records.SCAN = use_scan
    try:
        diagnostics = Diagnostics()
        reading = Reading(list(inputs), diagnostics)
        assert reading.grouper.count_serial_gaps
        events = [(event.key, [(r.source, r.lineno) for r in event.records])
                  for event, _ in reading.events()]
        grouper = reading.grouper
        stats = grouper.stats
        return (stats.serial_gaps, sorted(grouper._last_serial.items(), key=repr), events,
                diagnostics.messages, stats.events, stats.lost, stats.suppressed,
                [repr(i.to_plain()) for i in reading.registry.ordered()])
    finally:
        records.SCAN = True


def _cli(args: List[str], use_scan: bool) -> Tuple[int, bytes, bytes]:
    records.SCAN = use_scan
    try:
        result = CliRunner().invoke(cli, args, env={"NO_COLOR": "1", "TZ": "UTC"})
        return result.exit_code, result.stdout_bytes, result.stderr_bytes
    finally:
        records.SCAN = True


def _domains_agree(inputs: Sequence[str], formats: Sequence[str] = FORMATS) -> None:
    for fmt in formats:
        args = ["domains", "-f", fmt, "-j", "1", *inputs]
        assert _cli(args, True) == _cli(args, False), fmt


def _agree(inputs: Sequence[str]) -> Tuple[Any, ...]:
    scanned = _stats(inputs, True)
    assert scanned == _stats(inputs, False)
    return scanned


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: Path(p).name)
def test_fixtures_agree(path):
    _agree([path])
    _domains_agree([path])


# -- generated logs with lines deleted -----------------------------------------------

def _generated(shape: str, rate: float, events: int, seed: int, deleted: float) -> bytes:
    out = io.StringIO()
    generate(out, shape, events=events, rate=rate, ordinary_per_landlock=8)
    lines = out.getvalue().encode("latin-1").split(b"\n")[:-1]
    rnd = random.Random(seed)
    # Whole events deleted (their serials go missing), and single lines.
    gone = {m.group(1) for m in map(_SERIAL_RE.search, lines)
            if m is not None and rnd.random() < deleted}
    kept = [line for line in lines if rnd.random() >= deleted
            and _SERIAL_RE.search(line).group(1) not in gone]  # type: ignore[union-attr]
    return b"\n".join(kept) + b"\n"


_SERIAL_RE = re.compile(rb"msg=audit\([0-9.]+:([0-9]+)\)")


@pytest.mark.parametrize("shape", ["mixed", "dense"])
@pytest.mark.parametrize("rate", [50.0, 3000.0])
def test_generated_logs_with_gaps_agree(tmp_path, monkeypatch, shape, rate):
    path = tmp_path / "audit.log"
    path.write_bytes(_generated(shape, rate, 60, seed=int(rate) + len(shape), deleted=0.03))
    found = _agree([str(path)])
    assert found[0] > 0  # (lines were deleted: serials are missing)
    _domains_agree([str(path)])
    # Small blocks: the stretches passed over start and end everywhere.
    monkeypatch.setattr(scan, "BLOCK", 2048)
    monkeypatch.setattr(scan, "PROBE", 512)
    assert _agree([str(path)]) == found
    _domains_agree([str(path)], ["json"])


def test_the_report_shows_the_count(tmp_path):
    """The count reaches the output (so the comparisons above see it)."""
    path = tmp_path / "audit.log"
    path.write_bytes(_generated("mixed", 50.0, 60, seed=7, deleted=0.05))
    code, out, _ = _cli(["domains", "-f", "json", "-j", "1", str(path)], True)
    gaps = _stats([str(path)], True)[0]
    assert gaps > 0
    assert f"{gaps} audit serials are missing" in out.decode()


def test_parts_read_in_parallel_agree(tmp_path, monkeypatch):
    """``domains -j 2`` (two parts, each scanned) prints what ``-j 1`` does."""
    path = tmp_path / "audit.log"
    with open(path, "w", encoding="latin-1") as out:
        generate(out, "mixed", size=1 << 20)
    monkeypatch.setattr(parallel, "MIN_PART", 64 << 10)
    parts = parallel.plan([str(path)], 2)
    assert parts is not None and len(parts) == 2
    for fmt in ("json", "table"):
        one = _cli(["domains", "-f", fmt, "-j", "1", str(path)], True)
        assert _cli(["domains", "-f", fmt, "-j", "2", str(path)], True) == one
        assert _cli(["domains", "-f", fmt, "-j", "1", str(path)], False) == one


# -- hand-made logs ------------------------------------------------------------------

_ACCESS = (b'type=UNKNOWN[1423] msg=audit(%s:%s): domain=%s blockers=fs.read_file '
           b'path="/tmp/x" dev="vda" ino=12')
_ALLOCATED = (b'type=UNKNOWN[1424] msg=audit(%s:%s): domain=%s status=allocated mode=enforcing '
              b'pid=7 uid=0 exe="/usr/bin/cat" comm="cat"')
_DEALLOCATED = b'type=UNKNOWN[1424] msg=audit(%s:%s): domain=%s status=deallocated denials=%d'
_SYSCALL = (b'type=SYSCALL msg=audit(%s:%s): arch=c000003e syscall=257 success=no exit=-13 '
            b'pid=7 uid=0 comm="cat" exe="/usr/bin/cat"')
_PLAIN = [b'type=CWD msg=audit(%s:%s): cwd="/"',
          b'type=PATH msg=audit(%s:%s): item=0 name="/etc" inode=2 dev=fe:01 mode=040755',
          b'type=USER_END msg=audit(%s:%s): pid=1 uid=0 msg=\'op=PAM:session_close\'',
          b'type=PROCTITLE msg=audit(%s:%s): proctitle=636174']


def _stamp(ms: int) -> bytes:
    return b"%d.%03d" % (1_800_000_000 + ms // 1000, ms % 1000)


class Log:
    """A hand-made raw auditd log: Landlock events and plain records, with
    the serials (as written) and nodes chosen by the test."""

    def __init__(self) -> None:
        self.lines: List[bytes] = []
        self.ms = 0
        self.domains = 0

    def _node(self, node: Optional[str], line: bytes) -> bytes:
        return line if node is None else b"node=" + node.encode() + b" " + line

    def plain(self, serial: Any, node: Optional[str] = None, kind: int = 0,
              step: int = 1) -> None:
        self.ms += step
        self.lines.append(self._node(node, _PLAIN[kind % len(_PLAIN)] % (
            _stamp(self.ms), str(serial).encode())))

    def denial(self, serial: Any, node: Optional[str] = None, step: int = 1,
               denials: int = 2) -> None:
        """A domain's allocation, a denial (of denials=N in all) and its
        deallocation: with N > 1 the domain misses denials, and the report
        shows the gap causes, the serial-gap count among them."""
        self.ms += step
        self.domains += 1
        domain = b"%x" % (0x1b6b16500 + self.domains)
        stamp, text = _stamp(self.ms), str(serial).encode()
        self.lines += [self._node(node, _ALLOCATED % (stamp, text, domain)),
                       self._node(node, _ACCESS % (stamp, text, domain)),
                       self._node(node, _SYSCALL % (stamp, text)),
                       self._node(node, _DEALLOCATED % (stamp, text, domain, denials))]

    def data(self, ending: bytes = b"\n", last: bool = True) -> bytes:
        return ending.join(self.lines) + (ending if last else b"")


def _events_with_plain(serials: Sequence[Any], node: Optional[str] = None,
                       every: int = 7) -> Log:
    log = Log()
    for i, serial in enumerate(serials):
        if i % every == 3:
            log.denial(serial, node)
        else:
            log.plain(serial, node, kind=i)
    return log


def _two_nodes() -> Log:
    log = Log()
    a, b = 100, 5000
    for i in range(300):
        if i % 3:
            a += 1 + (i % 5 == 0)
            (log.denial if i % 17 == 0 else log.plain)(a, "alpha")
        else:
            b += 1 + 3 * (i % 7 == 0)
            (log.denial if i % 23 == 0 else log.plain)(b, "beta")
    return log


def _node_and_none() -> Log:
    log = Log()
    for i in range(200):
        node = "h1" if i % 4 == 0 else None
        (log.denial if i % 13 == 0 else log.plain)(1000 + i, node)
    return log


def _gappy(start: int, stop: int, seed: int) -> List[int]:
    """Serials from start to stop, with a few missing (1 to 3 in a row)."""
    rnd = random.Random(seed)
    return [n for n in range(start, stop) if rnd.random() > 0.15]


def _cases() -> List[Tuple[str, Log]]:
    cases = []
    # a reboot: a step back beyond the window (a new stream), then on
    reboot = _gappy(10_000, 10_150, 1) + _gappy(20, 170, 2)
    cases.append(("reboot", _events_with_plain(reboot)))
    # a step forward beyond the window (not counted), and one just inside it
    forward = (_gappy(100, 200, 3) + _gappy(200 + SERIAL_WINDOW + 5, 300 + SERIAL_WINDOW, 4)
               + _gappy(300 + 2 * SERIAL_WINDOW, 400 + 2 * SERIAL_WINDOW, 5))
    cases.append(("forward", _events_with_plain(forward)))
    # serials of several widths: 999 -> 1000, and back
    cases.append(("widths", _events_with_plain(_gappy(900, 1100, 6) + _gappy(990, 1010, 7))))
    cases.append(("leading-zeros", _events_with_plain(
        [f"{n:05d}" if n % 3 else str(n) for n in _gappy(900, 1100, 8)])))
    # duplicates: every record of an event shares its serial, and serials repeat
    cases.append(("duplicates", _events_with_plain([n for n in _gappy(1300, 1430, 9)
                                                    for _ in range(3)]
                                                   + [1010, 1010, 1005] * 20)))
    # steps back within the window (out of order), and gaps of every size
    rnd = random.Random(5)
    wobbly = [5000 + i * 3 + rnd.choice([-4, -1, 0, 0, 1, 2, 7, 40]) for i in range(400)]
    cases.append(("wobbly", _events_with_plain(wobbly)))
    cases.append(("two-nodes", _two_nodes()))
    cases.append(("node-and-none", _node_and_none()))
    # a plain record with a header out of range (read, reported, not fed)
    bad = _events_with_plain(_gappy(700, 900, 10))
    bad.lines.insert(60, b"type=SYSCALL msg=audit(1800000000.100:" + b"9" * 25 + b"): a=1")
    bad.lines.insert(90, b"type=SYSCALL msg=audit(99999999999.100:800): a=1")
    bad.lines.insert(120, b"type=SYSCALL msg=audit(1800000000.1234567890:801): a=1")
    cases.append(("out-of-range", bad))
    # stamps past the timeout between records of the stretches passed over
    slow = Log()
    for i, serial in enumerate(_gappy(300, 600, 11)):
        if i % 11 == 5:
            slow.denial(serial, step=1)
        else:
            slow.plain(serial, step=2500 if i % 5 == 0 else 1)
    cases.append(("timeouts", slow))
    return cases


CASES = _cases()


@pytest.mark.parametrize("name, log", CASES, ids=[name for name, _ in CASES])
@pytest.mark.parametrize("ending, last", [(b"\n", True), (b"\r\n", True), (b"\n", False),
                                          (b"\r\n", False)],
                         ids=["lf", "crlf", "lf-unterminated", "crlf-unterminated"])
def test_hand_made_logs_agree(tmp_path, monkeypatch, name, log, ending, last):
    path = tmp_path / "audit.log"
    path.write_bytes(log.data(ending, last))
    inputs = [str(path)]
    found = _agree(inputs)
    _domains_agree(inputs, ["json", "text"] if ending == b"\n" and last else ["json"])
    for block, dense, rows in ((1024, 1, 1), (4096, 1, 64), (1 << 20, 1, 3),
                               (2048, 1 << 30, 64)):
        monkeypatch.setattr(scan, "BLOCK", block)
        monkeypatch.setattr(scan, "PROBE", max(1, block // 4))
        monkeypatch.setattr(scan, "DENSE", dense)  # 1: never split whole; 1 << 30: always
        monkeypatch.setattr(scan, "ROWS", rows)
        assert _agree(inputs) == found, (block, dense, rows)


def test_hand_made_logs_have_gaps_to_count():
    """(The cases are not all without gaps: the comparisons can fail.)"""
    counted = []
    for name, log in CASES:
        grouper = EventGrouper()
        for line in log.lines:
            try:
                header = records.fastpath.find_record(line.decode("latin-1"))
            except HeaderError:
                continue  # (out of range: reported, not read)
            if header is not None:
                grouper._skip_one(header.node, header.serial)  # type: ignore[arg-type]
        counted.append((name, grouper.stats.serial_gaps))
    assert [name for name, gaps in counted if not gaps] == []


# -- every serial accounted once, in log order ---------------------------------------

class _Recorder(EventGrouper):
    """A grouper that writes down each serial it is given, fed or skipped."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: List[Tuple[Optional[str], int]] = []
        self.skipped = 0

    def feed(self, item: Any) -> Any:
        if isinstance(item, Record) and item.serial is not None:
            self.seen.append((item.node, item.serial))
        return super().feed(item)

    def skip_serials(self, node: Optional[str], serials: List[bytes]) -> None:
        self.seen.extend((node, int(s)) for s in serials)
        self.skipped += len(serials)
        super().skip_serials(node, serials)


@pytest.mark.parametrize("which", ["generated", "two-nodes", "node-and-none"])
def test_every_serial_once_in_log_order(tmp_path, monkeypatch, which):
    path = tmp_path / "audit.log"
    if which == "generated":
        path.write_bytes(_generated("mixed", 50.0, 40, seed=3, deleted=0.02))
    else:
        path.write_bytes(dict(CASES)[which].data())
    monkeypatch.setattr(scan, "BLOCK", 4096)
    monkeypatch.setattr(scan, "DENSE", 1)
    seen = []
    for use_scan in (True, False):
        records.SCAN = use_scan
        try:
            grouper = _Recorder()
            for _ in Reading([str(path)], Diagnostics(), grouper=grouper).events():
                pass
        finally:
            records.SCAN = True
        seen.append((grouper.seen, grouper.skipped))
    (scanned, skipped), (reference, none) = seen
    assert none == 0 and skipped > len(reference) // 2  # (the scan passed most over)
    assert scanned == reference


# -- the accounting of a run, against feed()'s, record by record ----------------------

@st.composite
def serial_runs(draw):
    """Runs of serial digit strings: mostly the usual (one width, never
    decreasing), with steps back, widths that change, leading zeros."""
    window = draw(st.sampled_from([5, 50, SERIAL_WINDOW]))
    n = draw(st.integers(0, 80))
    value = draw(st.integers(0, 3000))
    out = []
    for _ in range(n):
        value = max(0, value + draw(st.sampled_from(
            [0, 0, 1, 1, 1, 2, 3, -1, window - 1, window, window + 1, -window - 1])))
        pad = draw(st.sampled_from([0, 0, 0, 0, 6]))
        out.append(b"%0*d" % (pad, value))
    last = draw(st.one_of(st.none(), st.integers(0, 3000)))
    return window, last, out


@settings(max_examples=600, deadline=None)
@given(serial_runs(), st.booleans())
def test_skip_serials_is_feeds_accounting(run, counting):
    window, last, serials = run
    fast = EventGrouper(serial_window=window, count_serial_gaps=counting)
    slow = EventGrouper(serial_window=window, count_serial_gaps=counting)
    for grouper in (fast, slow):
        grouper.stats.serial_gaps = 0
        if last is not None:
            grouper._last_serial[None] = last
    fast.skip_serials(None, serials)
    for digits in serials:
        slow._skip_one(None, int(digits))
    assert (fast.stats.serial_gaps, fast._last_serial) == (slow.stats.serial_gaps,
                                                           slow._last_serial)


def test_skip_one_is_feed(tmp_path):
    """The record-by-record accounting is feed()'s own (on a real log's
    records, with gaps, steps back and a reboot)."""
    log = dict(CASES)["wobbly"]
    log.lines += dict(CASES)["reboot"].lines
    fed, skipped = EventGrouper(), EventGrouper()
    for line in log.lines:
        header = records.fastpath.find_record(line.decode("latin-1"))
        assert header is not None
        fed.feed(Record(header, "x", 1, line.decode("latin-1")))
        skipped._skip_one(header.node, header.serial)  # type: ignore[arg-type]
    assert fed.stats.serial_gaps == skipped.stats.serial_gaps > 0
    assert fed._last_serial == skipped._last_serial


# -- random streams ------------------------------------------------------------------

@st.composite
def streams(draw):
    """Random streams of plain records and Landlock events, of one or two
    nodes, with random serial steps (gaps, repeats, steps back, steps beyond
    the window, wider serials) and random stamp steps."""
    log = Log()
    nodes = draw(st.sampled_from([[None], [None], ["n1"], ["n1", "n2"], [None, "n1"]]))
    serial = {node: draw(st.sampled_from([1, 990, 99_990, 10 ** 12])) for node in nodes}
    for _ in range(draw(st.integers(1, 120))):
        node = draw(st.sampled_from(nodes))
        serial[node] = max(1, serial[node] + draw(st.sampled_from(
            [0, 0, 1, 1, 1, 1, 2, 5, -1, -3, SERIAL_WINDOW, SERIAL_WINDOW + 1,
             -SERIAL_WINDOW - 1, 10 ** 6])))
        step = draw(st.sampled_from([0, 1, 1, 3, 1999, 2001, 4000]))
        written: Any = serial[node]
        if draw(st.integers(0, 15)) == 0:
            written = f"{serial[node]:012d}"
        if draw(st.integers(0, 8)) == 0:
            log.denial(written, node, step=step, denials=draw(st.sampled_from([1, 3])))
        else:
            log.plain(written, node, kind=draw(st.integers(0, 3)), step=step)
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    return (log.data(ending, draw(st.booleans())), draw(st.sampled_from([256, 1024, 1 << 20])),
            draw(st.sampled_from([1, 1 << 30])), draw(st.sampled_from([1, 3, 64])))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(streams())
def test_random_streams_agree(tmp_path_factory, monkeypatch, stream):
    data, block, dense, rows = stream
    path = tmp_path_factory.mktemp("gaps") / "audit.log"
    path.write_bytes(data)
    monkeypatch.setattr(scan, "BLOCK", block)
    monkeypatch.setattr(scan, "PROBE", max(1, block // 4))
    monkeypatch.setattr(scan, "DENSE", dense)
    monkeypatch.setattr(scan, "ROWS", rows)
    _agree([str(path)])


def test_domains_json_lists_the_gap_cause(tmp_path):
    """A hand-made log's report, checked by value (not only against the reference)."""
    log = _events_with_plain(list(range(100, 110)) + list(range(115, 130)))
    path = tmp_path / "audit.log"
    path.write_bytes(log.data())
    code, out, err = _cli(["domains", "-f", "json", "-j", "1", str(path)], True)
    rows = json.loads(out)
    assert code == 0 and len(rows) == 4 and all(row["missing"] == 1 for row in rows)
    # (109 -> 115: five serials missing, as the line-by-line reading counts)
    assert all(row["gap_causes"][0] == "5 audit serials are missing from this input "
               "(events filtered out, or not written)" for row in rows)
    assert _cli(["domains", "-f", "json", "-j", "1", str(path)], False) == (code, out, err)


def test_export_writes_the_same_domains(tmp_path):
    """``export`` (a reading that counts serial gaps, for its domains table)
    writes the same rows either way."""
    import sqlite3

    path = tmp_path / "audit.log"
    path.write_bytes(_generated("mixed", 50.0, 60, seed=11, deleted=0.05))
    tables = []
    for use_scan in (True, False):
        database = tmp_path / f"scan-{use_scan}.db"
        code, _, err = _cli(["export", "-o", str(database), str(path)], use_scan)
        assert code == 0, err
        with sqlite3.connect(database) as db:
            names = [n for (n,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            tables.append({n: db.execute(f"SELECT * FROM {n}").fetchall() for n in names})
        assert any("audit serials are missing" in repr(row) for row in tables[-1]["domains"])
    assert tables[0] == tables[1]


def test_gaps_at_the_cuts_between_parts(tmp_path, monkeypatch):
    """The serials missing where the input is cut into parts read in
    parallel are counted when the parts merge: ``domains -j 2`` prints what
    ``-j 1`` does, whatever the cuts (event boundaries, some right after
    deleted events)."""
    out = io.StringIO()
    generate(out, "mixed", events=40, ordinary_per_landlock=8)
    lines = out.getvalue().encode("latin-1").split(b"\n")[:-1]
    serials = [_SERIAL_RE.search(line).group(1) for line in lines]  # type: ignore[union-attr]
    # Whole events deleted here and there (one Landlock record too: a
    # domain misses a denial, so the report shows the count).
    gone = set(serials[100::37])
    first_access = next(i for i, line in enumerate(lines) if b"UNKNOWN[1423]" in line)
    kept = [line for i, (line, serial) in enumerate(zip(lines, serials))
            if serial not in gone and i != first_access]
    data = b"\n".join(kept) + b"\n"
    path = tmp_path / "audit.log"
    path.write_bytes(data)
    # Cuts at event boundaries: after each deleted stretch, and elsewhere.
    starts, offset, previous = [], 0, None
    for line in kept:
        serial = _SERIAL_RE.search(line).group(1)  # type: ignore[union-attr]
        if previous is not None and serial != previous:
            starts.append((offset, int(serial) - int(previous)))
        previous = serial
        offset += len(line) + 1
    after_gaps = [at for at, step in starts if step > 1]
    elsewhere = [at for at, step in starts if step == 1]
    assert len(after_gaps) > 5 and elsewhere
    one = _cli(["domains", "-f", "json", "-j", "1", str(path)], True)
    assert b"audit serials are missing" in one[1]
    for cuts in ([after_gaps[2]], [elsewhere[len(elsewhere) // 2]],
                 [after_gaps[1], elsewhere[len(elsewhere) // 2], after_gaps[-1]]):
        edges = [0, *cuts, len(data)]
        parts = [(str(path), a, b) for a, b in zip(edges, edges[1:])]
        monkeypatch.setattr(parallel, "plan",
                            lambda arguments, jobs, context=False, parts=parts: parts)
        assert _cli(["domains", "-f", "json", "-j", "2", str(path)], True) == one, cuts
        assert _cli(["domains", "-f", "json", "-j", "2", str(path)], False) == one, cuts
