"""Reading output: explain's pager on a terminal, no colour for TERM=dumb,
filter's grep-like -H/--with-filename and -n/--line-number."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from lldecode.cli.pager import pager_command
from tests.conftest import ROOT

LOG = "fixtures/auditd-raw.log"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _env(**extra):
    env = dict(os.environ, TZ="UTC", COLUMNS="100", TERM="xterm")
    for key in ("NO_COLOR", "PAGER", "LESS"):
        env.pop(key, None)
    env.update(extra)
    return env


def _on_terminal(args, env, timeout=60):
    """Run lldecode with its standard output on a pseudo-terminal: (exit
    status, what the terminal showed, stderr)."""
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "lldecode", *args], cwd=ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal's other side closed
            break
        if not chunk:
            break
        shown += chunk
    status = process.wait(timeout)
    os.close(master)
    return status, shown.decode("utf-8", "replace").replace("\r\n", "\n"), process.stderr.read()


def _piped(*args, **env):
    return subprocess.run([sys.executable, "-m", "lldecode", *args], cwd=ROOT, env=_env(**env),
                          capture_output=True, timeout=60)


def test_explain_on_a_terminal_goes_through_the_pager(tmp_path):
    received = tmp_path / "pager-input"
    status, shown, err = _on_terminal(["explain", LOG], _env(PAGER=f"cat > {received}"))
    assert status == 0, err
    assert shown == ""  # all of it went to the pager
    text = received.read_text()
    assert "\x1b[" in text  # coloured: the terminal is the pager's
    assert ANSI.sub("", text) == _piped("explain", LOG).stdout.decode()


def test_no_pager_and_pipes_write_straight(tmp_path):
    received = tmp_path / "pager-input"
    status, shown, _ = _on_terminal(["explain", "--no-pager", LOG],
                                    _env(PAGER=f"cat > {received}"))
    assert status == 0 and not received.exists()
    assert "refused" in shown
    piped = _piped("explain", LOG, PAGER=f"cat > {received}")
    assert piped.returncode == 0 and not received.exists() and b"refused" in piped.stdout
    # PAGER=cat (or empty): no pager either
    assert pager_command({"PAGER": "cat"}) is None and pager_command({"PAGER": ""}) is None


def test_default_pager_is_less_frx():
    if subprocess.run(["sh", "-c", "command -v less"], capture_output=True).returncode:
        assert pager_command({}) is None
    else:
        assert pager_command({}) == ["less", "-FRX"]
    assert pager_command({"PAGER": "cat -v"}) == ["/bin/sh", "-c", "cat -v"]
    # a pager that is not installed would swallow the text: none
    assert pager_command({"PAGER": "no-such-pager-here -s"}) is None


def test_missing_pager_writes_straight():
    status, shown, _ = _on_terminal(["explain", LOG], _env(PAGER="no-such-pager-here"))
    assert status == 0 and "refused" in shown


def test_pager_quit_early_and_exit_status_kept(tmp_path):
    received = tmp_path / "pager-input"
    # a pager that reads a little and quits: the command ends quietly
    status, _, err = _on_terminal(["explain", LOG, LOG, LOG],
                                  _env(PAGER=f"head -c 100 > {received}"))
    assert status == 0 and b"Traceback" not in err and b"Broken pipe" not in err, err
    assert len(received.read_bytes()) == 100
    # nothing selected: exit 1 through the pager too
    status, _, _ = _on_terminal(["explain", "--domain", "1", LOG],
                                _env(PAGER=f"cat > {received}"))
    assert status == 1


@pytest.mark.skipif(subprocess.run(["sh", "-c", "command -v less"]).returncode != 0,
                    reason="less is not installed")
def test_less_frx_shows_short_text_and_quits():
    status, shown, err = _on_terminal(["explain", "--domain", "1b6b161fe", LOG], _env())
    assert status == 0, err
    plain = ANSI.sub("", shown)
    assert "python3 (pid 8498, " in plain and "refused" in plain
    assert "\x1b[?1h" in shown  # less's keypad set-up: it went through less


def test_term_dumb_gets_no_colour():
    status, shown, _ = _on_terminal(["filter", LOG], _env(TERM="dumb"))
    assert status == 0 and "\x1b" not in shown and "scope.signal" in shown
    status, shown, _ = _on_terminal(["filter", LOG], _env(TERM="xterm-256color"))
    assert status == 0 and "\x1b[" in shown
    # --color always still colours
    status, shown, _ = _on_terminal(["filter", "--color", "always", LOG], _env(TERM="dumb"))
    assert "\x1b[" in shown


def test_with_filename_and_line_number_like_grep():
    lines = (ROOT / LOG).read_text(encoding="latin-1").splitlines()
    result = _piped("filter", "-H", "-n", LOG, "fixtures/ausearch-raw.txt")
    assert result.returncode == 0
    out = result.stdout.decode().splitlines()
    assert len(out) == 112
    for line in out[:56]:
        name, number, rest = line.split(":", 2)
        assert name == LOG
        record = lines[int(number) - 1]
        domain = rest.split()[2]
        assert f"domain={domain} " in record and "blockers=" in record
    assert out[56].startswith("fixtures/ausearch-raw.txt:")
    only_h = _piped("filter", "--with-filename", "--domain", "1b6b161fe", LOG).stdout.decode()
    assert only_h.startswith(f"{LOG}:2026-11-26 ")
    only_n = _piped("filter", "--line-number", "--domain", "1b6b161fe", LOG).stdout.decode()
    assert re.match(r"\d+:2026-11-26 ", only_n)


def test_raw_lines_are_numbered_as_in_the_file():
    lines = (ROOT / LOG).read_bytes().split(b"\n")
    result = _piped("filter", "-n", "-H", "-f", "raw", "--domain", "1b6b161fe", LOG)
    out = result.stdout.split(b"\n")[:-1]
    assert len(out) == 5
    for line in out:
        name, number, rest = line.split(b":", 2)
        assert name == LOG.encode() and lines[int(number) - 1] == rest


def test_location_options_need_a_line_format(tmp_path):
    for args in (["-H", "-f", "json"], ["-n", "-f", "csv"], ["-n", "--count"]):
        result = _piped("filter", *args, LOG)
        assert result.returncode == 2 and b"--with-filename" in result.stderr
    assert _piped("filter", "-q", "-H", LOG).returncode == 0


def test_hostile_file_name_is_escaped(tmp_path):
    hostile = tmp_path / "a\x1b[31mb\nc.log"
    hostile.write_bytes((ROOT / LOG).read_bytes())
    result = _piped("filter", "-H", "--domain", "1b6b161fe", str(hostile))
    assert b"\x1b" not in result.stdout and b"a\\x1b[31mb\\nc.log:" in result.stdout
    assert Path(hostile).exists()


def test_term_dumb_gets_no_progress_line(tmp_path):
    """The progress line erases itself with an escape sequence a dumb
    terminal would show: by default it is off there."""
    from lldecode.output import progress

    big = tmp_path / "big.log"
    line = (ROOT / LOG).read_bytes()
    with open(big, "wb") as f:
        while f.tell() < progress.MIN_SIZE + (1 << 20):
            f.write(line)

    def stderr_on_terminal(term):
        master, slave = pty.openpty()
        # (ndjson: a reading long enough for the progress line to be drawn)
        process = subprocess.Popen([sys.executable, "-m", "lldecode", "filter", "-f", "ndjson",
                                    str(big)], cwd=ROOT, env=_env(TERM=term),
                                   stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        shown = b""
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            try:
                chunk = os.read(master, 65536) if ready else b""
            except OSError:
                chunk = b""
            if not chunk:
                break
            shown += chunk
        process.wait(120)
        os.close(master)
        return shown

    assert b"\x1b[K" not in stderr_on_terminal("dumb")
    assert b"reading " in stderr_on_terminal("xterm")
