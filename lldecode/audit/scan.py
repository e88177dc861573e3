"""Scanning: the lines of a file that can matter, found in large buffers.

:func:`lldecode.audit.records.read_lines` reads every line the same way,
and most lines of a log are auditd records of other types than Landlock's
(SYSCALL, PATH, USER_*...).  Such a *plain record* (see PLAIN_RECORD: an
auditd header, a type that is no Landlock type in any spelling, numbers in
range) gives nothing when only Landlock records are read, and matters to
the events only while one is open.  :class:`Scan` reads a file in blocks of
a MiB and finds, with one compiled search per block (C speed; SEARCH_RE, a
cheaper pattern whose few extra finds PLAIN_RE takes back), the lines
that are *not* plain records: Landlock records, notices, other carriers,
anything malformed.  Only those are read, with their exact line numbers
(newlines counted per block); while an event is open, the plain records
that join it or complete it are read too (found by the serial the header
writes, and by the extremes of the stretch's serials and stamps).

Each line read goes through the same per-line reading as before, so the
records, notices, diagnostics and events are those of the line-by-line
reading, which stays the reference (records.SCAN = False reads line by
line; tests/audit/test_scan.py compares both on every fixture, and on
generated and hostile logs, byte for byte on every command).  A block that
may hold a line over the length limit is split line by line from there on
(the reference's handling of long lines); a block of mostly Landlock
records is read whole, by the caller's bulk reading when it has one
(records._bulk_reader: one search over the block's text reads the header
of every record, and gives back to the per-line reading each line it does
not take exactly as that reading would; tests/audit/test_scan_bulk.py), or
split whole, or, when only Landlock records are read, sieved
(lldecode.audit.sieve: a block of dmesg, journald or ``ausearch -i``
lines).  Compressed files, standard input and pipes are sieved by their
source when only Landlock records are read (lldecode.audit.sources.Sifter),
else read line by line, as netlink and progress displays are.

Other carriers: a block of ``ausearch`` output (``-i`` or not: events
between ``----`` separators) is read by events (:meth:`Scan._events`): an
event between two separators whose lines are all plain records of other
types (see _PLAIN_EVENTED) is not read, nor the separator after it; every
other line is.  A block of the kernel console's records (dmesg, with or
without its uptime or -T date: :data:`DMESG`) is scanned as an auditd
block is, with the console's header (the Python walk: the C accelerator
reads auditd's).  journald (no serial, an event's records grouped by
stamp) and netlink (interleaved) are read as before
(tests/audit/test_scan_carriers.py compares them all with the reference).

The optional C accelerator (lldecode/audit/_native.c, :data:`native`)
does two things of this module in one pass over the bytes: the candidate
search with the newlines before each candidate, and the walk over plain
records that cannot matter to the open events (a test that says "may
matter" more often, never less, than the grouper's own, as the Python
walk's).  The Python code stays the reference
(tests/audit/test_native.py).

A reading that counts the serials missing from the input (every serial
matters) gives ``gaps`` (see :class:`Gaps`): the scan hands it the node and
serial of each plain record it passes over, found with one search per
stretch of such records, at the place the record has in the log (before
the next line read), so that the count is the line-by-line reading's.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import math
import operator
import os
import re
import sys
from types import ModuleType
from typing import (
    BinaryIO,
    Callable,
    Generic,
    Iterable,
    Iterator,
    List,
    Optional,
    Protocol,
    Set,
    Tuple,
    TypeVar,
    Union,
    cast,
)

from lldecode.audit import live, sieve
from lldecode.audit.sources import split_lines


def _load_native() -> Optional[ModuleType]:
    """The C search (lldecode/audit/_native.c), unless it was not built or
    LLDECODE_NATIVE=0 turns it off."""
    if os.environ.get("LLDECODE_NATIVE", "1") == "0":
        return None
    try:
        return importlib.import_module("lldecode.audit._native")
    except ImportError:
        return None


# The optional C accelerator: the candidate search and the walk over plain
# records, giving what the Python code of this module gives (None: that
# code; tests/audit/test_native.py compares both).
native = _load_native()

# Bytes read at a time: large enough that the per-block work (a search, a
# newline count) is small beside the bytes, small enough for the memory
# bound (a block, and its copy as text when it is split whole).
BLOCK = 1 << 20

# A block with a candidate every DENSE bytes or less (a log of Landlock
# records) is split whole: cheaper than finding each line.
DENSE = 1024
# Bytes at the start of a block that tell whether it is dense.
PROBE = 1 << 16

# (The patterns of this module are written with possessive quantifiers,
# which spare the searches backtracking that cannot succeed; before Python
# 3.11, which reads none, they are read without: the same lines match,
# each quantified class being followed by a byte it does not hold.)
POSSESSIVE = sys.version_info >= (3, 11)


def portable(pattern: bytes, possessive: bool = POSSESSIVE) -> bytes:
    """The pattern, without its possessive quantifiers unless ``possessive``."""
    if possessive:
        return pattern
    return pattern.replace(b"]*+", b"]*").replace(b"]++", b"]+").replace(b"}+", b"}")


# A line the reader makes nothing of when only Landlock records are read,
# and a record that cannot join an event that is not open: an auditd record
# (records.py reads it with syntax.RAW_RE, anchored) whose type is no
# Landlock type in any spelling (syntax.LANDLOCK_TYPES) and whose stamp and
# serial are within syntax.Header's ranges (no HeaderError).  Every other
# line is a candidate, found by one search: a newline not followed by this.
_TYPE = rb"(?:[A-Z][A-Z0-9_]*+(?:\[[0-9]++\])?|[0-9]++)"
PLAIN_RECORD = portable(
    rb"(?:node=[^ \t\n]++ )?type=(?!LANDLOCK_|LL_|UNKNOWN\[142|AUDIT142|142)"
    + _TYPE + rb" msg=audit\([0-9]{1,10}+\.[0-9]{1,9}+:[0-9]{1,20}+\):")
PLAIN_RE = re.compile(PLAIN_RECORD)
OTHER_LINE_RE = re.compile(rb"\n(?!" + PLAIN_RECORD + rb")")
# The search made for them: cheaper (some 40% less time on a log of few
# Landlock records), it finds every line OTHER_LINE_RE finds, and a few
# more (node= records, types like UNKNOWN[1300] or 1300) that PLAIN_RE then
# takes back.  Each matches a newline not followed by the usual plain
# record: a type in capitals, of no Landlock spelling, numbers in range (a
# pattern PLAIN_RECORD takes whole).  A block whose first line starts with
# node= is searched with the node= spelling.
_USUAL = (rb"type=(?!LANDLOCK_|LL_|AUDIT142)[A-Z][A-Z0-9_]*+"
          rb" msg=audit\([0-9]{1,10}+\.[0-9]{1,9}+:[0-9]{1,20}+\):")
SEARCH_RE = re.compile(portable(rb"\n(?!" + _USUAL + rb")"))
SEARCH_NODE_RE = re.compile(portable(rb"\n(?!node=[^ \t\n]++ " + _USUAL + rb")"))
# The header of a plain record: node, seconds, fraction, serial.
_HEADER_RE = re.compile(portable(rb"(?:node=([^ \t\n]++) )?type=[^ \n]++ "
                                 rb"msg=audit\(([0-9]++)\.([0-9]++):([0-9]++)\):"))
# Seconds of margin for the bulk test of times (float rounding of stamps).
_MARGIN = 1e-3
# Plain records tested at once by the extremes of their serials and stamps.
ROWS = 64

# The open events, for the bulk test: their (node, serial) keys, the oldest
# one's serial and stamp, the serial window and the timeout (EventGrouper's).
Held = Tuple[List[Tuple[Optional[str], int]], int, Optional[float], int, float]


class Gaps(Protocol):
    """Takes the plain records a scan passes over, in log order: a run of
    records of one node (None: written without node=), by the digits of
    their serials as written (lldecode.audit.events.EventGrouper.skip_serials
    accounts them as if they were read)."""

    def __call__(self, node: Optional[str], serials: List[bytes]) -> None: ...


class Want(Protocol):
    """Does a plain record (node, serial, time) matter to the open events:
    does it belong to one, or is the stream past the oldest one?"""

    def __call__(self, node: Optional[str], serial: int, time: float) -> bool: ...

    def held(self) -> Held:
        """The open events (at least one is open when asked)."""

    @property
    def gaps(self) -> Optional[Gaps]:
        """What takes the plain records the scan passes over (None: nothing)."""


# Colour codes are removed before a line is read: such a line is a candidate.
_ESC = b"\x1b"
_ESC_TEXT = "\x1b"

# A line (in place of the lines a block skips) and its number.
Numbered = Tuple[int, str]

# What a bulk reading of a dense block gives for each line it reads: a line
# (to read as any other) or an item it made of the line itself.
_Item = TypeVar("_Item")
Bulk = Callable[[str, int], Iterable[Tuple[int, Union[str, _Item]]]]


class Scan(Generic[_Item]):
    """The candidate lines of one uncompressed regular file, or of the byte
    range [start, end) of one (the lines that start in it).

    Candidates are the lines that are not plain auditd records of another
    type than Landlock's (see PLAIN_RECORD).  After each line read,
    ``hold`` is asked whether an event is open: while one is, each plain
    record is read too when ``want`` (given its node, serial and time) says
    it matters (every one without ``want``).  After the iteration,
    :attr:`last_lineno` is the number of the last line and
    :attr:`unterminated` says whether it had no terminator.

    ``bulk``, when given, reads a dense block whole: given its text (without
    the last line's terminator; no ESC byte in it) and the number of its
    first line, it gives (line number, line or item) for its lines in
    order, an item for each line it read itself, a line for each line left
    to the caller, none for a line that gives nothing.

    ``gaps``, when given, takes each plain record the scan passes over (its
    node and serial), before the next line is given (see :class:`Gaps`).

    A block of ``ausearch`` output is read by events (:meth:`_events`),
    one of dmesg with its header (:data:`DMESG`).

    ``wide``, when given, says the reading wants the Landlock records only
    (no event is ever held): a block of mostly other lines than plain
    records (dmesg, journald...) is then sieved
    (lldecode.audit.sieve: only the lines holding one of the substrings
    the reader's per-line tests look for are given; ``wide()`` says
    whether those of records without serial are wanted too).
    """

    def __init__(self, path: str, start: int, end: Optional[int], first_lineno: int,
                 max_line_length: int, hold: Callable[[], bool] = lambda: False,
                 want: Optional[Want] = None,
                 bulk: "Optional[Bulk[_Item]]" = None, gaps: Optional[Gaps] = None,
                 wide: Optional[Callable[[], bool]] = None,
                 chunks: Optional[Iterator[bytes]] = None):
        self.path = path
        self.chunks = chunks
        self.start = start
        self.end = end
        self.first_lineno = first_lineno
        self.limit = max_line_length
        self.last_lineno = first_lineno - 1
        self.unterminated = False
        self.binary: Optional[BinaryIO] = None
        self.hold = hold
        self.want = want
        self.bulk = bulk
        self.gaps = gaps
        self.wide = wide
        self._lineno = 0   # the number of the last line of the block scanned
        self._walked = 0   # lines walked by _walk, and whether it left an event open
        self._holding = False
        self._dialect = AUDITD  # the plain records of the block being scanned

    def close(self) -> None:
        """Close the file (when it was opened), or the stream."""
        if self.binary is not None:
            self.binary.close()
            self.binary = None
        if self.chunks is not None:
            close = getattr(self.chunks, "close", None)
            if close is not None:
                close()

    def _stream_blocks(self, chunks: Iterator[bytes]) -> Iterator[Tuple[bytes, int]]:
        """:meth:`_blocks` of a stream's pieces (``chunks``): pieces joined
        into blocks of a MiB or more, each cut after its last newline (the
        rest begins the next one).  When the stream fails, the lines it
        gave before are given first, as the line reading gives them, then
        the failure is raised."""
        carry = b""
        while True:
            pieces = [carry] if carry else []
            length = len(carry)
            failure: Optional[BaseException] = None
            ended = False
            fresh = False  # (a piece read: a carry longer than a block needs more)
            while length < BLOCK or not fresh:
                fresh = True
                if live.stop:  # (interrupted: the input ends here)
                    ended = True
                    break
                try:
                    piece = next(chunks, None)
                except Exception as exc:  # (given after the lines read before it)
                    failure = exc
                    break
                if piece is None:
                    ended = True
                    break
                pieces.append(piece)
                length += len(piece)
            data = b"".join(pieces)
            if failure is not None:
                cut = data.rfind(b"\n") + 1
                if cut:
                    yield data, cut
                raise failure
            if ended:
                if data:
                    yield data, len(data)
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) <= self.limit:
                    carry = data  # (a line longer than a block: more of it)
                    continue
                cut = len(data)  # a line over the limit: split line by line
            yield data, cut
            carry = data[cut:]

    def _blocks(self) -> Iterator[Tuple[bytes, int]]:
        """(data, size): the bytes data[:size] of the lines that start in
        the range, in blocks ending at a line end (the last one may end
        without); a block of more than the limit without newline is a line
        over the limit.  (The file is read again from each block's end: no
        copy of the bytes; a block is good until the next one is read.)"""
        if self.chunks is not None:
            yield from self._stream_blocks(self.chunks)
            return
        f = self.binary = open(self.path, "rb", buffering=0)
        position = self.start
        end = self.end
        # Each block is read into the same buffer (no new memory to fault in
        # a MiB at a time): the caller is done with a block before it asks
        # for the next one (it keeps copies of its lines, never the block).
        buffer = bytearray(BLOCK)
        view = memoryview(buffer)
        while True:
            want = BLOCK if end is None else min(BLOCK, end - position)
            if want <= 0 or live.stop:  # (interrupted: the input ends here)
                return
            f.seek(position)
            got = f.readinto(view[:want])
            if not got:
                return
            # (a bytearray, read through the methods it shares with bytes)
            data = cast(bytes, buffer if got == BLOCK else buffer[:got])
            last = got < want or (end is not None and position + got >= end)
            cut = data.rfind(b"\n") + 1
            while cut == 0 and len(data) <= self.limit and not last:
                more = f.read(BLOCK)  # a line longer than a block
                last = len(more) < BLOCK
                data = bytes(data) + more
                cut = data.rfind(b"\n") + 1
            if last:
                if end is not None and not data.endswith(b"\n") and len(data) >= want:
                    data = bytes(data) + self._rest_of_line(f)  # (the range ends inside a line)
                yield data, len(data)
                return
            if cut == 0:
                cut = len(data)  # a line over the limit: split line by line
            yield data, cut
            position += cut

    def _rest_of_line(self, f: BinaryIO) -> bytes:
        pieces: List[bytes] = []
        while True:
            data = f.read(1 << 16)
            if not data:
                break
            cut = data.find(b"\n")
            if cut >= 0:
                pieces.append(data[:cut + 1])
                break
            pieces.append(data)
        return b"".join(pieces)

    def _long_line(self, block: bytes, size: int) -> bool:
        """Could block[:size] hold a line longer than the limit?"""
        return sieve.may_hold_long_line(block, 0, size, self.limit)

    def lines(self) -> Iterator[Tuple[int, Union[str, _Item]]]:
        """(line number, line) of the lines that may concern Landlock, in
        order; from a block that may hold a line over the limit on, every
        line (read as Source.lines reads them)."""
        lineno = self.first_lineno - 1  # the number of the last line of the previous block
        blocks = self._blocks()
        for block, size in blocks:
            if self._long_line(block, size):
                # The reference's splitting, from here to the end (every
                # block so far ended with a newline).
                rest = (data[:cut] for data, cut in itertools.chain([(block, size)], blocks))
                for line in split_lines(rest, self.limit, self._unterminated):
                    lineno += 1
                    yield lineno, line
                break
            yield from self._scan_block(block, size, lineno)
            lineno = self._lineno
            if block[size - 1:size] != b"\n":
                lineno += 1
                self.unterminated = True
        self.last_lineno = lineno

    def _unterminated(self) -> None:
        self.unterminated = True

    def _candidates(self, block: bytes,
                    size: int) -> Tuple[Optional[List[int]], Optional[List[int]], int]:
        """(starts, before, total): the line starts of the candidate lines
        of block[:size] (None when the block's first 64 KiB say most lines
        are candidates), with the C search the newlines before each start
        and in the block (else None and -1: the caller counts them)."""
        dialect = self._dialect
        if native is not None and dialect.native:
            return native.candidates(block, size)  # type: ignore[no-any-return]
        probe = min(size, PROBE)
        if len(dialect.search(block).findall(block, 0, probe)) * DENSE > probe:
            return None, None, -1
        return self._python_positions(block, size), None, -1

    def _python_positions(self, block: bytes, size: int) -> List[int]:
        """The line starts (sorted, unique) of the candidate lines of block[:size]."""
        dialect = self._dialect
        plain = dialect.plain.match
        # (OTHER_LINE_RE's finds: those of the cheaper search that are no plain record)
        starts = [start for start in (m.end() for m in dialect.search(block).finditer(block, 0,
                                                                                      size))
                  if plain(block, start, size) is None]
        if size and plain(block, 0, size) is None:
            starts.insert(0, 0)
        if starts and starts[-1] == size:
            starts.pop()  # after the last newline: no line
        marked = _lines_with(block, size, _ESC)
        if dialect.brace:
            marked += _lines_with(block, size, b"{")
        if marked:
            starts = sorted(set(starts).union(marked))
        return starts

    def _scan_block(self, block: bytes, size: int,
                    lineno: int) -> Iterator[Tuple[int, Union[str, _Item]]]:
        """The candidate lines of a block whose lines are all within the
        limit; ``lineno``: the number of the line before the block.  While
        ``hold()`` says True (an event is open), every line."""
        if _evented(block, size):
            yield from self._events(block, size, lineno)
            return
        self._dialect = DMESG if _dmesg(block, size) else AUDITD
        found, before, total = self._candidates(block, size)
        dense = found is None or len(found) * DENSE > size
        if dense and self.wide is not None:
            sifted = self._sifted(block, size)
            if sifted is not None:
                yield from self._sifted_lines(block, size, lineno, sifted)
                return
        if dense:
            # Most lines are candidates (a log of Landlock records): every
            # line, split at once, is cheaper than finding each; cheaper
            # still, the bulk reading of the whole block.
            yield from self._whole(block, 0, size, lineno)
            self._lineno = lineno + block.count(b"\n", 0, size)
            return
        assert found is not None  # (not dense)
        starts = found
        base = lineno  # (the number of the line before the block)
        count = block.count
        find = block.find
        hold, want, gaps = self.hold, self.want, self.gaps
        previous = 0   # the offset of the next line; lineno: the number of the line before
        i, n = 0, len(starts)
        holding = hold()  # an event left open by the block (or the file) before
        while True:
            if not holding:
                if i >= n:
                    break
                start = starts[i]
                i += 1
                if gaps is not None and start > previous:
                    self._skip(block, previous, start)  # (the plain records before it)
                if before is not None:
                    lineno = base + before[i - 1]
                else:
                    lineno += count(b"\n", previous, start)
                emit = True
            else:
                # An event is open: the plain records that join it or close it too.
                start = previous
                if i < n and starts[i] == start:
                    i += 1
                    emit = True
                elif want is None:
                    emit = True
                else:
                    # The plain records up to the next candidate, walked at once.
                    stop = starts[i] if i < n else size
                    yield from (self._walk(block, start, stop, want, lineno)
                                if native is None or not self._dialect.native
                                else self._quiet_walk(block, start, stop, want, lineno))
                    walked = self._walked
                    holding = self._holding
                    if walked >= 0:
                        lineno += walked
                    else:  # (not counted: the C search's counts tell the next line's number)
                        assert not holding and before is not None and total >= 0
                    previous = stop
                    if stop >= size:
                        if walked and block[size - 1:size] != b"\n":
                            previous = size + 1  # (as below: a last line without terminator)
                        break
                    continue
            end = find(b"\n", start, size)
            if end < 0:
                end = size  # (the last line, without terminator: a CR at its end is kept)
            lineno += 1
            previous = end + 1
            if emit:
                line = block[start:end].decode("latin-1")
                yield lineno, line[:-1] if line.endswith("\r") and end < size else line
                holding = hold()
            if previous >= size:
                break
        if previous < size:
            if gaps is not None:
                self._skip(block, previous, size)  # (the plain records after the last line)
            self._lineno = (base + total if total >= 0
                            else lineno + count(b"\n", previous, size))
        else:  # the number of the last line with a terminator
            self._lineno = (base + total if total >= 0
                            else lineno - 1 if previous > size else lineno)


    def _events(self, block: bytes, size: int,
                lineno: int) -> Iterator[Tuple[int, Union[str, _Item]]]:
        """The lines of a block of ``ausearch`` output (lines within the
        limit; ``lineno``: the number of the line before the block), but
        those of the events that are plain between two separators, and the
        separator after each (see _PLAIN_EVENTED; reading the Landlock
        records only, those separators are given all the same).  The
        records passed over go to ``gaps`` (when given), in log order."""
        # The starts of the lines that are not plain.
        other = [m.end() for m in OTHER_EVENTED_RE.finditer(block, 0, size)]
        if size and PLAIN_EVENTED_RE.match(block, 0, size) is None:
            other.insert(0, 0)
        marked = _lines_with(block, size, _ESC) + _lines_with(block, size, b"{")
        if marked:
            other = sorted(set(other).union(marked))
        # The stretches read: the first event (before the block's first
        # separator: what comes before is not known) and its separator, each
        # event holding a line that is not plain and the separator after it,
        # and the last event (after the last separator: what follows is not
        # known).  The others are passed over.
        stretches: List[List[int]] = []
        first = _next_separator(block, 0, size)
        if first < 0:
            stretches.append([0, size])  # (no separator: one event, read)
        else:
            stretches.append([0, _line_end(block, first, size)])
            for start in other:
                if start < stretches[-1][1]:
                    continue  # (its event is read)
                lo = _line_end(block, _previous_separator(block, start, size), size)
                following = _next_separator(block, start, size)
                hi = size if following < 0 else _line_end(block, following, size)
                if lo <= stretches[-1][1]:
                    stretches[-1][1] = hi
                else:
                    stretches.append([lo, hi])
            lo = _line_end(block, _previous_separator(block, size, size), size)
            if lo <= stretches[-1][1]:
                stretches[-1][1] = size
            elif lo < size:
                stretches.append([lo, size])
        count = block.count
        gaps = self.gaps
        at, at_lineno = 0, lineno  # an offset, and the number of the line before it
        previous = 0  # the end of the last stretch read
        # (Reading the Landlock records only, the separators passed over are
        # given all the same: the notices of that reading are the reference's.)
        separators = self.wide is not None
        for lo, hi in [*stretches, [size, size]]:
            if lo > previous:
                if gaps is not None:
                    self._event_gaps(block, previous, lo)
                if separators:
                    for m in _SEPARATOR_RE.finditer(block, previous - 1, lo):
                        start = m.start() + 1
                        at_lineno += count(b"\n", at, start)
                        at = start
                        # (a last line without terminator keeps its CR)
                        yield at_lineno + 1, ("----\r" if m.end() == size
                                              and block[size - 1] == 13 else "----")
            if lo >= hi:
                break
            at_lineno += count(b"\n", at, lo)
            at = lo
            yield from self._whole(block, lo, hi, at_lineno)
            previous = hi
        self._lineno = at_lineno + count(b"\n", at, size)

    def _whole(self, block: bytes, lo: int, hi: int,
               lineno: int) -> Iterator[Tuple[int, Union[str, _Item]]]:
        """Every line of block[lo:hi] (``lo`` a line start, ``hi`` one or
        the end of the block; ``lineno``: the number of the line before),
        split at once, or read by the bulk reading."""
        text = block[lo:hi].decode("latin-1")
        if text.endswith("\n"):
            text = text[:-1]
        # (A last line without terminator keeps a CR at its end, as
        # Source.lines reads it: the bulk reading strips every line's.)
        kept = block[hi - 1:hi] == b"\r"
        if self.bulk is not None and _ESC_TEXT not in text and not kept:
            yield from self.bulk(text, lineno + 1)
            return
        if "\r" in text:
            parts = [p[:-1] if p.endswith("\r") else p for p in text.split("\n")]
            if kept:
                parts[-1] += "\r"
        else:
            parts = text.split("\n")
        yield from enumerate(parts, lineno + 1)

    def _event_gaps(self, block: bytes, lo: int, hi: int) -> None:
        """Give ``gaps`` the records of block[lo:hi] (plain lines after a
        newline: see _PLAIN_EVENTED), by runs of one node."""
        gaps = self.gaps
        assert gaps is not None
        rows: List[Tuple[bytes, bytes]] = _EVENT_SERIALS_RE.findall(block, lo - 1, hi)
        for node, run in itertools.groupby(rows, key=_FIRST):
            gaps(node.decode("latin-1") or None, [serial for _, serial in run])

    def _sifted(self, block: bytes, size: int) -> Optional[List[int]]:
        """The starts of the lines of block[:size] the sieve keeps, when
        few are (see ``wide``); None: the block is read whole."""
        assert self.wide is not None
        wide = self.wide()
        probe = min(size, PROBE)
        if sieve.line_starts(block, 0, probe, wide, probe // sieve.DENSE) is None:
            return None  # (most lines are kept: read whole, as before)
        return sieve.line_starts(block, 0, size, wide, size // sieve.DENSE)

    def _sifted_lines(self, block: bytes, size: int, lineno: int,
                      starts: List[int]) -> Iterator[Tuple[int, Union[str, _Item]]]:
        """The lines of block[:size] at ``starts`` (:meth:`_sifted`), and
        those the sieve keeps once ``wide()`` turns on."""
        assert self.wide is not None
        last = lineno + block.count(b"\n", 0, size)
        for skipped, start, end in sieve.kept(block, 0, size, starts, self.wide(), self.wide):
            lineno += skipped + 1
            line = block[start:end].decode("latin-1")
            yield lineno, line[:-1] if line.endswith("\r") and end < size else line
        self._lineno = last

    def _quiet_walk(self, block: bytes, lo: int, hi: int, want: Want,
                    lineno: int) -> Iterator[Numbered]:
        """:meth:`_walk` with the C walk (native.quiet_rows) passing over
        the rows that cannot matter; each row it stops at is tested as
        :meth:`_walk` tests one (``want``), and given when it matters.  The
        rows passed over go to ``gaps`` (when given) before the next row
        given, and the rest of the stretch at the end."""
        assert native is not None
        quiet_rows = native.quiet_rows
        gaps = self.gaps
        skipped = lo  # the first row passed over and not yet given to gaps
        self._holding = True
        # The lines walked: counted as they are passed; -1 when the walk
        # stops early (no event open: the caller knows the next line's
        # number from the C search's counts, and the block's).
        self._walked = -1
        keys, oldest, stamp, window, timeout = want.held()
        serials = tuple(serial for _, serial in keys)
        late = math.inf if stamp is None else stamp + timeout - _MARGIN
        find = block.find
        position, row = lo, 0
        while position < hi:
            position, passed = quiet_rows(block, position, hi, oldest, window, late, serials)
            row += passed
            if position >= hi:
                break
            end = find(b"\n", position, hi)
            terminated = end >= 0  # (else the last line: a CR at its end is kept)
            if not terminated:
                end = hi
            if _matters(block, position, want, _HEADER_RE):
                line = block[position:end].decode("latin-1")
                if gaps is not None and position > skipped:
                    self._skip(block, skipped, position)
                skipped = end + 1
                yield lineno + row + 1, (line[:-1] if line.endswith("\r") and terminated
                                         else line)
                if not self.hold():
                    self._holding = False
                    break
                keys, oldest, stamp, window, timeout = want.held()
                serials = tuple(serial for _, serial in keys)
                late = math.inf if stamp is None else stamp + timeout - _MARGIN
            position, row = end + 1, row + 1
        if self._holding:
            self._walked = row  # (every line of the stretch)
        if gaps is not None and hi > skipped:
            self._skip(block, skipped, hi)  # (the rest of the stretch: passed over)

    def _walk(self, block: bytes, lo: int, hi: int, want: Want,
              lineno: int) -> Iterator[Numbered]:
        """The plain records of block[lo:hi] (lines after ``lineno``) that
        ``want`` says matter, while an event is open; then :attr:`_walked`
        is the number of lines walked and :attr:`_holding` whether an event
        is still open.  The others (the rest of the stretch too, once no
        event is open) go to ``gaps``."""
        self._holding = True
        gaps = self.gaps
        # The first line passed over and not yet accounted: its start, its row.
        skipped, skipped_row = lo, 0
        lines = self._walked = _lines_of(block, lo, hi)
        keys, oldest, stamp, window, timeout = want.held()
        # Rows of 10-digit seconds and serials as wide as the oldest open
        # one's, which compare as digit strings (else not exact: row by row).
        width = len(str(oldest)) if oldest >= 0 else 0
        dialect = self._dialect
        rows_re = dialect.rows(width)
        if lo:
            rows = rows_re.findall(block, lo - 1, hi)
        else:
            first = dialect.header.match(block, 0)
            rows = ([(first.group(2), first.group(4))]
                    if first and len(first.group(2)) == 10 and len(first.group(4)) == width
                    else []) + rows_re.findall(block, 0, hi)
        exact = len(rows) == lines
        # The rows' serials, for ``gaps`` (when the rows are every line's,
        # and no line has a node=: else the stretches are searched again).
        digits_of: Optional[List[bytes]] = None
        if gaps is not None and exact and not _has_node(block, lo, hi):
            digits_of = list(map(_SECOND, rows))
        serials = {serial for _, serial in keys}
        late = None if stamp is None else stamp + timeout - _MARGIN
        bounds = _bounds(width, serials, oldest, window, late)
        find = block.find
        position, at = lo, 0   # the start of line ``at`` of the stretch
        index = 0
        while index < lines:
            upto = min(lines, index + ROWS) if exact else lines
            if exact:
                # A run of records none of which can matter is passed at once:
                # no open serial, all within the window, all seconds before the
                # timeout's (compared as digit strings of one width).
                run_seconds, run_serials = zip(*rows[index:upto])
                open_serials, least, most, seconds = bounds
                if (open_serials.isdisjoint(run_serials) and min(run_serials) >= least
                        and max(run_serials) <= most and max(run_seconds) < seconds):
                    index = upto
                    continue
            while index < upto:
                row = index
                index += 1
                if exact:
                    whole, digits = rows[row]
                    serial = int(digits)
                    # (a stamp of ``whole`` seconds is below whole + 1)
                    if not (serial in serials or serial - oldest > window
                            or oldest - serial > window
                            or (late is not None and int(whole) + 1 > late)):
                        continue  # (a test that says "may matter" more often, never less)
                while at < row:
                    position = find(b"\n", position, hi) + 1
                    at += 1
                if not _matters(block, position, want, dialect.header):
                    continue
                end = find(b"\n", position, hi)
                terminated = end >= 0  # (else the last line: a CR at its end is kept)
                if not terminated:
                    end = hi
                line = block[position:end].decode("latin-1")
                if gaps is not None and row > skipped_row:
                    if digits_of is not None:
                        gaps(None, digits_of[skipped_row:row])
                    else:
                        self._skip(block, skipped, position)
                yield lineno + row + 1, (line[:-1] if line.endswith("\r") and terminated
                                         else line)
                skipped, skipped_row = end + 1, row + 1
                if not self.hold():
                    self._holding = False
                    break
                keys, oldest, stamp, window, timeout = want.held()
                serials = {serial for _, serial in keys}
                late = None if stamp is None else stamp + timeout - _MARGIN
                bounds = _bounds(width, serials, oldest, window, late)
            if not self._holding:
                break
        # (the rest of the stretch: passed over, open events or not)
        if gaps is not None and lines > skipped_row:
            if digits_of is not None:
                gaps(None, digits_of[skipped_row:])
            else:
                self._skip(block, skipped, hi)

    def _skip(self, block: bytes, lo: int, hi: int) -> None:
        """Give ``gaps`` the plain records of block[lo:hi] (whole lines, each
        a plain record: the scan passes over them), in order: one search
        over the stretch, and the runs of one node."""
        if hi <= lo:
            return
        gaps = self.gaps
        assert gaps is not None
        dialect = self._dialect
        first: List[bytes] = []
        if lo == 0:  # (no newline before the block's first line)
            m = dialect.header.match(block, 0, hi)
            if m is not None:
                first = [m.group(1) or b"", m.group(4)]
            lo = 1
        if not _has_node(block, lo, hi) and not (first and first[0]):
            serials = dialect.serials.findall(block, lo - 1, hi)
            gaps(None, first[1:] + serials if first else serials)
            return
        rows: List[Tuple[bytes, bytes]] = _NODE_SERIALS_RE.findall(block, lo - 1, hi)
        if first:
            rows.insert(0, (first[0], first[1]))
        if not rows:
            return
        nodes, digits = zip(*rows)
        if nodes.count(nodes[0]) == len(nodes):
            gaps(nodes[0].decode("latin-1") or None, list(digits))
            return
        for node, run in itertools.groupby(rows, key=_FIRST):
            gaps(node.decode("latin-1") or None, [serial for _, serial in run])


_FIRST, _SECOND = operator.itemgetter(0), operator.itemgetter(1)


def _has_node(block: bytes, lo: int, hi: int) -> bool:
    """Does a line of block[lo:hi] (``lo``: a line start) start with node=?"""
    return block.startswith(b"node=", lo) or block.find(b"\nnode=", lo, hi) >= 0


# The serial of each plain record after a newline, for Scan._skip: of a
# stretch without node= (every line a plain record, see PLAIN_RECORD: the
# type has no space, the stamp is digits, a dot, digits, up to the colon;
# the cheapest pattern that reads it), and of one with (its node too: b""
# for a record without node=).
_SERIALS_RE = re.compile(portable(rb"\ntype=[^ ]++ msg=audit\([^:]++:([0-9]++)"))
_NODE_SERIALS_RE = re.compile(portable(
    rb"\n(?:node=([^ \t\n]++) )?type=[^ \n]++ msg=audit\([0-9]++\.[0-9]++:([0-9]++)\):"))


def _lines_of(block: bytes, lo: int, hi: int) -> int:
    """The number of lines of block[lo:hi] (whole lines; the last one may
    have no terminator)."""
    lines = block.count(b"\n", lo, hi)
    if hi > lo and block[hi - 1:hi] != b"\n":
        lines += 1  # the last line, without terminator
    return lines


def _matters(block: bytes, position: int, want: Want,
             header: "re.Pattern[bytes]") -> bool:
    """Does the plain record at ``position`` matter to the open events
    (``want``, given its header's node, serial and time)?  A line whose
    header ``header`` (_HEADER_RE, or a dialect's) does not read is read
    (it matters)."""
    m = header.match(block, position)
    if m is None:
        return True
    node, sec, ms, digits = m.groups()
    return want(node.decode("latin-1") if node else None, int(digits),
                int(sec) + int(ms) / 10 ** len(ms))


@functools.lru_cache(maxsize=32)
def _fixed_rows(width: int) -> "re.Pattern[bytes]":
    """The seconds and serial of each plain record after a newline
    whose seconds have 10 digits and serial ``width`` digits (one item a
    line for a stretch of such records)."""
    return re.compile(portable(
        rb"\n(?:node=[^ \t\n]++ )?type=[^ \n]++ "
        rb"msg=audit\(([0-9]{10})\.[0-9]++:([0-9]{%d})\):" % width))


# What a run of rows is compared with: the open serials, the least and the
# most serial of the window, and the seconds no row may reach (digit strings
# as wide as the rows'; b"" passes nothing, b":" passes every digit string).
Bounds = Tuple[Set[bytes], bytes, bytes, bytes]


def _bounds(width: int, serials: Set[int], oldest: int, window: int,
            late: Optional[float]) -> Bounds:
    """The digit strings that tell, for rows of 10-digit seconds and
    ``width``-digit serials, that none can matter (see Scan._walk): a
    serial within ``window`` of ``oldest``, none open, and seconds before
    ``late`` (a row of seconds s has a stamp below s + 1)."""
    top = 10 ** width
    least, most = max(oldest - window, 0), min(oldest + window, top - 1)
    if width == 0 or least >= top or most < 0:
        return set(), b":", b"", b""  # no row passes
    open_serials = {b"%0*d" % (width, n) for n in serials if 0 <= n < top}
    if late is None or late >= 10 ** 10:
        seconds = b":"
    elif late < 1:
        seconds = b""
    else:
        seconds = b"%010d" % math.floor(late)
    return open_serials, b"%0*d" % (width, least), b"%0*d" % (width, most), seconds


# -- events between separators (``ausearch`` output) ---------------------------
#
# ``ausearch`` (``-i`` or not) prints each event whole between ``----``
# lines.  The reading of a separator completes every open event and forgets
# the records held back (EventGrouper.finish): after it, nothing is open.
# The records of an event without Landlock record then open nothing and join
# nothing (no event of theirs is open, and it has no Landlock record to join
# later: its records are between two separators); feeding them changes only
# the counts of records read and of late records (which no report shows),
# the stream's clock (which the next record read sets again, with nothing
# open) and the serial-gap count (given to ``gaps``).  The separator after
# such an event then finds nothing to complete.  So an event whose lines
# are all *plain* (each one a record of another type than Landlock's that
# the per-line reading reads without a diagnostic, a notice or a Landlock
# record: a plain auditd record (PLAIN_RECORD), a plain ``ausearch -i``
# record with no ``{`` (laurel's JSON) in it, ``ausearch``'s ``time->``
# line, an empty line), between two separators, is not read, and neither is
# the separator after it.  Every other line is read as before: the lines
# before the block's first separator and after its last event, and every
# event holding anything else (a Landlock record in any spelling, a notice,
# a colour code, a malformed or long line, another carrier's line...).

# A separator line (the reading's SEPARATOR notice), after a newline.
_SEPARATOR_RE = re.compile(rb"\n----\r?(?=\n|\Z)")
_SEPARATOR_LINE = re.compile(rb"----\r?(?:\n|\Z)")
# An ``ausearch -i`` record header (syntax.INTERPRETED_RE) of another type
# than Landlock's, whose date, time and serial the reading takes without
# error (a year of two digits, or of four from 19xx or 20xx: within range);
# a line with ``{`` or ESC in it is found apart (a search for a character
# class costs more than one for each byte).
_INTERPRETED_DATE = (rb"(?:[0-9]{1,2}+[/.-][0-9]{1,2}+[/.-](?:[0-9]{2}|(?:19|20)[0-9]{2})"
                     rb"|(?:19|20)[0-9]{2}[/.-][0-9]{1,2}+[/.-][0-9]{1,2}+)")
PLAIN_INTERPRETED = portable(
    rb"(?:node=[^ \t\n]++ )?type=(?!LANDLOCK_|LL_|UNKNOWN\[142|AUDIT142|142)" + _TYPE
    + rb" msg=audit\(" + _INTERPRETED_DATE
    + rb" [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{1,9}+:[0-9]{1,20}+\) :")
# The other plain lines of ausearch output: a separator, ``time->`` and
# its date (no substring the reading looks for), an empty line.
_PLAIN_EVENTED = (rb"----\r?(?:\n|\Z)|" + PLAIN_INTERPRETED + rb"|" + PLAIN_RECORD
                  + rb"|time->[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:"
                  rb"[0-9]{2} [0-9]{4}\r?(?:\n|\Z)|\r?(?:\n|\Z)")
PLAIN_EVENTED_RE = re.compile(_PLAIN_EVENTED)
# The lines that are not plain (but for a ``{`` or an ESC byte in them,
# found apart).
OTHER_EVENTED_RE = re.compile(rb"\n(?!" + _PLAIN_EVENTED + rb")")
# The node and serial of each record of an event passed over, for ``gaps``
# (after a newline; every line is plain: the serial is the digits before
# the header's closing parenthesis).
_EVENT_SERIALS_RE = re.compile(portable(
    rb"\n(?:node=([^ \t\n]++) )?type=[^ \n]++ msg=audit\([^\n)]*?:([0-9]++)\)"))
# A block is read by events when its first bytes hold a separator at least
# every EVENTED bytes.
EVENTED = 8192


def _lines_with(block: bytes, size: int, byte: bytes) -> List[int]:
    """The starts of the lines of block[:size] holding ``byte``."""
    found: List[int] = []
    find, rfind = block.find, block.rfind
    at = find(byte, 0, size)
    while at >= 0:
        start = rfind(b"\n", 0, at) + 1
        found.append(start)
        end = find(b"\n", at, size)
        if end < 0:
            break
        at = find(byte, end, size)
    return found


def _line_end(block: bytes, start: int, size: int) -> int:
    """The start of the line after the one at ``start`` (``size``: none)."""
    return block.find(b"\n", start, size) + 1 or size


def _next_separator(block: bytes, start: int, size: int) -> int:
    """The start of the first separator line at or after the line at
    ``start`` (-1: none)."""
    if start == 0 and _SEPARATOR_LINE.match(block, 0, size):
        return 0
    m = _SEPARATOR_RE.search(block, start, size)
    return -1 if m is None else m.start() + 1


def _previous_separator(block: bytes, start: int, size: int) -> int:
    """The start of the last separator line before the line at ``start``
    (the caller knows one is: the block's first separator, at 0 when no
    other is found)."""
    rfind, match = block.rfind, _SEPARATOR_LINE.match
    at = start
    while True:
        at = rfind(b"\n----", 0, at)
        if at < 0:
            return 0
        if match(block, at + 1, size):
            return at + 1


def _evented(block: bytes, size: int) -> bool:
    """Is the block ``ausearch`` output: a separator at least every EVENTED
    bytes of its first PROBE bytes?"""
    probe = min(size, PROBE)
    separators = block.count(b"\n----", 0, probe) + block.startswith(b"----")
    return separators > 0 and separators * EVENTED >= probe


def _search(block: bytes) -> "re.Pattern[bytes]":
    """The cheaper search for the candidates of a block (see SEARCH_RE)."""
    return SEARCH_NODE_RE if block.startswith(b"node=") else SEARCH_RE


def scannable(path: Optional[str]) -> bool:
    """Can this input be scanned (an uncompressed regular file)?"""
    from lldecode.audit.sources import is_compressed

    if path is None:
        return False
    try:
        if not os.path.isfile(path):
            return False
        with open(path, "rb") as f:
            return not is_compressed(f.read(6))
    except OSError:
        return False




# -- the kernel console (dmesg) ----------------------------------------------
#
# dmesg writes the kernel's records one a line, those of an event next to
# each other, its Landlock records first, as auditd does: the same walk
# serves, with the console's header.  A *plain* console record is a line
# the per-line reading makes a record of another type than Landlock's of,
# and nothing else (syntax.PRINTK_RE, found after a prefix that holds no
# other place a header may start: dmesg's uptime, dmesg -T's date, or
# journalctl -k's stamp, host name and ``kernel:``):
# numbers within range, and no ``{`` in the line (laurel's JSON is looked
# for in such a line: found apart) nor ESC.
_DMESG_PREFIX = (rb"(?:\[ *+[0-9]++\.[0-9]++\] |\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] "
                 rb"[0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}\] "
                 # journalctl -k (short, short-precise, short-iso): stamp, host, kernel:
                 rb"|(?:[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9}+)?"
                 rb"|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9}+)?"
                 rb"(?:[+-][0-9]{2}:?[0-9]{2}|Z)?) [A-Za-z0-9._-]{1,64}+ kernel: )?")
DMESG_PLAIN_RECORD = portable(
    _DMESG_PREFIX + rb"audit: type=(?!142)[0-9]++ "
    rb"audit\([0-9]{1,10}+\.[0-9]{1,9}+:[0-9]{1,20}+\):")
# The header of a plain console record: no node (an empty group), seconds,
# fraction, serial (as _HEADER_RE's groups).
_DMESG_HEADER_RE = re.compile(portable(
    _DMESG_PREFIX + rb"audit: ()type=[0-9]++ audit\(([0-9]++)\.([0-9]++):([0-9]++)\):"))
_DMESG_SERIALS_RE = re.compile(portable(
    rb"\n" + _DMESG_PREFIX + rb"audit: type=[0-9]++ audit\([0-9]++\.[0-9]++:([0-9]++)"))
_DMESG_SEARCH_RE = re.compile(rb"\n(?!" + DMESG_PLAIN_RECORD + rb")")


@functools.lru_cache(maxsize=32)
def _dmesg_rows(width: int) -> "re.Pattern[bytes]":
    """_fixed_rows for console records."""
    return re.compile(portable(
        rb"\n" + _DMESG_PREFIX + rb"audit: type=[0-9]++ "
        rb"audit\(([0-9]{10})\.[0-9]++:([0-9]{%d})\):" % width))


class Dialect:
    """The plain records of a carrier, as the scan finds and reads them:
    ``plain`` (a line start), ``search`` (a block -> the search of the
    newlines not followed by a plain record, or a few more), ``header``
    (node, seconds, fraction, serial), ``rows`` (_fixed_rows), ``serials``
    (the serial of each record after a newline, of a stretch without
    node=), ``native`` (the C accelerator reads them), ``brace`` (a line
    with ``{`` is no plain record)."""

    def __init__(self, plain: "re.Pattern[bytes]",
                 search: "Callable[[bytes], re.Pattern[bytes]]",
                 header: "re.Pattern[bytes]", rows: "Callable[[int], re.Pattern[bytes]]",
                 serials: "re.Pattern[bytes]", native: bool, brace: bool):
        self.plain, self.search, self.header, self.rows = plain, search, header, rows
        self.serials, self.native, self.brace = serials, native, brace


AUDITD = Dialect(PLAIN_RE, _search, _HEADER_RE, _fixed_rows, _SERIALS_RE, True, False)
DMESG = Dialect(re.compile(DMESG_PLAIN_RECORD), lambda block: _DMESG_SEARCH_RE,
                _DMESG_HEADER_RE, _dmesg_rows, _DMESG_SERIALS_RE, False, True)


def _dmesg(block: bytes, size: int) -> bool:
    """Is the block the kernel console's: are most lines of its first PROBE
    bytes records of it?"""
    probe = min(size, PROBE)
    found = block.count(b"audit: type=", 0, probe)
    return found > 0 and 2 * found > block.count(b"\n", 0, probe)
