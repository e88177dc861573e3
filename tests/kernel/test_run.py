"""``lldecode run`` against the real kernel (root, Landlock ABI 7, audit).

Each test runs the real command line in a subprocess: the policy enforced
for real on a shell command, its denials read live from the audit
multicast group.  Run under the shared lock
(``flock /tmp/lldecode-audit.lock python -m pytest tests/kernel/test_run.py``);
``--enable-audit`` turns audit on for a run when it is off and puts it back,
and a test whose audit status another process changed is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import List

import pytest

from tools.kernel.landlock import Ruleset, run_in_child

pytestmark = pytest.mark.kernel

LANDLOCK_FS_READ_FILE = 1 << 2

# What a shell needs to start and run coreutils: read and execute the
# system, write to /dev/null.
BASE_POLICY = """\
abi = 7
[[ruleset]]
handled_access_fs = ["abi.all"]
[[path_beneath]]
allowed_access = ["abi.read_execute"]
parent = ["/usr", "/bin", "/lib", "/lib64", "/etc", "/proc", "/sys", "/dev"]
[[path_beneath]]
allowed_access = ["write_file"]
parent = ["/dev/null"]
"""


@pytest.fixture
def tree(landlock_audit):
    """A scratch tree: in/secret, in/other (files), list/ and out/ (dirs),
    and the base policy as policy/base.toml."""
    root = tempfile.mkdtemp(prefix="lldecode-run-", dir="/tmp")
    for name in ("in", "list", "out", "policy"):
        os.makedirs(os.path.join(root, name))
    for name in ("secret", "other"):
        with open(os.path.join(root, "in", name), "w") as stream:
            stream.write(f"{name}\n")
    with open(os.path.join(root, "list", "entry"), "w"):
        pass
    with open(os.path.join(root, "policy", "base.toml"), "w") as stream:
        stream.write(BASE_POLICY)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def lldecode_run(*args: str) -> List[str]:
    return [sys.executable, "-m", "lldecode", "run", "--enable-audit", "--color", "never",
            *args]


def run(*args: str, prefix: List[str] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, *lldecode_run(*args)], capture_output=True, text=True,
                          timeout=120)


def flat(text: str) -> str:
    return " ".join(text.split())


def test_a_denied_command_is_explained_live_and_its_status_kept(tree, undisturbed):
    secret, other = os.path.join(tree, "in", "secret"), os.path.join(tree, "in", "other")
    command = f"cat {secret}; sleep 4; exit 7"
    with undisturbed("run: a denied command explained live"):
        process = subprocess.Popen(
            lldecode_run("--policy", os.path.join(tree, "policy", "base.toml"), "--",
                         "sh", "-c", command),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: List[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(process.stderr.readline,
                                                                    "")))
        reader.start()
        try:
            deadline = time.monotonic() + 3.5
            while not any("was refused" in line for line in lines[:]) \
                    and time.monotonic() < deadline:
                time.sleep(0.05)
            # explained as it happened: the command is still sleeping
            assert any("was refused" in line for line in lines[:]), lines
            assert process.poll() is None

            # a denial of another sandboxed process, not a descendant of CMD,
            # during the run: not CMD's, not shown
            def foreign():
                Ruleset(handled_fs=LANDLOCK_FS_READ_FILE).enforce()
                open(other).close()
            result = run_in_child(foreign)
            assert not result["ok"] and result["errname"] == "EACCES", result
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            reader.join()
    err = "".join(lines)
    assert process.returncode == 7
    text = flat(err)
    assert "cat (pid " in text and "openat() was refused with EACCES" in text
    assert f"on: {secret}" in text
    assert "fs.read_file: open a file with read access" in text
    assert "policy: layer 1 (" in text and "base.toml) denied it" in text
    assert f'parent = ["{secret}"]' in text
    assert other not in text
    assert "exited with status 7" in text
    assert "1 denied operation (1 distinct) in 1 domain" in text
    assert "1 denials logged, the kernel counted 1" in text


def test_ndjson_output_to_a_file(tree, undisturbed):
    secret = os.path.join(tree, "in", "secret")
    out = os.path.join(tree, "out.ndjson")
    with undisturbed("run: ndjson"):
        result = run("--policy", os.path.join(tree, "policy", "base.toml"), "-f", "ndjson",
                     "-o", out, "--", "sh", "-c", f"cat {secret} {secret}; exit 3")
    assert result.returncode == 3, result.stderr
    with open(out) as stream:
        items = [json.loads(line) for line in stream]
    denials = [i for i in items if i["event"] == "denial"]
    assert len(denials) == 2
    assert denials[0]["what"]["rights"][0]["name"] == "fs.read_file"
    assert denials[0]["policy"]["layer"] == 1
    summary = items[-1]
    assert summary["event"] == "summary" and summary["status"] == 3
    assert summary["denied_operations"] == 2
    assert summary["groups"][0]["count"] == 2
    assert summary["groups"][0]["paths"] == [secret]


def test_without_cap_audit_read_cmd_still_runs_sandboxed(tree, undisturbed):
    secret = os.path.join(tree, "in", "secret")
    with undisturbed("run: without CAP_AUDIT_READ"):
        result = run("--policy", os.path.join(tree, "policy", "base.toml"), "--",
                     "sh", "-c", f"cat {secret}; exit 5",
                     prefix=["setpriv", "--bounding-set", "-audit_read"])
    assert result.returncode == 5
    err = flat(result.stderr)
    assert "Permission denied" in err          # sandboxed all the same
    assert "needs CAP_AUDIT_READ" in err
    assert "lldecode explain --pid" in err and "--since" in err and "--until" in err
    assert "its denials were not read" in err


def test_no_log_new_exec_warns_that_nothing_is_logged(tree, undisturbed):
    secret = os.path.join(tree, "in", "secret")
    with undisturbed("run: --no-log-new-exec"):
        result = run("--policy", os.path.join(tree, "policy", "base.toml"),
                     "--no-log-new-exec", "--", "sh", "-c", f"cat {secret}")
    assert result.returncode == 1
    err = flat(result.stderr)
    assert "--no-log-new-exec: the kernel logs no denial of the command" in err
    assert "no denial was logged for it" in err


def test_a_command_the_sandbox_cannot_execute(tree, undisturbed):
    with undisturbed("run: exec denied"):
        result = run("--policy", os.path.join(tree, "policy", "base.toml"), "--",
                     sys.executable, "-c", "pass")
    # the interpreter is outside the policy's rules (unless under /usr)
    if sys.executable.startswith(("/usr/", "/bin/")):
        pytest.skip("the Python running the tests is allowed by the base policy")
    assert result.returncode == 126
    err = flat(result.stderr)
    assert "could not run: " in err and "Permission denied" in err
    assert "fs.execute" in err


def _check_fixed(tree: str, policy_files: List[str], command: str, control: str) -> None:
    """The policy enforced for real: the command runs without a denial, the
    control operation (never in the log) is still denied."""
    args = [arg for path in policy_files for arg in ("--policy", path)]
    result = run(*args, "--", "sh", "-c", command)
    assert result.returncode == 0, result.stderr
    assert "no denial was logged for it" in flat(result.stderr)
    result = run(*args, "--", "sh", "-c", control)
    assert result.returncode != 0
    assert "1 denied operation" in flat(result.stderr)


def test_suggest_gives_a_fix_that_works_and_grants_no_more(tree, undisturbed):
    secret = os.path.join(tree, "in", "secret")
    listed = os.path.join(tree, "list")
    fixed = os.path.join(tree, "fixed")
    command = f"cat {secret} && ls {listed}"
    with undisturbed("run --suggest"):
        result = run("--policy", os.path.join(tree, "policy", "base.toml"), "--suggest",
                     "--write-policy", fixed, "--", "sh", "-c", f"cat {secret}; ls {listed}")
        assert result.returncode != 0
        assert "fs.read_file" in result.stderr and "fs.read_dir" in result.stderr
        fix = result.stdout
        assert "2 of 2 denials allowed by the suggested policy" in fix
        written = os.path.join(fixed, "base.toml")
        assert f"written: {written}" in fix
        # the diff on standard output patches the policy into the fix
        patched = subprocess.run(["patch", "-p1", "-d", "/"], input=fix, text=True,
                                 capture_output=True)
        assert patched.returncode == 0, patched.stdout + patched.stderr
        with open(os.path.join(tree, "policy", "base.toml")) as stream, \
                open(written) as fixed_stream:
            assert stream.read() == fixed_stream.read()
        _check_fixed(tree, [written], command,
                     control=f"cat {os.path.join(tree, 'in', 'other')}")


def test_learn_converges_on_a_program_that_needs_three_rules(tree, undisturbed):
    secret = os.path.join(tree, "in", "secret")
    listed = os.path.join(tree, "list")
    made = os.path.join(tree, "out", "sub")
    learned = os.path.join(tree, "learned")
    command = f"cat {secret} && ls {listed} && mkdir -p {made}"
    with undisturbed("run --learn"):
        result = run("--policy", os.path.join(tree, "policy", "base.toml"), "--learn", "6",
                     "--write-policy", learned, "--", "sh", "-c", command)
        err = flat(result.stderr)
        assert result.returncode == 0, result.stderr
        assert "--learn runs CMD up to 6 times" in err
        for number in (1, 2, 3, 4):
            assert f"round {number} of at most 6" in err
        assert "round 5 of" not in err
        assert err.count("1 of 1 denials allowed by the suggested policy") == 3
        assert "lldecode run --learn: final policy:" in err
        final = os.path.join(learned, "base.toml")
        _check_fixed(tree, [final], command,
                     control=f"cat {os.path.join(tree, 'in', 'other')}")
        os.rmdir(made)
        _check_fixed(tree, [final], command, control=f"mkdir {os.path.join(listed, 'x')}")


def test_hostile_paths_are_escaped_in_text_and_kept_in_ndjson(tree, undisturbed):
    name = "evil\x1b[31m\nfake: line\u202e"
    path = os.path.join(tree, "in", name)
    with open(path, "w") as stream:
        stream.write("x\n")
    text_out, json_out = os.path.join(tree, "out.txt"), os.path.join(tree, "out.ndjson")
    base = os.path.join(tree, "policy", "base.toml")
    with undisturbed("run: hostile path"):
        run("--policy", base, "-o", text_out, "--", "cat", path)
        run("--policy", base, "-o", json_out, "-f", "ndjson", "--", "cat", path)
    with open(text_out, encoding="utf-8") as stream:
        text = stream.read()
    assert "was refused" in text
    assert "\x1b" not in text and "\u202e" not in text
    assert not any(line.startswith("fake: line") for line in text.splitlines())
    with open(json_out, encoding="utf-8") as stream:
        items = [json.loads(line) for line in stream]
    denial = next(i for i in items if i["event"] == "denial")
    assert any(name in where for where in denial["where"])
    summary = items[-1]
    assert summary["groups"][0]["paths"] == [path]
