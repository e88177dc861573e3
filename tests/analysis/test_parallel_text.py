"""explain and filter on several processes write exactly what one pass writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.loggen import generate
from lldecode.analysis import parallel
from lldecode.cli.app import cli
from tests.conftest import SAMPLES

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RAW = SAMPLES / "kernel-6.18-raw-audit.log"
# Every text log of the fixtures: each carrier, rotated files, node= logs.
LOGS = sorted(p for p in FIXTURES.rglob("*")
              if p.is_file() and p.suffix in (".log", ".txt", ".json", ".1", ".2")
              and "scenarios" not in p.name and "policies" not in p.parts)


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], env={"TZ": "UTC"})
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def mixed_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs") / "mixed.log"
    with open(path, "w", encoding="latin-1") as out:
        generate(out, "mixed", size=2 << 20)
    return path


@pytest.fixture(scope="module")
def dense_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs") / "dense.log"
    with open(path, "w", encoding="latin-1") as out:
        generate(out, "dense", size=1 << 20)
    return path


def test_the_input_is_cut(tiny_parts, mixed_log):
    parts = parallel.plan_spans([str(mixed_log)], 4, replay=0.4, min_part=300)
    assert parts is not None and len(parts) == 4
    sizes = [end - start for [(_, start, end)] in parts]
    assert sizes == sorted(sizes, reverse=True)  # later readers read the earlier parts too


LISTINGS = [["explain"], ["filter"], ["filter", "-f", "ndjson"], ["filter", "-Hn"],
            ["filter", "-f", "json"], ["filter", "-f", "csv"], ["filter", "-f", "tsv"]]


@pytest.mark.parametrize("log", LOGS, ids=lambda p: str(p.relative_to(FIXTURES)))
@pytest.mark.parametrize("jobs", [2, 3])
@pytest.mark.parametrize("command", LISTINGS, ids=" ".join)
def test_every_fixture(tiny_parts, log, jobs, command):
    assert run(*command, "--jobs", str(jobs), log) == run(*command, "--jobs", "1", log)


@pytest.mark.parametrize("options", [[], ["--blocker", "fs.*"], ["--exe", "*/python3*"],
                                     ["--since", "2025-01-01"], ["--utc"],
                                     ["--color", "always"]])
def test_generated_logs(tiny_parts, mixed_log, dense_log, options, monkeypatch):
    monkeypatch.setattr(parallel, "EXPLAIN_MIN_PART", 100 << 10)
    for log in (mixed_log, dense_log):
        one = run("explain", *options, "--jobs", "1", log)
        assert one[1].count("\n\n") > (10 if not options else 0)
        for jobs in ("2", "4"):
            assert run("explain", *options, "--jobs", jobs, log) == one
        for listing in (["filter"], ["filter", "-f", "ndjson"], ["filter", "-f", "json"],
                        ["filter", "-f", "csv"]):
            one = run(*listing, *options, "--jobs", "1", log)
            assert one[1]
            assert run(*listing, *options, "--jobs", "3", log) == one


def test_several_files(tiny_parts, mixed_log, monkeypatch):
    monkeypatch.setattr(parallel, "EXPLAIN_MIN_PART", 200 << 10)
    rotated = sorted((FIXTURES / "rotated").iterdir(), reverse=True)
    files = [*rotated, mixed_log, RAW]
    for command in LISTINGS:
        assert run(*command, "--jobs", "2", *files) == run(*command, "--jobs", "1", *files)


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


def test_a_fold_and_a_creator_across_the_cut(tiny_parts, tmp_path):
    """One denial repeated on both sides of the cut folds into one paragraph,
    and its domain's creator (allocated before the cut) is named after it."""
    lines = RAW.read_text("latin-1").splitlines()
    events = _events(lines)
    first = next(i for i, e in enumerate(events)
                 if any("status=allocated" in line for line in e))
    repeated = [line for line in events[first] if "status=allocated" not in line]
    out, serial = list(events[first]), 900000   # the allocation, then its repeats
    for _ in range(2000):
        serial += 1
        out.extend(re.sub(r":\d+\):", f":{serial}):", line) for line in repeated)
    log = tmp_path / "repeated.log"
    log.write_text("\n".join(out) + "\n", "latin-1")
    spans = parallel.plan_spans([str(log)], 2, replay=0.4, min_part=300)
    assert spans is not None and len(spans) == 2
    one = run("explain", "--jobs", "1", log)
    assert run("explain", "--jobs", "2", log) == one
    assert run("explain", "--jobs", "4", log) == one
    assert one[1].startswith("2026-11-26 23:06:40.657+00:00 (2001 times")  # one paragraph
    assert "\n\n" not in one[1] and "created by python3" in one[1]


def test_diagnostics_and_warnings(tiny_parts, mixed_log, tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "EXPLAIN_MIN_PART", 200 << 10)
    lines = mixed_log.read_text("latin-1").splitlines()
    where = len(lines) * 3 // 4
    lines.insert(where, "type=UNKNOWN[1423] msg=audit(1800000000.000:1): domain=xyz blockers=a")
    damaged = tmp_path / "damaged.log"
    damaged.write_text("\n".join(lines) + "\n", "latin-1")
    two = run("explain", "--jobs", "2", "--uid", "0", damaged)
    assert two == run("explain", "--jobs", "1", "--uid", "0", damaged)
    assert f"{damaged}:{where + 1}: column" in two[1]
    assert two[0] == 0


def test_small_inputs_are_read_in_one_pass(mixed_log):
    assert parallel.plan_spans([str(mixed_log)], 2, min_part=parallel.EXPLAIN_MIN_PART) is None


def test_nothing_selected(tiny_parts, mixed_log, monkeypatch):
    monkeypatch.setattr(parallel, "EXPLAIN_MIN_PART", 200 << 10)
    code, output = run("explain", "--jobs", "2", "--blocker", "net.connect_tcp", mixed_log)
    assert (code, output) == run("explain", "--jobs", "1", "--blocker", "net.connect_tcp",
                                 mixed_log)


def test_the_cut_follows_the_share_of_landlock_records(mixed_log, dense_log):
    """A worker reads the earlier parts' Landlock records again: on a log of
    Landlock records only that costs more, and the first part is larger."""
    assert parallel.explain_replay_cost([str(dense_log)]) == parallel.REPLAY_DENSE
    assert parallel.explain_replay_cost([str(mixed_log)]) == parallel.REPLAY_MIXED
    dense = parallel.plan_spans([str(dense_log)], 2, replay=None, min_part=300)
    mixed = parallel.plan_spans([str(mixed_log)], 2, replay=None, min_part=300)
    assert dense is not None and mixed is not None
    first = [plan[0][0][2] / plan[1][0][2] for plan in (dense, mixed)]
    assert first[0] > first[1] > 0.5
