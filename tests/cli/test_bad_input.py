"""Hostile and damaged input: never a traceback, nothing lost."""

from __future__ import annotations

import json

from click.testing import CliRunner

from lldecode.analysis.pipeline import Reading
from lldecode.audit.records import Diagnostics
from lldecode.cli.app import cli
from tests.conftest import SAMPLES, run_cli

GOOD = ('type=UNKNOWN[1423] msg=audit(1795734401.081:41635): domain=17fcedd33 '
        'blockers=fs.truncate path="/var/tmp/demo/data/secret" dev="vda" ino=1458181')
ALLOCATED = ('type=UNKNOWN[1424] msg=audit(1795734401.081:41635): domain=17fcedd33 '
             'status=allocated mode=enforcing pid=5684 uid=0 exe="/usr/bin/python3.11" '
             'comm="python3"')


def read(tmp_path, data: bytes, strict=False):
    path = tmp_path / "input.log"
    path.write_bytes(data)
    return run_cli("filter", "--format", "ndjson", *(["--strict"] if strict else []), path)


def denials(result):
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


def test_malformed_landlock_lines_are_reported_with_file_and_line(tmp_path):
    data = "\n".join([
        GOOD,
        'type=UNKNOWN[1423] msg=audit(1795734401.081:41636): domain=17fcedd33 '
        'blockers=fs.truncate path="/var/tm',
        "some unrelated line",
        "type=UNKNOWN[1423] msg=audit(1795734401.081:41637): domain=NOTHEX blockers=fs.truncate",
        GOOD.replace("41635", "41638"),
    ]).encode() + b"\n"
    result = read(tmp_path, data)
    err = result.stderr.decode().splitlines()
    assert result.returncode == 0
    assert len(denials(result)) == 2
    assert len(err) == 2
    assert err[0].startswith(f"{tmp_path / 'input.log'}:2: column ")
    assert err[1].startswith(f"{tmp_path / 'input.log'}:4: column ")
    assert "expected domain=<hex id>, found 'NOTHEX" in err[1]
    strict = read(tmp_path, data, strict=True)
    assert strict.returncode == 2 and len(denials(strict)) == 2


def test_non_utf8_and_nul_bytes(tmp_path):
    data = (b"\xff\xfe garbage \x00 line\n" + GOOD.encode() + b"\n"
            + GOOD.replace("41635", "41639").replace('"/var', '"/v\x00ar').encode() + b"\n"
            + b'type=UNKNOWN[1423] msg=audit(1795734401.749:41741): domain=17fceddac '
              b'blockers=fs.read_file path=2F7661722F626164FFFE dev="vda" ino=1\n')
    result = read(tmp_path, data)
    got = denials(result)
    assert [d["serial"] for d in got] == [41635, 41741]
    assert got[1]["object"]["path"] == "/var/bad\ufffd\ufffd"
    assert got[1]["object"]["path_hex"] == "2f7661722f626164fffe"
    err = result.stderr.decode()
    assert ":3: " in err and "\x00" not in err and "Traceback" not in err


def test_one_mebibyte_lines(tmp_path):
    long_path = b"/" + b"a" * (1 << 20)
    data = (b"x" * (1 << 20) + b"\n"
            + GOOD.replace('"/var/tmp/demo/data/secret"', long_path.hex().upper()).encode()
            + b"\n")
    result = read(tmp_path, data)
    got = denials(result)
    assert len(got) == 1 and got[0]["object"]["path"] == long_path.decode()


def test_pathological_lines_stay_linear(tmp_path):
    # Many header starts and unbalanced quotes: each line is read once.
    data = (b"type=" * 50000 + b"\n" + b"audit(" * 50000 + b"\n"
            + b'type=UNKNOWN[1423] msg=audit(1.1:1): domain=1 blockers=x ' + b'a="' * 50000 + b"\n")
    result = read(tmp_path, data)
    assert result.returncode == 1
    assert result.stderr.decode().count("\n") == 1  # only the Landlock-looking line


def test_truncated_last_line(tmp_path):
    cut = GOOD[:60]
    result = read(tmp_path, (GOOD + "\n" + cut).encode())
    err = result.stderr.decode().splitlines()
    assert len(denials(result)) == 1
    assert err[0].startswith(f"{tmp_path / 'input.log'}:2: column ")
    assert err[1].endswith("no line terminator (the log may have been cut while written)")


def test_terminal_escapes_in_diagnostics_are_escaped(tmp_path):
    line = ('type=UNKNOWN[1423] msg=audit(1795734401.081:41636): domain=17fcedd33 '
            'blockers=fs.tr\x07\x9b2J\x1b]0;pwned\x07 path="x"')
    result = read(tmp_path, line.encode("latin-1") + b"\n")
    err = result.stderr.decode()
    assert "column" in err
    assert not any(ch in err for ch in "\x1b\x07\x9b")
    assert "\\x07\\x9b2J" in err


def test_nothing_is_lost(tmp_path):
    """Every Landlock access record is either a denial or a reported line."""
    raw = (SAMPLES / "kernel-6.18-raw-audit.log").read_bytes().splitlines()
    damaged = []
    for i, line in enumerate(raw):
        if b"[1423]" in line and i % 3 == 0:
            line = line[: len(line) // 2]
        damaged.append(line)
    path = tmp_path / "damaged.log"
    path.write_bytes(b"\n".join(damaged) + b"\n")
    diagnostics = Diagnostics(quiet=True)
    n = sum(1 for _ in Reading([str(path)], diagnostics).denials())
    assert n + diagnostics.malformed == sum(1 for line in raw if b"[1423]" in line)
    assert diagnostics.malformed > 0


def test_internal_errors_are_one_line(monkeypatch, tmp_path):
    import lldecode.analysis.pipeline as pipeline

    def boom(self):
        raise RuntimeError("kaboom")
        yield

    monkeypatch.setattr(pipeline.Reading, "denials", boom)
    path = tmp_path / "x.log"
    path.write_text(GOOD + "\n")
    result = CliRunner().invoke(cli, ["filter", str(path)])
    assert result.exit_code == 2
    assert "internal error: RuntimeError: kaboom" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
