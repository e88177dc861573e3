"""Events: the records of one audit event, reassembled from the stream.

An audit event is every record with the same ``msg=audit(TIME:SERIAL)`` on
the same node.  Records of different events interleave, plain log files have
no EOE record, and ``ausearch`` prints events whole between ``----`` lines
(records reversed).  :class:`EventGrouper` keeps the events that hold a
Landlock record open until they are complete:

* on their EOE record;
* on an ``ausearch`` separator;
* when the stream has moved on: a record more than ``timeout`` seconds later
  or ``serial_window`` serials away (like ausearch's end-of-event timeout);
* at the end of the input;
* on a live input (``netlink:``, a pipe, a followed file), when the input
  has been quiet for a moment (an idle notice, see lldecode.audit.live), so
  that the last event of a burst is shown at once, not when the next one
  comes.  With :attr:`EventGrouper.ticks` set, :meth:`EventGrouper.run`
  then yields :data:`IDLE_EVENT`, for the stages after it to show what they
  hold (explain's folded paragraphs).

journald's short output (``journalctl -o short``...) has no serial: there,
an event is the records that follow one another with the same time stamp
(journald shows the kernel's stamp): its Landlock records, then its SYSCALL,
CWD, PATH... up to its PROCTITLE (the kernel's last record of a syscall
event).  A deallocated domain's record is an event of its own.

Only events holding a Landlock record are kept.  The kernel writes an
event's Landlock records before its SYSCALL, PATH and PROCTITLE records, so
in kernel-ordered carriers any other record is dropped at once; ``ausearch
-i`` output, which reverses events, gets a small look-back window.  Memory
stays bounded however long the input is.  A record that arrives after its
event was flushed is counted as late; a late Landlock record still makes an
event of its own, so that no denial is lost.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

from lldecode.audit.records import Notice, Record
from lldecode.audit.syntax import DOMAIN, DOMAIN_DROP, OTHER

# An event's identity: (node, serial).
EventKey = Tuple[Optional[str], int]


class Event:
    """The records of one event, in the order they were read."""

    __slots__ = ("key", "records", "late")

    def __init__(self, key: Optional[EventKey], records: List[Record], late: bool = False):
        self.key = key
        self.records = records
        self.late = late

    @property
    def serial(self) -> Optional[int]:
        """The event's serial (None for journald short output, which has none)."""
        return self.key[1] if self.key else None

    @property
    def node(self) -> Optional[str]:
        """The node (host) that logged the event, when the log names it."""
        return self.key[0] if self.key else None

    @property
    def time(self) -> Optional[float]:
        """The time of the event's first record (seconds since the epoch)."""
        return self.records[0].time

    def first(self, joined_type: str) -> Optional[Record]:
        """The first record of a joined type (SYSCALL, PATH...), or None."""
        for record in self.records:
            if record.joined_type == joined_type:
                return record
        return None

    def all(self, joined_type: str) -> List[Record]:
        """Every record of a joined type (SYSCALL, PATH...), in order."""
        return [r for r in self.records if r.joined_type == joined_type]

    def __repr__(self) -> str:
        return f"Event({self.key}, {len(self.records)} records)"


# What EventGrouper.run yields after an idle notice completed the open
# events, when its ``ticks`` are asked for: an event without key or record.
IDLE_EVENT = Event(None, [])


class GroupingStats:
    """What the grouper saw: for gap analysis and the closing summary."""

    __slots__ = ("records", "events", "late_records", "serial_gaps", "suppressed",
                 "lost", "notices", "evicted", "duplicates", "first_serials", "last_serials")

    def __init__(self) -> None:
        self.records = 0          # records read
        self.events = 0           # Landlock events emitted
        self.late_records = 0     # non-Landlock records after their event was flushed
        self.serial_gaps = 0      # serials skipped inside one boot's stream
        self.suppressed = 0       # records printk said it suppressed
        self.lost = 0             # records the kernel said it lost
        self.notices: List[Notice] = []
        self.evicted = 0          # events flushed early because too many were open
        self.duplicates = 0       # second copies of records (journald keeps two)
        # Per node: the first serial read (when serial gaps are counted), and
        # the last one as the gap count keeps it (the highest of the stream
        # since its last step back beyond the window): the gap between two
        # parts of the input read apart is counted when they merge
        # (lldecode.analysis.tally).
        self.first_serials: Dict[Optional[str], int] = {}
        self.last_serials: Dict[Optional[str], int] = {}


# Notices (rate limiting, lost records) kept for the report: a damaged log
# can hold millions; the first thousand tell the story, the counts are exact.
KEEP_NOTICES = 1000

# Two copies of one record (same serial) carry the same audit stamp, written
# in milliseconds by one carrier and in microseconds by journald's fields:
# they agree within this many seconds.
SAME_SERIAL_SLACK = 0.002

# Copies remembered per Landlock record body (the latest ones): bounds the
# memory of a body repeated again and again (a loop denied at every turn).
COPIES_PER_BODY = 64

# The grouper's defaults.  An event is complete when the stream is this many
# seconds past its first record (ausearch's end-of-event timeout is 2 s)...
EVENT_TIMEOUT = 2.0
# ... or this many serials away (interleaved events are a few serials apart).
SERIAL_WINDOW = 1000
# Events of ``ausearch -i`` held back until their Landlock record (it prints
# each event reversed; the records of one event are a handful).
LOOKBACK = 64
# Events open at once before the oldest is flushed: bounds memory when a
# stream holds many events that never complete.
MAX_OPEN = 10000
# Flushed events and Landlock bodies remembered, to recognize late records
# and journald's second copies.
REMEMBER = 4096
# Records of an event without serial (journald short output) held at most:
# an event has a handful; a stream of same-stamp records without PROCTITLE
# must not grow one without bound.
MAX_UNNUMBERED_RECORDS = 256
# Serials of records not fed (EventGrouper.skip_serials) taken one by one
# when their run is not the usual one: a longer run is cut in two.
_ONE_BY_ONE = 16
# The joined types that end an event: PROCTITLE is the kernel's last record
# of a syscall event (EOE follows it on netlink only).
_LAST_RECORDS = frozenset({"PROCTITLE", "EOE"})

# Times and serials of the copies of one Landlock record read so far.
_Copies = List[Tuple[Optional[int], Optional[float]]]

# Where journald's second copies come from: its audit transport (journal,
# journal-json) and the kernel console it also reads (printk).
_COPIED_CARRIERS = frozenset({"journal", "journal-json", "printk"})


def _repeats(event: Event, record: Record) -> bool:
    """Does the event already hold this record (a second copy of it)?"""
    body = record.body
    for r in event.records:
        if r.body == body and (r.joined_type or r.type) == (record.joined_type or record.type):
            return True
    return False


def _stands_alone(record: Record) -> bool:
    """Is this Landlock record an event of its own (a domain's deallocation,
    logged when its last process is gone, outside any syscall)?"""
    kind = record.kind
    if kind is DOMAIN_DROP:
        return True
    return kind is DOMAIN and record.fields.get("status") == "deallocated"


class EventGrouper:
    """Reassemble a stream of records into the events that hold Landlock records."""

    def __init__(self, timeout: float = EVENT_TIMEOUT, serial_window: int = SERIAL_WINDOW,
                 lookback: int = LOOKBACK, max_open: int = MAX_OPEN, remember: int = REMEMBER,
                 keep_notices: int = KEEP_NOTICES, count_serial_gaps: bool = True) -> None:
        self.timeout = timeout
        self.serial_window = serial_window
        self.lookback = lookback
        self.max_open = max_open
        self.remember = remember
        self.keep_notices = keep_notices
        self.count_serial_gaps = count_serial_gaps
        self.open: "OrderedDict[EventKey, Event]" = OrderedDict()
        self.recent: "OrderedDict[EventKey, List[Record]]" = OrderedDict()
        self.flushed: "OrderedDict[EventKey, None]" = OrderedDict()
        self._seen: "OrderedDict[Tuple[str, str], _Copies]" = OrderedDict()
        self.stats = GroupingStats()
        self._clock_serial: Optional[int] = None
        self._clock_time: Optional[float] = None
        self._last_serial = self.stats.last_serials
        # The event without serial being read (journald short output).
        self._unnumbered: Optional[Event] = None
        # run() yields IDLE_EVENT after each idle notice (a live input went quiet).
        self.ticks = False

    # -- feeding -------------------------------------------------------------

    def feed(self, item: Union[Record, Notice]) -> List[Event]:
        """Take one record or notice; return the events it completes."""
        if type(item) is Notice:
            return self._notice(item)
        record = item
        stats = self.stats
        stats.records += 1
        serial = record.serial
        landlock = record.kind is not OTHER
        if serial is None:  # journald short output: records of one stamp in a row
            return self._feed_unnumbered(record, landlock)
        if landlock and record.carrier in _COPIED_CARRIERS and self._duplicate(record):
            return []
        node = record.node
        key = (node, serial)
        last = self._last_serial.get(node)
        if last is None or serial > last:
            if last is None:
                if self.count_serial_gaps:
                    stats.first_serials[node] = serial
            elif self.count_serial_gaps and serial <= last + self.serial_window:
                stats.serial_gaps += serial - last - 1
            self._last_serial[node] = serial
        elif last - serial > self.serial_window:
            self._last_serial[node] = serial
        done: List[Event] = []
        open_events = self.open
        event = open_events.get(key)
        if event is not None:
            if not landlock and _repeats(event, record):
                stats.duplicates += 1
                return done
            event.records.append(record)
            if record.joined_type == "EOE":
                del open_events[key]
                done.append(self._emit(event))
        elif landlock:
            held = self.recent.pop(key, None) if self.recent else None
            event = Event(key, held + [record] if held else [record], late=key in self.flushed)
            open_events[key] = event
            if len(open_events) > self.max_open:
                stats.evicted += 1
                done.append(self._emit(open_events.popitem(last=False)[1]))
        elif key in self.flushed:
            stats.late_records += 1
        elif record.carrier == "interpreted":
            # ausearch -i prints an event's records reversed: hold them until
            # its Landlock record (the last one) or the next separator.
            held = self.recent.get(key)
            if held is None:
                self.recent[key] = [record]
                if len(self.recent) > self.lookback:
                    self.recent.popitem(last=False)
            else:
                held.append(record)
        # else: kernel-ordered carriers write Landlock records before the
        # other records of their event, so this record is not ours.

        # The stream's clock; when it has not moved (another record of the
        # same event), nothing more can have gone stale.
        moved = serial != self._clock_serial
        self._clock_serial = serial
        stamp = record.time
        if stamp is not None and stamp != self._clock_time:
            self._clock_time = stamp
            moved = True
        if open_events and moved:
            self._flush_stale(done, serial)
        return done

    def skip_serials(self, node: Optional[str], serials: List[bytes]) -> None:
        """Account records that are not fed, of one node, by the digits of
        their serials, in log order (lldecode.audit.scan.Gaps: the plain
        records a scan passes over), as :meth:`feed` accounts them in the
        serial-gap count and the node's last serial.

        Such a record (no Landlock record, no event of it open, the stream
        not past the open events: see lldecode.analysis.pipeline._Wanted)
        changes nothing else that any report shows: :meth:`feed` would count
        it in ``stats.records``, and in ``stats.late_records`` when its event
        was flushed, and set the stream's clock, which the next record read
        sets again (a clock the open events are not stale at, as the scan
        asks).

        The usual run (serials of one width, never decreasing, at most
        ``serial_window`` from first to last) costs a few passes in C over
        it (no Python work per record); any other is cut in two, down to
        runs of a few records taken one by one."""
        n = len(serials)
        if n == 0:
            return
        if n > 1:
            first, top = serials[0], serials[-1]
            width = len(first)
            if (len(top) == width and first <= top
                    and len(set(map(len, serials))) == 1 and serials == sorted(serials)):
                low, high = int(first), int(top)
                if high - low <= self.serial_window:
                    self._skip_run(node, serials, low, high, width)
                    return
            if n > _ONE_BY_ONE:
                half = n // 2
                self.skip_serials(node, serials[:half])
                self.skip_serials(node, serials[half:])
                return
        for digits in serials:
            self._skip_one(node, int(digits))

    def _skip_run(self, node: Optional[str], serials: List[bytes], low: int, high: int,
                  width: int) -> None:
        """Account a run of serials of one width, never decreasing, from
        ``low`` to ``high`` (at most the window apart), as feed() would one
        by one: a step up of d serials leaves d - 1 missing."""
        last = self._last_serial.get(node)
        window = self.serial_window
        if last is None and self.count_serial_gaps:
            self.stats.first_serials[node] = int(serials[0])
        if last is None or low > last or last - low > window:
            # The first one moves the last serial (a step up, a first serial,
            # or a step back beyond the window: a new stream), then each
            # step up within the run: (high - low) serials, less the distinct
            # ones after the first.
            missing = high - low - (len(set(serials)) - 1)
            if last is not None and last < low <= last + window:
                missing += low - last - 1
        else:
            # The run starts at or below the last serial, within the window:
            # those up to it change nothing; the ones above it step up from it.
            if high <= last:
                return
            above = serials[bisect.bisect_right(serials, b"%0*d" % (width, last)):]
            missing = high - last - len(set(above))
        if self.count_serial_gaps:
            self.stats.serial_gaps += missing
        self._last_serial[node] = high

    def _skip_one(self, node: Optional[str], serial: int) -> None:
        """feed()'s accounting of one record's serial."""
        last = self._last_serial.get(node)
        if last is None or serial > last:
            if last is None:
                if self.count_serial_gaps:
                    self.stats.first_serials[node] = serial
            elif self.count_serial_gaps and serial <= last + self.serial_window:
                self.stats.serial_gaps += serial - last - 1
            self._last_serial[node] = serial
        elif last - serial > self.serial_window:
            self._last_serial[node] = serial

    def finish(self) -> List[Event]:
        """Flush every open event (end of input), and forget the held-back
        records that wait for one."""
        done = self.idle()
        self.recent.clear()
        return done

    def idle(self) -> List[Event]:
        """Complete the open events: a live input went quiet, so every
        record of them has come (``ausearch -i``'s held-back records, which
        wait for their Landlock record, are kept)."""
        done = [self._emit(event) for event in self.open.values()]
        self.open.clear()
        if self._unnumbered is not None:
            done.append(self._emit(self._unnumbered))
            self._unnumbered = None
        return done

    def run(self, items: Iterable[Union[Record, Notice]]) -> Iterator[Event]:
        """The events of a stream of records and notices, as they complete
        (and :data:`IDLE_EVENT` after an idle notice, with :attr:`ticks`)."""
        feed = self.feed
        if not self.ticks:  # (an idle notice is fed as any notice: see _notice)
            for item in items:
                done = feed(item)
                if done:
                    yield from done
            yield from self.finish()
            return
        for item in items:
            if type(item) is Notice and item.kind == Notice.IDLE:
                yield from self.idle()
                yield IDLE_EVENT
                continue
            done = feed(item)
            if done:
                yield from done
        yield from self.finish()

    # -- internals -----------------------------------------------------------

    def _notice(self, notice: Notice) -> List[Event]:
        """Count a notice (a separator completes every open event)."""
        if notice.kind == Notice.SEPARATOR:
            return self.finish()
        if notice.kind == Notice.IDLE:
            return self.idle()
        if notice.kind == Notice.SUPPRESSED:
            self.stats.suppressed += notice.count or 0
        elif notice.kind == Notice.LOST:
            self.stats.lost += notice.count or 0
        if len(self.stats.notices) < self.keep_notices:
            self.stats.notices.append(notice)
        return []

    def _feed_unnumbered(self, record: Record, landlock: bool) -> List[Event]:
        """Take a record without serial (journald short output).

        Its event is the records that follow one another with its time
        stamp: Landlock records first, then the process records up to
        PROCTITLE.  A Landlock record after process records, or another
        stamp, starts another event; a domain's deallocation is an event of
        its own; a process record with no Landlock record before it is not
        ours.
        """
        done: List[Event] = []
        current = self._unnumbered
        if current is not None and (record.time != current.records[0].time
                                    or (landlock and current.records[-1].kind is OTHER)
                                    or len(current.records) >= MAX_UNNUMBERED_RECORDS):
            done.append(self._emit(current))
            current = self._unnumbered = None
        if landlock:
            if self._duplicate(record):
                return done
            if _stands_alone(record):
                done.append(self._emit(Event(None, [record])))
            elif current is None:
                self._unnumbered = Event(None, [record])
            else:
                current.records.append(record)
        elif current is not None:
            if _repeats(current, record):
                self.stats.duplicates += 1
                return done
            current.records.append(record)
            if record.joined_type in _LAST_RECORDS:
                done.append(self._emit(current))
                self._unnumbered = None
        return done

    def _duplicate(self, record: Record) -> bool:
        """Is this Landlock record a second copy of one already read?

        journald stores the kernel's audit records twice when no auditd
        runs: once from the audit socket (in short output without a serial)
        and once from the kernel console.  Copies have the same kind and
        body, and either the same serial and time or, when one of them has
        no serial, times less than ``timeout`` apart.  Genuine repeats differ
        in serial, and a later boot's records in time.
        """
        signature = (record.kind, record.body)
        copies = self._seen.get(signature)
        if copies is None:
            self._seen[signature] = [(record.serial, record.time)]
            if len(self._seen) > self.remember:
                self._seen.popitem(last=False)
            return False
        for i, (serial, stamp) in enumerate(copies):
            if serial is not None and serial == record.serial:
                same = (stamp is None or record.time is None
                        or abs(stamp - record.time) < SAME_SERIAL_SLACK)
            elif (serial is None) != (record.serial is None):
                same = (stamp is None or record.time is None
                        or abs(stamp - record.time) <= self.timeout)
            else:
                same = False
            if same:
                del copies[i]
                self.stats.duplicates += 1
                return True
        copies.append((record.serial, record.time))
        if len(copies) > COPIES_PER_BODY:
            del copies[0]
        return False

    def _flush_stale(self, done: List[Event], clock_serial: int) -> None:
        """Flush the open events the stream has moved away from (oldest first),
        now that it is at serial ``clock_serial``."""
        open_events = self.open
        clock_time = self._clock_time
        window, timeout = self.serial_window, self.timeout
        while open_events:
            key = next(iter(open_events))
            event = open_events[key]
            stamp = event.records[0].time
            if (-window <= clock_serial - key[1] <= window
                    and (stamp is None or clock_time is None or clock_time - stamp <= timeout)):
                return
            del open_events[key]
            done.append(self._emit(event))

    def _emit(self, event: Event) -> Event:
        """Count an event going out and remember it was flushed."""
        self.stats.events += 1
        if event.key is not None:
            self.flushed[event.key] = None
            if len(self.flushed) > self.remember:
                self.flushed.popitem(last=False)
        return event
