"""The --where query language (lldecode.analysis.query)."""

from __future__ import annotations

import re

import pytest

from lldecode.analysis.query import QueryError, compile_query
from lldecode.analysis.selection import FIELDS, PROCESS_FIELDS, Selection
from tests.conftest import SAMPLES

# A denial here is a plain dict; each field reads its own key.
NAMES = ("a", "b", "c", "ab", "name", "num", "tags", "raw", "missing")
TOY = {name: (lambda d, name=name: d.get(name)) for name in NAMES}


def q(expression: str, denial: dict, fields=TOY, **kwargs) -> bool:
    return compile_query(expression, fields, **kwargs)(denial)


def error(expression: str, fields=TOY) -> QueryError:
    with pytest.raises(QueryError) as info:
        compile_query(expression, fields)
    return info.value


# --- operators ---------------------------------------------------------------

@pytest.mark.parametrize("expression, value, expected", [
    # = and != : exact text, or equal as numbers
    ("name = foo", "foo", True),
    ("name = foo", "foobar", False),
    ("name = foo", "Foo", False),
    ("name != foo", "foo", False),
    ("name != foo", "bar", True),
    ("num = 16", 16, True),
    ("num = 0x10", 16, True),
    ("num = 16", "0x10", True),
    ("num = 1.0", 1, True),
    ("num = 17", 16, False),
    ("num != 17", 16, True),
    ("num != 0x10", 16, False),
    # ~ and !~ : shell-style globs, case-sensitive, whole value
    ("name ~ f*", "foo", True),
    ("name ~ f?o", "foo", True),
    ("name ~ f[aeiou]o", "foo", True),
    ("name ~ o*", "foo", False),
    ("name ~ F*", "foo", False),
    ("name ~ fo", "foo", False),
    ("name !~ f*", "foo", False),
    ("name !~ b*", "foo", True),
    # ^= prefix, $= suffix, *= substring
    ("name ^= /proc", "/proc/self/maps", True),
    ("name ^= /proc", "/sys/proc", False),
    ("name $= .so", "/lib/libc.so", True),
    ("name $= .so", "/lib/libc.so.6", False),
    ("name *= libc", "/lib/libc.so.6", True),
    ("name *= libm", "/lib/libc.so.6", False),
    # ordering operators compare numbers
    ("num < 10", 9, True),
    ("num < 10", 10, False),
    ("num <= 10", 10, True),
    ("num <= 10", 11, False),
    ("num > 10", 11, True),
    ("num > 10", 10, False),
    ("num >= 10", 10, True),
    ("num >= 10", 9, False),
    ("num > 0x0f", 16, True),
    ("num < 2.5", 2, True),
    ("num > 9", "10", True),       # numeric, not text, order ("10" < "9" as text)
    ("num < 1", "0x0", True),
    ("num > 1", "not-a-number", False),  # a value that is no number never compares
    ("num < 1", "not-a-number", False),
])
def test_operators(expression, value, expected):
    field = expression.split()[0]
    assert q(expression, {field: value}) is expected


@pytest.mark.parametrize("spaced, tight", [
    ("num = 1", "num=1"), ("num != 1", "num!=1"), ("name ~ x*", "name~x*"),
    ("name !~ x*", "name!~x*"), ("name ^= x", "name^=x"), ("name $= x", "name$=x"),
    ("name *= x", "name*=x"), ("num < 1", "num<1"), ("num <= 1", "num<=1"),
    ("num > 1", "num>1"), ("num >= 1", "num>=1"),
])
def test_operators_need_no_blanks(spaced, tight):
    for value in (0, 1, 2, "x", "xx", "ax"):
        assert q(spaced, {"num": value, "name": value}) == q(tight, {"num": value, "name": value})


def test_two_character_operators_are_not_read_as_one_character_ones():
    # "<=" is not "<" followed by the value "=1"; "!=" is not an error.
    assert q("num <= 1", {"num": 1}) is True
    assert q("num >= 1", {"num": 1}) is True
    assert q("num != 1", {"num": 2}) is True


@pytest.mark.parametrize("op, expected", [
    ("=", False), ("!=", True), ("~", False), ("!~", True),
    ("^=", False), ("$=", False), ("*=", False),
    ("<", False), ("<=", False), (">", False), (">=", False),
])
def test_absent_values_match_only_the_negations(op, expected):
    assert q(f"missing {op} 1", {}) is expected


def test_bytes_values_are_compared_as_text():
    raw = b"/tmp/caf\xc3\xa9/\xff"
    assert q('raw = "/tmp/café/' + "\udcff" + '"', {"raw": raw})
    assert q("raw ^= /tmp/café", {"raw": raw})
    assert q("raw ~ /tmp/*", {"raw": raw})
    assert not q("raw = /tmp", {"raw": raw})


# --- fields holding several values -------------------------------------------

@pytest.mark.parametrize("expression, expected", [
    ("tags = fs.truncate", True),
    ("tags = fs.write_file", True),
    ("tags = net.bind_tcp", False),
    ("tags ~ fs.*", True),
    ("tags ~ net.*", False),
    ("tags ^= fs.t", True),
    ("tags *= write", True),
    ("tags $= _file", True),
    # the negations hold only when no value matches
    ("tags != fs.truncate", False),
    ("tags != net.bind_tcp", True),
    ("tags !~ fs.t*", False),
    ("tags !~ net.*", True),
])
def test_a_list_matches_when_any_value_does(expression, expected):
    assert q(expression, {"tags": ["fs.truncate", "fs.write_file"]}) is expected


def test_ordering_over_a_list():
    assert q("tags > 5", {"tags": [1, 2, 9]})
    assert not q("tags > 10", {"tags": [1, 2, 9]})
    assert not q("tags = 1", {"tags": []})
    assert q("tags != 1", {"tags": []})


# --- boolean structure and precedence -----------------------------------------

def row(a=0, b=0, c=0):
    return {"a": a, "b": b, "c": c}


ALL_ROWS = [row(a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)]


@pytest.mark.parametrize("expression, meaning", [
    ("a = 1 and b = 1", lambda r: r["a"] and r["b"]),
    ("a = 1 or b = 1", lambda r: r["a"] or r["b"]),
    ("not a = 1", lambda r: not r["a"]),
    ("not not a = 1", lambda r: r["a"]),
    ("a = 1 and b = 1 and c = 1", lambda r: r["a"] and r["b"] and r["c"]),
    ("a = 1 or b = 1 or c = 1", lambda r: r["a"] or r["b"] or r["c"]),
    # and binds tighter than or, on either side
    ("a = 1 or b = 1 and c = 1", lambda r: r["a"] or (r["b"] and r["c"])),
    ("a = 1 and b = 1 or c = 1", lambda r: (r["a"] and r["b"]) or r["c"]),
    # not binds tighter than and / or
    ("not a = 1 and b = 1", lambda r: (not r["a"]) and r["b"]),
    ("not a = 1 or b = 1", lambda r: (not r["a"]) or r["b"]),
    ("a = 1 and not b = 1 or c = 1", lambda r: (r["a"] and not r["b"]) or r["c"]),
    # parentheses override
    ("(a = 1 or b = 1) and c = 1", lambda r: (r["a"] or r["b"]) and r["c"]),
    ("a = 1 and (b = 1 or c = 1)", lambda r: r["a"] and (r["b"] or r["c"])),
    ("not (a = 1 and b = 1)", lambda r: not (r["a"] and r["b"])),
    ("not (a = 1 or b = 1) or c = 1", lambda r: (not (r["a"] or r["b"])) or r["c"]),
    ("((a = 1))", lambda r: r["a"]),
    ("not(a=1)", lambda r: not r["a"]),
    ("(a=1)and(b=1)", lambda r: r["a"] and r["b"]),
    # keywords are case-insensitive
    ("a = 1 AND b = 1 Or c = 1", lambda r: (r["a"] and r["b"]) or r["c"]),
    ("NOT a = 1", lambda r: not r["a"]),
])
def test_boolean_structure(expression, meaning):
    predicate = compile_query(expression, TOY)
    for r in ALL_ROWS:
        assert predicate(r) is bool(meaning(r)), (expression, r)


def test_predicate_reports_the_fields_it_reads():
    assert compile_query("a = 1", TOY).fields == frozenset({"a"})
    assert compile_query("a = 1 or not (b = 2 and a = 3)", TOY).fields == frozenset({"a", "b"})
    assert compile_query("ab ~ x* and c < 3", TOY).fields == frozenset({"ab", "c"})


def test_field_names_are_whole_words():
    # "a" is a field and a prefix of "ab": "ab" must not be read as "a" "b...".
    assert q("ab = 1", {"ab": 1, "a": 0})
    assert not q("ab = 1", {"ab": 0, "a": 1})
    assert compile_query("ab=1", TOY).fields == frozenset({"ab"})


# --- quoting --------------------------------------------------------------------

@pytest.mark.parametrize("expression, value", [
    ('name = "two words"', "two words"),
    ("name = 'two words'", "two words"),
    ('name = "a (paren) and or not"', "a (paren) and or not"),
    ('name = "it\'s"', "it's"),
    ("name = 'say \"hi\"'", 'say "hi"'),
    (r'name = "say \"hi\""', 'say "hi"'),
    (r"name = 'it\'s'", "it's"),
    ('name = ""', ""),
    ("name = ''", ""),
    ('name = "="', "="),
    ("name = café", "café"),
    ("name = /proc/self/fd/3", "/proc/self/fd/3"),
    ("name = and", "and"),           # a bare word in value position is a value
    ("name = not", "not"),
])
def test_quoted_and_bare_values(expression, value):
    predicate = compile_query(expression, TOY)
    assert predicate({"name": value})
    assert not predicate({"name": value + "x"})


def test_quoted_values_keep_glob_characters_for_the_glob_operator():
    assert q('name ~ "dir with space/*"', {"name": "dir with space/f"})
    assert not q('name ~ "dir with space/*"', {"name": "other/f"})


def test_a_quoted_value_is_followed_by_the_rest_of_the_query():
    predicate = compile_query('name = "x y"and a = 1', TOY)
    assert predicate({"name": "x y", "a": 1})
    assert not predicate({"name": "x y", "a": 0})


def test_blanks_around_the_query_are_ignored():
    assert q("   a = 1   ", {"a": 1})


# --- ordering conversions -------------------------------------------------------

def test_ordered_turns_the_text_into_a_comparable_value():
    calls = []

    def ordered(field, text):
        calls.append((field, text))
        return {"low": 1, "high": 100}[text]

    predicate = compile_query("num > low and num < high", TOY, ordered)
    assert ("num", "low") in calls and ("num", "high") in calls
    assert predicate({"num": 50})
    assert not predicate({"num": 100})
    assert not predicate({"num": 0})


def test_a_value_that_can_never_be_ordered_fails_at_compile_time():
    with pytest.raises(ValueError):
        compile_query("num < soon", TOY)
    with pytest.raises(KeyError):
        compile_query("num < x", TOY, lambda field, text: {}[text])


def test_the_default_ordering_reads_numbers():
    assert q("num < 0x20", {"num": 31})
    assert q("num >= 1.5", {"num": 2})


# --- errors -----------------------------------------------------------------------

def test_query_error_is_a_value_error_with_column_and_message():
    exc = error("zz = 1")
    assert isinstance(exc, ValueError)
    assert exc.expression == "zz = 1"
    assert exc.column == 1
    assert str(exc) == f"column 1: {exc.message}"


@pytest.mark.parametrize("expression, column, word", [
    ("zz = 1", 1, "zz"),
    ("a = 1 and zz = 2", 11, "zz"),
    ("a = 1 or not Name = 1", 14, "Name"),   # field names are case-sensitive
    ("(a = 1) and (b = 2 or bogus ~ x)", 23, "bogus"),
    ("nota = 1", 1, "nota"),
])
def test_unknown_field(expression, column, word):
    exc = error(expression)
    assert exc.column == column
    assert expression[column - 1:].startswith(word)
    assert exc.message.startswith(f"unknown field '{word}'")
    assert "(fields: " + ", ".join(TOY) + ")" in exc.message


def test_unknown_field_lists_the_real_fields():
    exc = error("colour = red", FIELDS)
    assert "unknown field 'colour'" in exc.message
    for name in ("blocker", "path", "domain", "exe", "time"):
        assert name in exc.message


def test_pointer_puts_a_caret_under_the_column():
    exc = error("a = 1 and zz = 2")
    assert exc.pointer() == "  a = 1 and zz = 2\n            ^"
    expr_line, caret_line = exc.pointer().split("\n")
    assert expr_line[caret_line.index("^")] == "z"


@pytest.mark.parametrize("expression, column, found", [
    # missing operand at the end: caret just past the text
    ("a = 1 and", 10, "found the end"),
    ("a = 1 and not", 14, "found the end"),
    ("not", 4, "found the end"),
    ("", 1, "found the end"),
    ("   ", 4, "found the end"),
    # something left over after a complete query
    ("a = 1 b = 2", 7, "found 'b = 2'"),
    ("(a = 1))", 8, "found ')'"),
    ("a = x)", 6, "found ')'"),
    ("a == 1", 6, "found '1'"),         # reads a = "=", then "1" is left over
    ("a = 1and b = 1", 10, "found 'b = 1'"),  # "1and" is one bare value
    # a keyword where a comparison must be
    ("a = 1 and or b = 2", 11, "found 'or b = 2'"),
    ("and a = 1", 1, None),
    # missing parts of a comparison, bad operators, unbalanced parentheses
    ("a", 1, None),
    ("a =", 1, None),
    ("a ! 1", 1, None),
    ("= 1", 1, None),
    ('a = "open', 1, None),
    ("a = 1 or (b = 2", None, "found the end"),
    ("()", None, None),
])
def test_bad_syntax(expression, column, found):
    exc = error(expression)
    assert "unknown field" not in exc.message
    assert 1 <= exc.column <= len(expression) + 1
    if column is not None:
        assert exc.column == column, exc
    if found is not None:
        assert found in exc.message, exc
    assert exc.message.startswith("expected "), exc
    caret = exc.pointer().split("\n")[1]
    assert caret == "  " + " " * (exc.column - 1) + "^"


def test_a_keyword_is_not_reported_as_an_unknown_field():
    for expression in ("a = 1 and or b = 2", "or a = 1", "a = 1 and AND b = 1"):
        assert "unknown field" not in error(expression).message


# --- the real fields, through Selection, on denials read from a real log -----------

# Five denials of a real kernel 6.18 capture (raw auditd format), two domains;
# 42486 without its process records (SYSCALL...): its domain's creator stands in.
WITH_PROCESS = {42480, 42481, 42483, 42484}
BARE = {42486}
ALL = WITH_PROCESS | BARE
_SERIAL = re.compile(r"msg=audit\(\d+\.\d+:(\d+)\)")


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """The denials, read from a log file through the whole pipeline."""
    from lldecode.analysis.pipeline import Reading
    from lldecode.audit.records import Diagnostics

    lines = []
    for line in (SAMPLES / "kernel-6.18-raw-audit.log").read_text("latin-1").splitlines():
        match = _SERIAL.search(line)
        serial = int(match.group(1)) if match else None
        if serial in WITH_PROCESS or serial == 42500 or (
                serial in BARE and line.startswith("type=UNKNOWN[142")):
            lines.append(line)
    path = tmp_path_factory.mktemp("where") / "audit.log"
    path.write_text("\n".join(lines) + "\n", "latin-1")
    denials = list(Reading([str(path)], Diagnostics()).denials())
    assert {d.serial for d in denials} == ALL
    return denials


@pytest.mark.parametrize("where, serials", [
    # the example of the --where help
    ('blocker ~ "fs.truncate" and not path ^= "/proc" or domain = 17fceddad',
     {42480, 42481, 42483, 42484}),
    # text fields
    ("domain = 17fceddb6", {42480, 42481, 42486}),
    ("blocker = fs.truncate", {42480, 42481}),
    ("blocker ~ fs.*", {42480, 42481, 42483}),
    ("blocker !~ fs.*", {42484, 42486}),
    ("blockers = fs.ioctl_dev", {42483}),
    ("path = /tmp/llreal/w/f", {42480}),
    ('path = "/tmp/llreal/new file"', {42481}),          # a hex-encoded path, decoded
    ("path ^= /tmp/llreal", {42480, 42481}),
    ("path $= null", {42483}),
    ("path *= new", {42481}),
    ("path != /dev/null", ALL - {42483}),                # no path is "not equal" too
    ("dev = vda", {42480, 42481}),
    ("ioctlcmd = 0x541b", {42483}),
    ("ioctlcmd = 21531", {42483}),                       # the same number in decimal
    ("addr = 127.0.0.1", {42484}),
    ("ocomm = process_api", {42486}),
    ("exe $= /python3.11 and comm = python3", ALL),      # 42486: its creator's
    ("syscall = truncate", {42480}),
    ("syscall = openat or syscall = truncate", {42480, 42481}),
    ("syscall ~ *", WITH_PROCESS),
    ("errno = EACCES", WITH_PROCESS),
    ("key = demo", WITH_PROCESS),
    ("key != demo", BARE),
    ("cwd = /home/ci/lab00", {42480, 42481}),
    ("proctitle *= sandbox.py", WITH_PROCESS),
    ("status = deallocated", {42480, 42481, 42486}),
    ("status = allocated", {42483, 42484}),
    ("carrier = raw", ALL),
    ("file $= audit.log", ALL),
    ("node = x", set()),
    ("node != x", ALL),
    # numeric fields
    ("ino = 3", {42483}),
    ("ino > 1000", {42480, 42481}),
    ("ino >= 2146440", {42481}),
    ("port = 34567", {42484}),
    ("port < 1024", set()),
    ("opid = 1", {42486}),
    ("pid = 5696 and uid = 0", ALL),
    ("ppid = 5622", WITH_PROCESS),
    ("auid = 4294967295", WITH_PROCESS),
    ("auid = 0xffffffff", WITH_PROCESS),
    ("exit < 0", WITH_PROCESS),
    ("exit = -13", WITH_PROCESS),
    ("exit > -13", set()),
    ("serial >= 42481 and serial < 42486", {42481, 42483, 42484}),
    ("serial = 42480 or serial = 42486", {42480, 42486}),
    # times: epoch seconds or anything --since accepts
    ("time > 1795734402", ALL),
    ("time < 1795734402", set()),
    ('time >= "2026-11-26T23:06:42Z" and time < "2026-11-26T23:06:43Z"', ALL),
    ('time > "2026-11-26T23:06:42.5Z"', set()),
    ("time >= 1795734402.061", ALL),
])
def test_where_over_the_real_fields(logged, where, serials):
    selection = Selection(where=where)
    assert {d.serial for d in logged if selection(d)} == serials


def test_selection_knows_when_a_query_needs_the_process():
    assert Selection(where="exe ~ *touch").needs_process
    assert Selection(where="blocker = fs.truncate or syscall = openat").needs_process
    assert not Selection(where="blocker = fs.truncate and path ^= /tmp").needs_process
    assert PROCESS_FIELDS <= set(FIELDS)


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_every_real_field_compiles_with_every_operator(field):
    for op in ("=", "!=", "~", "!~", "^=", "$=", "*="):
        assert compile_query(f"{field} {op} x", FIELDS).fields == {field}
    for op in ("<", "<=", ">", ">="):
        assert compile_query(f"{field} {op} 1", FIELDS).fields == {field}


def test_a_time_that_does_not_read_fails_when_compiled():
    with pytest.raises(ValueError):
        Selection(where="time > whenever")
