"""The stream, end to end: sources -> records -> events -> denials -> domains.

Every reading command runs one :class:`Reading`; analyses consume its
denials (and, at the end, its domain registry and grouping statistics).
Each stage holds only what is still open, so memory stays bounded.
"""

from __future__ import annotations

from typing import Iterable, Iterator, List, Optional, Tuple

from lldecode.audit import sources
from lldecode.analysis.denials import Denial, denials_of
from lldecode.analysis.domains import DomainRegistry
from lldecode.audit.events import Event, EventGrouper
from lldecode.audit.records import Diagnostics, read_records


class Reading:
    """One pass over the inputs."""

    def __init__(self, inputs: Iterable[str], diagnostics: Diagnostics,
                 grouper: Optional[EventGrouper] = None,
                 registry: Optional[DomainRegistry] = None,
                 netlink_idle: Optional[float] = None, context: bool = True,
                 given_sources: Optional[List[sources.Source]] = None):
        self.inputs = list(inputs)
        self.diagnostics = diagnostics
        self.grouper = grouper if grouper is not None else EventGrouper(count_serial_gaps=context)
        self.registry = registry if registry is not None else DomainRegistry()
        self.netlink_idle = netlink_idle
        self.progress = False
        # Without context, only Landlock records are read: no SYSCALL, PATH,
        # PROCTITLE (denials have no process), and no serial-gap accounting.
        self.context = context
        self._given_sources = given_sources  # ready-made sources instead of arguments

    def _sources(self) -> Iterator[sources.Source]:
        watcher = None
        if self.progress:
            from lldecode.output.progress import Progress

            watcher = Progress()
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
        for _event, denials in self.events():
            yield from denials
