"""Live inputs (issue 13): events completed when the input goes quiet, the
line splitter of live sources, following files through rotations, and
rotated sets read oldest first whatever the argument order."""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
from pathlib import Path

import pytest

from lldecode.audit import live
from lldecode.audit.events import IDLE_EVENT, EventGrouper
from lldecode.audit.follow import FileSource
from lldecode.audit.records import Diagnostics, Notice, read_lines, read_live, read_records
from lldecode.audit.sources import (
    TOO_LONG,
    LineSplitter,
    LinesSource,
    Source,
    expand,
    order_arguments,
    split_lines,
)

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "fixtures" / "auditd-raw.log"


@pytest.fixture(autouse=True)
def _no_stop():
    live.stop.clear()
    yield
    live.stop.clear()
    live.settings.reset()


def _events(lines):
    """The raw log's events, each a list of lines, in order."""
    import re

    events, key = [], None
    for line in lines:
        m = re.search(r"audit\([\d.]+:(\d+)\)", line)
        serial = m.group(1) if m else None
        if serial != key or not events:
            events.append([])
            key = serial
        events[-1].append(line)
    return events


# -- the grouper: an idle notice completes what is open ----------------------------------

class _Ticking(Source):
    """Lines, with IDLE where the test says."""

    live = True

    def __init__(self, items):
        super().__init__("ticking", lambda: None)
        self.items = items

    def lines(self):
        yield from self.items


def _landlock_event(lines):
    return next(e for e in _events(lines) if any("1423" in line for line in e))


def test_an_idle_notice_completes_the_open_event_at_once():
    lines = RAW.read_text("latin-1").splitlines()
    event = _landlock_event(lines)
    grouper = EventGrouper()
    grouper.ticks = True
    items = read_records([_Ticking(event + [live.IDLE])], Diagnostics(quiet=True))
    out = []
    for item in grouper.run(items):
        out.append(item)
        if item is IDLE_EVENT:
            break  # what was out before the end of input
    assert [e is IDLE_EVENT for e in out] == [False, True]
    assert len(out[0].records) == len(event)


def test_without_idle_the_last_event_waits_for_the_end():
    lines = RAW.read_text("latin-1").splitlines()
    event = _landlock_event(lines)
    grouper = EventGrouper()
    for record in read_lines(LinesSource(event), Diagnostics(quiet=True)):
        assert grouper.feed(record) == []
    assert grouper.open
    assert len(grouper.idle()) == 1 and not grouper.open


def test_read_live_keeps_line_numbers_across_idle_ticks():
    lines = RAW.read_text("latin-1").splitlines()[:40]
    items = lines[:10] + [live.IDLE] + lines[10:25] + [live.IDLE, live.IDLE] + lines[25:]
    source = _Ticking(items)
    got = list(read_live(source, Diagnostics(quiet=True)))
    notices = [i for i in got if isinstance(i, Notice)]
    assert [n.kind for n in notices] == [Notice.IDLE] * 3
    records = [i for i in got if not isinstance(i, Notice)]
    plain = list(read_lines(LinesSource(lines), Diagnostics(quiet=True)))
    assert [(r.lineno, r.line) for r in records] == [(r.lineno, r.line) for r in plain]


# -- the splitter of live sources ------------------------------------------------------

@pytest.mark.parametrize("seed", range(20))
def test_line_splitter_reads_as_split_lines(seed):
    rng = random.Random(seed)
    data = b"".join(rng.choice([b"a", b"\n", b"\r\n", b"xyz" * rng.randint(0, 600), b"\xff"])
                    for _ in range(300))
    cuts = sorted(rng.sample(range(len(data) + 1), min(len(data), 30)))
    chunks = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
    limit = 1024
    expected = list(split_lines(iter(chunks), limit))
    splitter = LineSplitter(limit)
    got = [line for chunk in chunks for line in splitter.feed(chunk)]
    rest = splitter.end()
    if rest is not None:
        got.append(rest)
    assert [g is TOO_LONG for g in got] == [e is TOO_LONG for e in expected]
    assert got == expected


# -- following a file -------------------------------------------------------------------

def _follow(path: Path, writer, **kwargs):
    """The lines a followed file gives while ``writer`` writes, stopping
    when it is done."""
    def run():
        try:
            writer()
            time.sleep(0.4)
        finally:
            live.stop.request(2)

    thread = threading.Thread(target=run)
    source = FileSource(str(path), follow=True, **kwargs)
    thread.start()
    try:
        got = [line for line in source.lines() if line is not live.IDLE]
    finally:
        thread.join()
    return got, source


def _pieces(n_parts):
    lines = RAW.read_text("latin-1").splitlines(keepends=True)
    events = _events(lines)
    size = len(events) // n_parts + 1
    return lines, ["".join("".join(e) for e in events[i:i + size])
                   for i in range(0, len(events), size)]


def test_follow_survives_rename_and_copytruncate_losing_and_repeating_nothing(tmp_path):
    lines, parts = _pieces(6)
    log = tmp_path / "audit.log"
    log.write_text(parts[0], "latin-1")

    def writer():
        time.sleep(0.2)
        with open(log, "a", encoding="latin-1") as f:
            f.write(parts[1])
        os.rename(log, tmp_path / "audit.log.1")     # rotation by rename
        time.sleep(0.05)
        log.write_text(parts[2], "latin-1")
        time.sleep(0.3)
        with open(log, "a", encoding="latin-1") as f:  # then copy and truncate, at once
            f.write(parts[3])
        shutil.copy(log, tmp_path / "audit.log.2")
        os.truncate(log, 0)
        with open(log, "a", encoding="latin-1") as f:
            f.write(parts[4])
        time.sleep(0.3)
        for part in parts[5:]:
            with open(log, "a", encoding="latin-1") as f:
                f.write(part)

    got, source = _follow(log, writer)
    assert got == [line.rstrip("\n") for line in lines]
    assert source.rotations == ["rename", "copytruncate"]


def test_follow_waits_for_a_file_to_appear(tmp_path):
    log = tmp_path / "audit.log"

    def writer():
        time.sleep(0.2)
        log.write_text("type=A msg=audit(1.000:1): x\n")

    got, _ = _follow(log, writer)
    assert got == ["type=A msg=audit(1.000:1): x"]


def test_an_idle_tick_after_data_and_not_in_a_line(tmp_path):
    log = tmp_path / "audit.log"
    log.write_text("one\n")
    live.settings.event_timeout = 0.05
    source = FileSource(str(log), follow=True)
    items = source.lines()
    assert next(items) == "one"
    started = time.monotonic()
    assert next(items) is live.IDLE
    assert time.monotonic() - started < 0.5
    with open(log, "a") as f:
        f.write("par")          # half a line: no tick until it ends
    time.sleep(0.2)
    with open(log, "a") as f:
        f.write("tial\n")
    assert next(items) == "partial"
    live.stop.request(2)
    assert list(items) in ([], [live.IDLE])
    assert source.position == log.stat().st_size


def test_file_source_position_stops_at_the_last_whole_line(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(b"a\nbb\nunfinished")
    source = FileSource(str(log))
    assert list(source.lines()) == ["a", "bb", "unfinished"]
    assert source.position == 5 and source.truncated_last_line
    again = FileSource(str(log), offset=2)
    assert list(again.lines()) == ["bb", "unfinished"]


# -- rotated sets in any argument order ----------------------------------------------

def test_rotated_files_given_in_text_order_are_read_oldest_first(tmp_path):
    names = ["audit.log", "audit.log.1", "audit.log.10", "audit.log.11.gz", "audit.log.2"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    given = [str(tmp_path / n) for n in sorted(names)]
    ordered, changed = order_arguments(given)
    assert changed
    assert [os.path.basename(p) for p in ordered] == [
        "audit.log.11.gz", "audit.log.10", "audit.log.2", "audit.log.1", "audit.log"]
    assert [s.name for s in expand(given)] == ordered
    assert order_arguments(ordered) == (ordered, False)


def test_other_arguments_keep_their_places(tmp_path):
    for name in ("audit.log", "audit.log.1", "other.txt"):
        (tmp_path / name).write_bytes(b"")
    given = [str(tmp_path / "audit.log"), "-", str(tmp_path / "other.txt"),
             str(tmp_path / "audit.log.1")]
    ordered, changed = order_arguments(given)
    assert changed and ordered == [str(tmp_path / "audit.log.1"), "-",
                                   str(tmp_path / "other.txt"), str(tmp_path / "audit.log")]
