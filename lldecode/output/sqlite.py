"""``lldecode export``: denials, domains and processes in a SQLite database,
for Datasette, sqlite-utils, DuckDB (``ATTACH 'x.db' (TYPE sqlite)``) or
plain ``sqlite3``.

Tables (docs/json.md gives every column):

* ``denials``: one row per denial, the columns of a denial record of schema
  v1 flattened (the object split into path, dev, ino, ...; the process's
  syscall, pid, uid, comm, exe...), with ``process_id`` and ``domain_id``
  pointing at the two other tables;
* ``denial_blockers``: one row per blocker of each denial (a denial may
  have several), to count or select by blocker with an index;
* ``domains``: one row per domain, as ``lldecode domains -f json``;
* ``processes``: one row per distinct denied process (host, pid, parent,
  ids, comm, exe, command line), with its first and last denial and count.

Values follow the JSON rule (lldecode.output.jsonable): text is UTF-8, a
byte that is not UTF-8 is U+FFFD in it and the exact bytes are in the
``<column>_hex`` column beside (null when the text is the bytes); control
characters are kept as they are (the database holds data, not terminal
text: escape them where you show them).  Lists are JSON text.  Ids are
numbers (``uid_name`` holds ``ausearch -i``'s name); every time is epoch
seconds (REAL) with an ISO 8601 ``<column>_iso`` beside.

The database is written to a temporary file beside the target and renamed
over it at the end: a failed export leaves no partial database.  Memory is
bounded: rows go to SQLite as they are read, and the process cache holds
at most :data:`PROCESS_CACHE` entries.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections import OrderedDict
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple

from lldecode.analysis.denials import Denial
from lldecode.output.jsonable import (
    OBJECT_KEYS,
    SCHEMA_VERSION,
    denial_dict,
    domain_record,
    dumps,
    iso_time,
)

# Distinct processes whose row id is remembered (the rest are looked up).
PROCESS_CACHE = 4096
# Rows inserted per executemany call.
BATCH = 1000

_OBJECT_COLUMNS: List[str] = []
for _key in OBJECT_KEYS:
    _OBJECT_COLUMNS.append(_key)
    if _key in ("path", "name", "ocomm"):
        _OBJECT_COLUMNS.append(_key + "_hex")

# (column, SQL type) of each table, in order.
DENIAL_COLUMNS: List[Tuple[str, str]] = [
    ("id", "INTEGER PRIMARY KEY"), ("time", "REAL"), ("time_iso", "TEXT"),
    ("serial", "INTEGER"), ("node", "TEXT"), ("domain", "TEXT"), ("domain_boot", "INTEGER"),
    ("domain_id", "INTEGER REFERENCES domains(id)"), ("blockers", "TEXT"),
    *[(c, "INTEGER" if c in ("ino", "src", "dest", "opid") else "TEXT") for c in _OBJECT_COLUMNS],
    ("object_other", "TEXT"), ("operation_index", "INTEGER"), ("operation_size", "INTEGER"),
    ("process_id", "INTEGER REFERENCES processes(id)"), ("arch", "TEXT"),
    ("syscall", "TEXT"), ("syscall_nr", "INTEGER"), ("success", "INTEGER"),
    ("exit", "INTEGER"), ("errno", "TEXT"), ("pid", "INTEGER"), ("uid", "INTEGER"),
    ("comm", "TEXT"), ("comm_hex", "TEXT"), ("exe", "TEXT"), ("exe_hex", "TEXT"),
    ("cwd", "TEXT"), ("cwd_hex", "TEXT"), ("paths", "TEXT"), ("file", "TEXT"),
    ("file_hex", "TEXT"), ("line", "INTEGER"), ("carrier", "TEXT"),
]

PROCESS_COLUMNS: List[Tuple[str, str]] = [
    ("id", "INTEGER PRIMARY KEY"), ("node", "TEXT"), ("pid", "INTEGER"), ("ppid", "INTEGER"),
    ("uid", "INTEGER"), ("uid_name", "TEXT"), ("auid", "INTEGER"), ("auid_name", "TEXT"),
    ("gid", "INTEGER"), ("gid_name", "TEXT"), ("euid", "INTEGER"), ("euid_name", "TEXT"),
    ("ses", "INTEGER"), ("comm", "TEXT"), ("comm_hex", "TEXT"), ("exe", "TEXT"),
    ("exe_hex", "TEXT"), ("exe_deleted", "INTEGER"), ("proctitle", "TEXT"),
    ("proctitle_hex", "TEXT"), ("argv", "TEXT"), ("first_time", "REAL"),
    ("first_time_iso", "TEXT"), ("last_time", "REAL"), ("last_time_iso", "TEXT"),
    ("denials", "INTEGER"), ("identity", "TEXT NOT NULL UNIQUE"),
]

DOMAIN_COLUMNS: List[Tuple[str, str]] = [
    ("id", "INTEGER PRIMARY KEY"), ("domain", "TEXT"), ("node", "TEXT"), ("boot", "INTEGER"),
    ("status", "TEXT"), ("mode", "TEXT"), ("creator_pid", "INTEGER"),
    ("creator_uid", "INTEGER"), ("creator_uid_name", "TEXT"), ("creator_exe", "TEXT"),
    ("creator_exe_hex", "TEXT"), ("creator_comm", "TEXT"), ("creator_comm_hex", "TEXT"),
    ("creation_time", "REAL"), ("creation_time_iso", "TEXT"), ("allocated_time", "REAL"),
    ("allocated_time_iso", "TEXT"), ("first_denial", "REAL"), ("first_denial_iso", "TEXT"),
    ("last_denial", "REAL"), ("last_denial_iso", "TEXT"), ("deallocated_time", "REAL"),
    ("deallocated_time_iso", "TEXT"), ("denials_logged", "INTEGER"),
    ("denials_reported", "INTEGER"), ("denials_selected", "INTEGER"), ("missing", "INTEGER"),
    ("duplicate_allocations", "INTEGER"), ("blockers", "TEXT"), ("gap_causes", "TEXT"),
]

INDEXES = [
    ("denials_time", "denials", "time"), ("denials_domain", "denials", "domain"),
    ("denials_domain_id", "denials", "domain_id"),
    ("denials_process_id", "denials", "process_id"), ("denials_path", "denials", "path"),
    ("denials_syscall", "denials", "syscall"), ("denials_pid", "denials", "pid"),
    ("denial_blockers_blocker", "denial_blockers", "blocker"),
    ("denial_blockers_denial_id", "denial_blockers", "denial_id"),
    ("processes_pid", "processes", "pid"), ("processes_exe", "processes", "exe"),
    ("domains_key", "domains", "node, boot, domain"), ("domains_status", "domains", "status"),
]

_PROCESS_IDENTITY = ("pid", "ppid", "uid", "auid", "gid", "euid", "ses", "comm", "comm_hex",
                     "exe", "exe_hex", "proctitle", "proctitle_hex")


def _create(columns: Sequence[Tuple[str, str]], table: str) -> str:
    return f"CREATE TABLE {table} (" + ", ".join(f"{c} {t}" for c, t in columns) + ")"


def _insert(columns: Sequence[Tuple[str, str]], table: str) -> str:
    names = [c for c, _ in columns if c != "id"]
    return (f"INSERT INTO {table} (" + ", ".join(names) + ") VALUES ("
            + ", ".join("?" for _ in names) + ")")


def _json(value: Any) -> Optional[str]:
    return None if value is None else dumps(value)


def _flag(value: Any) -> Optional[int]:
    return None if value is None else int(bool(value))


class SqliteExport:
    """A database being written: :meth:`add` each denial, then
    :meth:`finish` with the domains report's rows."""

    def __init__(self, target: str):
        self.target = target
        directory = os.path.dirname(os.path.abspath(target))
        handle, self.temporary = tempfile.mkstemp(prefix=".lldecode-export-", suffix=".db",
                                                  dir=directory)
        os.close(handle)
        self.db = sqlite3.connect(self.temporary, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("BEGIN")
        for table, columns in (("processes", PROCESS_COLUMNS), ("domains", DOMAIN_COLUMNS),
                               ("denials", DENIAL_COLUMNS)):
            self.db.execute(_create(columns, table))
        self.db.execute("CREATE TABLE denial_blockers (denial_id INTEGER NOT NULL "
                        "REFERENCES denials(id), blocker TEXT NOT NULL)")
        self.db.execute("CREATE TABLE lldecode (key TEXT PRIMARY KEY, value TEXT)")
        self._insert_denial = _insert(DENIAL_COLUMNS, "denials")
        self._insert_process = _insert(PROCESS_COLUMNS, "processes")
        self._processes: "OrderedDict[str, int]" = OrderedDict()
        self._pending: List[Tuple[Any, ...]] = []
        self._blockers: List[Tuple[int, str]] = []
        self._next_id = 1
        self.count = 0

    # -- denials --

    def add(self, denial: Denial) -> None:
        """One denial (and its process)."""
        record = denial_dict(denial)
        obj = record["object"]
        process = record["process"]
        source = record["source"]
        info = denial.domain_info
        process_id = self._process_id(record["node"], process, record["time"])
        denial_id = self._next_id
        self._next_id += 1
        row = (denial_id, record["time"], record["time_iso"], record["serial"], record["node"],
               record["domain"], info.boot if info is not None else 0, None,
               ",".join(record["blockers"]), *[obj[c] for c in _OBJECT_COLUMNS],
               _json(obj["other"]) if obj["other"] else None,
               record["operation"]["index"], record["operation"]["size"], process_id,
               process["arch"], process["syscall"], process["syscall_nr"],
               _flag(process["success"]), process["exit"], process["errno"], process["pid"],
               process["uid"], process["comm"], process["comm_hex"], process["exe"],
               process["exe_hex"], process["cwd"], process["cwd_hex"],
               _json(process["paths"]) if process["paths"] else None,
               source["file"], source["file_hex"], source["line"], source["carrier"])
        self._pending.append(row)
        self._blockers.extend((denial_id, b) for b in record["blockers"])
        self.count += 1
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            names = ["id"] + [c for c, _ in DENIAL_COLUMNS if c != "id"]
            self.db.executemany(
                "INSERT INTO denials (" + ", ".join(names) + ") VALUES ("
                + ", ".join("?" for _ in names) + ")", self._pending)
            self.db.executemany("INSERT INTO denial_blockers VALUES (?, ?)", self._blockers)
            self._pending, self._blockers = [], []

    def _process_id(self, node: Optional[str], process: Mapping[str, Any],
                    time: Optional[float]) -> Optional[int]:
        """The row of the denial's process: added on first sight, its last
        time and count updated after."""
        if process["pid"] is None and process["exe"] is None and process["comm"] is None:
            return None
        identity = dumps([node, *[process[k] for k in _PROCESS_IDENTITY]])
        iso = iso_time(time)
        known = self._processes.get(identity)
        if known is not None:
            self._processes.move_to_end(identity)
            self.db.execute("UPDATE processes SET denials = denials + 1, last_time = ?, "
                            "last_time_iso = ? WHERE id = ?", (time, iso, known))
            return known
        found = self.db.execute("SELECT id FROM processes WHERE identity = ?",
                                (identity,)).fetchone()
        if found is not None:
            row_id: int = found[0]
            self.db.execute("UPDATE processes SET denials = denials + 1, last_time = ?, "
                            "last_time_iso = ? WHERE id = ?", (time, iso, row_id))
        else:
            values = (node, process["pid"], process["ppid"], process["uid"],
                      process["uid_name"], process["auid"], process["auid_name"],
                      process["gid"], process["gid_name"], process["euid"],
                      process["euid_name"], process["ses"], process["comm"],
                      process["comm_hex"], process["exe"], process["exe_hex"],
                      _flag(process["exe_deleted"]), process["proctitle"],
                      process["proctitle_hex"], _json(process["argv"]), time, iso, time, iso,
                      1, identity)
            cursor = self.db.execute(self._insert_process, values)
            row_id = cursor.lastrowid or 0
        self._processes[identity] = row_id
        if len(self._processes) > PROCESS_CACHE:
            self._processes.popitem(last=False)
        return row_id

    # -- domains, and the end --

    def finish(self, domains: Iterable[Mapping[str, Any]], meta: Mapping[str, Any],
               selected: bool = False) -> None:
        """The domains report's rows (lldecode.analysis.domain_report), the
        indexes, the links from denials to domains; then the database is
        moved to its place.  ``selected``: the denials were selected: only
        the domains with a denial are kept, with their ``denials_selected``
        (counted here, in the database: memory stays bounded)."""
        self._flush()
        insert = _insert(DOMAIN_COLUMNS, "domains")
        batch: List[Tuple[Any, ...]] = []
        for row in domains:
            record = domain_record(row)
            creator = record["creator"]
            batch.append((record["domain"], record["node"], record["boot"], record["status"],
                          record["mode"], creator["pid"], creator["uid"], creator["uid_name"],
                          creator["exe"], creator["exe_hex"], creator["comm"],
                          creator["comm_hex"], record["creation_time"],
                          record["creation_time_iso"], record["allocated_time"],
                          record["allocated_time_iso"], record["first_denial"],
                          record["first_denial_iso"], record["last_denial"],
                          record["last_denial_iso"], record["deallocated_time"],
                          record["deallocated_time_iso"], record["denials_logged"],
                          record["denials_reported"], record["denials_selected"],
                          record["missing"], record["duplicate_allocations"],
                          _json(record["blockers"]), _json(record["gap_causes"])))
            if len(batch) >= BATCH:
                self.db.executemany(insert, batch)
                batch = []
        self.db.executemany(insert, batch)
        for name, table, columns in INDEXES:
            self.db.execute(f"CREATE INDEX {name} ON {table} ({columns})")
        self.db.execute("UPDATE denials SET domain_id = (SELECT d.id FROM domains d WHERE "
                        "d.domain = denials.domain AND d.node IS denials.node "
                        "AND d.boot = denials.domain_boot)")
        if selected:
            self.db.execute("UPDATE domains SET denials_selected = (SELECT count(*) FROM "
                            "denials WHERE denials.domain_id = domains.id)")
            self.db.execute("DELETE FROM domains WHERE denials_selected = 0")
        self.db.executemany("INSERT INTO lldecode VALUES (?, ?)",
                            [("schema_version", str(SCHEMA_VERSION)),
                             *((str(k), dumps(v)) for k, v in meta.items())])
        self.db.execute("COMMIT")
        self.db.execute("ANALYZE")
        self.db.close()
        os.replace(self.temporary, self.target)

    def abort(self) -> None:
        """Drop the temporary database (the target is left as it was)."""
        try:
            self.db.close()
        finally:
            try:
                os.unlink(self.temporary)
            except OSError:
                pass
