"""laurel's JSON lines: the same denials as the auditd log they came from,
laurel's lossy encodings undone, hostile values kept byte for byte."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from lldecode.audit.laurel import event_headers, record_text
from tests.conftest import ROOT

FIXTURES = ROOT / "fixtures"


def _lldecode(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "lldecode", *args], cwd=ROOT, input=stdin,
                          capture_output=True, timeout=120)


def _denials(path):
    result = _lldecode("filter", "-f", "ndjson", str(path))
    assert result.returncode == 0, result.stderr
    out = []
    for line in result.stdout.decode().splitlines():
        denial = json.loads(line)
        source = denial.pop("source")
        out.append((denial, source))
    return out


@pytest.mark.parametrize("laurel, auditd", [("laurel.json", "auditd-raw.log"),
                                            ("laurel-node.json", "auditd-node.log")])
def test_laurel_events_give_the_denials_of_the_auditd_log(laurel, auditd):
    from_laurel = _denials(FIXTURES / laurel)
    from_auditd = _denials(FIXTURES / auditd)
    assert len(from_laurel) == len(from_auditd) == 56
    assert [d for d, _ in from_laurel] == [d for d, _ in from_auditd]
    assert {s["carrier"] for _, s in from_laurel} == {"laurel"}
    for command in (["domains", "-f", "csv"], ["summarize", "--by", "blocker,exe,syscall"]):
        assert (_lldecode(*command, str(FIXTURES / laurel)).stdout
                == _lldecode(*command, str(FIXTURES / auditd)).stdout)


@pytest.mark.parametrize("laurel, auditd", [("laurel.json", "auditd-raw.log"),
                                            ("laurel-node.json", "auditd-node.log")])
def test_fixtures_are_laurels_own_output(laurel, auditd, tmp_path):
    """The fixtures are what Debian 12's laurel (0.5.1) writes when the real
    captures are fed to it as auditd feeds its plugins (its process
    enrichment finds nothing: the captured processes are gone)."""
    import shutil

    binary = shutil.which("laurel", path=os.environ.get("PATH", "") + ":/usr/sbin")
    if binary is None:
        pytest.skip("laurel is not installed (apt-get install laurel)")
    config = (FIXTURES / "laurel-config.toml").read_text().replace(
        '"/tmp/laurel-out"', f'"{tmp_path}"')
    (tmp_path / "config.toml").write_text(config)
    with open(FIXTURES / auditd, "rb") as log:
        subprocess.run([binary, "-c", str(tmp_path / "config.toml")], stdin=log,
                       capture_output=True, timeout=120, check=True)
    assert (tmp_path / "audit.log").read_bytes() == (FIXTURES / laurel).read_bytes()


def _event(**records):
    event = {"ID": "1795737091.685:5376"}
    event.update(records)
    return json.dumps(event, ensure_ascii=False)


def test_laurel_s_hex_decoding_of_unknown_fields_is_undone():
    # laurel decodes any even number of hex digits of a field it does not
    # know: domain=1b6b161cea, src=8080 and denials=12 come out as bytes.
    access = {"domain": bytes.fromhex("1b6b161cea").decode("latin-1"),
              "blockers": "net.bind_tcp", "saddr": "127.0.0.1",
              "src": "%80%80"}
    line = _event(**{"UNKNOWN[1423]": [access]}).replace(
        json.dumps(access["domain"], ensure_ascii=False)[1:-1], "%1bk%16%1c%ea")
    (header,) = event_headers(line)
    assert header.body == "domain=1b6b161cea blockers=net.bind_tcp saddr=127.0.0.1 src=8080"
    body, _ = record_text("UNKNOWN[1424]", {"domain": "1b6b161ce", "status": "deallocated",
                                            "denials": "%12"})
    assert body == "domain=1b6b161ce status=deallocated denials=12"
    # an odd number of digits is as logged
    body, _ = record_text("UNKNOWN[1424]", {"domain": "1b6b161ce", "status": "deallocated",
                                            "denials": "123"})
    assert body.endswith("denials=123")


def test_hostile_values_are_kept_byte_for_byte_and_escaped(tmp_path):
    # laurel writes bytes that are not printable ASCII or UTF-8 as %xx, keeps
    # UTF-8, JSON-escapes quotes and backslashes.
    path = '/tmp/a b"c\\d%25%2b%1b[31m%0aé%ff'
    line = _event(**{
        "UNKNOWN[1423]": [{"domain": "1b6b161ce", "blockers": "fs.read_file", "path": path,
                           "dev": "vda", "ino": 12}],
        "SYSCALL": {"arch": "0xc000003e", "syscall": 257, "success": "no", "exit": -13,
                    "pid": 7, "ppid": 1, "uid": 0, "comm": "x%0ay", "exe": "/bin/x",
                    "key": None, "ARGV": ["0x3", "0x0"],
                    "PPID": {"START_TIME": "1.000", "exe": "/sbin/init"}},
        "PROCTITLE": {"ARGV": ["sh", "-c", "echo %1b]0;pwned%07"]}})
    log = tmp_path / "laurel.json"
    log.write_bytes(line.encode() + b"\n")
    expected = b'/tmp/a b"c\\d%+\x1b[31m\n\xc3\xa9\xff'
    result = _lldecode("filter", "-f", "ndjson", str(log))
    assert result.returncode == 0, result.stderr
    denial = json.loads(result.stdout)
    assert bytes.fromhex(denial["object"]["path_hex"]) == expected
    assert denial["process"]["comm_hex"] == b"x\ny".hex() or denial["process"]["comm"] == "x\ny"
    assert denial["process"]["argv"] == ["sh", "-c", "echo \x1b]0;pwned\x07"]
    text = _lldecode("explain", "--color", "never", str(log))
    assert text.returncode == 0
    assert b"\x1b" not in text.stdout and b"\x07" not in text.stdout
    assert b"\\x1b[31m" in text.stdout


def test_enrichment_is_kept_and_the_process_comes_from_the_event():
    """laurel's PID/OPID enrichment (read from /proc when it runs live) as
    tools/laurel_fixture.py renders it from the log's own SYSCALL records."""
    result = subprocess.run([sys.executable, "tools/laurel_fixture.py",
                             "fixtures/auditd-raw.log"], cwd=ROOT, capture_output=True,
                            timeout=120, check=True)
    lines = result.stdout.decode().splitlines()
    line = next(x for x in lines if '"OPID"' in x and "UNKNOWN[1423]" in x)
    headers = event_headers(line)
    access = next(h for h in headers if h.type == "UNKNOWN[1423]")
    assert "OPID.exe=\"/usr/bin/sleep\"" in access.enrichment
    syscall = next(h for h in headers if h.type == "SYSCALL")
    assert syscall.body.startswith("arch=c000003e syscall=62 ")
    assert " a0=2131 a1=f " in syscall.body + " "
    title = next(h for h in headers if h.type == "PROCTITLE")
    assert title.body.startswith("proctitle=707974686F6E33002D6D00")


def test_cee_prefix_and_broken_lines_are_diagnosed_not_fatal(tmp_path):
    good = (FIXTURES / "laurel.json").read_text().splitlines()
    landlock = [x for x in good if "UNKNOWN[1423]" in x]
    log = tmp_path / "mixed.json"
    log.write_text("\n".join([
        "@cee: " + landlock[0],
        '{"ID":"not an id","UNKNOWN[1423]":[]}',
        '{"ID":"1795737091.685:5376","UNKNOWN[1423]":"no record"}',
        '{"ID":"1795737091.685:5376","UNKNOWN[1423]":[{"domain":"zz","blockers":"fs.x"}]}',
        '{"ID":"1795737091.685:5376","lower":[{}]}',
        '{"ID":' + "[" * 100000 + "]" * 100000 + "}",
        landlock[2][:300],  # cut
        landlock[1]]) + "\n")
    result = _lldecode("filter", "--count", str(log))
    assert result.returncode == 0
    assert result.stdout == b"2\n"
    errors = result.stderr.decode()
    assert "Traceback" not in errors
    assert "mixed.json:2: laurel event: ID 'not an id'" in errors
    assert "mixed.json:3:" in errors and "mixed.json:4:" in errors and "mixed.json:5:" in errors
    assert "mixed.json:7: laurel event with Landlock records: not valid JSON" in errors
    strict = _lldecode("filter", "--count", "--strict", str(log))
    assert strict.returncode == 2


def test_raw_format_writes_each_laurel_line_once():
    result = _lldecode("filter", "-f", "raw", "--domain", "1b6b161fe",
                       str(FIXTURES / "laurel.json"))
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["ID"] == "1795737091.685:5376"


def test_stdin_and_the_library_read_laurel():
    import lldecode

    denials = list(lldecode.read_denials([str(FIXTURES / "laurel.json")]))
    assert len(denials) == 56
    result = _lldecode("filter", "--count", "-", stdin=(FIXTURES / "laurel.json").read_bytes())
    assert result.stdout == b"56\n"
    assert io  # (imported for symmetry with the other reader tests)


def test_older_laurel_shapes():
    # before ARGV, SYSCALL kept a0..a3 ("0x..."); PARENT_INFO was an event key
    line = _event(**{
        "UNKNOWN[1423]": [{"domain": "1b6b161ce", "blockers": "ptrace", "opid": 9,
                           "ocomm": "sleep"}],
        "SYSCALL": {"arch": "0xc000003e", "syscall": 101, "success": "no", "exit": -1,
                    "a0": "0x10", "a1": "0x9", "pid": 7, "ppid": 1, "comm": "strace",
                    "exe": "/usr/bin/strace", "key": None},
        "PARENT_INFO": {"ID": "1.000:1", "comm": "bash", "exe": "/bin/bash", "ppid": 1}})
    headers = event_headers(line)
    assert [h.type for h in headers] == ["UNKNOWN[1423]", "SYSCALL"]
    assert " a0=10 a1=9 " in headers[1].body
    assert headers[1].body.endswith("key=(null)")
