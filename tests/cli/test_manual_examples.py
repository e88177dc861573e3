"""The examples of every command's --help (and so of the manual's EXAMPLES)
run, against this machine's ausearch (Debian 12: 3.0.9) and copies of the
fixtures named as in the examples."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools import gen_man

FIXTURES = ROOT / "fixtures"

# Examples that cannot run here: lldecode run and doctor drive the kernel's
# Landlock and audit (tests/kernel, under the shared lock), --follow and
# netlink: wait for more, --interactive needs a person, datasette is a
# server; the completion scripts are run by tests/cli/test_completion.py.
# Examples that cannot run unattended here, and why (each is tested elsewhere).
SKIPPED = {
    "lldecode run ": "sandboxes a program and reads the kernel's audit (tests/kernel/test_run.py)",
    "lldecode doctor": "probes this host's audit setup (tests/kernel/test_live_kernel.py)",
    "--follow": "waits for the log to grow (tests/cli/test_live_cli.py)",
    "-F ": "waits for the log to grow (tests/cli/test_live_cli.py)",
    "netlink:": "reads the kernel's audit live (tests/kernel/test_live_kernel.py)",
    "--interactive": "asks questions on a terminal (tests/cli/test_suggest_cli.py)",
    "datasette ": "starts a web server (datasette is not a dependency)",
    "eval ": "changes the running shell (tests/cli/test_completion.py)",
    "completion zsh": "needs an interactive zsh (tests/cli/test_completion.py)",
}


def _all():
    return [(name, line) for name, found in gen_man.all_examples() for line in found
            if not line.startswith("#")]


EXAMPLES = _all()


def test_every_command_has_examples_and_exit_statuses():
    from click import Context

    from lldecode.cli.app import cli

    ctx = Context(cli, info_name="lldecode")
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert gen_man.examples(command), f"lldecode {name} --help has no Examples block"
        text = command.get_help(Context(command, info_name=f"lldecode {name}"))
        assert "Exit status" in text, f"lldecode {name} --help gives no exit status"
        # ... and they end the help, after the options
        assert text.index("Options:") < text.rindex("Examples:") < text.rindex("Exit status"), (
            name)
        for line in gen_man.examples(command):
            # (an example may also show a tool reading what lldecode wrote)
            assert "lldecode " not in line or f"lldecode {name}" in line, (name, line)


def test_the_manual_opens_its_examples_with_ausearch_by_number():
    page = gen_man.render()
    examples = page.split(".SH EXAMPLES", 1)[1]
    first = examples.split(".nf\n", 1)[1].splitlines()[0]
    assert first == "ausearch \\-m 1423,1424 \\-\\-raw | lldecode explain"
    assert not re.search(r"ausearch[^\n]*-m LANDLOCK", page.replace("\\-", "-").split(
        ".SH EXAMPLES", 1)[1].split(".SH SHELL", 1)[0].replace(
        "not -m LANDLOCK_ACCESS", ""))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A directory with the files the examples name."""
    root = tmp_path_factory.mktemp("examples")
    raw = FIXTURES / "auditd-raw.log"
    for name in ("audit.log", "build.log"):
        shutil.copy(raw, root / name)
    for where in ("var/log/audit", "srv/logs/host1", "srv/logs/host2"):
        (root / where).mkdir(parents=True)
        shutil.copy(FIXTURES / "rotated" / "audit.log.1", root / where / "audit.log.1")
        shutil.copy(raw, root / where / "audit.log")
    policies = FIXTURES / "policies"
    shutil.copy(policies / "base-system.toml", root / "base.toml")
    for name in ("app.toml", "a.toml", "b.toml"):
        shutil.copy(policies / "no-dev-ioctl.toml", root / name)
    shutil.copy(FIXTURES / "journal-short-precise.txt", root / "journal.txt")
    shutil.copy(FIXTURES / "dmesg.txt", root / "dmesg.txt")
    (root / "home" / ".config" / "fish" / "completions").mkdir(parents=True)
    (root / "fixed").mkdir()
    (root / "learned").mkdir()
    return root


def _runnable(line: str) -> str:
    """The example as it runs here: absolute log paths made relative to the
    sandbox, ausearch reading the sandbox's log (it reads standard input when
    that is no terminal), journalctl and dmesg replaced by their captures."""
    line = line.replace("/var/log/audit/", "var/log/audit/").replace("/srv/logs/", "srv/logs/")
    line = re.sub(r"^ausearch ", "ausearch -if audit.log ", line)
    line = line.replace("journalctl -k -o short-precise", "cat journal.txt")
    line = re.sub(r"^dmesg \|", "cat dmesg.txt |", line)
    return line


@pytest.mark.skipif(shutil.which("ausearch") is None, reason="ausearch is not installed")
@pytest.mark.parametrize("command, example", EXAMPLES, ids=[e for _, e in EXAMPLES])
def test_example_runs(sandbox, command, example):
    for marker, why in SKIPPED.items():
        if marker in example:
            pytest.skip(f"not run unattended: {why}")
    for tool in re.findall(r"(?:^|\| *)([a-z0-9]+)", example):
        if shutil.which(tool) is None and tool != "lldecode":
            pytest.skip(f"{tool} is not installed")
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ["PATH"], TZ="UTC",
               HOME=str(sandbox / "home"), GITHUB_STEP_SUMMARY=str(sandbox / "summary.md"),
               NO_COLOR="1")
    runnable = _runnable(example)
    result = subprocess.run(["bash", "-o", "pipefail", "-c", runnable], cwd=sandbox, env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and "internal error" not in err, err
    assert result.returncode in (0, 1), f"{runnable}: exit {result.returncode}\n{err}"
    if example.startswith("ausearch "):
        # ausearch 3.0.9 finds the records by number, lldecode reads its output
        assert result.returncode == 0 and result.stdout.strip(), err


@pytest.mark.skipif(shutil.which("ausearch") is None, reason="ausearch is not installed")
def test_ausearch_3_0_9_knows_no_landlock_names():
    version = subprocess.run(["ausearch", "-v"], capture_output=True, text=True).stdout
    if "3.0.9" not in version:
        pytest.skip(f"not Debian 12's ausearch: {version.strip()}")
    log = str(FIXTURES / "auditd-raw.log")
    by_name = subprocess.run(["ausearch", "-if", log, "-m", "LANDLOCK_ACCESS", "--raw"],
                             capture_output=True, text=True)
    assert by_name.stdout == ""  # what the old manual's first example gave
    by_number = subprocess.run(["ausearch", "-if", log, "-m", "1423,1424", "--raw"],
                               capture_output=True, text=True)
    assert "type=UNKNOWN[1423]" in by_number.stdout
