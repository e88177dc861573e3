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
from typing import Dict, List, Optional, Pattern, Sequence, Set, Tuple, Type, TypeVar

from lldecode.audit.values import UNTRUSTED_FIELDS, as_text

# A record type as written: LANDLOCK_ACCESS, UNKNOWN[1423], AUDIT1423, 1423.
_TYPE = r"(?:[A-Z][A-Z0-9_]*(?:\[\d+\])?|\d+)"

# auditd (raw, enriched, node=), ausearch --raw: the common case, anchored.
RAW_RE = re.compile(
    r"(?:node=(?P<node>[^ \t]+) )?type=(?P<type>" + _TYPE + r") "
    r"msg=audit\((?P<sec>\d+)\.(?P<ms>\d+):(?P<serial>\d+)\): ?")

# The lines of a block of text (lldecode.audit.scan's dense blocks), one
# match a line (findall): a line RAW_RE reads whose numbers are within the
# ranges Header.parse checks (its reading cannot fail) gives (line, node,
# type, sec, ms, serial, rest after the header, ""); any other line gives
# ("", ..., line).
BLOCK_LINES_RE = re.compile(
    r"^(?:((?:node=([^ \t\n]+) )?type=(" + _TYPE + r") "
    r"msg=audit\(([0-9]{1,10})\.([0-9]{1,9}):([0-9]{1,20})\): ?(.*))|(.*))$", re.M)

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
START_RE = re.compile(r"node=|type=|audit[(\[:]")
# A header is looked for at the first this many of those places: a real
# prefix (syslog header, CI timestamp) holds one or two; a hostile line
# holding thousands costs no more than a short one.  The grammar tries the
# same places.
MAX_HEADER_STARTS = 16

# The bounds of the numbers of a header.  An audit stamp is seconds since
# the epoch: beyond 2**34 s (the year 2514) it is no log's, and printing it
# may fail (years past 9999); its fraction has at most nanoseconds; serials
# are 64-bit at most; pids fit in a few digits.
MAX_TIME = 2 ** 34
_MAX_SECONDS_DIGITS = 11
_MAX_FRACTION_DIGITS = 9
_MAX_SERIAL_DIGITS = 20
_MAX_PID_DIGITS = 10
# journald's timestamps are in microseconds.
_MAX_USEC = MAX_TIME * 10 ** 6
# A bad number is quoted up to this many characters in a message.
_QUOTED = 24
_OUT_OF_RANGE = "time out of range (a log's time is before the year 2514)"

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
# One item of those bodies and the spaces after it: a body longer than
# _LONG_BODY is checked item by item (the patterns above keep memory for
# each item they repeat over: some 120 bytes a field).
_ITEM_OK_RE = re.compile(
    r"""(?:[^ \t="']+=(?:"[^"]*"|'[^']*'|[^ \t"'][^ \t]*|(?=[ \t]|$))|\[\.\.\.\])"""
    r"""(?:[ \t]+|$)""")
_STRICT_ITEM_RE = re.compile(
    rf"""(?:[^ \t="'{_C}]+=(?:"[^"{_C}]*"|'[^'{_C}]*'|[^ \t"'{_C}][^ \t{_C}]*"""
    r"""|(?=[ \t]|$))|\[\.\.\.\])(?:[ \t]+|$)""")
_LONG_BODY = 1 << 14

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


class HeaderError(ValueError):
    """A record header whose numbers cannot be a log's (a time or serial out
    of range): the line is malformed, whatever its dialect."""


def _quoted(text: str) -> str:
    """A number from the line, shortened for a message."""
    return text if len(text) <= _QUOTED else f"{text[:_QUOTED]}... ({len(text)} digits)"


def _stamp(sec: str, ms: str) -> float:
    """Seconds since the epoch of an ``audit(SECONDS.FRACTION:...)`` stamp,
    checked (HeaderError when out of range)."""
    if (len(sec) > _MAX_SECONDS_DIGITS or len(ms) > _MAX_FRACTION_DIGITS
            or int(sec) >= MAX_TIME):
        raise HeaderError(f"audit stamp {_quoted(sec)}.{_quoted(ms)}: {_OUT_OF_RANGE}")
    return int(sec) + _fraction(ms)


def _serial(serial: str) -> int:
    """An event serial (HeaderError when out of range)."""
    if len(serial) > _MAX_SERIAL_DIGITS:
        raise HeaderError(f"event serial {_quoted(serial)} out of range")
    return int(serial)


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
            # The checks of _stamp() and _serial(), inline: the hot path.
            if (len(sec) > _MAX_SECONDS_DIGITS or len(ms) > _MAX_FRACTION_DIGITS
                    or len(serial) > _MAX_SERIAL_DIGITS):
                _serial(serial)
                _stamp(sec, ms)  # raises HeaderError
            seconds = int(sec)
            if seconds >= MAX_TIME:
                _stamp(sec, ms)  # raises HeaderError
            self.time = seconds + int(ms) / 10 ** len(ms)
            self.serial = int(serial)
            self.enrichment = enrichment
            self.pid = None
        elif dialect == INTERPRETED:
            node, type_token, date, clock, ms, serial = parts
            self.carrier = INTERPRETED
            self.node = node or None
            self.time = interpreted_time(date, clock, ms)
            self.serial = _serial(serial)
            self.enrichment = self.pid = None
        elif dialect == PRINTK or dialect == PAYLOAD:
            if dialect == PRINTK:
                type_token, sec, ms, serial = parts
            else:  # the type is known only from the body
                sec, ms, serial = parts
                type_token = guess_type(body)
            self.carrier = "printk" if text.startswith("audit: ", start) else "netlink"
            self.node = None
            self.time = _stamp(sec, ms)
            self.serial = _serial(serial)
            self.enrichment = enrichment
            self.pid = None
        elif dialect == JOURNAL:
            pid, type_token = parts
            self.carrier = JOURNAL
            self.node = None
            self.time = journal_prefix_time(text[:start])
            self.serial = self.enrichment = None
            if len(pid) > _MAX_PID_DIGITS:
                raise HeaderError(f"audit[{_quoted(pid)}]: pid out of range")
            self.pid = int(pid) if pid else None
        elif dialect == ELIDED:
            (type_token,) = parts
            self.carrier = ELIDED
            self.node = self.time = self.serial = self.enrichment = self.pid = None
        elif dialect == JOURNAL_JSON:
            type_token, usec, serial = parts
            self.carrier = JOURNAL_JSON
            self.node = None  # the entry's _HOSTNAME, set by match_journal_json
            self.time = _journal_time(usec) if usec else None
            self.serial = _serial(serial) if serial else None
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


def _journal_time(usec: str) -> float:
    """Seconds since the epoch of journald's microseconds (checked by
    match_journal_json)."""
    return int(usec) / 1e6


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
    """Epoch seconds of an ``ausearch -i`` local timestamp (this host's TZ);
    None for a date that is none (a 13th month); HeaderError when out of range."""
    if len(ms) > _MAX_FRACTION_DIGITS:
        raise HeaderError(f"audit stamp {date} {clock}.{_quoted(ms)}: {_OUT_OF_RANGE}")
    ymd = _local_date(date)
    if ymd is None:
        return None
    hh, mm, ss = (int(x) for x in clock.split(":"))
    try:
        stamp = _time.mktime((ymd[0], ymd[1], ymd[2], hh, mm, ss, 0, 0, -1))
    except (OverflowError, ValueError, OSError):
        stamp = MAX_TIME
    if not -MAX_TIME < stamp < MAX_TIME:
        raise HeaderError(f"audit stamp {date} {clock}.{ms}: {_OUT_OF_RANGE}")
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
    """The first record header anywhere in a (possibly prefixed) line, looked
    for at the first MAX_HEADER_STARTS places one can start; HeaderError
    when its time or serial is out of range.

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
    for count, start in enumerate(START_RE.finditer(line)):
        if count == MAX_HEADER_STARTS:
            break
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
    """The time in a journalctl/syslog line prefix, or None (none, or not a
    real date: a 13th month, a 25th hour).

    ISO stamps (short-iso, short-iso-precise, short-full) keep their zone;
    classic syslog stamps (short, short-precise) have neither year nor zone:
    they are read in local time, in the latest year that is not in the future.
    """
    m = _SYSLOG_TIME_RE.search(prefix)
    if m is None:
        return None
    try:
        stamp = _prefix_time(m, now)
    except (OverflowError, ValueError, OSError):
        return None
    if stamp is None or not -MAX_TIME < stamp < MAX_TIME:
        return None
    return stamp


def _valid_clock(year: int, month: int, day: int, hh: int, mi: int, ss: int) -> bool:
    """Is this a date and time of day (a leap second allowed)?"""
    return (1 <= year <= 9999 and 1 <= month <= 12 and 1 <= day <= 31 and hh < 24
            and mi < 60 and ss <= 60)


def _prefix_time(m: "re.Match[str]", now: Optional[float]) -> Optional[float]:
    """The time a _SYSLOG_TIME_RE match stands for (None: not a real date)."""
    if m.group("unix"):
        return float(m.group("unix"))
    if m.group("iso"):
        hh, mi, ss = (int(x) for x in m.group("clock").split(":"))
        fields = (int(m.group("y")), int(m.group("mo")), int(m.group("d")), hh, mi, ss)
        if not _valid_clock(*fields):
            return None
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
    day = int(m.group("day"))
    if not _valid_clock(2000, month, day, hh, mi, ss):
        return None
    now = _time.time() if now is None else now
    year = _time.localtime(now).tm_year
    frac = float(m.group("sfrac") or 0)
    stamp = _time.mktime((year, month, day, hh, mi, ss, 0, 0, -1))
    if stamp > now + _FUTURE_SLACK:
        stamp = _time.mktime((year - 1, month, day, hh, mi, ss, 0, 0, -1))
    return stamp + frac


def _as_log_text(value: str) -> str:
    """A string of a journal entry as the reader's text: one character per
    byte of its UTF-8 (as every line is read), whatever JSON escapes
    (``\\u65e5``) it was spelled with."""
    if value.isascii():
        return value
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate spelled \\udXXX
        raw = value.encode("utf-8", "surrogatepass")
    return raw.decode("latin-1")


def _entry_number(entry: Dict[str, object], key: str, limit: int) -> Optional[int]:
    """A number field of a journal entry: digits (or a JSON integer) below
    ``limit``; None when absent; HeaderError when it is no such number."""
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        if len(value) > len(str(limit)):
            raise HeaderError(f"journal entry: {key} {_quoted(value)} out of range")
        number = int(value)
    else:
        shown = (repr(_quoted(value)) if isinstance(value, str)
                 else repr(value) if isinstance(value, float) else f"(a {type(value).__name__})")
        raise HeaderError(f"journal entry: {key} {shown} is not a number")
    if not 0 <= number < limit:
        raise HeaderError(f"journal entry: {key} out of range")
    return number


def match_journal_json(text: str) -> Optional[Header]:
    """One ``journalctl -o json`` entry carrying an audit record (None: no
    such entry; HeaderError when its time or serial are no numbers)."""
    try:
        entry = json.loads(as_text(text))
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        return None
    if not isinstance(entry, dict):
        return None
    message = entry.get("MESSAGE")
    if isinstance(message, list):  # journald's spelling of non-UTF-8 text
        try:
            message = bytes(message).decode("latin-1")
        except (TypeError, ValueError):
            return None
    elif isinstance(message, str):
        message = _as_log_text(message)
    if not isinstance(message, str):
        return None
    hostname = entry.get("_HOSTNAME")
    node = _as_log_text(hostname) if isinstance(hostname, str) else None
    if entry.get("_TRANSPORT") == "kernel" or "_AUDIT_TYPE" not in entry:
        m = PRINTK_RE.search(message)
        if m is None:
            return None
        header = Header.parse(PRINTK, m.groups(""), message, m.start(), m.end())
        # journald's kernel transport: the console's record, whatever its prefix.
        header.carrier, header.node = "printk", node
        return header
    type_token = _as_log_text(str(entry["_AUDIT_TYPE"]))
    name, _, body = message.partition(" ")
    if name != entry.get("_AUDIT_TYPE_NAME", name):
        return None
    source_time = "_SOURCE_REALTIME_TIMESTAMP"
    if not entry.get(source_time):
        source_time = "__REALTIME_TIMESTAMP"
    usec = _entry_number(entry, source_time, _MAX_USEC)
    serial = _entry_number(entry, "_AUDIT_ID", 10 ** _MAX_SERIAL_DIGITS)
    micros = "" if usec is None else str(usec)
    number = "" if serial is None else str(serial)
    # LANDLOCK_ACCESS / AUDIT1423 / ...: keep the name when journald had one.
    token = name if name in LANDLOCK_TYPES or not name.startswith("AUDIT") else type_token
    header = Header.parse(JOURNAL_JSON, (token, micros, number), body, 0, 0)
    header.node = node
    return header


# -- fields -------------------------------------------------------------------

# The usual Landlock bodies in one pattern each: domain=<hex> first, for an
# access record blockers=<list> second, then the fields the kernel writes
# for each kind of object (each once, in the kernel's order), no control
# characters.  What a pattern accepts, records.check_landlock() would accept
# too, and it gives no key twice; any other body (other keys or order,
# elisions, a key given twice) goes through that function's step-by-step
# checks (and their messages).
_VALUE = rf"""(?:"[^"{_C}]*"|'[^'{_C}]*'|[^ \t"'{_C}][^ \t{_C}]*|(?=[ \t]|$))"""
_HEX_ID = r"domain=([0-9a-fA-F]{1,16})(?=[ \t]|$)"


def _then(*keys: str) -> str:
    """The pattern of these fields, in this order, each after a space."""
    return "".join(rf"[ \t]+{key}={_VALUE}" for key in keys)


def _fields(first: str, *keys: str) -> str:
    """The pattern of these fields, in this order."""
    return f"{first}={_VALUE}{_then(*keys)}"


# The objects of access records: a file (path= dev= ino=, ioctlcmd= for an
# ioctl; an abstract socket's path= alone), a TCP port (saddr= src=, src=,
# daddr= dest=), a process (opid= ocomm=).
_ACCESS_OBJECT = "|".join((
    f"{_fields('path')}(?:{_then('dev', 'ino')}(?:{_then('ioctlcmd')})?)?",
    _fields("saddr", "src"), _fields("src"), _fields("daddr", "dest"),
    _fields("opid", "ocomm")))
# The characters of a blockers= list: names and commas (their order is
# checked apart, by is_blocker_list and plain_landlock_body).
_BLOCKER_LIST_RE = re.compile(r"""[^ \t="']+""")
_LANDLOCK_BODY_RES = {
    ACCESS: re.compile(rf"""{_HEX_ID}[ \t]+blockers=([^ \t="'{_C}]+)"""
                       rf"(?=[ \t]|$)(?:[ \t]+(?:{_ACCESS_OBJECT}))?[ \t]*"),
    # allocated: status= mode= pid= uid= exe= comm=; deallocated: status= denials=
    DOMAIN: re.compile(rf"{_HEX_ID}[ \t]+status={_VALUE}"
                       rf"(?:[ \t]+(?:{_fields('mode', 'pid', 'uid', 'exe', 'comm')}"
                       rf"|{_fields('denials')}))?[ \t]*"),
    DOMAIN_DROP: re.compile(rf"{_HEX_ID}[ \t]*"),
}


# (records.py's bulk reading makes the same tests inline)
LANDLOCK_BODY_RES = _LANDLOCK_BODY_RES


def plain_landlock_body(kind: str, body: str) -> Optional[Tuple[str, Optional[str]]]:
    """(domain id, blockers text or None) when this is the usual shape of a
    Landlock body of ``kind`` (raw spelling; no key twice); None otherwise."""
    m = _LANDLOCK_BODY_RES[kind].fullmatch(body)
    if m is None:
        return None
    if kind == ACCESS:
        domain, blockers = m.group(1, 2)
        if blockers.startswith(",") or blockers.endswith(",") or ",," in blockers:
            return None  # (check_landlock says what is wrong)
        return domain, blockers
    return m.group(1), None


def first_values(fields: Sequence[Tuple[str, str]]) -> Dict[str, str]:
    """Field name -> value of a body's fields; a key given twice keeps its
    first value (the kernel never repeats a key: see duplicate_problem)."""
    values = dict(fields)
    if len(values) != len(fields):
        values = {}
        for key, value in fields:
            if key not in values:
                values[key] = value
    return values


def duplicate_problem(fields: Sequence[Tuple[str, str]]) -> Optional[str]:
    """What is wrong with a body that gives a key more than once (None: no key
    is repeated).  Every reader keeps the first value."""
    if len({key for key, _ in fields}) == len(fields):
        return None
    seen: Set[str] = set()
    repeated: Dict[str, None] = {}  # in order
    for key, _ in fields:
        if key in seen:
            repeated[key] = None
        seen.add(key)
    shown = ", ".join(f"{key[:_QUOTED]}=" for key in list(repeated)[:4])
    more = f" and {len(repeated) - 4} more" if len(repeated) > 4 else ""
    return f"key given twice: {shown}{more} (the first value is kept)"


def body_is_well_formed(body: str, strict: bool = False) -> bool:
    """Does the whole body read as key=value fields (raw spelling)?
    ``strict``: and holds no control character (a Landlock record's body)."""
    if len(body) <= _LONG_BODY:
        return (_STRICT_BODY_RE if strict else _BODY_OK_RE).fullmatch(body) is not None
    # The same, an item at a time (each item can be read in one way only:
    # the whole pattern does not backtrack into an earlier item).
    item = (_STRICT_ITEM_RE if strict else _ITEM_OK_RE).match
    end = len(body)
    position = end - len(body.lstrip(" \t"))
    while position < end:
        m = item(body, position)
        if m is None:
            return False
        position = m.end()
    return True


def is_blocker_list(text: str) -> bool:
    """Is ``text`` a comma-separated list of blocker names (no empty name,
    no space, tab, ``=`` or quote)?  Checked without a repeated group:
    linear in time and memory whatever the list."""
    return (not text.startswith(",") and not text.endswith(",") and ",," not in text
            and _BLOCKER_LIST_RE.fullmatch(text) is not None)


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
