"""What a reading command asks of its inputs: the selected denials, the
events that hold them, or an aggregate.

A :class:`LogReader` holds the inputs, a :class:`~lldecode.analysis.selection.Selection`
and the reading options; each call makes a new
:class:`~lldecode.analysis.pipeline.Reading` pass.  Aggregates
(:class:`~lldecode.analysis.tally.Tally`) of large inputs are read in
parallel parts (:mod:`lldecode.analysis.parallel`) and merged in input order.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Protocol,
    Sequence,
    Tuple,
)

from lldecode.analysis import parallel
from lldecode.analysis.denials import Denial
from lldecode.analysis.domains import DomainRegistry
from lldecode.analysis.pipeline import Reading
from lldecode.analysis.selection import Selection
from lldecode.analysis.tally import Tally
from lldecode.audit import sources
from lldecode.audit.events import Event, GroupingStats
from lldecode.audit.records import Diagnostics

if TYPE_CHECKING:
    # An item's text (a paragraph of lldecode.analysis.explain, a denial).
    Render = Callable[[Any], str]


class LogReader:
    """The selected denials of some inputs, or an aggregate of them.

    ``selection``: a :class:`Selection` (everything by default).
    ``context``: the caller shows or groups by the denied process; without
    it (and a selection that needs it) only Landlock records are read, which
    is several times faster.  ``keep_domains``: report on every domain at
    the end (finished ones are kept).  ``jobs``: processes for aggregates
    (None: one per CPU).  ``diagnostics`` collect what could not be read.

    >>> from lldecode.analysis.reader import LogReader
    >>> query = LogReader(["fixtures/auditd-raw.log"], context=False)
    >>> query.tally().count
    56
    """

    def __init__(self, inputs: Sequence[str], selection: Optional[Selection] = None,
                 diagnostics: Optional[Diagnostics] = None,
                 netlink_idle: Optional[float] = None, context: bool = True,
                 keep_domains: bool = False, jobs: Optional[int] = None,
                 watcher: Any = None, selection_options: Optional[Dict[str, Any]] = None,
                 given_sources: Optional[Sequence[sources.Source]] = None,
                 max_line_length: Optional[int] = None):
        """``max_line_length``: longer lines are skipped with a diagnostic.
        ``selection_options``: the options the selection was built from
        (:meth:`Selection.from_options`), for worker processes to rebuild it.
        ``given_sources``: ready-made sources (lines in memory) instead of
        ``inputs``."""
        self.inputs = list(inputs)
        self.given_sources = given_sources
        self.max_line_length = max_line_length
        # The grouping statistics of each pass made here (notices, gaps...).
        self.passes: List[GroupingStats] = []
        self.selection = selection if selection is not None else Selection()
        self.selection_options = selection_options or {}
        self.diagnostics = diagnostics if diagnostics is not None else Diagnostics()
        self.netlink_idle = netlink_idle
        self.context = context or self.selection.needs_process
        self.keep_domains = keep_domains
        self.jobs = jobs
        self.watcher = watcher

    def reading(self, registry: Optional[DomainRegistry] = None,
                serial_gaps: Optional[bool] = None) -> Reading:
        """A new pass over the inputs (its grouping statistics are kept in
        :attr:`passes`); ``serial_gaps``: see :class:`Reading`."""
        made = Reading(self.inputs, self.diagnostics, netlink_idle=self.netlink_idle,
                       context=self.context, watcher=self.watcher,
                       given_sources=self.given_sources, max_line_length=self.max_line_length,
                       registry=registry if registry is not None
                       else DomainRegistry(keep_finished=self.keep_domains),
                       serial_gaps=serial_gaps)
        self.passes.append(made.grouper.stats)
        return made

    def tally(self, by: Optional[Sequence[str]] = None, per_domain: bool = False,
              on_tick: Optional[Callable[[Tally], None]] = None,
              serial_gaps: Optional[bool] = None, accounting: bool = True) -> Tally:
        """Aggregate the selected denials (lldecode.analysis.tally), on several
        processes when the input is large enough (lldecode.analysis.parallel).
        ``on_tick(tally)``: called where a live input went quiet.
        ``serial_gaps``: count the missing serials (default: with context;
        only the domain report shows them).  ``accounting=False``: only the
        count is wanted (see :class:`~lldecode.analysis.tally.Tally`)."""
        jobs = self.jobs if self.jobs is not None else parallel.default_jobs()
        # A selection or a summary that reads a domain's state (its creator,
        # for a denial without SYSCALL record; its status) needs the domains
        # of the parts before: one pass (the parts of a tally start with no
        # domain known).
        one_pass = self.selection.needs_domains or "exe" in (by or ())
        parts = (None if self.given_sources is not None or one_pass
                 else parallel.plan(self.inputs, jobs, context=self.context))
        if parts is not None:
            options: parallel.TallyOptions = {
                "selection": self.selection_options, "context": self.context, "by": by,
                "per_domain": per_domain, "keep_domains": self.keep_domains,
                "max_line_length": self.max_line_length, "serial_gaps": serial_gaps,
                "accounting": accounting}
            return parallel.tally(parts, options, jobs, self.diagnostics, self.selection)
        result = Tally(by, per_domain, self.keep_domains, accounting)
        result.consume(self.reading(result.registry, serial_gaps), self.selection,
                       None if on_tick is None else (lambda: on_tick(result)))
        return result

    def denials(self) -> Iterator[Denial]:
        """The selected denials, in log order (serial gaps, which only the
        domain report shows, are not counted)."""
        select = self.selection
        denials = self.reading(serial_gaps=False).denials()
        if select.empty:
            return denials
        return (d for d in denials if select(d))

    def paragraphs(self, render: "Render", separator: str = "",
                   objects: bool = False) -> "Rendered":
        """The explained paragraphs of the selected denials, rendered by
        ``render`` with ``separator`` between two (see
        :func:`lldecode.analysis.explain.paragraphs`): iterate for the text;
        then ``count`` is the number of paragraphs.  A large input is read on
        several processes (lldecode.analysis.parallel_text), the text
        written in input order.  ``objects``: ``render`` gives objects (a
        table's rows, CI findings), not text; iterate for them (no
        separator)."""
        return self._rendered(render, separator, "paragraphs", objects)

    def rendered_denials(self, render: "Render", objects: bool = False,
                         domains: bool = True) -> "Rendered":
        """The selected denials, each rendered by ``render``, in log order:
        iterate for the text (or objects); then ``count`` is the number of
        denials (read on several processes as :meth:`paragraphs`).
        ``domains=False``: ``render`` reads nothing of a denial's domain
        (``domain_info``, ``creator``): a part's reading then starts without
        the domains of the parts before it (unless the selection needs them)."""
        return self._rendered(render, "", "denials", objects, domains)

    def rendered_events(self, render: "Render", domains: bool = True) -> "Rendered":
        """The events holding a selected denial, each rendered by ``render``
        from (event, its selected denials) as :meth:`events` gives them, in
        log order: iterate for the text; then ``count`` is the number of
        selected denials (read on several processes as :meth:`paragraphs`;
        ``domains`` as for :meth:`rendered_denials`)."""
        return self._rendered(render, "", "events", False, domains)

    def _rendered(self, render: "Render", separator: str, kind: str,
                  objects: bool, domains: bool = True) -> "Rendered":
        replay = domains or self.selection.needs_domains
        jobs = self.jobs if self.jobs is not None else parallel.default_jobs()
        # (each worker reads the Landlock records of the parts before its
        # own first, at 0.2 to 0.45 of the cost of explaining them)
        parts = (None if self.given_sources is not None
                 else parallel.plan_spans(self.inputs, jobs, replay=None if replay else 0.0,
                                          min_part=parallel.EXPLAIN_MIN_PART))
        if parts is None:
            return _SequentialText(self, render, separator, kind)
        from lldecode.analysis.parallel_text import ParallelText

        made = ParallelText(parts, {"selection": self.selection_options,
                                    "context": self.context,
                                    "max_line_length": self.max_line_length, "kind": kind,
                                    "objects": objects, "keep_domains": self.keep_domains,
                                    "replay": replay},
                            jobs, self.diagnostics, self.selection, render, separator)
        self.passes.append(made.stats)
        return made

    def live_denials(self) -> Iterator[Optional[Denial]]:
        """The selected denials, and None where a live input went quiet
        (see :meth:`Reading.live_denials`)."""
        select = self.selection
        denials = self.reading().live_denials()
        if select.empty:
            return denials
        return (d for d in denials if d is None or select(d))

    def events(self) -> Iterator[Tuple[Event, List[Denial]]]:
        """(event, selected denials) for events with a selected denial
        (serial gaps not counted)."""
        select = self.selection
        for event, denials in self.reading(serial_gaps=False).events():
            chosen = [d for d in denials if select(d)] if not select.empty else denials
            if chosen:
                yield event, chosen


class Rendered(Protocol):
    """What :meth:`LogReader.paragraphs` and :meth:`LogReader.rendered_denials` give:
    text pieces, then ``count``."""

    count: int

    def __iter__(self) -> Iterator[Any]: ...


class _SequentialText:
    """The items read in this process, rendered as they come."""

    def __init__(self, reader: LogReader, render: "Render", separator: str, kind: str):
        self.reader, self.render, self.separator, self.kind = reader, render, separator, kind
        self.count = 0

    def __iter__(self) -> Iterator[Any]:
        from lldecode.analysis import explain

        render, separator = self.render, self.separator
        if self.kind == "events":
            for event, denials in self.reader.events():
                self.count += len(denials)
                yield render((event, denials))
            return
        items: Iterator[Any] = self.reader.denials()
        if self.kind == "paragraphs":
            items = explain.paragraphs(explain.operations(items))
        for item in items:
            yield (separator + render(item)) if separator and self.count else render(item)
            self.count += 1
