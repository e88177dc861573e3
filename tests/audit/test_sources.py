"""Inputs: files in order, stdin, compressed files, rotated sets, errors."""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil

import pytest

from lldecode.analysis.pipeline import Reading
from lldecode.audit import sources
from lldecode.audit.records import Diagnostics
from tests.conftest import SAMPLES, run_cli

RAW = SAMPLES / "kernel-6.18-raw-audit.log"
DMESG = SAMPLES / "kernel-6.18-dmesg.txt"
RAW_DENIALS = 40
DMESG_DENIALS = 3


def count(*paths):
    diagnostics = Diagnostics(quiet=True)
    n = sum(1 for _ in Reading([str(p) for p in paths], diagnostics).denials())
    return n, diagnostics


@pytest.mark.parametrize("opener,suffix", [(gzip.open, ".gz"), (bz2.open, ".bz2"),
                                           (lzma.open, ".xz")])
def test_compressed_files_are_recognized_by_content(tmp_path, opener, suffix):
    # Named without the usual suffix on purpose: content decides.
    target = tmp_path / ("audit-log" + suffix[::-1])
    with opener(target, "wb") as f:
        f.write(RAW.read_bytes())
    assert count(target)[0] == RAW_DENIALS


def test_compressed_stdin():
    result = run_cli("filter", "--count", "-", stdin=gzip.compress(RAW.read_bytes()))
    assert result.stdout.decode().strip() == str(RAW_DENIALS)


def test_several_files_are_read_in_order(tmp_path):
    n, _ = count(RAW, DMESG)
    assert n == RAW_DENIALS + DMESG_DENIALS


def test_rotated_set_is_read_oldest_first(tmp_path):
    lines = RAW.read_text("latin-1").splitlines(keepends=True)
    third = len(lines) // 3
    # audit.log.2 is the oldest, audit.log the newest; one is compressed.
    (tmp_path / "audit.log.2").write_text("".join(lines[:third]), "latin-1")
    with gzip.open(tmp_path / "audit.log.1.gz", "wt", encoding="latin-1") as f:
        f.write("".join(lines[third:2 * third]))
    (tmp_path / "audit.log").write_text("".join(lines[2 * third:]), "latin-1")
    names = [s.name for s in sources.expand([str(tmp_path)])]
    assert [n.rsplit("/", 1)[1] for n in names] == ["audit.log.2", "audit.log.1.gz", "audit.log"]
    by_dir = [d.serial for d in Reading([str(tmp_path)], Diagnostics(quiet=True)).denials()]
    whole = [d.serial for d in Reading([str(RAW)], Diagnostics(quiet=True)).denials()]
    assert by_dir == whole
    by_glob = [d.serial for d in Reading([str(tmp_path / "audit.log*")],
                                         Diagnostics(quiet=True)).denials()]
    assert by_glob == whole


def test_rotation_order_of_dated_and_numbered_names():
    names = ["audit.log", "audit.log.10", "audit.log.2", "audit.log.1",
             "audit.log-20261125", "audit.log-20261124.gz"]
    assert sources.order_rotated(names) == [
        "audit.log.10", "audit.log.2", "audit.log.1",
        "audit.log-20261124.gz", "audit.log-20261125", "audit.log"]


def test_missing_file_is_one_line_and_status_2(tmp_path):
    result = run_cli("filter", "--count", str(tmp_path / "nope.log"), str(DMESG))
    err = result.stderr.decode()
    assert result.returncode == 2
    assert err.count("\n") == 1 and "nope.log" in err and "No such file" in err
    assert "Traceback" not in err
    # The other input is still read.
    assert result.stdout.decode().strip() == str(DMESG_DENIALS)


def test_unreadable_file_is_one_line_and_status_2():
    # /proc/self/mem is a regular file whose read fails (EIO), even for root.
    result = run_cli("filter", "--count", "/proc/self/mem")
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "/proc/self/mem" in err and err.count("\n") == 1 and "Traceback" not in err


def test_directory_without_logs_and_unmatched_glob(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("filter", "--count", str(empty), str(tmp_path / "x*.log"))
    assert result.returncode == 2
    err = result.stderr.decode().splitlines()
    assert len(err) == 2 and "no log files" in err[0] and "no file matches" in err[1]


def test_corrupt_compressed_file(tmp_path):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(RAW.read_bytes())[:5000])
    result = run_cli("filter", "--count", str(bad))
    assert result.returncode == 2
    assert "bad.gz" in result.stderr.decode() and "Traceback" not in result.stderr.decode()


def test_fifo_input(tmp_path):
    import os
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as f:
            f.write(DMESG.read_bytes())

    writer = threading.Thread(target=feed)
    writer.start()
    result = run_cli("filter", "--count", str(fifo))
    writer.join()
    assert result.stdout.decode().strip() == str(DMESG_DENIALS)


def test_copy_keeps_counts(tmp_path):
    copy = tmp_path / "copy.log"
    shutil.copy(RAW, copy)
    assert count(copy)[0] == RAW_DENIALS
