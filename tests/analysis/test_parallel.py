"""Reading in parallel gives exactly what one pass gives."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from bench.loggen import generate
from lldecode.analysis import parallel
from lldecode.cli.app import cli
from tests.conftest import SAMPLES

RAW = SAMPLES / "kernel-6.18-raw-audit.log"


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PART", 64 << 10)


@pytest.fixture(scope="module")
def mixed_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs") / "mixed.log"
    with open(path, "w", encoding="latin-1") as out:
        generate(out, "mixed", size=3 << 20)
    return path


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], env={"TZ": "UTC"})
    return result.exit_code, result.output


@pytest.mark.parametrize("command", [
    ["filter", "--count"],
    ["summarize", "-f", "json"],
    ["summarize", "--by", "blocker,exe", "-f", "json"],
    ["summarize", "--by", "domain,path", "--blocker", "fs.*", "-f", "json"],
    ["domains", "-f", "json"],
    ["domains", "--blocker", "fs.truncate", "-f", "json"],
])
def test_parts_give_the_same_report(small_parts, mixed_log, command):
    parts = parallel.plan([str(mixed_log)], 2)
    assert parts is not None and len(parts) == 2
    assert run(*command, "--jobs", "2", mixed_log) == run(*command, "--jobs", "1", mixed_log)


def test_several_files_and_a_reboot_between_them(small_parts, tmp_path, mixed_log):
    """Each file is a part; the second boot's serials restart low."""
    lines = RAW.read_text("latin-1").splitlines()
    shifted = [re.sub(r"audit\((\d+)\.(\d+):(\d+)\)",
                      lambda m: f"audit({int(m.group(1)) + 4_400_000}.{m.group(2)}:"
                                f"{int(m.group(3)) - 41000})",
                      line.replace("domain=17fc", "domain=12ab")) for line in lines]
    second = tmp_path / "boot2.log"
    second.write_text("\n".join(shifted) + "\n", "latin-1")
    for command in (["domains", "-f", "json"], ["summarize", "-f", "json"]):
        one = run(*command, "--jobs", "1", mixed_log, second)
        two = run(*command, "--jobs", "2", mixed_log, second)
        assert one == two
    boots = {row["boot"] for row in json.loads(run("domains", "-f", "json", "-j", "2",
                                                    mixed_log, second)[1])}
    assert boots == {0, 1}


def test_diagnostics_keep_their_line_numbers(small_parts, tmp_path, mixed_log):
    lines = mixed_log.read_text("latin-1").splitlines()
    where = len(lines) * 3 // 4
    lines.insert(where, "type=UNKNOWN[1423] msg=audit(1800000000.000:1): domain=xyz blockers=a")
    damaged = tmp_path / "damaged.log"
    damaged.write_text("\n".join(lines) + "\n", "latin-1")
    code, output = run("filter", "--count", "-j", "2", damaged)
    assert f"{damaged}:{where + 1}: column" in output


def test_small_inputs_are_read_in_one_pass(mixed_log):
    assert parallel.plan([str(mixed_log)], 2) is None
    assert parallel.plan([str(mixed_log)], 1) is None
    assert parallel.plan(["-"], 4) is None


def test_warnings_of_parts_read_elsewhere(small_parts, tmp_path, mixed_log):
    """A selector whose field only the second part carries does not warn; one
    that no part carries does, whether the parts are read here or elsewhere."""
    landlock_only = tmp_path / "landlock-only.log"
    with open(mixed_log, encoding="latin-1") as f:
        landlock_only.write_text("".join(line for line in f if "UNKNOWN[142" in line) * 40,
                                 "latin-1")
    both = tmp_path / "both"
    both.mkdir()
    (both / "audit.log.1").write_bytes(landlock_only.read_bytes())
    (both / "audit.log").write_bytes(mixed_log.read_bytes())
    assert parallel.plan([str(both)], 2) is not None
    for jobs in ("1", "2"):
        result = CliRunner().invoke(cli, ["filter", "--count", "--syscall", "openat",
                                          "--jobs", jobs, str(both)])
        assert "warning" not in result.stderr, jobs
        result = CliRunner().invoke(cli, ["filter", "--count", "--syscall", "openat",
                                          "--jobs", jobs, str(landlock_only)])
        assert "--syscall matched nothing" in result.stderr, jobs


def test_a_sparse_log_read_with_the_c_search_takes_larger_parts(monkeypatch, mixed_log,
                                                                tmp_path):
    """With the C search, a log of few Landlock records is read so fast
    that a worker pays only for much larger parts; a log of Landlock
    records is not (its records cost the same either way)."""
    dense = tmp_path / "dense.log"
    with open(dense, "w", encoding="latin-1") as out:
        generate(out, "dense", size=1 << 20)
    monkeypatch.setattr(parallel.scan, "native", object())
    assert parallel.tally_min_part([str(mixed_log)]) == (parallel.MIN_PART
                                                         * parallel.SPARSE_FACTOR)
    assert parallel.tally_min_part([str(dense)]) == parallel.MIN_PART
    assert parallel.tally_min_part([str(tmp_path / "missing.log")]) == parallel.MIN_PART
    monkeypatch.setattr(parallel.scan, "native", None)
    assert parallel.tally_min_part([str(mixed_log)]) == parallel.MIN_PART


def test_a_tally_with_context_takes_the_usual_parts(monkeypatch, mixed_log, small_parts):
    """domains and summarize --by exe read the process records too: their
    parts are MIN_PART whatever the log."""
    monkeypatch.setattr(parallel.scan, "native", object())
    monkeypatch.setattr(parallel, "SPARSE_FACTOR", 1000)
    assert parallel.plan([str(mixed_log)], 2) is None
    assert len(parallel.plan([str(mixed_log)], 2, context=True) or []) == 2


def test_explain_reads_ausearch_output_in_one_pass(tmp_path):
    """ausearch output's context reading passes over whole events: reading
    its Landlock records again for a later part costs more than the part
    (parallel.REPLAY_EVENTED), so explain does not cut it; other carriers
    are cut."""
    from tests.conftest import FIXTURES

    text = (FIXTURES / "ausearch-i.txt").read_bytes()
    evented = tmp_path / "ausearch-i.txt"
    evented.write_bytes(text * (4096 // max(1, text.count(b"\n")) + 1))
    plain = tmp_path / "dmesg.txt"
    plain.write_bytes((FIXTURES / "dmesg.txt").read_bytes() * 200)
    assert parallel.explain_replay_cost([str(evented)]) == parallel.REPLAY_EVENTED
    assert parallel.plan_spans([str(evented)], 2, replay=None, min_part=1024) is None
    assert parallel.explain_replay_cost([str(plain)]) < 1
    assert parallel.plan_spans([str(plain)], 2, replay=None, min_part=1024) is not None
