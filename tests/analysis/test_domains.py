"""The domain registry: accounting, gaps and their causes, boots."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from lldecode.analysis.domain_report import domain_rows
from lldecode.analysis.pipeline import Reading
from lldecode.audit.records import Diagnostics
from lldecode.cli.app import cli
from tests.conftest import FIXTURES, SAMPLES

RAW = SAMPLES / "kernel-6.18-raw-audit.log"
DMESG = SAMPLES / "kernel-6.18-dmesg.txt"


def registry_of(tmp_path, lines=None, path=None):
    if lines is not None:
        path = tmp_path / "input.log"
        path.write_text("\n".join(lines) + "\n", "latin-1")
    reading = Reading([str(path)], Diagnostics(quiet=True))
    denials = list(reading.denials())
    return reading, denials


def rows(reading):
    return list(domain_rows(reading.registry, reading.grouper.stats))


def test_sample_counts_match_the_kernel(tmp_path):
    reading, _ = registry_of(tmp_path, path=RAW)
    report = rows(reading)
    assert len(report) == 21
    for row in report:
        assert row["status"] == "deallocated"
        assert row["denials_logged"] == row["denials_reported"], row
        assert row["creator"]["exe"].endswith(b"python3.11")
        assert row["gap_causes"] == []


def test_domains_are_ordered_by_age(tmp_path):
    reading, _ = registry_of(tmp_path, path=RAW)
    ids = [int(r["domain"], 16) for r in rows(reading)]
    assert ids == sorted(ids)


def test_dmesg_sample_reports_rate_limiting(tmp_path):
    reading, _ = registry_of(tmp_path, path=DMESG)
    (row,) = rows(reading)
    assert row["denials_logged"] == 3 and row["denials_reported"] is None
    assert any("rate limit" in cause for cause in row["gap_causes"])


def test_suppressed_console_records_are_counted_as_a_cause(tmp_path):
    path = FIXTURES / "dmesg-ratelimited.txt"
    reading, _ = registry_of(tmp_path, path=path)
    suppressed = sum(int(n) for n in re.findall(r"(\d+) callbacks suppressed",
                                                path.read_text("latin-1")))
    assert reading.grouper.stats.suppressed == suppressed == 8992
    burst = next(r for r in rows(reading) if r["denials_reported"] is None)
    assert burst["denials_logged"] == 3
    assert any("8992 records were suppressed" in c for c in burst["gap_causes"])


def test_rotated_set_with_records_lost_by_the_kernel(tmp_path):
    """A real rotation by auditd, during which the kernel's backlog overflowed."""
    reading, _ = registry_of(tmp_path, path=FIXTURES / "rotated")
    burst = next(r for r in rows(reading) if r["denials_reported"] == 2000)
    assert burst["denials_logged"] == 1988 and burst["missing"] == 12
    assert any("backlog" in c for c in burst["gap_causes"])
    others = [r for r in rows(reading) if r["domain"] != burst["domain"]]
    assert all(r["denials_logged"] == r["denials_reported"] for r in others)


def test_missing_allocated_records(tmp_path):
    lines = [line for line in RAW.read_text("latin-1").splitlines()
             if "status=allocated" not in line]
    reading, denials = registry_of(tmp_path, lines)
    report = rows(reading)
    assert len(report) == 21
    assert all(r["creator"] is None for r in report)
    assert all(d.domain_info is not None for d in denials)
    # Without allocated record nor deallocation, the status is unknown.
    lines = [line for line in lines if "status=deallocated" not in line]
    reading, _ = registry_of(tmp_path, lines)
    assert {r["status"] for r in rows(reading)} == {"unknown"}


def test_a_domain_whose_first_denials_are_before_the_input(tmp_path):
    lines = RAW.read_text("latin-1").splitlines()
    # Cut the log just after the truncate domain's allocated record.
    cut = next(i for i, line in enumerate(lines) if "17fcedd33 status=allocated" in line)
    reading, _ = registry_of(tmp_path, lines[cut + 1:])
    row = next(r for r in rows(reading) if r["domain"] == "17fcedd33")
    assert row["denials_reported"] == 3 and row["denials_logged"] == 2
    assert row["missing"] == 1
    assert any("allocated record is not in this input" in c for c in row["gap_causes"])


def test_duplicate_allocated_records(tmp_path):
    lines = RAW.read_text("latin-1").splitlines()
    i = next(i for i, line in enumerate(lines) if "17fcedd12 status=allocated" in line)
    # The kernel can log the allocated record again, in a later event.
    again = re.sub(r":41600\)", ":41608)", lines[i])
    lines.insert(i + 1, again)
    reading, _ = registry_of(tmp_path, lines)
    row = next(r for r in rows(reading) if r["domain"] == "17fcedd12")
    assert row["duplicate_allocations"] == 1
    assert row["creator"]["pid"] == 5681
    assert row["denials_logged"] == row["denials_reported"] == 7


def _shift(line, serial_delta=0, time_delta=0.0):
    def repl(m):
        return f"audit({float(m.group(1)) + time_delta:.3f}:{int(m.group(2)) + serial_delta})"
    return re.sub(r"audit\((\d+\.\d+):(\d+)\)", repl, line)


def test_reboot_inside_one_input_reuses_ids(tmp_path):
    """The same ids after their deallocation belong to a later boot."""
    lines = RAW.read_text("latin-1").splitlines()
    second_boot = [_shift(line, 0, 86400.0) for line in lines]
    reading, denials = registry_of(tmp_path, lines + second_boot)
    report = rows(reading)
    assert len(report) == 42
    assert {r["boot"] for r in report} == {0, 1}
    assert all(r["denials_logged"] == r["denials_reported"] for r in report)


def test_reboot_detected_by_serials_and_ids_jumping_back(tmp_path):
    lines = RAW.read_text("latin-1").splitlines()
    # Next boot: serials restart low, ids start at another random point below.
    second = [_shift(re.sub(r"domain=17fc", "domain=12ab", line), -41000, 3600.0)
              for line in lines]
    reading, _ = registry_of(tmp_path, lines + second)
    report = rows(reading)
    assert [r["boot"] for r in report].count(1) == 21
    assert all(r["denials_logged"] == r["denials_reported"] for r in report)


def test_domains_json_output():
    result = CliRunner().invoke(cli, ["domains", "--format", "json", str(RAW)])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert len(data) == 21
    first = data[0]
    for key in ("domain", "status", "creator", "denials_logged", "denials_reported", "blockers"):
        assert key in first
    assert first["creator"]["exe"] == "/root/.pyenv/versions/3.11.7/bin/python3.11"
    assert first["blockers"] == [{"name": "fs.read_file", "count": 1}]  # schema v1: a list


def test_domains_with_a_selection_lists_matching_domains():
    result = CliRunner().invoke(cli, ["domains", "--blocker", "fs.truncate", "--format", "json",
                                      str(RAW)])
    data = json.loads(result.output)
    assert data and all("fs.truncate" in [b["name"] for b in row["blockers"]] for row in data)
    assert all(row["denials_selected"] >= 1 for row in data)


def test_filter_ndjson_carries_process_and_domain_info():
    result = CliRunner().invoke(cli, ["filter", "--format", "ndjson", str(RAW)])
    first = json.loads(result.output.splitlines()[0])
    assert first["process"]["syscall"] == "openat"
    assert first["process"]["exit"] == -13 and first["process"]["errno"] == "EACCES"
    assert first["process"]["argv"][0].endswith("python3")
    assert first["domain_info"]["creator"]["pid"] == 5676
