"""``lldecode run`` without the kernel: its help, its errors, its summary
(the runs themselves are in tests/kernel/test_run.py)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from lldecode.analysis.live_run import Group, Summary, Tracker
from lldecode.analysis.pipeline import Reading
from lldecode.audit.records import Diagnostics
from lldecode.cli.app import cli
from lldecode.output.run import command_line, render_summary
from lldecode.output.text import Style

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_help_has_examples_and_exit_statuses():
    out = " ".join(invoke("run", "--help").output.split())
    assert "lldecode run --policy base.toml --suggest --write-policy fixed/ -- ./app" in out
    assert "Exit status: CMD's (128+N when a signal N killed it; 126" in out
    assert "125 when lldecode fails itself" in out
    for option in ("--log-new-exec / --no-log-new-exec", "--learn N", "--write-policy DIR",
                   "-o, --output FILE", "--enable-audit"):
        assert option in out


def test_a_policy_that_cannot_be_read_is_status_125(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[ruleset]]\nhandled_access_fs = ['read_fiel']\n")
    result = invoke("run", "--policy", str(bad), "--", "true")
    assert result.exit_code == 125
    assert "unknown fs access right 'read_fiel'" in result.output


def test_no_command_is_a_usage_error():
    result = invoke("run", "--policy", str(FIXTURES / "policies" / "base-system.toml"))
    assert result.exit_code == 2
    assert "Missing argument" in result.output


def test_summary_escapes_what_the_log_and_the_command_hold():
    denials = [d for _, ds in Reading([str(FIXTURES / "auditd-raw.netlink")],
                                      Diagnostics()).events() for d in ds]
    tracker = Tracker(8472, ancestry=lambda pid: [])
    mine = [d for d in denials if tracker.claims(d)]
    summary = Summary(("sh", "-c", "cat \x1b[31m; exit 3"), 8472, 3, None, 100.0, 100.5,
                      2, [Group([mine[0]], 2, None)], 0, [mine[0].domain_info], [], True)
    text = render_summary(summary, Style("never"))
    assert "\x1b" not in text
    assert "exited with status 3 after 0.50 s" in text
    assert "2 denied operations (1 distinct) in 1 domain:" in text
    assert "2x  fs.read_file  /tmp/llcapture-u_k9p5k5/fs_read_file/file" in text
    assert "domain 1b6b1611c: 1 denials logged, the kernel counted 1" in text
    assert command_line(["a b", "c"]) == "'a b' c"
