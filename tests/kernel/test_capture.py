"""The capture tool against the real kernel: scenarios through the netlink mode."""

from __future__ import annotations

import re
from typing import Dict, List, Tuple

import pytest

from tools.kernel import capture
from tools.kernel.scenarios import BY_NAME

ACCESS = re.compile(r"audit\(\d+\.\d+:(\d+)\): domain=([0-9a-f]+) blockers=(\S+)")
ALLOCATED = re.compile(r"domain=([0-9a-f]+) status=allocated .*\bpid=(\d+) ")
DEALLOCATED = re.compile(r"domain=([0-9a-f]+) status=deallocated denials=(\d+)")
NAMES = ("fs_read_file", "fs_refer_link", "net_connect_tcp", "nested_middle")


@pytest.fixture(scope="module")
def captured(landlock_audit, skip_if_disturbed
             ) -> Tuple[List[Tuple[int, str]], Dict[str, dict]]:
    """The capture; every test of it is skipped when the audit subsystem was
    disturbed meanwhile (records lost, a daemon came or went, audit switched
    off or reconfigured, the multicast socket overran)."""
    with skip_if_disturbed():
        records, reports = capture.capture_netlink([BY_NAME[name] for name in NAMES],
                                                   undisturbed=True)
    return records, {report["scenario"]: report for report in reports}


def domains_of(pid: int, records) -> List[str]:
    """The domains ``pid`` created (and got logged), oldest first."""
    found = [m.groups() for t, p in records if t == 1424 and (m := ALLOCATED.search(p))]
    return sorted((domain for domain, creator in found if int(creator) == pid),
                  key=lambda domain: int(domain, 16))


def access_records(records, domains) -> List[Tuple[str, str, str]]:
    """(serial, domain, blockers) of the LANDLOCK_ACCESS records of ``domains``."""
    found = [m.groups() for t, p in records if t == 1423 and (m := ACCESS.search(p))]
    return [record for record in found if record[1] in domains]


def scenario_records(name: str, captured) -> List[Tuple[str, str, str]]:
    records, reports = captured
    return access_records(records, domains_of(reports[name]["value"]["pid"], records))


@pytest.mark.kernel
@pytest.mark.parametrize("name", NAMES)
def test_the_scenario_is_denied_as_expected(name, captured):
    report = captured[1][name]
    assert report["ok"], report
    assert report["unexpected"] == []


@pytest.mark.kernel
@pytest.mark.parametrize("name", NAMES)
def test_access_records_carry_the_expected_blockers(name, captured):
    blockers = tuple(record[2] for record in scenario_records(name, captured))
    assert blockers == BY_NAME[name].blockers


@pytest.mark.kernel
def test_a_cross_directory_link_is_one_event_of_two_records(captured):
    serials = {record[0] for record in scenario_records("fs_refer_link", captured)}
    assert len(serials) == 1


@pytest.mark.kernel
def test_the_middle_layer_is_charged(captured):
    """Each layer's mkdir marker names its domain; the read is the middle's."""
    *markers, read = scenario_records("nested_middle", captured)
    layer_domains = [record[1] for record in markers]
    assert len(set(layer_domains)) == 3
    assert layer_domains == sorted(layer_domains, key=lambda domain: int(domain, 16))
    assert read[1] == layer_domains[1]


@pytest.mark.kernel
def test_every_logged_domain_is_deallocated_with_its_denial_count(captured):
    records, reports = captured
    freed = dict(m.groups() for t, p in records if (m := DEALLOCATED.search(p)))
    for name, report in reports.items():
        for domain in domains_of(report["value"]["pid"], records):
            logged = access_records(records, [domain])
            assert int(freed[domain]) == len(logged), (name, domain)


def test_the_tool_refuses_to_run_where_it_cannot(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(capture, "unavailable_reason", lambda: "not root")
    assert capture.main(["netlink", "-o", str(tmp_path / "out")]) == 2
    assert "not root" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
