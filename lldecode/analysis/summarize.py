"""summarize and domains: aggregate reports over the selected denials.

:class:`Summary` counts denials grouped by any combination of domain,
blocker, exe, path and syscall (a denial with two blockers counts once under
each), with first and last time; grouped by domain it adds the registry's
accounting (creator, denials logged against denials the kernel counted).
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from lldecode.analysis.denials import Denial
from lldecode.analysis.domains import DomainInfo, DomainRegistry
from lldecode.spill import GroupCounts

DIMENSIONS = ("domain", "blocker", "exe", "path", "syscall")
# Not a dimension: given with them, each group also keeps where its earliest
# denial was read (row["location"]: file, line), for the outputs that point
# at the log (lldecode.output.ci).  Off by default: it costs a string per denial.
LOCATION = "+location"


def _location(denial: Denial) -> str:
    """A denial's time and place as one string whose minimum is the earliest
    (SQL's min() combines it when groups spill): time, file, line."""
    time = denial.time
    record = denial.record
    stamp = f"{time:020.6f}" if time is not None and time >= 0 else "~"
    return f"{stamp}\0{record.lineno:012d}\0{record.source}"


def _unlocation(text: Any) -> Optional[Tuple[str, int]]:
    if not isinstance(text, str):
        return None
    _, line, source = text.split("\0", 2)
    return source, int(line)


def _object_key(denial: Denial) -> Any:
    """The denied object: its path as bytes, or a port or process as text."""
    path = denial.path
    if path is not None:
        return path
    obj = denial.object
    if obj.get("src") is not None:
        return f"tcp bind port {obj['src']}"
    if obj.get("dest") is not None:
        return f"tcp connect port {obj['dest']}"
    if obj.get("opid") is not None:
        return b"process " + (obj.get("ocomm") or b"?")
    return None


def _keys(denial: Denial, dimension: str) -> List[Any]:
    """The denial's values of one dimension (its blockers: several)."""
    if dimension == "domain":
        return [denial.key]
    if dimension == "blocker":
        return list(denial.blockers)
    if dimension == "exe":
        return [denial.actor("exe")]
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
        self.locate = LOCATION in by
        by = [d for d in by if d != LOCATION]
        for dimension in by:
            if dimension not in DIMENSIONS:
                raise ValueError(f"cannot summarize by {dimension!r}: "
                                 f"choose among {', '.join(DIMENSIONS)}")
        self.by = list(dict.fromkeys(by)) or ["domain"]
        self.accounting = self.by == ["domain"]
        # accounting: (creator exe, creator pid, denials logged, denials reported);
        # parts of the input add up their logged denials.
        # with LOCATION, a fifth value: the earliest denial's place (_location)
        self.counts = GroupCounts(combine=("max", "max", "sum", "max")
                                  + (("min",) if self.locate else ()))
        self.total = 0

    def add(self, denial: Denial) -> None:
        """Count a selected denial."""
        self.total += 1
        if self.accounting:
            creator = denial.creator
            extra: Optional[Tuple[Any, ...]] = (
                (creator.get("exe"), creator.get("pid"), None, None) if creator else None)
            if self.locate:
                extra = (extra or (None, None, None, None)) + (_location(denial),)
            self.counts.add((denial.key,), denial.time, extra)
            return
        keys: List[Tuple[Any, ...]] = [()]
        for dimension in self.by:
            keys = [k + (v,) for k in keys for v in _keys(denial, dimension)]
        place = (None, None, None, None, _location(denial)) if self.locate else None
        for key in keys:
            self.counts.add(key, denial.time, place)

    def account(self, info: DomainInfo) -> None:
        """A domain's accounting (it finished, or the input ended)."""
        if self.accounting:
            self.counts.merge((info.key,), 0, None, None,
                              (None, None, info.denials_logged, info.denials_reported)
                              + ((None,) if self.locate else ()))

    def rows(self, registry: Optional[DomainRegistry] = None) -> Iterator[Dict[str, Any]]:
        """One dict per group, most denials first."""
        for key, count, first, last, extra in self.counts.ordered():
            row: Dict[str, Any] = {}
            for dimension, value in zip(self.by, key):
                if dimension == "domain":
                    node, boot, domain_id = value
                    row["domain"] = domain_id
                    row["node"] = node
                    if self.accounting and extra is not None:
                        exe, pid, logged, reported = extra[:4]
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
            if self.locate:
                row["location"] = _unlocation(extra[4] if extra is not None else None)
            yield row
