"""The sieve: the lines a reading of Landlock records only can use, found
by literal searches over a buffer, whatever the carrier.

When only Landlock records are read (``summarize``, ``filter --count``),
:func:`lldecode.audit.records.read_lines` skips, unparsed, every line that
holds none of a few substrings (records._may_concern_landlock: a Landlock
type in any spelling, ``domain=``, the words of the notices about lost
records, a separator, a colour code, a JSON object; once records without
serial were read, also ``audit[``, ``audit: `` and ``[...]``,
records._may_be_unnumbered).  Those tests cost a Python call per line.  The
sieve finds the same lines in a whole buffer at C speed: one search per
substring (each a literal, which the ``re`` engine looks for as fast as
``bytes.find``), the start of the line of each find.  It is a superset of
the lines the per-line tests keep (it keeps every line holding a substring;
the per-line tests still run on each line it keeps), so a reading through
the sieve is the reading of every line: the same records, notices and
diagnostics (tests/audit/test_sieve.py).

It serves the carriers the block scan (lldecode.audit.scan) cannot: dmesg,
journald, ``ausearch -i``, CI logs, in files, compressed files, pipes and
standard input (lldecode.audit.sources.Sifter), and the blocks of a file
that are no auditd log (lldecode.audit.scan.Scan with a sieve).
"""

from __future__ import annotations

import re
from typing import Callable, Iterator, List, Optional, Tuple

# The substrings of records._may_concern_landlock, as literal searches (one
# pattern per first byte: the engine's literal search needs one prefix),
# those that are found on many lines of some logs first (a separator before
# each event of ``ausearch -i``): a search that finds too many stops early.
# A separator counts only at the start of a line: it is searched after a
# newline (and tested at the start of a buffer).
_NARROW = (rb"\n----", rb"142", rb"L(?:ANDLOCK_|L_D)", rb"domain=", rb"suppressed",
           rb"audit_lost", rb"backlog", rb"\x1b", rb"\{")
# ...and those of records._may_be_unnumbered, once records without serial
# were read (journald's short output).
_UNNUMBERED = (rb"audit(?:\[|: )", rb"\[\.\.\.\]")

NARROW: Tuple["re.Pattern[bytes]", ...] = tuple(re.compile(p) for p in _NARROW)
WIDE: Tuple["re.Pattern[bytes]", ...] = NARROW + tuple(re.compile(p) for p in _UNNUMBERED)

_SEPARATOR = b"----"


def line_starts(block: bytes, lo: int, hi: int, wide: bool,
                most: Optional[int] = None) -> Optional[List[int]]:
    """The starts (sorted, unique) of the lines of block[lo:hi] that hold
    one of the substrings (``wide``: those of records without serial too);
    ``lo`` is a line start, ``hi`` a line start or the end of the data.
    None when more than ``most`` substrings were found: the caller reads
    every line (cheaper when most lines are kept)."""
    rfind = block.rfind
    found = set()
    count = 0
    for pattern in WIDE if wide else NARROW:
        for m in pattern.finditer(block, lo, hi):
            at = m.start()
            if block[at] == 10:  # b"\n----": the line after the newline
                start = at + 1
            else:
                start = rfind(b"\n", lo, at) + 1 or lo
            found.add(start)
            count += 1
            if most is not None and count > most:
                return None
    if block.startswith(_SEPARATOR, lo, hi):
        found.add(lo)
    return sorted(found)


# A buffer with a find every DENSE bytes or more is read line by line
# (every line split at once): cheaper than finding each line.  (A kept line
# costs about as much as two lines read and tested; a line is 100 to 300
# bytes.)
DENSE = 512


def may_hold_long_line(block: bytes, lo: int, hi: int, limit: int) -> bool:
    """Could block[lo:hi] (lines with their terminators) hold a line longer
    than ``limit``?  (Every line is short when each stretch of limit/2 bytes
    holds a newline.)"""
    if hi - lo <= limit:
        return False
    step = max(1, limit // 2)
    find = block.find
    for at in range(lo, hi, step):
        if at + step < hi and find(b"\n", at, at + step) < 0:
            return True
    return block.rfind(b"\n", lo, hi) < hi - 1 - limit


def kept(block: bytes, lo: int, hi: int, starts: List[int],
         wide: bool, now_wide: Callable[[], bool]) -> Iterator[Tuple[int, int, int]]:
    """(newlines skipped before it, start, end) of each line of block[lo:hi]
    that starts at one of ``starts`` (from :func:`line_starts`, ``wide``);
    after each, ``now_wide()`` is asked whether the lines of records without
    serial are kept from now on (the rest of the block is then sieved
    again).  The end of a last line without terminator is ``hi``."""
    count, find = block.count, block.find
    previous = lo
    index = 0
    while index < len(starts):
        start = starts[index]
        index += 1
        end = find(b"\n", start, hi)
        if end < 0:
            end = hi
        yield count(b"\n", previous, start), start, end
        previous = end + 1
        if not wide and now_wide():  # turned on: the rest sieved again
            wide = True
            starts = line_starts(block, min(previous, hi), hi, wide) or []
            index = 0
