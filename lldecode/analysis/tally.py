"""Tallies: what the aggregating commands keep of a reading, and how two
tallies of consecutive parts of the input merge into one.

``filter --count``, ``summarize`` and ``domains`` only aggregate: the
number of selected denials, a :class:`~lldecode.analysis.summarize.Summary`, the
selected denials per domain, the domain registry and the reading
statistics.  A tally of part of the input can be turned into plain values
(:meth:`Tally.partial`), so that parts read by other processes merge in
input order (:meth:`Tally.absorb`); see lldecode.analysis.parallel.
"""

from __future__ import annotations

import os
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    TypedDict,
    Union,
)

from lldecode.analysis.domains import ClockSpan, DomainInfo, DomainKey, DomainRegistry, starts_boot
from lldecode.analysis.summarize import Summary
from lldecode.audit.events import KEEP_NOTICES, SERIAL_WINDOW, GroupingStats
from lldecode.spill import KeyCounts, dump_batches, load_batches

if TYPE_CHECKING:  # the pipeline imports this module
    from lldecode.analysis.pipeline import Reading
    from lldecode.analysis.selection import Selection

_SUMMED_STATS = ("records", "events", "late_records", "serial_gaps", "suppressed", "lost",
                 "evicted", "duplicates")

# A summary group as lldecode.spill keeps it: (key, count, first time, last
# time, extra).
Group = Tuple[Tuple[Any, ...], int, Optional[float], Optional[float], Any]
# Maps a part's (node, boot) to the boot of the merged tally.
BootOf = Callable[[Optional[str], int], int]


class PartTally(TypedDict):
    """A tally as plain values (:meth:`Tally.partial`), for :meth:`Tally.absorb`."""

    count: int
    # the summary's groups, or {"database": path} when exported to a file
    groups: Union[None, List[Group], Dict[str, str]]
    total: int
    selected: Union[None, List[Any], str]   # (domain key, count) pairs, or their file
    domains: Union[List[Any], str]   # DomainInfo.to_plain values, or their file
    clocks: Dict[Optional[str], ClockSpan]
    stats: Dict[str, int]
    notices: List[Tuple[str, Optional[int], str, int, str]]
    # per node, the first and the last audit serial read (GroupingStats)
    serials: Tuple[Dict[Optional[str], int], Dict[Optional[str], int]]


def stats_counts(stats: GroupingStats) -> Dict[str, int]:
    """The counts of grouping statistics, as plain values (see :func:`add_stats`)."""
    return {name: getattr(stats, name) for name in _SUMMED_STATS}


def plain_notices(stats: GroupingStats) -> List[Tuple[Any, ...]]:
    """The notices kept by grouping statistics, as the arguments that make them again."""
    return [(n.kind, n.count, n.source, n.lineno, n.line) for n in stats.notices]


def add_stats(stats: GroupingStats, counts: Dict[str, int],
              notices: Sequence[Tuple[Any, ...]]) -> None:
    """Add the statistics of the next part of the input (:func:`stats_counts`
    and :func:`plain_notices` of another reading) to ``stats``."""
    from lldecode.audit.records import Notice

    for name, value in counts.items():
        setattr(stats, name, getattr(stats, name) + value)
    room = KEEP_NOTICES - len(stats.notices)
    if room > 0:
        stats.notices.extend(Notice(*n) for n in notices[:room])


def _stash(items: Iterable[Any], path: Optional[str]) -> Union[List[Any], str]:
    """Items as a list, or written to ``path`` in marshalled batches."""
    if path is None:
        return list(items)
    with open(path, "wb") as f:
        dump_batches(items, f)
    return path


def _unstash(stashed: Union[List[Any], str]) -> Iterator[Any]:
    """The items of :func:`_stash`; a file is removed once read."""
    if not isinstance(stashed, str):
        yield from stashed
        return
    with open(stashed, "rb") as f:
        yield from load_batches(f)
    os.unlink(stashed)


def _ticking(reading: "Reading", on_tick: Callable[[], None]) -> Iterator[Any]:
    """The denials of a live reading; ``on_tick`` called where it went quiet."""
    for denial in reading.live_denials():
        if denial is None:
            on_tick()
        else:
            yield denial


def _rebooted_key(key: DomainKey, boot_of: BootOf) -> DomainKey:
    """A part's domain key, its boot mapped to the merged tally's."""
    node, boot, domain_id = key
    return (node, boot_of(node, boot), domain_id)


def _rebooted(group: Group, at: int, boot_of: BootOf) -> Group:
    """A group whose key holds a domain (at ``at``), its boot mapped."""
    key, n, first, last, extra = group
    return (key[:at] + (_rebooted_key(key[at], boot_of),) + key[at + 1:], n, first, last, extra)


class Tally:
    """``by``: summarize by these dimensions; ``per_domain``: count the
    selected denials per domain; ``keep_domains``: keep every domain for
    the report (else only the live ones are kept, and merged parts do not
    carry them); ``accounting=False``: the caller shows only the count, so
    when the selection needs no domain either (Selection.needs_domains), the
    domains are not followed (:attr:`registry` stays empty)."""

    def __init__(self, by: Optional[Sequence[str]] = None, per_domain: bool = False,
                 keep_domains: bool = False, accounting: bool = True):
        self.count = 0
        self.accounting = accounting or bool(by) or per_domain or keep_domains
        self.summary = Summary(by) if by else None
        # Selected denials per domain key (a Counter's reading methods; memory
        # stays bounded past lldecode.spill.GROUPS_IN_MEMORY domains).
        self.selected: Optional[KeyCounts] = KeyCounts() if per_domain else None
        self.keep_domains = keep_domains
        self.registry = DomainRegistry(keep_finished=keep_domains, on_finish=(
            self.summary.account if self.summary is not None and self.summary.accounting
            else None))
        self.stats = GroupingStats()
        self._boot_offset: Dict[Optional[str], int] = {}
        # Per node: the last serial, last time and largest domain id so far.
        self._last_seen: Dict[Optional[str], Tuple[Optional[int], Optional[float],
                                                   Optional[int]]] = {}

    def consume(self, reading: Reading, selection: Selection,
                on_tick: Optional[Callable[[], None]] = None) -> None:
        """Tally the selected denials of ``reading``, a reading made with
        this tally's registry (its grouping statistics become this tally's).
        ``on_tick`` is called where a live input went quiet (the tally is
        complete up to there: a table can be shown)."""
        if reading.registry is not self.registry:
            raise ValueError("Tally.consume: the reading must use the tally's registry")
        summary, selected = self.summary, self.selected
        if not self.accounting and not selection.needs_domains:
            reading.accounting = False
        self.stats = reading.grouper.stats
        denials = reading.denials() if on_tick is None else _ticking(reading, on_tick)
        for denial in denials:
            if not selection.empty and not selection(denial):
                continue
            self.count += 1
            if summary is not None:
                summary.add(denial)
            if selected is not None and denial.domain_info is not None:
                selected.add(denial.key)
        if summary is not None:
            for info in reading.registry.live_domains():
                summary.account(info)
        self.stats = reading.grouper.stats

    def interim_summary_rows(self) -> Iterator[Dict[str, Any]]:
        """The summary's rows so far, live domains' accounting included (for
        a table shown while a live input is read)."""
        if self.summary is None:
            return
        live: Dict[Tuple[Optional[str], Any], DomainInfo] = {
            (info.key[0], info.key[2]): info for info in self.registry.live_domains()}
        for row in self.summary.rows(self.registry):
            info = live.get((row.get("node"), row.get("domain")))
            if info is not None and "denials_logged" in row:
                row["denials_logged"] = (row["denials_logged"] or 0) + info.denials_logged
            yield row

    # -- parts read elsewhere ---------------------------------------------------------

    def partial(self, scratch: Optional[str] = None) -> PartTally:
        """This tally as plain values (picklable).  With ``scratch`` (a path
        prefix), the summary's groups and the domains go to files there
        rather than into the result, which stays small."""
        groups: Union[None, List[Group], Dict[str, str]] = None
        if self.summary is not None:
            if scratch is None:
                groups = list(self.summary.counts.everything())
            else:
                database = scratch + ".groups.db"
                groups = {"database": database}
                self.summary.counts.export(database)
        domains = (info.to_plain() for info in self.registry.ordered()) \
            if self.keep_domains else ()
        return {
            "count": self.count,
            "groups": groups,
            "total": self.summary.total if self.summary else 0,
            "selected": (_stash(self.selected.items(), scratch and scratch + ".selected")
                         if self.selected is not None else None),
            "domains": _stash(domains, scratch and scratch + ".domains"),
            "clocks": self.registry.clock_spans(),
            "stats": stats_counts(self.stats),
            "notices": plain_notices(self.stats),
            "serials": (dict(self.stats.first_serials), dict(self.stats.last_serials)),
        }

    def absorb(self, part: PartTally) -> None:
        """Add the tally of the next part of the input (in input order).

        A part's boots are counted from 0: they follow this tally's, one
        later when the part starts like a reboot (lldecode.analysis.domains): audit
        serials far below ours, or domain ids far below ours, at a later time.
        """
        offsets: Dict[Optional[str], int] = {}
        for node, span in part["clocks"].items():
            offset = self._boot_offset.get(node, 0)
            seen = self._last_seen.get(node)
            if seen is not None:
                last_serial, last_time, max_id = seen
                if starts_boot(span.first_serial, span.first_time, span.first_id, last_serial,
                               last_time, max_id, last_time, unknown_time_later=True):
                    offset += 1
            offsets[node] = offset
            self._boot_offset[node] = offset + span.boots
            self._last_seen[node] = (span.last_serial, span.last_time, span.max_id)

        def boot_of(node: Optional[str], boot: int) -> int:
            return boot + offsets.get(node, self._boot_offset.get(node, 0))

        self.count += part["count"]
        if self.summary is not None:
            self.summary.total += part["total"]
            domain_at = self.summary.by.index("domain") if "domain" in self.summary.by else None
            groups = part["groups"]
            counts = self.summary.counts
            if isinstance(groups, dict):
                database = groups["database"]
                if domain_at is None or not any(offsets.values()):
                    counts.import_file(database)  # no boot to map: SQLite copies
                else:
                    counts.extend(_rebooted(group, domain_at, boot_of)
                                  for group in counts.raw_file_rows(database))
                os.unlink(database)
            elif groups is not None:
                rows: Iterable[Group] = groups
                if domain_at is not None:
                    rows = (_rebooted(group, domain_at, boot_of) for group in groups)
                counts.extend(rows)
        selected = part["selected"]
        if selected is not None:
            for key, n in _unstash(selected):
                if self.selected is not None:
                    self.selected.add(_rebooted_key(key, boot_of), n)
        for plain in _unstash(part["domains"]):
            info = DomainInfo.from_plain(plain)
            info.boot = boot_of(info.node, info.boot)
            self.registry.absorb(info)
        add_stats(self.stats, part["stats"], part["notices"])
        # The serials missing between the parts (as EventGrouper.feed counts
        # them: the part's first serial of a node, a step up from ours
        # within the window; exact for a cut at an event boundary of a log
        # written in order).
        firsts, lasts = part["serials"]
        ours = self.stats.last_serials
        for node, first in firsts.items():
            last = ours.get(node)
            if last is not None and last < first <= last + SERIAL_WINDOW:
                self.stats.serial_gaps += first - last - 1
        ours.update(lasts)


