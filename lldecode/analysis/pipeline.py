"""The stream, end to end: sources -> records -> events -> denials -> domains.

:class:`Reading` is one pass over the inputs; :class:`Query` is what a
reading command asks of it: the inputs, a :class:`~lldecode.analysis.selection.Selection`,
and the selected denials, events or an aggregate (:class:`~lldecode.analysis.tally.Tally`,
read in parallel parts when the input is large, see lldecode.analysis.parallel).
Each stage holds only what is still open, so memory stays bounded.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from lldecode.analysis.denials import Denial, denials_of
from lldecode.analysis.domains import DomainRegistry
from lldecode.analysis.selection import Selection
from lldecode.audit import sources
from lldecode.audit.events import Event, EventGrouper
from lldecode.audit.records import Diagnostics, read_records

if TYPE_CHECKING:  # imported when a tally is asked for
    from lldecode.analysis.tally import Tally


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
                 watcher: Any = None):
        self.inputs = list(inputs)
        self.diagnostics = diagnostics
        self.grouper = grouper if grouper is not None else EventGrouper(count_serial_gaps=context)
        self.registry = registry if registry is not None else DomainRegistry()
        self.netlink_idle = netlink_idle
        self.watcher = watcher
        # Without context, only Landlock records are read: no SYSCALL, PATH,
        # PROCTITLE (denials have no process), and no serial-gap accounting.
        self.context = context
        self._given_sources = given_sources  # ready-made sources instead of arguments

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
        items = read_records(self._sources(), self.diagnostics, landlock_only=not self.context)
        for event in self.grouper.run(items):
            denials = denials_of(event)
            self.registry.observe(event, denials)
            yield event, denials

    def denials(self) -> Iterator[Denial]:
        """Each denial, in log order, its domain accounted."""
        for _event, denials in self.events():
            yield from denials


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
    log of Landlock denials)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class Query:
    """The selected denials of some inputs, or an aggregate of them.

    ``selection``: a :class:`Selection` (everything by default).
    ``context``: the caller shows or groups by the denied process; without
    it (and a selection that needs it) only Landlock records are read, which
    is several times faster.  ``keep_domains``: report on every domain at
    the end (finished ones are kept).  ``jobs``: processes for aggregates
    (None: one per CPU).  ``diagnostics`` collect what could not be read.

    >>> from lldecode.analysis.pipeline import Query
    >>> query = Query(["fixtures/auditd-raw.log"], context=False)
    >>> query.tally().count
    56
    """

    def __init__(self, inputs: Sequence[str], selection: Optional[Selection] = None,
                 diagnostics: Optional[Diagnostics] = None,
                 netlink_idle: Optional[float] = None, context: bool = True,
                 keep_domains: bool = False, jobs: Optional[int] = None,
                 watcher: Any = None, selection_options: Optional[Dict[str, Any]] = None,
                 given_sources: Optional[Sequence[sources.Source]] = None):
        """``selection_options``: the options the selection was built from
        (:meth:`Selection.from_options`), for worker processes to rebuild it.
        ``given_sources``: ready-made sources (lines in memory) instead of
        ``inputs``."""
        self.inputs = list(inputs)
        self.given_sources = given_sources
        self.selection = selection if selection is not None else Selection()
        self.selection_options = selection_options or {}
        self.diagnostics = diagnostics if diagnostics is not None else Diagnostics()
        self.netlink_idle = netlink_idle
        self.context = context or self.selection.needs_process
        self.keep_domains = keep_domains
        self.jobs = jobs
        self.watcher = watcher

    def reading(self, registry: Optional[DomainRegistry] = None) -> Reading:
        """A new pass over the inputs."""
        return Reading(self.inputs, self.diagnostics, netlink_idle=self.netlink_idle,
                       context=self.context, watcher=self.watcher,
                       given_sources=self.given_sources,
                       registry=registry if registry is not None
                       else DomainRegistry(keep_finished=self.keep_domains))

    def tally(self, by: Optional[Sequence[str]] = None, per_domain: bool = False) -> Tally:
        """Aggregate the selected denials (lldecode.analysis.tally), on several
        processes when the input is large enough (lldecode.analysis.parallel)."""
        from lldecode.analysis import parallel
        from lldecode.analysis.tally import Tally

        jobs = self.jobs if self.jobs is not None else parallel.default_jobs()
        parts = None if self.given_sources is not None else parallel.plan(self.inputs, jobs)
        if parts is not None:
            options: parallel.TallyOptions = {
                "selection": self.selection_options, "context": self.context, "by": by,
                "per_domain": per_domain, "keep_domains": self.keep_domains}
            return parallel.tally(parts, options, jobs, self.diagnostics)
        result = Tally(by, per_domain, self.keep_domains)
        result.consume(self.reading(result.registry), self.selection)
        return result

    def denials(self) -> Iterator[Denial]:
        """The selected denials, in log order."""
        select = self.selection
        denials = self.reading().denials()
        if select.empty:
            return denials
        return (d for d in denials if select(d))

    def events(self) -> Iterator[Tuple[Event, List[Denial]]]:
        """(event, selected denials) for events with a selected denial."""
        select = self.selection
        for event, denials in self.reading().events():
            chosen = [d for d in denials if select(d)] if not select.empty else denials
            if chosen:
                yield event, chosen
