"""Hostile logs through every reading command, in every format.

Any field of a log line is the attacker's.  The real capture
(fixtures/auditd-raw.log) holds paths with a newline, ESC and bytes that are
not UTF-8; hand-made lines put hostile bytes where the kernel never does: a
SYSCALL record's ``syscall=`` and ``pid=``, ``blockers=`` (a C1 CSI as UTF-8,
U+202E), a LANDLOCK_DOMAIN record's creator pid, uid and mode, ``ausearch
-i`` output (control bytes raw and as octal, duplicate keys), and journald
JSON entries holding U+202E, U+2028/9 and ``\\udc9b`` (a byte that was not
UTF-8).

Every text output (text, table, CSV, explain paragraphs, domain text, gap
notes) must carry no control, bidi or invisible format character raw (but
the newline and, with --color always, lldecode's own colour codes); every
JSON output must be strict UTF-8, parse, hold no raw U+2028/9, and its
``_hex`` siblings give back the exact bytes; nothing may fail to be written
whatever the locale or PYTHONIOENCODING.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Dict, List

import pytest
from click.testing import CliRunner

from lldecode.cli.app import cli
from tests.conftest import FIXTURES, run_cli
from tests.output.hostile import assert_clean_text, assert_json_rule

POLICIES = sorted(str(p) for p in (FIXTURES / "policies").iterdir())

ACCESS = (b'type=UNKNOWN[1423] msg=audit(1795737091.549:5323): domain=1b6b1611c '
          b'blockers=fs.read_file,fs.\xc2\x9b31m,fs.\xe2\x80\xaeevil path="/tmp/x" dev="vda" '
          b'ino=2146930')
SYSCALL = (b'type=SYSCALL msg=audit(1795737091.549:5323): arch=c000003e syscall=\x1bc '
           b'success=no exit=-13 a0=ffffff9c items=1 ppid=8460 pid=8\x1b[2J472 '
           b'auid=4294967295 uid=0\xe2\x80\xae gid=0 euid=0 comm="python3" '
           b'exe="/usr/bin/python3" key="lldecode"')
ALLOCATED = (b'type=UNKNOWN[1424] msg=audit(1795737091.549:5323): domain=1b6b1611c '
             b'status=allocated mode=enf\xc2\x9b2J pid=8472 uid=0\xc2\x9b1m exe="/usr/bin/x" '
             b'comm="python3"')
DEALLOCATED = (b'type=UNKNOWN[1424] msg=audit(1795737099.549:5330): domain=1b6b1611c '
               b'status=deallocated denials=5')

AUSEARCH = (
    b"----\n"
    b"type=PROCTITLE msg=audit(11/26/26 23:51:31.549:5323) : "
    b"proctitle=python3 -c x\\033]0;pwned\\007 \n"
    b"type=SYSCALL msg=audit(11/26/26 23:51:31.549:5323) : arch=x86_64 syscall=open\x1bc "
    b"success=no exit=EACCES(Permission denied) a0=0x3 items=1 ppid=8460 pid=84\x1b[2J72 "
    b"auid=unset uid=ro\xc2\x9bot gid=root euid=root comm=python3 exe=/usr/bin/python3 "
    b"key=lldecode \n"
    b"type=UNKNOWN[1424] msg=audit(11/26/26 23:51:31.549:5323) : domain=1b6b1611c "
    b"status=allocated mode=enf\x1b[2Jorcing pid=84\x1bc72 uid=ro\xe2\x80\xaeot "
    b"exe=/usr/bin/x comm=python3 \n"
    b"type=UNKNOWN[1423] msg=audit(11/26/26 23:51:31.549:5323) : domain=1b6b1611c "
    b"blockers=fs.read_file,fs.\x1b[31m path=/tmp/x dev=\"vda\" ino=2146930 \n")
# the same with duplicate keys, the second one hostile
AUSEARCH_DUPLICATES = (AUSEARCH
                       .replace(b"blockers=fs.read_file,fs.\x1b[31m",
                                b"blockers=fs.read_file blockers=\x1b[31m")
                       .replace(b"syscall=open\x1bc", b"syscall=open syscall=\x1bc")
                       .replace(b"pid=84\x1bc72", b"pid=8472 pid=\x1bc"))


def _journal() -> bytes:
    """The first event of the journald capture, with hostile text in the
    fields it decodes as text (blockers, mode, syscall)."""
    lines = (FIXTURES / "journal-json.json").read_text().splitlines()[:4]
    out = []
    for line in lines:
        entry = json.loads(line)
        message = entry["MESSAGE"]
        message = message.replace("blockers=fs.read_file",
                                  "blockers=fs.read_file,fs.\u202eevil\udc9b\u2028")
        message = message.replace("mode=enforcing", "mode=enf\u202e\u2029\udc9b")
        message = message.replace("syscall=257", "syscall=\u202e\udc9b\u2028")
        entry["MESSAGE"] = message
        out.append(json.dumps(entry))  # ASCII, the \udc9b as a JSON escape
    return ("\n".join(out) + "\n").encode()


# the exact bytes the journald fields stand for (U+DC9B: the byte 0x9B)
JOURNAL_BLOCKER_HEX = ("fs.\u202eevil".encode() + b"\x9b" + "\u2028".encode()).hex()
JOURNAL_MODE_HEX = ("enf\u202e\u2029".encode() + b"\x9b").hex()
JOURNAL_SYSCALL_HEX = ("\u202e".encode() + b"\x9b" + "\u2028".encode()).hex()
BAD_UTF8_PATH = b"/tmp/llcapture-u_k9p5k5/hex_paths/bad\xff\xfeutf8/file"


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Dict[str, Path]:
    base = tmp_path_factory.mktemp("hostile")
    made = {
        "raw": b"\n".join([ACCESS, ALLOCATED, SYSCALL, DEALLOCATED]) + b"\n",
        "ausearch-i": AUSEARCH,
        "ausearch-i-duplicates": AUSEARCH_DUPLICATES,
        "journal-json": _journal(),
    }
    paths = {"auditd-raw": FIXTURES / "auditd-raw.log"}
    for name, data in made.items():
        paths[name] = base / name
        paths[name].write_bytes(data)
    return paths


LOGS = ["auditd-raw", "raw", "ausearch-i", "ausearch-i-duplicates", "journal-json"]
# a selection that selects every denial (domains then adds a SELECTED column)
SINCE = "2000-01-01T00:00"
DIMENSIONS = ["domain", "blocker", "exe", "path", "syscall", "domain,blocker,exe,path,syscall"]

TEXT_COMMANDS: List[List[str]] = [
    ["filter"], ["filter", "--color", "always"], ["filter", "-f", "table"],
    ["filter", "-f", "table", "--tablefmt", "github"],
    ["filter", "-f", "table", "--tablefmt", "grid"], ["filter", "-f", "csv"],
    ["filter", "-f", "tsv"], ["explain", "-f", "csv"], ["explain", "-f", "tsv"],
    ["explain"], ["explain", "--color", "always"],
    *[["explain", "--policy", p] for p in POLICIES],
    *[["summarize", "--by", by, "-f", fmt] for by in DIMENSIONS
      for fmt in ("table", "csv", "tsv", "text")],
    ["domains"], ["domains", "-f", "csv"], ["domains", "-f", "tsv"], ["domains", "-f", "text"],
    ["domains", "--since", SINCE, "-f", "csv"],
    ["domains", "--since", SINCE], ["domains", "--since", SINCE, "-f", "text"],
]
JSON_COMMANDS: List[List[str]] = [
    ["filter", "-f", "json"], ["filter", "-f", "ndjson"],
    ["explain", "-f", "json"], ["explain", "-f", "ndjson"],
    *[["explain", "--policy", p, "-f", fmt] for p in POLICIES for fmt in ("json", "ndjson")],
    *[["summarize", "--by", by, "-f", fmt] for by in DIMENSIONS for fmt in ("json", "ndjson")],
    ["domains", "-f", "json"], ["domains", "--since", SINCE, "-f", "json"],
    ["domains", "-f", "ndjson"], ["domains", "--since", SINCE, "-f", "ndjson"],
]


def _run(path: Path, args: List[str]) -> bytes:
    extra = ["-j", "1"] if args[0] in ("summarize", "domains") else []
    result = CliRunner().invoke(cli, [*args, *extra, str(path)], env={"NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args, result.exception)
    assert b"internal error" not in result.stderr_bytes, (args, result.stderr_bytes[-300:])
    assert result.exit_code == 0, (args, result.exit_code, result.stderr_bytes[-300:])
    assert_clean_text(result.stderr_bytes, (args, "stderr"))
    return result.stdout_bytes


@pytest.mark.parametrize("args", TEXT_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("log", LOGS)
def test_text_outputs_carry_nothing_raw(logs, log, args):
    out = _run(logs[log], args)
    # TSV's own separator is the one control character it writes raw
    text = assert_clean_text(out.replace(b"\t", b" ") if "tsv" in args else out, args)
    assert text
    if "tsv" in args:
        text = out.decode("utf-8")
    if "csv" in args:  # one record per line: no value splits a row
        rows = list(csv.reader(io.StringIO(text)))
        assert len({len(r) for r in rows}) == 1, args
        assert sum(1 for _ in text.splitlines()) == len(rows)
    if "tsv" in args:  # one record per line, as many tabs on each
        assert len({line.count("\t") for line in text.splitlines()}) == 1, args


@pytest.mark.parametrize("args", JSON_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("log", LOGS)
def test_json_outputs_follow_the_rule(logs, log, args):
    out = _run(logs[log], args)
    docs = assert_json_rule(out, args[-1] == "ndjson", args)
    assert docs and docs != [[]], args


def _hex_values(docs) -> List[str]:
    strings = []

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key.endswith("_hex"):
                    strings.extend(item if isinstance(item, list) else [item])
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(docs)
    return [s for s in strings if s is not None]


# -- each hostile field, where it used to come out raw ----------------------------------

def test_syscall_and_pid_of_a_syscall_record(logs):
    """explain printed ``syscall=ESC c`` raw: a full terminal reset."""
    text = assert_clean_text(_run(logs["raw"], ["explain"]))
    assert "\\x1bc() was refused with EACCES" in text
    text = assert_clean_text(_run(logs["ausearch-i"], ["filter"]))
    assert "open\\x1bc python3" in text


def test_blockers(logs):
    """A C1 CSI (as UTF-8) and U+202E in blockers=, in every text command."""
    for args in (["filter"], ["explain"], ["domains", "-f", "text"], ["domains"],
                 ["summarize", "--by", "blocker"]):
        text = assert_clean_text(_run(logs["raw"], args), args)
        assert "\\x9b31m" in text and "\\x80" in text, args


def test_creator_pid_uid_and_mode(logs):
    """The LANDLOCK_DOMAIN record's pid, uid and mode: explain, domains
    text and table, summarize table and CSV."""
    for args in (["domains", "-f", "text"], ["domains"], ["domains", "-f", "csv"]):
        text = assert_clean_text(_run(logs["raw"], args), args)
        assert "\\x9b1m" in text and "\\x9b2J" in text, args  # uid, mode
    for args in (["explain"], ["domains", "-f", "text"], ["summarize"],
                 ["summarize", "-f", "csv"]):
        text = assert_clean_text(_run(logs["ausearch-i"], args), args)
        assert "84\\x1bc72" in text, args  # the creator's pid


def test_journald_text(logs):
    for args in (["filter"], ["explain"], ["domains", "-f", "text"]):
        text = assert_clean_text(_run(logs["journal-json"], args), args)
        assert "\\x9b" in text, args  # the byte \udc9b stands for, escaped


def _exact(container, key):
    """The bytes a JSON field stands for: its ``_hex`` sibling when it has
    one, else its text (which the reader holds as one character per byte of
    the log, or as UTF-8)."""
    if key + "_hex" in container:
        return bytes.fromhex(container[key + "_hex"])
    text = container[key]
    return text.encode("latin-1") if all(ord(c) < 256 for c in text) else text.encode()


def _exact_element(container, key, index):
    hexed = container.get(key + "_hex")
    if hexed is not None and hexed[index] is not None:
        return bytes.fromhex(hexed[index])
    return _exact({"v": container[key][index]}, "v")


JOURNAL_BLOCKER = bytes.fromhex(JOURNAL_BLOCKER_HEX)
JOURNAL_MODE = bytes.fromhex(JOURNAL_MODE_HEX)
JOURNAL_SYSCALL = bytes.fromhex(JOURNAL_SYSCALL_HEX)


@pytest.mark.parametrize("args", [["filter", "-f", "ndjson"], ["filter", "-f", "json"],
                                  ["explain", "-f", "json"],
                                  ["summarize", "--by", "blocker,syscall", "-f", "json"],
                                  ["domains", "-f", "json"]], ids=" ".join)
def test_journald_json_keeps_every_byte(logs, args):
    """journald's ``\\udc9b`` was written as a raw 0x9B (invalid UTF-8), U+2028
    raw (a line break to NDJSON readers): now valid UTF-8, every byte kept."""
    out = _run(logs["journal-json"], args)
    docs = assert_json_rule(out, args[-1] == "ndjson", args)
    doc = docs[0][0] if isinstance(docs[0], list) else docs[0]
    if args[0] == "filter":
        assert _exact_element(doc, "blockers", 1) == JOURNAL_BLOCKER
        assert _exact(doc["process"], "syscall") == JOURNAL_SYSCALL
        assert _exact(doc["domain_info"], "mode") == JOURNAL_MODE
    elif args[0] == "explain":
        assert _exact(doc["what"], "syscall") == JOURNAL_SYSCALL
        assert _exact(doc["what"]["rights"][1], "name") == JOURNAL_BLOCKER
    elif args[0] == "summarize":
        groups = docs[0]["groups"]
        assert {_exact(g, "blocker") for g in groups} == {b"fs.read_file", JOURNAL_BLOCKER}
        assert {_exact(g, "syscall") for g in groups} == {JOURNAL_SYSCALL}
    else:
        assert _exact(doc, "mode") == JOURNAL_MODE
        assert len(doc["blockers"]) == 2


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_policy_verdicts_keep_every_byte(logs, policy, fmt):
    """A verdict's sentences hold the path as text with surrogates: written
    raw (byte 0xFF), they made the JSON invalid."""
    out = _run(logs["auditd-raw"], ["explain", "--policy", policy, "-f", fmt])
    docs = assert_json_rule(out, fmt == "ndjson")
    hexes = _hex_values(docs)
    assert any(BAD_UTF8_PATH.hex() in h for h in hexes)


def test_real_capture_paths_keep_every_byte(logs):
    docs = assert_json_rule(_run(logs["auditd-raw"], ["filter", "-f", "ndjson"]), True)
    assert BAD_UTF8_PATH.hex() in _hex_values(docs)


# -- writing never fails, JSON is UTF-8 whatever the locale ----------------------------

ENVIRONMENTS = [{"LC_ALL": "C"}, {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
                {"PYTHONIOENCODING": "ascii"}, {"PYTHONIOENCODING": "latin-1"},
                {"PYTHONIOENCODING": "utf-8:strict"}]


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda e: " ".join(f"{k}={v}"
                                                                     for k, v in e.items()))
def test_any_locale(logs, env):
    env = dict(env, NO_COLOR="1")
    files = [logs["auditd-raw"], logs["journal-json"], logs["raw"]]
    for args, fmt in ((["filter", "-f", "ndjson"], "ndjson"),
                      (["explain", "-f", "json", "--policy", POLICIES[0]], "json"),
                      (["explain"], "text"), (["domains", "-f", "text", "-j", "1"], "text"),
                      (["summarize", "--by", "blocker", "-f", "csv", "-j", "1"], "text")):
        result = run_cli(*args, *files, env=env)
        assert result.returncode == 0, (env, args, result.stderr[-300:])
        assert b"internal error" not in result.stderr, (env, args)
        if fmt == "text":
            assert_clean_text(result.stdout, (env, args))
        else:
            assert_json_rule(result.stdout, fmt == "ndjson", (env, args))


def test_raw_format_writes_the_lines_unchanged(tmp_path):
    """--format raw: the matched lines byte for byte (not escaped, not
    re-encoded), whatever the locale."""
    lines = [ACCESS, ALLOCATED, SYSCALL,
             ACCESS.replace(b"5323", b"5324").replace(b'"/tmp/x"', b"2F746D702FFF")]
    path = tmp_path / "raw.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    for env in ({}, {"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C"}):
        result = run_cli("filter", "-f", "raw", path, env=env)
        assert result.returncode == 0, result.stderr
        assert sorted(result.stdout.splitlines()) == sorted(lines)


def test_a_file_name_that_is_not_utf8(tmp_path):
    """The input's name (the ``source`` of a denial) holds a byte that is
    not UTF-8 and an ESC: JSON keeps its bytes, text escapes it."""
    import os

    name = os.fsdecode(b"log\xff\x1b[2J.txt")
    path = tmp_path / name
    path.write_bytes(ACCESS + b"\n" + b"type=UNKNOWN[1423] msg=audit(1795737091.549:5324): "
                     b"domain=zz\n")
    result = run_cli("filter", "-f", "ndjson", path)
    assert result.returncode == 0, result.stderr
    docs = assert_json_rule(result.stdout, True)
    assert bytes.fromhex(docs[0]["source"]["file_hex"]) == os.fsencode(str(path))
    assert_clean_text(result.stderr)  # the diagnostic names the file
    assert b"\\xff\\x1b[2J" in result.stderr
