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
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

from lldecode.audit import sources
from lldecode.audit.records import Diagnostics
from lldecode.analysis.tally import Tally

MIN_PART = 48 << 20          # bytes: smaller files are one part
_SERIAL_RE = re.compile(rb"audit\([^)]*:(\d+)\)")

Part = Tuple[str, Optional[int], Optional[int]]   # (path, start, end); None: whole input


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _splittable(path: str) -> bool:
    try:
        if not os.path.isfile(path):
            return False
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError:
        return False
    return not sources.is_compressed(head)


def _event_boundary(f, offset: int, limit: int = 1 << 20) -> int:
    """The first line start at or after ``offset`` that begins a new event."""
    f.seek(offset)
    if offset:
        f.readline()  # finish the line we landed in
    position = f.tell()
    previous = None
    scanned = 0
    while scanned < limit:
        line = f.readline()
        if not line:
            return position
        m = _SERIAL_RE.search(line)
        serial = m.group(1) if m else None
        if previous is not None and serial != previous:
            return position
        previous = serial
        position += len(line)
        scanned += len(line)
    return position


def plan(arguments: Sequence[str], jobs: int) -> Optional[List[Part]]:
    """The parts to read, or None when one pass in this process is better."""
    if jobs < 2 or not arguments or any(a in ("-", sources.NETLINK) for a in arguments):
        return None
    paths: List[str] = []
    for source in sources.expand(list(arguments)):
        if source.__class__ is not sources.Source or not os.path.isfile(source.name):
            return None  # errors and odd inputs: the sequential path reports them
        paths.append(source.name)
    sizes = [os.path.getsize(p) for p in paths]
    if sum(sizes) < MIN_PART or (len(paths) < 2 and sizes[0] < 2 * MIN_PART):
        return None
    parts: List[Part] = []
    for path, size in zip(paths, sizes):
        pieces = min(jobs, size // MIN_PART) if _splittable(path) else 1
        if pieces < 2:
            parts.append((path, None, None))
            continue
        with open(path, "rb") as f:
            cuts = sorted({_event_boundary(f, size * i // pieces) for i in range(pieces)} | {size})
        cuts[0] = 0
        parts.extend((path, start, end) for start, end in zip(cuts, cuts[1:]) if start < end)
    return parts if len(parts) > 1 else None


def _read_part(job: Tuple[Part, Dict[str, Any]]) -> Dict[str, Any]:
    """Worker: read one part, return its tally as plain values."""
    from lldecode.analysis.pipeline import Reading
    from lldecode.analysis.selection import Selection

    (path, start, end), options, scratch = job
    source = (sources.file_source(path) if start is None
              else sources.RangeSource(path, start, end))
    messages: List[str] = []
    diagnostics = Diagnostics(sink=messages.append)
    selection = Selection.from_options(**options["selection"])
    tally = Tally(options["by"], options["per_domain"], options["keep_domains"])
    reading = Reading([], diagnostics, context=options["context"], given_sources=[source],
                      registry=tally.registry)
    tally.consume(reading, selection)
    part = tally.partial(scratch)
    part["diagnostics"] = (messages, diagnostics.malformed, diagnostics.errors,
                           diagnostics.notes)
    tally.registry.close()
    return part


def tally(parts: List[Part], options: Dict[str, Any], jobs: int,
          diagnostics: Diagnostics) -> Tally:
    """Read the parts on ``jobs`` processes (this one reads the first part,
    workers the others); merge their tallies in input order."""
    import itertools
    import multiprocessing

    merged = Tally(options["by"], options["per_domain"], options["keep_domains"])
    context = multiprocessing.get_context("fork")
    scratch = tempfile.TemporaryDirectory(prefix="lldecode-")
    work = [(p, options, os.path.join(scratch.name, f"part-{i}")) for i, p in enumerate(parts)]
    with scratch, context.Pool(processes=max(1, min(jobs - 1, len(parts) - 1))) as pool:
        others = pool.imap(_read_part, work[1:])
        for part in itertools.chain([_read_part(work[0])], others):
            messages, malformed, errors, notes = part.pop("diagnostics")
            for message in messages:
                diagnostics.emit(message)
            diagnostics.add_counts(malformed, errors, notes)
            merged.absorb(part)
    return merged
