"""filter --count does not follow the domains when nothing shown needs them.

A count-only tally (``Tally(accounting=False)``, what ``filter --count``
asks for) skips the domain registry when the selection needs no domain
(Selection.needs_domains).  The count must be the one the full reading
gives, on every fixture and with every kind of selector; a selector that
reads the domain's creator (--exe, --pid, --uid, --comm, status) keeps the
registry.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List

import pytest
from click.testing import CliRunner

from bench.loggen import generate
from lldecode.analysis import parallel
from lldecode.analysis.reader import LogReader
from lldecode.analysis.selection import FIELDS, RECORD_FIELDS, Selection
from lldecode.cli.app import cli
from tests.conftest import FIXTURES, SAMPLES

LOGS = sorted(str(p) for p in FIXTURES.glob("*")
              if p.is_file() and p.suffix in (".log", ".txt", ".json")) + \
    sorted(str(p) for p in SAMPLES.glob("*"))

SELECTIONS: List[Dict[str, Any]] = [
    {},
    {"blockers": ["fs.*"]},
    {"blockers": ["net.*", "scope.*"]},
    {"paths": ["/tmp/**"]},
    {"where": "serial > 0"},
    {"where": "carrier = raw or node ~ '*'"},
    # these read the domain's creator when the event has no SYSCALL record
    {"exes": ["*"]},
    {"comms": ["*py*"]},
    {"pids": [1, 2, 3]},
    {"where": "status = deallocated"},
    {"where": "uid = 0"},
]

DOMAIN_FREE = 6  # the first selections need no domain


def _tally(path: str, options: Dict[str, Any], accounting: bool) -> Any:
    selection = Selection.from_options(**options)
    reader = LogReader([path], selection=selection, context=False, jobs=1,
                       selection_options=options)
    return reader.tally(accounting=accounting)


def test_record_fields_are_fields() -> None:
    assert RECORD_FIELDS <= set(FIELDS)
    # a field read through the domain registry is never a record field
    assert not RECORD_FIELDS & {"exe", "comm", "pid", "uid", "status"}


@pytest.mark.parametrize("index", range(len(SELECTIONS)))
def test_needs_domains(index: int) -> None:
    selection = Selection.from_options(**SELECTIONS[index])
    assert selection.needs_domains == (index >= DOMAIN_FREE)


@pytest.mark.parametrize("path", LOGS, ids=os.path.basename)
@pytest.mark.parametrize("index", range(len(SELECTIONS)))
def test_count_without_accounting(path: str, index: int) -> None:
    options = SELECTIONS[index]
    full = _tally(path, options, accounting=True)
    counted = _tally(path, options, accounting=False)
    assert counted.count == full.count
    assert counted.stats.events == full.stats.events
    if index < DOMAIN_FREE:
        assert counted.registry.clock_spans() == {}
    else:
        assert counted.registry.clock_spans() == full.registry.clock_spans()


def test_a_count_with_no_denial_follows_no_domain() -> None:
    """The fixtures hold denials, so the registry of the full reading is not
    empty: skipping it is seen (the check above cannot pass vacuously)."""
    path = str(FIXTURES / "auditd-raw.log")
    assert _tally(path, {}, accounting=True).registry.clock_spans() != {}
    assert _tally(path, {}, accounting=False).count > 0


def test_cli_count_parts(tmp_path: Any, monkeypatch: Any) -> None:
    """filter --count on parts read by other processes (the workers skip the
    registry too) gives the one-process count, with and without selectors."""
    big = tmp_path / "mixed.log"
    with open(big, "w", encoding="latin-1") as out:
        generate(out, "mixed", size=2 << 20)
    monkeypatch.setattr(parallel, "MIN_PART", 64 << 10)
    monkeypatch.setattr(parallel, "tally_min_part", lambda paths: 64 << 10)
    assert parallel.plan([str(big)], 2) is not None  # (read in parts indeed)
    runner = CliRunner()
    for extra in ([], ["--blocker", "fs.*"], ["--exe", "*"], ["--where", "status = allocated"]):
        one = runner.invoke(cli, ["filter", "--count", "-j", "1", *extra, str(big)])
        many = runner.invoke(cli, ["filter", "--count", "-j", "2", *extra, str(big)])
        assert (one.exit_code, one.output) == (many.exit_code, many.output)
        if extra != ["--where", "status = allocated"]:
            assert int(one.output.split()[0]) > 0


def _long_lived_domain(path: Any) -> None:
    """A log without SYSCALL records (syscall auditing off, a common setup):
    a real allocated record, then thousands of denials of its domain, in
    events of their own (the records of the kernel 6.18 sample, serials
    and times moved on)."""
    lines = (SAMPLES / "kernel-6.18-raw-audit.log").read_text("latin-1").splitlines()
    access = next(line for line in lines if line.startswith("type=UNKNOWN[1423]"))
    header = access[:access.index("): ") + 3]
    domain = access.split("domain=")[1].split()[0]
    allocated = next(line for line in lines if line.startswith("type=UNKNOWN[1424]")
                     and "status=allocated" in line and f"domain={domain}" in line)
    body = access[len(header):]
    with open(path, "w", encoding="latin-1") as out:
        out.write(f"type=UNKNOWN[1423] msg=audit(1800000000.000:1000): {body}\n")
        out.write("type=UNKNOWN[1424] msg=audit(1800000000.000:1000): "
                  + allocated[allocated.index("): ") + 3:] + "\n")
        for i in range(1, 20000):
            out.write(f"type=UNKNOWN[1423] msg=audit({1800000000 + i // 50}.{i % 50 * 20:03d}"
                      f":{1000 + i}): {body}\n")


@pytest.mark.parametrize("command", [
    ["summarize", "--by", "exe"],
    ["summarize", "--by", "blocker,exe", "-f", "json"],
    ["filter", "--count", "--exe", "*"],
    ["filter", "--count", "--where", "status = allocated"],
    ["summarize", "-f", "json"],
    ["domains", "-f", "json"],
])
def test_creators_across_parts(tmp_path: Any, monkeypatch: Any, command: List[str]) -> None:
    """A denial's exe, without SYSCALL record, is its domain's creator, whose
    allocated record may be in an earlier part: such tallies read in one
    pass (before, the denials of the later parts had no exe: "-" in
    summarize --by exe)."""
    log = tmp_path / "long-lived.log"
    _long_lived_domain(log)
    monkeypatch.setattr(parallel, "MIN_PART", 64 << 10)
    monkeypatch.setattr(parallel, "tally_min_part", lambda paths: 64 << 10)
    assert parallel.plan([str(log)], 2, context=True) is not None
    runner = CliRunner()
    one = runner.invoke(cli, [*command, "-j", "1", str(log)], env={"TZ": "UTC"})
    many = runner.invoke(cli, [*command, "-j", "2", str(log)], env={"TZ": "UTC"})
    assert one.exit_code == 0, one.output
    assert (one.exit_code, one.output) == (many.exit_code, many.output)
    if command == ["summarize", "--by", "exe"]:
        assert "20000 denials in 1 group" in one.output
