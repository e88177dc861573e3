"""The fast path and the grammar read every dialect the same way.

The pyparsing grammar (lldecode.audit.grammar) is the specification; the regular
expressions of lldecode.audit.syntax serve well-formed lines.  Hypothesis draws
records in every carrier, with and without prefixes, well-formed and
corrupted, some giving a key twice, and both readers must return the same
header and fields (and say the same of a repeated key: each keeps the first
value), or both reject the line.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from lldecode.audit import grammar, records
from lldecode.audit import syntax as fastpath
from lldecode.audit.values import decode_untrusted
from tests import strategies as S

# LLDECODE_EXAMPLES=4000 for a longer search than the suite's default.
SETTINGS = settings(max_examples=int(os.environ.get("LLDECODE_EXAMPLES", "400")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def fast_read(line):
    """(header, fields) by the fast path, None when it rejects the line."""
    try:
        header = fastpath.find_record(line)
    except fastpath.HeaderError:  # a time or serial out of range
        return None
    if header is None:
        return None
    if (fastpath.landlock_kind(header.type) != fastpath.OTHER
            and records.check_landlock(header.type, header.carrier, header.body)[0]):
        return None
    return header, records.split_body(header.body, header.carrier == "interpreted")


def grammar_read(line):
    try:
        return grammar.parse_line(line)
    except grammar.GrammarError:
        return None


def spellable(desc, carrier):
    if carrier in ("printk", "netlink", "journal", "journal-json") and desc["type"] in S.DROP_TYPES:
        return False
    if carrier == "interpreted":
        return S.interpreted_safe(desc)
    return True


@SETTINGS
@given(desc=S.record_description(), carrier=st.sampled_from(S.CARRIERS),
       prefix=st.sampled_from(S.PREFIXES))
def test_both_readers_agree_on_well_formed_records(desc, carrier, prefix):
    assume(spellable(desc, carrier))
    if carrier not in ("raw", "enriched", "printk"):
        prefix = ""
    line = S.spell(desc, carrier, prefix)
    fast = fast_read(line)
    assert fast is not None, line
    assert grammar_read(line) == fast
    header, fields = fast
    if header.kind != fastpath.OTHER:
        # A key given twice: both say so (and keep the first value).
        repeated = S.repeated_keys(desc)
        problem = fastpath.duplicate_problem(fields)
        assert grammar.diagnose(line) == (problem or "")
        assert (problem is None) == (not repeated), line
        if problem:
            assert all(f"{key}=" in problem for key in repeated[:4])


@SETTINGS
@given(desc=S.record_description(), carrier=st.sampled_from(["raw", "enriched", "printk",
                                                             "netlink", "interpreted",
                                                             "journal-json"]))
def test_readers_return_what_was_written(desc, carrier):
    assume(spellable(desc, carrier))
    line = S.spell(desc, carrier)
    header, fields = fast_read(line)
    assert header.serial == desc["serial"]
    if carrier in ("raw", "enriched", "interpreted"):
        assert header.node == desc["node"]
        assert header.type == desc["type"]
    if carrier != "interpreted":
        assert header.time == pytest.approx(desc["sec"] + desc["ms"] / 1000)
    got = fastpath.first_values(fields)
    interpreted = carrier == "interpreted"
    for key, (value, raw) in S.first_values(desc).items():
        if raw is not None:
            assert decode_untrusted(got[key], interpreted) == raw
        elif isinstance(value, tuple):
            assert got[key] == (value[1] if interpreted else value[0])
        else:
            assert got[key] == value


def corruptions(line):
    """Ways a line gets damaged in real logs."""
    return st.one_of(
        st.integers(min_value=1, max_value=max(1, len(line) - 1)).map(lambda n: line[:n]),
        st.integers(min_value=0, max_value=len(line)).map(lambda n: line[:n] + '"' + line[n:]),
        st.integers(min_value=0, max_value=len(line)).map(lambda n: line[:n] + "\x00" + line[n:]),
        st.just(line.replace("domain=", "domain=zz", 1)),
        st.just(line.replace("blockers=", "blokers=", 1)),
        st.just(line.replace(" msg=audit(", " msg=audit(x", 1)),
        st.just(line.replace("):", ")", 1)),
    )


@SETTINGS
@given(data=st.data(), desc=S.record_description(),
       carrier=st.sampled_from(["raw", "enriched", "printk", "netlink", "interpreted"]))
@example(data=None, desc=None, carrier=None)
def test_both_readers_agree_on_damaged_records(data, desc, carrier):
    if data is None:  # the explicit example: a line cut in the middle of a quoted path
        line = ('type=UNKNOWN[1423] msg=audit(1795734402.061:42481): domain=17fceddb6 '
                'blockers=fs.truncate path="/tmp/ab')
    else:
        assume(desc["type"] not in S.OTHER_TYPES and spellable(desc, carrier))
        line = data.draw(corruptions(S.spell(desc, carrier)))
    assert (fast_read(line) is None) == (grammar_read(line) is None), line
    if fast_read(line) is not None:
        assert fast_read(line) == grammar_read(line)


def test_real_samples_agree(sample_lines):
    checked = 0
    for line in sample_lines:
        fast = fast_read(line)
        if fast is None:
            continue
        assert grammar_read(line) == fast, line
        checked += 1
    assert checked > 5000


def test_hot_path_records_match_the_fast_path_header(sample_lines):
    """The records read_lines parses on its hot path (no intermediate Header)
    are what a Record made from find_record's header is."""
    import io

    from lldecode.audit.records import Record, read_lines
    from lldecode.audit.sources import Source

    lines = sample_lines[:3000]
    data = "".join(line + "\n" for line in lines).encode("latin-1")
    source = Source("f", lambda: io.BytesIO(data))
    checked = 0
    for hot in read_lines(source, records.Diagnostics(quiet=True)):
        if not isinstance(hot, Record):
            continue
        slow = Record(fastpath.find_record(hot.line), "f", hot.lineno, hot.line)
        for attr in ("carrier", "node", "type", "time", "serial", "body", "enrichment", "pid",
                     "kind", "joined_type", "source", "lineno", "line"):
            assert getattr(hot, attr) == getattr(slow, attr), (attr, hot.line)
        assert hot.fields == slow.fields
        checked += 1
    assert checked > 1000


def test_plain_landlock_bodies_read_like_their_fields(fixtures_dir):
    """read_lines takes domain and blockers from the first words of a plain
    body, without reading its fields: the same as the fields say."""
    from lldecode.audit.sources import expand

    checked = 0
    for name in ("auditd-raw.log", "dmesg.txt", "journal-json.json", "ausearch-i.txt",
                 "samples/kernel-6.18-raw-audit.log"):
        for record in records.read_records(expand([str(fixtures_dir / name)]),
                                           records.Diagnostics(quiet=True)):
            if not isinstance(record, records.Record) or record.kind == "other":
                continue
            fields = dict(records.split_body(record.body, record.interpreted))
            assert record.domain == fields["domain"]
            assert record.blockers == fields.get("blockers")
            checked += 1
    assert checked > 300


@SETTINGS
@given(desc=S.record_description(), carrier=st.sampled_from(["raw", "enriched", "printk",
                                                             "netlink", "interpreted",
                                                             "journal-json", "journal"]),
       landlock_only=st.booleans())
def test_read_lines_keeps_the_first_value_of_a_repeated_key(desc, carrier, landlock_only):
    """The hot path (read_lines) and the fields of its records agree with
    the grammar: a Landlock record that gives a key twice is kept, with the
    first value of each key, and reported once."""
    from lldecode.audit.sources import LinesSource

    assume(desc["type"] not in S.OTHER_TYPES and spellable(desc, carrier))
    line = S.spell(desc, carrier)
    diagnostics = records.Diagnostics()
    got = [r for r in records.read_lines(LinesSource([line]), diagnostics, landlock_only)
           if isinstance(r, records.Record)]
    assert len(got) == 1, (line, diagnostics.messages)
    record = got[0]
    first = S.first_values(desc)
    assert record.domain == first["domain"][0]
    if "blockers" in first:
        assert record.blockers == first["blockers"][0]
    assert record.fields == fastpath.first_values(
        records.split_body(record.body, record.interpreted))
    repeated = S.repeated_keys(desc)
    if repeated:
        assert diagnostics.messages == [f"<lines>:1: {grammar.diagnose(line)}"]
        assert diagnostics.malformed == 1
    else:
        assert diagnostics.messages == [] and grammar.diagnose(line) == ""
