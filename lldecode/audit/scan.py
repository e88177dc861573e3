"""Scanning: the lines of a file that can matter, found in large buffers.

:func:`lldecode.audit.records.read_lines` reads every line of a source the
same way; when only the Landlock records and the notices are wanted (the
aggregating commands without process context), a line that passes no test
of its prefilter (``_may_concern_landlock``) is skipped unparsed.  Iterating
over every line of a 400 MB log to skip 98% of them is most of the time
spent: :func:`candidate_lines` finds, in blocks of a few MiB, the lines
holding one of the prefilter's markers with one literal search per marker
(C speed) and yields only those, with their exact line numbers (newlines
counted per block).  Each yielded line goes through the same per-line
reading as before, prefilter included, so the records, notices and
diagnostics are those of the line-by-line reading (the reference, kept:
tests/audit/test_scan.py compares both on every fixture and on generated
logs).

Where the shortcut cannot be sure it falls back to the line-by-line
reading of that block, or of the whole source: a block holding a line over
the length limit is split line by line (the reference's TOO_LONG handling);
compressed files, standard input, pipes, netlink and progress displays are
read line by line.
"""

from __future__ import annotations

import itertools
import os
import re
from typing import BinaryIO, Callable, Iterator, List, Optional, Pattern, Tuple

from lldecode.audit.sources import split_lines

# Bytes read at a time: large enough that the per-block work (a search per
# marker, a newline count) is small beside the bytes, small enough for the
# memory bound (a block and its copy as text at most).
BLOCK = 4 << 20

# A block with a candidate every DENSE bytes or less (a log of Landlock
# records) is split whole: cheaper than finding each line.
DENSE = 1024
# Bytes at the start of a block that tell whether it is dense.
PROBE = 1 << 16

# A line the reader makes nothing of when only Landlock records are read,
# and a record that cannot join an event that is not open: an auditd record
# (records.py reads it with syntax.RAW_RE, anchored) whose type is no
# Landlock type in any spelling (syntax.LANDLOCK_TYPES) and whose stamp and
# serial are within syntax.Header's ranges (no HeaderError).  Every other
# line is a candidate, found by one search: a newline not followed by this.
_TYPE = rb"(?:[A-Z][A-Z0-9_]*+(?:\[[0-9]++\])?|[0-9]++)"
PLAIN_RECORD = (rb"(?:node=[^ \t\n]++ )?type=(?!LANDLOCK_|LL_|UNKNOWN\[142|AUDIT142|142)"
                + _TYPE + rb" msg=audit\([0-9]{1,10}+\.[0-9]{1,9}+:[0-9]{1,20}+\):")
PLAIN_RE = re.compile(PLAIN_RECORD)
OTHER_LINE_RE = re.compile(rb"\n(?!" + PLAIN_RECORD + rb")")
# Colour codes are removed before a line is read: such a line is a candidate.
_ESC = b"\x1b"
_ESC_RE = re.compile(re.escape(_ESC))

# A line (in place of the lines a block skips) and its number.
Numbered = Tuple[int, str]


class Scan:
    """The candidate lines of one uncompressed regular file, or of the byte
    range [start, end) of one (the lines that start in it).

    Candidates are the lines that are not plain auditd records of another
    type than Landlock's (see PLAIN_RECORD); after each one, ``hold`` is
    asked whether the next line must be read too (an event is open).  After the iteration, :attr:`last_lineno` is the number of the last
    line and :attr:`unterminated` says whether it had no terminator.
    """

    def __init__(self, path: str, start: int, end: Optional[int], first_lineno: int,
                 max_line_length: int, hold: Callable[[], bool] = lambda: False):
        self.path = path
        self.start = start
        self.end = end
        self.first_lineno = first_lineno
        self.limit = max_line_length
        self.last_lineno = first_lineno - 1
        self.unterminated = False
        self.binary: Optional[BinaryIO] = None
        self.hold = hold
        self._lineno = 0   # the number of the last line of the block scanned

    def close(self) -> None:
        """Close the file (when it was opened)."""
        if self.binary is not None:
            self.binary.close()
            self.binary = None

    def _blocks(self) -> Iterator[bytes]:
        """The bytes of the lines that start in the range, in blocks ending
        at a line end (the last one may end without)."""
        f = self.binary = open(self.path, "rb", buffering=0)
        f.seek(self.start)
        remaining = None if self.end is None else self.end - self.start
        carry = b""
        while True:
            want = BLOCK if remaining is None else min(BLOCK, remaining)
            data = f.read(want) if want > 0 else b""
            if remaining is not None:
                remaining -= len(data)
            if not data:
                if remaining is not None and remaining <= 0 and carry:
                    # The range ends inside a line: read it to its end.
                    data = self._rest_of_line(f)
                    carry += data
                if carry:
                    yield carry
                return
            data = carry + data if carry else data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) > self.limit:
                    yield data  # a line over the limit: split line by line
                    carry = b""
                else:
                    carry = data
                continue
            carry = data[cut:]
            yield data[:cut]

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

    def _long_line(self, block: bytes) -> bool:
        """Could the block hold a line longer than the limit?  (Every line
        is short when each stretch of limit/2 bytes holds a newline.)"""
        size = len(block)
        if size <= self.limit:
            return False
        step = max(1, self.limit // 2)
        for at in range(0, size, step):
            if block.find(b"\n", at, at + step) < 0 and at + step < size:
                return True
        return block.rfind(b"\n") < size - 1 - self.limit

    def lines(self) -> Iterator[Numbered]:
        """(line number, line) of the lines that may concern Landlock, in
        order; from a block that may hold a line over the limit on, every
        line (read as Source.lines reads them)."""
        lineno = self.first_lineno - 1  # the number of the last line of the previous block
        blocks = self._blocks()
        for block in blocks:
            if self._long_line(block):
                # The reference's splitting, from here to the end (every
                # block so far ended with a newline).
                for line in split_lines(itertools.chain([block], blocks), self.limit,
                                        self._unterminated):
                    lineno += 1
                    yield lineno, line
                break
            yield from self._scan_block(block, lineno)
            lineno = self._lineno
            if not block.endswith(b"\n"):
                lineno += 1
                self.unterminated = True
        self.last_lineno = lineno

    def _unterminated(self) -> None:
        self.unterminated = True

    def _positions(self, block: bytes) -> List[int]:
        """The line starts (sorted, unique) of the candidate lines of ``block``."""
        starts = [m.end() for m in OTHER_LINE_RE.finditer(block)]
        if block and PLAIN_RE.match(block) is None:
            starts.insert(0, 0)
        if starts and starts[-1] == len(block):
            starts.pop()  # after the last newline: no line
        if _ESC in block:
            rfind = block.rfind
            starts = sorted(set(starts).union(rfind(b"\n", 0, m.start()) + 1
                                              for m in _ESC_RE.finditer(block)))
        return starts

    def _scan_block(self, block: bytes, lineno: int) -> Iterator[Numbered]:
        """The candidate lines of a block whose lines are all within the
        limit; ``lineno``: the number of the line before the block.  While
        ``hold()`` says True (an event is open), every line."""
        probe = min(len(block), PROBE)
        dense = len(OTHER_LINE_RE.findall(block, 0, probe)) * DENSE > probe
        starts = [] if dense else self._positions(block)
        if dense or len(starts) * DENSE > len(block):
            # Most lines are candidates (a log of Landlock records): every
            # line, split at once, is cheaper than finding each.
            text = block.decode("latin-1")
            if text.endswith("\n"):
                text = text[:-1]
            if "\r" in text:
                parts = [p[:-1] if p.endswith("\r") else p for p in text.split("\n")]
            else:
                parts = text.split("\n")
            yield from enumerate(parts, lineno + 1)
            self._lineno = lineno + block.count(b"\n")
            return
        count = block.count
        find = block.find
        hold = self.hold
        size = len(block)
        previous = 0   # lineno is the number of the line before this offset
        i, n = 0, len(starts)
        while i < n:
            start = starts[i]
            i += 1
            lineno += count(b"\n", previous, start)
            while True:
                end = find(b"\n", start)
                if end < 0:
                    end = size
                line = block[start:end].decode("latin-1")
                lineno += 1
                yield lineno, line[:-1] if line.endswith("\r") else line
                start = previous = end + 1
                while i < n and starts[i] < start:
                    i += 1
                if start >= size or not hold():
                    break
                # An event is open: the next line too, candidate or not.
            if start >= size:
                break
        self._lineno = lineno + count(b"\n", previous, size)


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


