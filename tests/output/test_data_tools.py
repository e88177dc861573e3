"""The data tools read lldecode's output without extra flags.

- ``lldecode export``: a SQLite database (denials, denial_blockers,
  domains, processes, with indexes) opened with sqlite3; hostile bytes kept
  exactly (``_hex`` columns), never interpreted as SQL.
- ``sqlite-utils insert --nl`` (with and without ``--flatten``) and DuckDB's
  ``read_json_auto`` read every command's NDJSON as it is, when they are
  installed (sqlite-utils is in the ``test`` extra; DuckDB, 70 MB, is not:
  ``pip install duckdb`` to run its test).
- CSV and TSV: lower snake case headers everywhere, the object in columns.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
from click.testing import CliRunner

from lldecode.cli.app import cli
from tests.cli.test_hostile_output import LOGS as HOSTILE_LOGS
from tests.cli.test_hostile_output import logs  # noqa: F401  (a fixture)
from tests.conftest import FIXTURES

RAW = FIXTURES / "auditd-raw.log"
AUSEARCH = FIXTURES / "ausearch-i.txt"
NEWLINE_PATH = "/tmp/llcapture-u_k9p5k5/hex_paths/new\nline/file"
BAD_UTF8 = b"/tmp/llcapture-u_k9p5k5/hex_paths/bad\xff\xfeutf8/file"


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def export(tmp_path: Path, *args, name="out.db") -> Path:
    target = tmp_path / name
    result = invoke("export", "-o", target, *args)
    assert result.exit_code == 0, result.output
    return target


# -- lldecode export -------------------------------------------------------------------

def test_export_tables_rows_and_indexes(tmp_path):
    db = sqlite3.connect(export(tmp_path, RAW))
    count = lambda table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: E731
    assert count("denials") == 56
    domains = json.loads(invoke("domains", "-f", "json", "-j", "1", RAW).output)
    assert count("domains") == len(domains) == 42
    assert count("denial_blockers") >= 56
    assert 0 < count("processes") <= 56
    assert db.execute("SELECT sum(denials) FROM processes").fetchone()[0] == 56
    indexes = {name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")}
    assert {"denials_time", "denials_domain", "denials_path", "denial_blockers_blocker",
            "processes_pid", "domains_key", "denials_process_id"} <= indexes
    # every denial points at its domain and its process; foreign keys hold
    assert db.execute("SELECT count(*) FROM denials WHERE domain_id IS NULL "
                      "OR process_id IS NULL").fetchone()[0] == 0
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    # the blocker index answers the summary by blocker
    by_blocker = dict(db.execute("SELECT blocker, count(*) FROM denial_blockers GROUP BY 1"))
    summary = json.loads(invoke("summarize", "--by", "blocker", "-f", "json", "-j", "1",
                                RAW).output)
    assert by_blocker == {g["blocker"]: g["count"] for g in summary["groups"]}
    row = db.execute("SELECT time, time_iso, uid, pid, syscall, path, dev, ino FROM denials "
                     "ORDER BY id LIMIT 1").fetchone()
    assert row == (1795737091.549, "2026-11-26T23:51:31.549+00:00", 0, 8472, "openat",
                   "/tmp/llcapture-u_k9p5k5/fs_read_file/file", "vda", 2146930)
    assert db.execute("SELECT value FROM lldecode WHERE key = 'schema_version'"
                      ).fetchone() == ("1",)
    # a domain row joins its denials
    joined = db.execute("SELECT d.domain, count(*) FROM denials x JOIN domains d "
                        "ON x.domain_id = d.id GROUP BY d.id ORDER BY 2 DESC LIMIT 1"
                        ).fetchone()
    assert joined[1] == max(d["denials_logged"] for d in domains)


def test_export_keeps_hostile_bytes(tmp_path):
    db = sqlite3.connect(export(tmp_path, RAW))
    paths = dict(db.execute("SELECT path, path_hex FROM denials"))
    assert NEWLINE_PATH in paths and paths[NEWLINE_PATH] is None  # kept raw, exact
    bad = [(p, h) for p, h in paths.items() if h is not None]
    assert [bytes.fromhex(h) for _, h in bad] == [BAD_UTF8]
    assert bad[0][0] == BAD_UTF8.decode("utf-8", "replace")
    assert any("\x1b" in (p or "") for p in paths)  # ESC kept: data, not terminal text


def test_export_never_runs_a_path_as_sql(tmp_path):
    path = b"/tmp/x'); DROP TABLE denials; --\"\n\x1b[2J\xff"
    line = (b"type=UNKNOWN[1423] msg=audit(1795737091.549:5323): domain=1b6b1611c "
            b"blockers=fs.read_file path=" + path.hex().upper().encode() + b" dev=\"vda\" ino=1")
    log = tmp_path / "evil.log"
    log.write_bytes(line + b"\n")
    db = sqlite3.connect(export(tmp_path, log))
    assert db.execute("SELECT path_hex FROM denials").fetchall() == [(path.hex(),)]
    assert db.execute("SELECT path FROM denials").fetchone()[0] == path.decode("utf-8",
                                                                                "replace")


@pytest.mark.parametrize("log", HOSTILE_LOGS)
def test_export_hostile_logs(logs, log, tmp_path):  # noqa: F811
    db = sqlite3.connect(export(tmp_path, logs[log]))
    assert db.execute("SELECT count(*) FROM denials").fetchone()[0] >= 1
    for table in ("denials", "processes", "domains"):
        for row in db.execute(f"SELECT * FROM {table}"):
            for value in row:
                if isinstance(value, str):
                    value.encode("utf-8")  # strict: valid text in every cell


def test_export_selection_and_ausearch(tmp_path):
    db = sqlite3.connect(export(tmp_path, "--blocker", "fs.truncate", AUSEARCH))
    assert db.execute("SELECT count(*) FROM denials").fetchone()[0] == 3
    rows = db.execute("SELECT denials_selected FROM domains").fetchall()
    assert rows == [(1,)] * 3
    # ausearch -i names the ids: the numbers stay numbers, the names beside
    assert db.execute("SELECT DISTINCT uid, uid_name, auid, auid_name FROM processes"
                      ).fetchall() == [(0, "root", 4294967295, "unset")]


def test_export_refuses_to_overwrite_and_writes_atomically(tmp_path):
    target = tmp_path / "kept.db"
    target.write_bytes(b"not a database")
    result = invoke("export", "-o", target, RAW)
    assert result.exit_code == 2 and "--replace" in result.stderr
    assert target.read_bytes() == b"not a database"
    export(tmp_path, "--replace", RAW, name="kept.db")
    assert sqlite3.connect(target).execute("SELECT count(*) FROM denials").fetchone() == (56,)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".lldecode-export-")]
    assert target.stat().st_mode & 0o077 == 0  # its owner's only, as the audit logs


def test_export_of_nothing_says_so(tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_text("")
    target = tmp_path / "empty.db"
    result = invoke("export", "-o", target, empty)
    assert result.exit_code == 0
    assert "no denial selected" in result.stderr
    assert sqlite3.connect(target).execute("SELECT count(*) FROM denials").fetchone() == (0,)


# -- NDJSON in sqlite-utils and DuckDB --------------------------------------------------

NDJSON_COMMANDS: List[List[str]] = [
    ["filter", "-f", "ndjson"], ["explain", "-f", "ndjson"],
    ["summarize", "--by", "domain,blocker", "-f", "ndjson", "-j", "1"],
    ["domains", "-f", "ndjson", "-j", "1"],
]
# the captures of two formats: raw (numbers) and ausearch -i (names), together
INPUTS = [RAW, AUSEARCH]


def _ndjson(args: List[str]) -> str:
    text = ""
    for path in INPUTS:
        result = invoke(*args, path)
        assert result.exit_code == 0, result.output
        text += result.stdout
    return text


@pytest.mark.parametrize("flatten", [False, True], ids=["nl", "nl-flatten"])
@pytest.mark.parametrize("args", NDJSON_COMMANDS, ids=lambda a: a[0])
def test_sqlite_utils_reads_the_ndjson(args, flatten, tmp_path):
    tool = shutil.which("sqlite-utils") or (
        str(Path(sys.executable).parent / "sqlite-utils")
        if (Path(sys.executable).parent / "sqlite-utils").exists() else None)
    if tool is None:
        pytest.skip("sqlite-utils is not installed (pip install sqlite-utils)")
    text = _ndjson(args)
    db = tmp_path / "tool.db"
    # a batch of 2 rows: every later row must fit the columns of the first
    done = subprocess.run([tool, "insert", str(db), "t", "-", "--nl", "--batch-size", "2",
                           *(["--flatten"] if flatten else [])],
                          input=text.encode(), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-500:]
    rows = sqlite3.connect(db).execute("SELECT count(*) FROM t").fetchone()[0]
    assert rows == len(text.splitlines())
    if args[0] == "filter" and flatten:
        types = set(sqlite3.connect(db).execute("SELECT DISTINCT typeof(process_uid), "
                                                "typeof(time) FROM t").fetchall())
        assert types == {("integer", "real")}


@pytest.mark.parametrize("args", NDJSON_COMMANDS, ids=lambda a: a[0])
def test_duckdb_reads_the_ndjson(args, tmp_path):
    duckdb = pytest.importorskip("duckdb", reason="DuckDB is not installed (pip install duckdb)")
    text = _ndjson(args)
    path = tmp_path / "out.ndjson"
    path.write_text(text, encoding="utf-8")
    con = duckdb.connect()
    count = con.execute(f"SELECT count(*) FROM read_json_auto('{path}')").fetchone()[0]
    assert count == len(text.splitlines())
    if args[0] == "filter":
        described = con.execute(
            "DESCRIBE SELECT time, process.uid AS uid, object.ino AS ino "
            f"FROM read_json_auto('{path}')").fetchall()
        kinds = {row[0]: row[1] for row in described}
        assert kinds["time"] == "DOUBLE" and kinds["uid"] == "BIGINT", kinds
        assert kinds["ino"] == "BIGINT"


# -- CSV and TSV -------------------------------------------------------------------------

FLAT_COMMANDS = [
    ["filter"], ["explain"], ["summarize", "--by", "domain,blocker,exe,path,syscall", "-j", "1"],
    ["domains", "-j", "1"], ["domains", "--blocker", "fs.*", "-j", "1"],
]


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
@pytest.mark.parametrize("args", FLAT_COMMANDS, ids=" ".join)
def test_csv_and_tsv_headers_and_columns(args, fmt):
    result = invoke(*args, "-f", fmt, RAW)
    assert result.exit_code == 0, result.output
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(result.stdout)))
    else:
        rows = [line.split("\t") for line in result.stdout.splitlines()]
    headers = rows[0]
    assert all(h == h.lower() and " " not in h for h in headers), headers
    assert len({len(r) for r in rows}) == 1
    if args[0] in ("filter", "explain"):
        assert {"path", "dev", "ino", "saddr", "src", "opid"} <= set(headers)
        cells = [dict(zip(headers, r)) for r in rows[1:]]
        ports = [c["src"] for c in cells if c["src"]]
        assert ports and all(p.isdigit() for p in ports)
        assert any(c["ino"].isdigit() for c in cells)
        assert not any(c["path"].startswith("local TCP port") for c in cells)  # no prose


def test_tsv_escapes_tab_newline_and_backslash(tmp_path):
    path = b"/tmp/a\tb\nc\\d"
    line = (b"type=UNKNOWN[1423] msg=audit(1795737091.549:5323): domain=1b6b1611c "
            b"blockers=fs.read_file path=" + path.hex().upper().encode() + b" dev=\"vda\" ino=1")
    log = tmp_path / "tabs.log"
    log.write_bytes(line + b"\n")
    out = invoke("filter", "-f", "tsv", log).stdout.splitlines()
    assert len(out) == 2
    cells = dict(zip(out[0].split("\t"), out[1].split("\t")))
    assert cells["path"] == "/tmp/a\\tb\\nc\\\\d"


def test_summarize_text_and_domains_ndjson():
    text = invoke("summarize", "--by", "blocker", "-f", "text", "-j", "1", RAW).stdout
    lines = text.splitlines()
    assert lines[0].startswith("blocker fs.read_file: 14 denials, first ")
    assert lines[-1] == "56 denials"
    result = invoke("domains", "-f", "ndjson", "-j", "1", RAW)
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 42
