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
from collections import Counter
from typing import Any, Dict, Iterable, Iterator, Optional, Sequence

from lldecode.analysis.domains import BOOT_ID_JUMP, BOOT_SERIAL_FALL, DomainInfo, DomainRegistry
from lldecode.audit.events import KEEP_NOTICES, GroupingStats
from lldecode.spill import dump_batches, load_batches
from lldecode.analysis.summarize import Summary

_SUMMED_STATS = ("records", "events", "late_records", "serial_gaps", "suppressed", "lost",
                 "evicted", "duplicates")


def _stash(items: Iterable[Any], path: Optional[str]) -> Any:
    """Items as a list, or written to ``path`` in marshalled batches."""
    if path is None:
        return list(items)
    with open(path, "wb") as f:
        dump_batches(items, f)
    return path


def _unstash(stashed: Any) -> Iterator[Any]:
    """The items of :func:`_stash`; a file is removed once read."""
    if not isinstance(stashed, str):
        yield from stashed
        return
    with open(stashed, "rb") as f:
        yield from load_batches(f)
    os.unlink(stashed)


def _rebooted(group: tuple, at: int, boot_of) -> tuple:
    """A group whose key holds a domain, its boot mapped to this tally's."""
    key, n, first, last, extra = group
    node, boot, domain_id = key[at]
    return (key[:at] + ((node, boot_of(node, boot), domain_id),) + key[at + 1:],
            n, first, last, extra)


def _next_boot(seen: tuple, first_serial: Optional[int], first_time: Optional[float],
               first_id: Optional[int]) -> bool:
    """Does a part starting so follow a reboot after ``seen`` (serial, time,
    largest id)?  The same rules as the registry's, at the boundary."""
    last_serial, last_time, max_id = seen
    if first_time is not None and last_time is not None and first_time < last_time:
        return False
    if first_serial is not None and last_serial is not None \
            and first_serial + BOOT_SERIAL_FALL < last_serial:
        return True
    return first_id is not None and max_id is not None and first_id + BOOT_ID_JUMP < max_id


class Tally:
    """``by``: summarize by these dimensions; ``per_domain``: count the
    selected denials per domain; ``keep_domains``: keep every domain for
    the report (else only the live ones are kept, and merged parts do not
    carry them)."""

    def __init__(self, by: Optional[Sequence[str]] = None, per_domain: bool = False,
                 keep_domains: bool = False):
        self.count = 0
        self.summary = Summary(by) if by else None
        self.selected: Optional[Counter] = Counter() if per_domain else None
        self.keep_domains = keep_domains
        self.registry = DomainRegistry(keep_finished=keep_domains, on_finish=(
            self.summary.account if self.summary is not None and self.summary.accounting
            else None))
        self.stats = GroupingStats()
        self._boot_offset: Dict[Optional[str], int] = {}
        self._last_seen: Dict[Optional[str], tuple] = {}

    def consume(self, reading, selection) -> None:
        """Tally the selected denials of ``reading``, a reading made with
        this tally's registry (its grouping statistics become this tally's)."""
        if reading.registry is not self.registry:
            raise ValueError("Tally.consume: the reading must use the tally's registry")
        summary, selected = self.summary, self.selected
        for denial in reading.denials():
            if not selection.empty and not selection(denial):
                continue
            self.count += 1
            if summary is not None:
                summary.add(denial)
            if selected is not None and denial.domain_info is not None:
                selected[denial.domain_info.key] += 1
        if summary is not None:
            for info in reading.registry.live.values():
                summary.account(info)
        self.stats = reading.grouper.stats

    # -- parts read elsewhere ---------------------------------------------------------

    def partial(self, scratch: Optional[str] = None) -> Dict[str, Any]:
        """This tally as plain values (picklable).  With ``scratch`` (a path
        prefix), the summary's groups and the domains go to files there
        rather than into the result, which stays small."""
        groups: Any = None
        if self.summary is not None:
            if scratch is None:
                groups = list(self.summary.counts.everything())
            else:
                groups = {"database": scratch + ".groups.db"}
                self.summary.counts.export(groups["database"])
        domains = (info.to_plain() for info in self.registry.ordered()) \
            if self.keep_domains else ()
        return {
            "count": self.count,
            "groups": groups,
            "total": self.summary.total if self.summary else 0,
            "selected": dict(self.selected) if self.selected is not None else None,
            "domains": _stash(domains, scratch and scratch + ".domains"),
            "clocks": self.registry.clock_spans(),
            "stats": {name: getattr(self.stats, name) for name in _SUMMED_STATS},
            "notices": [(n.kind, n.count, n.source, n.lineno, n.line)
                        for n in self.stats.notices],
        }

    def absorb(self, part: Dict[str, Any]) -> None:
        """Add the tally of the next part of the input (in input order).

        A part's boots are counted from 0: they follow this tally's, one
        later when the part starts like a reboot (lldecode.analysis.domains): audit
        serials far below ours, or domain ids far below ours, at a later time.
        """
        offsets = {}
        for node, span in part["clocks"].items():
            first_serial, first_time, first_id, last_serial, last_time, max_id, boots = span
            offset = self._boot_offset.get(node, 0)
            seen = self._last_seen.get(node)
            if seen is not None and _next_boot(seen, first_serial, first_time, first_id):
                offset += 1
            offsets[node] = offset
            self._boot_offset[node] = offset + boots
            self._last_seen[node] = (last_serial, last_time, max_id)

        def boot_of(node, boot):
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
            else:
                if domain_at is not None:
                    groups = (_rebooted(group, domain_at, boot_of) for group in groups)
                counts.extend(groups)
        if self.selected is not None:
            for (node, boot, domain_id), n in part["selected"].items():
                self.selected[(node, boot_of(node, boot), domain_id)] += n
        for plain in _unstash(part["domains"]):
            info = DomainInfo.from_plain(plain)
            info.boot = boot_of(info.node, info.boot)
            self.registry.absorb(info)
        for name, value in part["stats"].items():
            setattr(self.stats, name, getattr(self.stats, name) + value)
        room = KEEP_NOTICES - len(self.stats.notices)
        if room > 0:
            from lldecode.audit.records import Notice

            self.stats.notices.extend(Notice(*n) for n in part["notices"][:room])


