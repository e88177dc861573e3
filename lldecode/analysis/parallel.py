"""Both cores for large inputs: aggregations over parts read in parallel.

The aggregating commands (``filter --count``/``--quiet``, ``summarize``,
``domains``) split their input into parts: each file is a part, and a large
uncompressed file is cut into as many byte ranges as there are processes,
at event boundaries (a line whose serial differs from the previous line's).
This process reads the first part and worker processes the others (the
whole pipeline, up to a :class:`~lldecode.analysis.tally.Tally`); the tallies merge in
input order, so the result is the one a single pass gives.  Diagnostics keep
their file and line.

Reading in parallel pays only for large inputs: below ``MIN_PART`` bytes
in all, everything is read in this process.
"""

from __future__ import annotations

import os
import re
from typing import (
    TYPE_CHECKING,
    Any,
    BinaryIO,
    Dict,
    FrozenSet,
    List,
    Optional,
    Sequence,
    Tuple,
    TypedDict,
)

from lldecode.analysis.tally import PartTally, Tally
from lldecode.audit import scan, sources
from lldecode.audit.records import Diagnostics

if TYPE_CHECKING:  # the reader builds the selection
    from lldecode.analysis.selection import Selection

# Bytes: smaller files are one part, and smaller inputs are read in this
# process.  A part must take long enough to read that a worker's start and
# the merge of its tally (tens of milliseconds) are small beside it.
MIN_PART = 48 << 20
# ... but the C search (lldecode.audit.scan.native) reads a log of few
# Landlock records at about 1 ms a MB on one core, and a worker's start and
# the merge of its tally cost some 0.15 s: on such a log (sniffed from its
# first MiB), a part is worth a worker from this many times MIN_PART on.  (Measured on the
# benchmark's logs: 420 MB of a quiet mixed log, 0.40 s in one process,
# 0.53 s in two; 200 MB of a busy one, 0.30 s and 0.39 s.)
SPARSE_FACTOR = 8
# Bytes read past a cut at most, looking for the start of the next event: an
# event is a few lines, so the boundary is always far nearer.
EVENT_SCAN_LIMIT = 1 << 20
# Bytes read to tell a compressed file (the longest magic, xz's, has 6).
_MAGIC_BYTES = 6
_SERIAL_RE = re.compile(rb"audit\([^)]*:(\d+)\)")

Part = Tuple[str, Optional[int], Optional[int]]   # (path, start, end); None: whole input


class TallyOptions(TypedDict):
    """What a worker needs to tally its part as this process would."""

    selection: Dict[str, Any]    # the options Selection.from_options takes
    context: bool
    by: Optional[Sequence[str]]
    per_domain: bool
    keep_domains: bool
    max_line_length: Optional[int]
    serial_gaps: Optional[bool]    # count missing serials (None: with context)
    accounting: bool    # Tally's accounting


# A worker's diagnostics: (messages, Diagnostics.counts()).
PartDiagnostics = Tuple[List[str], Tuple[int, int, int, int, int]]


def default_jobs() -> int:
    """The processes to use by default: one per CPU this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _splittable(path: str) -> bool:
    try:
        if not os.path.isfile(path):
            return False
        with open(path, "rb") as f:
            head = f.read(_MAGIC_BYTES)
    except OSError:
        return False
    return not sources.is_compressed(head)


# The start of a line is enough to find its serial: longer lines are read
# in pieces of this size, so a line without an end cannot fill memory.
LINE_PIECE = 1 << 16


def _line(f: BinaryIO) -> Tuple[bytes, int]:
    """(the start of the next line, its whole length), in bounded memory."""
    head = f.readline(LINE_PIECE)
    length = len(head)
    if head and not head.endswith(b"\n"):
        while True:
            piece = f.readline(LINE_PIECE)
            length += len(piece)
            if not piece or piece.endswith(b"\n"):
                break
    return head, length


def _event_boundary(f: BinaryIO, offset: int, limit: int = EVENT_SCAN_LIMIT) -> int:
    """The first line start at or after ``offset`` that begins a new event."""
    f.seek(offset)
    if offset:
        _line(f)  # finish the line we landed in
    position = f.tell()
    previous = None
    scanned = 0
    while scanned < limit:
        line, length = _line(f)
        if not line:
            return position
        m = _SERIAL_RE.search(line)
        serial = m.group(1) if m else None
        if previous is not None and serial != previous:
            return position
        previous = serial
        position += length
        scanned += length
    return position


def shares(pieces: int, replay: float) -> List[float]:
    """How to cut a file into ``pieces`` (fractions, in order) when the
    reader of each piece first reads the pieces before it again at
    ``replay`` times the cost (0: equal pieces): every reader then has the
    same work.  Fewer pieces when a later one would get nothing."""
    weights: List[float] = []
    for _ in range(pieces):
        weight = 1.0 - replay * sum(weights)
        if weight <= 0.05:
            break
        weights.append(weight)
    total = sum(weights)
    return [w / total for w in weights]


def _files(arguments: Sequence[str], jobs: int) -> Optional[Tuple[List[str], List[int]]]:
    """The files the arguments name and their sizes, or None when they
    cannot be read in parts (one job, standard input, netlink, odd inputs)."""
    if jobs < 2 or not arguments or any(a in ("-", sources.NETLINK) for a in arguments):
        return None
    paths: List[str] = []
    for source in sources.expand(list(arguments)):
        if source.__class__ is not sources.Source or not os.path.isfile(source.name):
            return None  # errors and odd inputs: the sequential path reports them
        paths.append(source.name)
    return paths, [os.path.getsize(p) for p in paths]


def part_source(part: Part) -> sources.Source:
    """The source of a part: a whole file, or a byte range of one."""
    path, start, end = part
    if start is None or end is None:
        return sources.file_source(path)
    return sources.RangeSource(path, start, end)


def plan(arguments: Sequence[str], jobs: int, context: bool = False) -> Optional[List[Part]]:
    """The parts to read, or None when one pass in this process is better
    (``context``: the process records are read too, which costs more a
    byte: :data:`MIN_PART` whatever the log)."""
    files = _files(arguments, jobs)
    if files is None:
        return None
    paths, sizes = files
    if sum(sizes) < MIN_PART:
        return None  # (no part is ever smaller: the log need not be sniffed)
    smallest = MIN_PART if context else tally_min_part(paths)
    if sum(sizes) < smallest or (len(paths) < 2 and sizes[0] < 2 * smallest):
        return None
    parts: List[Part] = []
    for path, size in zip(paths, sizes):
        pieces = min(jobs, size // smallest) if _splittable(path) else 1
        if pieces < 2:
            parts.append((path, None, None))
            continue
        with open(path, "rb") as f:
            cuts = sorted({_event_boundary(f, size * i // pieces) for i in range(pieces)} | {size})
        cuts[0] = 0
        parts.extend((path, start, end) for start, end in zip(cuts, cuts[1:]) if start < end)
    return parts if len(parts) > 1 else None


# Parts whose pieces are read one after the other as one input.
Span = List[Part]


# Bytes: the smallest part for explain, whose reading costs several times
# an aggregate's (a worker's start and its reading of the earlier parts' Landlock
# records are small beside it).
EXPLAIN_MIN_PART = 16 << 20


# The cost of reading a part's Landlock records again, against the cost of
# explaining them (see explain_replay_cost; measured on the benchmark's logs:
# 0.41 on a log of Landlock events only, 0.28 and 0.19 on quiet and busy
# logs of 1% Landlock events, whose reading costs the same either way).
REPLAY_DENSE, REPLAY_MIXED = 0.45, 0.25
# The Landlock type in each spelling of a record (syntax.LANDLOCK_TYPES).
_LANDLOCK_MARKS = (b"UNKNOWN[142", b"LANDLOCK_", b"type=142", b"AUDIT142", b"LL_")


def _head(paths: Sequence[str]) -> Optional[bytes]:
    """The first MiB of the first file (None: unreadable)."""
    try:
        with open(paths[0], "rb") as f:
            return f.read(1 << 20)
    except (OSError, IndexError):
        return None


def _mostly_landlock(head: Optional[bytes]) -> Optional[bool]:
    """Is a tenth or more of ``head`` (:func:`_head`) Landlock records
    (None: unreadable)?"""
    if head is None:
        return None
    lines = head.count(b"\n") or 1
    marks = sum(head.count(mark) for mark in _LANDLOCK_MARKS)
    return marks * 10 >= lines


# ausearch output (events between ---- separators): its context reading
# passes over whole events (lldecode.audit.scan), and reading its Landlock
# records again costs more than explaining them (108 MB of ausearch -i
# output: summarize -j1 0.96 s, explain -j1 0.70 s): no part pays.
REPLAY_EVENTED = 1.0


def explain_replay_cost(paths: Sequence[str]) -> float:
    """The replay cost for ``explain`` (see :func:`shares`), from the share
    of Landlock records in the first MiB of the first file (ausearch
    output, a ---- separator there: :data:`REPLAY_EVENTED`, no parts)."""
    head = _head(paths)
    if head is not None and (head.startswith(b"----\n") or b"\n----\n" in head):
        return REPLAY_EVENTED
    return REPLAY_DENSE if _mostly_landlock(head) else REPLAY_MIXED


def tally_min_part(paths: Sequence[str]) -> int:
    """The smallest part worth a worker for a tally of Landlock records
    only: :data:`MIN_PART`, or, on a log of few Landlock records read with
    the C search (lldecode.audit.scan.native), :data:`SPARSE_FACTOR` times
    that."""
    if scan.native is None or _mostly_landlock(_head(paths)) is not False:
        return MIN_PART
    return MIN_PART * SPARSE_FACTOR


def plan_spans(arguments: Sequence[str], jobs: int, replay: Optional[float] = 0.0,
               min_part: Optional[int] = None) -> Optional[List[Span]]:
    """The parts to read for an output in the log's order (explain), or None
    when one pass in this process is better.  The inputs are taken as one
    stream, cut only inside uncompressed files at event boundaries (an
    event may go on in the next file, after a rotation): each part is the
    run of pieces of files between two cuts, sized by :func:`shares`.
    ``min_part``: the smallest part in bytes (default :data:`MIN_PART`);
    ``replay`` None: :func:`explain_replay_cost`."""
    files = _files(arguments, jobs)
    if files is None:
        return None
    paths, sizes = files
    total = sum(sizes)
    smallest = MIN_PART if min_part is None else min_part
    if total < 2 * smallest:
        return None
    if replay is None:
        replay = explain_replay_cost(paths)
    fractions = shares(min(jobs, total // smallest), replay)
    cuts: Dict[int, List[int]] = {}   # file index: offsets of the cuts in it
    target, begin, index = 0, 0, 0
    for fraction in fractions[:-1]:
        target += int(total * fraction)
        while begin + sizes[index] <= target:
            begin += sizes[index]
            index += 1
        if not _splittable(paths[index]):
            continue  # a compressed file is read whole: no cut in it
        with open(paths[index], "rb") as f:
            # (past the first line: the file's start may be no event's start)
            cut = _event_boundary(f, max(1, target - begin))
        if cut < sizes[index] and cut not in cuts.get(index, []):
            cuts.setdefault(index, []).append(cut)
    if not cuts:
        return None
    spans: List[Span] = [[]]
    for index, (path, size) in enumerate(zip(paths, sizes)):
        offsets = sorted(cuts.get(index, []))
        if not offsets:
            spans[-1].append((path, None, None))
            continue
        for start, end in zip([0] + offsets, offsets + [size]):
            if start:
                spans.append([])
            spans[-1].append((path, start, end))
    return spans


def _new_tally(options: TallyOptions) -> Tally:
    return Tally(options["by"], options["per_domain"], options["keep_domains"],
                 options["accounting"])


def _read_part(job: Tuple[Part, TallyOptions, str]
               ) -> Tuple[PartTally, PartDiagnostics, Tuple[int, FrozenSet[int], bool]]:
    """Worker: read one part (``scratch``: a path prefix for its files),
    return its tally as plain values, its diagnostics and what its selection
    noted (which selectors' fields the part carried)."""
    from lldecode.analysis.pipeline import Reading
    from lldecode.analysis.selection import Selection

    part, options, scratch = job
    source = part_source(part)
    messages: List[str] = []
    diagnostics = Diagnostics(sink=messages.append)
    selection = Selection.from_options(**options["selection"])
    tally = _new_tally(options)
    reading = Reading([], diagnostics, context=options["context"], given_sources=[source],
                      max_line_length=options["max_line_length"],
                      serial_gaps=options.get("serial_gaps"),
                      registry=tally.registry)
    tally.consume(reading, selection)
    partial = tally.partial(scratch)
    tally.registry.close()
    return (partial, (messages, diagnostics.counts()), selection.observed())


def tally(parts: List[Part], options: TallyOptions, jobs: int,
          diagnostics: Diagnostics, selection: Optional["Selection"] = None) -> Tally:
    """Read the parts on ``jobs`` processes (this one reads the first part,
    workers the others); merge their tallies in input order.  ``selection``
    (built from the same options) learns what the parts' selections noted."""
    import itertools
    import multiprocessing
    import tempfile  # (here: a log read in one process does not import it)

    merged = _new_tally(options)
    context = multiprocessing.get_context("fork")
    scratch = tempfile.TemporaryDirectory(prefix="lldecode-")
    work = [(p, options, os.path.join(scratch.name, f"part-{i}")) for i, p in enumerate(parts)]
    with scratch, context.Pool(processes=max(1, min(jobs - 1, len(parts) - 1))) as pool:
        others = pool.imap(_read_part, work[1:])
        for part, (messages, counts), observed in itertools.chain(
                [_read_part(work[0])], others):
            for message in messages:
                diagnostics.emit(message)
            diagnostics.add_counts(*counts)
            merged.absorb(part)
            if selection is not None:
                selection.absorb_observed(observed)
    return merged
