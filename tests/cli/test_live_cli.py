"""Live use (issue 13), with real processes on a pseudo-terminal: a denial
shows at once on a followed file, a pipe and netlink:; Ctrl-C and SIGTERM
print what was read; checkpoints over runs and rotations; the system log
by default; rotated files given in any order."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "fixtures" / "auditd-raw.log"
ROTATED = ROOT / "fixtures" / "rotated"
ENV = {**os.environ, "TZ": "UTC", "NO_COLOR": "1", "COLUMNS": "200",
       "PYTHONPATH": str(ROOT)}
# A denial must show within this long of its records being written.
LATENCY = 0.5


def events() -> List[List[str]]:
    """The raw fixture's events (lines with the same serial), in order."""
    found: List[List[str]] = []
    key = None
    for line in RAW.read_text("latin-1").splitlines(keepends=True):
        m = re.search(r"audit\([\d.]+:(\d+)\)", line)
        serial = m.group(1) if m else None
        if serial != key or not found:
            found.append([])
            key = serial
        found[-1].append(line)
    return found


def landlock_events() -> List[List[str]]:
    return [e for e in events() if any("type=UNKNOWN[1423]" in line for line in e)]


def domain_of(event: List[str]) -> str:
    return re.search(r"domain=([0-9a-f]+)", "".join(event)).group(1)


class Terminal:
    """lldecode on a pseudo-terminal (its controlling terminal: Ctrl-C
    there is SIGINT to it, as in a shell)."""

    def __init__(self, *args: str, stdin: Optional[int] = None):
        pid, fd = pty.fork()
        if pid == 0:  # the child
            try:
                if stdin is not None:
                    os.dup2(stdin, 0)
                os.chdir(ROOT)
                os.execve(sys.executable, [sys.executable, "-m", "lldecode", *args], ENV)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.output = b""
        self.status: Optional[int] = None

    def read_until(self, pattern: bytes, timeout: float = 10.0) -> float:
        """Seconds until ``pattern`` was in the output (AssertionError if never)."""
        start = time.monotonic()
        while pattern not in self.output:
            left = start + timeout - time.monotonic()
            assert left > 0, f"{pattern!r} not seen in {self.output[-2000:]!r}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:  # the child is gone (EIO)
                    data = b""
                if not data:
                    assert pattern in self.output, f"{pattern!r} not in {self.output!r}"
                self.output += data
        return time.monotonic() - start

    def finish(self, timeout: float = 10.0) -> int:
        """Read to the end; the exit status (128 + signal when killed by one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                self.output += data
        pid, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        self.status = os.waitstatus_to_exitcode(status)
        return self.status if self.status >= 0 else 128 - self.status

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def text(self) -> str:
        """The output, as written (without the terminal's echo of Ctrl-C)."""
        return self.output.decode("utf-8", "replace").replace("\r\n", "\n").replace("^C", "")


@pytest.fixture
def terminal():
    started: List[Terminal] = []

    def start(*args: str, stdin: Optional[int] = None) -> Terminal:
        made = Terminal(*args, stdin=stdin)
        started.append(made)
        return made

    yield start
    for made in started:
        if made.status is None:
            made.kill()
            made.finish(2)


def append(path: Path, lines: List[str]) -> None:
    with open(path, "a", encoding="latin-1") as f:
        f.write("".join(lines))


# -- a denial shows at once -------------------------------------------------------------

@pytest.mark.parametrize("command", ["filter", "explain"])
def test_a_denial_on_a_followed_file_shows_within_half_a_second(tmp_path, terminal, command):
    first, second = landlock_events()[:2]
    log = tmp_path / "audit.log"
    log.write_text("".join(first), "latin-1")
    term = terminal(command, "--follow", str(log))
    term.read_until(domain_of(first).encode())      # it is following now
    time.sleep(0.3)
    append(log, second)                              # no later event
    assert term.read_until(domain_of(second).encode()) < LATENCY
    os.kill(term.pid, signal.SIGINT)
    assert term.finish() == 130


def test_a_denial_on_a_pipe_shows_within_half_a_second(terminal):
    first, second = landlock_events()[:2]
    read_end, write_end = os.pipe()
    term = terminal("explain", "-", stdin=read_end)
    os.close(read_end)
    os.write(write_end, "".join(first).encode("latin-1"))
    term.read_until(domain_of(first).encode())
    time.sleep(0.3)
    os.write(write_end, "".join(second).encode("latin-1"))
    assert term.read_until(domain_of(second).encode()) < LATENCY
    os.close(write_end)
    assert term.finish() == 0


def test_explain_folds_a_burst_but_shows_it_when_the_input_goes_quiet(tmp_path, terminal):
    event = landlock_events()[0]
    serial = re.search(r":(\d+)\)", event[0]).group(1)
    burst = ["".join(event).replace(f":{serial})", f":{int(serial) + 9000 + i})")
             for i in range(3)]
    log = tmp_path / "audit.log"
    log.write_text("", "latin-1")
    term = terminal("explain", "--follow", str(log))
    time.sleep(0.5)
    append(log, burst)
    assert term.read_until(b"(3 times") < 2
    os.kill(term.pid, signal.SIGINT)
    assert term.finish() == 130


# -- Ctrl-C and SIGTERM print what was read ---------------------------------------------

def test_ctrl_c_prints_the_summary_table(tmp_path, terminal):
    log = tmp_path / "audit.log"
    shutil.copy(RAW, log)
    term = terminal("summarize", "--by", "blocker", "--follow", str(log))
    time.sleep(1.5)
    os.write(term.fd, b"\x03")                        # Ctrl-C on the terminal
    assert term.finish() == 130
    assert "56 denials in 21 groups" in term.text()


def test_sigterm_prints_the_domains_and_exits_143(tmp_path, terminal):
    log = tmp_path / "audit.log"
    shutil.copy(RAW, log)
    term = terminal("domains", "--follow", str(log))
    time.sleep(1.5)
    os.kill(term.pid, signal.SIGTERM)
    assert term.finish() == 143
    assert "1b6b161a9" in term.text() and "DOMAIN" in term.text()


def test_ctrl_c_prints_the_count_of_a_pipe(terminal):
    read_end, write_end = os.pipe()
    term = terminal("filter", "--count", "-", stdin=read_end)
    os.close(read_end)
    os.write(write_end, RAW.read_bytes())
    time.sleep(1.5)
    os.write(term.fd, b"\x03")
    assert term.finish() == 130
    os.close(write_end)
    assert term.text().replace("^C", "").strip().splitlines()[-1] == "56"


@pytest.mark.skipif(os.geteuid() != 0, reason="the audit multicast group needs root")
def test_ctrl_c_on_netlink_prints_the_table(terminal):
    term = terminal("summarize", "netlink:")
    time.sleep(1.5)
    os.write(term.fd, b"\x03")
    assert term.finish() == 130
    assert re.search(r"\d+ denials in \d+ groups", term.text()), term.text()


def test_summarize_follow_reprints_every_interval(tmp_path, terminal):
    log = tmp_path / "audit.log"
    shutil.copy(RAW, log)
    term = terminal("summarize", "--by", "blocker", "--follow", "--interval", "0.3", str(log))
    term.read_until(b"56 denials at", timeout=5)
    started = time.monotonic()
    while term.output.count(b"(reading on) --") < 3:   # every 0.3 s, the input quiet
        assert time.monotonic() - started < 3, term.text()
        if select.select([term.fd], [], [], 0.1)[0]:
            term.output += os.read(term.fd, 65536)
    os.kill(term.pid, signal.SIGINT)
    assert term.finish() == 130
    assert term.text().count("(reading on) --") >= 3
    assert term.text().rstrip().endswith("56 denials in 21 groups")


# -- checkpoints --------------------------------------------------------------------------

def lldecode(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lldecode", *args], capture_output=True,
                          cwd=ROOT, env=env or ENV, timeout=60)


def serials(output: bytes) -> List[Tuple[int, str]]:
    return [(d["serial"], d["domain"]) for d in map(json.loads, output.splitlines())]


@pytest.mark.parametrize("rotation", ["rename", "copytruncate"])
def test_three_runs_with_a_rotation_read_every_record_once(tmp_path, rotation):
    everything = events()
    thirds = [everything[:40], everything[40:90], everything[90:]]
    log, checkpoint = tmp_path / "audit.log", tmp_path / "state.json"
    seen = []

    def run():
        done = lldecode("filter", "--format", "ndjson", "--checkpoint", str(checkpoint),
                        str(log))
        assert done.returncode in (0, 1), done.stderr
        seen.extend(serials(done.stdout))
        return done

    append(log, sum(thirds[0], []))
    run()
    append(log, sum(thirds[1][:20], []))
    if rotation == "rename":
        os.rename(log, tmp_path / "audit.log.1")
    else:
        shutil.copy(log, tmp_path / "audit.log.1")
        os.truncate(log, 0)
    append(log, sum(thirds[1][20:], []))
    second = run()
    assert b"since the last run" in second.stderr
    append(log, sum(thirds[2], []))
    run()
    whole = lldecode("filter", "--format", "ndjson", str(RAW))
    assert seen == serials(whole.stdout) and len(seen) == 56
    kept = json.loads(checkpoint.read_text())
    assert kept["offset"] == log.stat().st_size and kept["serial"] is not None


def test_a_checkpoint_that_does_not_match_says_so_with_its_status(tmp_path):
    log, checkpoint = tmp_path / "audit.log", tmp_path / "state.json"
    shutil.copy(RAW, log)
    assert lldecode("filter", "-c", "--checkpoint", str(checkpoint), str(log)).returncode == 0
    again = lldecode("filter", "-c", "--checkpoint", str(checkpoint), str(log))
    assert again.returncode == 1 and again.stdout == b"0\n"   # nothing new
    # 12: the file was rewritten
    log.write_bytes(RAW.read_bytes()[::-1])
    rewritten = lldecode("filter", "-c", "--checkpoint", str(checkpoint), str(log))
    assert rewritten.returncode == 12 and b"no longer holds" in rewritten.stderr
    # 11: no input is its file
    other = tmp_path / "other.log"
    shutil.copy(RAW, other)
    elsewhere = lldecode("filter", "-c", "--checkpoint", str(checkpoint), str(other))
    assert elsewhere.returncode == 11 and b"no input is the file" in elsewhere.stderr
    # 10: no checkpoint at all
    checkpoint.write_text("{not json")
    broken = lldecode("filter", "-c", "--checkpoint", str(checkpoint), str(log))
    assert broken.returncode == 10 and b"remove it" in broken.stderr
    # a failed run leaves the checkpoint as it was
    checkpoint.unlink()
    lldecode("filter", "-c", "--checkpoint", str(checkpoint), str(log), "/nonexistent")
    assert not checkpoint.exists()


def test_checkpoint_needs_files():
    done = lldecode("filter", "--checkpoint", "/tmp/never-written.json", "netlink:")
    assert done.returncode == 2 and b"--checkpoint needs files" in done.stderr


# -- no FILE on a terminal: the system log ---------------------------------------------

def test_no_file_on_a_terminal_reads_the_system_log_oldest_first(tmp_path, terminal):
    logs = tmp_path / "log"
    shutil.copytree(ROTATED, logs)
    conf = tmp_path / "auditd.conf"
    conf.write_text(f"log_file = {logs / 'audit.log'}\nmax_log_file = 8\n")
    ENV["LLDECODE_AUDITD_CONF"] = str(conf)
    try:
        term = terminal("domains")
        status = term.finish()
    finally:
        del ENV["LLDECODE_AUDITD_CONF"]
    names = " ".join(str(logs / n) for n in ("audit.log.2", "audit.log.1", "audit.log"))
    assert f"reading the system audit log: {names}" in term.text()
    expected = lldecode("domains", str(ROTATED))
    assert status == expected.returncode
    assert expected.stdout.decode().replace("\n", "") in term.text().replace("\n", "")


def test_no_system_log_is_an_error_that_points_to_doctor(tmp_path, terminal):
    conf = tmp_path / "auditd.conf"
    conf.write_text(f"log_file = {tmp_path / 'none' / 'audit.log'}\n")
    ENV["LLDECODE_AUDITD_CONF"] = str(conf)
    try:
        term = terminal("explain")
        status = term.finish()
    finally:
        del ENV["LLDECODE_AUDITD_CONF"]
    assert status == 2 and "lldecode doctor" in term.text()


# -- rotated files in text order -----------------------------------------------------------

def test_a_shell_expanded_rotated_set_reads_as_the_directory(tmp_path):
    logs = sorted(str(p) for p in ROTATED.glob("audit.log*"))   # the shell's order
    expanded = lldecode("domains", *logs)
    directory = lldecode("domains", str(ROTATED))
    assert expanded.stdout == directory.stdout
    assert b"reading the rotated files oldest first" in expanded.stderr


def _has_open(pid: int, path: Path) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
        except OSError:
            pass
    return False


def test_interrupting_parallel_workers_merges_what_each_read(tmp_path):
    """-j 2: the signal is passed on to the worker, each part ends where it
    was, and the parts read so far are merged and printed."""
    big = tmp_path / "big.log"
    data = RAW.read_bytes()
    with open(big, "wb") as f:
        for _ in range(600):   # 53 MB, cut in parts of 1 MiB below
            f.write(data)
    script = ("import sys\nimport lldecode.analysis.parallel as p\np.MIN_PART = 1 << 20\n"
              "from lldecode.cli.app import main\nmain(sys.argv[1:])\n")
    child = subprocess.Popen([sys.executable, "-c", script, "summarize", "--by", "blocker",
                              "-j", "2", str(big)], cwd=ROOT, env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not _has_open(child.pid, big):     # reading (its handler is in place)
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.05)
    time.sleep(0.3)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    total = int(re.search(rb"(\d+) denials in \d+ groups", out).group(1))
    assert 0 < total <= 56 * 600


def test_follow_with_no_file_follows_the_system_log(tmp_path, terminal):
    first, second = landlock_events()[:2]
    logs = tmp_path / "log"
    logs.mkdir()
    (logs / "audit.log.1").write_text("".join(first), "latin-1")
    (logs / "audit.log").write_text("", "latin-1")
    conf = tmp_path / "auditd.conf"
    conf.write_text(f"log_file = {logs / 'audit.log'}\n")
    ENV["LLDECODE_AUDITD_CONF"] = str(conf)
    try:
        term = terminal("filter", "--follow")
    finally:
        del ENV["LLDECODE_AUDITD_CONF"]
    term.read_until(domain_of(first).encode())
    time.sleep(0.3)
    append(logs / "audit.log", second)
    assert term.read_until(domain_of(second).encode()) < LATENCY
    os.write(term.fd, b"\x03")
    assert term.finish() == 130
    assert f"reading the system audit log: {logs / 'audit.log.1'} {logs / 'audit.log'}" \
        in term.text()


def test_follow_on_a_pipe_reads_the_pipe(terminal):
    read_end, write_end = os.pipe()
    term = terminal("filter", "-c", "--follow", stdin=read_end)
    os.close(read_end)
    os.write(write_end, RAW.read_bytes())
    os.close(write_end)
    assert term.finish() == 0 and term.text().strip() == "56"


def test_follow_and_checkpoint_keep_the_position_at_the_end(tmp_path, terminal):
    log, checkpoint = tmp_path / "audit.log", tmp_path / "state.json"
    shutil.copy(RAW, log)
    term = terminal("filter", "-c", "--follow", "--checkpoint", str(checkpoint), str(log))
    time.sleep(1.0)
    os.kill(term.pid, signal.SIGTERM)
    assert term.finish() == 143 and "56" in term.text()
    assert json.loads(checkpoint.read_text())["offset"] == log.stat().st_size
    append(log, landlock_events()[0])
    again = lldecode("filter", "-c", "--checkpoint", str(checkpoint), str(log))
    assert again.stdout == b"1\n"


def test_event_timeout_sets_the_quiet_time_that_completes_an_event(tmp_path, terminal):
    first, second = landlock_events()[:2]
    log = tmp_path / "audit.log"
    log.write_text("".join(first), "latin-1")
    term = terminal("filter", "--follow", "--event-timeout", "1.5", str(log))
    term.read_until(domain_of(first).encode())
    append(log, second)
    assert 1.2 < term.read_until(domain_of(second).encode()) < 3
    os.kill(term.pid, signal.SIGINT)
    assert term.finish() == 130
