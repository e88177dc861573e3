"""Selection: which denials a reading command keeps.

Every reading command takes the same options (``--domain``, ``--blocker``,
``--exe``, ``--comm``, ``--pid``, ``--uid``, ``--path``, ``--syscall``,
``--since``, ``--until``, ``--where``); a denial is selected when it matches
every option given, and for a repeated option any of its values.

Values are matched on what the log means, not on how it was spelled:
decoded paths, dotted blocker names (``fs_ioctl_dev``, ``ioctl_dev`` and
``LANDLOCK_ACCESS_FS_IOCTL_DEV`` work too), syscall names or numbers, users
by name or number (``ausearch -i`` writes ``uid=root``).
``--exe``/``--comm``/``--pid``/``--uid`` match the denied process (its
SYSCALL record) and, when the event has none, the domain's creator.

Never silent: a selector that cannot match anything is an error
(:class:`SelectionError`: an unknown blocker name, a glob matching no
blocker, a malformed domain id, an unknown user), and a selector on a field
that no denial of the input carries is reported by :meth:`Selection.warnings`
once the input is read.
"""

from __future__ import annotations

import fnmatch
import functools
import operator
import re
from typing import (
    Any,
    Callable,
    Collection,
    Dict,
    FrozenSet,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from lldecode.analysis.denials import Denial, log_text
from lldecode.analysis.query import ORDERING, Predicate, QueryError, ValueTest, compile_query
from lldecode.analysis.timespec import TimeSpecError, parse_time
from lldecode.landlock.access import NON_RIGHT_BLOCKERS, RIGHTS, normalize_blocker

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


# Fields read from the Landlock access record alone: choosing by them needs
# neither the process records nor the domain registry (Selection.needs_domains).
RECORD_FIELDS = frozenset({"domain", "blocker", "blockers", "path", "dev", "ino", "ioctlcmd",
                           "port", "addr", "opid", "ocomm", "time", "serial", "node", "carrier",
                           "file"})

# Fields read from the denied process's records (SYSCALL, PROCTITLE, CWD).
PROCESS_FIELDS = frozenset({"exe", "comm", "pid", "ppid", "uid", "auid", "syscall", "errno",
                            "exit", "key", "cwd", "proctitle"})


def domain_id(text: str) -> str:
    """A domain id as the kernel logs it: lower-case hex without 0x."""
    text = text.strip().lower()
    return text[2:] if text.startswith("0x") else text


# -- what a selector may name ---------------------------------------------------------

# A domain id: 1 to 16 hex digits (the kernel logs a u64 in hex, no 0x).
_DOMAIN_ID = re.compile(r"[0-9a-f]{1,16}")
_DOMAIN_HINT = "1 to 16 hexadecimal digits, 0x optional, as logged: domain=1b6b16194"

# Blockers the kernel can log: every right (dotted), the blockers that are
# not rights, and "unknown" (what the kernel logs for a bit it cannot name).
KNOWN_BLOCKERS: Tuple[str, ...] = tuple(
    [r.dotted for r in RIGHTS] + list(NON_RIGHT_BLOCKERS) + ["unknown"])

# The kernel's constants: LANDLOCK_ACCESS_FS_TRUNCATE, LANDLOCK_SCOPE_SIGNAL.
_CONSTANT_PREFIXES = (("landlock_access_fs_", "fs."), ("landlock_access_net_", "net."),
                      ("landlock_scope_", "scope."))


def _spellings() -> Dict[str, str]:
    """Every accepted spelling of a blocker (lower case) -> its dotted name:
    dotted, legacy (fs_truncate), bare as landlockconfig writes it
    (truncate), and the kernel's constant (LANDLOCK_ACCESS_FS_TRUNCATE)."""
    names: Dict[str, str] = {}
    bare: Dict[str, List[str]] = {}
    for dotted in KNOWN_BLOCKERS:
        names[dotted] = dotted
        kind, _, short = dotted.rpartition(".")
        if kind:
            names[f"{kind}_{short}"] = dotted
            bare.setdefault(short, []).append(dotted)
    for r in RIGHTS:
        constant = {"fs": "landlock_access_fs_", "net": "landlock_access_net_",
                    "scope": "landlock_scope_"}[r.kind] + r.name
        names[constant] = r.dotted
    for short, dotted_names in bare.items():
        if len(dotted_names) == 1:  # a bare name of two kinds would be ambiguous
            names.setdefault(short, dotted_names[0])
    return names


_SPELLINGS = _spellings()


def _respell(text: str) -> str:
    """A blocker name or glob, lower case, kernel constant prefixes and the
    legacy kind_ prefix spelled the dotted way (LANDLOCK_ACCESS_FS_* -> fs.*)."""
    text = text.strip().lower()
    for prefix, kind in _CONSTANT_PREFIXES:
        if text.startswith(prefix):
            return kind + text[len(prefix):]
    if text not in _SPELLINGS:
        text = _LEGACY_PREFIX.sub(r"\1.", text)
    return text


# Names offered for a misspelt one: at least this close (difflib's ratio),
# and no further than this from the closest one.
_CLOSE = 0.6
_CLOSE_MARGIN = 0.1


def _closest(text: str) -> str:
    """' (did you mean ...?)' naming the blockers spelled closest to ``text``,
    or the list of every blocker."""
    import difflib  # (here: only a misspelt name needs it)

    word = _respell(text).replace("*", "").replace("?", "")
    scored = sorted(((difflib.SequenceMatcher(None, word, spelling).ratio(), spelling)
                     for spelling in _SPELLINGS), reverse=True)
    found: List[str] = []
    best = scored[0][0]
    for ratio, spelling in scored:
        if ratio < max(_CLOSE, best - _CLOSE_MARGIN):
            break
        if _SPELLINGS[spelling] not in found:
            found.append(_SPELLINGS[spelling])
    if found:
        return f" (did you mean {' or '.join(found[:3])}?)"
    return f" (blockers: {', '.join(KNOWN_BLOCKERS)})"


def canonical_blocker(name: str) -> str:
    """The dotted name of a blocker spelled any accepted way, case-insensitive
    (``truncate``, ``fs_truncate``, ``LANDLOCK_ACCESS_FS_TRUNCATE`` ->
    ``fs.truncate``); ValueError naming the closest names if none is.

    >>> canonical_blocker("LANDLOCK_SCOPE_SIGNAL")
    'scope.signal'
    """
    found = _SPELLINGS.get(name.strip().lower()) or _SPELLINGS.get(_respell(name))
    if found is None:
        hint = " (= compares exactly: ~ takes a glob)" if _GLOB_CHARS.search(name) else ""
        raise ValueError(f"unknown blocker {name!r}{hint or _closest(name)}")
    return found


def blocker_glob(pattern: str) -> Tuple[FrozenSet[str], str]:
    """(the known blockers a glob or name matches, the glob as matched against
    logged names); ValueError when it matches no blocker.  A glob without a
    kind (``make_*``) matches the bare names too."""
    if not _GLOB_CHARS.search(pattern):
        name = canonical_blocker(pattern)
        return frozenset([name]), name
    glob = _respell(pattern)
    matched = {b for b in KNOWN_BLOCKERS if fnmatch.fnmatchcase(b, glob)}
    if "." not in glob:
        matched.update(b for b in KNOWN_BLOCKERS
                       if fnmatch.fnmatchcase(b.rpartition(".")[2], glob))
    if not matched:
        raise ValueError(f"{pattern!r} matches no blocker{_closest(pattern)}")
    return frozenset(matched), glob


def normalize_blocker_pattern(pattern: str) -> str:
    """``fs_ioctl_*`` -> ``fs.ioctl_*``; ``fs_ioctl_dev`` -> ``fs.ioctl_dev``."""
    normalized = normalize_blocker(pattern)
    if normalized != pattern:
        return normalized
    return _LEGACY_PREFIX.sub(r"\1.", pattern)


def parse_domain_id(text: str) -> str:
    """A domain id as logged (lower-case hex, no 0x); ValueError unless it is
    1 to 16 hex digits with an optional 0x."""
    canonical = domain_id(text)
    if not _DOMAIN_ID.fullmatch(canonical):
        raise ValueError(f"{text!r} is not a domain id ({_DOMAIN_HINT})")
    return canonical


# -- users -------------------------------------------------------------------------

# How ausearch -i spells ids it cannot name: the unset audit id (-1) and
# a uid its host's user database does not hold.
UNSET_ID = 4294967295
_UNKNOWN_ID = re.compile(r"unknown\((\d+)\)")
_NUMBER = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]+")

# A user as the log may hold it: a number (raw logs) or a name (ausearch -i).
UserId = Union[int, str]


def resolve_user(text: str) -> FrozenSet[UserId]:
    """Every way a log may write the user ``text`` (a name or a number): its
    number and its name in this host's user database (``pwd``).  ValueError
    for a name the database does not hold.

    >>> sorted(resolve_user("0"), key=str)
    [0, 'root']
    """
    import pwd

    text = text.strip()
    unknown = _UNKNOWN_ID.fullmatch(text)
    if unknown:
        text = unknown.group(1)
    if text == "unset":
        return frozenset([UNSET_ID, "unset"])
    if _NUMBER.fullmatch(text):
        number = int(text, 0)
        spellings: Set[UserId] = {number}
        if number == UNSET_ID:
            spellings.add("unset")
        try:
            spellings.add(pwd.getpwuid(number).pw_name)
        except (KeyError, OverflowError):
            pass
        return frozenset(spellings)
    try:
        entry = pwd.getpwnam(text)
    except KeyError:
        import difflib

        names = [p.pw_name for p in pwd.getpwall()]
        near = difflib.get_close_matches(text, names, n=3, cutoff=0.6)
        hint = f" (did you mean {' or '.join(near)}?)" if near else ""
        raise ValueError(f"no user {text!r} in this host's user database{hint}") from None
    return frozenset([entry.pw_uid, entry.pw_name])


@functools.lru_cache(maxsize=256)
def _user_number(value: str) -> Optional[int]:
    """The number of a user the log names (ausearch -i), None if unknown here."""
    import pwd

    unknown = _UNKNOWN_ID.fullmatch(value)
    if unknown:
        return int(unknown.group(1))
    if value == "unset":
        return UNSET_ID
    try:
        return pwd.getpwnam(value).pw_uid
    except KeyError:
        return None


def _as_user_number(value: Any) -> Optional[int]:
    """A logged uid (number or ausearch -i name) as a number, None if unknown."""
    if isinstance(value, int):
        return value
    return _user_number(str(value))


def _user_test(wanted: Collection[UserId]) -> ValueTest:
    """Is a logged uid (a number, a name, ``unknown(N)``) one of ``wanted``?"""
    def test(value: Any) -> bool:
        if value in wanted:
            return True
        if isinstance(value, str):
            unknown = _UNKNOWN_ID.fullmatch(value)
            return unknown is not None and int(unknown.group(1)) in wanted
        return False
    return test


# -- --where: the fields' own checks and comparisons ------------------------------------

def _ordered_user(text: str) -> int:
    """A user in an ordering comparison: a number, or a name of this host."""
    if _NUMBER.fullmatch(text.strip()):
        return int(text.strip(), 0)
    return min(v for v in resolve_user(text) if isinstance(v, int))


def _order(op: str, compare_with: Any, read: Callable[[Any], Any]) -> ValueTest:
    """A test comparing ``read(value)`` with ``compare_with`` by ``op``
    (False when the value does not read)."""
    compare = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]

    def test(value: Any) -> bool:
        try:
            got = read(value)
        except (TypeError, ValueError):
            return False
        return got is not None and bool(compare(got, compare_with))
    return test


def _text_test(op: str, wanted: str, fold: Callable[[str], str] = str) -> ValueTest:
    """The text operators (= != ~ !~ ^= $= *=) on ``fold(str(value))``."""
    if op in ("=", "!="):
        same = op == "="
        return lambda v: (fold(str(v)) == wanted) is same
    if op in ("~", "!~"):
        hit = op == "~"
        return lambda v: fnmatch.fnmatchcase(fold(str(v)), wanted) is hit
    if op == "^=":
        return lambda v: fold(str(v)).startswith(wanted)
    if op == "$=":
        return lambda v: fold(str(v)).endswith(wanted)
    return lambda v: wanted in fold(str(v))


def _blocker_matcher(op: str, text: str) -> ValueTest:
    if op in ORDERING:
        raise ValueError("blocker names have no order: use =, ~, ^=, $= or *=")
    if op in ("=", "!="):
        return _text_test(op, canonical_blocker(text))
    if op in ("~", "!~"):
        names, glob = blocker_glob(text)
        hit = op == "~"
        return lambda v: (v in names or fnmatch.fnmatchcase(v, glob)) is hit
    wanted = _respell(text)
    test = _text_test(op, wanted)
    if not any(test(b) for b in KNOWN_BLOCKERS):
        how = {"^=": "starts with", "$=": "ends with", "*=": "contains"}[op]
        raise ValueError(f"no blocker {how} {text!r}{_closest(text)}")
    return test


def _blockers_matcher(op: str, text: str) -> Optional[ValueTest]:
    """``blockers`` (the record's comma-separated list): = and != respell
    and check each name; the other operators compare the text as logged."""
    if op not in ("=", "!="):
        return None
    names = ",".join(canonical_blocker(name) for name in text.split(","))
    return _text_test(op, names)


def _domain_matcher(op: str, text: str) -> ValueTest:
    if op in ORDERING:  # domain ids grow with the age of the domain, in hex
        return _order(op, int(parse_domain_id(text), 16), lambda v: int(str(v), 16))
    if op in ("=", "!="):
        return _text_test(op, parse_domain_id(text), str.lower)
    pattern = text.strip().lower()
    if op in ("~", "!~", "^="):
        pattern = pattern[2:] if pattern.startswith("0x") else pattern
    if op in ("~", "!~"):
        literal = re.sub(r"\[[^\]]*\]|[*?]", "", pattern)
        ok = re.fullmatch(r"[0-9a-f]*", literal) is not None and len(literal) <= 16
    else:
        ok = _DOMAIN_ID.fullmatch(pattern) is not None
    if not ok:
        raise ValueError(f"{text!r} cannot match a domain id ({_DOMAIN_HINT})")
    return _text_test(op, pattern, str.lower)


def _user_matcher(op: str, text: str) -> Optional[ValueTest]:
    if op in ("=", "!="):
        test = _user_test(resolve_user(text))
        return test if op == "=" else (lambda v: not test(v))
    if op in ORDERING:
        return _order(op, _ordered_user(text), _as_user_number)
    return None


def field_matcher(field: str, op: str, text: str) -> Optional[ValueTest]:
    """The checks and comparisons of the fields whose values are known in
    advance (see :func:`lldecode.analysis.query.compile_query`): blocker
    names, domain ids, users; ValueError for a value they cannot hold."""
    if field == "blocker":
        return _blocker_matcher(op, text)
    if field == "blockers":
        return _blockers_matcher(op, text)
    if field == "domain":
        return _domain_matcher(op, text)
    if field in ("uid", "auid"):
        return _user_matcher(op, text)
    return None


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


# -- never silent: the fields a selector needs, and where they come from -----------------

# The fields of the denied process that a domain's creator stands in for.
_ACTOR_FIELDS = frozenset({"exe", "comm", "pid", "uid"})
# The record of the event a process field comes from (SYSCALL otherwise).
_PROCESS_RECORDS = {"cwd": "CWD", "proctitle": "PROCTITLE"}
_ABSENT = {
    "path": "no denial in this input names a path (path= or name=)",
    "port": "no denial in this input has a TCP port (src= or dest=)",
    "addr": "no denial in this input has an address (saddr= or daddr=)",
    "node": "no record in this input names its host (node=)",
    "serial": "no record in this input has an audit serial",
    "time": "no record in this input has a time",
    "status": "no denial in this input has a domain whose status is known",
}


def _syscall_of(denial: Denial) -> Any:
    """The denied syscall, by name or number (None without a SYSCALL record)."""
    process = denial.process
    if not process:
        return None
    name = process.get("syscall")
    return name if name is not None else process.get("syscall_nr")


def _absence(field: str, saw_process: bool) -> str:
    """Why no denial of an input carries ``field``."""
    if field in _ACTOR_FIELDS:
        if not saw_process:
            return ("no denial in this input has a process record (SYSCALL) or a known "
                    "domain creator (its allocated record)")
        return (f"no denial in this input has {field}= in its SYSCALL record or its "
                "domain's allocated record")
    if field in PROCESS_FIELDS:
        record = _PROCESS_RECORDS.get(field, "SYSCALL")
        if not saw_process:
            return "no denial in this input has a process record (SYSCALL)"
        if record != "SYSCALL":
            return f"no denial in this input has a {record} record"
        return f"no denial in this input has {field}= in its SYSCALL record"
    return _ABSENT.get(field, f"no denial in this input has {field}= in its record")


class SelectionError(ValueError):
    """Options that cannot select anything as asked: the message names the
    option; ``pointer`` is a caret under the fault of a ``--where`` query."""

    def __init__(self, message: str, pointer: Optional[str] = None):
        super().__init__(message)
        self.pointer = pointer


class Selection:
    """The denials to keep; built from the command-line options.

    While it chooses, a selection notes which of its selectors met a denial
    carrying their field at all: :meth:`warnings` names those that never
    did, so that an empty result is never mistaken for "no such denial".

    >>> from lldecode.analysis.selection import Selection
    >>> Selection.from_options(blockers=["fs.truncate"]).empty
    False
    >>> Selection().empty
    True
    """

    @classmethod
    def from_options(cls, domains: Sequence[str] = (), blockers: Sequence[str] = (),
                     exes: Sequence[str] = (), comms: Sequence[str] = (),
                     pids: Sequence[int] = (), uids: Sequence[UserId] = (),
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
        except SelectionError:
            raise
        except QueryError as exc:
            raise SelectionError(f"--where: {exc}", exc.pointer() or None) from None
        except ValueError as exc:
            raise SelectionError(f"--where: {exc}") from None

    def __init__(self, domains: Sequence[str] = (), blockers: Sequence[str] = (),
                 exes: Sequence[str] = (), comms: Sequence[str] = (),
                 pids: Sequence[int] = (), uids: Sequence[UserId] = (),
                 paths: Sequence[str] = (), syscalls: Sequence[str] = (),
                 since: Optional[float] = None, until: Optional[float] = None,
                 where: Optional[str] = None):
        """The options as values (times in epoch seconds); SelectionError for
        a domain id, blocker or user that cannot be, QueryError for a bad
        ``where``."""
        self.tests: List[Predicate] = []
        # Does choosing need the denied process (the event's SYSCALL record)?
        self.needs_process = bool(exes or comms or pids or uids or syscalls)
        # (selector, field, getter) of each selector: the option or --where field.
        self.selectors: List[Tuple[str, str, Callable[[Denial], Any]]] = []
        if domains:
            wanted = {_option(parse_domain_id, "--domain", d) for d in domains}
            self.tests.append(lambda d: d.domain.lower() in wanted)
            self._watch("--domain", "domain")
        if blockers:
            names: Set[str] = set()
            globs: List[str] = []
            for pattern in blockers:
                matched, glob = _option(blocker_glob, "--blocker", pattern)
                names.update(matched)
                if glob not in matched:
                    globs.append(glob)
            self.tests.append(lambda d: any(
                b in names or any(fnmatch.fnmatchcase(b, g) for g in globs)
                for b in d.blockers))
            self._watch("--blocker", "blocker")
        for values, field in ((exes, "exe"), (comms, "comm")):
            if values:
                self.tests.append(self._glob_test(FIELDS[field], values))
                self._watch(f"--{field}", field)
        if pids:
            self.tests.append(self._member_test(FIELDS["pid"], set(pids)))
            self._watch("--pid", "pid")
        if uids:
            users: Set[UserId] = set()
            for uid in uids:
                users.update(_option(resolve_user, "--uid", str(uid)))
            is_user = _user_test(users)
            self.tests.append(lambda d: is_user(FIELDS["uid"](d)))
            self._watch("--uid", "uid")
        if paths:
            matchers = [_path_matcher(p) for p in paths]
            self.tests.append(lambda d: any(m(FIELDS["path"](d)) for m in matchers))
            self._watch("--path", "path")
        if syscalls:
            wanted_sc = set(syscalls)
            self.tests.append(lambda d: d.process is not None and (
                d.process.get("syscall") in wanted_sc
                or str(d.process.get("syscall_nr")) in wanted_sc))
            self._watch("--syscall", "syscall", _syscall_of)
        if since is not None:
            self.tests.append(lambda d: d.time is not None and d.time >= since)
            self._watch("--since", "time")
        if until is not None:
            self.tests.append(lambda d: d.time is not None and d.time <= until)
            self._watch("--until", "time")
        if where:
            query = compile_query(where, FIELDS, _ordered, field_matcher)
            self.tests.append(query)
            self.needs_process = self.needs_process or bool(query.fields & PROCESS_FIELDS)
            for field in sorted(query.fields):
                self._watch("--where", field)
        # Counts: denials chosen among, and, per selector, whether one carried its field.
        self.tested = 0
        self.carried: Set[int] = set()
        self._unseen = list(range(len(self.selectors)))
        self._saw_process = False

    def _watch(self, selector: str, field: str,
               get: Optional[Callable[[Denial], Any]] = None) -> None:
        self.selectors.append((selector, field, get or FIELDS[field]))

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

    @property
    def needs_domains(self) -> bool:
        """Does choosing read what the domain registry attaches to a denial
        (its creator: exe, comm, pid, uid without a SYSCALL record; status)?"""
        return any(field not in RECORD_FIELDS for _, field, _ in self.selectors)

    def __call__(self, denial: Denial) -> bool:
        self.tested += 1
        if self._unseen:
            self._observe(denial)
        for test in self.tests:
            if not test(denial):
                return False
        return True

    def _observe(self, denial: Denial) -> None:
        """Note the selectors whose field this denial carries (each selector
        is looked at until a denial carries its field: only "none" matters)."""
        unseen = []
        for index in self._unseen:
            _selector, field, get = self.selectors[index]
            value = get(denial)
            if value is not None and value != []:
                self.carried.add(index)
                continue
            unseen.append(index)
            if not self._saw_process and field in PROCESS_FIELDS and denial.process:
                self._saw_process = True
        self._unseen = unseen

    def absent(self) -> List[Tuple[str, str, str]]:
        """(selector, field, why) for each selector whose field no denial
        chosen among carried; empty when no denial was chosen among (an
        input without denials, or one read by other processes)."""
        if not self.tested:
            return []
        out: List[Tuple[str, str, str]] = []
        seen: Set[Tuple[str, str]] = set()
        for index in self._unseen:
            selector, field, _get = self.selectors[index]
            if (selector, field) not in seen:
                seen.add((selector, field))
                out.append((selector, field, _absence(field, self._saw_process)))
        return out

    def observed(self) -> Tuple[int, FrozenSet[int], bool]:
        """What this selection noted, as plain values (for a selection built
        from the same options elsewhere, see :meth:`absorb_observed`)."""
        return self.tested, frozenset(self.carried), self._saw_process

    def absorb_observed(self, observed: Tuple[int, Collection[int], bool]) -> None:
        """Add what a selection built from the same options noted (a part of
        the input read by another process)."""
        tested, carried, saw_process = observed
        self.tested += tested
        self.carried.update(carried)
        self._unseen = [i for i in self._unseen if i not in self.carried]
        self._saw_process = self._saw_process or saw_process

    def warnings(self) -> List[str]:
        """One sentence per selector that could not match for want of its
        field in the input (see :meth:`absent`)."""
        out = []
        for selector, field, why in self.absent():
            if selector == "--where":
                out.append(f"--where: {field} matched nothing: {why}; only != and !~ "
                           f"hold on a field that is not there")
            else:
                out.append(f"{selector} matched nothing: {why}; the selection cannot match")
        return out


def _option(parse: Callable[[str], Any], option: str, value: str) -> Any:
    """``parse(value)``, its ValueError as a SelectionError naming the option."""
    try:
        return parse(value)
    except ValueError as exc:
        raise SelectionError(f"{option}: {exc}") from None


__all__ = ["FIELDS", "KNOWN_BLOCKERS", "QueryError", "Selection", "SelectionError",
           "blocker_glob", "canonical_blocker", "field_matcher", "normalize_blocker_pattern",
           "parse_domain_id", "resolve_user"]
