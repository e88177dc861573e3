"""Closed and full output streams: one plain message and exit status 2,
never an internal error; a closed pipe ends quietly with status 0."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import FIXTURES

LOG = str(FIXTURES / "auditd-raw.log")
LLDECODE = [sys.executable, "-m", "lldecode"]


def _run(args, **kwargs):
    return subprocess.run([*LLDECODE, *args], stderr=subprocess.PIPE, timeout=120, **kwargs)


@pytest.mark.parametrize("args", [["filter", LOG], ["filter", "-c", LOG], ["explain", LOG],
                                  ["summarize", "-j", "1", LOG], ["domains", "-j", "1", LOG],
                                  ["mask", "fs", "0x1fff"]])
def test_full_disk_is_one_message(args):
    with open("/dev/full", "w") as full:
        proc = _run(args, stdout=full)
    assert proc.returncode == 2
    assert proc.stderr == b"lldecode: cannot write: No space left on device\n"


def test_closed_stdout_is_one_message():
    proc = _run(["filter", LOG], stdout=subprocess.DEVNULL,
                preexec_fn=lambda: __import__("os").close(1))
    assert proc.returncode == 2
    assert proc.stderr == b"lldecode: standard output is closed\n"


def test_closed_stdin_is_an_error_only_when_read():
    closed = {"preexec_fn": lambda: __import__("os").close(0)}
    proc = _run(["filter"], stdout=subprocess.PIPE, **closed)
    assert proc.returncode == 2
    assert b"standard input is closed" in proc.stderr and b"internal" not in proc.stderr
    proc = _run(["filter", "-c", LOG], stdout=subprocess.PIPE, **closed)
    assert proc.returncode == 0 and proc.stdout.strip() == b"56", proc.stderr


def test_closed_pipe_ends_quietly():
    proc = subprocess.Popen([*LLDECODE, "explain", LOG], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b""
