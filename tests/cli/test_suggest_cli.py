"""``lldecode suggest`` through click, on denials the kernel logged
(fixtures/auditd-raw.log, captured by tools/kernel/capture.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lldecode.cli.app import cli
from lldecode.landlock.access import fs_mask
from lldecode.landlock.policy import load_policy

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
LOG = str(FIXTURES / "auditd-raw.log")
TRUNCATE = "1b6b161a9"       # truncate(2) of .../fs_truncate/file
RENAME = "1b6b16199"         # rename .../fs_refer_rename/src/f -> dst/f
HEX_PATHS = "1b6b16281"      # paths with ESC, a newline, quotes, bytes that are not UTF-8
SIGNAL = "1b6b161fc"
TRUNCATED_FILE = "/tmp/llcapture-u_k9p5k5/fs_truncate/file"


def invoke(*args: str, input: str = None):
    return CliRunner().invoke(cli, list(args), input=input)


def layer(tmp_path, text: str, name: str = "layer.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_text_without_policy_gives_rules_per_domain_and_the_verification():
    result = invoke("suggest", "--domain", TRUNCATE, "--domain", RENAME, LOG)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"# domain {TRUNCATE}: add to the ruleset that denied" in out
    assert f'allowed_access = ["truncate"]\nparent = ["{TRUNCATED_FILE}"]' in out
    assert 'allowed_access = ["remove_file", "refer"]' in out   # the source
    assert 'allowed_access = ["make_reg", "refer"]' in out      # the destination
    assert "3 of 3 denials allowed by the suggested policy" in out
    assert "older layers of the domain may deny too" in out


def test_what_no_rule_can_allow_is_listed_and_exit_1():
    result = invoke("suggest", "--blocker", "scope.*", "--blocker", "ptrace", LOG)
    assert result.exit_code == 1
    assert "0 of 3 denials allowed by the suggested policy" in result.stdout
    assert "--allow-scope signal" in result.stdout
    assert "ptrace: no rule can allow" in result.stdout
    allowed = invoke("suggest", "--blocker", "scope.signal", "--allow-scope", "signal", LOG)
    assert allowed.exit_code == 0
    assert "1 of 1 denials allowed" in allowed.stdout


def test_diff_with_a_policy(tmp_path):
    policy = layer(tmp_path, '# the app\n[[ruleset]]\nhandled_access_fs = ["truncate"]\n')
    result = invoke("suggest", "--domain", TRUNCATE, "--policy", policy, "-f", "diff", LOG)
    assert result.exit_code == 0, result.output
    diff = result.stdout
    assert diff.startswith(f"--- a{policy}\n+++ b{policy}\n")
    assert f'+parent = ["{TRUNCATED_FILE}"]' in diff
    assert "1 of 1 denials allowed by the suggested policy" in result.stderr
    patched = tmp_path / "patched.toml"
    applied = subprocess.run(["patch", "-o", str(patched), policy], input=diff.replace(
        f"a{policy}", policy).replace(f"b{policy}", policy), text=True, capture_output=True)
    if applied.returncode == 0:  # patch(1) may be missing
        assert load_policy([str(patched)]).layers[0].path_rules == {
            TRUNCATED_FILE: fs_mask("truncate")}


def test_write_in_place_and_output_dir(tmp_path):
    policy = layer(tmp_path, '[[ruleset]]\nhandled_access_fs = ["truncate"]\n')
    out = tmp_path / "out"
    result = invoke("suggest", "--domain", TRUNCATE, "--policy", policy, "-f", "json",
                    "-o", str(out), LOG)
    assert result.exit_code == 0, result.output
    written = json.loads((out / "layer.json").read_text())
    assert written["path_beneath"] == [{"allowed_access": ["truncate"],
                                        "parent": [TRUNCATED_FILE]}]
    result = invoke("suggest", "--domain", TRUNCATE, "--policy", policy, "--write", LOG)
    assert result.exit_code == 0, result.output
    assert Path(policy + ".orig").read_text() == \
        '[[ruleset]]\nhandled_access_fs = ["truncate"]\n'
    assert load_policy([policy]).layers[0].path_rules == {TRUNCATED_FILE: fs_mask("truncate")}
    again = invoke("suggest", "--domain", TRUNCATE, "--policy", policy, LOG)
    assert "the policy already allows" in again.stdout


def test_toml_format_prints_the_updated_files(tmp_path):
    first = layer(tmp_path, '[[ruleset]]\nhandled_access_fs = ["truncate"]\n', "one.toml")
    second = layer(tmp_path, '[[ruleset]]\nhandled_access_fs = ["truncate", "read_file"]\n',
                   "two.toml")
    result = invoke("suggest", "--domain", TRUNCATE, "--policy", first, "--policy", second,
                    "-f", "toml", LOG)
    assert result.exit_code == 0, result.output
    assert result.stdout.count('allowed_access = ["truncate"]') == 2  # both layers deny


def test_scope_and_merge_depth_options():
    result = invoke("suggest", "--domain", TRUNCATE, "--scope", "dir", LOG)
    assert 'parent = ["/tmp/llcapture-u_k9p5k5/fs_truncate"]' in result.stdout
    result = invoke("suggest", "--domain", TRUNCATE, "--scope", "under:/tmp", LOG)
    assert 'parent = ["/tmp"]' in result.stdout
    result = invoke("suggest", "--domain", HEX_PATHS, "--merge-depth", "1", LOG)
    assert "not valid UTF-8" not in result.stdout or '"/tmp/llcapture-u_k9p5k5/hex_paths/' \
        in result.stdout


@pytest.mark.parametrize("args, message", [
    (["-f", "diff"], "--format diff needs the policy files"),
    (["--write"], "--write needs the policy files"),
    (["--scope", "sideways"], "--scope: unknown scope"),
    (["-o", "x"], "-o DIR writes the updated files"),
    (["--policy", "/nonexistent.toml"], "cannot read"),
])
def test_usage_errors_exit_2(args, message):
    result = invoke("suggest", *args, LOG)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_nothing_selected_exits_1():
    result = invoke("suggest", "--domain", "ffffffff", LOG)
    assert result.exit_code == 1
    assert "no denial selected" in result.stderr


def test_hostile_paths_are_escaped_in_every_format(tmp_path):
    text = invoke("suggest", "--domain", HEX_PATHS, LOG)
    assert text.exit_code == 0
    assert "\x1b" not in text.stdout
    assert "\\u001b[31mred" in text.stdout   # in the JSON form (a path is not UTF-8)
    policy = layer(tmp_path, '[[ruleset]]\nhandled_access_fs = ["read_file"]\n')
    diff = invoke("suggest", "--domain", HEX_PATHS, "--policy", policy, "-f", "diff", LOG)
    assert diff.exit_code == 0, diff.output
    assert "\x1b" not in diff.stdout
    assert "--- /dev/null" in diff.stdout and "layer.json" in diff.stdout
    assert "not valid UTF-8" in diff.stderr
    bad = "/tmp/llcapture-u_k9p5k5/hex_paths/bad\udcff\udcfeutf8/file"
    out = tmp_path / "out"
    invoke("suggest", "--domain", HEX_PATHS, "--policy", policy, "-f", "json", "-o", str(out),
           LOG)
    written = load_policy([str(out / "layer.json")]).layers[0]
    assert bad in written.path_rules  # every byte kept
    # a TOML-only path: escaped in TOML, read back the same
    toml = invoke("suggest", "--domain", HEX_PATHS, "--path", "*red*", "-f", "toml", LOG)
    assert '"/tmp/llcapture-u_k9p5k5/hex_paths/\\u001B[31mred/file"' in toml.stdout


def test_interactive_asks_per_group(tmp_path):
    policy = layer(tmp_path, '[[ruleset]]\nhandled_access_fs = ["truncate", "make_reg", '
                   '"remove_file", "refer"]\n')
    result = invoke("suggest", "--interactive", "--domain", TRUNCATE, "--domain", RENAME,
                    "--policy", policy, LOG, input="s\nd\n")
    assert result.exit_code == 1, result.output
    assert "(1/2) 2 denials:" in result.stderr and "(2/2) 1 denial:" in result.stderr
    assert "[a] allow here / [d] allow in the directory" in result.stderr
    assert 'parent = ["/tmp/llcapture-u_k9p5k5/fs_truncate"]' in result.stdout
    assert "1 of 3 denials allowed by the suggested policy" in result.stdout
    assert "skipped" in result.stdout
    prefix = invoke("suggest", "--interactive", "--domain", TRUNCATE, LOG,
                    input="x\n/tmp/llcapture-u_k9p5k5\n")
    assert 'parent = ["/tmp/llcapture-u_k9p5k5"]' in prefix.stdout
    parent = invoke("suggest", "--interactive", "--domain", TRUNCATE, LOG, input="p\n2\n")
    assert 'parent = ["/tmp/llcapture-u_k9p5k5"]' in parent.stdout
    deny = invoke("suggest", "--interactive", "--domain", TRUNCATE, LOG, input="n\n")
    assert "denied on purpose" in deny.stdout and deny.exit_code == 1


def test_help_has_examples_and_exit_statuses():
    text = invoke("suggest", "--help").output
    assert "Examples:" in text and "lldecode suggest --policy" in text
    assert "Exit status: 0" in text


def test_as_a_process_never_a_traceback(tmp_path):
    policy = layer(tmp_path, "not = [toml")
    done = subprocess.run([sys.executable, "-m", "lldecode", "suggest", "--policy", policy,
                           LOG], capture_output=True, text=True)
    assert done.returncode == 2
    assert "invalid TOML" in done.stderr and "Traceback" not in done.stderr


# -- the hostile logs of tests/cli/test_hostile_output.py ---------------------------

from tests.cli.test_hostile_output import LOGS, logs  # noqa: E402,F401 - the fixture
from tests.output.hostile import assert_clean_text  # noqa: E402


@pytest.mark.parametrize("fmt", ["text", "toml", "json", "diff"])
@pytest.mark.parametrize("log", LOGS)
def test_hostile_logs_come_out_clean(logs, log, fmt, tmp_path):  # noqa: F811
    policy = layer(tmp_path, '[[ruleset]]\nhandled_access_fs = ["read_file"]\n')
    args = ["suggest", "-f", fmt, str(logs[log])]
    if fmt == "diff":
        args[1:1] = ["--policy", policy]
    result = CliRunner().invoke(cli, args, env={"NO_COLOR": "1"})
    assert result.exit_code in (0, 1), (args, result.stderr_bytes[-300:])
    assert b"internal error" not in result.stderr_bytes
    assert_clean_text(result.stderr_bytes, (args, "stderr"))
    if fmt == "json":
        json.loads(result.stdout_bytes)
        assert not any(b > 0x7E for b in result.stdout_bytes)
    else:
        assert_clean_text(result.stdout_bytes, args)


def test_interactive_deny_forever_is_not_asked_again(tmp_path):
    policy = layer(tmp_path, '[[ruleset]]\nhandled_access_fs = ["truncate"]\n')
    first = invoke("suggest", "--interactive", "--write", "--domain", TRUNCATE,
                   "--policy", policy, LOG, input="n\n")
    assert first.exit_code == 1
    assert "denied on purpose" in Path(policy).read_text()
    again = invoke("suggest", "--interactive", "--domain", TRUNCATE, "--policy", policy, LOG,
                   input="")
    assert "denied on purpose earlier" in again.stderr
    assert "choice" not in again.stderr
    assert "0 of 1 denials allowed" in again.stdout
