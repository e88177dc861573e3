"""Domains: a registry of every Landlock domain the log mentions.

A domain is a Landlock sandbox layer, named in the log by a 64-bit id.
The kernel writes a LANDLOCK_DOMAIN ``status=allocated`` record (creator
pid, uid, exe, comm, mode) right after the first logged denial of a domain,
and a ``status=deallocated`` record with the number of denials it counted
(logged or not) when the domain is freed.  Patch-era logs spell these
``LL_DOM_INFO`` (with ``creation=``) and ``LL_DOM_DROP``/``LANDLOCK_DOM_DROP``.

Ids are unique within one boot only: they start at a random point each boot
and increase with each new domain.  So the registry keys domains by node,
boot and id, and starts a new boot for a node when the audit serials
restart, when a domain id jumps back far (older ids with later timestamps),
or when an id comes back after its deallocation.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    Literal,
    NamedTuple,
    Optional,
    Set,
    Tuple,
    TypedDict,
)

from lldecode.analysis.denials import Denial, LogNumber, log_number
from lldecode.audit.events import Event
from lldecode.audit.records import Record
from lldecode.audit.syntax import ACCESS, DOMAIN, DOMAIN_DROP
from lldecode.audit.values import decode_int, decode_text, decode_untrusted
from lldecode.spill import FinishedStore, merged

# Ids of one boot stay within a few per new domain of each other; a jump
# back by more than this (with later timestamps) is another boot.
BOOT_ID_JUMP = 1 << 24
# Audit serials restart at each boot; a fall by more than this is a reboot.
BOOT_SERIAL_FALL = 100000
# Deallocated domains remembered (an id seen again after its deallocation
# is a later boot): far more than live at once on a host, yet little memory.
REMEMBER_GONE = 20000

# The key of one domain: (node, boot, id).  The kernel draws domain ids from
# one counter per boot, so an id names a domain only with its host and boot.
DomainKey = Tuple[Optional[str], int, str]

ALLOCATED, DEALLOCATED, UNKNOWN = "allocated", "deallocated", "unknown"


class Creator(TypedDict, total=False):
    """The process that created a domain (its allocated record): only the
    fields the record has."""

    pid: LogNumber
    uid: LogNumber
    exe: Optional[bytes]
    comm: Optional[bytes]


# The fields of an allocated record that name the creator, by kind.
_CREATOR_IDS: Tuple[Literal["pid", "uid"], ...] = ("pid", "uid")
_CREATOR_NAMES: Tuple[Literal["exe", "comm"], ...] = ("exe", "comm")


def starts_boot(serial: Optional[int], stamp: Optional[float], domain_id: Optional[int],
                last_serial: Optional[int], last_time: Optional[float],
                max_id: Optional[int], max_id_time: Optional[float],
                unknown_time_later: bool = False) -> bool:
    """Does a record (its serial, time and domain id as a number) come from a
    later boot than the records before it (the last serial and time, the
    largest domain id and its time)?  Yes when audit serials fell by more
    than BOOT_SERIAL_FALL or domain ids by more than BOOT_ID_JUMP, at a time
    not before theirs.  ``unknown_time_later``: whether a missing time counts
    as not before (the registry says no; a part boundary, see
    lldecode.analysis.tally, says yes).  None: not known, no sign."""
    if (serial is not None and last_serial is not None
            and serial + BOOT_SERIAL_FALL < last_serial
            and _not_before(stamp, last_time, unknown_time_later)):
        return True
    return (domain_id is not None and max_id is not None
            and domain_id + BOOT_ID_JUMP < max_id
            and _not_before(stamp, max_id_time, unknown_time_later))


def _not_before(stamp: Optional[float], then: Optional[float], unknown: bool) -> bool:
    if stamp is None or then is None:
        return unknown
    return stamp >= then


class DomainInfo:
    """What the log says about one domain."""

    __slots__ = ("id", "node", "boot", "status", "creator", "mode", "creation_time",
                 "allocated_time", "first_denial", "last_denial", "deallocated_time",
                 "denials_logged", "denials_reported", "blockers", "duplicate_allocations",
                 "carriers", "first_serial", "last_serial")

    def __init__(self, domain_id: str, node: Optional[str], boot: int):
        self.id = domain_id
        self.node = node
        self.boot = boot
        self.status: str = UNKNOWN   # ALLOCATED or DEALLOCATED once a record says so
        self.creator: Optional[Creator] = None
        self.mode: Optional[str] = None
        self.creation_time: Optional[float] = None
        self.allocated_time: Optional[float] = None
        self.first_denial: Optional[float] = None
        self.last_denial: Optional[float] = None
        self.deallocated_time: Optional[float] = None
        self.denials_logged = 0
        self.denials_reported: Optional[int] = None
        self.blockers: Counter[str] = Counter()
        self.duplicate_allocations = 0
        self.carriers: Set[str] = set()
        self.first_serial: Optional[int] = None
        self.last_serial: Optional[int] = None

    @property
    def key(self) -> DomainKey:
        """(node, boot, id): what names one domain across hosts and reboots."""
        return (self.node, self.boot, self.id)

    @property
    def number(self) -> int:
        """The domain id as a number (ids increase with age within a boot)."""
        return int(self.id, 16)

    @property
    def missing(self) -> Optional[int]:
        """Denials the kernel counted that are not in this input (None: unknown)."""
        if self.denials_reported is None:
            return None
        return self.denials_reported - self.denials_logged

    def __repr__(self) -> str:
        return f"DomainInfo({self.id} boot={self.boot} {self.status} {self.denials_logged})"

    def absorb(self, later: "DomainInfo") -> None:
        """Add what a later part of the input says about this same domain."""
        self.denials_logged += later.denials_logged
        self.blockers.update(later.blockers)
        for attr, pick in (("first_denial", min), ("last_denial", max)):
            values = [v for v in (getattr(self, attr), getattr(later, attr)) if v is not None]
            setattr(self, attr, pick(values) if values else None)
        if self.creator is not None and later.creator is not None:
            self.duplicate_allocations += 1
        self.duplicate_allocations += later.duplicate_allocations
        for attr in ("creator", "mode", "creation_time", "allocated_time", "first_serial"):
            if getattr(self, attr) is None:
                setattr(self, attr, getattr(later, attr))
        if later.last_serial is not None:
            self.last_serial = later.last_serial
        self.carriers |= later.carriers
        if later.status == DEALLOCATED:
            self.status = DEALLOCATED
            self.deallocated_time = later.deallocated_time
            self.denials_reported = later.denials_reported
        elif self.status != DEALLOCATED and ALLOCATED in (self.status, later.status):
            self.status = ALLOCATED

    def as_dict(self) -> Dict[str, Any]:
        """What the log says of the domain, as a plain dict."""
        return {
            "domain": self.id, "node": self.node, "boot": self.boot, "status": self.status,
            "creator": self.creator, "mode": self.mode, "creation_time": self.creation_time,
            "allocated_time": self.allocated_time, "first_denial": self.first_denial,
            "last_denial": self.last_denial, "deallocated_time": self.deallocated_time,
            "denials_logged": self.denials_logged, "denials_reported": self.denials_reported,
        }

    def order(self) -> Tuple[str, int, int]:
        """Sort key: node, boot, then age (ids increase within a boot)."""
        return (self.node or "", self.boot, self.number)

    def to_plain(self) -> Tuple[Any, ...]:
        """Plain values (for lldecode.spill), read back by :meth:`from_plain`."""
        return tuple(list(self.carriers) if slot == "carriers"
                     else dict(self.blockers) if slot == "blockers"
                     else getattr(self, slot) for slot in self.__slots__)

    @classmethod
    def from_plain(cls, values: Tuple[Any, ...]) -> DomainInfo:
        """A domain from the values of :meth:`to_plain`."""
        info = cls.__new__(cls)
        for slot, value in zip(cls.__slots__, values):
            setattr(info, slot, value)
        info.blockers = Counter(info.blockers)
        info.carriers = set(info.carriers)
        return info


class _NodeClock:
    """Per node: the current boot and what tells the next one apart."""

    __slots__ = ("boot", "serial", "time", "max_id", "max_id_time", "first_serial",
                 "first_time", "first_id")

    def __init__(self) -> None:
        self.boot = 0
        self.first_serial: Optional[int] = None
        self.first_time: Optional[float] = None
        self.first_id: Optional[int] = None
        self.serial: Optional[int] = None
        self.time: Optional[float] = None
        self.max_id: Optional[int] = None
        self.max_id_time: Optional[float] = None


class ClockSpan(NamedTuple):
    """What one node's records say of its boots, from first to last (for a
    part of the input read elsewhere, see lldecode.analysis.tally)."""

    first_serial: Optional[int]
    first_time: Optional[float]
    first_id: Optional[int]      # the first domain id, as a number
    last_serial: Optional[int]
    last_time: Optional[float]
    max_id: Optional[int]        # the largest domain id of the last boot
    boots: int                   # boots after the first (the last boot's number)


class DomainRegistry:
    """Every domain seen, by (node, boot, id); fed event by event.

    Live domains stay in memory.  A deallocated domain is finished: with
    ``keep_finished`` it moves to a store that spills to disk past a bound
    (reports need it at the end), without it it is dropped (filter and
    explain only need domains while they live).  Memory stays bounded
    whatever the number of domains in the input.
    """

    def __init__(self, keep_finished: bool = True, remember_gone: int = REMEMBER_GONE,
                 on_finish: Optional[Callable[[DomainInfo], None]] = None):
        self.live: Dict[DomainKey, DomainInfo] = {}
        self.finished: Optional[FinishedStore[DomainInfo]] = (
            FinishedStore(DomainInfo.to_plain, DomainInfo.from_plain, DomainInfo.order)
            if keep_finished else None)
        # Recently deallocated domains: an id seen again is a later boot.
        self._gone: OrderedDict[DomainKey, None] = OrderedDict()
        self._remember_gone = remember_gone
        self._clocks: Dict[Optional[str], _NodeClock] = {}
        self.on_finish = on_finish  # told of each domain as it is deallocated

    # -- feeding ---------------------------------------------------------------

    def observe(self, event: Event, denials: Iterable[Denial]) -> None:
        """Account one event's Landlock records; attach domains to its denials
        (which are the event's access records, in order)."""
        pending = iter(denials)
        for record in event.records:
            if record.kind == ACCESS:
                info = self._domain(record)
                info.denials_logged += 1
                stamp = record.time
                if stamp is not None:
                    if info.first_denial is None or stamp < info.first_denial:
                        info.first_denial = stamp
                    if info.last_denial is None or stamp > info.last_denial:
                        info.last_denial = stamp
                denial = next(pending, None)
                if denial is not None:
                    for blocker in denial.blockers:
                        info.blockers[blocker] += 1
                    denial.domain_info = info
            elif record.kind == DOMAIN:
                self._domain_record(record)
            elif record.kind == DOMAIN_DROP:
                self._deallocated(self._domain(record), record, None)

    @staticmethod
    def _new_boot(clock: _NodeClock) -> None:
        clock.boot += 1
        clock.max_id = clock.max_id_time = None

    def _domain(self, record: Record) -> DomainInfo:
        """The domain of a Landlock record, on the record's node and boot
        (a new boot when the record starts one, see :func:`starts_boot`)."""
        domain = record.domain
        assert domain is not None  # read_records gives every Landlock record one
        domain_id = domain.lower()
        node = record.node
        serial, stamp = record.serial, record.time
        number = int(domain_id, 16)
        clock = self._clocks.get(node)
        if clock is None:
            clock = self._clocks[node] = _NodeClock()
        if clock.first_serial is None and clock.first_time is None:
            clock.first_serial, clock.first_time = serial, stamp
        if clock.first_id is None:
            clock.first_id = number
        # A live id is this boot's: only the serials can tell a reboot then.
        live = (node, clock.boot, domain_id) in self.live
        if starts_boot(serial, stamp, number, clock.serial, clock.time,
                       None if live else clock.max_id, clock.max_id_time):
            self._new_boot(clock)
        if serial is not None:
            clock.serial = serial
        if stamp is not None:
            clock.time = stamp
        if clock.max_id is None or number > clock.max_id:
            clock.max_id, clock.max_id_time = number, stamp
        key = (node, clock.boot, domain_id)
        info = self.live.get(key)
        if info is None and key in self._gone:
            # An id is never reused within a boot: this is a later boot.
            self._new_boot(clock)
            clock.max_id, clock.max_id_time = number, stamp
            key = (node, clock.boot, domain_id)
        if info is None:
            info = self.live[key] = DomainInfo(domain_id, node, clock.boot)
        info.carriers.add(record.carrier)
        serial = record.serial
        if serial is not None:
            if info.first_serial is None:
                info.first_serial = serial
            info.last_serial = serial
        return info

    def _domain_record(self, record: Record) -> None:
        fields = record.fields
        status = decode_text(fields.get("status", "")) or ""
        if status == DEALLOCATED:
            info = self._domain(record)
            self._deallocated(info, record, decode_int(fields.get("denials", "")))
            return
        info = self._domain(record)
        if info.creator is not None:
            info.duplicate_allocations += 1
            return
        interpreted = record.interpreted
        creator: Creator = {}
        for key in _CREATOR_IDS:
            if key in fields:
                creator[key] = log_number(fields[key])
        for name in _CREATOR_NAMES:
            if name in fields:
                creator[name] = decode_untrusted(fields[name], interpreted)
        info.creator = creator
        mode = fields.get("mode")
        if mode is not None:
            # Released ausearch misreads mode=enforcing as a file mode.
            info.mode = "enforcing" if mode == "000,000" else decode_text(mode)
        creation = fields.get("creation")
        if creation is not None:  # patch v3: creation=SECONDS.MILLIS
            try:
                info.creation_time = float(decode_text(creation) or "")
            except ValueError:
                pass
        info.status = ALLOCATED
        info.allocated_time = record.time

    def _deallocated(self, info: DomainInfo, record: Record, denials: Optional[int]) -> None:
        info.status = DEALLOCATED
        info.deallocated_time = record.time
        if denials is not None:
            info.denials_reported = denials
        key = info.key
        self.live.pop(key, None)
        self._gone[key] = None
        if len(self._gone) > self._remember_gone:
            self._gone.popitem(last=False)
        if self.finished is not None:
            self.finished.add(key, info)
        if self.on_finish is not None:
            self.on_finish(info)

    # -- reading ----------------------------------------------------------------

    def get(self, key: DomainKey) -> Optional[DomainInfo]:
        """The domain of that key, live or finished (None when unknown)."""
        info = self.live.get(key)
        if info is None and self.finished is not None:
            info = self.finished.get(key)
        return info

    def __len__(self) -> int:
        return len(self.live) + (len(self.finished) if self.finished is not None else 0)

    def ordered(self) -> Iterator[DomainInfo]:
        """Domains by node, boot and age (ids increase with age within a boot)."""
        live = sorted(self.live.values(), key=DomainInfo.order)
        if self.finished is None:
            return iter(live)
        return merged(iter(live), self.finished.ordered(), key=DomainInfo.order)

    def close(self) -> None:
        """Remove the finished domains' spill files."""
        if self.finished is not None:
            self.finished.close()

    # -- parts read elsewhere (lldecode.analysis.tally) --------------------------------------

    def clock_spans(self) -> Dict[Optional[str], ClockSpan]:
        """Per node: how its records start and end (see :class:`ClockSpan`)."""
        return {node: ClockSpan(c.first_serial, c.first_time, c.first_id, c.serial, c.time,
                                c.max_id, c.boot) for node, c in self._clocks.items()}

    def absorb(self, info: DomainInfo) -> None:
        """Take a domain from a later part of the input (boot already mapped)."""
        key = info.key
        known = self.live.pop(key, None)
        if known is not None:
            known.absorb(info)
            info = known
        if info.status == DEALLOCATED and self.finished is not None:
            self.finished.add(key, info)
        else:
            self.live[key] = info
