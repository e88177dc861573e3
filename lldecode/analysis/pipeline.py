"""The stream, end to end: sources -> records -> events -> denials -> domains.

:class:`Reading` is one pass over the inputs (what a reading command asks
of it is in :mod:`lldecode.analysis.reader`).  Each stage holds only what is
still open, so memory stays bounded.
"""

from __future__ import annotations

import gc
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple

from lldecode.analysis.denials import Denial, denials_of
from lldecode.analysis.domains import DomainRegistry
from lldecode.audit import sources
from lldecode.audit.events import IDLE_EVENT, Event, EventGrouper
from lldecode.audit.records import Diagnostics, read_records
from lldecode.audit.scan import Gaps, Held


class Reading:
    """One pass over the inputs.

    ``registry`` follows the domains (a new one when not given);
    ``watcher`` is told of each file as it is opened (a progress display);
    ``context``: read the process records (SYSCALL, PATH, PROCTITLE...) too,
    not only the Landlock ones.
    """

    def __init__(self, inputs: Iterable[str], diagnostics: Diagnostics,
                 grouper: Optional[EventGrouper] = None,
                 registry: Optional[DomainRegistry] = None,
                 netlink_idle: Optional[float] = None, context: bool = True,
                 given_sources: Optional[Sequence[sources.Source]] = None,
                 watcher: Any = None, max_line_length: Optional[int] = None,
                 serial_gaps: Optional[bool] = None):
        """``max_line_length``: longer lines are skipped with a diagnostic
        (default :data:`lldecode.audit.sources.DEFAULT_MAX_LINE_LENGTH`).
        ``serial_gaps``: count the serials missing from the input (default:
        with context).  Uncompressed files are scanned either way
        (lldecode.audit.scan): the records of no Landlock event are not
        read, and their serials, when counted, are found by the scan."""
        self.inputs = list(inputs)
        self.max_line_length = max_line_length
        self.diagnostics = diagnostics
        if serial_gaps is None:
            serial_gaps = context
        self.grouper = grouper if grouper is not None else EventGrouper(
            count_serial_gaps=serial_gaps)
        self.registry = registry if registry is not None else DomainRegistry()
        self.netlink_idle = netlink_idle
        self.watcher = watcher
        # Without context, only Landlock records are read: no SYSCALL, PATH,
        # PROCTITLE (denials have no process), and no serial-gap accounting.
        self.context = context
        self._given_sources = given_sources  # ready-made sources instead of arguments
        # False: the domains are not followed (a count that shows none of
        # them, lldecode.analysis.tally): denials carry no domain_info.
        self.accounting = True

    def _sources(self) -> Iterator[sources.Source]:
        watcher = self.watcher
        try:
            given = self._given_sources
            for source in (given if given is not None
                           else sources.expand(self.inputs, self.netlink_idle)):
                source.watcher = watcher
                yield source
        finally:
            if watcher is not None:
                watcher.close()

    def events(self) -> Iterator[Tuple[Event, List[Denial]]]:
        """Each Landlock event with its denials, domains accounted."""
        grouper = self.grouper
        # With context, the plain records (SYSCALL, PATH...) matter only to an
        # open event, and to the serial-gap count (every serial: the scan
        # gives those it passes over to grouper.skip_serials).
        scan = self.context
        items = read_records(self._sources(), self.diagnostics, landlock_only=not self.context,
                             max_line_length=self.max_line_length,
                             hold=(lambda: bool(grouper.open)) if scan else None,
                             want=_Wanted(grouper) if scan else None)
        for event in grouper.run(items):
            if event is IDLE_EVENT:  # a live input went quiet (grouper.ticks)
                yield event, []
                continue
            denials = denials_of(event)
            if self.accounting:
                self.registry.observe(event, denials)
            yield event, denials

    def denials(self) -> Iterator[Denial]:
        """Each denial, in log order, its domain accounted."""
        for _event, denials in self.events():
            yield from denials

    def live_denials(self) -> Iterator[Optional[Denial]]:
        """Each denial, and None where a live input went quiet (every event
        read so far is out: time to show what a later stage holds back)."""
        self.grouper.ticks = True
        for event, denials in self.events():
            if event is IDLE_EVENT:
                yield None
            else:
                yield from denials


class _Wanted:
    """Does a plain record (node, serial, time: no Landlock record, read
    while an event is open) change what ``grouper`` does?  It does when it
    belongs to an open event, or when the stream has moved past the oldest
    open event (EventGrouper.feed would flush it); otherwise feeding it
    changes nothing but the counts of records read and of late records
    (which no report shows), and the serial-gap count, which it gives to
    ``gaps`` (EventGrouper.skip_serials) when the grouper counts them.
    (lldecode.audit.scan.Want)"""

    def __init__(self, grouper: EventGrouper):
        self.open = grouper.open
        self.window, self.timeout = grouper.serial_window, grouper.timeout
        self.gaps: Optional[Gaps] = (grouper.skip_serials if grouper.count_serial_gaps
                                     else None)

    def __call__(self, node: Optional[str], serial: int, time: float) -> bool:
        open_events = self.open
        if (node, serial) in open_events:
            return True
        oldest = next(iter(open_events.values()))
        stamp = oldest.records[0].time
        return not (-self.window <= serial - oldest.key[1] <= self.window  # type: ignore[index]
                    and (stamp is None or time - stamp <= self.timeout))

    def held(self) -> Held:
        """The open events' keys, the oldest one's serial and stamp, the window
        and the timeout."""
        oldest = next(iter(self.open.values()))
        return (list(self.open), oldest.key[1], oldest.records[0].time,  # type: ignore[index]
                self.window, self.timeout)


# gc thresholds (the defaults are 700, 10, 10): the youngest generation is
# collected every 50,000 allocations (see tune_gc); the older ones, which
# hold what lives long (the registry, open events), rarer still: every 20
# young collections, and every 100 of those.
GC_THRESHOLDS = (50000, 20, 100)


def tune_gc() -> None:
    """A stream makes and drops several objects per line, none in cycles
    worth chasing often: collect the youngest generation every 50,000
    allocations rather than 700, and leave the modules loaded so far out of
    the collections (memory stays bounded; about 10% less time on a
    log of Landlock denials).  No full collection first: it finds nothing
    to free after the imports and costs about 5 ms of every run."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
