"""Never silent: a selector that cannot match is an error or a warning, never
an empty result (lldecode.analysis.selection, lldecode.analysis.query)."""

from __future__ import annotations

import pwd

import pytest

from lldecode.analysis.pipeline import Reading
from lldecode.analysis.query import MAX_DEPTH, MAX_LENGTH, QueryError, compile_query
from lldecode.analysis.selection import (
    FIELDS,
    KNOWN_BLOCKERS,
    Selection,
    SelectionError,
    blocker_glob,
    canonical_blocker,
    field_matcher,
    parse_domain_id,
    resolve_user,
)
from lldecode.audit.records import Diagnostics
from lldecode.landlock.access import NON_RIGHT_BLOCKERS, RIGHTS
from tests.conftest import FIXTURES

RAW = FIXTURES / "auditd-raw.log"            # the capture as auditd wrote it (uid=0)
INTERPRETED = FIXTURES / "ausearch-i.txt"    # the same capture through ausearch -i (uid=root)
JOURNAL = FIXTURES / "auditd-landlock-only.log"  # Landlock lines only: no SYSCALL record


def denials_of(path):
    return list(Reading([str(path)], Diagnostics(quiet=True)).denials())


@pytest.fixture(scope="module")
def raw():
    return denials_of(RAW)


@pytest.fixture(scope="module")
def interpreted():
    return denials_of(INTERPRETED)


@pytest.fixture(scope="module")
def journal():
    return denials_of(JOURNAL)


def chosen(selection, denials):
    return [d for d in denials if selection(d)]


def options_error(**options) -> str:
    with pytest.raises(SelectionError) as info:
        Selection.from_options(**options)
    return str(info.value)


# --- blocker names ------------------------------------------------------------------

@pytest.mark.parametrize("spelling", [
    "fs.truncate", "FS.TRUNCATE", "fs_truncate", "truncate", "Truncate",
    "LANDLOCK_ACCESS_FS_TRUNCATE", "landlock_access_fs_truncate",
])
def test_every_spelling_of_a_right_is_its_dotted_name(spelling):
    assert canonical_blocker(spelling) == "fs.truncate"


@pytest.mark.parametrize("spelling, dotted", [
    ("ioctl_dev", "fs.ioctl_dev"), ("read_file", "fs.read_file"), ("bind_tcp", "net.bind_tcp"),
    ("signal", "scope.signal"), ("abstract_unix_socket", "scope.abstract_unix_socket"),
    ("LANDLOCK_ACCESS_NET_BIND_TCP", "net.bind_tcp"), ("LANDLOCK_SCOPE_SIGNAL", "scope.signal"),
    ("LANDLOCK_ACCESS_FS_IOCTL_DEV", "fs.ioctl_dev"), ("net_connect_tcp", "net.connect_tcp"),
    ("scope_abstract_unix_socket", "scope.abstract_unix_socket"),
    # blockers that are not rights are valid too
    ("ptrace", "ptrace"), ("PTRACE", "ptrace"), ("fs.change_topology", "fs.change_topology"),
    ("fs_change_topology", "fs.change_topology"), ("change_topology", "fs.change_topology"),
])
def test_landlockconfig_legacy_and_kernel_spellings(spelling, dotted):
    assert canonical_blocker(spelling) == dotted


def test_every_right_and_non_right_is_known():
    assert set(KNOWN_BLOCKERS) >= {r.dotted for r in RIGHTS} | set(NON_RIGHT_BLOCKERS)
    for r in RIGHTS:
        for spelling in (r.dotted, r.legacy, r.name, r.dotted.upper()):
            assert canonical_blocker(spelling) == r.dotted


@pytest.mark.parametrize("typo, suggested", [
    ("fs.truncte", "fs.truncate"), ("fs.read_fil", "fs.read_file"), ("fs.mkdir", "fs.make_dir"),
    ("sigal", "scope.signal"), ("ptrac", "ptrace"), ("LANDLOCK_ACCESS_FS_TRUNCTE", "fs.truncate"),
])
def test_an_unknown_blocker_is_an_error_naming_the_closest(typo, suggested):
    message = options_error(blockers=[typo])
    assert message.startswith(f"--blocker: unknown blocker '{typo}'")
    assert f"did you mean {suggested}" in message


def test_a_blocker_nothing_resembles_lists_every_blocker():
    message = options_error(blockers=["tcp"])
    assert "(blockers: fs.execute, " in message and "ptrace" in message


@pytest.mark.parametrize("glob, expected", [
    ("fs.ioctl_*", {"fs.ioctl_dev"}),
    ("net.*", {"net.bind_tcp", "net.connect_tcp", "net.bind_udp", "net.connect_send_udp"}),
    ("fs_make_*", {r.dotted for r in RIGHTS if r.name.startswith("make_")}),
    ("make_*", {r.dotted for r in RIGHTS if r.name.startswith("make_")}),   # bare names
    ("LANDLOCK_SCOPE_*", {"scope.signal", "scope.abstract_unix_socket"}),
    ("FS.TRUNC*", {"fs.truncate"}),
])
def test_globs_match_known_blockers(glob, expected):
    assert blocker_glob(glob)[0] == expected


@pytest.mark.parametrize("glob", ["fs.iocl_*", "net.udp*", "scope.x*", "zz*"])
def test_a_glob_matching_no_blocker_is_an_error(glob):
    message = options_error(blockers=[glob])
    assert message.startswith(f"--blocker: '{glob}' matches no blocker")


def test_blocker_spellings_select_the_same_denials(raw):
    expected = chosen(Selection(blockers=["fs.truncate"]), raw)
    assert len(expected) == 3
    for spelling in ("truncate", "fs_truncate", "LANDLOCK_ACCESS_FS_TRUNCATE", "FS.Truncate"):
        assert chosen(Selection(blockers=[spelling]), raw) == expected
    ioctl = chosen(Selection(blockers=["fs.ioctl_*"]), raw)
    assert ioctl and chosen(Selection(blockers=["ioctl_dev"]), raw) == ioctl
    assert chosen(Selection(blockers=["signal"]), raw) == chosen(
        Selection(blockers=["LANDLOCK_SCOPE_SIGNAL"]), raw) != []


def test_a_glob_still_selects_names_newer_than_the_table():
    class Denial:
        blockers = ["fs.some_future_right"]

    assert Selection(blockers=["fs.*"])(Denial())
    assert not Selection(blockers=["net.*"])(Denial())


# --- domain ids ---------------------------------------------------------------------

@pytest.mark.parametrize("text, canonical", [
    ("1b6b16194", "1b6b16194"), ("0x1B6B16194", "1b6b16194"), ("f", "f"),
    ("ffffffffffffffff", "ffffffffffffffff"),
])
def test_domain_ids(text, canonical):
    assert parse_domain_id(text) == canonical


@pytest.mark.parametrize("text", ["zz", "", "0x", "1b6b1619g", "1" * 17, "-1", "17fcedd1!"])
def test_a_malformed_domain_id_is_an_error(text):
    message = options_error(domains=[text])
    assert message.startswith("--domain: ") and "is not a domain id" in message
    assert "1 to 16 hexadecimal digits" in message


# --- users: numbers and names, raw and ausearch -i ---------------------------------------

def test_a_user_is_its_number_and_its_name():
    assert {0, "root"} <= resolve_user("0")
    assert {0, "root"} <= resolve_user("root")
    assert resolve_user("0x0") == resolve_user("0")
    assert 4294967295 in resolve_user("unset") and "unset" in resolve_user("4294967295")


def test_an_unknown_user_name_is_an_error():
    names = {p.pw_name for p in pwd.getpwall()}
    assert "nosuchuser" not in names
    assert options_error(uids=["nosuchuser"]).startswith(
        "--uid: no user 'nosuchuser' in this host's user database")
    assert "did you mean root" in options_error(uids=["rooot"])


def test_a_number_no_user_has_is_not_an_error(raw):
    assert chosen(Selection.from_options(uids=["54321"]), raw) == []


@pytest.mark.parametrize("uid", [0, "0", "root"])
def test_uid_matches_raw_numbers_and_interpreted_names(raw, interpreted, uid):
    """The same capture, raw (uid=0) and through ausearch -i (uid=root)."""
    assert {d.actor("uid") for d in raw} == {0}
    assert {d.actor("uid") for d in interpreted} == {"root"}
    selection = Selection.from_options(uids=[uid])
    assert len(chosen(selection, raw)) == len(raw) == 56
    assert len(chosen(selection, interpreted)) == len(interpreted) == 56


@pytest.mark.parametrize("where, expected", [
    ("uid = root", 56), ("uid = 0", 56), ("uid != root", 0), ("uid < 1", 56), ("uid >= 1", 0),
    ("uid >= root", 56), ("auid = unset", 56), ("auid = 4294967295", 56),
    ("auid = 0xffffffff", 56),
])
def test_where_uid_reads_numbers_and_names(raw, interpreted, where, expected):
    selection = Selection.from_options(where=where)
    assert len(chosen(selection, raw)) == expected
    assert len(chosen(selection, interpreted)) == expected


def test_where_unknown_user_points_at_the_value():
    with pytest.raises(SelectionError) as info:
        Selection.from_options(where="blocker ~ fs.* and uid = nosuchuser")
    assert str(info.value).startswith("--where: column 26: no user 'nosuchuser'")
    assert info.value.pointer.split("\n")[1].index("^") == 2 + 25


# --- --where checks its values ----------------------------------------------------------

@pytest.mark.parametrize("where, column, message", [
    ("blocker = fs.truncte", 11, "unknown blocker 'fs.truncte' (did you mean fs.truncate?)"),
    ('path ^= /tmp and blocker ~ "fs.iocl*"', 28, "'fs.iocl*' matches no blocker"),
    ("blocker = fs.*", 11, "= compares exactly: ~ takes a glob"),
    ("blocker ^= xx", 12, "no blocker starts with 'xx'"),
    ("blocker *= qq", 12, "no blocker contains 'qq'"),
    ("blocker < 3", 11, "blocker names have no order"),
    ("blockers = fs.truncte", 12, "unknown blocker 'fs.truncte'"),
    ("domain = zz", 10, "'zz' is not a domain id"),
    ("not domain != 0xfffffffffffffffff", 15, "is not a domain id"),
    ("domain ~ 1b6z*", 10, "cannot match a domain id"),
    ("domain ^= g", 11, "cannot match a domain id"),
])
def test_where_values_that_cannot_be(where, column, message):
    with pytest.raises(QueryError) as info:
        Selection(where=where)
    assert info.value.column == column
    assert message in info.value.message
    with pytest.raises(SelectionError) as wrapped:
        Selection.from_options(where=where)
    assert str(wrapped.value) == f"--where: column {column}: {info.value.message}"
    assert wrapped.value.pointer.endswith(" " * (column - 1) + "^")


@pytest.mark.parametrize("where, expected", [
    ("blocker = truncate", 3),
    ("blocker = LANDLOCK_ACCESS_FS_TRUNCATE", 3),
    ("blocker ~ FS.TRUNC*", 3),
    ("blocker ~ fs_make_*", 21),
    ("blocker != fs.truncate", 53),
    ("blocker !~ fs.*", 7),
    ("blocker ^= net.", 4),
    ("blocker $= _tcp", 4),
    ("blockers = fs_truncate", 3),
    ("domain = 0x1B6B16194", 2),
    ("domain ^= 0x1b6b1619", 5),
    ("domain ~ 1B6B1619?", 5),
    ("domain > 1b6b16194 and domain <= 0x1b6b1619b", 2),
])
def test_where_values_are_respelled(raw, where, expected):
    assert len(chosen(Selection.from_options(where=where), raw)) == expected


def test_the_checks_need_the_matcher():
    """compile_query alone checks nothing: the toy fields of other uses."""
    assert compile_query("blocker = x", FIELDS).fields == {"blocker"}
    with pytest.raises(QueryError):
        compile_query("blocker = x", FIELDS, matcher=field_matcher)


# --- --where is bounded --------------------------------------------------------------------

@pytest.mark.parametrize("levels", [1000, 100000])
@pytest.mark.parametrize("make", [
    lambda n: "(" * n + "path = x" + ")" * n,
    lambda n: "not " * n + "path = x",
    lambda n: "not (" * n + "path = x" + ")" * n,
])
def test_deep_nesting_is_an_error_not_a_recursion_error(levels, make):
    expression = make(levels)
    with pytest.raises(SelectionError) as info:
        Selection.from_options(where=expression)
    message = str(info.value)
    assert message.startswith("--where: ")
    if len(expression) > MAX_LENGTH:
        assert f"the longest accepted is {MAX_LENGTH}" in message
        assert info.value.pointer is None
    else:
        assert f"nesting deeper than {MAX_DEPTH}" in message
        caret = info.value.pointer.split("\n")
        assert len(caret[0]) < 120 and caret[1].endswith("^")


def test_nesting_up_to_the_limit_is_accepted():
    for expression in ("(" * MAX_DEPTH + "path = x" + ")" * MAX_DEPTH,
                       "not " * MAX_DEPTH + "path = x",
                       "not (" * (MAX_DEPTH // 2) + "path = x" + ")" * (MAX_DEPTH // 2)):
        assert Selection(where=expression).tests
    # a long flat query is not deep: and/or chains and repeated groups are fine
    flat = " or ".join(f"(not path = /p{i} and not domain = {i:x})" for i in range(1000))
    assert len(flat) < MAX_LENGTH
    assert Selection(where=flat).tests


def test_quoted_parentheses_and_values_named_not_are_not_nesting():
    inner = 'path = "' + "(" * 500 + '" or path = not'
    assert Selection(where=" and ".join([inner] * 3)).tests


def test_the_longest_expression_is_checked_first():
    with pytest.raises(QueryError) as info:
        compile_query("path = " + "x" * MAX_LENGTH, FIELDS)
    assert info.value.column == 0 and info.value.pointer() == ""
    assert str(info.value).startswith("the expression is ")


# --- selectors whose field the input lacks ------------------------------------------------------

def test_a_selector_on_an_absent_field_warns(journal):
    selection = Selection.from_options(syscalls=["openat"], where="cwd = /")
    assert chosen(selection, journal) == []
    assert selection.tested == len(journal) == 56
    assert [(s, f) for s, f, _ in selection.absent()] == [("--syscall", "syscall"),
                                                            ("--where", "cwd")]
    warnings = selection.warnings()
    assert warnings[0] == ("--syscall matched nothing: no denial in this input has a "
                           "process record (SYSCALL); the selection cannot match")
    assert warnings[1].startswith("--where: cwd matched nothing: no denial in this input "
                                  "has a process record (SYSCALL)")


def test_the_same_selectors_on_an_input_that_has_the_fields(raw):
    selection = Selection.from_options(syscalls=["openat"], where="cwd = /")
    chosen(selection, raw)
    assert selection.absent() == [] and selection.warnings() == []


def test_a_creator_stands_in_for_the_process(journal):
    """--comm reads the domain's creator when the event has no SYSCALL record."""
    selection = Selection.from_options(comms=["python3"])
    assert chosen(selection, journal)
    assert selection.warnings() == []


def test_comm_without_process_nor_creator(tmp_path):
    lines = [line for line in JOURNAL.read_text("latin-1").splitlines() if "UNKNOWN[1423]" in line]
    path = tmp_path / "access-only.txt"
    path.write_text("\n".join(lines) + "\n", "latin-1")
    denials = denials_of(path)
    assert denials and all(d.process is None and d.creator is None for d in denials)
    selection = Selection.from_options(comms=["python3"], pids=[1], uids=["root"])
    assert chosen(selection, denials) == []
    assert selection.warnings()[0] == (
        "--comm matched nothing: no denial in this input has a process record (SYSCALL) "
        "or a known domain creator (its allocated record); the selection cannot match")
    assert [s for s, _, _ in selection.absent()] == ["--comm", "--pid", "--uid"]


def _without_ports(d):
    return d.object.get("src") is None and d.object.get("dest") is None


@pytest.mark.parametrize("where, keep, why", [
    # a log without node= (one host)
    ("node = vm", lambda d: True, "no record in this input names its host (node=)"),
    # filesystem, signal and ptrace denials: no TCP port
    ("ioctlcmd = 0x541b and port = 1", _without_ports,
     "port matched nothing: no denial in this input has a TCP port"),
    # signal and ptrace denials: no path
    ("opid > 1 and path ^= /x", lambda d: d.object.get("opid") is not None,
     "path matched nothing: no denial in this input names a path"),
])
def test_where_fields_never_carried(raw, where, keep, why):
    denials = [d for d in raw if keep(d)]
    selection = Selection.from_options(where=where)
    chosen(selection, denials)
    assert len(selection.warnings()) == 1 and why in selection.warnings()[0]


def test_no_denial_at_all_is_no_warning():
    selection = Selection.from_options(syscalls=["openat"])
    assert selection.tested == 0 and selection.warnings() == []


def test_what_a_selection_noted_merges_across_parts(raw, journal):
    """A selection rebuilt elsewhere (a worker reading a part) hands back
    what it noted; a field carried in any part is carried."""
    here = Selection.from_options(syscalls=["openat"])
    chosen(here, journal)
    assert here.absent()
    there = Selection.from_options(syscalls=["openat"])
    chosen(there, raw[:5])
    here.absorb_observed(there.observed())
    assert here.tested == 61 and here.absent() == []
