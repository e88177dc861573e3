"""Record real Landlock audit records from this kernel, through each carrier.

Run from the repository root, as root, with python3 (so that the sandboxed
children's comm is "python3")::

    python3 -m tools.kernel.capture list
    python3 -m tools.kernel.capture netlink -o run.netlink [--bare run.payload]
    python3 -m tools.kernel.capture auditd --log-format enriched -o audit.log \\
        --netlink audit.netlink
    python3 -m tools.kernel.capture auditd --rotated-dir rotated --max-log-file 1 \\
        --num-logs 4 --burst 3000
    python3 -m tools.kernel.capture dmesg -o dmesg.txt --human dmesg-T.txt \\
        --netlink dmesg.netlink
    python3 -m tools.kernel.capture dmesg --burst 3000 -o ratelimited.txt fs_read_file
    python3 -m tools.kernel.capture journald --out-dir DIR
    python3 -m tools.kernel.capture summary FILE...

Every mode runs the named scenarios (default: all of them, see ``list``) in
a scratch directory /tmp/llcapture-XXXX, reads the audit multicast group
meanwhile, and waits for the ``status=deallocated`` record of every domain
the scenarios logged.  Audit is enabled for the run if it was off, and
switched back off afterwards.  Daemons started here are stopped by pid.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from lldecode.audit.netlink import AuditControl, AuditMulticast, record_as_line
from tools.kernel import auditd
from tools.kernel.audit_guard import audit_undisturbed
from tools.kernel.landlock import unavailable_reason
from tools.kernel.scenarios import BY_NAME, SCENARIOS, Scenario, burst, run_scenario

LANDLOCK_ACCESS = 1423
LANDLOCK_DOMAIN = 1424
# The kernel lets 10 console (printk) audit lines through every 5 seconds.
CONSOLE_PACE = 5.2
JOURNALD = "/lib/systemd/systemd-journald"
JOURNALD_CONF = """[Journal]
Storage=volatile
Audit=yes
ForwardToSyslog=no
ForwardToWall=no
"""
JOURNAL_FORMATS = ("short", "short-precise", "short-iso", "json")

Record = Tuple[int, str]
_DOMAIN = re.compile(r"domain=([0-9a-f]+) status=(allocated|deallocated)(?:.* pid=(\d+))?")


class Refusal(Exception):
    """This machine cannot make the capture (exit status 2)."""


# --- the audit multicast group ---------------------------------------------

def domains(records: Sequence[Record]) -> Tuple[Dict[str, int], Set[str]]:
    """Logged domains (with their creator's pid) and freed domains."""
    allocated: Dict[str, int] = {}
    freed: Set[str] = set()
    for rtype, payload in records:
        match = _DOMAIN.search(payload) if rtype == LANDLOCK_DOMAIN else None
        if match and match.group(2) == "deallocated":
            freed.add(match.group(1))
        elif match and match.group(3):
            allocated[match.group(1)] = int(match.group(3))
    return allocated, freed


def foreign_domains(records: Sequence[Record], pids: Set[int]) -> Set[str]:
    """Logged domains created by other processes than ``pids``."""
    return {domain for domain, pid in domains(records)[0].items() if pid not in pids}


def only_ours(records: Sequence[Record], pids: Set[int]) -> bool:
    """Whether every record belongs to an event of the domains of ``pids``."""
    ours = {domain for domain, pid in domains(records)[0].items() if pid in pids}
    serials = {_serial(payload) for rtype, payload in records
               if rtype in (LANDLOCK_ACCESS, LANDLOCK_DOMAIN)
               and (m := re.search(r"domain=([0-9a-f]+)", payload)) and m.group(1) in ours}
    return all(_serial(payload) in serials for _, payload in records)


def _serial(payload: str) -> str:
    return payload[:payload.find(")")]


class Collector:
    """Reads the audit multicast group in a thread while scenarios run."""

    def __init__(self) -> None:
        self.records: List[Record] = []
        self.overruns = 0
        self.last_seen = time.monotonic()
        self._socket = AuditMulticast()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> "Collector":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                for record in self._socket.messages(timeout=0.2):
                    self.records.append(record)
                    self.last_seen = time.monotonic()
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                self.overruns += 1

    def undeallocated(self, pids: Set[int]) -> Set[str]:
        """Domains created by ``pids`` that were logged but not yet freed."""
        allocated, freed = domains(list(self.records))
        return {domain for domain, pid in allocated.items() if pid in pids} - freed

    def wait_quiet(self, seconds: float, timeout: float = 900.0) -> None:
        """Wait until no audit record arrived for ``seconds``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() - self.last_seen < seconds:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the audit log did not go quiet in {timeout} s")
            time.sleep(0.2)

    def wait_deallocated(self, pids: Set[int], timeout: float = 15.0) -> Set[str]:
        """Wait for the deallocated records; return the domains still missing."""
        deadline = time.monotonic() + timeout
        while self.undeallocated(pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)  # let the event's last records (and auditd) catch up
        return self.undeallocated(pids)

    def saw(self, predicate: Callable[[Record], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(predicate(record) for record in list(self.records)):
                return True
            time.sleep(0.1)
        return False


def write_records(records: Sequence[Record], path: Path, bare: bool = False) -> None:
    """``type=N audit(...): body`` lines, or bare ``audit(...): body`` ones."""
    lines = [payload if bare else record_as_line(rtype, payload) for rtype, payload in records]
    path.write_bytes("".join(line + "\n" for line in lines).encode("latin-1"))


# --- one capture session ----------------------------------------------------

@dataclass
class Plan:
    scenarios: List[Scenario]
    burst: int = 0
    pace: float = 0.0


@dataclass
class Session:
    root: Path
    collector: Collector
    reports: List[dict] = field(default_factory=list)

    def run(self, plan: Plan) -> List[dict]:
        """A burst first (then a pause of ``pace``), then the scenarios;
        waits for their domains' deallocation.  Returns the children's reports."""
        reports = []
        if plan.burst:
            reports.append(self._run_one(burst(plan.burst), 0.0))
            time.sleep(plan.pace)
        for scenario in plan.scenarios:
            reports.append(self._run_one(scenario, plan.pace))
        missing = self.collector.wait_deallocated(pids_of(reports))
        if missing:
            warn(f"no deallocated record (yet) for domain(s) {', '.join(sorted(missing))}")
        if self.collector.overruns:
            warn(f"the multicast socket overran {self.collector.overruns} time(s): "
                 "the netlink capture misses records")
        self.reports += reports
        return reports

    def check_foreign(self) -> None:
        foreign = foreign_domains(list(self.collector.records), pids_of(self.reports))
        if foreign:
            warn(f"{len(foreign)} Landlock domain(s) of other processes were logged meanwhile:"
                 " the capture holds more than the scenarios' records")

    def _run_one(self, scenario: Scenario, pace: float) -> dict:
        report = run_scenario(scenario, self.root, pace)
        status = "ok" if not report["unexpected"] else f"UNEXPECTED {report['unexpected']}"
        pid = report.get("value", {}).get("pid", "?")
        print(f"{scenario.name:28} pid {pid}: {status}", file=sys.stderr)
        return report


def pids_of(reports: Sequence[dict]) -> Set[int]:
    return {report["value"]["pid"] for report in reports if report.get("ok")}


def warn(message: str) -> None:
    print(f"capture: warning: {message}", file=sys.stderr)


@contextmanager
def scratch_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="llcapture-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def audit_enabled() -> Iterator[None]:
    """Enable audit if it is off; put it back off afterwards."""
    with AuditControl() as ctl:
        was_enabled = ctl.status()["enabled"]
        if not was_enabled:
            ctl.set_enabled(True)
    try:
        yield
    finally:
        with AuditControl() as ctl:
            if not was_enabled:
                ctl.set_enabled(False)
            elif not ctl.status()["enabled"]:
                warn("audit was switched off during the capture; switching it back on")
                ctl.set_enabled(True)


@contextmanager
def session() -> Iterator[Session]:
    with scratch_dir() as root, audit_enabled(), Collector() as collector:
        yield Session(root, collector)


def capture_netlink(scenarios: Sequence[Scenario], pace: float = 0.0,
                    undisturbed: bool = False) -> Tuple[List[Record], List[dict]]:
    """Run ``scenarios``; return the multicast records and the children's reports.

    With ``undisturbed``, raise :class:`tools.kernel.audit_guard.Disturbed`
    when the audit status changed during the run (records lost, an audit
    daemon came or went, audit switched off or reconfigured) or the
    multicast socket overran: the records may then be incomplete.
    """
    with session() as run:
        guarded = audit_undisturbed("the netlink capture") if undisturbed else nullcontext()
        with guarded as guard:
            run.run(Plan(list(scenarios), pace=pace))
            if guard is not None and run.collector.overruns:
                guard.disturb(f"the audit multicast socket overran {run.collector.overruns}"
                              " time(s): records were dropped")
        run.check_foreign()
    return list(run.collector.records), run.reports


# --- requirements -------------------------------------------------------------

def require(mode: str) -> None:
    reason = unavailable_reason()
    if reason:
        raise Refusal(reason)
    tools = {"auditd": ["auditd", "auditctl"], "dmesg": ["dmesg"],
             "journald": ["unshare", "journalctl"]}.get(mode, [])
    for tool in tools:
        if shutil.which(tool) is None:
            raise Refusal(f"{tool} is not installed")
    if mode == "journald" and not os.access(JOURNALD, os.X_OK):
        raise Refusal(f"{JOURNALD} is not installed")
    if mode in ("auditd", "dmesg"):
        pid = auditd.audit_pid()
        if pid:
            raise Refusal(f"an audit daemon (pid {pid}) is already registered with the kernel")


# --- modes ------------------------------------------------------------------

def mode_netlink(args: argparse.Namespace, plan: Plan) -> None:
    with session() as run:
        run.run(plan)
        run.check_foreign()
    finish(args, run.collector.records, run.reports)


def finish(args: argparse.Namespace, records: Sequence[Record], reports: Sequence[dict]
           ) -> None:
    """Write the netlink capture(s) and the children's reports."""
    for path, bare in ((args.netlink, False), (args.bare, True)):
        if path:
            write_records(records, path, bare)
    if args.reports:
        args.reports.write_text(json.dumps(list(reports), indent=1) + "\n")


def mode_auditd(args: argparse.Namespace, plan: Plan) -> None:
    config = auditd.AuditdConfig(
        log_format=args.log_format.upper(), name_format=args.name_format.upper(),
        max_log_file=args.max_log_file, num_logs=args.num_logs,
        max_log_file_action="ROTATE" if args.rotated_dir else "IGNORE")
    with session() as run:
        with auditd.running_auditd(run.root / "auditd", config) as daemon:
            with auditd.syscall_rule(os.getpid()):
                run.run(plan)
        run.check_foreign()
        copy_logs(daemon.logs(), args.output, args.rotated_dir)
    finish(args, run.collector.records, run.reports)


def copy_logs(logs: Sequence[Path], output: Optional[Path], rotated_dir: Optional[Path]
              ) -> None:
    if output:
        shutil.copyfile(logs[0], output)
    if rotated_dir:
        rotated_dir.mkdir(parents=True, exist_ok=True)
        for log in logs:
            shutil.copyfile(log, rotated_dir / log.name)


_DMESG_TIME = re.compile(r"^\[\s*(\d+\.\d+)\]")


def dmesg(*options: str) -> List[str]:
    out = subprocess.run(["dmesg", *options], check=True, stdout=subprocess.PIPE).stdout
    return out.decode("latin-1").splitlines()


def _last_time(lines: Sequence[str]) -> float:
    for line in reversed(lines):
        match = _DMESG_TIME.match(line)
        if match:
            return float(match.group(1))
    return -1.0


def dmesg_since(mark: float) -> Tuple[List[str], List[str]]:
    """The kernel log lines after ``mark``, plain and with -T timestamps."""
    for _ in range(5):
        plain, human = dmesg(), dmesg("-T")
        if len(plain) == len(human):
            break
    else:
        raise RuntimeError("the kernel log kept changing between dmesg and dmesg -T")
    start = next((i for i, line in enumerate(plain)
                  if (m := _DMESG_TIME.match(line)) and float(m.group(1)) > mark), len(plain))
    return plain[start:], human[start:]


@dataclass
class Segment:
    """What the console and the multicast group got during one plan."""

    plain: List[str]
    human: List[str]
    records: List[Record]
    reports: List[dict]


def console_segments(plan: Plan) -> List[Plan]:
    """One plan per scenario; a burst stays together with what follows it."""
    if plan.burst:
        return [plan]
    return [Plan([scenario], pace=plan.pace) for scenario in plan.scenarios]


def segment_problem(segment: Segment, burst: bool) -> Optional[str]:
    """Why this segment's console lines are not just the scenarios' ones."""
    if not only_ours(segment.records, pids_of(segment.reports)):
        return "other processes logged audit records meanwhile"
    suppressed = [i for i, line in enumerate(segment.plain) if "callbacks suppressed" in line]
    if suppressed and (not burst or suppressed[0] == 0):
        return "the console rate limit dropped records"
    return None


def capture_segment(run: Session, plan: Plan, attempts: int = 20) -> Segment:
    """Run ``plan`` once the audit log is quiet (which also starts a fresh
    console rate-limit interval); run it again if anything else interfered."""
    for attempt in range(1, attempts + 1):
        run.collector.wait_quiet(CONSOLE_PACE)
        start = len(run.collector.records)
        mark = _last_time(dmesg())
        reports = run.run(plan)
        plain, human = dmesg_since(mark)
        segment = Segment(plain, human, run.collector.records[start:], reports)
        problem = segment_problem(segment, bool(plan.burst))
        if problem is None:
            return segment
        warn(f"attempt {attempt}: {problem}; running it again")
    raise RuntimeError(f"no undisturbed run in {attempts} attempts")


def mode_dmesg(args: argparse.Namespace, plan: Plan) -> None:
    """The console lines of each scenario (see capture_segment), in order."""
    with session() as run:
        segments = [capture_segment(run, part) for part in console_segments(plan)]
    for path, lines in ((args.output, [s.plain for s in segments]),
                        (args.human, [s.human for s in segments])):
        if path:
            text = "".join(line + "\n" for part in lines for line in part)
            path.write_bytes(text.encode("latin-1"))
    finish(args, [r for s in segments for r in s.records],
           [r for s in segments for r in s.reports])


@contextmanager
def private_journald(root: Path) -> Iterator[int]:
    """systemd-journald in a private mount namespace (its own /run, its own
    journald.conf bound over /etc/systemd/journald.conf); yields its pid."""
    conf = root / "journald.conf"
    conf.write_text(JOURNALD_CONF)
    script = ('mount -t tmpfs tmpfs /run && mount --bind "$1" /etc/systemd/journald.conf'
              ' && exec "$2"')
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--",
                             "sh", "-c", script, "sh", str(conf), JOURNALD],
                            stdin=subprocess.DEVNULL)
    try:
        yield proc.pid
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


def journalctl(directory: Path, *options: str) -> bytes:
    return subprocess.run(["journalctl", "--directory", str(directory), "--no-pager",
                           *options], check=True, stdout=subprocess.PIPE).stdout


def journal_cursor(directory: Path) -> str:
    out = journalctl(directory, "-n", "1", "-o", "cat", "--show-cursor").decode()
    return out.rsplit("-- cursor: ", 1)[1].strip()


def mode_journald(args: argparse.Namespace, plan: Plan) -> None:
    with session() as run:
        with private_journald(run.root) as pid:
            joined = run.collector.saw(lambda r: f" pid={pid} " in r[1] and "nl-mcgrp=1" in r[1])
            if not joined:
                raise RuntimeError("systemd-journald did not join the audit multicast group")
            directory = Path(f"/proc/{pid}/root/run/log/journal")
            time.sleep(1.0)  # let it import the kernel ring buffer
            cursor = journal_cursor(directory)
            run.run(plan)
            run.check_foreign()
            time.sleep(1.0)
            args.out_dir.mkdir(parents=True, exist_ok=True)
            for fmt in JOURNAL_FORMATS:
                out = journalctl(directory, "--after-cursor", cursor, "-o", fmt)
                suffix = "json" if fmt == "json" else "txt"
                (args.out_dir / f"journal-{fmt}.{suffix}").write_bytes(out)
    finish(args, run.collector.records, run.reports)


# --- summary ----------------------------------------------------------------

def summarize(path: Path) -> Dict[str, int]:
    """Count Landlock records in any fixture (one record per line)."""
    text = path.read_bytes().decode("latin-1")
    return {
        "access": len(re.findall(r"\bblockers=", text)),
        "allocated": len(re.findall(r"\bstatus=allocated\b", text)),
        "deallocated": len(re.findall(r"\bstatus=deallocated\b", text)),
        "domains": len(set(re.findall(r"\bdomain=([0-9a-f]+)", text))),
        "lines": text.count("\n"),
    }


def mode_summary(args: argparse.Namespace) -> None:
    for path in args.files:
        counts = summarize(path)
        print(f"{path}: " + " ".join(f"{key}={value}" for key, value in counts.items()))


def mode_list(args: argparse.Namespace) -> None:
    for scenario in SCENARIOS:
        print(f"{scenario.name:28} {scenario.summary}  [{' | '.join(scenario.blockers)}]")


# --- command line -----------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python3 -m tools.kernel.capture",
        description="Run Landlock scenarios and record the kernel's audit records.")
    modes = top.add_subparsers(dest="mode", required=True)
    modes.add_parser("list", help="list the scenarios")
    summary = modes.add_parser("summary", help="count Landlock records in files")
    summary.add_argument("files", nargs="+", type=Path)

    def capture_mode(name: str, help: str, pace: float) -> argparse.ArgumentParser:
        sub = modes.add_parser(name, help=help)
        if name == "netlink":
            sub.add_argument("-o", "--output", dest="netlink", type=Path, required=True,
                             help="write `type=N audit(...): ...` lines")
        else:
            sub.add_argument("--netlink", type=Path,
                             help="also write the multicast group's `type=N audit(...): ...`"
                             " lines")
        sub.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                         help="scenario names (default: all)")
        sub.add_argument("--burst", type=int, default=0, metavar="N",
                         help="first make N identical denials, then pause PACE seconds")
        sub.add_argument("--pace", type=float, default=pace,
                         help="seconds between a scenario's operations (and, for dmesg,"
                         f" of audit silence before each scenario; default {pace})")
        sub.add_argument("--bare", type=Path, help="write bare `audit(...): ...` lines")
        sub.add_argument("--reports", type=Path,
                         help="write the scenario children's pids and outcomes (JSON)")
        return sub

    capture_mode("netlink", "read the audit multicast group only", 0.0)

    daemon = capture_mode("auditd", "run a private auditd with syscall rules", 0.0)
    daemon.add_argument("-o", "--output", type=Path, help="copy of its audit.log")
    daemon.add_argument("--log-format", choices=("raw", "enriched"), default="raw")
    daemon.add_argument("--name-format", choices=("none", "hostname", "fqd", "numeric"),
                        default="none", help="node= prefix (auditd.conf name_format)")
    daemon.add_argument("--rotated-dir", type=Path,
                        help="max_log_file_action=ROTATE; copy audit.log* here")
    daemon.add_argument("--max-log-file", type=int, default=8, help="in MB")
    daemon.add_argument("--num-logs", type=int, default=0)

    console = capture_mode("dmesg", "read the kernel console log (no auditd running)",
                           CONSOLE_PACE)
    console.add_argument("-o", "--output", type=Path, help="plain `dmesg` lines of the run")
    console.add_argument("--human", type=Path, help="the same lines from `dmesg -T`")

    journal = capture_mode("journald", "run a private systemd-journald", 0.0)
    journal.add_argument("--out-dir", type=Path, required=True,
                         help="journal-{short,short-precise,short-iso}.txt, journal-json.json")
    return top


MODES = {"netlink": mode_netlink, "auditd": mode_auditd, "dmesg": mode_dmesg,
         "journald": mode_journald}


def make_plan(args: argparse.Namespace) -> Plan:
    unknown = [name for name in args.scenarios if name not in BY_NAME]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)} (see `list`)")
    chosen = [BY_NAME[name] for name in args.scenarios] or list(SCENARIOS)
    return Plan(chosen, burst=args.burst, pace=args.pace)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    if args.mode == "list":
        mode_list(args)
        return 0
    if args.mode == "summary":
        mode_summary(args)
        return 0
    try:
        require(args.mode)
    except Refusal as exc:
        print(f"capture: cannot capture here: {exc}", file=sys.stderr)
        return 2
    # Clean up (stop daemons, remove the scratch directory) on SIGTERM, and on
    # SIGINT even when started in the background (where SIGINT is ignored).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    MODES[args.mode](args, make_plan(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
