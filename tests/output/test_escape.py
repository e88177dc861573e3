"""The text rule: every value from the log is escaped where it is formatted.

Any field of a log line is the attacker's (not only paths, comm and exe:
the syscall and pid of a SYSCALL record, blockers=, a creator's pid, uid
and mode, domain ids...).  These tests give every field of every text
renderer a hostile value and check that nothing unsafe comes out raw, that
each value is escaped exactly once, and that the renderers' source formats
each value through safe() (so that a new field cannot forget it).
"""

from __future__ import annotations

import ast
import sys
import unicodedata
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lldecode.output import explain as explain_output
from lldecode.output import reports, tables
from lldecode.output.escape import escape_bytes, escape_json, escape_text
from lldecode.output.text import Safe, Style, safe
from tests.output.hostile import UNSAFE_CATEGORIES, assert_clean_text

ROOT = Path(__file__).resolve().parents[2]

# A hostile text value (as the reader gives str fields) and a hostile bytes
# value (paths, comm, exe...): ESC c resets a terminal, CSI (C1) starts a
# sequence, U+202E reverses text, U+2028 ends a line, a lone surrogate is a
# byte that was not UTF-8, and the backslash shows whether a value was
# escaped twice.
H = "<\x1bc\x9b31m\u202e\u2028\udc9b\\>"
HB = b"<\x1bc\xc2\x9b31m\xe2\x80\xae\xff\\>"
H_ESCAPED = "<\\x1bc\\x9b31m\\u202e\\u2028\\x9b\\\\>"
HB_ESCAPED = "<\\x1bc\\x9b31m\\u202e\\xff\\\\>"


def _once(text: str, *escaped: str) -> None:
    """Each hostile value is in ``text`` escaped exactly once."""
    assert_clean_text(text)
    for value in escaped:
        assert value in text, (value, text)
        assert escape_text(value) not in text, ("escaped twice", value)


# -- the rule itself -------------------------------------------------------------------

def test_every_control_format_separator_and_surrogate_is_escaped():
    """The escape covers every Cc, Cf, Zl, Zp and Cs character this Python's
    Unicode database knows (a new Python with new format characters fails
    here until they are added)."""
    missed = [f"U+{code:04X}" for code in range(sys.maxunicode + 1)
              if unicodedata.category(chr(code)) in UNSAFE_CATEGORIES
              and escape_text(chr(code)) == chr(code)]
    assert not missed


@pytest.mark.parametrize("raw, shown", [
    ("\x1bc", "\\x1bc"), ("\x9b", "\\x9b"), ("\x7f", "\\x7f"), ("\u202e", "\\u202e"),
    ("\u2066", "\\u2066"), ("\u2028", "\\u2028"), ("\ufeff", "\\ufeff"),
    ("\udcff", "\\xff"), ("\ud800", "\\ud800"), ("\U000e0041", "\\U000e0041"),
    ("\n", "\\n"), ("\\", "\\\\"), ("é日", "é日"),
])
def test_escape_text(raw, shown):
    assert escape_text(raw) == shown


def test_escape_bytes_shows_invalid_utf8_as_hex():
    assert escape_bytes(HB) == HB_ESCAPED


def test_escape_json_keeps_values_and_escapes_separators():
    import json

    value = "a\u2028b\u2029c\x9b\u202e\U000e0041é"
    text = escape_json(json.dumps(value, ensure_ascii=False))
    assert json.loads(text) == value
    assert text == '"a\\u2028b\\u2029c\\u009b\\u202e\\udb40\\udc41é"'
    assert escape_json('{\n  "a": 1\n}') == '{\n  "a": 1\n}'  # JSON's own whitespace


# -- safe, Safe, Style -------------------------------------------------------------------

def test_safe_escapes_once():
    once = safe(H)
    assert once == H_ESCAPED and isinstance(once, Safe)
    assert safe(once) is once
    assert safe([H, HB]) == f"{H_ESCAPED}, {HB_ESCAPED}"
    assert safe(None) == "-" and safe(12) == "12"


@pytest.mark.parametrize("mode", ["always", "never"])
def test_style_escapes_what_it_colours(mode):
    style = Style(mode)
    _once(style(H, "red", "bold"), H_ESCAPED)
    assert style(Safe("\\x1b"), "red").count("\\x1b") == 1  # Safe: not escaped again
    if mode == "always":
        assert style("x", "red") == "\x1b[31mx\x1b[0m"


# -- every renderer, every field hostile -----------------------------------------------

def _creator() -> Dict[str, Any]:
    return {"pid": H, "uid": H, "exe": HB, "comm": HB}


def _domain_row() -> Dict[str, Any]:
    return {"domain": H, "node": H, "boot": 2, "status": H, "creator": _creator(),
            "mode": H, "creation_time": 1.0, "allocated_time": 1.0, "first_denial": 1.0,
            "last_denial": 2.0, "deallocated_time": None, "denials_logged": 1,
            "denials_reported": H, "missing": 1, "duplicate_allocations": 0,
            "blockers": {H: 3, "fs.read_file": 1}, "gap_causes": [H], "denials_selected": 1}


@pytest.mark.parametrize("mode", ["always", "never"])
def test_filter_line(mode):
    row = [Safe("2026-01-01 00:00:00.000"), H, H, HB, H, HB, H]
    _once(reports.filter_line(row, Style(mode)), H_ESCAPED, HB_ESCAPED)


def test_domain_paragraph_and_gap_note():
    row = _domain_row()
    text = reports.domain_text(row, utc=True)
    _once(text, H_ESCAPED, HB_ESCAPED)
    for piece in (f"domain {H_ESCAPED} ({H_ESCAPED}, boot 2, node {H_ESCAPED})",
                  f"created by {HB_ESCAPED} (pid {H_ESCAPED}, uid {H_ESCAPED}, {HB_ESCAPED})"
                  f", mode {H_ESCAPED}",
                  f"1 logged, {H_ESCAPED} counted", f"blockers: {H_ESCAPED} (3)",
                  f"gap: {H_ESCAPED}"):
        assert piece in text
    note = reports.gap_note(row)
    _once(note, H_ESCAPED)
    assert note.startswith(f"\n{H_ESCAPED}: the kernel counted {H_ESCAPED} denials")


def _table_and_csv(headers: List[str], rows: List[List[Any]]) -> List[str]:
    import io

    out = []
    for fmt in ("simple", "github", "grid", "plain"):
        stream = io.StringIO()
        tables.write_table(stream, headers, rows, fmt)
        out.append(stream.getvalue())
    stream = io.StringIO()
    tables.write_csv(stream, headers, rows)
    out.append(stream.getvalue())
    return out


def test_domain_table_and_csv():
    rows = [reports.domain_line(_domain_row(), utc=True, with_selected=True)]
    for text in _table_and_csv(reports.domain_headers(True), rows):
        _once(text, H_ESCAPED, HB_ESCAPED)
        assert f"{H_ESCAPED} (3)" in text


@pytest.mark.parametrize("by", [["domain"], ["blocker"], ["exe"], ["path"], ["syscall"],
                                ["domain", "blocker", "exe", "path", "syscall"]])
def test_summary_table_and_csv(by):
    row: Dict[str, Any] = {"domain": H, "node": H, "creator": _creator(),
                           "denials_logged": 1, "denials_reported": H, "blocker": H,
                           "exe": HB, "path": HB, "syscall": H, "count": 4,
                           "first": 1.0, "last": 2.0}
    reports._exe_and_pid.cache_clear()
    lines = [reports.summary_line(by, row, utc=True)]
    for text in _table_and_csv(reports.summary_headers(by), lines):
        _once(text, *([H_ESCAPED] if by != ["exe"] and by != ["path"] else [HB_ESCAPED]))
        if "domain" in by:
            assert f"{HB_ESCAPED} [{H_ESCAPED}]" in text  # the creator's pid


def _explained(policy: Any) -> Dict[str, Any]:
    return {
        "time": 1.0, "last_time": 2.0, "count": 3, "serial": 7,
        "who": {"comm": HB, "exe": HB, "pid": H, "uid": H, "proctitle": HB,
                "from_creator": True},
        "what": {"syscall": H, "errno": H,
                 "rights": [{"name": H, "guards": None, "syscalls": [], "abi": None,
                             "applies_to": None},
                            {"name": H, "guards": H, "syscalls": [H, H], "abi": H,
                             "applies_to": "file"}]},
        "where": [HB, HB],
        "sandbox": {"domain": H, "creator": _creator(), "status": H, "boot": 0},
        "fix": [HB, H.encode("utf-8", "surrogateescape")],
        "hide": "-",
        "policy": policy,
    }


POLICIES = [
    None,
    {"consistent": False, "reason": H, "layer": None, "policy": None, "sentence": "",
     "toml": "", "findings": []},
    {"consistent": True, "reason": None, "layer": H, "policy": H, "sentence": H,
     "toml": f"[[path_beneath]]\nparent = [\"{H}\"]\n", "findings": []},
]


@pytest.mark.parametrize("policy", POLICIES, ids=["no policy", "disagrees", "blames"])
@pytest.mark.parametrize("mode", ["always", "never"])
@pytest.mark.parametrize("size", [1, 2])
def test_explain_paragraph(monkeypatch, policy, mode, size):
    # render_text reads the paragraph's denials (not explanation()): each
    # field of theirs is hostile; the rights' texts and the policy's verdict
    # are made hostile too.
    explained = _explained(policy)
    monkeypatch.setattr(explain_output, "rights", lambda blockers: explained["what"]["rights"])
    monkeypatch.setattr(explain_output, "against_policy", lambda p, pol: policy)
    explain_output._rights_text.cache_clear()
    process = {"comm": HB, "exe": HB, "pid": H, "uid": H, "proctitle": HB, "syscall": H,
               "errno": H}
    denials = [SimpleNamespace(time=1.0, operation_size=size, process=process,
                               creator=_creator(), domain=H, blockers=[H, "fs.read_file"],
                               object={"path": HB}, path=HB,
                               domain_info=SimpleNamespace(creator=_creator()))
               for _ in range(size)]
    paragraph = SimpleNamespace(denials=denials, first=denials[0], count=3, last_time=2.0)
    try:
        text = explain_output.render_text(paragraph, Style(mode), utc=True,  # type: ignore
                                          policy=policy and object())
    finally:
        explain_output._rights_text.cache_clear()
    _once(text, H_ESCAPED, HB_ESCAPED)
    bare = text.replace("\x1b[31m", "").replace("\x1b[0m", "").replace("\x1b[1m", "")
    bare = bare.replace("\x1b[36m", "").replace("\x1b[33m", "")
    assert f"{HB_ESCAPED} (pid {H_ESCAPED}, {HB_ESCAPED})" in bare
    assert f"{H_ESCAPED}() was refused with {H_ESCAPED}." in bare
    assert f"    {H_ESCAPED}: not a right this version of lldecode knows" in bare
    assert (f"    {H_ESCAPED}: {H_ESCAPED}; needed by {H_ESCAPED}, {H_ESCAPED} "
            f"(Landlock ABI {H_ESCAPED}); granted on files") in bare
    assert f"Landlock domain {H_ESCAPED}, created by {HB_ESCAPED} (pid {H_ESCAPED}, " in bare


# Any text at all (lone surrogates included) in every field.
_ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=12)
_ANY_BYTES = st.binary(max_size=12)
_ANY_NUMBER = st.one_of(st.none(), st.integers(), _ANY_TEXT)


@settings(max_examples=150, deadline=None)
@given(domain=_ANY_TEXT, status=_ANY_TEXT, mode=st.one_of(st.none(), _ANY_TEXT),
       node=st.one_of(st.none(), _ANY_TEXT), pid=_ANY_NUMBER, uid=_ANY_NUMBER,
       exe=st.one_of(st.none(), _ANY_BYTES), comm=st.one_of(st.none(), _ANY_BYTES),
       blocker=_ANY_TEXT, cause=_ANY_TEXT, reported=_ANY_NUMBER, syscall=_ANY_TEXT)
def test_any_value_in_any_field_is_escaped(domain, status, mode, node, pid, uid, exe, comm,
                                           blocker, cause, reported, syscall):
    creator = {"pid": pid, "uid": uid, "exe": exe, "comm": comm}
    row = {"domain": domain, "node": node, "boot": 0, "status": status, "creator": creator,
           "mode": mode, "first_denial": None, "last_denial": None, "denials_logged": 1,
           "denials_reported": reported, "missing": 1, "blockers": {blocker: 1},
           "gap_causes": [cause], "denials_selected": 1}
    out = [reports.domain_text(row, utc=True), reports.gap_note(row),
           reports.filter_line([Safe("-"), domain, blocker, exe, syscall, comm, pid],
                               Style("always"))]
    reports._exe_and_pid.cache_clear()
    out += _table_and_csv(reports.domain_headers(True),
                          [reports.domain_line(row, utc=True, with_selected=True)])
    summary = {"domain": domain, "creator": creator, "denials_logged": 1,
               "denials_reported": reported, "blocker": blocker, "exe": exe,
               "syscall": syscall, "count": 1, "first": None, "last": None}
    by = ["domain", "blocker", "exe", "syscall"]
    out += _table_and_csv(reports.summary_headers(by), [reports.summary_line(by, summary, True)])
    for text in out:
        assert_clean_text(text)
        text.encode("utf-8")  # nothing that cannot be written


# -- the renderers' source: each value formatted through safe() -------------------------

# The modules that render values (from the log, or the command line) as
# text; each ``{...}`` of their f-strings must be safe(...), style(...) or
# format_time(...).
TEXT_RENDERERS = ["explain.py", "reports.py", "simulation.py", "doctor.py"]
# The other modules of lldecode/output, and why the rule does not apply.
NOT_TEXT_RENDERERS = {
    "__init__.py": "empty",
    "escape.py": "the escaping itself",
    "text.py": "safe, Style (lldecode's own colour codes) and times",
    "tables.py": "makes every cell and header safe as it takes it (write_table, write_csv)",
    "jsonable.py": "JSON: every writer converts its value (dumps)",
    "masks.py": "an access mask given on the command line, as an int, and lldecode's model",
    "progress.py": "stderr: the file name is escaped where it is taken (watch)",
    "flat.py": "CSV and TSV: every cell made safe where it is written (flat_cell)",
    "sqlite.py": "a database: values by the JSON rule (jsonable), as SQL parameters",
    "ci.py": "CI formats: each text made safe as a Finding is built, then escaped for the "
             "format (workflow command, XML, JSON); tests/output/test_ci_formats.py",
    "markdown.py": "Markdown cells of text tables.py made safe already",
    "run.py": "lldecode run's summary: each value from the log or the command line made safe "
              "where it is taken (safe); numbers and lldecode's words otherwise; hostile paths "
              "in tests/kernel/test_run.py",
    "suggest.py": "policy text escaped by landlock.policy_writer and toml_safe, notes by "
                  "escape_text; hostile logs in tests/cli/test_suggest_cli.py",
}
SAFE_CALLS = {"safe", "style", "format_time", "escape_text"}


def test_every_output_module_is_classified():
    modules = {p.name for p in (ROOT / "lldecode" / "output").glob("*.py")}
    assert modules == set(TEXT_RENDERERS) | set(NOT_TEXT_RENDERERS)


@pytest.mark.parametrize("name", TEXT_RENDERERS)
def test_every_interpolation_goes_through_safe(name):
    tree = ast.parse((ROOT / "lldecode" / "output" / name).read_text())
    raw = [f"line {node.lineno}: {ast.unparse(node)}" for node in ast.walk(tree)
           if isinstance(node, ast.FormattedValue)
           and not (isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
                    and node.value.func.id in SAFE_CALLS)]
    assert not raw, f"{name}: interpolations not made safe: {raw}"


@pytest.mark.parametrize("stamp, shown", [
    (1795737091.549, "2026-11-26 23:51:31.549Z"), (1795737091.9996, "2026-11-26 23:51:32.000Z"),
    (-5.5, "1969-12-31 23:59:54.500Z"), (1e17, "1e+17"), (1e300, "1e+300"),
    (-1e12, "-1000000000000.0"),
    (float("inf"), "inf"), (float("nan"), "nan"), (253402300800.0, "253402300800.0"),
])
def test_any_time_a_log_claims_is_shown(stamp, shown):
    """A log can claim any time: one no calendar shows is shown as its
    number of seconds, never an error (OSError would read as a write error)."""
    from lldecode.output.text import format_time

    assert format_time(stamp, utc=True) == shown
    format_time(stamp, utc=False)
