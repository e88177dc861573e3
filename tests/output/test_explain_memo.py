"""explain's fast paths give what the plain code gives (issue 11).

render_text and explanation_record memoize texts per process, creator,
blocker list and syscall, and build phrases and JSON lists by fast paths;
these tests hold them to the plain formulas they replace, on hostile
values, and check that what is kept stays bounded (long values of a
forged log are not kept).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lldecode.analysis import explain as analysis
from lldecode.output import explain as text_explain
from lldecode.output import jsonable
from lldecode.output.reports import created_by
from lldecode.output.text import Safe, safe

PIECES = st.one_of(st.binary(max_size=12), st.text(max_size=12).filter(
    lambda t: not any(0xD800 <= ord(c) <= 0xDFFF and not 0xDC80 <= ord(c) <= 0xDCFF
                      for c in t)),
    st.integers(), st.none(), st.lists(st.binary(max_size=4), max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=6))
def test_phrase_is_the_joined_text(pieces: Any) -> None:
    expected = "".join(analysis._plain(p) for p in pieces).encode("utf-8", "surrogateescape")
    assert analysis.phrase(*pieces) == expected


HOSTILE = [b"ok", b"\x1b[31mred\x1b[0m", b"a\\b", b"\xff\xfe", "caf\xe9".encode(), b"\n"]


def _actor_reference(comm: Any, pid: Any, exe: Any, from_creator: bool) -> str:
    """The text render_text wrote before it was memoized."""
    name = safe(comm) if comm is not None else Safe("a process")
    parts = []
    if pid is not None:
        parts.append(Safe(f"pid {safe(pid)}"))
    if exe is not None:
        parts.append(safe(exe))
    text = f"{safe(name)} ({safe(parts)})" if parts else name
    if from_creator:
        text += " [from the domain's creator: the event has no SYSCALL record]"
    return text


def test_memoized_texts_are_the_plain_ones() -> None:
    for comm in HOSTILE + [None]:
        for pid in (None, 12, "12", "x\x1by"):
            for exe in HOSTILE + [None]:
                for from_creator in (False, True):
                    got = text_explain._actor(comm, pid, exe, from_creator)
                    assert got == _actor_reference(comm, pid, exe, from_creator)
                creator = {k: v for k, v in (("comm", comm), ("pid", pid), ("exe", exe))
                           if v is not None}
                assert text_explain._made(comm, pid, exe) == created_by(creator)  # type: ignore


def test_long_values_are_not_kept() -> None:
    text_explain._actor_text.cache_clear()
    text_explain._made_text.cache_clear()
    long = b"/" + b"x" * 100_000
    for n in range(20):
        exe = long + str(n).encode()
        assert text_explain._actor(b"comm", n, exe, False).endswith(f"{n})")
        assert text_explain._made(b"comm", n, exe).endswith(f"{n})")
    assert text_explain._actor_text.cache_info().currsize == 0
    assert text_explain._made_text.cache_info().currsize == 0
    # and short ones are kept, up to a bound
    for n in range(3 * text_explain._KEPT):
        text_explain._actor(b"comm", n, b"/bin/x", False)
    info = text_explain._actor_text.cache_info()
    assert 0 < info.currsize <= text_explain._KEPT


def test_json_fast_paths_are_the_plain_conversion() -> None:
    for value in ([b"a", "b"], [], [b"\xff", b"a"], ["caf\xe9"], [b"ok", "\udcff"]):
        fast: dict = {}
        jsonable._with_hex(fast, "k", list(value))
        assert fast == {"k": jsonable.convert(list(value)),
                        "k_hex": jsonable._stable_hex(list(value))}
    right = analysis.rights(["fs.read_file", "no.such\udcff", "ptrace"])
    for r in right:
        first, second = jsonable._right_record(r), jsonable._right_record(r)
        assert first == second == jsonable.convert(r)
        assert first is not second and first.get("syscalls") is not second.get("syscalls")
    assert jsonable.refer_record(None) == {
        "refused": False, "operation": None, "errno": None, "directories": [],
        "refer_missing": [], "refer_missing_hex": None, "compared_all": None,
        "gained": [], "needed": []}
