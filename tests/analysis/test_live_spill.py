"""Bounded memory for live domains: past a bound, the least recently used
live domains move to disk (lldecode.analysis.domains.LIVE_IN_MEMORY) and
come back when a record names them again; every output stays the same.

The memory tests pipe generated logs of domains that are never deallocated
into ``python -m lldecode`` and measure the child's peak RSS.
"""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator, List

import pytest
from click.testing import CliRunner

from bench.loggen import generate
from lldecode import spill
from lldecode.analysis import domains, parallel
from lldecode.analysis.domain_report import domain_rows
from lldecode.analysis.domains import BOOT_ID_JUMP, DomainInfo, DomainRegistry
from lldecode.analysis.pipeline import Reading
from lldecode.audit.records import Diagnostics
from lldecode.cli.app import cli
from lldecode.spill import KeyCounts, OverflowStore
from tests.conftest import FIXTURES, ROOT, SAMPLES, launch_measured, measured_peak

RAW = SAMPLES / "kernel-6.18-raw-audit.log"
# Far above any input here: every live domain stays in memory.
UNBOUNDED = 10 ** 9
TINY = 10

REAL_INPUTS = sorted(FIXTURES.glob("*.log")) + [FIXTURES / "rotated"] + sorted(
    SAMPLES.iterdir())


def _without_deallocations(source: Path, directory: Path) -> Path:
    """``grep -v status=deallocated`` (a file, or each file of a directory),
    written under ``directory``: every domain stays live to the end."""
    target = directory / source.name
    if source.is_dir():
        target.mkdir(parents=True)
        for path in sorted(source.iterdir()):
            _without_deallocations(path, target)
        return target
    directory.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as f:
        target.write_bytes(b"".join(line for line in f if b"status=deallocated" not in line))
    return target


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> List[Path]:
    """The real fixtures, the generated dense log, and each without its
    deallocated records."""
    scratch = tmp_path_factory.mktemp("live-spill")
    dense = scratch / "dense.log"
    with open(dense, "w", encoding="latin-1") as out:
        generate(out, "dense", events=20000)
    paths: List[Path] = []
    for path in REAL_INPUTS + [dense]:
        paths += [path, _without_deallocations(path, scratch / "no-dealloc")]
    return paths


def _run(monkeypatch, bound: int, args: List[str]):
    monkeypatch.setattr(domains, "LIVE_IN_MEMORY", bound)
    # Selected denials per domain (domains with a selection) spill too.
    monkeypatch.setattr(spill, "GROUPS_IN_MEMORY", 3 if bound == TINY else 10000)
    if (args[0] in ("domains", "summarize") or "--count" in args) and "-j" not in args:
        args = args + ["-j", "1"]
    result = CliRunner().invoke(cli, args, env={"TZ": "UTC"})
    return result.exit_code, result.output


COMMANDS = [
    ["domains", "-f", "json"],
    ["summarize", "-f", "json"],
    # (the creator: a count that follows the domains)
    ["filter", "--count", "--comm", "*"],
    ["explain", "-f", "json"],
    ["domains", "-f", "json", "--blocker", "fs.*"],
    ["summarize", "--by", "domain,blocker", "-f", "json"],
    # (a denial's domain as it comes)
    ["filter", "--count", "--where", 'status = "allocated"', "--blocker", "fs.*"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_a_tiny_bound_gives_the_same_outputs(monkeypatch, inputs, command):
    spilled = []
    put = OverflowStore.put

    def counted_put(self, items):
        items = list(items)
        spilled.append(len(items))
        put(self, items)

    monkeypatch.setattr(OverflowStore, "put", counted_put)
    for path in inputs:
        before = sum(spilled)
        reference = _run(monkeypatch, UNBOUNDED, [*command, str(path)])
        assert sum(spilled) == before and reference[0] in (0, 1), reference
        assert _run(monkeypatch, TINY, [*command, str(path)]) == reference, path
    assert sum(spilled) > 1000  # the inputs without deallocations spilled


def test_a_plain_count_follows_no_domain(monkeypatch, inputs):
    """filter --count without a selection by domain state keeps no domain
    (Tally(accounting=False)): nothing to spill, the same count."""
    spilled = []
    monkeypatch.setattr(OverflowStore, "put", lambda self, items: spilled.append(1))
    for path in inputs:
        assert _run(monkeypatch, TINY, ["filter", "--count", str(path)]) == \
            _run(monkeypatch, UNBOUNDED, ["filter", "--count", str(path)])
    assert not spilled


@pytest.fixture(scope="module")
def mixed_logs(tmp_path_factory) -> List[Path]:
    scratch = tmp_path_factory.mktemp("live-spill-mixed")
    log = scratch / "mixed.log"
    with open(log, "w", encoding="latin-1") as out:
        generate(out, "mixed", size=3 << 20)
    return [log, _without_deallocations(log, scratch / "no-dealloc")]


@pytest.mark.parametrize("command", [
    ["filter", "--count"],
    ["summarize", "-f", "json"],
    ["domains", "-f", "json"],
    ["domains", "--blocker", "fs.truncate", "-f", "json"],
])
def test_parts_read_in_parallel_with_a_tiny_bound(monkeypatch, mixed_logs, command):
    """Workers spill, and the merged tally too (lldecode.analysis.parallel)."""
    for path in mixed_logs:
        reference = _run(monkeypatch, UNBOUNDED, [*command, str(path), "-j", "1"])
        monkeypatch.setattr(parallel, "MIN_PART", 64 << 10)
        assert parallel.plan([str(path)], 2) is not None
        assert _run(monkeypatch, TINY, [*command, str(path), "-j", "2"]) == reference
        monkeypatch.setattr(parallel, "MIN_PART", 48 << 20)


# -- the registry --------------------------------------------------------------


def _lines(path: Path) -> List[str]:
    return path.read_text("latin-1").splitlines()


def _shift(line: str, serial_delta: int = 0, time_delta: float = 0.0) -> str:
    def repl(m):
        return f"audit({float(m.group(1)) + time_delta:.3f}:{int(m.group(2)) + serial_delta})"
    return re.sub(r"audit\((\d+\.\d+):(\d+)\)", repl, line)


def _id_jump_back(domains_ahead: int = 30, zeros: str = "") -> List[str]:
    """Domain a is live while 30 domains far above it come and stay; then a
    denial of a, its id far below the largest: a live id, so the same boot.
    ``zeros``: each domain also written with these leading zeros (ids that
    name other domains of the same number: they sort in the order taken)."""
    a, ahead = 0x100000000, 0x100000000 + 2 * BOOT_ID_JUMP
    out = []
    serial, stamp = 1000, 1700000000.0

    def domain(number: int) -> None:
        nonlocal serial, stamp
        for spelling in [f"{number:x}"] + ([f"{zeros}{number:x}"] if zeros else []):
            out.append(f"type=UNKNOWN[1424] msg=audit({stamp:.3f}:{serial}): domain={spelling} "
                       f"status=allocated mode=enforcing pid={serial} uid=0 exe=\"/x\" "
                       "comm=\"x\"")
            out.append(f"type=UNKNOWN[1423] msg=audit({stamp:.3f}:{serial + 1}): "
                       f"domain={spelling} blockers=fs.read_file path=\"/etc/{serial}\" "
                       "dev=\"vda\" ino=1")
            serial += 2
            stamp += 0.5

    domain(a)
    for i in range(domains_ahead):
        domain(ahead + (-i if zeros and i % 2 else i))
    out.append(f"type=UNKNOWN[1423] msg=audit({stamp:.3f}:{serial}): domain={a:x} "
               f"blockers=fs.write_file path=\"/etc/again\" dev=\"vda\" ino=2")
    return out


SCENARIOS = {
    "sample": _lines(RAW),
    "no deallocation": [line for line in _lines(RAW) if "status=deallocated" not in line],
    # The same ids after their deallocation: a later boot.
    "ids reused": _lines(RAW) + [_shift(line, 0, 86400.0) for line in _lines(RAW)],
    # Serials restart and ids jump back: a later boot.
    "ids jump back": _lines(RAW) + [
        _shift(line.replace("domain=17fc", "domain=12ab"), -41000, 3600.0)
        for line in _lines(RAW)],
    "live id far below": _id_jump_back(),
    "leading zeros": _id_jump_back(12, "00"),
    # Interleaved: domains come back from disk again and again.
    "interleaved": [line for pair in zip(
        [line for line in _lines(RAW) if "status=deallocated" not in line],
        [_shift(line.replace("domain=17fc", "domain=17fd"), 5, 0.0005)
         for line in _lines(RAW) if "status=deallocated" not in line]) for line in pair],
}


def _read(path: Path, bound: int, hold: bool, remember_gone: int = domains.REMEMBER_GONE):
    """What a reading says: each denial's domain as the denial comes (and,
    ``hold``: at the end, through the denials kept), the domains report and
    a lookup of each domain."""
    registry = DomainRegistry(live_in_memory=bound, remember_gone=remember_gone)
    reading = Reading([str(path)], Diagnostics(quiet=True), registry=registry)
    held, seen = [], []
    for denial in reading.denials():
        assert len(registry.live) <= bound
        seen.append((denial.key, denial.domain_info.as_dict(), dict(denial.domain_info.blockers)))
        if hold:
            held.append(denial)
    at_end = [(d.key, d.domain_info.as_dict()) for d in held]
    rows = list(domain_rows(registry, reading.grouper.stats))
    looked_up = [registry.get((r["node"], r["boot"], r["domain"])).as_dict() for r in rows]
    if hold:
        for denial in held:
            if denial.domain_info.status != domains.DEALLOCATED:
                # The object a denial holds is the one the registry updates.
                assert registry.get(denial.key) is denial.domain_info
    result = seen, at_end, rows, looked_up, len(registry)
    registry.close()
    return result


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("hold", [False, True], ids=["dropped", "held"])
def test_registry_with_a_tiny_bound_reports_the_same(tmp_path, name, hold):
    path = tmp_path / "input.log"
    path.write_text("\n".join(SCENARIOS[name]) + "\n", "latin-1")
    reference = _read(path, UNBOUNDED, hold)
    for bound in (1, 2, 5):
        assert _read(path, bound, hold) == reference, bound
    # Deallocated ids forgotten soon: a reused id may be taken for the same boot.
    assert _read(path, 1, hold, remember_gone=2) == _read(path, UNBOUNDED, hold, remember_gone=2)


def test_a_live_id_far_below_the_largest_is_the_same_boot_from_disk(tmp_path):
    path = tmp_path / "input.log"
    path.write_text("\n".join(_id_jump_back()) + "\n", "latin-1")
    _seen, _at_end, rows, _looked_up, count = _read(path, 2, hold=False)
    assert count == 31 and {r["boot"] for r in rows} == {0}
    first = rows[0]
    assert first["domain"] == "100000000" and first["denials_logged"] == 2
    assert first["blockers"] == {"fs.read_file": 1, "fs.write_file": 1}


def test_denials_keep_their_domain_object_while_it_is_on_disk(tmp_path):
    """A denial held while its domain moves to disk sees what comes after."""
    path = tmp_path / "input.log"
    path.write_text("\n".join(_id_jump_back(5)) + "\n", "latin-1")
    registry = DomainRegistry(live_in_memory=1)
    reading = Reading([str(path)], Diagnostics(quiet=True), registry=registry)
    denials = iter(reading.denials())
    info = next(denials).domain_info
    next(denials)
    assert info.key not in registry.live  # on disk now
    gc.collect()
    assert registry.get(info.key) is info
    rest = list(denials)
    assert rest[-1].domain_info is info and info.denials_logged == 2
    assert registry.live[info.key] is info
    registry.close()


def _live_lines(*ids: int) -> List[str]:
    """A denial of each domain id, in turn (no allocated record)."""
    return [f"type=UNKNOWN[1423] msg=audit(1700000000.{i:03d}:{1000 + i}): domain={d:x} "
            f"blockers=fs.read_file path=\"/etc/x\" dev=\"vda\" ino=1"
            for i, d in enumerate(ids)]


def test_the_least_recently_used_domain_goes_to_disk_first(tmp_path):
    path = tmp_path / "input.log"
    path.write_text("\n".join(_live_lines(0xa, 0xb, 0xa, 0xc)) + "\n", "latin-1")
    registry = DomainRegistry(live_in_memory=2)
    list(Reading([str(path)], Diagnostics(quiet=True), registry=registry).denials())
    assert [key[2] for key in registry.live] == ["a", "c"]  # b was used least recently
    spilled = registry.get((None, 0, "b"))
    assert spilled is not None and spilled.denials_logged == 1
    assert registry.get((None, 0, "b")) is spilled  # one object while in use
    assert [info.id for info in registry.ordered()] == ["a", "b", "c"]
    registry.close()


def test_the_spill_file_is_removed_on_close(tmp_path):
    path = tmp_path / "input.log"
    path.write_text("\n".join(SCENARIOS["no deallocation"]) + "\n", "latin-1")
    registry = DomainRegistry(live_in_memory=1)
    list(Reading([str(path)], Diagnostics(quiet=True), registry=registry).denials())
    assert len(registry) == 21 and len(registry.live) == 1
    registry.close()
    assert len(registry) == 1


def test_the_bound_is_at_least_one_domain():
    with pytest.raises(ValueError):
        DomainRegistry(live_in_memory=0)


def test_domain_plain_values_round_trip():
    registry = DomainRegistry()
    reading = Reading([str(RAW)], Diagnostics(quiet=True), registry=registry)
    list(reading.denials())
    for info in registry.ordered():
        copy = DomainInfo.from_plain(info.to_plain())
        assert [getattr(copy, f) for f in DomainInfo._FIELDS] == \
            [getattr(info, f) for f in DomainInfo._FIELDS]
        assert copy.carriers is info.carriers  # shared sets
    assert len(DomainInfo._FIELDS) == len(info.to_plain())


# -- the stores ----------------------------------------------------------------


def test_overflow_store():
    store = OverflowStore(lambda e: e, tuple, lambda e: (e[0], e[1]))
    assert len(store) == 0 and store.get("a") is None and "a" not in store
    store.put([("e5", ("n", 5)), ("e3", ("n", 3))])
    store.put([("e9", ("n", 9)), ("e1", ("m", 1))])
    assert len(store) == 4 and "e3" in store and store.get("e3") == ("n", 3)
    assert list(store.ordered()) == [("m", 1), ("n", 3), ("n", 5), ("n", 9)]
    assert store.take("e5") == ("n", 5) and store.take("e5") is None
    store.discard("e9")
    store.discard("nope")
    assert len(store) == 2 and list(store.ordered()) == [("m", 1), ("n", 3)]
    store.put([("e5", ("n", 6))])
    assert store.get("e5") == ("n", 6) and len(store) == 3
    store.close()
    assert len(store) == 0


def test_key_counts_spill_and_read_like_a_counter():
    keys = [(None, i % 3, f"{i % 17:x}") for i in range(500)]
    counts, reference = KeyCounts(in_memory=4), Counter()
    for i, key in enumerate(keys):
        counts.add(key, 1 + i % 2)
        reference[key] += 1 + i % 2
    assert dict(counts.items()) == dict(reference) and len(counts) == len(reference)
    assert sum(counts.values()) == sum(reference.values())
    assert set(counts) == set(reference)
    for key in reference:
        assert counts.get(key) == counts[key] == reference[key] and key in counts
    assert counts.get((None, 9, "x")) is None and counts[(None, 9, "x")] == 0
    counts.close()


# -- memory: domains never deallocated ----------------------------------------


def never_deallocated(count: int, start: int = 0x1_0000_0000) -> Iterator[bytes]:
    """Raw auditd lines: ``count`` domains, each allocated then denied once,
    ids increasing, never deallocated (in chunks of lines)."""
    chunk: List[str] = []
    serial = 1000
    for i in range(count):
        stamp = f"{1_700_000_000 + i // 1000}.{i % 1000:03d}"
        domain_id = f"{start + i:x}"
        chunk.append(f"type=UNKNOWN[1424] msg=audit({stamp}:{serial}): domain={domain_id} "
                     "status=allocated mode=enforcing pid=1 uid=0 exe=\"/x\" comm=\"x\"\n"
                     f"type=UNKNOWN[1423] msg=audit({stamp}:{serial + 1}): domain={domain_id} "
                     "blockers=fs.read_file path=\"/etc/x\" dev=\"vda\" ino=1\n")
        serial += 2
        if len(chunk) == 5000:
            yield "".join(chunk).encode()
            chunk = []
    if chunk:
        yield "".join(chunk).encode()


def peak_rss_mb(args: List[str], count: int) -> float:
    """Pipe ``count`` never-deallocated domains into ``python -m lldecode
    ARGS -``: the child's peak RSS, in MB (``--count``: its count checked)."""
    env = dict(os.environ, TZ="UTC", NO_COLOR="1")
    with open(os.devnull, "wb") as devnull:
        proc = launch_measured([sys.executable, "-m", "lldecode", *args, "-"], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE
                               if "--count" in args else devnull, env=env)
        assert proc.stdin is not None
        for chunk in never_deallocated(count):
            proc.stdin.write(chunk)
        proc.stdin.close()
        out = proc.stdout.read() if proc.stdout is not None else b""
        status, peak_mib, _ = measured_peak(proc)
    assert status == 0, status
    if "--count" in args:
        assert out.strip() == str(count).encode()
    return peak_mib


def test_live_domains_past_the_bound_go_to_disk(tmp_path):
    path = tmp_path / "live.log"
    path.write_bytes(b"".join(never_deallocated(3000)))
    registry = DomainRegistry(keep_finished=False, live_in_memory=100)
    most = 0
    for _denial in Reading([str(path)], Diagnostics(quiet=True), registry=registry).denials():
        most = max(most, len(registry.live))
    assert most == 100 and len(registry) == 3000
    assert [int(info.id, 16) for info in registry.ordered()] == \
        [0x1_0000_0000 + i for i in range(3000)]
    registry.close()


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "wait4"), reason="needs os.wait4")
def test_filter_count_on_a_million_never_deallocated_domains():
    # 5 million take 4 to 6 minutes on 2 cores: measured by hand, 54 MB peak
    # RSS (a million domains all kept in memory took 1.2 GB).
    assert peak_rss_mb(["filter", "--count"], 1_000_000) < 100


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "wait4"), reason="needs os.wait4")
@pytest.mark.parametrize("command", [["summarize"], ["domains", "-f", "json"]])
def test_reports_on_many_never_deallocated_domains(command):
    # 300,000 domains: 350 MB were they all in memory.
    assert peak_rss_mb(command, 300_000) < 100


def test_the_generated_input_reads_as_live_domains():
    text = b"".join(never_deallocated(3)).decode()
    rows = json.loads(CliRunner().invoke(cli, ["domains", "-f", "json", "-"], input=text).output)
    assert [r["status"] for r in rows] == ["allocated"] * 3
    assert [r["denials_logged"] for r in rows] == [1, 1, 1]
