"""Records: lines read as audit records, in whatever carrier they came.

:func:`read_records` turns the lines of the sources into :class:`Record`
objects (Landlock records and the other records of the same events, such as
SYSCALL, PROCTITLE, CWD and PATH) and :class:`Notice` objects for the lines
that say something about the log itself: printk rate limiting, lost records,
``ausearch`` event separators.  A line that looks like a Landlock record but
does not parse is reported to the :class:`Diagnostics` with its file and
line number, and reading goes on.

Every line is read on its own: whatever fails while reading one (a number
out of range, a line over the length limit, a key given twice) is one
diagnostic with its file and line, never the end of the run; only an input
that cannot be read at all stops, and the next input is read.
"""

from __future__ import annotations

import re
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union, final

from lldecode.audit import live
from lldecode.audit import syntax as fastpath
from lldecode.audit.scan import (
    PLAIN_RECORD,
    Bulk,
    Scan,
    Want,
    scannable,
)
from lldecode.audit.sources import TOO_LONG, Source, SourceError
from lldecode.audit.syntax import (
    ACCESS,
    DOMAIN,
    INTERPRETED,
    JOINED_TYPES,
    LANDLOCK_TYPES,
    OTHER,
    RAW,
    Header,
    HeaderError,
    first_values,
)
from lldecode.audit.values import decode_untrusted

# A field as written (key, raw value); a Landlock body's fields, in order.
Fields = List[Tuple[str, str]]

# A bad value is quoted up to this many characters in a diagnostic: enough
# to recognize it, short enough to keep the message on one line.
_QUOTED_CHARS = 40

_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_DOMAIN_ID_RE = re.compile(r"[0-9a-fA-F]{1,16}\Z")
_SUPPRESSED_RE = re.compile(r"kauditd_printk_skb: (\d+) callbacks suppressed")
_LOST_RE = re.compile(r"audit: audit_lost=(\d+)|audit: backlog limit exceeded")


class Record(Header):
    """One audit record: its header (see :class:`Header`), its raw body and
    where it was read.

    Records are compared by identity (unlike headers): two records may read
    the same text.
    """

    __slots__ = ("source", "lineno", "line", "_fields", "domain", "blockers")

    source: str
    lineno: int
    line: str
    _fields: Optional[Dict[str, str]]
    domain: Optional[str]       # a Landlock record's domain id, as logged
    blockers: Optional[str]     # and its blockers= text

    def __init__(self, header: Header, source: str, lineno: int, line: str,
                 fields: Optional[Dict[str, str]] = None):
        self.carrier = header.carrier
        self.node = header.node
        self.type = header.type
        self.time = header.time
        self.serial = header.serial
        self.body = header.body
        self.enrichment = header.enrichment
        self.pid = header.pid
        self.kind = header.kind
        self.joined_type = header.joined_type
        # Where it was read (read_lines sets the same for the records it parses).
        self.source = source
        self.lineno = lineno
        self.line = line
        self._fields = fields
        self.domain = fields.get("domain") if fields else None
        self.blockers = fields.get("blockers") if fields else None

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return object.__hash__(self)

    @property
    def interpreted(self) -> bool:
        """Was the record read from ``ausearch -i`` output (values decoded, unquoted)?"""
        return self.carrier == INTERPRETED

    @property
    def fields(self) -> Dict[str, str]:
        """Field name -> value as written (quotes kept, not decoded); a key
        given twice keeps its first value (a Landlock record's is reported)."""
        if self._fields is None:
            # A key given twice keeps its first value, in every reader.
            self._fields = first_values(split_body(self.body, self.carrier == INTERPRETED))
        return self._fields

    def untrusted(self, key: str) -> Optional[bytes]:
        """The bytes of an untrusted string field (None: absent or a placeholder)."""
        value = self.fields.get(key)
        return None if value is None else decode_untrusted(value, self.carrier == INTERPRETED)

    def __repr__(self) -> str:
        return f"Record({self.type} {self.carrier} {self.serial} {self.source}:{self.lineno})"


@final
class Notice:
    """A line about the log itself: lost or suppressed records, a separator."""

    __slots__ = ("kind", "count", "source", "lineno", "line")

    SUPPRESSED = "suppressed"   # printk rate limiting: N records not printed
    LOST = "lost"               # the kernel's audit backlog overflowed
    SEPARATOR = "separator"     # ausearch's "----" between events
    IDLE = "idle"               # a live input went quiet (lldecode.audit.live)

    def __init__(self, kind: str, count: Optional[int], source: str, lineno: int, line: str):
        self.kind = kind
        self.count = count
        self.source = source
        self.lineno = lineno
        self.line = line


def split_body(body: str, interpreted: bool = False) -> Fields:
    """The (key, value as written) pairs of a body, raw or ``ausearch -i`` spelled."""
    if interpreted:
        return fastpath.split_interpreted_fields(body)
    return fastpath.split_fields(body)


class Diagnostics:
    """Problems met while reading, as ``FILE:LINE: reason`` messages.

    The counts are exact.  Each message goes to ``sink`` when one is given
    (the command line writes them, escaped, to stderr); otherwise the first
    ``KEEP`` messages are kept in :attr:`messages` for the caller to read.
    ``quiet`` drops the messages and keeps only the counts.
    """

    # A damaged log can hold millions of bad lines: the first thousand
    # messages tell the story, the counts say how many there were.
    KEEP = 1000

    def __init__(self, sink: Optional[Callable[[str], None]] = None, quiet: bool = False):
        self.sink = sink
        self.quiet = quiet
        self.messages: List[str] = []
        self.malformed = 0      # Landlock-looking lines that did not parse
        self.errors = 0         # inputs that could not be read
        self.notes = 0
        # Lines read to their end, and the Landlock records among them: a
        # reading of lines without any is said so (cli.common.Run.exit).
        self.lines = 0
        self.landlock = 0

    def emit(self, text: str) -> None:
        """Pass one message on (to the sink, or to :attr:`messages`), uncounted."""
        if self.quiet:
            return
        if self.sink is not None:
            self.sink(text)
        elif len(self.messages) < self.KEEP:
            self.messages.append(text)

    def report_malformed(self, source: str, lineno: int, reason: str) -> None:
        """A Landlock-looking line that does not parse, and why."""
        self.malformed += 1
        self.emit(f"{source}:{lineno}: {reason}")

    def report_error(self, message: str) -> None:
        """An input that cannot be read."""
        self.errors += 1
        self.emit(message)

    def report_note(self, source: str, lineno: int, message: str) -> None:
        """Something worth knowing about a line that was read all the same."""
        self.notes += 1
        self.emit(f"{source}:{lineno}: note: {message}")

    def add_counts(self, malformed: int, errors: int, notes: int, lines: int = 0,
                   landlock: int = 0) -> None:
        """Add the counts of diagnostics met elsewhere (a part read by a worker)."""
        self.malformed += malformed
        self.errors += errors
        self.notes += notes
        self.lines += lines
        self.landlock += landlock

    def counts(self) -> Tuple[int, int, int, int, int]:
        """The arguments of :meth:`add_counts` that give these counts."""
        return self.malformed, self.errors, self.notes, self.lines, self.landlock


def check_landlock(type_token: str, carrier: str, body: str) -> Tuple[Optional[str], Fields]:
    """(why a Landlock record's body is not well-formed or None, its fields)."""
    interpreted = carrier == INTERPRETED
    if not interpreted and not fastpath.body_is_well_formed(body, strict=True):
        if _CONTROL_RE.search(body):
            return "control character inside a Landlock record", []
        return "malformed key=value fields", []
    fields = split_body(body, interpreted)
    if not fields or fields[0][0] != "domain" or (interpreted and not body.startswith("domain=")):
        return "Landlock record not starting with domain=", fields
    domain = fields[0][1]
    if not _DOMAIN_ID_RE.match(domain):
        return f"domain={domain[:_QUOTED_CHARS]} is not a hexadecimal domain id", fields
    kind = LANDLOCK_TYPES.get(type_token, OTHER)
    if kind == ACCESS:
        if len(fields) < 2 or fields[1][0] != "blockers":
            return "LANDLOCK_ACCESS record without blockers= after domain=", fields
        if not fastpath.is_blocker_list(fields[1][1]):
            return (f"blockers={fields[1][1][:_QUOTED_CHARS]} is not a comma-separated list",
                    fields)
    elif kind == DOMAIN and len(fields) < 2:
        return "LANDLOCK_DOMAIN record with nothing but domain=", fields
    return None, fields


# The grammar (pyparsing) diagnoses a malformed line precisely, at a few
# thousand lines a second: lines longer than this get the fast path's reason
# (a kernel record is at most a few KiB)...
DIAGNOSE_MAX_CHARS = 16 << 10
# ... and so do the malformed lines of a reading after this many: a damaged
# log repeats the same damage, the first ones tell the story.  (Each is still
# reported, with its file, line and the reason the fast path gives.)
DETAILED_DIAGNOSES = 1000


def _diagnose(line: str, problem: str) -> str:
    """Why the grammar rejects the line; ``problem`` (the fast path's reason)
    when it does not say, or when the line is too long to diagnose in full."""
    if len(line) > DIAGNOSE_MAX_CHARS:
        return problem
    from lldecode.audit import grammar

    try:
        return grammar.diagnose(line) or problem
    except Exception:  # the grammar fails on this line: the fast path's reason
        return problem


# A line that looks like a Landlock record, but for which no record header
# could be read: the fast path's reason.
_NO_HEADER = "Landlock-looking line without a well-formed audit record header"


def _unexpected(exc: Exception) -> str:
    """The diagnostic of a line whose reading failed in an unforeseen way."""
    if isinstance(exc, HeaderError):
        return str(exc)
    text = str(exc)
    if len(text) > 2 * _QUOTED_CHARS:
        text = text[:2 * _QUOTED_CHARS] + "..."
    return f"unreadable line ({type(exc).__name__}: {text})"


def _may_concern_landlock(line: str) -> bool:
    """Could the line be a Landlock record or a notice about lost records?
    (A few substring tests: much cheaper than parsing every line.)

    A superset of what read_lines() makes a Landlock record, a notice or a
    diagnostic of: every Landlock body starts with ``domain=`` and every
    Landlock type names 1423/1424, LANDLOCK_ or LL_D; colour codes
    (removed before reading) and journald JSON (``\\u`` escapes, byte-array
    messages) may hide them from these tests, so such lines are read too.
    """
    return ("142" in line or "LANDLOCK_" in line or "LL_D" in line or "suppressed" in line
            or "audit_lost" in line or "backlog" in line or line.startswith("----")
            or "domain=" in line or "\x1b" in line
            or ("{" in line and ("\\u" in line or "[" in line)))


def _may_be_unnumbered(line: str) -> bool:
    """Could the line be a record without serial (journald short output's
    ``audit[PID]: TYPE`` or ``audit: TYPE``, an elided sample's ``[...]``)?"""
    return "audit[" in line or "audit: " in line or "[...]" in line


class ReadState:
    """What the reading of one source tells the reading of the next ones.

    ``unnumbered``: records without serial were read (journald short
    output).  Such a record joins its event by position
    (lldecode.audit.events), after the event's Landlock records: from the
    first one on, process records without serial (SYSCALL, PROCTITLE...)
    are read even when only the Landlock records are wanted, so that the
    events are the same either way.
    """

    __slots__ = ("unnumbered",)

    def __init__(self) -> None:
        self.unnumbered = False


def read_lines(source: Source, diagnostics: Diagnostics, landlock_only: bool = False,
               state: Optional[ReadState] = None,
               hold: Optional[Callable[[], bool]] = None,
               want: Optional[Want] = None) -> Iterator[Union[Record, Notice]]:
    """Records and notices of one source, reporting what does not parse.

    ``landlock_only`` skips, unparsed, the lines that cannot be Landlock
    records or notices: for analyses that need no SYSCALL, PATH or
    PROCTITLE context.  The Landlock records and notices are the same
    either way, and so are their events (see :class:`ReadState`; ``state``
    goes from one source to the next).

    An uncompressed file is scanned in blocks (lldecode.audit.scan) when
    ``landlock_only`` or when ``hold`` is given (a compressed file, or
    standard input from a file, too when ``hold`` is given: from its
    stream): the plain records of other types (auditd's, the kernel
    console's, the events of ``ausearch`` output that hold none) are not
    read, with the same results.  ``hold()`` says
    whether the records read so far leave an event open
    (lldecode.audit.events.EventGrouper): while it does, the plain records
    that ``want`` (node, serial, time) says matter are read (every one
    without ``want``).  The blocks of mostly Landlock records are read
    whole (_bulk_reader), with the same results.
    """
    if state is None:
        state = ReadState()
    raw_match = fastpath.RAW_RE.match
    parse = Record.parse
    find_record = fastpath.find_record
    plain_body = fastpath.plain_landlock_body
    hint = fastpath.LANDLOCK_HINT_RE.search
    name = source.name
    lineno = 0
    detailed = DETAILED_DIAGNOSES
    item: Union[Record, Notice, None]
    problem: Optional[str]
    scan = (_scanner(source, hold or _never, want, landlock_only,
                     (lambda: state.unnumbered) if landlock_only and SIEVE else None)
            if landlock_only or hold is not None else None)
    numbered: Iterator[Tuple[int, Union[str, Record]]]
    sifted: Optional[_Numbered] = None
    if scan is not None:
        numbered = _scanned(source, scan)
    elif landlock_only and SIEVE:  # (only the lines the per-line tests below may keep)
        sifted = _Numbered(source.sifted(lambda: state.unnumbered), source.first_lineno)
        numbered = iter(sifted)
    else:
        numbered = enumerate(source.lines(), source.first_lineno)
    landlock = 0  # Landlock records read
    for lineno, line in numbered:
        if isinstance(line, Record):  # read by the scan's bulk reading (_bulk_reader)
            if line.kind is not OTHER:
                landlock += 1
            yield line
            continue
        if not line:
            if line is TOO_LONG:
                diagnostics.report_malformed(
                    name, lineno, f"line longer than {source.max_line_length} bytes: skipped")
            continue
        if landlock_only and not _may_concern_landlock(line) and not (
                state.unnumbered and _may_be_unnumbered(line)):
            continue
        item = problem = None
        # Whatever goes wrong reading this line is reported with its place;
        # the next line is read all the same.
        try:
            m = raw_match(line) if "\x1b" not in line else None
            if m is not None:
                # The hot path: the header parsed straight into a Record, which
                # gets here what Record.__init__ would give it.
                record = parse(RAW, m.groups(""), line, 0, m.end())
                record.source = name
                record.lineno = lineno
                record.line = line
                record._fields = record.domain = record.blockers = None
            else:
                laurel = (_laurel_records(line, name, lineno, landlock_only, diagnostics)
                          if "{" in line else None)
                if laurel is not None:  # laurel's JSON: one line, one event
                    landlock += sum(r.kind is not OTHER for r in laurel)
                    yield from laurel
                    continue
                header = (find_record(line) if ("audit" in line or "type=" in line
                                                or "{" in line or "\x1b" in line) else None)
                if header is None:
                    item = _notice(line, name, lineno)
                    if item is None and hint(line) and fastpath.LANDLOCK_LOOKS_RE.search(line):
                        problem = _NO_HEADER
                    record = None
                else:
                    record = Record(header, name, lineno, line)
            if record is not None:
                kind = record.kind
                if kind is not OTHER:
                    lead = plain_body(kind, record.body) if record.carrier != INTERPRETED else None
                    if lead is not None:
                        # The usual shape: domain and blockers are its first words;
                        # the other fields are read when someone asks for them.
                        record.domain, record.blockers = lead
                        item = record
                        landlock += 1
                    else:
                        problem, fields = check_landlock(record.type, record.carrier,
                                                         record.body)
                        if problem is None:
                            values = first_values(fields)
                            if len(values) != len(fields):
                                problem = fastpath.duplicate_problem(fields)
                            record._fields = values
                            record.domain = values["domain"]
                            record.blockers = values.get("blockers")
                            item = record
                            landlock += 1
                elif not landlock_only or record.serial is None:
                    item = record  # (see ReadState)
                if record.serial is None and item is not None:
                    state.unnumbered = True
        except Exception as exc:  # one line never stops the reading
            item, problem = None, _unexpected(exc)
        else:
            if problem is not None and item is None:
                # A Landlock-looking line rejected: the grammar says where and why.
                if detailed > 0:
                    detailed -= 1
                    problem = _diagnose(line, problem)
        if problem is not None:
            diagnostics.report_malformed(name, lineno, problem)
        if item is not None:
            yield item
    if scan is not None:
        lineno = scan.last_lineno
        source.truncated_last_line = scan.unterminated
    elif sifted is not None:
        lineno = sifted.lineno
    if lineno:
        diagnostics.lines += lineno - source.first_lineno + 1
    diagnostics.landlock += landlock
    if source.truncated_last_line and lineno:
        diagnostics.report_note(name, lineno, "last line has no line terminator "
                                              "(the log may have been cut while written)")


# Scan uncompressed files rather than read every line (False: the reference
# reading, line by line; tests compare both).
SCAN = True

# Read only the lines the sieve keeps (lldecode.audit.sieve) when only
# Landlock records are read from inputs that are not scanned (False: every
# line; tests compare both).
SIEVE = True


class _Numbered:
    """(line number, line) of sifted lines (an int: that many lines
    skipped); :attr:`lineno`: the number of the last line, kept or not."""

    def __init__(self, lines: Iterable[Union[str, int]], first: int) -> None:
        self.lines = lines
        self.lineno = first - 1

    def __iter__(self) -> Iterator[Tuple[int, Union[str, Record]]]:
        lineno = self.lineno
        try:
            for line in self.lines:
                if line.__class__ is int:
                    lineno += line
                else:
                    lineno += 1
                    yield lineno, line  # type: ignore[misc]
        finally:
            self.lineno = lineno


def _never() -> bool:
    return False


def _scanner(source: Source, hold: Callable[[], bool], want: Optional[Want],
             landlock_only: bool = False,
             wide: Optional[Callable[[], bool]] = None) -> "Optional[Scan[Record]]":
    """A scan of the source's candidate lines (lldecode.audit.scan), when it
    is an uncompressed regular file read without a progress display (the
    plain records it passes over go to ``want.gaps``, when given; ``wide``:
    sieve the blocks of other lines than plain records, see Scan).  A
    compressed file, or standard input from a file, is scanned from its
    stream when the process records are read too (Source.chunks; the
    Landlock records only: sieved, see read_lines)."""
    if not SCAN or source.watcher is not None:
        return None
    chunks = None
    if source.path is None or not scannable(source.path):
        streamable = getattr(source, "streamable", None)  # (a live segment: none)
        if landlock_only or not STREAMS or streamable is None or not streamable():
            return None
        chunks = source.chunks()
    return Scan(source.path or source.name, source.start, source.end, source.first_lineno,
                source.max_line_length, hold, want,
                _bulk_reader(source.name, landlock_only) if BULK else None,
                want.gaps if want is not None else None, wide, chunks)


# Scan the streams of compressed files and of standard input from a file
# when the process records are read too (False: line by line; tests compare
# both).
STREAMS = True


# Read the dense blocks of a scan whole (False: line by line, as the other
# blocks; tests compare both).
BULK = True


# The Landlock records and the candidate lines (see lldecode.audit.scan) of
# a block of text after a newline ("\n" + text): each match is a line after
# a newline, either a Landlock record that BLOCK_LINES_RE reads (the same
# groups: line, node, type, sec, ms, serial, rest, "") or a line that is no
# plain record (("", ..., line)); plain records are not matched at all.
_LANDLOCK_LINES_RE = re.compile(
    r"\n(?:((?:node=([^ \t\n]+) )?type=("
    + "|".join(re.escape(t) for t in sorted(LANDLOCK_TYPES, key=len, reverse=True))
    + r") msg=audit\(([0-9]{1,10})\.([0-9]{1,9}):([0-9]{1,20})\): ?(.*))"
    + r"|(?!" + PLAIN_RECORD.decode("latin-1") + r")(.*))")


def _bulk_reader(name: str, landlock_only: bool) -> Bulk[Record]:
    """The bulk reading of a dense block (lldecode.audit.scan): one search
    (syntax.BLOCK_LINES_RE; _LANDLOCK_LINES_RE for ``landlock_only``) reads
    the header of every auditd record of the block, and the records are
    made of its findings as read_lines() makes them, Landlock records with
    the usual shape of body (syntax.plain_landlock_body) included; every
    other line (another carrier's, a Landlock record of another shape,
    numbers out of range, anything malformed) is left to read_lines(), which
    reads it (and reports it) as it reads any line.  ``landlock_only``: as
    read_lines()'s (the records of other types are not made at all: such a
    plain record gives read_lines() nothing)."""
    new = Record.__new__
    kinds = LANDLOCK_TYPES
    joined = JOINED_TYPES
    shapes = fastpath.LANDLOCK_BODY_RES  # (plain_landlock_body's tests, inline)

    def make(lineno: int, line: str, node: str, type_token: str, sec: str, ms: str,
             serial: str, rest: str, kind: str) -> Union[str, Record]:
        """The record of a line BLOCK_LINES_RE read: what Header.parse(RAW, ...)
        and read_lines() give it (a carriage return before the line end is
        stripped either way); the line itself when read_lines() is to read it."""
        record = new(Record)
        if line[-1] == "\r":
            line = line[:-1]
        cut = rest.find("\x1d")
        if cut < 0:
            record.body = body = rest.rstrip(" \t\r")
            record.enrichment = None
            record.carrier = RAW
        else:
            record.body = body = rest[:cut].rstrip(" \t\r")
            record.enrichment = rest[cut + 1:].rstrip(" \t\r")
            record.carrier = "enriched"
        record.node = node or None
        record.type = type_token
        record.time = int(sec) + int(ms) / 10 ** len(ms)
        record.serial = int(serial)
        record.pid = None
        record.kind = kind
        record.joined_type = joined.get(type_token)
        record.source = name
        record.lineno = lineno
        record.line = line
        record._fields = None
        if kind is OTHER:
            record.domain = record.blockers = None
            return record
        m = shapes[kind].fullmatch(body)
        if m is None:  # another shape: checked, and reported, by read_lines
            return line
        if kind is ACCESS:
            record.domain, blockers = m.group(1, 2)
            if blockers[0] == "," or blockers[-1] == "," or ",," in blockers:
                return line
            record.blockers = blockers
        else:
            record.domain = m.group(1)
            record.blockers = None
        return record

    def read_all(text: str, first: int) -> Iterator[Tuple[int, Union[str, Record]]]:
        for lineno, (line, node, type_token, sec, ms, serial, rest, other) in enumerate(
                fastpath.BLOCK_LINES_RE.findall(text), first):
            if line:
                yield lineno, make(lineno, line, node, type_token, sec, ms, serial, rest,
                                   kinds.get(type_token, OTHER))
            elif other:  # (an empty line gives nothing)
                yield lineno, other[:-1] if other[-1] == "\r" else other

    def read_landlock(text: str, first: int) -> Iterator[Tuple[int, Union[str, Record]]]:
        text = "\n" + text
        count = text.count
        lineno, previous = first - 1, 0  # the number of the line ending at previous
        for m in _LANDLOCK_LINES_RE.finditer(text):
            start = m.start() + 1  # (the line's start)
            lineno += count("\n", previous, start)
            previous = start
            line, node, type_token, sec, ms, serial, rest, other = m.groups("")
            if line:
                yield lineno, make(lineno, line, node, type_token, sec, ms, serial, rest,
                                   kinds[type_token])
            elif other:  # (an empty line gives nothing)
                yield lineno, other[:-1] if other[-1] == "\r" else other

    return read_landlock if landlock_only else read_all


def _scanned(source: Source, scan: "Scan[Record]") -> Iterator[Tuple[int, Union[str, Record]]]:
    """The candidate lines of a scan (SourceError if the file cannot be read)."""
    try:
        yield from scan.lines()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SourceError(f"{source.name}: " + (f"cannot read: {reason}"
                                                if scan.binary is not None else reason)) from None
    finally:
        scan.close()


def _laurel_records(line: str, source: str, lineno: int, landlock_only: bool,
                    diagnostics: Diagnostics) -> Optional[List[Record]]:
    """The records of a laurel event line (lldecode.audit.laurel), each
    Landlock record checked as read_lines() checks one; None when the line
    is no laurel event."""
    from lldecode.audit.laurel import LaurelError, event_headers

    try:
        headers = event_headers(line)
    except (LaurelError, HeaderError) as exc:
        diagnostics.report_malformed(source, lineno, str(exc))
        return []
    if headers is None:
        return None
    records = []
    for header in headers:
        record = Record(header, source, lineno, line)
        if record.kind is not OTHER:
            problem, fields = check_landlock(record.type, record.carrier, record.body)
            if problem is not None:
                diagnostics.report_malformed(source, lineno, f"{record.type}: {problem}")
                continue
            values = first_values(fields)
            record._fields = values
            record.domain = values["domain"]
            record.blockers = values.get("blockers")
        elif landlock_only:
            continue
        records.append(record)
    return records


def _notice(line: str, source: str, lineno: int) -> Optional[Notice]:
    """The notice a line that is no record stands for, if any."""
    if line.startswith("----"):
        return Notice(Notice.SEPARATOR, None, source, lineno, line)
    if "audit" not in line:
        return None
    m = _SUPPRESSED_RE.search(line)
    if m:
        return Notice(Notice.SUPPRESSED, int(m.group(1)), source, lineno, line)
    m = _LOST_RE.search(line)
    if m:
        count = int(m.group(1)) if m.group(1) else None
        return Notice(Notice.LOST, count, source, lineno, line)
    return None


class _Segment:
    """The lines of a live source up to its next IDLE, as a source
    :func:`lldecode.audit.records.read_lines` reads (line numbers go on
    from one segment to the next)."""

    # not a file to scan whole (lldecode.audit.scan): lines as they come
    path: Optional[str] = None
    watcher = None
    start = 0
    end: Optional[int] = None

    def __init__(self, source: Source, lines: Iterator[Union[str, int]],
                 first_lineno: int) -> None:
        self.source = source
        self._lines = lines
        self.name = source.name
        self.max_line_length = source.max_line_length
        self.first_lineno = first_lineno
        self.next_lineno = first_lineno
        self.ended = False

    @property
    def truncated_last_line(self) -> bool:
        return self.ended and self.source.truncated_last_line

    def lines(self) -> Iterator[Union[str, int]]:
        """The lines up to the next IDLE (sifted: an int for that many lines skipped)."""
        for line in self._lines:
            if line is live.IDLE:
                return
            if line.__class__ is int:
                self.next_lineno += line
            else:
                self.next_lineno += 1
            yield line
        self.ended = True

    def sifted(self, wide: Callable[[], bool]) -> Iterator[Union[str, int]]:
        return self.lines()  # (sifted, when read_live reads the source sifted)


def read_live(source: Source, diagnostics: Diagnostics, landlock_only: bool = False,
              state: Optional[ReadState] = None) -> Iterator[Union[Record, Notice]]:
    """The records and notices of a live source, with an idle notice where
    its input went quiet (see lldecode.audit.live)."""
    if state is None:
        state = ReadState()
    unnumbered = state
    lines: Iterator[Union[str, int]] = (
        source.sifted(lambda: unnumbered.unnumbered) if landlock_only and SIEVE
        else source.lines())
    lineno = source.first_lineno
    while True:
        segment = _Segment(source, lines, lineno)
        yield from read_lines(segment, diagnostics, landlock_only, state)  # type: ignore[arg-type]
        if segment.ended:
            return
        lineno = segment.next_lineno
        yield Notice(Notice.IDLE, None, source.name, lineno, "")


def read_records(sources: Iterable[Source], diagnostics: Diagnostics,
                 landlock_only: bool = False,
                 max_line_length: Optional[int] = None,
                 hold: Optional[Callable[[], bool]] = None,
                 want: Optional[Want] = None) -> Iterator[Union[Record, Notice]]:
    """Records and notices of all sources in order; unreadable ones reported
    (and the next one read).  ``max_line_length``, when given, is the
    longest line read from each source (see lldecode.audit.sources);
    ``hold`` and ``want``: see :func:`read_lines`."""
    state = ReadState()
    for source in sources:
        if max_line_length is not None:
            source.max_line_length = max_line_length
        try:
            if getattr(source, "live", False):
                yield from read_live(source, diagnostics, landlock_only, state)
            else:
                yield from read_lines(source, diagnostics, landlock_only, state, hold, want)
        except SourceError as exc:
            diagnostics.report_error(f"lldecode: {exc}")
