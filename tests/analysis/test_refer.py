"""explain on renames and links refused by Landlock's refer rule
(lldecode.analysis.explain.refer_rule), on the real captures."""

from __future__ import annotations

import re

import pytest

from lldecode.analysis import explain
from lldecode.analysis.pipeline import Reading
from lldecode.audit.records import Diagnostics
from tests.conftest import FIXTURES, SAMPLES

RULE = ("must not give the file access rights at its new place that it did not have "
        "at the old one")


def explained(path, serial=None):
    denials = Reading([str(path)], Diagnostics(quiet=True)).denials()
    paragraphs = explain.paragraphs(explain.operations(denials))
    out = [explain.explanation(p) for p in paragraphs]
    return [e for e in out if serial is None or e["serial"] == serial]


def text(fixes):
    return [f.decode("utf-8", "surrogateescape") for f in fixes]


def rights_named(sentences):
    """The rights the sentences name, but fs.refer (the rule's own name)."""
    return set(re.findall(r"\b(?:fs|net|scope)\.[a-z_]+", " ".join(sentences))) - {"fs.refer"}


def blockers_of(e):
    return {b for d in e["refer"]["directories"] for b in d["missing"]}


# The three refer scenarios of the capture (fixtures/README.md), in every
# carrier that keeps the SYSCALL record with the denial.
CARRIERS = ["auditd-raw.log", "auditd-enriched.log", "auditd-node.log", "ausearch-i.txt",
            "ausearch-raw.txt", "dmesg.txt", "dmesg-T.txt"]


@pytest.fixture(scope="module", params=CARRIERS)
def refer_paragraphs(request):
    found = [e for e in explained(FIXTURES / request.param) if "refer" in e]
    assert len(found) == 3, request.param
    return found


def test_link_refused_with_exdev(refer_paragraphs):
    link = refer_paragraphs[0]
    refer = link["refer"]
    assert refer["operation"] == "link" and refer["errno"] == "EXDEV"
    assert [d["role"] for d in refer["directories"]] == ["source", "destination"]
    assert [d["missing"] for d in refer["directories"]] == [["fs.refer"], ["fs.refer"]]
    assert [p.rsplit(b"/", 1)[1] for p in refer["refer_missing"]] == [b"src", b"dst"]
    assert not refer["compared_all"] and refer["gained"] == [] and refer["needed"] == []
    fixes = text(link["fix"])
    assert RULE in fixes[0] and fixes[0].startswith("the link was refused by Landlock's refer rule")
    assert fixes[1].startswith("EXDEV: only the refer rule refused it (fs.refer is not granted")
    assert "mv falls back to copying the file and deleting the original" in fixes[1]
    src, dst = (d["path"].decode() for d in refer["directories"])
    assert fixes[2] == (f"narrowest fix, in the ruleset of domain {link['sandbox']['domain']}: "
                        f"allow fs.refer beneath both {src} and {dst}; and keep the rights "
                        f"granted at {dst} a subset of those at {src}")
    assert len(fixes) == 3


@pytest.mark.parametrize("index, destination_missing", [
    (1, ["fs.make_reg", "fs.refer"]),                    # rename
    (2, ["fs.remove_file", "fs.make_reg", "fs.refer"]),  # rename over an existing file
])
def test_rename_refused_with_eacces(refer_paragraphs, index, destination_missing):
    rename = refer_paragraphs[index]
    refer = rename["refer"]
    assert refer["operation"] == "rename" and refer["errno"] == "EACCES"
    assert [d["missing"] for d in refer["directories"]] == [
        ["fs.remove_file", "fs.refer"], destination_missing]
    src, dst = (d["path"] for d in refer["directories"])
    assert refer["needed"] == [
        {"path": src, "rights": ["fs.remove_file"]},
        {"path": dst, "rights": [b for b in destination_missing if b != "fs.refer"]}]
    fixes = text(rename["fix"])
    assert RULE in fixes[0]
    assert fixes[1].startswith("EACCES, not EXDEV: besides the refer rule, the rename lacks a "
                               "right it needs itself (fs.make_reg, fs.remove_file)")
    assert fixes[2].startswith("narrowest fix, in the ruleset of domain ")
    assert f"allow fs.remove_file beneath the directory {src.decode()}" in fixes[2]
    assert f"allow fs.refer beneath both {src.decode()} and {dst.decode()}" in fixes[2]


def test_only_the_rights_the_kernel_listed_are_named(refer_paragraphs):
    for e in refer_paragraphs:
        assert rights_named(text(e["fix"])) <= blockers_of(e)
        assert {r["name"] for r in e["what"]["rights"]} == blockers_of(e)
        assert not any("opened" in f for f in text(e["fix"]))


def test_the_sample_rename_with_exdev():
    (e,) = explained(SAMPLES / "kernel-6.18-raw-audit.log", serial=41626)
    assert e["refer"]["operation"] == "rename" and e["refer"]["errno"] == "EXDEV"
    fixes = text(e["fix"])
    assert "allow fs.refer beneath both /var/tmp/demo/data and /var/tmp/demo/ok" in fixes[-1]
    assert "keep the rights granted at /var/tmp/demo/ok a subset of those at /var/tmp/demo/data" \
        in fixes[-1]


def test_without_a_syscall_record_the_operation_is_unnamed():
    """The Landlock lines alone (no SYSCALL record): the two directories are
    still paired, but rename and link cannot be told apart, nor the errno."""
    found = [e for e in explained(FIXTURES / "auditd-landlock-only.log") if "refer" in e]
    assert len(found) == 3
    for e in found:
        assert e["refer"]["operation"] == "rename or link" and e["refer"]["errno"] is None
        assert [d["role"] for d in e["refer"]["directories"]] == ["source", "destination"]
        fixes = text(e["fix"])
        assert RULE in fixes[0] and "EXDEV when the refer rule alone refuses" in fixes[1]
        assert "allow fs.refer beneath both " in fixes[-1]


def test_other_denials_keep_their_fixes():
    out = explained(FIXTURES / "auditd-raw.log")
    truncate = next(e for e in out if e["what"]["syscall"] == "ftruncate")
    assert "refer" not in truncate
    assert any(b"truncate and ioctl_dev on an open file" in f for f in truncate["fix"])
    # (issue 12: not for truncate(2) by path)
    by_path = next(e for e in out if e["what"]["syscall"] == "truncate")
    assert not any(b"truncate and ioctl_dev on an open file" in f for f in by_path["fix"])
    assert sum("refer" in e for e in out) == 3


def gained_rights_log(tmp_path):
    """The capture's rename event (serial 5344) as the kernel logs it when
    fs.refer is granted on both directories but the destination grants
    fs.write_file and fs.truncate, which the source does not: EXDEV, and each
    record lists every right its layer does not grant at the directory."""
    lines = (FIXTURES / "auditd-raw.log").read_text("latin-1").splitlines()
    event = [line for line in lines if ":5344):" in line]
    source = "fs.execute,fs.write_file,fs.read_dir,fs.make_reg,fs.truncate,fs.ioctl_dev"
    destination = "fs.execute,fs.read_dir,fs.remove_file,fs.ioctl_dev"
    edited = [line.replace("blockers=fs.remove_file,fs.refer", f"blockers={source}")
                  .replace("blockers=fs.make_reg,fs.refer", f"blockers={destination}")
                  .replace("exit=-13", "exit=-18") for line in event]
    path = tmp_path / "gained.log"
    path.write_text("\n".join(edited) + "\n", "latin-1")
    return path


def test_a_rename_that_would_give_the_file_rights(tmp_path):
    (e,) = explained(gained_rights_log(tmp_path))
    refer = e["refer"]
    assert refer["errno"] == "EXDEV" and refer["compared_all"]
    assert refer["refer_missing"] == [] and refer["needed"] == []
    assert refer["gained"] == ["fs.write_file", "fs.truncate"]
    fixes = text(e["fix"])
    src, dst = (d["path"].decode() for d in refer["directories"])
    assert "(the file would gain rights by moving)" in fixes[1]
    assert fixes[2] == (f"moving it from {src} to {dst} would give the file fs.write_file, "
                        "fs.truncate: granted at the destination, not at the source")
    assert "every right their layer does not grant" in fixes[3]
    assert fixes[4].endswith(f"stop granting fs.write_file, fs.truncate at {dst}, or grant "
                             f"them at {src} too")
    # no hint about files opened before the ruleset: nothing was opened
    assert not any("open file" in f for f in fixes)
    assert rights_named(fixes) <= blockers_of(e)
