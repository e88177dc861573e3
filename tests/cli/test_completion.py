"""``lldecode completion``: the scripts run by the real shells.

bash: the completion function is called as bash's programmable completion
calls it (COMP_WORDS, COMP_CWORD, then COMPREPLY), and an interactive bash
on a pseudo-terminal completes a file name on Tab.  zsh (on a pseudo-
terminal, after compinit) and fish (``complete -C``) when installed.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

BIN = str(Path(sys.executable).parent)


def _env(**extra):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
               TERM="dumb", LC_ALL="C.UTF-8", HOME=os.environ.get("HOME", "/tmp"))
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


def _bash_complete(*words: str) -> list:
    """COMPREPLY for the command line ``words`` (the last one is being completed)."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = ('source <(lldecode completion bash)\n'
              f'COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n'
              '_lldecode_completion lldecode\n'
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=ROOT,
                            env=_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line]


def test_bash_script_is_click_s_and_registers_the_command():
    result = subprocess.run(["lldecode", "completion", "bash"], env=_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "complete -o nosort -F _lldecode_completion lldecode" in result.stdout
    assert "_LLDECODE_COMPLETE=bash_complete" in result.stdout


def test_unknown_shell_is_an_error():
    result = subprocess.run(["lldecode", "completion", "tcsh"], env=_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "tcsh" in result.stderr


def test_bash_completes_commands_blockers_by_formats_operations():
    assert "completion" in _bash_complete("lldecode", "")
    assert "summarize" in _bash_complete("lldecode", "su")
    assert _bash_complete("lldecode", "filter", "--blocker", "fs.tr") == ["fs.truncate"]
    assert set(_bash_complete("lldecode", "explain", "--blocker", "net.")) >= {
        "net.bind_tcp", "net.connect_tcp"}
    assert "ptrace" in _bash_complete("lldecode", "summarize", "--blocker", "")
    assert _bash_complete("lldecode", "summarize", "--by", "blocker,e") == ["blocker,exe"]
    assert "domain" not in _bash_complete("lldecode", "summarize", "--by", "domain,")
    assert set(_bash_complete("lldecode", "summarize", "--by", "")) == {
        "domain", "blocker", "exe", "path", "syscall"}
    assert set(_bash_complete("lldecode", "filter", "--format", "")) >= {
        "text", "ndjson", "json", "csv", "table", "raw"}
    assert _bash_complete("lldecode", "simulate", "--policy", "p.toml", "trunc") == ["truncate"]
    assert _bash_complete("lldecode", "mask", "") == ["fs", "net", "scope", "deny"]


def _interact(argv, setup: str, typed: str, expect: str, env) -> str:
    """Run an interactive shell on a pseudo-terminal, send ``setup`` then
    ``typed`` (with its Tab), and return what the terminal shows once
    ``expect`` appears (or after 20 seconds)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the shell
        try:
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    shown = b""
    try:
        os.write(fd, setup.encode() + b"\n")
        time.sleep(1.0)
        os.write(fd, typed.encode())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                shown += chunk
                if expect.encode() in shown:
                    break
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)
    return shown.decode("utf-8", "replace")


@pytest.fixture
def one_file(tmp_path):
    (tmp_path / "only-audit-file.log").write_text("")
    return tmp_path


def test_bash_completes_file_names_on_tab(one_file):
    setup = f"PS1='$ '; cd {one_file}; source <(lldecode completion bash)"
    shown = _interact(["bash", "--norc", "--noprofile", "-i"], setup,
                      "lldecode filter only-au\t", "lldecode filter only-audit-file.log",
                      _env(INPUTRC="/dev/null"))
    assert "lldecode filter only-audit-file.log" in shown, shown
    # simulate's paths and --policy files too
    shown = _interact(["bash", "--norc", "--noprofile", "-i"], setup,
                      "lldecode simulate --policy only-au\t", "--policy only-audit-file.log",
                      _env(INPUTRC="/dev/null"))
    assert "--policy only-audit-file.log" in shown, shown


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_file_names_and_blockers(one_file):
    setup = (f"PS1='$ '; cd {one_file}; autoload -U compinit; compinit -u; "
             'eval "$(lldecode completion zsh)"')
    argv = ["zsh", "-f", "-i"]
    env = _env(HOME=str(one_file))  # (compinit writes its .zcompdump there)
    expect = "lldecode filter only-audit-file.log"
    shown = _interact(argv, setup, "lldecode filter only-au\t", expect, env)
    assert expect in shown, shown
    expect = "lldecode filter --blocker fs.truncate"
    shown = _interact(argv, setup, "lldecode filter --blocker fs.trun\t", expect, env)
    assert expect in shown, shown


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_file_names_blockers_and_by(one_file):
    def complete(line: str) -> list:
        script = f"lldecode completion fish | source; complete -C '{line}'"
        home = one_file / "home"  # (fish keeps its data under HOME)
        result = subprocess.run(["fish", "--no-config", "-c", script], cwd=one_file,
                                env=_env(HOME=str(home), XDG_DATA_HOME=str(home / "data"),
                                         XDG_CONFIG_HOME=str(home / "config")),
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return [line.split("\t")[0] for line in result.stdout.splitlines()]

    assert complete("lldecode filter only-au") == ["only-audit-file.log"]
    assert complete("lldecode filter --blocker fs.tr") == ["fs.truncate"]
    assert complete("lldecode summarize --by domain,b") == ["domain,blocker"]


def test_completed_names_are_the_ones_lldecode_knows():
    from lldecode.analysis.selection import KNOWN_BLOCKERS
    from lldecode.analysis.summarize import DIMENSIONS
    from lldecode.cli.completion import complete_blockers, complete_by

    assert [i.value for i in complete_blockers(None, None, "")] == list(KNOWN_BLOCKERS)
    assert [i.value for i in complete_by(None, None, "")] == list(DIMENSIONS)
