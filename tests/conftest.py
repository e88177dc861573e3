"""Shared fixtures: paths of the real logs shipped in fixtures/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests: the same examples on every run by default, so that CI is
# reproducible and never fails by chance; LLDECODE_HYPOTHESIS=explore draws
# new random examples (and LLDECODE_EXAMPLES=N sets how many for the
# grammar agreement tests) to hunt for new failures.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("LLDECODE_HYPOTHESIS", "ci"))

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SAMPLES = FIXTURES / "samples"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def sample_lines():
    """Every line of the real kernel samples (raw auditd and dmesg)."""
    lines = []
    for name in ("kernel-6.18-raw-audit.log", "kernel-6.18-dmesg.txt"):
        with open(SAMPLES / name, encoding="latin-1") as f:
            lines.extend(line.rstrip("\n") for line in f)
    return lines


def run_cli(*args, stdin: bytes = b"", env=None):
    """Run the installed command as a real subprocess."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "lldecode", *map(str, args)],
                          input=stdin, capture_output=True, env=full_env, timeout=300)


# A child's peak memory has to be read by a small launcher process: Linux
# counts in a child's ru_maxrss the size of the process it was forked from
# (a large pytest process), so the launcher forks the command itself and
# reports what wait4() gives it.
_LAUNCHER = r"""
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write("\npeak-kib=%d status=%d\n" % (usage.ru_maxrss,
                                                 os.waitstatus_to_exitcode(status)))
"""


def launch_measured(argv, **popen_args):
    """Start ``argv`` under the launcher; :func:`measured_peak` reads the result."""
    return subprocess.Popen([sys.executable, "-c", _LAUNCHER, *argv],
                            stderr=subprocess.PIPE, **popen_args)


def measured_peak(proc):
    """(exit status of the command, its peak resident set in MiB, its stderr)."""
    err = proc.stderr.read().decode("utf-8", "replace")
    proc.wait()
    head, _, tail = err.rpartition("\npeak-kib=")
    kib, status = tail.split(" status=")
    return int(status), int(kib) / 1024, head
