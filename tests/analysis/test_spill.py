"""Bounded memory for large reports: spilled stores and streamed tables
give exactly what the in-memory versions give."""

from __future__ import annotations

import io
import random

import pytest
from tabulate import tabulate, tabulate_formats

from lldecode.analysis.domain_report import domain_rows
from lldecode.analysis.domains import DomainRegistry
from lldecode.analysis.pipeline import Reading
from lldecode.analysis.summarize import Summary
from lldecode.audit.records import Diagnostics
from lldecode.output.tables import cell_renderer, write_table
from lldecode.spill import FinishedStore, GroupCounts
from tests.conftest import SAMPLES

RAW = str(SAMPLES / "kernel-6.18-raw-audit.log")


def test_group_counts_spill_and_merge():
    rng = random.Random(7)
    events = [(rng.choice("abcdefghij") + rng.choice("xyz"), rng.random() * 100)
              for _ in range(2000)]
    small, big = GroupCounts(in_memory=3), GroupCounts(in_memory=10 ** 6)
    for key, stamp in events:
        small.add((key, b"\xff" + key.encode(), None), stamp)
        big.add((key, b"\xff" + key.encode(), None), stamp)
    assert small.spilled > 0
    assert list(small.ordered()) == list(big.ordered())
    assert len(list(small.ordered())) == len({k for k, _ in events})


def test_finished_store_spills_and_merges_in_order():
    store = FinishedStore(lambda e: e, tuple, lambda e: (e[0], e[1]), in_memory=2)
    entries = [("n", i, f"e{i}") for i in (5, 3, 9, 1, 7, 2)]
    for entry in entries:
        store.add(entry[2], entry)
    assert store.get("e9") == ("n", 9, "e9") and store.get("e3") == ("n", 3, "e3")
    assert store.get("nope") is None
    assert [e[1] for e in store.ordered()] == [1, 2, 3, 5, 7, 9]
    assert len(store) == 6


def test_registry_spilling_finished_domains_reports_the_same(monkeypatch):
    def report(limit):
        registry = DomainRegistry()
        registry.finished.in_memory = limit
        reading = Reading([RAW], Diagnostics(quiet=True), registry=registry)
        summary = Summary(["domain", "blocker"])
        for denial in reading.denials():
            summary.add(denial)
        return (list(domain_rows(registry, reading.grouper.stats)),
                list(summary.rows(registry)))

    assert report(1) == report(10 ** 6)


@pytest.mark.parametrize("fmt", tabulate_formats)
def test_streamed_tables_match_tabulate(fmt):
    """Every tabulate format: the streamed table (row layout learnt from a
    probe, or tabulate in batches) is the table tabulate draws at once."""
    rng = random.Random(3)
    rows = [[("a" * rng.randint(1, 9)).encode(), rng.randint(0, 10 ** rng.randint(1, 6)), None,
             "x\x1by{0}"] for _ in range(53)]
    out = io.StringIO()
    write_table(out, ["A", "BB", "C", "D"], iter(rows), fmt, batch=7)
    render = cell_renderer(fmt)  # (a Markdown format shows each cell as itself)
    direct = tabulate([[render(v) for v in r] for r in rows], headers=["A", "BB", "C", "D"],
                      tablefmt=fmt, disable_numparse=True) + "\n"
    assert out.getvalue() == direct


def test_table_layout_keeps_braces_of_the_format_literal():
    """A format whose row text holds braces: drawn as text, not as a template."""
    from lldecode.output.tables import _TableLayout

    layout = _TableLayout([], ["{ ", " }{", " {0}"], [], [], [3, 2], strip=False)
    assert layout.line(["ab", "{}"]) == "{ ab  }{{} {0}"
