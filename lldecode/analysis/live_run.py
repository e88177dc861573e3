"""Run a command sandboxed and read its denials live (``lldecode run``).

:class:`LiveRun` enforces a policy on a command (:mod:`lldecode.landlock.enforce`)
and reads the kernel's audit multicast group while it runs, keeping only
the denials of the command's domains and its descendants' (a
:class:`Tracker` learns them), one operation at a time as the kernel logs
them (:meth:`LiveRun.operations`), and sums them up at the end
(:meth:`LiveRun.summary`).

The socket subscribes before the command starts, so nothing it does is
missed; after it ends, records still arriving are read for a short while
(``drain`` seconds, less once every domain of the command has said how
many denials the kernel counted).  Without the privilege to read audit
records (CAP_AUDIT_READ) the command still runs sandboxed:
:attr:`LiveRun.problems` says what is missing and :meth:`LiveRun.afterwards`
how to read the denials later from the audit log.
"""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from lldecode.analysis.denials import Denial
from lldecode.analysis.domains import DomainInfo, DomainRegistry
from lldecode.analysis.pipeline import Reading
from lldecode.audit import sources
from lldecode.audit.records import Diagnostics
from lldecode.landlock import enforce
from lldecode.landlock.policy import Policy

# After the command ends: read records for at most this long (seconds), and
# stop sooner once this long passed without one and every domain of the
# command reported its count (the kernel logs a domain's deallocation when
# its last process is gone).
DRAIN = 1.5
DRAIN_IDLE = 0.3
# How often the command is looked at while no record comes (seconds).
POLL = 0.05
# The netlink type of LANDLOCK_DOMAIN records.
AUDIT_LANDLOCK_DOMAIN = 1424
# Distinct denied operations kept (for the summary and --suggest); more are
# counted, not kept.
MAX_GROUPS = 10_000


def _number(value: Any) -> Optional[int]:
    """A pid from the log (an int, or digits), else None."""
    if isinstance(value, int):
        return value
    if isinstance(value, (str, bytes)) and value.isdigit() and len(value) < 12:
        return int(value)
    return None


def proc_ancestry(pid: int) -> List[int]:
    """The parents of a live process, nearest first, from /proc (empty when
    it is gone)."""
    chain: List[int] = []
    while pid > 1 and len(chain) < 4096:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stream:
                stat = stream.read()
        except OSError:
            break
        # pid (comm) state ppid ...: comm may hold anything, parentheses too
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) < 2:
            break
        pid = int(fields[1])
        chain.append(pid)
    return chain


class Tracker:
    """The domains and processes of a command and its descendants.

    A domain is the command's when its allocated record names as creator
    the command or a descendant (every layer the command enforces is a
    domain it creates; a descendant may nest its own).  A process is a
    descendant when its parent is one (the SYSCALL records of denials say),
    when it is denied by one of the command's domains, or, for a creator
    not seen yet, when /proc shows the command among its ancestors.  A
    denial of one of these processes by a domain they inherited (lldecode
    itself ran in a sandbox) is theirs too.
    """

    def __init__(self, root: int,
                 ancestry: Callable[[int], List[int]] = proc_ancestry) -> None:
        self.root = root
        self.pids: Set[int] = {root}
        self.domains: Set[str] = set()
        self.ancestry = ancestry

    def _descends(self, pid: Optional[int]) -> bool:
        if pid is None:
            return False
        if pid in self.pids:
            return True
        if any(parent in self.pids for parent in self.ancestry(pid)):
            self.pids.add(pid)
            return True
        return False

    def claims(self, denial: Denial) -> bool:
        """Is this denial the command's (or a descendant's)?  Learns from it."""
        process = denial.process or {}
        pid, ppid = _number(process.get("pid")), _number(process.get("ppid"))
        if pid is not None and ppid is not None and ppid in self.pids:
            self.pids.add(pid)
        if denial.domain not in self.domains:
            creator = denial.creator or {}
            if self._descends(_number(creator.get("pid"))):
                self.domains.add(denial.domain)
        if denial.domain in self.domains:
            if pid is not None:
                self.pids.add(pid)
            return True
        # a domain the command inherited (this process ran sandboxed): its
        # denial of the command's processes, not of the others it holds
        return pid is not None and pid in self.pids


def _signature(denials: Sequence[Denial]) -> Tuple[Any, ...]:
    """What makes two operations alike: domains, blockers, objects, the
    syscall and the executable (not the pid: a loop of children folds)."""
    process = denials[0].process or {}
    return tuple((d.domain, tuple(d.blockers), tuple(sorted(d.object.items())))
                 for d in denials) + ((process.get("syscall"), process.get("exe")),)


@dataclass
class Group:
    """Alike operations of the command: the first one, and how many."""

    denials: List[Denial]
    count: int = 1
    last_time: Optional[float] = None


@dataclass
class Summary:
    """The end of a run: what the command did, what the kernel denied."""

    argv: Tuple[str, ...]
    pid: Optional[int]
    status: int
    failure: Optional[str]
    started: float
    ended: float
    operations: int
    groups: List[Group]
    groups_dropped: int
    domains: List[DomainInfo]
    problems: List[str]
    read: bool

    def as_dict(self) -> Dict[str, Any]:
        """The summary as plain values (for JSON)."""
        return {
            "argv": list(self.argv), "pid": self.pid, "status": self.status,
            "failure": self.failure, "started": self.started, "ended": self.ended,
            "denied_operations": self.operations if self.read else None,
            "groups": [{"count": g.count, "domain": g.denials[0].domain,
                        "blockers": [b for d in g.denials for b in d.blockers],
                        "paths": [d.path for d in g.denials],
                        "syscall": (g.denials[0].process or {}).get("syscall")}
                       for g in self.groups],
            "groups_not_kept": self.groups_dropped,
            "domains": [{"domain": info.id, "denials_logged": info.denials_logged,
                         "denials_counted_by_kernel": info.denials_reported,
                         "status": info.status} for info in self.domains],
            "problems": list(self.problems),
        }


class LiveRun:
    """One sandboxed run of a command, its denials read live.

    ``policy``: the layers to enforce; ``flags``: landlock_restrict_self()
    flags (:func:`lldecode.landlock.enforce.restrict_flags`); ``enable_audit``:
    turn the kernel's audit on for the run when it is off (restored after).
    Call :meth:`start`, iterate :meth:`operations` (it returns when the
    command has ended and its records are read), then :meth:`summary`.
    """

    def __init__(self, argv: Sequence[str], policy: Policy,
                 flags: int = enforce.LOG_NEW_EXEC_ON, enable_audit: bool = False,
                 drain: float = DRAIN) -> None:
        if not argv:
            raise ValueError("no command to run")
        self.argv = tuple(argv)
        self.policy = policy
        self.flags = flags
        self.enable_audit = enable_audit
        self.drain = drain
        self.plan: Optional[enforce.Plan] = None
        self.warnings: List[str] = []       # what the sandbox leaves out of the policy
        self.problems: List[str] = []       # why denials may be missing from the run
        self.child: Optional[enforce.Child] = None
        self.diagnostics = Diagnostics()
        # the machine's domains, followed for the records of the command's
        self.registry = DomainRegistry(keep_finished=False)
        self.tracker: Optional[Tracker] = None
        self.groups: Dict[Tuple[Any, ...], Group] = {}
        self.groups_dropped = 0
        # the command's domains, by id, as the registry follows them
        self.domain_infos: Dict[str, DomainInfo] = {}
        self.count = 0
        self.started = self.ended = 0.0
        self._multicast: Any = None
        self._deallocated: Set[str] = set()  # domain ids whose deallocation was read
        self._restore_audit = False

    # -- starting ------------------------------------------------------------

    def start(self) -> enforce.Child:
        """Fit the policy to the kernel, subscribe to the audit records,
        start the command sandboxed (EnforceError when Landlock cannot)."""
        abi = enforce.kernel_abi()
        self.plan = enforce.plan(self.policy, abi, self.flags)
        self.warnings.extend(self.plan.warnings)
        if not self.plan.layers:
            raise enforce.EnforceError(errno.EINVAL, "no layer of the policy can be enforced "
                                       "on this kernel")
        if self.plan.abi >= enforce.AUDIT_ABI and not self.flags & enforce.LOG_NEW_EXEC_ON:
            self.problems.append("--no-log-new-exec: the kernel logs no denial of the command "
                                 "(it runs after an execve)")
        self._check_audit()
        self._subscribe()
        with enforce.build(self.plan) as rulesets:
            self.warnings.extend(rulesets.warnings)
            self.started = time.time()
            self.child = enforce.spawn(self.argv, rulesets, self.plan.flags)
        self.tracker = Tracker(self.child.pid)
        self.child.wait_started()
        return self.child

    def _check_audit(self) -> None:
        from lldecode.audit.netlink import AuditControl

        try:
            with AuditControl() as control:
                if control.status()["enabled"]:
                    return
                if self.enable_audit:
                    control.set_enabled(True)
                    self._restore_audit = True
                    return
        except (OSError, TimeoutError):
            return  # without CAP_AUDIT_CONTROL the status is not ours to read
        self.problems.append("the kernel's audit is disabled: it logs no denial (enable it "
                             "with `auditctl -e 1`, or give --enable-audit)")

    def _subscribe(self) -> None:
        from lldecode.audit.netlink import AuditMulticast

        try:
            self._multicast = AuditMulticast()
        except PermissionError:
            self.problems.append("cannot read the audit records: reading the kernel's audit "
                                 "multicast group needs CAP_AUDIT_READ (run as root)")
        except OSError as exc:
            self.problems.append(f"cannot read the audit records: {exc.strerror or exc}")

    @property
    def reading(self) -> bool:
        """Are the command's denials read live?"""
        return self._multicast is not None

    # -- reading -------------------------------------------------------------

    def _lines(self) -> Iterator[str]:
        """The audit records as lines while the command runs, and for a
        little while after (see :data:`DRAIN`)."""
        from lldecode.audit.netlink import record_as_line

        child, multicast = self.child, self._multicast
        assert child is not None and multicast is not None
        ended_at: Optional[float] = None
        last = time.monotonic()
        while True:
            try:
                for rtype, payload in multicast.messages(timeout=POLL):
                    last = time.monotonic()
                    if rtype == AUDIT_LANDLOCK_DOMAIN and "status=deallocated" in payload:
                        # its event waits in the grouper until the next record
                        self._deallocated.add(payload.split("domain=", 1)[-1].split(" ", 1)[0])
                    yield record_as_line(rtype, payload)
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                self._note("the audit multicast socket overran (ENOBUFS): records were "
                           "dropped")
            now = time.monotonic()
            if ended_at is None:
                if child.poll() is not None:
                    self.ended = time.time()
                    ended_at = now
                continue
            if now - ended_at >= self.drain:
                return
            if now - last >= DRAIN_IDLE and self._all_counted():
                return

    def _note(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def _all_counted(self) -> bool:
        tracker = self.tracker
        if tracker is None or not tracker.domains:
            return True
        return all(domain in self._deallocated for domain in tracker.domains)

    def operations(self) -> Iterator[List[Denial]]:
        """Each denied operation of the command (one denial, two for a rename
        or link across directories), as the kernel logs it; returns once the
        command has ended.  Without the audit records, waits for the
        command and yields nothing."""
        child, tracker = self.child, self.tracker
        if child is None or tracker is None:
            raise RuntimeError("start() first")
        try:
            if self._multicast is None:
                child.wait()
                self.ended = time.time()
                return
            source = sources.LinesSource(self._lines(), name="netlink")
            reading = Reading([], self.diagnostics, registry=self.registry,
                              given_sources=[source])
            for _event, denials in reading.events():
                mine = [d for d in denials if tracker.claims(d)]
                for denial in mine:
                    if denial.domain_info is not None:
                        self.domain_infos.setdefault(denial.domain, denial.domain_info)
                for operation in _split(mine):
                    self._count(operation)
                    yield operation
            child.wait()
        finally:
            self.close()

    def _count(self, operation: List[Denial]) -> None:
        self.count += 1
        signature = _signature(operation)
        group = self.groups.get(signature)
        if group is not None:
            group.count += 1
            group.last_time = operation[0].time
        elif len(self.groups) < MAX_GROUPS:
            self.groups[signature] = Group(operation, 1, operation[0].time)
        else:
            self.groups_dropped += 1

    def is_repeat(self, operation: List[Denial]) -> bool:
        """Was an alike operation seen before this one?"""
        group = self.groups.get(_signature(operation))
        return group is not None and group.denials is not operation

    def close(self) -> None:
        """Stop reading (and put the audit setting back)."""
        if self._multicast is not None:
            self._multicast.close()
            self._multicast = None
            self._was_read = True
        if self._restore_audit:
            self._restore_audit = False
            from lldecode.audit.netlink import AuditControl

            try:
                with AuditControl() as control:
                    control.set_enabled(False)
            except (OSError, TimeoutError) as exc:
                self._note(f"could not turn the kernel's audit off again: {exc}")

    # -- the end ---------------------------------------------------------------

    def summary(self) -> Summary:
        """What the run did (after :meth:`operations`)."""
        child = self.child
        assert child is not None and self.tracker is not None
        domains = sorted(self.domain_infos.values(), key=lambda info: info.number)
        return Summary(self.argv, child.pid, child.wait(), child.failure, self.started,
                       self.ended or time.time(), self.count, list(self.groups.values()),
                       self.groups_dropped, domains, list(self.problems),
                       getattr(self, "_was_read", False))

    def afterwards(self) -> str:
        """How to read the command's denials later, from the audit log."""
        pid = self.child.pid if self.child is not None else "PID"
        since = f"{self.started - 1:.0f}" if self.started else "START"
        until = f"{(self.ended or time.time()) + 2:.0f}"
        return (f"to read its denials afterwards, from the audit log: lldecode explain "
                f"--pid {pid} --since {since} --until {until} /var/log/audit/audit.log "
                "(--pid selects the command itself; leave it out to see its children "
                "too)")


def _split(denials: List[Denial]) -> Iterator[List[Denial]]:
    """The operations of one event's denials: a record with operation
    index 0 starts one (a rename's second record continues it)."""
    pending: List[Denial] = []
    for denial in denials:
        if pending and denial.operation_index == 0:
            yield pending
            pending = []
        pending.append(denial)
    if pending:
        yield pending


@dataclass
class Round:
    """One round of ``run --learn``: the policy files enforced, its summary."""

    number: int
    policy_files: List[str]
    summary: Summary
    added: List[str] = field(default_factory=list)
