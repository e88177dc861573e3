"""The bulk reading of dense blocks (records._bulk_reader) against the
line-by-line reading.

A dense block (mostly Landlock records) is read with one search over its
text (syntax.BLOCK_LINES_RE), the records made from its findings; every
line it does not take exactly as the reference would is left to the
per-line reading.  These tests make every block dense (scan.DENSE huge), cut
logs in small blocks, and splice in lines aimed at the edges of the bulk
pattern: odd types, numbers just in and just out of range, node=, enriched
records, carriage returns, tabs and spaces, Landlock bodies of other shapes,
key twice, elisions, control characters, ESC, other carriers.  The records,
notices, diagnostics, events and every command's bytes must be those of the
line-by-line reading (records.SCAN = False).

Also here: the cheaper candidate search (scan.SEARCH_RE, SEARCH_NODE_RE)
finds what OTHER_LINE_RE found, on lines aimed at what it lets through; the
scan's patterns match the same without possessive quantifiers (Python
before 3.11); a last line without terminator keeps a CR at its end in
every reading.
"""

from __future__ import annotations

import re
from typing import Any, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lldecode.audit import records, scan, syntax
from tests.audit.test_scan import (
    COMMANDS,
    GENERATED,
    HOSTILE,
    INPUTS,
    OTHER_CARRIERS,
    _cli,
    _events,
    _items,
)

H = b"msg=audit(1800000000.%03d:%d): "


def _header(type_token: bytes, millis: int = 1, serial: int = 1001) -> bytes:
    return b"type=" + type_token + b" " + H % (millis, serial)


# Lines at the edges of the bulk pattern (each once as is, and in the
# hypothesis cases with a CR, spaces or tabs at its end).
EDGES = [
    # numbers: the longest the pattern takes, one digit more (the reference's
    # ranges: 11-digit seconds below 2**34 are valid, above not)
    b"type=UNKNOWN[1423] msg=audit(9999999999.123456789:99999999999999999999): "
    b"domain=1a blockers=fs.read_file",
    b"type=UNKNOWN[1423] msg=audit(17179869183.1:5): domain=1a blockers=fs.read_file",
    b"type=UNKNOWN[1423] msg=audit(17179869184.1:5): domain=1a blockers=fs.read_file",
    b"type=UNKNOWN[1423] msg=audit(1800000000.1234567890:5): domain=1a blockers=fs.read_file",
    b"type=UNKNOWN[1424] msg=audit(1800000000.1:123456789012345678901): domain=1a "
    b"status=deallocated denials=1",
    b"type=SYSCALL msg=audit(17179869184.1:5): arch=c000003e syscall=2",
    b"type=SYSCALL msg=audit(1800000000.0000000001:5): arch=c000003e",
    b"type=SYSCALL msg=audit(1800000000.000000001:012345678901234567890): arch=1",
    b"type=PATH msg=audit(0.0:0): item=0",
    # types: every Landlock spelling, near misses, lowercase, numbers
    *[_header(t.encode()) + b"domain=2b blockers=fs.write_file path=\"/x\" dev=\"vda\" ino=3"
      for t in syntax.LANDLOCK_TYPES],
    *[_header(t.encode()) + b"domain=2b status=allocated mode=enforcing pid=1 uid=0 "
      b"exe=\"/bin/x\" comm=\"x\"" for t in syntax.LANDLOCK_TYPES],
    _header(b"LANDLOCK_FOO") + b"domain=1 blockers=x", _header(b"landlock_access") + b"domain=1",
    _header(b"14230") + b"domain=1 blockers=x", _header(b"UNKNOWN[14230]") + b"domain=1",
    _header(b"1300") + b"arch=c000003e", _header(b"AUDIT1327") + b"proctitle=6C73",
    _header(b"UNKNOWN[1300]") + b"x=1", _header(b"X") + b"", _header(b"SYSCALL")[:-1],
    _header(b"SYSCALL")[:-2] + b"x", b"type=SYSCALL msg=audit(1800000000.1:5):a=1",
    b"type=SYSCALL  msg=audit(1800000000.1:5): a=1", b"type= msg=audit(1800000000.1:5): a=1",
    b"type=SYSCALL msg=audit(1800000000:5): a=1", b"type=SYSCALL msg=audit(.1:5): a=1",
    # node=, enriched (0x1D), both, odd nodes
    b"node=host1 " + _header(b"UNKNOWN[1423]") + b"domain=3c blockers=fs.read_dir path=\"/d\"",
    b"node= " + _header(b"UNKNOWN[1423]") + b"domain=3c blockers=fs.read_dir",
    b"node=a\tb " + _header(b"UNKNOWN[1423]") + b"domain=3c blockers=fs.read_dir",
    b"node=\x1d " + _header(b"UNKNOWN[1423]") + b"domain=3c blockers=fs.read_dir",
    b"node=h " + _header(b"SYSCALL") + b"arch=c000003e\x1dARCH=x86_64 SYSCALL=open",
    _header(b"UNKNOWN[1423]") + b"domain=4d blockers=fs.execute path=\"/e\" dev=\"vda\" "
    b"ino=9\x1dAUID=\"root\"",
    _header(b"UNKNOWN[1423]") + b"domain=4d blockers=fs.execute \x1d",
    _header(b"UNKNOWN[1423]") + b"domain=4d blockers=fs.execute\x1d\x1dX=1 \t",
    _header(b"PROCTITLE") + b"proctitle=6C73\x1d",
    # Landlock bodies of other shapes: the per-line checks and their messages
    _header(b"UNKNOWN[1423]") + b"domain=5e blockers=fs.read_file domain=6f",
    _header(b"UNKNOWN[1423]") + b"domain=5e blockers=,fs.read_file",
    _header(b"UNKNOWN[1423]") + b"domain=5e blockers=fs.read_file,",
    _header(b"UNKNOWN[1423]") + b"domain=5e blockers=a,,b",
    _header(b"UNKNOWN[1423]") + b"domain=5e blockers=a [...]",
    _header(b"UNKNOWN[1423]") + b"domain=5e blockers=a path=\"/a\x01b\"",
    _header(b"UNKNOWN[1423]") + b"domain=5e blockers=a path=\"/a\rb\" dev=\"x\" ino=1",
    _header(b"UNKNOWN[1423]") + b"domain=5e blockers=a opid=1 ocomm=\"x\" extra=1",
    _header(b"UNKNOWN[1423]") + b"domain=5e\tblockers=net.bind_tcp\tsrc=80 \t ",
    _header(b"UNKNOWN[1423]") + b"domain=5e blockers=fs.read_file path=",
    _header(b"UNKNOWN[1423]") + b"domain=zz blockers=x",
    _header(b"UNKNOWN[1423]") + b"domain=12345678901234567 blockers=x",
    _header(b"UNKNOWN[1423]") + b"blockers=x domain=1",
    _header(b"UNKNOWN[1423]"), _header(b"UNKNOWN[1424]") + b"domain=5e",
    _header(b"UNKNOWN[1424]") + b"domain=5e status=deallocated denials=1 denials=2",
    _header(b"LL_DOM_DROP") + b"domain=5e", _header(b"LL_DOM_DROP") + b"domain=5e x=1",
    # latin-1 and control bytes, in other records and in Landlock ones
    _header(b"PATH") + b"name=\"/\xe9\xff\" \x00\x7f\x0b\x0c\x1c\x1e\x85",
    _header(b"UNKNOWN[1423]") + b"domain=7 blockers=fs.read_file path=\"/\xe9\" dev=\"v\" ino=1",
    _header(b"UNKNOWN[1423]") + b"domain=7 blockers=fs.read_file path=\"/a\x0bb\"",
    b"\x1b[1m" + _header(b"UNKNOWN[1423]") + b"domain=8 blockers=fs.read_file",
    _header(b"SYSCALL") + b"comm=\"\x1b[31m\" a=1",
    # prefixes, other dialects, journald, laurel, notices
    b" " + _header(b"UNKNOWN[1423]") + b"domain=9 blockers=fs.read_file",
    b"x" + _header(b"UNKNOWN[1423]") + b"domain=9 blockers=fs.read_file",
    b"audit: type=1423 audit(1800000000.100:30): domain=9 blockers=fs.read_file",
    b"type=LL_DENY [...]: domain=9 blockers=fs.read_file",
    b"{\"type\": \"x\", \"[\": 1}", b"----", b"\r", b"\t", b" ",
]


def _agree(data: bytes) -> None:
    """Both readings of data (written to a file) agree."""
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        path = f"{directory}/audit.log"
        with open(path, "wb") as f:
            f.write(data)
        for landlock_only in (True, False):
            assert _items([path], landlock_only, True) == _items([path], landlock_only, False)
        for context in (True, False):
            assert _events([path], context, True) == _events([path], context, False)


@pytest.fixture
def always_dense(monkeypatch):
    """Every block dense, blocks of 2 KiB (block boundaries fall everywhere)."""
    monkeypatch.setattr(scan, "DENSE", 1 << 30)
    monkeypatch.setattr(scan, "BLOCK", 2048)
    monkeypatch.setattr(scan, "PROBE", 512)


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_edges_agree(always_dense, ending):
    base = GENERATED["dense", 50.0]
    lines: List[bytes] = []
    for i, edge in enumerate(EDGES):
        lines.extend(base[i % len(base):i % len(base) + 3])
        lines.append(edge)
    _agree(ending.join(lines) + ending)
    _agree(ending.join(lines))  # no final line terminator


def test_edges_each_alone(always_dense):
    """Each edge line, between two Landlock records (as the first, a middle
    and the last line of a block)."""
    record = GENERATED["dense", 50.0][0]
    for edge in EDGES:
        for data in (edge + b"\n" + record + b"\n", record + b"\n" + edge + b"\n",
                     record + b"\n" + edge):
            _agree(data)


@st.composite
def dense_logs(draw):
    base = list(draw(st.sampled_from(sorted(GENERATED.items())))[1])
    start = draw(st.integers(0, len(base) // 2))
    lines = base[start:start + draw(st.integers(1, len(base)))]
    for _ in range(draw(st.integers(0, 8))):
        piece = draw(st.sampled_from(EDGES + HOSTILE + OTHER_CARRIERS))
        piece += draw(st.sampled_from([b"", b"", b" ", b"\t", b"\r", b" \r", b"\x1d", b"\r\r"]))
        lines.insert(draw(st.integers(0, len(lines))), piece)
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    data = ending.join(lines) + (ending if draw(st.booleans()) else b"")
    return data, draw(st.sampled_from([256, 1024, 4096, 1 << 16]))


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(dense_logs())
def test_dense_logs_agree(monkeypatch, log):
    data, block = log
    monkeypatch.setattr(scan, "DENSE", 1 << 30)
    monkeypatch.setattr(scan, "BLOCK", block)
    monkeypatch.setattr(scan, "PROBE", block // 4)
    _agree(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(EDGES + HOSTILE + OTHER_CARRIERS + [b"", b"\r", b"x"]),
                min_size=1, max_size=12),
       st.lists(st.sampled_from([b"", b"\r", b" ", b"\x1d", b"\t"]), min_size=12,
                max_size=12))
def test_block_lines_pattern(lines, endings):
    """One finding per line, and a record's header read as RAW_RE reads it
    whenever the pattern reads it (or the line left whole to the per-line
    reading)."""
    text = "\n".join((line + end).decode("latin-1") for line, end in zip(lines, endings))
    found = syntax.BLOCK_LINES_RE.findall(text)
    assert len(found) == text.count("\n") + 1
    for part, (line, node, type_token, sec, ms, serial, rest, other) in zip(
            text.split("\n"), found):
        if not line:
            assert other == part
            continue
        assert line == part and other == ""
        m = syntax.RAW_RE.match(part)
        assert m is not None
        assert (m.group("node") or "", m.group("type"), m.group("sec"), m.group("ms"),
                m.group("serial"), part[m.end():]) == (node, type_token, sec, ms, serial, rest)
        syntax.Header.parse(syntax.RAW, m.groups(""), part, 0, m.end())  # no HeaderError


def test_bulk_reading_taken(monkeypatch, tmp_path):
    """On a dense log the records come from the bulk reading (this is not a
    test that cannot fail), and the same without it."""
    path = tmp_path / "audit.log"
    path.write_bytes(b"\n".join(GENERATED["dense", 50.0]) + b"\n")
    made: List[Any] = []
    real = records._bulk_reader

    def counting(name, landlock_only):
        read = real(name, landlock_only)

        def counted(text, first):
            for lineno, item in read(text, first):
                made.append(item)
                yield lineno, item
        return counted

    monkeypatch.setattr(records, "_bulk_reader", counting)
    with_bulk = _items([str(path)], True, True)
    assert made and all(isinstance(item, records.Record) for item in made)
    assert len(made) == len(with_bulk[0])
    monkeypatch.setattr(records, "BULK", False)
    assert _items([str(path)], True, True) == with_bulk


@pytest.mark.parametrize("path", [p for p in INPUTS if re.search(r"auditd|ausearch-raw", p)],
                         ids=lambda p: p.rsplit("/", 1)[-1])
def test_cli_outputs_identical_all_dense(always_dense, path):
    for command in COMMANDS:
        args = [*command, "-j", "1", path]
        assert _cli(args, True) == _cli(args, False), command



# -- the cheaper candidate search (scan.SEARCH_RE) ----------------------------------

def _reference_positions(block: bytes, size: int) -> List[int]:
    """The candidate line starts by OTHER_LINE_RE (the search before SEARCH_RE)."""
    starts = [m.end() for m in scan.OTHER_LINE_RE.finditer(block, 0, size)]
    if size and scan.PLAIN_RE.match(block, 0, size) is None:
        starts.insert(0, 0)
    if starts and starts[-1] == size:
        starts.pop()
    if block.find(b"\x1b", 0, size) >= 0:
        starts = sorted(set(starts).union(block.rfind(b"\n", 0, m.start()) + 1
                                          for m in re.finditer(b"\x1b", block[:size])))
    return starts


# Lines the cheaper search lets through (or nearly): Landlock types spelled
# in capitals, node= records, types with [N] or digits, lowercase, numbers
# just out of range, CR, ESC, tabs.
SEARCH_EDGES = [
    _header(t) + b"domain=1 blockers=x" for t in (
        b"LANDLOCK_ACCESS", b"LANDLOCK_DOMAIN", b"LANDLOCK_X", b"LANDLOCK", b"LL_DENY",
        b"LL_", b"LL", b"AUDIT1423", b"AUDIT1424", b"AUDIT142", b"AUDIT14", b"AUDIT1300",
        b"UNKNOWN[1423]", b"UNKNOWN[1300]", b"UNKNOWN[]", b"UNKNOWN", b"1423", b"1300",
        b"142", b"14", b"SYSCALL", b"S", b"syscall", b"Syscall", b"SYS-CALL", b"_X",
        b"SYSCALL\t", b"SYSCALL\r", b"\x1bSYSCALL")
] + [
    b"node=h " + _header(b"SYSCALL") + b"a=1", b"node=h " + _header(b"LANDLOCK_ACCESS"),
    b"node=h " + _header(b"UNKNOWN[1423]"), b"node= " + _header(b"SYSCALL"),
    b"node=h  " + _header(b"SYSCALL"), b"node=h\t" + _header(b"SYSCALL"),
    b"node=a\x1bb " + _header(b"SYSCALL"), b"node=h type=SYSCALL",
    b"type=SYSCALL msg=audit(12345678901.1:5): a=1", b"type=SYSCALL msg=audit(1.1234567890:5):",
    b"type=SYSCALL msg=audit(1.1:123456789012345678901):", b"type=SYSCALL msg=audit(1.1:5)",
    b"type=SYSCALL msg=audit(1.1:5):\r", b"type=SYSCALL msg=audit(1.1:5): \x1b[0m",
    b"\x1b", b"", b"\r", b"type=", b"node=", b"ntype=SYSCALL msg=audit(1.1:5):",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(SEARCH_EDGES + list(GENERATED["mixed", 50.0][:12])),
                min_size=1, max_size=20), st.booleans(), st.booleans())
def test_search_finds_what_other_line_re_finds(lines, node_first, final_newline):
    """_python_positions with the cheaper search gives the candidates OTHER_LINE_RE gave."""
    if node_first:
        lines = [b"node=h " + _header(b"SYSCALL") + b"a=1"] + lines
    block = b"\n".join(lines) + (b"\n" if final_newline else b"")
    reader = scan.Scan("unused", 0, None, 1, 1 << 20)
    for size in {len(block), block.rfind(b"\n") + 1}:
        assert reader._python_positions(block, size) == _reference_positions(block, size)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(SEARCH_EDGES), max_size=8), st.integers(0, 1 << 30),
       st.booleans(), st.sampled_from([512, 4096]))
def test_node_and_search_edges_logs_agree(monkeypatch, extra, seed, node, block):
    """Logs of node= records (or not) with the search's edge lines, never
    dense: the scanning reading and the reference agree."""
    import random

    monkeypatch.setattr(scan, "DENSE", 1)
    monkeypatch.setattr(scan, "BLOCK", block)
    monkeypatch.setattr(scan, "PROBE", block // 4)
    lines = list(GENERATED["mixed", 50.0])
    if node:
        lines = [b"node=n1 " + line for line in lines]
    rnd = random.Random(seed)
    for piece in extra:
        lines.insert(rnd.randrange(len(lines) + 1), piece)
    _agree(b"\n".join(lines) + b"\n")


def test_patterns_without_possessive_quantifiers_match_the_same():
    """Before Python 3.11 the scan's patterns are read without possessive
    quantifiers (scan.portable): none is left, and every pattern finds the
    same lines, with the same groups, either way."""
    corpus = b"\n".join(EDGES + SEARCH_EDGES + HOSTILE + OTHER_CARRIERS
                        + [b"node=n " + line for line in GENERATED["mixed", 3000.0]]
                        + GENERATED["mixed", 50.0] + GENERATED["dense", 50.0]) + b"\n"
    patterns = [scan.PLAIN_RE, scan.OTHER_LINE_RE, scan.SEARCH_RE, scan.SEARCH_NODE_RE,
                scan._HEADER_RE, scan._fixed_rows(5), scan._SERIALS_RE, scan._NODE_SERIALS_RE]
    for pattern in patterns:
        assert scan.portable(pattern.pattern, possessive=True) == pattern.pattern
        plain = scan.portable(pattern.pattern, possessive=False)
        assert re.search(rb"(?<!\\)[*+}]\+", plain) is None, plain
        older = re.compile(plain)
        for at in [0] + [m.end() for m in re.finditer(b"\n", corpus)]:  # line starts
            m, n = pattern.match(corpus, at), older.match(corpus, at)
            assert (m and (m.span(), m.groups())) == (n and (n.span(), n.groups()))
        assert ([(m.span(), m.groups()) for m in pattern.finditer(corpus)]
                == [(m.span(), m.groups()) for m in older.finditer(corpus)])
    assert re.search(rb"(?<!\\)[*+}]\+", scan.portable(scan.PLAIN_RECORD, False)) is None


@pytest.mark.parametrize("dense", [1, 1 << 30])
@pytest.mark.parametrize("bulk", [True, False])
@pytest.mark.parametrize("last", [
    _header(b"UNKNOWN[1423]", 123, 1002) + b"domain=1a blockers=fs.read_file\r",
    _header(b"UNKNOWN[1423]", 123, 1002) + b"domain=1a blockers=fs.read_file\r\r",
    _header(b"SYSCALL", 20, 1001) + b"arch=c000003e\r", b"xx 1423\r", b"\r"])
def test_unterminated_last_line_keeps_its_cr(monkeypatch, tmp_path, dense, bulk, last):
    """A last line without terminator keeps a CR at its end (Source.lines
    strips a CR only before a newline): every reading, every command."""
    monkeypatch.setattr(scan, "DENSE", dense)
    monkeypatch.setattr(records, "BULK", bulk)
    path = tmp_path / "audit.log"
    path.write_bytes(b"\n".join(GENERATED["dense", 50.0][:5]) + b"\n" + last)
    _agree(path.read_bytes())
    for command in (["filter", "--format", "raw"], ["filter", "--format", "ndjson"], ["explain"]):
        args = [*command, "-j", "1", str(path)]
        assert _cli(args, True) == _cli(args, False), command
