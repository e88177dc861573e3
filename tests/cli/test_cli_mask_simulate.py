"""The mask and simulate commands, through click and as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lldecode.cli.app import cli

POLICIES = Path(__file__).resolve().parents[2] / "fixtures" / "policies"
BASE = str(POLICIES / "base-system.toml")
PROJECT = str(POLICIES / "project.json")
NO_IOCTL = str(POLICIES / "no-dev-ioctl.toml")


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


# --- mask -------------------------------------------------------------------------

def test_mask_fs_json_and_text():
    result = invoke("mask", "fs", "0x4006", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output) == ["fs.write_file", "fs.read_file", "fs.truncate"]
    text = invoke("mask", "fs", "16390").output
    assert "fs access mask 0x4006 (16390)" in text
    assert "fs.truncate" in text and "truncate a file" in text


def test_mask_net_scope_and_empty():
    assert json.loads(invoke("mask", "net", "3", "-f", "json").output) == [
        "net.bind_tcp", "net.connect_tcp"]
    assert json.loads(invoke("mask", "scope", "0x2", "-f", "json").output) == ["scope.signal"]
    assert invoke("mask", "fs", "0").output.strip() == "fs access mask 0x0 (0): no right"


def test_mask_newer_rights_are_marked_or_rejected():
    assert "fs.resolve_unix" in invoke("mask", "fs", "0x10000").output
    result = invoke("mask", "fs", "0x10000", "--abi", "7")
    assert result.exit_code == 2
    assert "unknown fs access bit(s) 16" in result.output


def test_mask_deny_both_numberings():
    result = invoke("mask", "deny", "0x21", "-f", "json")
    assert json.loads(result.output) == {"fs.truncate": 1, "fs.ioctl_dev": 2}
    text = invoke("mask", "deny", "0x21").output
    assert "kernel layer (0-based)" in text and "layer (1-based" in text
    row = next(line for line in text.splitlines() if line.startswith("fs.ioctl_dev"))
    assert row.split()[1:] == ["2", "3"]
    assert json.loads(invoke("mask", "deny", "ff", "-f", "json").output) == {
        "fs.truncate": 15, "fs.ioctl_dev": 15}


@pytest.mark.parametrize("args,message", [
    (("fs", "0x1000000"), "unknown fs access bit(s) 24"),
    (("deny", "0x100"), "do not fit in 8 bits"),
    (("net", "zz"), "not a number: 'zz'"),
])
def test_mask_errors_are_one_line_with_status_2(args, message):
    result = invoke("mask", *args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lldecode mask: ")
    assert message in result.output


# --- simulate ---------------------------------------------------------------------

def test_simulate_denied_json():
    result = invoke("simulate", "--policy", BASE, "--policy", PROJECT, "write", "/etc/hostname",
                    "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.output)
    obj = document["denials"][0].pop("object")
    assert document == {"schema_version": 1, "allowed": False, "errno": "EACCES", "denials": [
        {"layer": 2, "policy": PROJECT, "policy_hex": None, "blockers": ["fs.write_file"]}]}
    # the object has the keys of a logged denial's (schema v1: docs/json.md)
    assert obj["path"] == "/etc/hostname" and obj["ino"] is None and obj["other"] == {}


def test_simulate_allowed_text():
    result = invoke("simulate", "--policy", BASE, "read", "/etc/hostname")
    assert result.exit_code == 0
    assert result.output.strip() == "read /etc/hostname: allowed"


def test_simulate_text_table_and_options():
    result = invoke("simulate", "--policy", BASE, "--policy", PROJECT, "--policy", NO_IOCTL,
                    "ioctl", "/dev/null")
    assert result.exit_code == 1
    assert "denied (EACCES)" in result.output and "fs.ioctl_dev" in result.output
    assert "ioctlcmd=0x541b" in result.output
    assert invoke("simulate", "--policy", NO_IOCTL, "ioctl", "/dev/null",
                  "--cmd", "FIOCLEX").exit_code == 0
    assert invoke("simulate", "--policy", NO_IOCTL, "ioctl", "/dev/null",
                  "--opened-under", "0").exit_code == 0
    assert invoke("simulate", "--policy", BASE, "signal", "--target-shares", "1").exit_code == 0


def test_simulate_cross_directory_rename_gives_one_denial_per_directory():
    both = json.loads(invoke("simulate", "--policy", PROJECT, "rename", "/tmp/a/f", "/tmp/b/f",
                             "-f", "json").output)
    assert [d["object"]["path"] for d in both["denials"]] == ["/tmp/a", "/tmp/b"]
    assert both["errno"] == "EACCES"
    # only the source directory lacks rights: one record
    one = json.loads(invoke("simulate", "--policy", PROJECT, "rename", "/tmp/project/src/f",
                            "/tmp/project/build/f", "-f", "json").output)
    assert [d["object"]["path"] for d in one["denials"]] == ["/tmp/project/src"]


@pytest.mark.parametrize("args,message", [
    (("--policy", BASE, "teleport", "/x"), "unknown operation 'teleport'"),
    (("--policy", BASE, "rename", "/x"), "usage: rename SRC DST"),
    (("--policy", "/nonexistent.toml", "read", "/x"), "/nonexistent.toml: cannot read"),
    (("--policy", BASE, "ioctl", "/dev/null", "--cmd", "FROB"), "unknown ioctl command"),
])
def test_simulate_errors_are_one_line_with_status_2(args, message):
    result = invoke("simulate", *args)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("lldecode simulate: ") and message in result.output


def test_simulate_policy_error_names_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[path_beneath]]\nallowed_access = ["read_fille"]\nparent = ["/"]\n')
    result = invoke("simulate", "--policy", str(bad), "read", "/x")
    assert result.exit_code == 2
    assert f"{bad}: path_beneath[0].allowed_access[0]: unknown fs access right" in result.output


def test_simulate_help_lists_operations():
    output = invoke("simulate", "--help").output
    for name in ("ftruncate PATH", "rename SRC DST", "abstract-connect [NAME]"):
        assert name in output


# --- as real processes ------------------------------------------------------------

def run_lldecode(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lldecode", *args], capture_output=True,
                          text=True, timeout=60)


def test_real_process_mask():
    done = run_lldecode("mask", "deny", "0x20", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"fs.truncate": 0, "fs.ioctl_dev": 2}


def test_real_process_simulate():
    done = run_lldecode("simulate", "--policy", BASE, "--policy", PROJECT, "ftruncate",
                        "/tmp/project/notes", "-f", "json")
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["denials"][0]["blockers"] == ["fs.write_file"]
    failed = run_lldecode("simulate", "--policy", BASE, "bind", "port")
    assert failed.returncode == 2
    assert failed.stderr.strip() == "lldecode simulate: not a port number: 'port'"
    assert "Traceback" not in failed.stderr
