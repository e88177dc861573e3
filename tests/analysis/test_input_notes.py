"""Records the kernel console suppressed are reported, wherever the notice is
in the input (lldecode.analysis.domain_report.input_notes)."""

from __future__ import annotations

from lldecode.analysis.domain_report import domain_rows, input_notes, suppression_note
from lldecode.analysis.pipeline import Reading
from lldecode.audit.records import Diagnostics
from tests.conftest import FIXTURES

RATELIMITED = FIXTURES / "dmesg-ratelimited.txt"
NOTICE = "kauditd_printk_skb: 8992 callbacks suppressed"


def lines():
    return RATELIMITED.read_text("latin-1").splitlines()


def read(tmp_path, kept):
    path = tmp_path / "dmesg.txt"
    path.write_text("\n".join(kept) + "\n", "latin-1")
    reading = Reading([str(path)], Diagnostics(quiet=True))
    denials = list(reading.denials())
    return reading, denials


def notice_first():
    """dmesg-ratelimited.txt with its only suppression notice before every record."""
    return [line for line in lines() if NOTICE in line] + [
        line for line in lines() if NOTICE not in line]


def test_the_notice_first_is_a_gap_cause_of_the_burst_domain(tmp_path):
    reading, denials = read(tmp_path, notice_first())
    assert len(denials) == 4 and reading.grouper.stats.suppressed == 8992
    rows = list(domain_rows(reading.registry, reading.grouper.stats))
    burst = next(r for r in rows if r["denials_reported"] is None)
    assert any("8992 records were suppressed" in c for c in burst["gap_causes"])
    domains = list(reading.registry.ordered())
    # the domains report carries it: no note for the input as a whole...
    assert input_notes(reading.grouper.stats, domains) == []
    # ...but a report that shows no gap causes gets it
    assert input_notes(reading.grouper.stats) == [suppression_note(reading.grouper.stats)]


def test_the_notice_and_only_complete_domains(tmp_path):
    """The suppressed records were whole domains: the one domain left is complete."""
    kept = [line for line in notice_first()
            if NOTICE in line or "1b6b198da" in line or ":18717)" in line]
    reading, denials = read(tmp_path, kept)
    assert len(denials) == 1
    (row,) = domain_rows(reading.registry, reading.grouper.stats)
    assert row["denials_logged"] == row["denials_reported"] == 1 and row["gap_causes"] == []
    notes = input_notes(reading.grouper.stats, list(reading.registry.ordered()))
    assert notes == [
        "the kernel console suppressed 8992 records in this input (kauditd_printk_skb: "
        "callbacks suppressed): denials are missing from it, maybe whole domains, and no "
        "record says which; the audit daemon's log (auditd) is not rate limited so"]


def test_the_notice_alone(tmp_path):
    reading, denials = read(tmp_path, [line for line in lines() if NOTICE in line])
    assert denials == [] and len(reading.registry) == 0
    assert input_notes(reading.grouper.stats, []) == [suppression_note(reading.grouper.stats)]
    assert "8992 records" in suppression_note(reading.grouper.stats)


def test_no_notice_no_note():
    reading = Reading([str(FIXTURES / "dmesg.txt")], Diagnostics(quiet=True))
    list(reading.denials())
    assert suppression_note(reading.grouper.stats) is None
    assert input_notes(reading.grouper.stats) == []
