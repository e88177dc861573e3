"""Fuzzing every reading command: hostile lines never stop a run or hide a denial.

Each example plants valid Landlock denials (each its own event, with a
path that names it) among lines mutated from the real captures of every
carrier, and asserts, for every reading command:

- no internal error, no traceback, exit status 0 (something was selected);
- every planted denial is counted (``filter --count``, ``summarize``) and
  shown (``filter``, ``explain``, their JSON);
- text output carries no C0 or C1 control, DEL, or bidi/invisible format
  character raw (only the newlines and the colour codes it writes itself:
  colour is off here);
- JSON output is valid UTF-8 and parses, and carries no raw U+2028/U+2029.

The examples are seeded (the same every run in CI); set
``LLDECODE_FUZZ_EXAMPLES=N`` for a longer run, and
``LLDECODE_HYPOTHESIS=explore`` for new random ones.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import List

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lldecode.cli.app import cli
from tests.conftest import FIXTURES

EXAMPLES = int(os.environ.get("LLDECODE_FUZZ_EXAMPLES", "300"))

# Real lines of every carrier, to mutate.
_CARRIER_FILES = ["auditd-raw.log", "auditd-enriched.log", "auditd-node.log", "ausearch-i.txt",
                  "dmesg.txt", "dmesg-T.txt", "journal-json.json", "journal-short.txt",
                  "journal-short-iso.txt", "journal-short-precise.txt"]


def _seed_lines() -> List[bytes]:
    lines: List[bytes] = []
    for name in _CARRIER_FILES:
        data = (FIXTURES / name).read_bytes().splitlines()
        lines.extend(data[:: max(1, len(data) // 40)])
    return lines


SEED = _seed_lines()

# Hostile pieces a mutation may splice in.
HOSTILE = [
    b"\x1b]0;pwned\x07", b"\x1bc", b"\x9b31m", b"\xe2\x80\xae", b"\xe2\x80\xa8", b"\x00",
    b"\xff\xfe", b"\r", b"[" * 1000, b"9" * 400, b"domain=zz", b"domain=1 ", b"path=",
    b"blockers=fs.read_file,", b"type=" * 50, b"msg=audit(" + b"9" * 320 + b".1:1): ",
    b"audit(99999999999999999.1:1): ", b"\\u65e5", b'"_AUDIT_ID":1e999', b"ino=" + b"9" * 5000,
    b"2026-13-26T23:51:31+00:00 ", b"syscall=\x1bc pid=\x1b[2J ", b"path=" + b"41" * 3000,
]


@st.composite
def mutated_line(draw) -> bytes:
    line = bytearray(draw(st.sampled_from(SEED)))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["flip", "cut", "splice", "dup"]))
        if not line:
            break
        at = draw(st.integers(0, len(line) - 1))
        if kind == "flip":
            line[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del line[at:]
        elif kind == "splice":
            line[at:at] = draw(st.sampled_from(HOSTILE))
        else:
            line[at:at] = line[: draw(st.integers(0, min(len(line), 200)))]
    return bytes(line).replace(b"\n", b" ")


def planted(i: int) -> bytes:
    """A valid denial of its own event: raw auditd, a path that names it."""
    serial = 7_000_000 + i
    return (f'type=UNKNOWN[1423] msg=audit(1795737100.{i % 1000:03d}:{serial}): '
            f'domain=1f{i:07x} blockers=fs.read_file path="/planted/{i}" '
            f'dev="vda" ino={1000 + i}').encode()


@st.composite
def hostile_log(draw):
    noise = draw(st.lists(mutated_line(), min_size=1, max_size=12))
    count = draw(st.integers(1, 3))
    lines = list(noise)
    for i in range(count):
        lines.insert(draw(st.integers(0, len(lines))), planted(i))
    return b"\n".join(lines) + b"\n", count


_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e"
                      "\u2060-\u2069\ufeff]")


def _run(path: Path, *args: str):
    result = CliRunner().invoke(cli, [*args, str(path)], env={"NO_COLOR": "1"},
                                catch_exceptions=True)
    out = result.stdout_bytes
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args, result.exception)
    assert b"internal error" not in result.stderr_bytes, (args, result.stderr_bytes[-300:])
    assert result.exit_code == 0, (args, result.exit_code, result.stderr_bytes[-300:])
    return out


def _text(out: bytes, args) -> str:
    text = out.decode("utf-8")
    bad = _CONTROL.search(text)
    assert bad is None, (args, repr(text[max(0, bad.start() - 40): bad.end() + 40]))
    return text


def _json(out: bytes, args):
    text = out.decode("utf-8")  # valid UTF-8, or UnicodeDecodeError
    assert "\u2028" not in text and "\u2029" not in text, args
    return text


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(hostile_log())
def test_hostile_lines_never_stop_a_run_or_hide_a_denial(tmp_path_factory, log):
    data, count = log
    path = tmp_path_factory.mktemp("fuzz") / "audit.log"
    path.write_bytes(data)
    names = [f"/planted/{i}" for i in range(count)]

    n = int(_text(_run(path, "filter", "--count"), "count").strip())
    assert n >= count
    text = _text(_run(path, "filter"), "filter")
    assert all(name in text for name in names)
    text = _text(_run(path, "explain"), "explain")
    assert all(name in text for name in names)
    for args in (("filter", "-f", "ndjson"), ("explain", "-f", "ndjson")):
        docs = [json.loads(line) for line in _json(_run(path, *args), args).splitlines()]
        dumped = json.dumps(docs, ensure_ascii=False)
        assert all(name in dumped for name in names), args
    json.loads(_json(_run(path, "explain", "-f", "json"), "explain json"))
    summary = json.loads(_json(_run(path, "summarize", "--by", "path", "-f", "json", "-j", "1"),
                               "summarize"))
    paths = {g["path"] for g in summary["groups"]}
    assert set(names) <= paths
    _text(_run(path, "summarize", "--by", "exe,syscall", "-j", "1"), "summarize table")
    _text(_run(path, "domains", "-f", "text", "-j", "1"), "domains text")
    _text(_run(path, "domains", "-j", "1"), "domains table")
    _text(_run(path, "filter", "-f", "csv"), "filter csv")


def test_planted_line_is_a_valid_denial(tmp_path):
    path = tmp_path / "one.log"
    path.write_bytes(planted(0) + b"\n")
    assert _run(path, "filter", "--count").strip() == b"1"


@pytest.mark.parametrize("piece", HOSTILE, ids=range(len(HOSTILE)))
def test_each_hostile_piece_before_a_denial(tmp_path, piece):
    """Each hostile piece on a line of its own, then a valid denial: read."""
    path = tmp_path / "h.log"
    for seed in (b"type=UNKNOWN[1423] msg=audit(1795737091.549:5329): domain=1b6b1616d "
                 b"blockers=fs.read_file ", b""):
        path.write_bytes(seed + piece + b"\n" + planted(0) + b"\n")
        assert int(_run(path, "filter", "--count")) >= 1
        assert b"/planted/0" in _run(path, "filter")
        _text(_run(path, "explain"), "explain")
        _json(_run(path, "explain", "-f", "json"), "explain json")
