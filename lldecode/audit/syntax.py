"""The fast path: compiled regular expressions that read well-formed records.

:mod:`lldecode.audit.grammar` is the specification of the record syntax, written
with pyparsing; it is exact and gives precise diagnostics but reads only a few
thousand lines a second.  This module reads the same syntax with a handful of
compiled regular expressions.  ``tests/audit/test_grammar_agreement.py`` generates
records in every dialect and proves that both readers return the same
:class:`Header` and fields; a Landlock-looking line this module rejects goes
to the grammar, which says what is wrong with it.

All patterns are linear: no nested quantifiers over overlapping classes.
"""

from __future__ import annotations

import calendar
import json
import re
import time as _time
from typing import Dict, List, Optional, Pattern, Tuple, Type, TypeVar

from lldecode.audit.values import UNTRUSTED_FIELDS

# A record type as written: LANDLOCK_ACCESS, UNKNOWN[1423], AUDIT1423, 1423.
_TYPE = r"(?:[A-Z][A-Z0-9_]*(?:\[\d+\])?|\d+)"

# auditd (raw, enriched, node=), ausearch --raw: the common case, anchored.
RAW_RE = re.compile(
    r"(?:node=(?P<node>[^ \t]+) )?type=(?P<type>" + _TYPE + r") "
    r"msg=audit\((?P<sec>\d+)\.(?P<ms>\d+):(?P<serial>\d+)\): ?")

# ausearch -i: local time in the locale's %x format, " : " after the header.
INTERPRETED_RE = re.compile(
    r"(?:node=(?P<node>[^ \t]+) )?type=(?P<type>" + _TYPE + r") "
    r"msg=audit\((?P<date>\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}) "
    r"(?P<clock>\d\d:\d\d:\d\d)\.(?P<ms>\d+):(?P<serial>\d+)\) : ?")

# Kernel printk (dmesg, journalctl -k, consoles) and netlink records as the
# capture source spells them: "type=1423 audit(...): body".
PRINTK_RE = re.compile(
    r"(?:audit: )?type=(?P<type>\d+) "
    r"audit\((?P<sec>\d+)\.(?P<ms>\d+):(?P<serial>\d+)\): ?")

# A bare netlink payload: "audit(...): body", the type known only from it.
PAYLOAD_RE = re.compile(r"audit\((?P<sec>\d+)\.(?P<ms>\d+):(?P<serial>\d+)\): ?")

# journald's audit transport in `journalctl` short output:
# "... audit[PID]: LANDLOCK_ACCESS body" (no serial, syslog time in prefix).
JOURNAL_RE = re.compile(
    r"audit(?:\[(?P<pid>\d+)\])?: (?P<type>[A-Z][A-Z0-9_]*(?:\[\d+\])?) "
    r"(?=[^ \t=]+=)")

# Samples in documentation elide the header: "type=LL_DENY [...]: body".
ELIDED_RE = re.compile(r"type=(?P<type>" + _TYPE + r") \[\.\.\.\]: ?")

_TRAILING = " \t\r"

# ANSI escape sequences (colours of CI logs), removed before reading.
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")

# Where a record header can start inside a prefixed line.
_START_RE = re.compile(r"node=|type=|audit[(\[:]")

# Fields of the kernel's records (raw spelling): key=value, value quoted,
# single-quoted (userspace messages) or a bare token; "[...]" is an elision.
FIELD_RE = re.compile(
    r"""([^ \t="']+)=("[^"]*"|'[^']*'|[^ \t"'][^ \t]*|(?=[ \t]|$))|\[\.\.\.\]""")
_BODY_OK_RE = re.compile(
    r"""[ \t]*(?:(?:[^ \t="']+=(?:"[^"]*"|'[^']*'|[^ \t"'][^ \t]*|(?=[ \t]|$))"""
    r"""|\[\.\.\.\])(?:[ \t]+|$))*""")
# The same, without control characters (tab aside): the body of a Landlock record.
_C = "\\x00-\\x08\\x0a-\\x1f\\x7f"
_STRICT_BODY_RE = re.compile(
    rf"""[ \t]*(?:(?:[^ \t="'{_C}]+=(?:"[^"{_C}]*"|'[^'{_C}]*'|[^ \t"'{_C}][^ \t{_C}]*"""
    r"""|(?=[ \t]|$))|\[\.\.\.\])(?:[ \t]+|$))*""")

# Interpreted (ausearch -i) values are unquoted and may hold spaces: a value
# runs to the next " key=" (for untrusted strings, to the next key the
# kernel can write after them, so that "/a b=c" stays one path).
KERNEL_KEYS = (
    "domain blockers path name dev ino ioctlcmd saddr src daddr dest opid "
    "ocomm status mode pid uid exe comm denials creation parent arch syscall "
    "success exit a0 a1 a2 a3 items ppid auid gid euid suid fsuid egid sgid "
    "fsgid tty ses key item inode ouid ogid rdev nametype cap_fp cap_fi cap_fe "
    "cap_fver cap_frootid cwd proctitle oauid oses obj subj res op "
    "old-path new-path").split()
_IKEY_RE = re.compile(r"(?:^|(?<= ))([a-z][a-z0-9_-]*)=")
_INTERPRETED_KNOWN = frozenset(KERNEL_KEYS)

# Landlock record types in every spelling: kind by type token.
ACCESS, DOMAIN, DOMAIN_DROP, OTHER = "access", "domain", "domain_drop", "other"
LANDLOCK_TYPES: Dict[str, str] = {
    "LANDLOCK_ACCESS": ACCESS, "UNKNOWN[1423]": ACCESS, "1423": ACCESS,
    "AUDIT1423": ACCESS, "LL_DENY": ACCESS, "LANDLOCK_DENY": ACCESS,
    "LANDLOCK_DOMAIN": DOMAIN, "UNKNOWN[1424]": DOMAIN, "1424": DOMAIN,
    "AUDIT1424": DOMAIN, "LL_DOM_INFO": DOMAIN, "LANDLOCK_DOM_INFO": DOMAIN,
    "LL_DOM_DROP": DOMAIN_DROP, "LANDLOCK_DOM_DROP": DOMAIN_DROP,
}

# Record types the event stage joins, in every spelling, by canonical name.
JOINED_TYPES: Dict[str, str] = {
    "SYSCALL": "SYSCALL", "1300": "SYSCALL",
    "PATH": "PATH", "1302": "PATH",
    "SOCKADDR": "SOCKADDR", "1306": "SOCKADDR",
    "CWD": "CWD", "1307": "CWD",
    "OBJ_PID": "OBJ_PID", "1318": "OBJ_PID",
    "EOE": "EOE", "1320": "EOE",
    "PROCTITLE": "PROCTITLE", "1327": "PROCTITLE",
}
JOINED_TYPES.update({f"AUDIT{number}": name for number, name in list(JOINED_TYPES.items())
                     if number.isdigit()})

# Does a line mention a Landlock record?  Cheap first test, then precise one.
LANDLOCK_HINT_RE = re.compile(r"142[34]|LANDLOCK_|LL_D")
LANDLOCK_LOOKS_RE = re.compile(
    r"(?:type=|\"_AUDIT_TYPE\":\s*\"?|audit(?:\[\d+\])?: )"
    r"(?:LANDLOCK_[A-Z_]+|LL_D[A-Z_]+|(?:UNKNOWN\[|AUDIT)?142[34]\b)"
    r"|\bdomain=[0-9a-fA-F]+ (?:blockers|status)=")

# Record types of carriers that do not write them, guessed from the body.
_BODY_KIND_RE = re.compile(
    r"domain=\S+ (?:(?P<blockers>blockers=)|status=|creation=|denials=)"
    r"|(?P<syscall>arch=\S+ syscall=)|(?P<proctitle>proctitle=)"
    r"|(?P<cwd>cwd=)|(?P<path>item=\d+ )")
# The type number guessed from each group of _BODY_KIND_RE (none: LANDLOCK_DOMAIN).
_GUESSED_TYPES = {"blockers": "1423", "syscall": "1300", "proctitle": "1327", "cwd": "1307",
                  "path": "1302"}

# The header dialects, by the shape of the header.  A dialect's carrier can
# be more precise: a raw header followed by enriched fields is carried
# "enriched", a printk one without "audit: " came from netlink.
RAW, INTERPRETED, PRINTK, PAYLOAD, JOURNAL, ELIDED, JOURNAL_JSON = (
    "raw", "interpreted", "printk", "payload", "journal", "elided", "journal-json")
# Each dialect's pattern, in the order a header is tried: the groups of a
# pattern are the parts Header.parse takes, in their order.
DIALECTS: Tuple[Tuple[str, "Pattern[str]"], ...] = (
    (RAW, RAW_RE), (INTERPRETED, INTERPRETED_RE), (PRINTK, PRINTK_RE), (PAYLOAD, PAYLOAD_RE),
    (JOURNAL, JOURNAL_RE), (ELIDED, ELIDED_RE))


_H = TypeVar("_H", bound="Header")


class Header:
    """Where a record came from and which event it belongs to.

    Every header is read by :meth:`parse`: the fast path's, the grammar's
    and those of :class:`lldecode.audit.records.Record` (a header with the
    place it was read).
    """

    __slots__ = ("carrier", "node", "type", "time", "serial", "body", "enrichment", "pid",
                 "kind", "joined_type")

    # raw, enriched, interpreted, printk, netlink, journal, journal-json, elided
    carrier: str
    node: Optional[str]
    type: str               # the type token as written (LANDLOCK_ACCESS, 1423, ...)
    time: Optional[float]   # seconds since the epoch
    serial: Optional[int]
    body: str
    enrichment: Optional[str]   # auditd's ENRICHED fields, after the 0x1D byte
    pid: Optional[int]      # journald short output's audit[PID]
    kind: str               # ACCESS, DOMAIN, DOMAIN_DROP (Landlock records) or OTHER
    joined_type: Optional[str]  # the canonical name of the types in JOINED_TYPES

    @classmethod
    def parse(cls: Type[_H], dialect: str, parts: Tuple[str, ...], text: str, start: int,
              end: int) -> _H:
        """The header of ``dialect`` read in ``text[start:end]``; the body is
        the rest of ``text``.

        ``parts`` are the dialect's groups in pattern order (``m.groups("")``;
        ``""`` for an absent optional part); for JOURNAL_JSON, (type,
        microseconds, serial) from the entry's fields.  The reader's hot path
        (RAW) comes first.
        """
        self = cls.__new__(cls)
        rest = text[end:]
        cut = -1 if dialect == INTERPRETED else rest.find("\x1d")
        if cut < 0:
            body, enrichment = rest.rstrip(_TRAILING), None
        else:
            body, enrichment = rest[:cut].rstrip(_TRAILING), rest[cut + 1:].rstrip(_TRAILING)
        self.body = body
        if dialect == RAW:
            node, type_token, sec, ms, serial = parts
            self.carrier = "raw" if enrichment is None else "enriched"
            self.node = node or None
            self.time = int(sec) + _fraction(ms)
            self.serial = int(serial)
            self.enrichment = enrichment
            self.pid = None
        elif dialect == INTERPRETED:
            node, type_token, date, clock, ms, serial = parts
            self.carrier = INTERPRETED
            self.node = node or None
            self.time = interpreted_time(date, clock, ms)
            self.serial = int(serial)
            self.enrichment = self.pid = None
        elif dialect == PRINTK or dialect == PAYLOAD:
            if dialect == PRINTK:
                type_token, sec, ms, serial = parts
            else:  # the type is known only from the body
                sec, ms, serial = parts
                type_token = guess_type(body)
            self.carrier = "printk" if text.startswith("audit: ", start) else "netlink"
            self.node = None
            self.time = _epoch(sec, ms)
            self.serial = int(serial)
            self.enrichment = enrichment
            self.pid = None
        elif dialect == JOURNAL:
            pid, type_token = parts
            self.carrier = JOURNAL
            self.node = None
            self.time = journal_prefix_time(text[:start])
            self.serial = self.enrichment = None
            self.pid = int(pid) if pid else None
        elif dialect == ELIDED:
            (type_token,) = parts
            self.carrier = ELIDED
            self.node = self.time = self.serial = self.enrichment = self.pid = None
        elif dialect == JOURNAL_JSON:
            type_token, usec, serial = parts
            self.carrier = JOURNAL_JSON
            self.node = None  # the entry's _HOSTNAME, set by match_journal_json
            self.time = int(usec) / 1e6 if usec else None
            self.serial = int(serial) if serial else None
            self.enrichment = self.pid = None
        else:
            raise ValueError(f"unknown header dialect {dialect!r}")
        self.type = type_token
        self.kind = LANDLOCK_TYPES.get(type_token, OTHER)
        self.joined_type = JOINED_TYPES.get(type_token)
        return self

    def astuple(self) -> Tuple[str, Optional[str], str, Optional[float], Optional[int], str,
                               Optional[str], Optional[int]]:
        """(carrier, node, type, time, serial, body, enrichment, pid)."""
        return (self.carrier, self.node, self.type, self.time, self.serial, self.body,
                self.enrichment, self.pid)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Header) and type(other) is type(self):
            return self.astuple() == other.astuple()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.astuple())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in zip(
            ("carrier", "node", "type", "time", "serial", "body", "enrichment", "pid"),
            self.astuple()))
        return f"{type(self).__name__}({fields})"


def landlock_kind(type_token: str) -> str:
    """ACCESS, DOMAIN or DOMAIN_DROP for a Landlock record type, else OTHER."""
    return LANDLOCK_TYPES.get(type_token, OTHER)


def _fraction(digits: str) -> float:
    """The value of the digits after a decimal point: "525" -> 0.525."""
    scale: int = 10 ** len(digits)
    return int(digits) / scale


def _epoch(sec: str, ms: str) -> float:
    """Seconds since the epoch of an ``audit(SECONDS.MILLIS:...)`` stamp."""
    return int(sec) + _fraction(ms)


# Two-digit years below this are 20xx, the others 19xx: no audit log is older
# than the Unix epoch (1970).
_CENTURY_PIVOT = 70


def _local_date(date: str) -> Optional[Tuple[int, int, int]]:
    """(year, month, day) of an ausearch %x date: 11/26/26, 26.11.2026, 2026-11-26."""
    parts = re.split(r"[/.-]", date)
    a, b, c = (int(p) for p in parts)
    if len(parts[0]) == 4:
        year, month, day = a, b, c
    elif "/" in date:
        month, day, year = a, b, c
    else:
        day, month, year = a, b, c
    if year < 100:
        year += 2000 if year < _CENTURY_PIVOT else 1900
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return year, month, day


def interpreted_time(date: str, clock: str, ms: str) -> Optional[float]:
    """Epoch seconds of an ``ausearch -i`` local timestamp (this host's TZ)."""
    ymd = _local_date(date)
    if ymd is None:
        return None
    hh, mm, ss = (int(x) for x in clock.split(":"))
    stamp = _time.mktime((ymd[0], ymd[1], ymd[2], hh, mm, ss, 0, 0, -1))
    return stamp + _fraction(ms)


def match_raw(line: str) -> Optional[Header]:
    """The auditd raw dialect at the start of the line (the hot path)."""
    m = RAW_RE.match(line)
    if m is None:
        return None
    return Header.parse(RAW, m.groups(""), line, 0, m.end())


def guess_type(body: str) -> str:
    """The record type of a bare netlink payload, from its fields."""
    m = _BODY_KIND_RE.match(body)
    if m is None:
        return "UNKNOWN"
    if m.group("blockers"):
        return _GUESSED_TYPES["blockers"]
    if m.lastgroup is None:
        return "1424"
    return _GUESSED_TYPES[m.lastgroup]


def match_at(text: str, pos: int) -> Optional[Header]:
    """A record header starting exactly at ``pos`` in any dialect."""
    for dialect, pattern in DIALECTS:
        m = pattern.match(text, pos)
        if m is not None:
            return Header.parse(dialect, m.groups(""), text, pos, m.end())
    return None


def find_record(line: str) -> Optional[Header]:
    """The first record header anywhere in a (possibly prefixed) line.

    ANSI colour codes (CI logs) are removed first: the kernel never writes
    an ESC byte into a record, it would hex-encode it.
    """
    if "\x1b" in line:
        line = ANSI_RE.sub("", line)
    else:
        header = match_raw(line)
        if header is not None:
            return header
    stripped = line.lstrip()
    if stripped.startswith("{"):
        return match_journal_json(stripped)
    for start in _START_RE.finditer(line):
        header = match_at(line, start.start())
        if header is not None:
            return header
    return None


# -- journald -----------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_SYSLOG_TIME_RE = re.compile(
    r"(?P<iso>(?P<y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d)[T ](?P<clock>\d\d:\d\d:\d\d)(?P<frac>\.\d+)?"
    r"(?P<tz>Z|[+-]\d\d:?\d\d| ?[A-Z]{2,5})?)"
    r"|(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<sclock>\d\d:\d\d:\d\d)(?P<sfrac>\.\d+)?"
    r"|(?P<unix>\d{9,11}\.\d+) ")


# A syslog stamp (no year) up to a day ahead of the clock is this year's
# (time zones, clock skew); further ahead, it is last year's.
_FUTURE_SLACK = 24 * 60 * 60


def journal_prefix_time(prefix: str, now: Optional[float] = None) -> Optional[float]:
    """The time in a journalctl/syslog line prefix, or None.

    ISO stamps (short-iso, short-iso-precise, short-full) keep their zone;
    classic syslog stamps (short, short-precise) have neither year nor zone:
    they are read in local time, in the latest year that is not in the future.
    """
    m = _SYSLOG_TIME_RE.search(prefix)
    if m is None:
        return None
    if m.group("unix"):
        return float(m.group("unix"))
    if m.group("iso"):
        hh, mi, ss = (int(x) for x in m.group("clock").split(":"))
        fields = (int(m.group("y")), int(m.group("mo")), int(m.group("d")), hh, mi, ss)
        frac = float(m.group("frac") or 0)
        tz = (m.group("tz") or "").strip()
        if tz in ("Z", "UTC", "GMT"):
            return calendar.timegm(fields + (0, 0, 0)) + frac
        zm = re.fullmatch(r"([+-])(\d\d):?(\d\d)", tz)
        if zm:
            offset = (int(zm.group(2)) * 60 + int(zm.group(3))) * 60
            sign = 1 if zm.group(1) == "+" else -1
            return calendar.timegm(fields + (0, 0, 0)) - sign * offset + frac
        return _time.mktime(fields + (0, 0, -1)) + frac
    month = _MONTHS.get(m.group("mon"))
    if month is None:
        return None
    hh, mi, ss = (int(x) for x in m.group("sclock").split(":"))
    now = _time.time() if now is None else now
    year = _time.localtime(now).tm_year
    frac = float(m.group("sfrac") or 0)
    stamp = _time.mktime((year, month, int(m.group("day")), hh, mi, ss, 0, 0, -1))
    if stamp > now + _FUTURE_SLACK:
        stamp = _time.mktime((year - 1, month, int(m.group("day")), hh, mi, ss, 0, 0, -1))
    return stamp + frac


def match_journal_json(text: str) -> Optional[Header]:
    """One ``journalctl -o json`` entry carrying an audit record."""
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    message = entry.get("MESSAGE")
    if isinstance(message, list):  # journald's spelling of non-UTF-8 text
        try:
            message = bytes(message).decode("latin-1")
        except (TypeError, ValueError):
            return None
    if not isinstance(message, str):
        return None
    node = entry.get("_HOSTNAME") if isinstance(entry.get("_HOSTNAME"), str) else None
    if entry.get("_TRANSPORT") == "kernel" or "_AUDIT_TYPE" not in entry:
        m = PRINTK_RE.search(message)
        if m is None:
            return None
        header = Header.parse(PRINTK, m.groups(""), message, m.start(), m.end())
        # journald's kernel transport: the console's record, whatever its prefix.
        header.carrier, header.node = "printk", node
        return header
    type_token = str(entry["_AUDIT_TYPE"])
    name, _, body = message.partition(" ")
    if name != entry.get("_AUDIT_TYPE_NAME", name):
        return None
    usec = entry.get("_SOURCE_REALTIME_TIMESTAMP") or entry.get("__REALTIME_TIMESTAMP")
    serial = entry.get("_AUDIT_ID")
    try:
        micros = "" if usec is None else str(int(usec))
        number = "" if serial is None else str(int(serial))
    except (TypeError, ValueError):
        return None
    # LANDLOCK_ACCESS / AUDIT1423 / ...: keep the name when journald had one.
    token = name if name in LANDLOCK_TYPES or not name.startswith("AUDIT") else type_token
    header = Header.parse(JOURNAL_JSON, (token, micros, number), body, 0, 0)
    header.node = node
    return header


# -- fields -------------------------------------------------------------------

# A well-formed Landlock body of each kind in one pattern: domain=<hex> first,
# for an access record blockers=<list> second, no control characters.  What
# it accepts, records.check_landlock() would accept too; what it rejects
# goes through that function's step-by-step checks (and their messages).
_FIELD = (rf"""(?:[^ \t="'{_C}]+=(?:"[^"{_C}]*"|'[^'{_C}]*'|[^ \t"'{_C}][^ \t{_C}]*"""
          r"""|(?=[ \t]|$))|\[\.\.\.\])""")
_HEX_ID = r"domain=([0-9a-fA-F]{1,16})(?=[ \t]|$)"
_LANDLOCK_BODY_RES = {
    ACCESS: re.compile(rf"""{_HEX_ID}[ \t]+blockers=([^ \t,="'{_C}]+(?:,[^ \t,="'{_C}]+)*)"""
                       rf"(?=[ \t]|$)(?:[ \t]+{_FIELD})*[ \t]*"),
    DOMAIN: re.compile(rf"{_HEX_ID}(?:[ \t]+{_FIELD})+[ \t]*"),
    DOMAIN_DROP: re.compile(rf"{_HEX_ID}(?:[ \t]+{_FIELD})*[ \t]*"),
}


def plain_landlock_body(kind: str, body: str) -> Optional[Tuple[str, Optional[str]]]:
    """(domain id, blockers text or None) when this is the plain shape of a
    Landlock body of ``kind`` (raw spelling); None otherwise."""
    m = _LANDLOCK_BODY_RES[kind].fullmatch(body)
    if m is None:
        return None
    if kind == ACCESS:
        domain, blockers = m.group(1, 2)
        return domain, blockers
    return m.group(1), None


def body_is_well_formed(body: str, strict: bool = False) -> bool:
    """Does the whole body read as key=value fields (raw spelling)?
    ``strict``: and holds no control character (a Landlock record's body)."""
    return (_STRICT_BODY_RE if strict else _BODY_OK_RE).fullmatch(body) is not None


def split_fields(body: str) -> List[Tuple[str, str]]:
    """The (key, raw value) pairs of a raw-spelled body, in order."""
    pairs = FIELD_RE.findall(body)
    if "[...]" in body:  # elisions match with an empty key
        return [(k, v) for k, v in pairs if k]
    return pairs


def split_interpreted_fields(body: str) -> List[Tuple[str, str]]:
    """The (key, value) pairs of an ``ausearch -i`` body (values unquoted)."""
    keys = [(m.start(), m.end(), m.group(1)) for m in _IKEY_RE.finditer(body)]
    fields: List[Tuple[str, str]] = []
    i = 0
    while i < len(keys):
        start, value_start, key = keys[i]
        j = i + 1
        if key == "proctitle":
            j = len(keys)
        elif key in UNTRUSTED_FIELDS:
            while j < len(keys) and keys[j][2] not in _INTERPRETED_KNOWN:
                j += 1
        end = keys[j][0] if j < len(keys) else len(body)
        fields.append((key, body[value_start:end].rstrip(" ")))
        i = j
    return fields
