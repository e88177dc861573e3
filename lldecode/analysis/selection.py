"""Selection: which denials a reading command keeps.

Every reading command takes the same options (``--domain``, ``--blocker``,
``--exe``, ``--comm``, ``--pid``, ``--uid``, ``--path``, ``--syscall``,
``--since``, ``--until``, ``--where``); a denial is selected when it matches
every option given, and for a repeated option any of its values.

Values are matched on what the log means, not on how it was spelled:
decoded paths, dotted blocker names (``fs_ioctl_dev`` works too),
syscall names or numbers.  ``--exe``/``--comm``/``--pid``/``--uid`` match
the denied process (its SYSCALL record) and, when the event has none, the
domain's creator.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Callable, Collection, Dict, List, Optional, Sequence, Union

from lldecode.analysis.denials import Denial, log_text
from lldecode.analysis.query import Predicate, QueryError, compile_query
from lldecode.analysis.timespec import TimeSpecError, parse_time
from lldecode.landlock.access import normalize_blocker

_GLOB_CHARS = re.compile(r"[*?\[]")
_LEGACY_PREFIX = re.compile(r"^(fs|net|scope)_")

# A field of a denial, read for a selection or a --where query.
Getter = Callable[[Denial], Any]


def _text(value: Any) -> Optional[str]:
    """A value as text for matching (bytes from the log: every byte kept)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return log_text(value)
    return str(value)


def _port(denial: Denial) -> Optional[int]:
    """The TCP port: local (bind), else remote (connect)."""
    obj = denial.object
    return obj.get("src") if obj.get("src") is not None else obj.get("dest")


def _asked(field: str) -> Getter:
    """A getter of a field of the denied process (None when the event has
    no SYSCALL record, or the field is not in it)."""
    def get(denial: Denial) -> Any:
        process = denial.process
        return process.get(field) if process else None
    return get


def _asked_text(field: str) -> Getter:
    """A getter of a field of the denied process, as text."""
    get = _asked(field)
    return lambda denial: _text(get(denial))


FIELDS: Dict[str, Getter] = {
    "domain": lambda d: d.domain,
    "blocker": lambda d: list(d.blockers),
    "blockers": lambda d: ",".join(d.blockers),
    "path": lambda d: _text(d.path),
    "dev": lambda d: d.object.get("dev"),
    "ino": lambda d: d.object.get("ino"),
    "ioctlcmd": lambda d: d.object.get("ioctlcmd"),
    "port": _port,
    "addr": lambda d: d.object.get("saddr") or d.object.get("daddr"),
    "opid": lambda d: d.object.get("opid"),
    "ocomm": lambda d: _text(d.object.get("ocomm")),
    "exe": lambda d: _text(d.actor("exe")),
    "comm": lambda d: _text(d.actor("comm")),
    "pid": lambda d: d.actor("pid"),
    "ppid": _asked("ppid"),
    "uid": lambda d: d.actor("uid"),
    "auid": _asked("auid"),
    "syscall": _asked("syscall"),
    "errno": _asked("errno"),
    "exit": _asked("exit"),
    "key": _asked("key"),
    "cwd": _asked_text("cwd"),
    "proctitle": _asked_text("proctitle"),
    "time": lambda d: d.time,
    "serial": lambda d: d.serial,
    "node": lambda d: d.node,
    "status": lambda d: d.domain_info.status if d.domain_info else None,
    "carrier": lambda d: d.record.carrier,
    "file": lambda d: d.record.source,
}


# Fields read from the denied process's records (SYSCALL, PROCTITLE, CWD).
PROCESS_FIELDS = frozenset({"exe", "comm", "pid", "ppid", "uid", "auid", "syscall", "errno",
                            "exit", "key", "cwd", "proctitle"})


def domain_id(text: str) -> str:
    """A domain id as the kernel logs it: lower-case hex without 0x."""
    text = text.strip().lower()
    return text[2:] if text.startswith("0x") else text


def normalize_blocker_pattern(pattern: str) -> str:
    """``fs_ioctl_*`` -> ``fs.ioctl_*``; ``fs_ioctl_dev`` -> ``fs.ioctl_dev``."""
    normalized = normalize_blocker(pattern)
    if normalized != pattern:
        return normalized
    return _LEGACY_PREFIX.sub(r"\1.", pattern)


def _path_matcher(pattern: str) -> Callable[[Optional[str]], bool]:
    """A glob when it has glob characters, else the path or anything below it."""
    if _GLOB_CHARS.search(pattern):
        regex = re.compile(fnmatch.translate(pattern))
        return lambda path: path is not None and regex.match(path) is not None
    prefix = pattern.rstrip("/") or "/"
    return lambda path: path is not None and (
        path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/"))


def _ordered(field: str, value: str) -> Union[int, float]:
    """A value of ``--where`` as the ordering operators compare it."""
    if field == "time":
        return parse_time(value)
    try:
        return int(value, 0)
    except ValueError:
        return float(value)


class SelectionError(ValueError):
    """Options that cannot select anything as asked: the message names the
    option; ``pointer`` is a caret under the fault of a ``--where`` query."""

    def __init__(self, message: str, pointer: Optional[str] = None):
        super().__init__(message)
        self.pointer = pointer


class Selection:
    """The denials to keep; built from the command-line options.

    >>> from lldecode.analysis.selection import Selection
    >>> Selection.from_options(blockers=["fs.truncate"]).empty
    False
    >>> Selection().empty
    True
    """

    @classmethod
    def from_options(cls, domains: Sequence[str] = (), blockers: Sequence[str] = (),
                     exes: Sequence[str] = (), comms: Sequence[str] = (),
                     pids: Sequence[int] = (), uids: Sequence[int] = (),
                     paths: Sequence[str] = (), syscalls: Sequence[str] = (),
                     since: Optional[str] = None, until: Optional[str] = None,
                     where: Optional[str] = None) -> "Selection":
        """A selection from the options as written (times as text): raises
        :class:`SelectionError` with a message naming the option at fault."""
        try:
            start = parse_time(since) if since else None
            end = parse_time(until) if until else None
        except TimeSpecError as exc:
            raise SelectionError(f"--since/--until: {exc}") from None
        try:
            return cls(domains=domains, blockers=blockers, exes=exes, comms=comms,
                       pids=pids, uids=uids, paths=paths, syscalls=syscalls,
                       since=start, until=end, where=where)
        except QueryError as exc:
            raise SelectionError(f"--where: {exc}", exc.pointer()) from None
        except ValueError as exc:
            raise SelectionError(f"--where: {exc}") from None

    def __init__(self, domains: Sequence[str] = (), blockers: Sequence[str] = (),
                 exes: Sequence[str] = (), comms: Sequence[str] = (),
                 pids: Sequence[int] = (), uids: Sequence[int] = (),
                 paths: Sequence[str] = (), syscalls: Sequence[str] = (),
                 since: Optional[float] = None, until: Optional[float] = None,
                 where: Optional[str] = None):
        self.tests: List[Predicate] = []
        # Does choosing need the denied process (the event's SYSCALL record)?
        self.needs_process = bool(exes or comms or pids or uids or syscalls)
        if domains:
            wanted = {domain_id(d) for d in domains}
            self.tests.append(lambda d: d.domain.lower() in wanted)
        if blockers:
            patterns = [normalize_blocker_pattern(b) for b in blockers]
            self.tests.append(lambda d: any(fnmatch.fnmatchcase(b, p)
                                            for b in d.blockers for p in patterns))
        for values, field in ((exes, "exe"), (comms, "comm")):
            if values:
                self.tests.append(self._glob_test(FIELDS[field], values))
        for numbers, field in ((pids, "pid"), (uids, "uid")):
            if numbers:
                self.tests.append(self._member_test(FIELDS[field], set(numbers)))
        if paths:
            matchers = [_path_matcher(p) for p in paths]
            self.tests.append(lambda d: any(m(FIELDS["path"](d)) for m in matchers))
        if syscalls:
            wanted_sc = set(syscalls)
            self.tests.append(lambda d: d.process is not None and (
                d.process.get("syscall") in wanted_sc
                or str(d.process.get("syscall_nr")) in wanted_sc))
        if since is not None:
            self.tests.append(lambda d: d.time is not None and d.time >= since)
        if until is not None:
            self.tests.append(lambda d: d.time is not None and d.time <= until)
        if where:
            query = compile_query(where, FIELDS, _ordered)
            self.tests.append(query)
            self.needs_process = self.needs_process or bool(query.fields & PROCESS_FIELDS)

    @staticmethod
    def _member_test(get: Getter, wanted: Collection[int]) -> Predicate:
        def test(denial: Denial) -> bool:
            return get(denial) in wanted
        return test

    @staticmethod
    def _glob_test(get: Getter, patterns: Sequence[str]) -> Predicate:
        def test(denial: Denial) -> bool:
            value = get(denial)
            if value is None:
                return False
            base = value.rsplit("/", 1)[-1]
            return any(fnmatch.fnmatchcase(value, p) or fnmatch.fnmatchcase(base, p)
                       for p in patterns)
        return test

    @property
    def empty(self) -> bool:
        """Is every denial selected (no option given)?"""
        return not self.tests

    def __call__(self, denial: Denial) -> bool:
        for test in self.tests:
            if not test(denial):
                return False
        return True


__all__ = ["FIELDS", "QueryError", "Selection", "SelectionError", "normalize_blocker_pattern"]
