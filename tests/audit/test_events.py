"""Event reassembly: interleaving, late records, duplicates, bounded memory."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from lldecode.analysis.pipeline import Reading
from lldecode.audit import records
from lldecode.audit.events import EventGrouper
from lldecode.audit.records import Diagnostics
from tests.conftest import ROOT, SAMPLES, launch_measured, measured_peak

RAW = SAMPLES / "kernel-6.18-raw-audit.log"
_SERIAL_RE = re.compile(r"msg=audit\(\d+\.\d+:(\d+)\)")


def raw_lines():
    return RAW.read_text("latin-1").splitlines()


def read_text(tmp_path, lines, grouper=None, name="input.log"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", "latin-1")
    reading = Reading([str(path)], Diagnostics(quiet=True), grouper=grouper)
    return list(reading.denials()), reading


def serial(line):
    m = _SERIAL_RE.search(line)
    return int(m.group(1)) if m else None


def test_every_sample_denial_carries_its_syscall(tmp_path):
    denials, _ = read_text(tmp_path, raw_lines())
    assert len(denials) == 40
    assert all(d.process and d.process["syscall"] for d in denials)
    assert {d.process["errno"] for d in denials} <= {"EACCES", "EPERM", "EXDEV"}


def test_interleaved_events_are_reassembled(tmp_path):
    lines = raw_lines()
    # The records of two consecutive denial events, interleaved one by one.
    first = [line for line in lines if serial(line) == 41600]
    second = [line for line in lines if serial(line) == 41601]
    assert len(first) >= 3 and len(second) >= 3
    mixed = [x for pair in zip(first, second) for x in pair]
    mixed += first[len(second):] + second[len(first):]
    denials, _ = read_text(tmp_path, mixed)
    assert [(d.serial, d.process["syscall"]) for d in denials] == [
        (41600, "openat"), (41601, "mkdir")]
    assert all(d.process.get("cwd") for d in denials)


def test_rename_across_directories_is_one_operation_of_two_denials(tmp_path):
    denials, _ = read_text(tmp_path, raw_lines())
    refer = [d for d in denials if d.serial == 41626]
    assert len(refer) == 2
    assert [(d.operation_index, d.operation_size) for d in refer] == [(0, 2), (1, 2)]
    assert refer[0].event is refer[1].event


def test_a_record_after_its_event_was_flushed(tmp_path, monkeypatch):
    # (read line by line: a scan passes over the plain records that join no
    # open event, and so counts no late one; no report shows that count)
    monkeypatch.setattr(records, "SCAN", False)
    lines = raw_lines()
    event = [line for line in lines if serial(line) == 41600]
    syscall = next(line for line in event if "type=SYSCALL" in line)
    access = next(line for line in event if "[1423]" in line)
    rest = [line for line in lines if serial(line) != 41600]
    # The SYSCALL comes after the stream moved more than the window on.
    later = [line for line in rest if (serial(line) or 0) > 41600 + 500]
    stream = [access] + later[:50] + [syscall] + later[50:]
    grouper = EventGrouper(serial_window=100)
    denials, reading = read_text(tmp_path, stream, grouper=grouper)
    flushed = next(d for d in denials if d.serial == 41600)
    assert flushed.process is None or not flushed.process.get("syscall")
    assert reading.grouper.stats.late_records == 1
    # A Landlock record arriving late still makes a denial of its own.
    stream = [access] + later[:50] + [access.replace("fs.make_reg", "fs.make_dir")] + later[50:]
    denials, reading = read_text(tmp_path, stream, grouper=EventGrouper(serial_window=100))
    late = [d for d in denials if d.serial == 41600]
    assert [d.blockers for d in late] == [["fs.make_reg"], ["fs.make_dir"]]
    assert late[1].event.late


def test_time_moves_events_on(tmp_path):
    """An event stays open until a record more than `timeout` seconds later."""
    lines = raw_lines()
    access = next(line for line in lines if serial(line) == 41600 and "[1423]" in line)
    other = next(line for line in lines if serial(line) == 41601 and "SYSCALL" in line)
    stamp = float(re.search(r"audit\((\d+\.\d+):", access).group(1))
    soon = re.sub(r"audit\(\d+\.\d+:", f"audit({stamp + 1:.3f}:", other)
    late = re.sub(r"audit\(\d+\.\d+:", f"audit({stamp + 3:.3f}:", other)
    from lldecode.audit import syntax as fastpath
    from lldecode.audit.records import Record

    def record(line):
        return Record(fastpath.match_raw(line), "t", 1, line)

    grouper = EventGrouper(timeout=2.0, serial_window=10 ** 9)
    assert grouper.feed(record(access)) == []
    assert grouper.feed(record(soon)) == [] and grouper.open
    done = grouper.feed(record(late))
    assert [e.serial for e in done] == [41600] and not grouper.open


def test_journald_double_copies_are_read_once(tmp_path, fixtures_dir):
    short = (fixtures_dir / "journal-short.txt").read_text("latin-1").splitlines()
    kernel_copies = [line for line in short if "kernel: audit: type=1423" in line]
    assert kernel_copies  # journald kept a second copy from the console
    denials, reading = read_text(tmp_path, short)
    assert reading.grouper.stats.duplicates >= len(kernel_copies)
    netlink, _ = read_text(tmp_path, (fixtures_dir / "journal.netlink").read_text(
        "latin-1").splitlines(), name="n.log")
    assert len(denials) == len(netlink)


@pytest.mark.slow
def test_memory_stays_bounded_on_five_million_lines(tmp_path):
    """A generated log of more than 5 million lines streams through the
    whole pipeline in bounded memory (peak resident set of the process)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    generator = subprocess.Popen(
        [sys.executable, "-m", "bench.loggen", "mixed", "--size", "1000M"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    reader = launch_measured([sys.executable, "-m", "lldecode", "filter", "--count", "-"],
                             stdin=generator.stdout, stdout=subprocess.PIPE, env=env)
    generator.stdout.close()
    count = int(reader.stdout.read())
    status, peak_mib, _ = measured_peak(reader)
    assert status == 0
    generator.wait()
    report = generator.stderr.read().decode()
    lines = int(re.search(r"(\d+) lines", report).group(1))
    print(f"\n{lines} lines, {count} denials, peak RSS {peak_mib:.1f} MiB")
    assert lines >= 5_000_000
    assert count > 10_000
    assert peak_mib < 100
