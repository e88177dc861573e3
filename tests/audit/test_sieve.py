"""The sieve (lldecode.audit.sieve) against the per-line tests it stands for.

A reading of Landlock records only skips, unparsed, the lines that fail
records._may_concern_landlock (and, once records without serial were read,
records._may_be_unnumbered).  The sieve finds, in whole buffers, a superset
of the lines those tests keep; the reading through it (records.SIEVE) must
give the same records, notices and diagnostics, with the same line numbers,
as the reading of every line (records.SIEVE = False, records.SCAN = False),
for every carrier and every kind of input: files (scanned), compressed
files, standard input read as a file, pipes, ranges of a file.
"""

from __future__ import annotations

import gzip
import io
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, List, Tuple, Union

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lldecode.audit import records, sieve, sources
from lldecode.audit.records import Diagnostics, Notice, read_records
from lldecode.cli.app import cli
from tests.audit.test_scan import GENERATED, HOSTILE, INPUTS, OTHER_CARRIERS

# Pieces of lines: every substring of the per-line tests, near misses, and
# the usual words of records.
PIECES = ["142", "1423", "1424", "LANDLOCK_ACCESS", "LL_DOM", "suppressed", "audit_lost",
          "backlog", "domain=", "\x1b[31m", "{", "[", "\\u00", "----", "audit[", "audit: ",
          "[...]", "14", "42", "LANDLOCK", "LL_", "suppresse", "audit_los", "backlo",
          "domain", "--- ", "audit(", "audit:", "[..]", "type=1300 ", "x", " ", "\r",
          "kernel: ", "é"]


def _reference_keeps(line: str, wide: bool) -> bool:
    return records._may_concern_landlock(line) or (wide and records._may_be_unnumbered(line))


def _literal_in(line: str, wide: bool) -> bool:
    literals = ["142", "LANDLOCK_", "LL_D", "suppressed", "audit_lost", "backlog",
                "domain=", "\x1b", "{"]
    if wide:
        literals += ["audit[", "audit: ", "[...]"]
    return line.startswith("----") or any(literal in line for literal in literals)


lines_st = st.lists(st.lists(st.sampled_from(PIECES), max_size=6).map("".join),
                    min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(lines=lines_st, wide=st.booleans(), lead=st.sampled_from(["", "noise\n"]))
def test_line_starts_keep_what_the_per_line_tests_keep(lines, wide, lead):
    text = lead + "\n".join(lines) + "\n"
    block = text.encode("latin-1")
    lo = len(lead)
    starts = sieve.line_starts(block, lo, len(block), wide)
    assert starts == sorted(set(starts))
    position = lo
    for line in lines:
        if _reference_keeps(line, wide):
            assert position in starts, line
        assert (position in starts) == _literal_in(line, wide), line
        position += len(line.encode("latin-1")) + 1
    assert all(start >= lo for start in starts)


def test_line_starts_gives_up_when_most_lines_are_kept():
    block = b"type=1423 domain=1\n" * 100
    assert sieve.line_starts(block, 0, len(block), False, most=50) is None
    assert len(sieve.line_starts(block, 0, len(block), False, most=1000)) == 100


def _expand(items: List[Union[str, int]]) -> List[Any]:
    out: List[Any] = []
    for item in items:
        if isinstance(item, int):
            out.extend([None] * item)
        else:
            out.append(item)
    return out


def _chunked(data: bytes, sizes: List[int]) -> Iterator[bytes]:
    at, i = 0, 0
    while at < len(data):
        size = sizes[i % len(sizes)]
        i += 1
        yield data[at:at + size]
        at += size


@settings(max_examples=300, deadline=None)
@given(lines=lines_st, ending=st.sampled_from(["\n", "\r\n"]), last=st.booleans(),
       sizes=st.lists(st.integers(1, 200), min_size=1, max_size=5),
       limit=st.sampled_from([8, 40, 1 << 20]), wide=st.booleans())
def test_sifted_lines_are_the_split_lines(lines, ending, last, sizes, limit, wide):
    """Each line the sifter gives is the line split_lines gives at that
    place; the lines it skips (counted) are lines the per-line tests skip;
    lines over the limit are always given."""
    data = (ending.join(lines) + (ending if last else "")).encode("latin-1")
    flags: List[bool] = []
    reference = list(sources.split_lines(_chunked(data, sizes), limit,
                                         lambda: flags.append(True)))
    unterminated: List[bool] = []
    sifted = _expand(list(sources.sift_lines(_chunked(data, sizes), limit, lambda: wide,
                                             lambda: unterminated.append(True))))
    assert len(sifted) == len(reference)
    assert flags == unterminated
    for got, want in zip(sifted, reference):
        if got is None:
            assert not sources.is_too_long(want) and not _reference_keeps(want, wide)
        else:
            assert got == want and sources.is_too_long(got) == sources.is_too_long(want)


def test_turning_wide_on_keeps_the_next_lines():
    """A reader that reads a record without serial turns the wide sieve on:
    the lines of records without serial after it are kept, in the same
    piece of input too."""
    data = (b"first\n" + b"audit: SYSCALL before\n" + b"nothing\n" * 600
            + b"LANDLOCK_ACCESS turns it on\n" + b"nothing\n" * 600
            + b"audit[12]: SYSCALL after\n" + b"x audit: PROCTITLE after\n")
    state = {"wide": False}
    got = []
    for item in sources.sift_lines([data], 1 << 20, lambda: state["wide"]):
        if isinstance(item, str):
            got.append(item)
            if "turns it on" in item:
                state["wide"] = True
    assert got == ["first", "LANDLOCK_ACCESS turns it on",
                   "audit[12]: SYSCALL after", "x audit: PROCTITLE after"]


# -- readings: every input kind, sieved and not ---------------------------------------

def _plain(items: Iterator[Any], diagnostics: Diagnostics) -> Tuple[Any, ...]:
    found = []
    for item in items:
        if isinstance(item, Notice):
            found.append(("notice", item.kind, item.count, item.source, item.lineno, item.line))
        else:
            found.append(("record", item.type, item.kind, item.source, item.lineno, item.line,
                          item.serial, item.time, item.domain, item.blockers))
    return (found, diagnostics.messages, diagnostics.malformed, diagnostics.errors,
            diagnostics.notes, diagnostics.lines, diagnostics.landlock)


def _read(make: Callable[[], List[sources.Source]], sifted: bool) -> Tuple[Any, ...]:
    records.SIEVE = sifted
    records.SCAN = sifted
    try:
        diagnostics = Diagnostics()
        return _plain(read_records(make(), diagnostics, landlock_only=True), diagnostics)
    finally:
        records.SIEVE = True
        records.SCAN = True


def _pipe_source(data: bytes) -> sources.Source:
    """A pipe with ``data`` written into it by a thread (a live input)."""
    read_fd, write_fd = os.pipe()

    def writer() -> None:
        with os.fdopen(write_fd, "wb") as out:
            for piece in _chunked(data, [7000, 65536, 100]):
                out.write(piece)
                out.flush()

    threading.Thread(target=writer, daemon=True).start()
    source = sources.PipeSource("<pipe>", read_fd, event_timeout=30.0)
    return source


def _kinds(path: Path, tmp_path: Path) -> List[Tuple[str, Callable[[], List[sources.Source]]]]:
    data = path.read_bytes()
    packed = tmp_path / (path.name + ".gz")
    packed.write_bytes(gzip.compress(data))
    middle = data.find(b"\n", len(data) // 2) + 1 or len(data)

    def pipe() -> List[sources.Source]:
        source = _pipe_source(data)
        return [source]

    return [
        ("file", lambda: [sources.file_source(str(path))]),
        ("gzip", lambda: [sources.file_source(str(packed))]),
        ("stdin", lambda: [sources.Source("<stdin>", lambda: io.BytesIO(data))]),
        ("ranges", lambda: [sources.RangeSource(str(path), 0, middle),
                            sources.RangeSource(str(path), middle, len(data))]),
        ("pipe", pipe),
    ]


def _agree(path: Path, tmp_path: Path) -> None:
    for kind, make in _kinds(path, tmp_path):
        sifted = _read(make, True)
        if kind == "pipe":  # (the pipe is read once: a second one for the reference)
            assert sifted == _read(make, False), kind
        else:
            assert sifted == _read(make, False), kind


FILES = [Path(p) for p in INPUTS if Path(p).is_file()]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_fixtures_read_alike(path, tmp_path):
    _agree(path, tmp_path)


def _dmesg(line: bytes, uptime: int) -> bytes:
    """An auditd line as dmesg writes it (numeric types)."""
    numbers = {b"SYSCALL": b"1300", b"PATH": b"1302", b"CWD": b"1307", b"PROCTITLE": b"1327",
               b"EOE": b"1320", b"UNKNOWN[1423]": b"1423", b"UNKNOWN[1424]": b"1424"}
    if not line.startswith(b"type="):
        return line
    kind, _, rest = line[5:].partition(b" msg=")
    return b"[%6d.000001] audit: type=%s %s" % (uptime, numbers.get(kind, b"1105"), rest)


@st.composite
def carrier_logs(draw):
    base = list(draw(st.sampled_from(sorted(GENERATED.items())))[1])
    start = draw(st.integers(0, len(base) // 2))
    lines = base[start:start + draw(st.integers(1, len(base)))]
    if draw(st.booleans()):
        lines = [_dmesg(line, i) for i, line in enumerate(lines)]
    for _ in range(draw(st.integers(0, 8))):
        piece = draw(st.sampled_from(HOSTILE + OTHER_CARRIERS))
        lines.insert(draw(st.integers(0, len(lines))), piece)
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    return ending.join(lines) + (ending if draw(st.booleans()) else b"")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=carrier_logs(), limit=st.sampled_from([600, 1 << 20]))
def test_generated_and_hostile_logs_read_alike(data, limit, tmp_path):
    path = tmp_path / "log.txt"
    path.write_bytes(data)
    for kind, make in _kinds(path, tmp_path):
        if kind == "pipe":
            continue  # (a thread a draw: the fixtures cover pipes)

        def limited(make=make):
            made = make()
            for source in made:
                source.max_line_length = limit
            return made

        assert _read(limited, True) == _read(limited, False), kind


def test_the_sieve_skips_lines(tmp_path):
    """Not a test that cannot fail: on a dmesg log of few Landlock records,
    most lines are skipped unread."""
    lines = [_dmesg(line, i) for i, line in enumerate(GENERATED["mixed", 50.0])]
    data = b"\n".join(lines) + b"\n"
    items = list(sources.sift_lines([data], 1 << 20, lambda: False))
    kept = [item for item in items if isinstance(item, str)]
    assert sum(item for item in items if isinstance(item, int)) + len(kept) == len(lines)
    assert len(kept) < len(lines) / 2
    assert all(_literal_in(line, False) for line in kept)


COMMANDS = [["summarize"], ["filter", "--count"], ["summarize", "--by", "blocker,path"],
            ["filter", "--count", "--blocker", "fs.read_file"]]


def _cli(args: List[str], data: bytes, sifted: bool) -> Tuple[int, bytes, bytes]:
    records.SIEVE = sifted
    records.SCAN = sifted
    try:
        result = CliRunner().invoke(cli, args, input=data, env={"NO_COLOR": "1", "TZ": "UTC"})
        return result.exit_code, result.stdout_bytes, result.stderr_bytes
    finally:
        records.SIEVE = True
        records.SCAN = True


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_cli_outputs_identical(path, tmp_path):
    """Each Landlock-only command prints the same bytes, sieved or not,
    from a compressed file and from standard input."""
    packed = tmp_path / (path.name + ".gz")
    packed.write_bytes(gzip.compress(path.read_bytes()))
    for command in COMMANDS:
        for args, data in (([*command, "-j", "1", str(packed)], b""),
                           ([*command, "-j", "1", "-"], path.read_bytes())):
            assert _cli(args, data, True) == _cli(args, data, False), args


def test_a_source_that_reads_its_own_way_is_not_sieved(tmp_path):
    """A source whose class reads its lines its own way (lldecode.audit.follow's
    FileSource: from a checkpoint's offset, following the file) gives every
    line of its own reading, not the file's sifted lines."""
    path = tmp_path / "log.txt"
    path.write_bytes(b"first\n" + b"x\n" * 5000 + b"type=1423 domain=1\n")

    class Own(sources.Source):
        def lines(self) -> Iterator[str]:
            yield "own line"

    own = Own("own", lambda: open(path, "rb"))
    assert list(own.sifted(lambda: False)) == ["own line"]
    plain = sources.Source("plain", lambda: open(path, "rb"))
    kept = [item for item in plain.sifted(lambda: False) if isinstance(item, str)]
    assert kept[0] == "first" and kept[-1] == "type=1423 domain=1" and len(kept) < 10
