"""Every format of explain and filter read on several processes writes
exactly what one pass writes: standard output, standard error and the exit
status, on every fixture cut every few hundred bytes, on generated logs
with selections, and where a paragraph's domain changes after a cut.

(tests/analysis/test_parallel_text.py covers explain's text and filter's
text, NDJSON, JSON, CSV and TSV the same way.)
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from bench.loggen import generate
from lldecode.analysis import parallel, parallel_text
from lldecode.cli.app import cli
from tests.analysis.test_parallel_text import FIXTURES, LOGS, RAW

# The formats that are read in parts since issue 11 (the others: test_parallel_text).
FORMATS = [["explain", "-f", fmt] for fmt in ("json", "ndjson", "csv", "tsv", "github",
                                                "junit", "sarif")] + \
          [["filter", "-f", fmt] for fmt in ("raw", "table", "github", "junit", "sarif")] + \
          [["filter", "-f", "raw", "-Hn"], ["filter", "-f", "table", "--tablefmt", "github"]]


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], env={"TZ": "UTC"})
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout_bytes, result.stderr_bytes


def parts_of(log, jobs):
    spans = parallel.plan_spans([str(log)], jobs, replay=None,
                                min_part=parallel.EXPLAIN_MIN_PART)
    return 0 if spans is None else len(spans)


@pytest.fixture(scope="module")
def mixed_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs") / "mixed.log"
    with open(path, "w", encoding="latin-1") as out:
        generate(out, "mixed", size=1 << 20)
    return path


@pytest.fixture(scope="module")
def dense_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs") / "dense.log"
    with open(path, "w", encoding="latin-1") as out:
        generate(out, "dense", size=1 << 19)
    return path


@pytest.mark.parametrize("log", LOGS, ids=lambda p: str(p.relative_to(FIXTURES)))
@pytest.mark.parametrize("command", FORMATS, ids=" ".join)
def test_every_fixture(tiny_parts, log, command):
    one = run(*command, "--jobs", "1", log)
    for jobs in ("2", "5"):
        assert run(*command, "--jobs", jobs, log) == one


def test_the_fixtures_are_cut(tiny_parts):
    """(the tests above read the larger fixtures in parts, many of them)"""
    assert parts_of(FIXTURES / "auditd-raw.log", 5) == 5
    assert sum(parts_of(log, 5) > 1 for log in LOGS) >= len(LOGS) // 2


SELECTIONS = [[], ["--blocker", "fs.*"], ["--exe", "*/python3*"], ["--since", "2025-01-01"],
              ["--until", "2026-11-26 23:51:31.650"], ["--domain", "1b6b161a9"],
              ["--where", 'blocker ~ "fs.*" and not path ^= "/proc"'], ["--utc"]]


@pytest.mark.parametrize("options", SELECTIONS, ids=" ".join)
def test_selections(tiny_parts, options):
    for command in (["explain", "-f", "json"], ["explain", "-f", "sarif"],
                    ["filter", "-f", "raw"], ["filter", "-f", "junit"],
                    ["filter", "-f", "table"]):
        one = run(*command, *options, "--jobs", "1", RAW)
        assert run(*command, *options, "--jobs", "3", RAW) == one


@pytest.mark.parametrize("command", FORMATS, ids=" ".join)
def test_generated_logs(mixed_log, dense_log, command, monkeypatch):
    monkeypatch.setattr(parallel, "EXPLAIN_MIN_PART", 60 << 10)
    for log in (mixed_log, dense_log):
        assert parts_of(log, 4) == 4
        for options in ([], ["--blocker", "fs.read_file"]):
            one = run(*command, *options, "--jobs", "1", log)
            assert one[1] and one[0] == 0
            assert run(*command, *options, "--jobs", "4", log) == one


def test_several_files(tiny_parts, mixed_log, monkeypatch):
    monkeypatch.setattr(parallel, "EXPLAIN_MIN_PART", 100 << 10)
    files = [*sorted((FIXTURES / "rotated").iterdir(), reverse=True), mixed_log, RAW]
    for command in FORMATS:
        assert run(*command, "--jobs", "3", *files) == run(*command, "--jobs", "1", *files)


def _events(lines):
    """The lines of RAW grouped by serial, in order."""
    events, serial = [], None
    for line in lines:
        m = re.search(r":(\d+)\):", line)
        if m is None or m.group(1) != serial:
            events.append([])
            serial = m.group(1) if m else None
        events[-1].append(line)
    return events


def _renumbered(lines, serial):
    return [re.sub(r":\d+\):", f":{serial}):", line) for line in lines]


@pytest.fixture
def dealloc_log(tmp_path):
    """A domain allocated, denied the same thing many times, deallocated,
    then a long run of another domain's denials: explain -f json says
    "deallocated" for the first paragraph, because the single pass renders
    it at the next operation, after the deallocation; a cut among the
    repeats must not change that."""
    events = _events(RAW.read_text("latin-1").splitlines())
    allocated = [i for i, e in enumerate(events) if any("status=allocated" in x for x in e)]
    one, other = allocated[0], allocated[1]
    domain = re.search(r"domain=(\w+)", next(x for x in events[one]
                                            if "status=allocated" in x)).group(1)
    first = [x for x in events[one] if "status=allocated" not in x]
    second = [x for x in events[other] if "status=allocated" not in x]
    dealloc = next(e for e in events if any(f"domain={domain} status=deallocated" in x
                                            for x in e))
    out, serial = [], 900000
    serial += 1
    out += _renumbered([x for x in events[one] if "status=allocated" in x], serial)
    for _ in range(400):
        serial += 1
        out += _renumbered(first, serial)
    serial += 1
    out += _renumbered(dealloc, serial)
    serial += 1
    out += _renumbered([x for x in events[other] if "status=allocated" in x], serial)
    for _ in range(400):
        serial += 1
        out += _renumbered(second, serial)
    log = tmp_path / "dealloc.log"
    log.write_text("\n".join(out) + "\n", "latin-1")
    return log


def test_a_domain_deallocated_after_the_cut(tiny_parts, dealloc_log):
    code, stdout, stderr = run("explain", "-f", "json", "--jobs", "1", dealloc_log)
    paragraphs = json.loads(stdout)
    assert [p["count"] for p in paragraphs] == [400, 400]
    assert paragraphs[0]["sandbox"]["status"] == "deallocated"
    assert parts_of(dealloc_log, 4) == 4   # cuts among the repeats of both
    for command in (["explain", "-f", "json"], ["explain", "-f", "csv"],
                    ["explain", "-f", "sarif"], ["filter", "-f", "github"]):
        one = run(*command, "--jobs", "1", dealloc_log)
        for jobs in ("2", "4", "7"):
            assert run(*command, "--jobs", jobs, dealloc_log) == one


def test_a_sparse_selection_reads_on(tiny_parts, dealloc_log):
    """The last paragraph of a part whose next selected operation is parts
    later is rendered there (and a part without one adds nothing)."""
    for where in ("serial = 900002", "serial = 900002 or serial = 900803",
                  "serial = 900401 or serial = 900404", "serial >= 900350",
                  "status = allocated"):
        for command in (["explain", "-f", "json"], ["filter", "-f", "sarif"]):
            one = run(*command, "--where", where, "--jobs", "1", dealloc_log)
            assert one[0] == 0
            assert run(*command, "--where", where, "--jobs", "5", dealloc_log) == one


def test_diagnostics_exit_status_and_strict(tiny_parts, mixed_log, tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "EXPLAIN_MIN_PART", 100 << 10)
    lines = mixed_log.read_text("latin-1").splitlines()
    where = len(lines) * 3 // 4
    lines.insert(where, "type=UNKNOWN[1423] msg=audit(1800000000.000:1): domain=xyz blockers=a")
    damaged = tmp_path / "damaged.log"
    damaged.write_text("\n".join(lines) + "\n", "latin-1")
    for command in FORMATS:
        for options in ([], ["--strict"], ["--blocker", "net.bind_udp"]):
            one = run(*command, *options, "--jobs", "1", damaged)
            assert f"{damaged}:{where + 1}: column".encode() in one[2]
            assert one[0] == (2 if options == ["--strict"] else 1 if options else 0)
            assert run(*command, *options, "--jobs", "3", damaged) == one


def test_hostile_bytes_in_raw(tiny_parts, tmp_path):
    """filter -f raw writes the lines' bytes as they are, from every part."""
    text = RAW.read_bytes()
    hostile = text.replace(b'comm="python3"', b'comm=7079\xff\x00\x1b5b33') \
        .replace(b"proctitle=", b"proctitle=\xc3\xa9\xff")
    log = tmp_path / "hostile.log"
    log.write_bytes(hostile)
    one = run("filter", "-f", "raw", "--jobs", "1", log)
    assert b"\xc3\xa9\xff" in one[1]
    assert run("filter", "-f", "raw", "--jobs", "4", log) == one


@pytest.mark.parametrize("policy", sorted((FIXTURES / "policies").iterdir()),
                         ids=lambda p: p.name)
def test_with_a_policy(tiny_parts, policy):
    """explain --policy: the workers name the layers and rules as one pass does."""
    for fmt in ("json", "csv", "junit"):
        one = run("explain", "-f", fmt, "--policy", policy, "--jobs", "1",
                  FIXTURES / "auditd-raw.log")
        assert run("explain", "-f", fmt, "--policy", policy, "--jobs", "4",
                   FIXTURES / "auditd-raw.log") == one


@pytest.mark.parametrize("command", FORMATS, ids=" ".join)
def test_these_formats_are_read_in_parts(tiny_parts, command, monkeypatch):
    """(else the comparisons above compare one pass with itself)"""
    made = []
    real = parallel_text.ParallelText.__init__

    def init(self, parts, *args, **kwargs):
        made.append(len(parts))
        real(self, parts, *args, **kwargs)

    monkeypatch.setattr(parallel_text.ParallelText, "__init__", init)
    code, stdout, _ = run(*command, "--jobs", "3", FIXTURES / "auditd-raw.log")
    assert code == 0 and stdout and made == [3]
