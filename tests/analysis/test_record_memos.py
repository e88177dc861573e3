"""The per-record fast paths of the analyses give what the plain code gives
(issue 11, dense logs).

Denial objects and process contexts are memoized by the values as written
(decode_object, _syscall_fields, proctitle), explain folds operations by
comparing them part by part (alike, not building _signature), and
render_text writes a paragraph without building its explanation.  Each is
held here to the plain formula it replaced (copied below as it was), on
every fixture, on hostile logs and on generated values; the memos stay
bounded and keep no long value.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lldecode import syscalls
from lldecode.analysis import denials as denials_module
from lldecode.analysis import explain
from lldecode.analysis.denials import (
    ABSTRACT_SOCKET_BLOCKER,
    OBJECT_FIELDS,
    Denial,
    _interpreted_text,
    decode_object,
    process_context,
)
from lldecode.analysis.domains import DomainRegistry
from lldecode.analysis.pipeline import Reading
from lldecode.audit.events import Event
from lldecode.audit.records import Diagnostics, Record, read_records
from lldecode.audit.sources import LinesSource, expand
from lldecode.audit.values import (
    abstract_socket_name,
    decode_int,
    decode_text,
    decode_untrusted,
    log_number,
    strip_deleted,
)
from lldecode.output import explain as text_explain
from lldecode.output.text import Safe, Style, format_time
from tests.conftest import FIXTURES
from tests.output.hostile_logs import hostile_paths_log

LOGS = sorted(p for p in FIXTURES.glob("*") if p.is_file() and p.suffix in (".log", ".txt",
                                                                             ".json"))
LOGS += sorted((FIXTURES / "samples").glob("*"))


# -- the plain code, as it was -------------------------------------------------------

def _syscall_fields_reference(record: Record) -> Dict[str, Any]:
    f = record.fields
    interpreted = record.interpreted
    arch_value = f.get("arch")
    arch = syscalls.arch_name(arch_value) if arch_value else None
    context: Dict[str, Any] = {"arch": arch or arch_value}
    number = decode_int(f.get("syscall", ""))
    if number is not None:
        context["syscall_nr"] = number
        context["syscall"] = syscalls.syscall_name(arch, number) if arch else None
    elif "syscall" in f:
        context["syscall"] = f["syscall"]
        context["syscall_nr"] = syscalls.syscall_number(arch, f["syscall"]) if arch else None
    if "success" in f:
        context["success"] = f["success"] == "yes"
    exit_value = f.get("exit")
    if exit_value is not None:
        code = decode_int(exit_value)
        if code is None and interpreted:
            name = exit_value.split("(", 1)[0]
            errno = syscalls.errno_number(name)
            code = -errno if errno is not None else None
        context["exit"] = code
        context["errno"] = syscalls.errno_name(code) if code is not None and code < 0 else None
    for key in ("pid", "ppid", "uid", "auid", "gid", "euid", "ses"):
        if key in f:
            context[key] = log_number(f[key])
    for name in ("comm", "exe"):
        if name in f:
            raw = decode_untrusted(f[name], interpreted)
            if name == "exe" and raw is not None:
                raw, deleted = strip_deleted(raw)
                if deleted:
                    context["exe_deleted"] = True
            context[name] = raw
    if "key" in f:
        context["key"] = decode_text(f["key"])
    return context


def process_context_reference(event: Event) -> Optional[Dict[str, Any]]:
    context: Dict[str, Any] = {}
    syscall = event.first("SYSCALL")
    if syscall is not None:
        context.update(_syscall_fields_reference(syscall))
    proctitle = event.first("PROCTITLE")
    if proctitle is not None:
        raw = proctitle.untrusted("proctitle")
        if raw is not None:
            if proctitle.interpreted:
                context["proctitle"] = raw
            else:
                context["argv"] = raw.split(b"\0")
                context["proctitle"] = b" ".join(context["argv"])
    cwd = event.first("CWD")
    if cwd is not None:
        context["cwd"] = cwd.untrusted("cwd")
    paths = []
    for record in event.all("PATH"):
        item: Dict[str, Any] = {"name": record.untrusted("name")}
        for number_key in ("item", "inode"):
            if number_key in record.fields:
                item[number_key] = decode_int(record.fields[number_key])
        for key in ("nametype", "dev", "mode"):
            if key in record.fields:
                item[key] = decode_text(record.fields[key])
        paths.append(item)
    if paths:
        context["paths"] = paths
    return context or None


def decode_object_reference(record: Record, blockers: List[str]) -> Dict[str, Any]:
    interpreted = record.interpreted
    decoded: Dict[str, Any] = {}
    for key, value in record.fields.items():
        if key in ("domain", "blockers"):
            continue
        kind = OBJECT_FIELDS.get(key, "text")
        if kind == "bytes":
            raw = decode_untrusted(value, interpreted)
            if raw is not None and key == "path" and ABSTRACT_SOCKET_BLOCKER in blockers:
                raw = abstract_socket_name(raw)
            decoded[key] = raw
        elif kind == "int":
            decoded[key] = decode_int(value)
        elif interpreted:
            decoded[key] = _interpreted_text(key, value)
        else:
            decoded[key] = decode_text(value)
    return decoded


def _signature(denials: List[Any]) -> Tuple[Any, ...]:
    """What made two operations alike: domains, blockers, objects and the
    process (syscall, exe, comm, pid)."""
    process = denials[0].process or {}
    return tuple((d.domain, tuple(d.blockers), tuple(sorted(d.object.items())))
                 for d in denials) + ((process.get("syscall"), process.get("exe"),
                                       process.get("comm"), process.get("pid")),)


def paragraphs_reference(operations: Any) -> List[explain.Paragraph]:
    out: List[explain.Paragraph] = []
    current: Optional[explain.Paragraph] = None
    signature = None
    for denials in operations:
        if denials is None:
            if current is not None:
                out.append(current)
            current = signature = None
            continue
        sig = _signature(denials)
        if current is not None and sig == signature:
            current.count += 1
            current.last_time = denials[0].time
            continue
        if current is not None:
            out.append(current)
        current, signature = explain.Paragraph(denials), sig
    if current is not None:
        out.append(current)
    return out


def render_text_reference(paragraph: explain.Paragraph, style: Style, utc: bool = False,
                          policy: Any = None) -> str:
    e = explain.explanation(paragraph, policy)
    first = paragraph.first
    w = e["who"]
    count = paragraph.count
    header = Safe(format_time(first.time, utc))
    if count > 1:
        header = Safe(header + " (" + str(count) + " times, until "
                      + format_time(paragraph.last_time, utc) + ")")
    what = e["what"]
    actor = text_explain._actor(w["comm"], w["pid"], w["exe"], bool(w["from_creator"]))
    lines = [style(header, "bold") + "  " + actor + ": "
             + text_explain._refused(what["syscall"], what["errno"]) + "."]
    if w["proctitle"] is not None:
        lines.append("  command: " + text_explain._safe(w["proctitle"]))
    places = e["where"]
    if len(places) == 2 and first.operation_size == 2:
        lines.append("  on: " + text_explain._safe(places[0]) + " (source) and "
                     + text_explain._safe(places[1]) + " (destination)")
    else:
        lines.append("  on: " + "; ".join([text_explain._safe(place) for place in places]))
    lines.append("  missing rights:")
    for r in what["rights"]:
        lines.append("    " + style(r["name"], "red")
                     + text_explain._right_tail_text(r["guards"], tuple(r["syscalls"]),
                                                     r["abi"], r["applies_to"]))
    box = e["sandbox"]
    creator = box["creator"]
    if creator:
        made = text_explain._made(creator.get("comm"), creator.get("pid"), creator.get("exe"))
    else:
        made = text_explain._UNKNOWN_CREATOR
    lines.append("  sandbox: Landlock domain " + style(box["domain"], "cyan") + ", " + made)
    verdict = e["policy"]
    if verdict is not None:
        lines.extend(text_explain._policy_lines(verdict, style))
    else:
        for fix in e["fix"]:
            lines.append("  fix: " + text_explain._safe(fix))
    return Safe("\n".join(lines))


# -- reading -------------------------------------------------------------------------

def _events(path: str) -> List[Any]:
    reading = Reading([path], Diagnostics(), registry=DomainRegistry(keep_finished=False),
                      serial_gaps=False)
    return list(reading.events())


def _events_of_bytes(data: bytes) -> List[Any]:
    reading = Reading([], Diagnostics(), given_sources=[LinesSource([data])],
                      registry=DomainRegistry(keep_finished=False), serial_gaps=False)
    return list(reading.events())


@pytest.fixture(scope="module")
def fixture_events() -> List[Any]:
    out = []
    for path in LOGS:
        out.extend(_events(str(path)))
    assert sum(len(d) for _, d in out) > 100
    return out


def test_process_context_is_the_plain_one(fixture_events: List[Any]) -> None:
    seen = 0
    for event, _ in fixture_events:
        for _ in range(2):  # the second time from the memos
            assert process_context(event) == process_context_reference(event)
            got, want = process_context(event), process_context_reference(event)
            assert list((got or {}).keys()) == list((want or {}).keys())  # JSON keeps the order
        seen += event.first("SYSCALL") is not None
    assert seen > 50


def test_objects_are_the_plain_ones_and_each_its_own(fixture_events: List[Any]) -> None:
    for _, denials in fixture_events:
        for denial in denials:
            record = denial.record
            want = decode_object_reference(record, denial.blockers)
            one = decode_object(record, denial.blockers)
            two = decode_object(record, denial.blockers)
            assert one == two == want and list(one) == list(want)
            assert one is not two
            one.clear()  # a caller's change is its own
            assert decode_object(record, denial.blockers) == want


def test_an_abstract_socket_is_not_taken_for_a_path() -> None:
    lines = [
        'type=UNKNOWN[1423] msg=audit(1.001:1): domain=1a blockers=fs.read_file '
        'path="/tmp/s" dev="vda" ino=1',
        'type=UNKNOWN[1423] msg=audit(1.002:2): domain=1a blockers=scope.abstract_unix_socket '
        'path="/tmp/s" dev="vda" ino=1',
    ]
    found = [d for _, ds in _events_of_bytes("\n".join(lines).encode() + b"\n") for d in ds]
    assert [d.path for d in found] == [b"/tmp/s", b"@/tmp/s"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(['"x"', "41", "4142", "(null)", "?", '"a b"', "-", "", "0x1",
                                 '"\\033"', "12", "C3A9", "<too_long>", "ABC"]),
                min_size=14, max_size=14),
       st.booleans(), st.sampled_from(["proctitle=", "proctitle=\"", "x=1 proctitle=",
                                       "proctitle=A B", "proctitle=\t", "proctitle=''"]),
       st.text(alphabet="0123456789ABCDEF \t\"'=[.]", max_size=12))
def test_syscall_and_proctitle_memos_agree(values: List[str], interpreted: bool, head: str,
                                           tail: str) -> None:
    keys = ["arch", "syscall", "success", "exit", "pid", "ppid", "uid", "auid", "gid", "euid",
            "ses", "comm", "exe", "key"]
    body = " ".join(f"{k}={v}" for k, v in zip(keys, values) if v != "-")
    carrier = "interpreted" if interpreted else "raw"
    syscall = _record("SYSCALL", body, carrier)
    proctitle = _record("PROCTITLE", head + tail, carrier)
    event = Event((None, 1), [syscall, proctitle])
    for _ in range(2):
        assert process_context(event) == process_context_reference(event)


def _record(kind: str, body: str, carrier: str) -> Record:
    from lldecode.audit.syntax import OTHER, Header

    header = Header.__new__(Header)
    for slot, value in (("carrier", carrier), ("node", None), ("type", kind), ("time", 1.0),
                        ("serial", 1), ("body", body), ("enrichment", None), ("pid", None),
                        ("kind", OTHER), ("joined_type", kind)):
        setattr(header, slot, value)
    return Record(header, "test", 1, body)


def test_memos_are_bounded_and_keep_no_long_value() -> None:
    memo = denials_module
    for table in (memo._SYSCALLS, memo._PROCTITLES, memo._OBJECTS, memo._NAMES):
        table.clear()
    long_exe = '"/' + "x" * (memo._MEMO_LENGTH + 10) + '"'
    for n in range(3 * memo._MEMO_KEPT):
        exe = long_exe if n % 2 else f'"/bin/x{n}"'
        syscall = _record("SYSCALL", f"arch=c000003e syscall=2 pid={n} exe={exe}", "raw")
        proctitle = _record("PROCTITLE", "proctitle=" + (f"{n:04X}" * (300 if n % 2 else 1)),
                            "raw")
        event = Event((None, n), [syscall, proctitle])
        assert process_context(event) == process_context_reference(event)
    for table in (memo._SYSCALLS, memo._PROCTITLES, memo._NAMES, memo._SYSCALL_HEADS):
        assert 0 < len(table) <= memo._MEMO_KEPT
        for key in table:
            assert len(repr(key)) < 4 * memo._MEMO_LENGTH


def test_folding_is_the_signature_one(fixture_events: List[Any]) -> None:
    denials = [d for _, ds in fixture_events for d in ds]
    # the fixtures' own order, and runs of repeats with quiet moments between
    orders = [denials, [d for d in denials for _ in range(3)],
              list(itertools.chain.from_iterable([d, d, None] for d in denials[:40]))]
    for order in orders:
        got = list(explain.paragraphs(explain.operations(order)))
        want = paragraphs_reference(explain.operations(order))
        assert [(p.denials, p.count, p.last_time) for p in got] == \
            [(p.denials, p.count, p.last_time) for p in want]


def test_render_text_is_the_explanation_s_text(fixture_events: List[Any]) -> None:
    denials = [d for _, ds in fixture_events for d in ds]
    denials += [d for _, ds in _events_of_bytes(hostile_paths_log()) for d in ds]
    paragraphs = list(explain.paragraphs(explain.operations(denials)))
    assert any(p.count > 1 for p in paragraphs) and any(len(p.denials) == 2 for p in paragraphs)
    for style in (Style("never"), Style("always")):
        for utc in (False, True):
            for paragraph in paragraphs:
                got = text_explain.render_text(paragraph, style, utc)
                assert got == render_text_reference(paragraph, style, utc)
                assert type(got) is Safe


def test_render_text_with_a_policy() -> None:
    from lldecode.landlock.policy import load_policy

    policies = sorted((FIXTURES / "policies").glob("*"))
    if not policies:
        pytest.skip("no policy fixture")
    events = _events(str(FIXTURES / "auditd-raw.log"))
    paragraphs = list(explain.paragraphs(explain.operations(d for _, ds in events for d in ds)))
    tried = 0
    for path in policies:
        try:
            policy = load_policy([str(path)])
        except Exception:
            continue
        tried += 1
        for paragraph in paragraphs:
            assert (text_explain.render_text(paragraph, Style("never"), False, policy)
                    == render_text_reference(paragraph, Style("never"), False, policy))
    assert tried


def test_asked_lines_are_bounded() -> None:
    text_explain._ASKED.clear()
    long = b"/" + b"x" * 100_000
    for n in range(3 * text_explain._KEPT):
        exe = long if n % 2 else b"/bin/x"
        got = text_explain._asked(b"comm", n, exe, False, "openat", "EACCES")
        assert got == (text_explain._actor(b"comm", n, exe, False) + ": "
                       + text_explain._refused("openat", "EACCES") + ".")
    assert 0 < len(text_explain._ASKED) <= text_explain._KEPT
    assert all(len(repr(key)) < 2000 for key in text_explain._ASKED)
    # an int pid and its text are kept apart (as the typed caches do)
    text_explain._ASKED.clear()
    text_explain._asked(None, 7, None, False, None, None)
    text_explain._asked(None, "7", None, False, None, None)
    assert len(text_explain._ASKED) == 2


def test_denial_sees_its_memoized_object_once(fixture_events: List[Any]) -> None:
    for _, denials in fixture_events[:50]:
        for denial in denials:
            assert isinstance(denial, Denial)
            assert denial.object is denial.object  # kept by the denial


def test_read_records_still_gives_fields() -> None:
    # (the proctitle shortcut reads the body as Record.fields does)
    path = str(FIXTURES / "auditd-raw.log")
    records = [r for r in read_records(expand([path]), Diagnostics())
               if isinstance(r, Record) and r.joined_type == "PROCTITLE"]
    assert records
    for record in records:
        event = Event((None, 1), [record])
        assert process_context(event) == process_context_reference(event)


def _denial_lines(serial: int, domain: str, blockers: str, path: str, syscall: int, comm: str,
                  pid: int) -> str:
    stamp = f"1795737091.{serial % 1000:03d}:{serial}"
    return (f"type=UNKNOWN[1423] msg=audit({stamp}): domain={domain} blockers={blockers} "
            f'path="{path}" dev="vda" ino=7\n'
            f"type=SYSCALL msg=audit({stamp}): arch=c000003e syscall={syscall} success=no "
            f'exit=-13 items=1 ppid=1 pid={pid} uid=0 comm="{comm}" exe="/bin/{comm}"\n'
            f"type=PROCTITLE msg=audit({stamp}): proctitle=6C73\n")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["1a", "1b"]),
                          st.sampled_from(["fs.read_file", "fs.read_file,fs.write_file"]),
                          st.sampled_from(["/a", "/b"]), st.sampled_from([2, 257]),
                          st.sampled_from(["ls", "cat"]), st.sampled_from([10, 11])),
                min_size=1, max_size=30))
def test_folding_tells_each_part_apart(operations: List[Any]) -> None:
    log = "".join(_denial_lines(100 + i, *op) for i, op in enumerate(operations))
    denials = [d for _, ds in _events_of_bytes(log.encode()) for d in ds]
    assert len(denials) == len(operations)
    got = list(explain.paragraphs(explain.operations(denials)))
    want = paragraphs_reference(explain.operations(denials))
    assert [(p.denials, p.count) for p in got] == [(p.denials, p.count) for p in want]
    # and the fold is the one of the operations as generated
    folds = sum(1 for a, b in zip(operations, operations[1:]) if a != b) + 1
    assert len(got) == folds


def test_where_is_worked_out_once_per_object(fixture_events: List[Any]) -> None:
    explain._WHERE.clear()
    denials = [d for _, ds in fixture_events for d in ds]
    denials += [d for _, ds in _events_of_bytes(hostile_paths_log()) for d in ds]
    for denial in denials + denials:
        assert explain.where(denial) == explain._where(denial, denial.object)
    assert 0 < len(explain._WHERE) <= explain._WHERE_KEPT
    # an abstract socket and a path of the same name are told apart
    lines = (
        'type=UNKNOWN[1423] msg=audit(1.001:1): domain=1a blockers=fs.read_file '
        'path="/tmp/s"\n'
        'type=UNKNOWN[1423] msg=audit(1.002:2): domain=1a blockers=scope.abstract_unix_socket '
        'path="/tmp/s"\n')
    found = [d for _, ds in _events_of_bytes(lines.encode()) for d in ds]
    assert [explain.where(d) for d in found] == [b"/tmp/s", b"the abstract UNIX socket @/tmp/s"]
    # long values are not kept
    explain._WHERE.clear()
    long = "/" + "x" * (explain._WHERE_LENGTH + 1)
    found = [d for _, ds in _events_of_bytes(
        f'type=UNKNOWN[1423] msg=audit(1.001:1): domain=1a blockers=fs.read_file '
        f'path="{long}"\n'.encode()) for d in ds]
    assert explain.where(found[0]) == long.encode()
    assert not explain._WHERE


def _domains_of(data: bytes) -> List[Any]:
    reading = Reading([], Diagnostics(), given_sources=[LinesSource([data])],
                      registry=DomainRegistry(keep_finished=True), serial_gaps=False)
    for _ in reading.events():
        pass
    return [info.to_plain() for info in reading.registry.ordered()]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["1a", "1A", "1b", "0001a"]),
                          st.sampled_from(["status=deallocated denials=3",
                                           "status=deallocated denials=00012",
                                           'status="deallocated" denials=3',
                                           "status=deallocated\tdenials=3",
                                           "status=deallocated denials=3 x=1",
                                           "status=deallocated denials=123456789012345678901",
                                           "status=deallocated denials=\"4\"",
                                           "status=allocated mode=enforcing pid=3 uid=0 "
                                           'exe="/bin/x" comm="x"'])),
                min_size=1, max_size=8))
def test_deallocated_records_read_as_fields_reads_them(records: List[Any]) -> None:
    from lldecode.analysis import domains

    log = "".join(f"type=UNKNOWN[1424] msg=audit(1.{i:03d}:{i + 1}): domain={d} {rest}\n"
                  for i, (d, rest) in enumerate(records)).encode()
    fast = _domains_of(log)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(domains, "_DEALLOCATED_RE", re.compile(r"(?!)"))  # never matches
        assert _domains_of(log) == fast


def _registry_view(data: bytes, live_in_memory: Optional[int] = None) -> Any:
    reading = Reading([], Diagnostics(), given_sources=[LinesSource([data])],
                      registry=DomainRegistry(keep_finished=True,
                                              live_in_memory=live_in_memory),
                      serial_gaps=False)
    keys = [d.key for _, ds in reading.events() for d in ds]
    return keys, [info.to_plain() for info in reading.registry.ordered()]


_LANDLOCK_LINES = st.tuples(
    st.sampled_from(["1a", "1b", "1A", "ffff1a", "1c"]),
    st.sampled_from(["blockers=fs.read_file path=\"/a\"",
                     "status=allocated mode=enforcing pid=3 uid=0 exe=\"/bin/x\" comm=\"x\"",
                     "status=deallocated denials=2"]),
    st.sampled_from([0, 0, 1, -200000]),    # serial step (a fall: a reboot)
    st.sampled_from([0.0, 0.0, 0.5, 5.0]),  # time step
    st.sampled_from(["", "node=h1 "]))


@settings(max_examples=150, deadline=None)
@given(st.lists(_LANDLOCK_LINES, min_size=1, max_size=25), st.sampled_from([None, 1, 2]))
def test_the_same_event_s_domain_is_looked_up_once(lines: List[Any],
                                                   live: Optional[int]) -> None:
    """_domain gives the domain of the record just before again, unchanged,
    when the next record names it at the same serial and time: the registry
    is the one the full lookup makes (boots, spills, deallocations)."""
    serial, stamp, out = 500000, 1000.0, []
    for domain, body, serial_step, time_step, node in lines:
        serial, stamp = serial + serial_step, stamp + time_step
        out.append(f"{node}type=UNKNOWN[{1423 if 'blockers' in body else 1424}] "
                   f"msg=audit({stamp:.3f}:{serial}): domain={domain} {body}\n")
    data = "".join(out).encode()
    fast = _registry_view(data, live)
    original = DomainRegistry._domain

    def without_the_shortcut(self: DomainRegistry, record: Record) -> Any:
        self._last = None
        return original(self, record)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DomainRegistry, "_domain", without_the_shortcut)
        assert _registry_view(data, live) == fast
