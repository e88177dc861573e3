"""The reading commands and their options, through click's test runner and as
real processes fed by pipes."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from lldecode.cli.app import cli
from tests.conftest import FIXTURES, SAMPLES, run_cli

RAW = str(SAMPLES / "kernel-6.18-raw-audit.log")
CAPTURED = str(FIXTURES / "auditd-raw.log")


def invoke(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env or {"TZ": "UTC"})


def ndjson(result):
    return [json.loads(line) for line in result.output.splitlines()]


# -- filter --------------------------------------------------------------------------

def test_filter_count_and_exit_status():
    assert invoke("filter", "--count", RAW).output == "40\n"
    none = invoke("filter", "--count", "--blocker", "net.bind_udp", RAW)
    assert none.output == "0\n" and none.exit_code == 1


def test_filter_quiet_gates_a_ci_job():
    hit = invoke("filter", "-q", "--blocker", "fs.truncate", "--blocker", "fs.ioctl_dev", RAW)
    assert hit.exit_code == 0 and hit.output == ""
    miss = invoke("filter", "--quiet", "--blocker", "fs.make_char",
                  SAMPLES / "kernel-6.18-dmesg.txt")
    assert miss.exit_code == 1 and miss.output == ""


@pytest.mark.parametrize("fmt", ["text", "ndjson", "json", "csv", "table", "raw"])
def test_filter_formats(fmt):
    result = invoke("filter", "--format", fmt, "--blocker", "fs.truncate", RAW)
    assert result.exit_code == 0
    out = result.output
    if fmt == "ndjson":
        assert len(ndjson(result)) == 7
    elif fmt == "json":
        assert len(json.loads(out)) == 7
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert rows[0][:5] == ["time", "serial", "node", "domain", "blockers"]
        assert "path" in rows[0] and len(rows) == 8  # the object split into columns
    elif fmt == "table":
        assert out.splitlines()[0].split()[:3] == ["TIME", "DOMAIN", "BLOCKERS"]
    elif fmt == "raw":
        lines = out.splitlines()
        assert all(line in open(RAW, encoding="latin-1").read() for line in lines)
        assert any(line.startswith("type=SYSCALL") for line in lines)
        # raw output reads back as the same denials
    else:
        assert len(out.splitlines()) == 7 and "fs.truncate" in out


def test_filter_raw_output_reads_back(tmp_path):
    raw = invoke("filter", "--format", "raw", "--blocker", "fs.*", RAW).output
    path = tmp_path / "back.log"
    path.write_text(raw)
    again = invoke("filter", "--count", "--blocker", "fs.*", str(path))
    assert again.output == invoke("filter", "--count", "--blocker", "fs.*", RAW).output


def test_filter_table_with_github_format():
    out = invoke("filter", "--format", "table", "--tablefmt", "github", RAW).output
    assert out.startswith("| TIME") and "|---" in out.splitlines()[1].replace(":", "-")


@pytest.mark.parametrize("args,expected", [
    (["--domain", "17fcedd12"], 7),
    (["--domain", "0x17FCEDD12"], 7),
    (["--blocker", "fs.make_*"], 7),
    (["--blocker", "fs_ioctl_dev"], 3),
    (["--blocker", "net.*"], 4),
    (["--exe", "python3.11"], 40),
    (["--exe", "/usr/bin/*"], 0),
    (["--comm", "python*"], 40),
    (["--pid", "5681"], 7),
    (["--pid", "5681", "--pid", "5682"], 9),
    (["--uid", "0"], 40),
    (["--uid", "1000"], 0),
    (["--path", "/var/tmp/demo/data"], 17),
    (["--path", "/var/tmp/demo/data/*"], 13),
    (["--path", "/dev/null"], 3),
    (["--syscall", "openat"], 12),
    (["--syscall", "257"], 12),
    (["--since", "1795734402"], 7),
    (["--until", "2026-11-26T23:06:40.700Z"], 1),
    (["--since", "1795734400", "--until", "1795734401.0"], 13),
    (["--where", 'blocker ~ "fs.truncate" and not path ^= "/tmp"'], 5),
    (["--where", "domain = 17fcedd12 or port >= 34567"], 9),
    (["--where", "(errno = EPERM) and not blocker = ptrace"], 3),
])
def test_selection_options(args, expected):
    result = invoke("filter", "--count", *args, RAW)
    assert result.output == f"{expected}\n", result.output


def test_bad_where_points_at_the_column():
    result = invoke("filter", "--where", "blocker ~ fs.truncate and pat = x", RAW)
    assert result.exit_code == 2
    assert "--where: column 27: unknown field 'pat'" in result.output
    assert "\n  blocker ~ fs.truncate and pat = x\n                            ^" in result.output


def test_bad_since_is_one_line():
    result = invoke("filter", "--since", "last tuesday", RAW)
    assert result.exit_code == 2 and "cannot read 'last tuesday' as a time" in result.output


def test_strict_turns_malformed_lines_into_status_2(tmp_path):
    path = tmp_path / "bad.log"
    path.write_text(open(RAW).read() + "type=UNKNOWN[1423] msg=audit(1.1:1): domain=zz\n")
    assert invoke("filter", "--count", str(path)).exit_code == 0
    assert invoke("filter", "--count", "--strict", str(path)).exit_code == 2


# -- explain ---------------------------------------------------------------------------

def test_explain_paragraphs_fold_repeats(tmp_path):
    lines = open(RAW, encoding="latin-1").read().splitlines()
    event = [line for line in lines if ":41565)" in line and "allocated" not in line]
    # The same denial three times (fresh serials), then another one.
    repeated = [re.sub(r":41565\)", f":{41565 + i})", line) for i in (0, 1, 2) for line in event]
    other = [line for line in lines if ":41574)" in line]
    path = tmp_path / "repeats.log"
    path.write_text("\n".join(repeated + other) + "\n", "latin-1")
    out = invoke("explain", str(path)).output
    paragraphs = out.strip().split("\n\n")
    assert len(paragraphs) == 2
    assert "(3 times, until 2026-11-26 23:06:40.657+00:00)" in paragraphs[0]
    assert "fs.read_file: open a file with read access" in out and "Landlock ABI 1" in out
    assert "(3 times" not in paragraphs[1]


def test_explain_names_each_syscall_of_a_domain():
    out = invoke("explain", "--domain", "17fcedd33", RAW).output
    heads = [p.splitlines()[0] for p in out.strip().split("\n\n")]
    assert [h.split(": ")[1].split("(")[0] for h in heads] == ["truncate", "openat", "ftruncate"]
    assert "fs.truncate: truncate a file" in out and "Landlock ABI 3" in out
    assert "sandbox: Landlock domain 17fcedd33, created by python3 (pid 5684" in out


def test_explain_rename_is_one_paragraph():
    out = invoke("explain", "--domain", "17fcedd2e", RAW).output
    assert out.count("\n\n") == 0
    assert "(source) and" in out and "(destination)" in out
    assert "fs.refer is needed on both the source and destination" in out


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_explain_structured(fmt):
    result = invoke("explain", "--format", fmt, "--blocker", "net.*", RAW)
    items = json.loads(result.output) if fmt == "json" else ndjson(result)
    assert len(items) == 4
    assert items[0]["what"]["rights"][0]["name"] == "net.bind_tcp"
    assert "local TCP port 34002" in items[0]["where"][0]
    assert items[0]["who"]["comm"] == "python3"


def test_explain_with_a_policy_names_the_layer(tmp_path):
    policy = tmp_path / "layer.toml"
    policy.write_text('[[ruleset]]\nhandled_access_fs = ["read_file", "write_file"]\n')
    out = invoke("explain", "--policy", str(policy), "--domain", "17fcedce9", RAW).output
    assert f"policy: layer 1 ({policy}) denied it" in out
    assert "[[path_beneath]]" in out


def test_explain_policy_errors_are_one_line(tmp_path):
    policy = tmp_path / "bad.toml"
    policy.write_text('[[ruleset]]\nhandled_access_fs = ["read_everything"]\n')
    result = invoke("explain", "--policy", str(policy), RAW)
    assert result.exit_code == 2 and str(policy) in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_colour_only_when_asked_or_on_a_terminal():
    plain = invoke("explain", "--domain", "17fcedce9", RAW).output
    assert "\x1b[" not in plain  # the test runner is not a terminal
    coloured = invoke("explain", "--color", "always", "--domain", "17fcedce9", RAW).output
    assert "\x1b[1m" in coloured and "\x1b[31mfs.read_file\x1b[0m" in coloured
    assert "\x1b[" not in invoke("filter", "--color", "never", RAW).output


def test_no_color_is_honoured():
    from lldecode.output.text import Style

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert Style("auto", Terminal()).enabled
    import os
    os.environ["NO_COLOR"] = "1"
    try:
        assert not Style("auto", Terminal()).enabled
        assert Style("always", Terminal()).enabled
    finally:
        del os.environ["NO_COLOR"]


def test_utc_times():
    tokyo = {"TZ": "Asia/Tokyo"}
    out = run_cli("filter", "--utc", "--domain", "17fcedce9", RAW, env=tokyo).stdout.decode()
    assert out.startswith("2026-11-26 23:06:40.657Z ")
    local = run_cli("filter", "--domain", "17fcedce9", RAW, env=tokyo).stdout.decode()
    assert local.startswith("2026-11-27 08:06:40.657+09:00 ")


# -- summarize ---------------------------------------------------------------------------

def test_summarize_by_domain_has_the_accounting():
    out = invoke("summarize", RAW).output.splitlines()
    assert out[0].split()[:6] == ["DOMAIN", "CREATOR", "LOGGED", "REPORTED", "COUNT", "FIRST"]
    assert out[-1] == "40 denials in 21 groups"


@pytest.mark.parametrize("by,first_key", [
    ("blocker", "blocker"), ("exe", "exe"), ("path", "path"), ("syscall", "syscall"),
    ("blocker,syscall", "blocker"),
])
def test_summarize_dimensions(by, first_key):
    data = json.loads(invoke("summarize", "--by", by, "--format", "json", RAW).output)
    assert data["total"] == 40
    assert data["by"] == by.split(",")
    assert first_key in data["groups"][0]
    assert sum(g["count"] for g in data["groups"]) >= 40


def test_summarize_repeated_by_and_top():
    data = json.loads(invoke("summarize", "--by", "domain", "--by", "blocker", "--top", "3",
                             "--format", "json", RAW).output)
    assert len(data["groups"]) == 3
    assert {"domain", "blocker", "denials_logged", "denials_reported"} <= set(data["groups"][0])


def test_summarize_csv_ndjson_and_github_table():
    rows = list(csv.reader(io.StringIO(invoke("summarize", "--by", "blocker", "--format", "csv",
                                              RAW).output)))
    assert rows[0] == ["blocker", "count", "first", "last"]  # lower snake, as filter's
    assert len(ndjson(invoke("summarize", "--by", "exe", "--format", "ndjson", RAW))) == 1
    table = invoke("summarize", "--by", "blocker", "--tablefmt", "github", RAW).output
    assert table.startswith("| BLOCKER")


def test_summarize_rejects_unknown_dimensions():
    result = invoke("summarize", "--by", "colour", RAW)
    assert result.exit_code == 2 and "cannot summarize by 'colour'" in result.output


# -- domains ------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["table", "json", "csv", "text"])
def test_domains_formats(fmt):
    result = invoke("domains", "--format", fmt, RAW)
    assert result.exit_code == 0
    if fmt == "text":
        assert result.output.count("domain 17fc") == 21
    elif fmt == "csv":
        assert len(list(csv.reader(io.StringIO(result.output)))) == 22


# -- hostile text ---------------------------------------------------------------------------

def test_control_characters_never_reach_the_terminal():
    for args in (["filter"], ["filter", "-f", "table"], ["filter", "-f", "csv"], ["explain"],
                 ["summarize", "--by", "path"], ["domains", "-f", "text"]):
        out = invoke(*args, RAW).output
        assert "\x1b[31mred" not in out and "\nline" not in out, args
        assert "esc\\x1b[31mred" in out or args[0] == "domains", args
    ndjson_out = invoke("filter", "-f", "ndjson", "--path", "/var/tmp/demo/data/*", RAW).output
    paths = [json.loads(line)["object"]["path"] for line in ndjson_out.splitlines()]
    assert "/var/tmp/demo/data/esc\x1b[31mred" in paths
    assert "/var/tmp/demo/data/new\nline" in paths


# -- as real processes -------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["filter", "--count"], ["filter", "-f", "ndjson"], ["explain"], ["summarize"],
    ["domains"], ["summarize", "--by", "blocker", "-f", "json"],
])
def test_commands_read_a_pipe(args):
    data = open(RAW, "rb").read()
    result = run_cli(*args, stdin=data, env={"TZ": "UTC"})
    assert result.returncode == 0, result.stderr
    assert result.stdout and not result.stderr
    expected = invoke(*args, RAW).output
    got = result.stdout.decode()
    if "ndjson" in args:  # the only difference: where each record was read
        got = got.replace('"file": "<stdin>"', f'"file": "{RAW}"')
    assert got == expected


def test_explain_into_a_closed_pipe_ends_quietly(tmp_path):
    big = tmp_path / "big.log"
    big.write_bytes(open(RAW, "rb").read() * 30)
    pipeline = subprocess.run(
        f"{sys.executable} -m lldecode explain {big} | head -1",
        shell=True, capture_output=True, timeout=120)
    assert pipeline.stdout.count(b"\n") == 1
    assert b"Traceback" not in pipeline.stderr and b"Error" not in pipeline.stderr


def test_version_and_help():
    from lldecode import __version__

    assert invoke("--version").output == f"lldecode, version {__version__}\n"
    help_text = invoke("--help").output
    for command in ("filter", "explain", "summarize", "domains", "mask", "simulate"):
        assert command in help_text


def test_progress_line_for_large_files(tmp_path):
    from lldecode.output.progress import Progress

    big = tmp_path / "big.log"
    big.write_bytes(b"x" * 4096)
    out = io.StringIO()
    progress = Progress(out, interval=0.01, min_size=0)
    with open(big, "rb", buffering=0) as f:
        progress.watch(str(big), f)
        f.read(2048)
        import time
        time.sleep(0.1)
    progress.close()
    text = out.getvalue()
    assert "reading " in text and "50% (2.0 KB of 4.1 KB)" in text
    assert text.endswith("\r\x1b[K")


def test_version_imports_nothing_heavy():
    """--version must answer fast: it loads click and nothing of the stages."""
    code = ("import sys; from lldecode.cli.app import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('pyparsing', 'tabulate', 'lldecode.audit.records', "
            "'lldecode.analysis.pipeline', 'lldecode._tables', 'sqlite3') if m in sys.modules]\n"
            "print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().endswith("[]"), result.stdout
