"""Bounded memory for reports that grow with the input: spill to disk.

A fleet's logs can name millions of sandbox domains, and a report by path
millions of paths.  These stores keep a bounded number of entries in memory
and move the rest to a private temporary SQLite database (deleted when
closed), so that memory stays bounded whatever the input size:

* :class:`GroupCounts`: count, first and last time per group key;
* :class:`FinishedStore`: finished records (deallocated domains), looked up
  by key and read back in a given order.

Keys and records are encoded with :mod:`marshal`, which holds only plain
values (numbers, text, bytes, tuples, lists, dicts) and never runs code.
Marshal's bytes are not canonical (interned strings differ), so lookups go
through :func:`_identity`, the ``repr`` of a key, which is only compared.
"""

from __future__ import annotations

import heapq
import marshal
import sqlite3
from typing import Any, BinaryIO, Callable, Dict, Iterable, Iterator, List, Optional, Tuple


def _database() -> sqlite3.Connection:
    db = sqlite3.connect("")  # a private temporary database, deleted on close
    db.execute("PRAGMA cache_size = -4000")  # at most 4 MB of pages in memory
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    return db


def dump_batches(items: Iterable[Any], file: BinaryIO, size: int = 1024) -> None:
    """Write ``items`` (plain values) to ``file`` in marshalled lists of
    ``size``: read back with :func:`load_batches`, one load per batch."""
    batch: List[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            marshal.dump(batch, file)
            batch = []
    if batch:
        marshal.dump(batch, file)


def load_batches(file: BinaryIO) -> Iterator[Any]:
    """The items :func:`dump_batches` wrote, from the file's position on."""
    while True:
        try:
            yield from marshal.load(file)
        except EOFError:
            return


_COMBINE = {
    "max": lambda a, b: b if a is None else a if b is None else max(a, b),
    "sum": lambda a, b: b if a is None else a if b is None else a + b,
}


class GroupCounts:
    """key -> (count, first time, last time, extra), most counted first.

    ``extra`` is a tuple of plain values the owner attaches to a group; two
    extras of the same group combine value by value with the aggregate
    named in ``combine`` ("max" or "sum", None values ignored), in memory as
    in SQL.
    """

    def __init__(self, in_memory: int = 10000, combine: Tuple[str, ...] = ()):
        self.in_memory = in_memory
        self.combine = combine
        self._combiners = [_COMBINE[name] for name in combine]
        self._summed = [i for i, name in enumerate(combine) if name == "sum"]
        self.groups: Dict[Any, List] = {}
        self._pending: List[tuple] = []   # groups counted elsewhere, not merged yet
        self._db: Optional[sqlite3.Connection] = None
        self.spilled = 0

    def add(self, key: Any, stamp: Optional[float], extra: Any = None) -> None:
        self.merge(key, 1, stamp, stamp, extra)

    def merge(self, key: Any, n: int, first: Optional[float], last: Optional[float],
              extra: Any = None) -> None:
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

    def extend(self, groups: Iterable[tuple]) -> None:
        """Add groups counted elsewhere, (key, n, first, last, extra) each:
        appended as they are and merged when read, which costs no lookup."""
        for group in groups:
            self._pending.append(group)
            if len(self._pending) >= self.in_memory:
                self._spill()

    def export(self, path: str) -> None:
        """Write every group, unmerged, to a new database file at ``path``
        (for :meth:`import_file` in another process)."""
        self._spill()
        self._db.execute("ATTACH DATABASE ? AS export", (path,))
        self._db.execute("CREATE TABLE export.g AS SELECT * FROM main.g")
        self._db.commit()
        self._db.execute("DETACH DATABASE export")

    def import_file(self, path: str) -> None:
        """Add the groups :meth:`export` wrote (copied by SQLite, row by row
        in C: no Python object per group)."""
        self._spill()
        self._db.execute("ATTACH DATABASE ? AS part", (path,))
        self._db.execute("INSERT INTO main.g SELECT * FROM part.g")
        self._db.commit()
        self._db.execute("DETACH DATABASE part")

    def raw_file_rows(self, path: str) -> Iterator[tuple]:
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

    def _spill(self) -> None:
        """Append the groups in memory to the database (merged when read:
        appending stays fast however large the table grows)."""
        width = len(self.combine)
        if self._db is None:
            self._db = _database()
            extras = "".join(f", x{i}" for i in range(width))
            self._db.execute(f"CREATE TABLE g (id BLOB, k BLOB, n INTEGER, first REAL, "
                             f"last REAL{extras})")
        rows = [(k, n, first, last, extra) for k, (n, first, last, extra) in self.groups.items()]
        rows.extend(self._pending)
        nothing = (None,) * width
        self._db.executemany(
            f"INSERT INTO g VALUES (?, ?, ?, ?, ?{', ?' * width})",
            ((_identity(k), marshal.dumps(k), n, first, last) + (extra or nothing)
             for k, n, first, last, extra in rows))
        self.spilled += len(rows)
        self.groups.clear()
        self._pending = []

    def _merged(self) -> str:
        extras = "".join(f", {name}(x{i})" for i, name in enumerate(self.combine))
        return (f"SELECT min(k), sum(n) AS total, min(first) AS first, max(last){extras} "
                "FROM g GROUP BY id")

    def _row(self, row: tuple) -> tuple:
        extra = row[4:]
        return (marshal.loads(row[0]), row[1], row[2], row[3],
                extra if any(v is not None for v in extra) else None)

    def ordered(self) -> Iterator[Tuple[Any, int, Optional[float], Optional[float], Any]]:
        """(key, count, first, last, extra) of the groups with a count, most
        counted first, then oldest first."""
        self._settle()
        if self._db is None:
            items = sorted(((k, g) for k, g in self.groups.items() if g[0]),
                           key=lambda kv: (-kv[1][0], kv[1][1] or 0))
            for key, (n, first, last, extra) in items:
                yield key, n, first, last, extra
            return
        self._spill()
        query = (f"SELECT * FROM ({self._merged()}) WHERE total > 0 "
                 "ORDER BY total DESC, coalesce(first, 0)")
        for row in self._db.execute(query):
            yield self._row(row)

    def everything(self) -> Iterator[Tuple[Any, int, Optional[float], Optional[float], Any]]:
        """Every group, also those with a zero count (to merge elsewhere)."""
        self._settle()
        if self._db is not None:
            for row in self._db.execute(self._merged()):
                yield self._row(row)
            return
        for key, (n, first, last, extra) in self.groups.items():
            yield key, n, first, last, extra

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class FinishedStore:
    """Finished entries, by key, read back in order of a sort key.

    ``encode`` turns an entry into plain values (for marshal) and ``decode``
    back; ``order`` gives an entry's sort key (a tuple of str/int).
    """

    def __init__(self, encode: Callable[[Any], Any], decode: Callable[[Any], Any],
                 order: Callable[[Any], Tuple], in_memory: int = 4000):
        self.encode = encode
        self.decode = decode
        self.order = order
        self.in_memory = in_memory
        self.entries: Dict[Any, Any] = {}
        self._db: Optional[sqlite3.Connection] = None

    def add(self, key: Any, entry: Any) -> None:
        self.entries[key] = entry
        if len(self.entries) > self.in_memory:
            self._spill()

    def _spill(self) -> None:
        if self._db is None:
            self._db = _database()
            self._db.execute("CREATE TABLE f (id BLOB PRIMARY KEY, o BLOB, v BLOB)")
            self._db.execute("CREATE INDEX f_order ON f (o)")
        self._db.executemany(
            "INSERT OR REPLACE INTO f VALUES (?, ?, ?)",
            ((_identity(k), _sortable(self.order(e)), marshal.dumps(self.encode(e)))
             for k, e in self.entries.items()))
        self.entries.clear()

    def get(self, key: Any) -> Any:
        entry = self.entries.get(key)
        if entry is not None or self._db is None:
            return entry
        row = self._db.execute("SELECT v FROM f WHERE id = ?", (_identity(key),)).fetchone()
        return self.decode(marshal.loads(row[0])) if row else None

    def __len__(self) -> int:
        spilled = self._db.execute("SELECT count(*) FROM f").fetchone()[0] if self._db else 0
        return len(self.entries) + spilled

    def ordered(self) -> Iterator[Any]:
        memory = sorted(self.entries.values(), key=lambda e: _sortable(self.order(e)))
        if self._db is None:
            yield from memory
            return
        stored = (self.decode(marshal.loads(v))
                  for (v,) in self._db.execute("SELECT v FROM f ORDER BY o"))
        yield from heapq.merge(memory, stored, key=lambda e: _sortable(self.order(e)))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _identity(key: Any) -> bytes:
    """A canonical byte string for a key of plain values (compared, never read)."""
    return repr(key).encode("utf-8", "surrogatepass")


def _sortable(key: Tuple) -> bytes:
    """A byte string that sorts like ``key`` (text and non-negative ints)."""
    parts = []
    for value in key:
        if isinstance(value, int):
            parts.append(b"\x01" + value.to_bytes(16, "big"))
        else:
            parts.append(b"\x02" + str(value).encode("utf-8", "surrogatepass") + b"\x00")
    return b"".join(parts)


def merged(*iterables: Iterator[Any], key: Callable[[Any], Tuple]) -> Iterator[Any]:
    """Merge iterables each sorted by ``key``."""
    return heapq.merge(*iterables, key=lambda e: _sortable(key(e)))
