"""Bounded memory for reports that grow with the input: spill to disk.

A fleet's logs can name millions of sandbox domains, and a report by path
millions of paths.  These stores keep a bounded number of entries in memory
and move the rest to a private temporary SQLite database (deleted when
closed), so that memory stays bounded whatever the input size:

* :class:`GroupCounts`: count, first and last time per group key;
* :class:`FinishedStore`: finished records (deallocated domains), looked up
  by key and read back in a given order;
* :class:`OverflowStore`: entries their owner moved out of memory (live
  domains used least recently), taken back by key when needed again;
* :class:`KeyCounts`: a count per key (selected denials per domain).

Keys and records are encoded with :mod:`marshal`, which holds only plain
values (numbers, text, bytes, tuples, lists, dicts) and never runs code.
Marshal's bytes are not canonical (interned strings differ), so lookups go
through :func:`_identity`, the ``repr`` of a key, which is only compared.
"""

from __future__ import annotations

import heapq
import marshal
import sqlite3
from typing import (
    Any,
    BinaryIO,
    Callable,
    Dict,
    Generic,
    Iterable,
    Iterator,
    List,
    Optional,
    Tuple,
    TypeVar,
    Union,
)

# A plain value (number, text, bytes, None, or a tuple, list or dict of
# plain values): what marshal stores.  Keys, extras and encoded entries are
# the owner's plain values, of the owner's types; what the database gives
# back is untyped.
Plain = Any
# A group's extra values (see GroupCounts).
Extra = Tuple[Plain, ...]
# A group as GroupCounts gives it: (key, count, first time, last time, extra).
GroupRow = Tuple[Plain, int, Optional[float], Optional[float], Optional[Extra]]
# A sort key of text and non-negative integers (see _sortable).
SortKey = Tuple[Union[str, int], ...]

_E = TypeVar("_E")  # an entry of a FinishedStore
_T = TypeVar("_T")

# Groups kept in memory before they spill to the database.
GROUPS_IN_MEMORY = 10000
# Finished entries kept in memory before they spill (entries are larger).
ENTRIES_IN_MEMORY = 4000
# Items per marshalled batch: few loads (one per batch), little memory.
BATCH_SIZE = 1024
# Integers of sort keys are written in this many bytes (big-endian, so that
# they sort as bytes): room for any id (domain ids are 64-bit) or count.
_SORTABLE_INT_BYTES = 16


def _database() -> sqlite3.Connection:
    """A private temporary SQLite database, tuned for bulk appends."""
    db = sqlite3.connect("")  # a private temporary database, deleted on close
    db.execute("PRAGMA cache_size = -4000")  # at most 4 MB of pages in memory
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    return db


def write_framed(value: Plain, file: BinaryIO) -> None:
    """Write one plain value to ``file`` as its marshalled length and bytes
    (marshal.load from a file reads it in small pieces: :func:`read_framed`
    reads each value at once)."""
    data = marshal.dumps(value)
    file.write(len(data).to_bytes(8, "little") + data)


def read_framed(file: BinaryIO) -> Iterator[Plain]:
    """The values :func:`write_framed` wrote, from the file's position on."""
    while True:
        size = file.read(8)
        if not size:
            return
        yield marshal.loads(file.read(int.from_bytes(size, "little")))


def dump_batches(items: Iterable[Plain], file: BinaryIO, size: int = BATCH_SIZE) -> None:
    """Write ``items`` (plain values) to ``file`` in marshalled lists of
    ``size``: read back with :func:`load_batches`, one load per batch."""
    batch: List[Plain] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            write_framed(batch, file)
            batch = []
    if batch:
        write_framed(batch, file)


def load_batches(file: BinaryIO) -> Iterator[Plain]:
    """The items :func:`dump_batches` wrote, from the file's position on."""
    for batch in read_framed(file):
        yield from batch


def _max(a: Plain, b: Plain) -> Plain:
    """The larger of two values, None ignored."""
    return b if a is None else a if b is None else max(a, b)


def _min(a: Plain, b: Plain) -> Plain:
    """The smaller of two values, None ignored."""
    return b if a is None else a if b is None else min(a, b)


def _sum(a: Plain, b: Plain) -> Plain:
    """The sum of two values, None ignored."""
    return b if a is None else a if b is None else a + b


# How two extra values of a group combine, by the name of the SQL aggregate
# that combines them in the database.
_COMBINE: Dict[str, Callable[[Plain, Plain], Plain]] = {"max": _max, "min": _min,
                                                        "sum": _sum}


class GroupCounts:
    """key -> (count, first time, last time, extra), most counted first.

    ``extra`` is a tuple of plain values the owner attaches to a group; two
    extras of the same group combine value by value with the aggregate
    named in ``combine`` ("max", "min" or "sum", None values ignored), in memory as
    in SQL.
    """

    def __init__(self, in_memory: int = GROUPS_IN_MEMORY, combine: Tuple[str, ...] = ()):
        self.in_memory = in_memory
        self.combine = combine
        self._combiners = [_COMBINE[name] for name in combine]
        self._summed = [i for i, name in enumerate(combine) if name == "sum"]
        # key -> [count, first time, last time, extra], changed in place
        self.groups: Dict[Plain, List[Any]] = {}
        self._pending: List[GroupRow] = []   # groups counted elsewhere, not merged yet
        self._db: Optional[sqlite3.Connection] = None
        self.spilled = 0

    def add(self, key: Plain, stamp: Optional[float], extra: Optional[Extra] = None) -> None:
        """Count one more of ``key``, seen at ``stamp``."""
        self.merge(key, 1, stamp, stamp, extra)

    def merge(self, key: Plain, n: int, first: Optional[float], last: Optional[float],
              extra: Optional[Extra] = None) -> None:
        """Add to a group (or create it): ``n`` more, seen from ``first`` to ``last``."""
        group = self.groups.get(key)
        if group is None:
            if len(self.groups) >= self.in_memory:
                self._spill()
            self.groups[key] = [n, first, last, extra]
            return
        group[0] += n
        if first is not None and (group[1] is None or first < group[1]):
            group[1] = first
        if last is not None and (group[2] is None or last > group[2]):
            group[2] = last
        if extra is not None:
            old = group[3]
            if old is None:
                group[3] = extra
            elif extra != old or any(extra[i] is not None for i in self._summed):
                # (an extra combined with itself is itself, unless it adds to a sum)
                group[3] = tuple(
                    combine(a, b) for combine, a, b in zip(self._combiners, old, extra))

    def extend(self, groups: Iterable[GroupRow]) -> None:
        """Add groups counted elsewhere, (key, n, first, last, extra) each:
        appended as they are and merged when read, which costs no lookup."""
        for group in groups:
            self._pending.append(group)
            if len(self._pending) >= self.in_memory:
                self._spill()

    def export(self, path: str) -> None:
        """Write every group, unmerged, to a new database file at ``path``
        (for :meth:`import_file` in another process)."""
        db = self._spill()
        db.execute("ATTACH DATABASE ? AS export", (path,))
        db.execute("CREATE TABLE export.g AS SELECT * FROM main.g")
        db.commit()
        db.execute("DETACH DATABASE export")

    def import_file(self, path: str) -> None:
        """Add the groups :meth:`export` wrote (copied by SQLite, row by row
        in C: no Python object per group)."""
        db = self._spill()
        db.execute("ATTACH DATABASE ? AS part", (path,))
        db.execute("INSERT INTO main.g SELECT * FROM part.g")
        db.commit()
        db.execute("DETACH DATABASE part")

    def raw_file_rows(self, path: str) -> Iterator[GroupRow]:
        """The groups :meth:`export` wrote, as (key, n, first, last, extra)."""
        db = sqlite3.connect(path)
        try:
            for row in db.execute("SELECT * FROM g"):
                yield self._row(row[1:])
        finally:
            db.close()

    def _settle(self) -> None:
        """Before reading: small pending groups merge in memory, else spill."""
        if self._db is None and len(self.groups) + len(self._pending) <= self.in_memory:
            pending, self._pending = self._pending, []
            for key, n, first, last, extra in pending:
                self.merge(key, n, first, last, extra)
        elif self._pending or self._db is not None:
            self._spill()

    def _spill(self) -> sqlite3.Connection:
        """Append the groups in memory to the database (merged when read:
        appending stays fast however large the table grows); the database."""
        width = len(self.combine)
        db = self._db
        if db is None:
            db = self._db = _database()
            extras = "".join(f", x{i}" for i in range(width))
            db.execute(f"CREATE TABLE g (id BLOB, k BLOB, n INTEGER, first REAL, "
                       f"last REAL{extras})")
        rows: List[GroupRow] = [(k, n, first, last, extra)
                                for k, (n, first, last, extra) in self.groups.items()]
        rows.extend(self._pending)
        nothing = (None,) * width
        db.executemany(
            f"INSERT INTO g VALUES (?, ?, ?, ?, ?{', ?' * width})",
            ((_identity(k), marshal.dumps(k), n, first, last) + (extra or nothing)
             for k, n, first, last, extra in rows))
        self.spilled += len(rows)
        self.groups.clear()
        self._pending = []
        return db

    def _merged(self) -> str:
        """The query merging the appended rows of each group."""
        extras = "".join(f", {name}(x{i})" for i, name in enumerate(self.combine))
        return (f"SELECT min(k), sum(n) AS total, min(first) AS first, max(last){extras} "
                "FROM g GROUP BY id")

    def _row(self, row: Tuple[Plain, ...]) -> GroupRow:
        """A group of a database row (key, count, first, last, extra values...)."""
        extra = row[4:]
        return (marshal.loads(row[0]), row[1], row[2], row[3],
                extra if any(v is not None for v in extra) else None)

    def ordered(self) -> Iterator[GroupRow]:
        """(key, count, first, last, extra) of the groups with a count, most
        counted first, then oldest first."""
        self._settle()
        if self._db is None:
            items = sorted(((k, g) for k, g in self.groups.items() if g[0]),
                           key=lambda kv: (-kv[1][0], kv[1][1] or 0))
            for key, (n, first, last, extra) in items:
                yield key, n, first, last, extra
            return
        db = self._spill()
        query = (f"SELECT * FROM ({self._merged()}) WHERE total > 0 "
                 "ORDER BY total DESC, coalesce(first, 0)")
        for row in db.execute(query):
            yield self._row(row)

    def everything(self) -> Iterator[GroupRow]:
        """Every group, also those with a zero count (to merge elsewhere)."""
        self._settle()
        if self._db is not None:
            for row in self._db.execute(self._merged()):
                yield self._row(row)
            return
        for key, (n, first, last, extra) in self.groups.items():
            yield key, n, first, last, extra

    def close(self) -> None:
        """Delete the database, if the groups spilled."""
        if self._db is not None:
            self._db.close()
            self._db = None


class FinishedStore(Generic[_E]):
    """Finished entries, by key, read back in order of a sort key.

    ``encode`` turns an entry into plain values (for marshal) and ``decode``
    back; ``order`` gives an entry's sort key (a tuple of str/int).
    """

    def __init__(self, encode: Callable[[_E], Plain], decode: Callable[[Plain], _E],
                 order: Callable[[_E], SortKey], in_memory: int = ENTRIES_IN_MEMORY):
        self.encode = encode
        self.decode = decode
        self.order = order
        self.in_memory = in_memory
        self.entries: Dict[Plain, _E] = {}
        self._db: Optional[sqlite3.Connection] = None

    def add(self, key: Plain, entry: _E) -> None:
        """Keep ``entry`` under ``key`` (replacing an entry of the same key)."""
        self.entries[key] = entry
        if len(self.entries) > self.in_memory:
            self._spill()

    def _spill(self) -> None:
        """Move the entries in memory to the database."""
        if self._db is None:
            self._db = _database()
            self._db.execute("CREATE TABLE f (id BLOB PRIMARY KEY, o BLOB, v BLOB)")
            self._db.execute("CREATE INDEX f_order ON f (o)")
        self._db.executemany(
            "INSERT OR REPLACE INTO f VALUES (?, ?, ?)",
            ((_identity(k), _sortable(self.order(e)), marshal.dumps(self.encode(e)))
             for k, e in self.entries.items()))
        self.entries.clear()

    def get(self, key: Plain) -> Optional[_E]:
        """The entry of ``key``, or None."""
        entry = self.entries.get(key)
        if entry is not None or self._db is None:
            return entry
        row = self._db.execute("SELECT v FROM f WHERE id = ?", (_identity(key),)).fetchone()
        return self.decode(marshal.loads(row[0])) if row else None

    def __len__(self) -> int:
        """The number of entries, in memory and spilled."""
        spilled = self._db.execute("SELECT count(*) FROM f").fetchone()[0] if self._db else 0
        return len(self.entries) + spilled

    def ordered(self) -> Iterator[_E]:
        """Every entry, in the order of their sort keys."""
        memory = sorted(self.entries.values(), key=lambda e: _sortable(self.order(e)))
        if self._db is None:
            yield from memory
            return
        stored = (self.decode(marshal.loads(v))
                  for (v,) in self._db.execute("SELECT v FROM f ORDER BY o"))
        yield from heapq.merge(memory, stored, key=lambda e: _sortable(self.order(e)))

    def close(self) -> None:
        """Delete the database, if the entries spilled."""
        if self._db is not None:
            self._db.close()
            self._db = None


class KeyCounts:
    """key -> count, as a Counter gives them (:meth:`get`, ``[key]``,
    :meth:`items`, :meth:`values`...), past ``in_memory`` keys moved to a
    private database, where the counts of a key add up when read."""

    def __init__(self, in_memory: Optional[int] = None):
        self.in_memory = GROUPS_IN_MEMORY if in_memory is None else in_memory
        self.counts: Dict[Plain, int] = {}
        self._db: Optional[sqlite3.Connection] = None

    def add(self, key: Plain, n: int = 1) -> None:
        """Count ``n`` more of ``key``."""
        counts = self.counts
        old = counts.get(key)
        if old is not None:
            counts[key] = old + n
            return
        if len(counts) >= self.in_memory:
            self._spill()
        counts[key] = n

    def _spill(self) -> sqlite3.Connection:
        """Append the counts in memory to the database (added up when read)."""
        db = self._db
        if db is None:
            db = self._db = _database()
            db.execute("CREATE TABLE c (id BLOB, k BLOB, n INTEGER)")
            db.execute("CREATE INDEX c_id ON c (id)")
        db.executemany("INSERT INTO c VALUES (?, ?, ?)",
                       ((_identity(k), marshal.dumps(k), n) for k, n in self.counts.items()))
        self.counts.clear()
        return db

    def get(self, key: Plain, default: Optional[int] = None) -> Optional[int]:
        """The count of ``key``, or ``default`` when it was never counted."""
        n = self.counts.get(key)
        if self._db is not None:
            (stored,) = self._db.execute("SELECT sum(n) FROM c WHERE id = ?",
                                         (_identity(key),)).fetchone()
            if stored is not None:
                n = stored if n is None else n + stored
        return default if n is None else n

    def __getitem__(self, key: Plain) -> int:
        """The count of ``key`` (0 when never counted, as a Counter says)."""
        n = self.get(key)
        return 0 if n is None else n

    def __contains__(self, key: Plain) -> bool:
        return self.get(key) is not None

    def items(self) -> Iterator[Tuple[Plain, int]]:
        """(key, count) of every key counted."""
        if self._db is None:
            yield from list(self.counts.items())
            return
        db = self._spill()
        for k, n in db.execute("SELECT min(k), sum(n) FROM c GROUP BY id"):
            yield marshal.loads(k), n

    def keys(self) -> Iterator[Plain]:
        return (k for k, _ in self.items())

    __iter__ = keys

    def values(self) -> Iterator[int]:
        return (n for _, n in self.items())

    def __len__(self) -> int:
        if self._db is None:
            return len(self.counts)
        db = self._spill()
        count: int = db.execute("SELECT count(DISTINCT id) FROM c").fetchone()[0]
        return count

    def close(self) -> None:
        """Delete the database, if the counts spilled."""
        if self._db is not None:
            self._db.close()
            self._db = None


class OverflowStore(Generic[_E]):
    """Entries their owner moved out of memory, by key, all on disk: taken
    back (:meth:`take`) when the owner needs one again, or read in order of
    a sort key.

    The owner keeps its entries in memory and moves the ones it needs least
    here in batches (:meth:`put`); a key is here at most once (the owner
    takes an entry back before it puts it again).  ``encode``, ``decode``
    and ``order`` are as for :class:`FinishedStore`.
    """

    def __init__(self, encode: Callable[[_E], Plain], decode: Callable[[Plain], _E],
                 order: Callable[[_E], SortKey]):
        self.encode = encode
        self.decode = decode
        self.order = order
        self._count = 0
        self._db: Optional[sqlite3.Connection] = None

    def put(self, items: Iterable[Tuple[Plain, _E]]) -> None:
        """Store (key, entry) pairs, none of whose keys is stored already."""
        db = self._db
        if db is None:
            db = self._db = _database()
            # Without rowid: the key's index is the table (one tree less to
            # write).  No index on the order: entries are written far more
            # often than read in order (once, sorted then).
            db.execute("CREATE TABLE o (id BLOB PRIMARY KEY, o BLOB, v BLOB) WITHOUT ROWID")
        before = db.total_changes
        db.executemany(
            "INSERT INTO o VALUES (?, ?, ?)",
            ((_identity(k), _sortable(self.order(e)), marshal.dumps(self.encode(e)))
             for k, e in items))
        self._count += db.total_changes - before

    def get(self, key: Plain) -> Optional[_E]:
        """The entry of ``key`` (it stays stored), or None."""
        if self._db is None:
            return None
        row = self._db.execute("SELECT v FROM o WHERE id = ?", (_identity(key),)).fetchone()
        return self.decode(marshal.loads(row[0])) if row else None

    def __contains__(self, key: Plain) -> bool:
        if self._db is None:
            return False
        return self._db.execute("SELECT 1 FROM o WHERE id = ?",
                                (_identity(key),)).fetchone() is not None

    def take(self, key: Plain) -> Optional[_E]:
        """Remove the entry of ``key`` and return it (None: not stored)."""
        entry = self.get(key)
        if entry is not None:
            self.discard(key)
        return entry

    def discard(self, key: Plain) -> None:
        """Remove the entry of ``key``, if stored."""
        if self._db is not None:
            self._count -= self._db.execute("DELETE FROM o WHERE id = ?",
                                            (_identity(key),)).rowcount

    def __len__(self) -> int:
        return self._count

    def ordered(self) -> Iterator[_E]:
        """Every entry, in the order of their sort keys."""
        if self._db is None:
            return
        for (value,) in self._db.execute("SELECT v FROM o ORDER BY o"):
            yield self.decode(marshal.loads(value))

    def close(self) -> None:
        """Delete the database, if anything was stored."""
        if self._db is not None:
            self._db.close()
            self._db = None
            self._count = 0


def _identity(key: Plain) -> bytes:
    """A canonical byte string for a key of plain values (compared, never read)."""
    return repr(key).encode("utf-8", "surrogatepass")


def _sortable(key: SortKey) -> bytes:
    """A byte string that sorts like ``key`` (text and non-negative ints)."""
    parts = []
    for value in key:
        if isinstance(value, int):
            parts.append(b"\x01" + value.to_bytes(_SORTABLE_INT_BYTES, "big"))
        else:
            parts.append(b"\x02" + str(value).encode("utf-8", "surrogatepass") + b"\x00")
    return b"".join(parts)


def merged(*iterables: Iterator[_T], key: Callable[[_T], SortKey]) -> Iterator[_T]:
    """Merge iterables each sorted by ``key``."""
    return heapq.merge(*iterables, key=lambda e: _sortable(key(e)))
