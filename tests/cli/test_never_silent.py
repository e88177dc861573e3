"""Never silent, from the command line: a selector that cannot match is an
error (exit status 2) or a warning on stderr, never a bare empty result."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from lldecode.cli.app import cli
from tests.conftest import FIXTURES, SAMPLES, run_cli

RAW = str(FIXTURES / "auditd-raw.log")
INTERPRETED = str(FIXTURES / "ausearch-i.txt")
JOURNAL = str(FIXTURES / "auditd-landlock-only.log")  # no SYSCALL record
RATELIMITED = FIXTURES / "dmesg-ratelimited.txt"
NOTICE = "kauditd_printk_skb: 8992 callbacks suppressed"
SUPPRESSED = ("lldecode: warning: the kernel console suppressed 8992 records in this input "
              "(kauditd_printk_skb: callbacks suppressed)")


def invoke(*args):
    return CliRunner().invoke(cli, list(args), env={"TZ": "UTC"})


def warnings(result):
    return [line for line in result.stderr.splitlines() if line.startswith("lldecode: warning:")]


# --- errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--domain", "zz"], "lldecode: --domain: 'zz' is not a domain id (1 to 16 hexadecimal "
                         "digits, 0x optional, as logged: domain=1b6b16194)"),
    (["--domain", "0x" + "f" * 17], "lldecode: --domain: '0xfffffffffffffffff' is not a "
                                     "domain id"),
    (["--blocker", "fs.truncte"],
     "lldecode: --blocker: unknown blocker 'fs.truncte' (did you mean fs.truncate?)"),
    (["--blocker", "fs.iocl_*"],
     "lldecode: --blocker: 'fs.iocl_*' matches no blocker (did you mean fs.ioctl_dev?)"),
    (["--uid", "nosuchuser"],
     "lldecode: --uid: no user 'nosuchuser' in this host's user database"),
])
@pytest.mark.parametrize("command", ["filter", "explain", "summarize", "domains"])
def test_selectors_that_cannot_be_are_errors(command, args, message):
    result = invoke(command, *args, RAW)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[0].startswith(message)


def test_where_value_errors_point_at_the_value():
    result = invoke("filter", "--where", "path ^= /tmp and blocker = fs.truncte", RAW)
    assert result.exit_code == 2
    assert result.stderr == (
        "lldecode: --where: column 28: unknown blocker 'fs.truncte' (did you mean "
        "fs.truncate?)\n"
        "  path ^= /tmp and blocker = fs.truncte\n"
        "                             ^\n")


@pytest.mark.parametrize("where", [
    'blocker ~ "fs.nope*"', "domain = zz", "uid = nosuchuser", "blocker < 2",
])
def test_where_values_that_cannot_be_are_errors(where):
    result = invoke("filter", "--count", "--where", where, RAW)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("lldecode: --where: column ")


@pytest.mark.parametrize("levels", [1000, 100000])
@pytest.mark.parametrize("shape", ["parens", "nots"])
def test_deep_where_is_a_clear_error(levels, shape):
    where = ("(" * levels + "path = x" + ")" * levels if shape == "parens"
             else "not " * levels + "path = x")
    result = invoke("filter", "--count", "--where", where, RAW)
    assert result.exit_code == 2 and result.stdout == ""
    assert "internal error" not in result.stderr and "Recursion" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert ("nesting deeper than 100" in first if len(where) <= 65536
            else "the longest accepted is 65536" in first), first
    assert len(result.stderr) < 400


def test_deep_where_in_a_real_process():
    deep = run_cli("filter", "--where", "(" * 1000 + "path = x" + ")" * 1000, RAW)
    assert deep.returncode == 2 and deep.stdout == b""
    assert deep.stderr.startswith(b"lldecode: --where: column 101: nesting deeper than 100")
    # an argument holds at most 128 KiB (MAX_ARG_STRLEN): 100,000 levels go
    # through CliRunner above; here, 60,000
    long = run_cli("filter", "--where", "(" * 60000 + "path = x" + ")" * 60000, RAW)
    assert long.returncode == 2 and long.stdout == b""
    assert long.stderr == (b"lldecode: --where: the expression is 120008 characters long; "
                           b"the longest accepted is 65536\n")


# --- spellings ------------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", ["truncate", "fs_truncate", "LANDLOCK_ACCESS_FS_TRUNCATE",
                                      "FS.TRUNCATE", "fs.trunc*"])
def test_blocker_spellings(spelling):
    result = invoke("filter", "--count", "--blocker", spelling, RAW)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "3\n", "")


@pytest.mark.parametrize("user", ["0", "root"])
@pytest.mark.parametrize("log", [RAW, INTERPRETED])
def test_uid_by_number_or_name_on_raw_and_interpreted_logs(user, log):
    result = invoke("filter", "--count", "--uid", user, log)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "56\n", "")
    where = invoke("filter", "--count", "--where", f"uid = {user}", log)
    assert where.stdout == "56\n"


def test_uid_help_says_where_names_come_from():
    text = invoke("filter", "--help").output
    assert "USER|UID" in text and "user database" in " ".join(text.split())


# --- warnings: a selector on a field the input does not carry -----------------------------------

def test_syscall_on_an_input_without_syscall_records():
    result = invoke("filter", "--count", "--syscall", "openat", JOURNAL)
    assert result.exit_code == 1 and result.stdout == "0\n"
    assert warnings(result) == [
        "lldecode: warning: --syscall matched nothing: no denial in this input has a process "
        "record (SYSCALL); the selection cannot match"]


@pytest.mark.parametrize("command", [["filter"], ["filter", "-q"], ["explain"],
                                     ["summarize"], ["domains"]])
def test_every_reading_command_warns_once(command):
    result = invoke(*command, "--where", "cwd = /home", "--syscall", "257", JOURNAL)
    # (summarize and domains wrote their report, empty: 0; filter, explain: grep's 1)
    assert result.exit_code == (0 if command[0] in ("summarize", "domains") else 1)
    assert [w.split(":")[2].strip() for w in warnings(result)] == ["--syscall matched nothing",
                                                                   "--where"]


def test_comm_on_an_input_without_process_nor_creator(tmp_path):
    access_only = tmp_path / "access.txt"
    access_only.write_text("".join(line for line in open(JOURNAL, encoding="latin-1")
                                   if "UNKNOWN[1423]" in line), "latin-1")
    result = invoke("filter", "--comm", "python3", str(access_only))
    assert result.exit_code == 1 and result.stdout == ""
    assert warnings(result) == [
        "lldecode: warning: --comm matched nothing: no denial in this input has a process "
        "record (SYSCALL) or a known domain creator (its allocated record); the selection "
        "cannot match"]


def test_where_on_a_field_no_record_has():
    result = invoke("filter", "--count", "--where", "node = vm", RAW)
    assert result.stdout == "0\n" and result.exit_code == 1
    assert warnings(result) == [
        "lldecode: warning: --where: node matched nothing: no record in this input names its "
        "host (node=); only != and !~ hold on a field that is not there"]
    node = invoke("filter", "--count", "--where", "node = vm", str(FIXTURES / "auditd-node.log"))
    assert node.stdout == "56\n" and node.stderr == ""


def test_no_warning_when_the_fields_are_there():
    result = invoke("filter", "--count", "--syscall", "openat", "--comm", "nothing", RAW)
    assert result.exit_code == 1 and result.stdout == "0\n" and result.stderr == ""


# --- rate limiting reported for the input as a whole ------------------------------------------

def _dmesg(tmp_path, keep=lambda line: True):
    lines = RATELIMITED.read_text("latin-1").splitlines()
    first = [line for line in lines if NOTICE in line]
    rest = [line for line in lines if NOTICE not in line and keep(line)]
    path = tmp_path / "dmesg.txt"
    path.write_text("\n".join(first + rest) + "\n", "latin-1")
    return str(path)


def test_a_notice_before_every_record_is_a_gap_cause(tmp_path):
    path = _dmesg(tmp_path)
    result = invoke("domains", path)
    assert result.exit_code == 0
    assert "8992 records were suppressed (kauditd_printk_skb)" in result.stdout
    assert warnings(result) == []          # the report carries it
    for command in (["filter", "--count"], ["explain"], ["summarize"]):
        other = invoke(*command, path)
        assert [w[:len(SUPPRESSED)] for w in warnings(other)] == [SUPPRESSED], command


def test_a_notice_and_no_domain_to_carry_it(tmp_path):
    only_complete = _dmesg(tmp_path, lambda line: "1b6b198da" in line or ":18717)" in line)
    result = invoke("domains", only_complete)
    assert result.exit_code == 0 and "1b6b198da" in result.stdout
    assert [w[:len(SUPPRESSED)] for w in warnings(result)] == [SUPPRESSED]
    nothing = _dmesg(tmp_path, lambda line: False)
    for command in (["domains"], ["filter", "--count"], ["domains", "-f", "json"]):
        empty = invoke(*command, nothing)
        # (domains wrote its report, empty: 0; filter --count: grep's 1)
        assert empty.exit_code == (0 if command[0] == "domains" else 1)
        assert [w[:len(SUPPRESSED)] for w in warnings(empty)] == [SUPPRESSED], command


def test_no_notice_no_warning():
    result = invoke("domains", str(SAMPLES / "kernel-6.18-dmesg.txt"))
    assert warnings(result) == []


# --- the refer rule through the text renderer ------------------------------------------------

def test_explain_says_why_a_rename_across_directories_was_refused():
    result = invoke("explain", "--blocker", "fs.refer", RAW)
    assert result.exit_code == 0
    out = " ".join(result.stdout.split())
    assert out.count("refused by Landlock's refer rule") == 3
    assert "EXDEV: only the refer rule refused it" in out
    assert "EACCES, not EXDEV" in out
    assert "allow fs.refer beneath both /tmp/llcapture-u_k9p5k5/fs_refer_link/src and " \
           "/tmp/llcapture-u_k9p5k5/fs_refer_link/dst" in out
    assert "truncate and ioctl_dev on an open file" not in out
