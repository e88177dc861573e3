"""summarize and domains: aggregate reports over the selected denials.

:class:`Summary` counts denials grouped by any combination of domain,
blocker, exe, path and syscall (a denial with two blockers counts once under
each), with first and last time; grouped by domain it adds the registry's
accounting (creator, denials logged against denials the kernel counted).
:func:`domain_rows` is the per-domain report of ``lldecode domains``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from lldecode.analysis.domains import DomainInfo, DomainRegistry, gap_causes
from lldecode.audit.events import GroupingStats
from lldecode.spill import GroupCounts

DIMENSIONS = ("domain", "blocker", "exe", "path", "syscall")


def _object_key(denial) -> Any:
    """The denied object: its path as bytes, or a port or process as text."""
    obj = denial.object
    path = obj.get("path") if obj.get("path") is not None else obj.get("name")
    if path is not None:
        return path
    if obj.get("src") is not None:
        return f"tcp bind port {obj['src']}"
    if obj.get("dest") is not None:
        return f"tcp connect port {obj['dest']}"
    if obj.get("opid") is not None:
        return b"process " + (obj.get("ocomm") or b"?")
    return None


def _exe(denial) -> Optional[bytes]:
    process = denial.process
    exe = process.get("exe") if process else None
    if exe is None and denial.domain_info is not None and denial.domain_info.creator:
        exe = denial.domain_info.creator.get("exe")
    return exe


def _keys(denial, dimension: str) -> List[Any]:
    if dimension == "domain":
        info = denial.domain_info
        return [(info.node, info.boot, info.id) if info is not None else (None, 0, denial.domain)]
    if dimension == "blocker":
        return list(denial.blockers)
    if dimension == "exe":
        return [_exe(denial)]
    if dimension == "path":
        return [_object_key(denial)]
    process = denial.process
    return [process.get("syscall") if process else None]


class Summary:
    """Counts of denials by the chosen dimensions (a streaming consumer;
    groups past a bound spill to disk, see lldecode.spill).

    Grouped by domain alone, each group also carries the domain's
    accounting (creator, denials logged, denials the kernel counted), given
    by the registry through :meth:`account` when the domain is finished or
    at the end: rows then need no lookup, however many domains there are.
    """

    def __init__(self, by: Sequence[str]):
        for dimension in by:
            if dimension not in DIMENSIONS:
                raise ValueError(f"cannot summarize by {dimension!r}: "
                                 f"choose among {', '.join(DIMENSIONS)}")
        self.by = list(dict.fromkeys(by)) or ["domain"]
        self.accounting = self.by == ["domain"]
        # accounting: (creator exe, creator pid, denials logged, denials reported);
        # parts of the input add up their logged denials.
        self.counts = GroupCounts(combine=("max", "max", "sum", "max"))
        self.total = 0

    def add(self, denial) -> None:
        self.total += 1
        if self.accounting:
            info = denial.domain_info
            creator = info.creator if info is not None else None
            extra = (creator.get("exe"), creator.get("pid"), None, None) if creator else None
            self.counts.add((_keys(denial, "domain")[0],), denial.time, extra)
            return
        keys: List[Tuple] = [()]
        for dimension in self.by:
            keys = [k + (v,) for k in keys for v in _keys(denial, dimension)]
        for key in keys:
            self.counts.add(key, denial.time)

    def account(self, info: DomainInfo) -> None:
        """A domain's accounting (it finished, or the input ended)."""
        if self.accounting:
            self.counts.merge(((info.node, info.boot, info.id),), 0, None, None,
                              (None, None, info.denials_logged, info.denials_reported))

    def rows(self, registry: Optional[DomainRegistry] = None) -> Iterator[Dict[str, Any]]:
        """One dict per group, most denials first."""
        for key, count, first, last, extra in self.counts.ordered():
            row: Dict[str, Any] = {}
            for dimension, value in zip(self.by, key):
                if dimension == "domain":
                    node, boot, domain_id = value
                    row["domain"] = domain_id
                    row["node"] = node
                    if extra is not None:
                        exe, pid, logged, reported = extra
                        row["creator"] = {"exe": exe, "pid": pid} if exe or pid else None
                    else:
                        info = registry.get((node, boot, domain_id)) if registry else None
                        logged = info.denials_logged if info else None
                        reported = info.denials_reported if info else None
                        row["creator"] = info.creator if info else None
                    row["denials_logged"] = logged
                    row["denials_reported"] = reported
                else:
                    row[dimension] = value
            row["count"] = count
            row["first"] = first
            row["last"] = last
            yield row


def domain_rows(registry: DomainRegistry, stats: GroupingStats,
                selected: Optional[Counter] = None) -> Iterator[Dict[str, Any]]:
    """The ``domains`` report: one dict per domain, oldest first.

    ``selected`` (domain key -> selected denials) limits the report to the
    domains with a selected denial, when a selection is in force.
    """
    for info in registry.ordered():
        key = (info.node, info.boot, info.id)
        if selected is not None and not selected.get(key):
            continue
        yield domain_row(info, stats, selected.get(key) if selected is not None else None)


def domain_row(info: DomainInfo, stats: GroupingStats,
               selected: Optional[int] = None) -> Dict[str, Any]:
    row = info.as_dict()
    row.update({
        "missing": info.missing,
        "duplicate_allocations": info.duplicate_allocations,
        "blockers": dict(info.blockers.most_common()),
        "gap_causes": gap_causes(info, stats),
    })
    if selected is not None:
        row["denials_selected"] = selected
    return row
