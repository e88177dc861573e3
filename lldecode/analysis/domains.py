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

Memory stays bounded whatever the input: past :data:`LIVE_IN_MEMORY` live
domains, the least recently used move to a private SQLite file
(:class:`lldecode.spill.OverflowStore`) and come back when a later record
names them; finished domains are dropped or kept in a
:class:`lldecode.spill.FinishedStore`.
"""

from __future__ import annotations

import re
import weakref
from collections import Counter, OrderedDict
from typing import (
    AbstractSet,
    Any,
    Callable,
    Dict,
    FrozenSet,
    Iterable,
    Iterator,
    List,
    Literal,
    NamedTuple,
    Optional,
    Protocol,
    Tuple,
    TypedDict,
    TypeVar,
)

from lldecode.audit.events import Event
from lldecode.audit.records import Record
from lldecode.audit.syntax import ACCESS, DOMAIN, DOMAIN_DROP
from lldecode.audit.values import LogNumber, decode_int, decode_text, decode_untrusted, log_number
from lldecode.spill import FinishedStore, OverflowStore, merged

# Ids of one boot stay within a few per new domain of each other; a jump
# back by more than this (with later timestamps) is another boot.
BOOT_ID_JUMP = 1 << 24
# Audit serials restart at each boot; a fall by more than this is a reboot.
BOOT_SERIAL_FALL = 100000
# Deallocated domains remembered (an id seen again after its deallocation
# is a later boot): far more than live at once on a host, yet little memory.
REMEMBER_GONE = 20000
# Live domains kept in memory (under 1 KB each: about 20 MB at most); past
# this many, the least recently used move to disk, a batch at a time.  A
# host has far fewer live at once, unless its log never says they ended.
LIVE_IN_MEMORY = 20000
# The part of the bound moved to disk at once (one SQLite write per batch).
_SPILL_FRACTION = 8

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


# Carrier sets, shared: a domain's carriers are one or two of a handful of
# names, and a set of its own would cost 216 bytes per domain.
_CARRIER_SETS: Dict[FrozenSet[str], FrozenSet[str]] = {}
_NO_CARRIER: FrozenSet[str] = frozenset()
# Creator names (exe, comm) and modes shared between domains: many domains
# have the same creator.  Past this many distinct values, new ones are not
# kept, nor values longer than _SHARED_LENGTH.
_SHARED_KEPT = 4096
_SHARED_LENGTH = 256
_SHARED_NAMES: Dict[bytes, bytes] = {}
_SHARED_MODES: Dict[str, str] = {}


_V = TypeVar("_V", str, bytes)


def _carriers(carriers: AbstractSet[str]) -> FrozenSet[str]:
    """The shared frozen set of these carriers."""
    frozen = frozenset(carriers)
    shared = _CARRIER_SETS.get(frozen)
    if shared is None:
        shared = _CARRIER_SETS.setdefault(frozen, frozen)
    return shared


def _shared(value: Optional[_V], kept: Dict[_V, _V]) -> Optional[_V]:
    """An equal value already held in ``kept``, when there is one (saves a
    copy per domain)."""
    if value is None:
        return None
    shared = kept.get(value)
    if shared is not None:
        return shared
    if len(kept) < _SHARED_KEPT and len(value) <= _SHARED_LENGTH:
        kept[value] = value
    return value


# A deallocated record's usual body (raw spelling): its denials= value is
# what Record.fields and decode_int would read.
_DEALLOCATED_RE = re.compile(r"domain=[0-9a-fA-F]{1,16} status=deallocated denials=([0-9]{1,20})")

# Creator names as written (exe=, comm=; with whether ausearch -i wrote
# them) -> their bytes, shared: bounded as _SHARED_NAMES.
_CREATOR_NAMES_READ: Dict[Tuple[str, bool], Optional[bytes]] = {}


def _creator_name(value: str, interpreted: bool) -> Optional[bytes]:
    """``_shared(decode_untrusted(value, interpreted), _SHARED_NAMES)``, memoized."""
    key = (value, interpreted)
    try:
        return _CREATOR_NAMES_READ[key]
    except KeyError:
        pass
    name = _shared(decode_untrusted(value, interpreted), _SHARED_NAMES)
    if len(_CREATOR_NAMES_READ) < _SHARED_KEPT and len(value) <= 2 * _SHARED_LENGTH + 2:
        _CREATOR_NAMES_READ[key] = name
    return name


class DomainInfo:
    """What the log says about one domain.

    ``carriers`` is a frozen set, shared between domains: add to it with
    ``info.carriers = info.carriers | {name}``.
    """

    # The fields, in the order of :meth:`to_plain`; ``seq`` orders the live
    # domains that sort alike (the registry numbers them as it takes them).
    _FIELDS = ("id", "node", "boot", "status", "creator", "mode", "creation_time",
               "allocated_time", "first_denial", "last_denial", "deallocated_time",
               "denials_logged", "denials_reported", "blockers", "duplicate_allocations",
               "carriers", "first_serial", "last_serial", "seq", "exe_creator", "exe_other")
    __slots__ = _FIELDS + ("__weakref__",)

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
        self.carriers: FrozenSet[str] = _NO_CARRIER
        self.first_serial: Optional[int] = None
        self.last_serial: Optional[int] = None
        self.seq = 0
        # Logged denials whose SYSCALL record names the creator's executable,
        # and another one (the domain's processes ran execve and their
        # denials were logged after it): what tells the causes of unlogged
        # denials apart (lldecode.analysis.domain_report.gap_causes).
        self.exe_creator = 0
        self.exe_other = 0

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
        self.exe_creator += later.exe_creator
        self.exe_other += later.exe_other
        for attr in ("creator", "mode", "creation_time", "allocated_time", "first_serial"):
            if getattr(self, attr) is None:
                setattr(self, attr, getattr(later, attr))
        if later.last_serial is not None:
            self.last_serial = later.last_serial
        if not later.carriers <= self.carriers:
            self.carriers = _carriers(self.carriers | later.carriers)
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

    def live_order(self) -> Tuple[str, int, int, int]:
        """Sort key of the live domains: :meth:`order`, then the order the
        registry took them in (ids that differ only by leading zeros)."""
        return (self.node or "", self.boot, self.number, self.seq)

    def to_plain(self) -> Tuple[Any, ...]:
        """Plain values (for lldecode.spill), read back by :meth:`from_plain`."""
        return (self.id, self.node, self.boot, self.status, self.creator, self.mode,
                self.creation_time, self.allocated_time, self.first_denial, self.last_denial,
                self.deallocated_time, self.denials_logged, self.denials_reported,
                dict(self.blockers), self.duplicate_allocations, list(self.carriers),
                self.first_serial, self.last_serial, self.seq, self.exe_creator,
                self.exe_other)

    @classmethod
    def from_plain(cls, values: Tuple[Any, ...]) -> DomainInfo:
        """A domain from the values of :meth:`to_plain`."""
        info = cls.__new__(cls)
        info.seq = 0
        for slot, value in zip(cls._FIELDS, values):
            setattr(info, slot, value)
        info.blockers = Counter(info.blockers)
        info.carriers = _carriers(info.carriers)
        creator = info.creator
        if creator:
            for name in _CREATOR_NAMES:
                if name in creator:
                    creator[name] = _shared(creator[name], _SHARED_NAMES)
        info.mode = _shared(info.mode, _SHARED_MODES)
        return info


def _count_executable(event: Event, denied: List[DomainInfo]) -> None:
    """Count the event's denials by executable: the creator's, or another
    (after the allocated record, which follows a domain's first denial)."""
    syscall = event.first("SYSCALL")
    if syscall is None:
        return
    exe = syscall.untrusted("exe")
    for info in denied:
        creator = info.creator
        if exe is None or not creator or creator.get("exe") is None:
            continue
        if creator.get("exe") == exe:
            info.exe_creator += 1
        else:
            info.exe_other += 1


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


class Attachable(Protocol):
    """What the registry needs of a denial (lldecode.analysis.denials.Denial):
    its blockers, and a place for the domain it attaches."""

    blockers: List[str]
    domain_info: Optional[DomainInfo]


class DomainRegistry:
    """Every domain seen, by (node, boot, id); fed event by event.

    Live domains stay in memory, up to ``live_in_memory`` of them (default
    :data:`LIVE_IN_MEMORY`): past that, the least recently used move to a
    private SQLite file, and come back when a record names them again.
    A domain given out (``Denial.domain_info``, :meth:`get`) stays the one
    the registry updates, on disk or not.  A deallocated domain is
    finished: with ``keep_finished`` it moves to a store that spills to disk
    past a bound (reports need it at the end), without it it is dropped
    (filter and explain only need domains while they live).  Memory stays
    bounded whatever the number of domains in the input.
    """

    def __init__(self, keep_finished: bool = True, remember_gone: int = REMEMBER_GONE,
                 on_finish: Optional[Callable[[DomainInfo], None]] = None,
                 live_in_memory: Optional[int] = None):
        bound = LIVE_IN_MEMORY if live_in_memory is None else live_in_memory
        if bound < 1:
            raise ValueError("live_in_memory: at least one live domain stays in memory")
        # The live domains in memory, least recently used first.
        self.live: OrderedDict[DomainKey, DomainInfo] = OrderedDict()
        self.live_in_memory = bound
        self._spill_batch = max(1, bound // _SPILL_FRACTION)
        # The live domains moved to disk...
        self._spilled: OverflowStore[DomainInfo] = OverflowStore(
            DomainInfo.to_plain, DomainInfo.from_plain, DomainInfo.live_order)
        # ... the largest id (as a number) moved there per (node, boot): a
        # larger id, as every new domain's, is not looked for on disk...
        self._spilled_max: Dict[Tuple[Optional[str], int], int] = {}
        # ... and those still in use elsewhere (a denial's domain_info): the
        # same object comes back, not a copy.
        self._spilled_alive: weakref.WeakValueDictionary[DomainKey, DomainInfo] = \
            weakref.WeakValueDictionary()
        self._taken = 0  # numbers the live domains in the order taken (DomainInfo.seq)
        self.finished: Optional[FinishedStore[DomainInfo]] = (
            FinishedStore(DomainInfo.to_plain, DomainInfo.from_plain, DomainInfo.order)
            if keep_finished else None)
        # Recently deallocated domains: an id seen again is a later boot.
        self._gone: OrderedDict[DomainKey, None] = OrderedDict()
        self._remember_gone = remember_gone
        self._clocks: Dict[Optional[str], _NodeClock] = {}
        # The last record _domain took (domain, node, serial, time, carrier)
        # and what it gave (the key and the domain): another record of the
        # same event, just after it, gets the same (see _domain).
        self._last: Optional[Tuple[Any, ...]] = None
        self.on_finish = on_finish  # told of each domain as it is deallocated

    # -- live domains, in memory or on disk ----------------------------------------

    def _keep(self, key: DomainKey, info: DomainInfo) -> None:
        """Take a domain as live (the most recently used)."""
        self._taken += 1
        info.seq = self._taken
        self._hold(key, info)

    def _hold(self, key: DomainKey, info: DomainInfo) -> None:
        live = self.live
        live[key] = info
        if len(live) > self.live_in_memory:
            self._spill(len(live) - self.live_in_memory + self._spill_batch - 1)

    def _spill(self, count: int) -> None:
        """Move the ``count`` least recently used live domains to disk."""
        live = self.live
        moved: List[Tuple[DomainKey, DomainInfo]] = [
            live.popitem(last=False) for _ in range(min(count, len(live) - 1))]
        self._spilled.put(moved)
        alive, largest = self._spilled_alive, self._spilled_max
        for key, info in moved:
            alive[key] = info  # (gone with the last reference elsewhere, if any)
            where = (key[0], key[1])
            number = info.number
            if number > largest.get(where, -1):
                largest[where] = number
        moved.clear()

    def _maybe_spilled(self, key: DomainKey) -> bool:
        """Can the domain of ``key`` be on disk (else it is not)?"""
        if not len(self._spilled):
            return False
        largest = self._spilled_max.get((key[0], key[1]))
        if largest is None:
            return False
        try:
            return int(key[2], 16) <= largest
        except (TypeError, ValueError):
            return True

    def _find(self, key: DomainKey) -> Optional[DomainInfo]:
        """The live domain of ``key``, brought back to memory as the most
        recently used (None: not live)."""
        live = self.live
        info = live.get(key)
        if info is not None:
            live.move_to_end(key)
            return info
        if not self._maybe_spilled(key):
            return None
        info = self._spilled_alive.pop(key, None)
        if info is not None:
            self._spilled.discard(key)
        else:
            info = self._spilled.take(key)
            if info is None:
                return None
        self._hold(key, info)
        return info

    def _is_live(self, key: DomainKey) -> bool:
        if key in self.live:
            return True
        return self._maybe_spilled(key) and (key in self._spilled_alive or key in self._spilled)

    def _spilled_copy(self, info: DomainInfo) -> DomainInfo:
        """The domain read back from disk, or the object still in use for it."""
        key = info.key
        alive = self._spilled_alive.get(key)
        if alive is not None:
            return alive
        self._spilled_alive[key] = info
        return info

    def live_domains(self) -> Iterator[DomainInfo]:
        """The live domains, in memory or on disk, by node, boot and age."""
        memory = sorted(self.live.values(), key=DomainInfo.live_order)
        if not len(self._spilled):
            return iter(memory)
        spilled = (self._spilled_copy(info) for info in self._spilled.ordered())
        return merged(iter(memory), spilled, key=DomainInfo.live_order)

    # -- feeding ---------------------------------------------------------------

    def observe(self, event: Event, denials: Iterable["Attachable"]) -> None:
        """Account one event's Landlock records; attach domains to its denials
        (which are the event's access records, in order)."""
        pending = iter(denials)
        denied: List[DomainInfo] = []
        for record in event.records:
            if record.kind == ACCESS:
                info = self._domain(record)
                denied.append(info)
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
        if denied:
            _count_executable(event, denied)

    @staticmethod
    def _new_boot(clock: _NodeClock) -> None:
        clock.boot += 1
        clock.max_id = clock.max_id_time = None

    def _domain(self, record: Record) -> DomainInfo:
        """The domain of a Landlock record, on the record's node and boot
        (a new boot when the record starts one, see :func:`starts_boot`)."""
        domain = record.domain
        assert domain is not None  # read_records gives every Landlock record one
        node = record.node
        serial, stamp = record.serial, record.time
        last = self._last
        if (last is not None and last[0] == domain and last[1] == node and last[2] == serial
                and last[3] == stamp and last[4] == record.carrier):
            # The record just before named the same domain at the same serial
            # and time (an event's access and allocated records): everything
            # below would change nothing, as long as its domain is still the
            # most recently used live one (nothing was deallocated, spilled
            # or taken since).
            known: DomainInfo = last[6]
            live = self.live
            if live.get(last[5]) is known and next(reversed(live)) == last[5]:
                return known
        domain_id = domain.lower()
        number = int(domain_id, 16)
        clock = self._clocks.get(node)
        if clock is None:
            clock = self._clocks[node] = _NodeClock()
        if clock.first_serial is None and clock.first_time is None:
            clock.first_serial, clock.first_time = serial, stamp
        if clock.first_id is None:
            clock.first_id = number
        # A live id is this boot's: only the serials can tell a reboot then
        # (asked only when the id would tell one: a live domain may be on disk).
        # The first two lines are what starts_boot needs to say yes (the usual
        # record is spared the calls).
        last_serial, max_id = clock.serial, clock.max_id
        if (((serial is not None and last_serial is not None
              and serial + BOOT_SERIAL_FALL < last_serial)
             or (max_id is not None and number + BOOT_ID_JUMP < max_id))
                and starts_boot(serial, stamp, number, clock.serial, clock.time,
                                clock.max_id, clock.max_id_time)
                and (not self._is_live((node, clock.boot, domain_id))
                     or starts_boot(serial, stamp, number, clock.serial, clock.time,
                                    None, clock.max_id_time))):
            self._new_boot(clock)
        if serial is not None:
            clock.serial = serial
        if stamp is not None:
            clock.time = stamp
        if clock.max_id is None or number > clock.max_id:
            clock.max_id, clock.max_id_time = number, stamp
        key = (node, clock.boot, domain_id)
        live = self.live
        info = live.get(key)
        if info is not None:  # (what _find does first)
            live.move_to_end(key)
        else:
            info = self._find(key)
        if info is None and key in self._gone:
            # An id is never reused within a boot: this is a later boot.
            self._new_boot(clock)
            clock.max_id, clock.max_id_time = number, stamp
            key = (node, clock.boot, domain_id)
        if info is None:
            info = DomainInfo(domain_id, node, clock.boot)
            self._keep(key, info)
        carrier = record.carrier
        if carrier not in info.carriers:
            info.carriers = _carriers(info.carriers | {carrier})
        if serial is not None:
            if info.first_serial is None:
                info.first_serial = serial
            info.last_serial = serial
        self._last = (domain, node, serial, stamp, carrier, key, info)
        return info

    def _domain_record(self, record: Record) -> None:
        if not record.interpreted:
            # The usual deallocated record, read as record.fields would read it.
            m = _DEALLOCATED_RE.fullmatch(record.body)
            if m is not None:
                self._deallocated(self._domain(record), record, int(m.group(1)))
                return
        fields = record.fields
        status = fields.get("status", "")
        if status != DEALLOCATED and status != ALLOCATED:  # (as written, the usual case)
            status = decode_text(status) or ""
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
            value = fields.get(name)
            if value is not None:
                creator[name] = _creator_name(value, interpreted)
        info.creator = creator
        mode = fields.get("mode")
        if mode is not None:
            # Released ausearch misreads mode=enforcing as a file mode.
            info.mode = ("enforcing" if mode == "000,000"
                         else _shared(decode_text(mode), _SHARED_MODES))
        creation = fields.get("creation")
        if creation is not None:  # patch v3: creation=SECONDS.MILLIS
            try:
                info.creation_time = float(decode_text(creation) or "")
            except ValueError:
                pass
        info.status = ALLOCATED
        info.allocated_time = record.time

    def _deallocated(self, info: DomainInfo, record: Record, denials: Optional[int]) -> None:
        self._last = None
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
        if info is None and self._maybe_spilled(key):
            info = self._spilled_alive.get(key)
            if info is None:
                info = self._spilled.get(key)
                if info is not None:
                    info = self._spilled_copy(info)
        if info is None and self.finished is not None:
            info = self.finished.get(key)
        return info

    def __len__(self) -> int:
        return (len(self.live) + len(self._spilled)
                + (len(self.finished) if self.finished is not None else 0))

    def ordered(self) -> Iterator[DomainInfo]:
        """Domains by node, boot and age (ids increase with age within a boot)."""
        live = self.live_domains()
        if self.finished is None:
            return live
        return merged(live, self.finished.ordered(), key=DomainInfo.order)

    def close(self) -> None:
        """Remove the spill files (live domains moved to disk, finished domains)."""
        self._spilled.close()
        self._spilled_max.clear()
        self._spilled_alive.clear()
        if self.finished is not None:
            self.finished.close()

    # -- parts read elsewhere (lldecode.analysis.tally) --------------------------------------

    def clock_spans(self) -> Dict[Optional[str], ClockSpan]:
        """Per node: how its records start and end (see :class:`ClockSpan`)."""
        return {node: ClockSpan(c.first_serial, c.first_time, c.first_id, c.serial, c.time,
                                c.max_id, c.boot) for node, c in self._clocks.items()}

    def absorb(self, info: DomainInfo) -> None:
        """Take a domain from a later part of the input (boot already mapped)."""
        self._last = None
        key = info.key
        known = self._find(key)
        if known is not None:
            del self.live[key]
            known.absorb(info)
            info = known
        if info.status == DEALLOCATED and self.finished is not None:
            self.finished.add(key, info)
        else:
            self._keep(key, info)

