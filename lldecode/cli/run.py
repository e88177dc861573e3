"""``lldecode run``: run a command under a policy and explain its denials live."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from typing import Any, List, Optional, TextIO, Tuple

import click

from lldecode.cli.common import color_option, guarded, utc_option

# What lldecode exits with when it fails itself, before or instead of the
# command (as env, timeout and chroot do); otherwise the command's status.
EXIT_LLDECODE = 125


def _die(message: str) -> None:
    click.echo(f"lldecode run: {message}", err=True)
    sys.exit(EXIT_LLDECODE)


def _warn(message: str) -> None:
    from lldecode.output.escape import escape_text

    sys.stderr.write(escape_text(f"lldecode run: warning: {message}") + "\n")
    sys.stderr.flush()


@click.command("run", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--policy", "policies", multiple=True, required=True, metavar="FILE",
              type=click.Path(dir_okay=False),
              help="A landlockconfig file (TOML or JSON), one per layer, in the order they "
                   "are enforced. Repeatable.")
@click.option("--log-new-exec/--no-log-new-exec", default=True, show_default=True,
              help="Enforce with LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON, without which the "
                   "kernel logs no denial of a program started by execve (so none of CMD).")
@click.option("--enable-audit", is_flag=True,
              help="Turn the kernel's audit on for the run if it is off (put back after); "
                   "without it a run with audit off only warns.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              metavar="FILE", help="Write the explanations and the summary to FILE "
                                   "(default: standard error, next to CMD's own).")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "ndjson"]), default="text",
              show_default=True, help="text, or ndjson: one JSON object per denied "
                                      "operation, then the summary (\"event\" says which).")
@click.option("--suggest", is_flag=True,
              help="End with the fix: the rules that allow every denial, checked by "
                   "simulating the denials again under the suggested policy, as a diff of "
                   "the policy files on standard output (the updated files with "
                   "--write-policy).")
@click.option("--learn", type=click.IntRange(1, 100), metavar="N",
              help="Run CMD again with each verified fix applied, at most N runs, until it "
                   "runs without a denial; write the final policy (--write-policy). CMD "
                   "runs several times: it must be safe to repeat.")
@click.option("--write-policy", type=click.Path(file_okay=False), metavar="DIR",
              help="--suggest/--learn: write the updated policy files to DIR (created; one "
                   "file per layer, named as the originals). --learn without it writes to a "
                   "new directory under /tmp and says which.")
@click.option("--drain", type=click.FloatRange(0, 60), default=1.5, show_default=True,
              metavar="SECONDS", help="After CMD ends, read its late records at most this "
                                      "long.")
@color_option
@utc_option
@click.argument("command", nargs=-1, required=True, metavar="-- CMD [ARGS]...")
@guarded
def run_cmd(policies: Tuple[str, ...], log_new_exec: bool, enable_audit: bool,
            output: Optional[str], fmt: str, suggest: bool, learn: Optional[int],
            write_policy: Optional[str], drain: float, color: str, utc: bool,
            command: Tuple[str, ...]) -> None:
    """Run CMD sandboxed by the policy and explain each denial as it happens.

    The layers are enforced with the Landlock system calls between fork and
    exec (no_new_privs set), fitted to the kernel's Landlock ABI: a right,
    scope or flag the kernel lacks is left out with a warning.  CMD's
    denials are read live from the kernel's audit multicast group (root, or
    CAP_AUDIT_READ): only those of the domains CMD and its descendants
    create, not the rest of the machine.  Each distinct denial is explained
    when it happens, a summary follows at the end.  Without the privilege
    to read audit records CMD still runs sandboxed, and lldecode says how to
    read its denials afterwards.

    \b
    Examples:
      lldecode run --policy base.toml -- make test
      lldecode run --policy base.toml --suggest --write-policy fixed/ -- ./app
      lldecode run --policy base.toml --suggest -- ./app > fix.diff; patch -p1 < fix.diff
      lldecode run --policy base.toml --learn 5 --write-policy learned/ -- ./app --selftest
      lldecode run --policy base.toml -f ndjson -o denials.ndjson -- ./app

    \b
    Exit status: CMD's (128+N when a signal N killed it; 126 when it cannot
    be executed, 127 when it is not found); 125 when lldecode fails itself
    (a policy that cannot be read, Landlock unavailable).
    """
    from lldecode.landlock.enforce import EnforceError
    from lldecode.landlock.policy import PolicyError, load_policy

    try:
        policy = load_policy(list(policies))
    except PolicyError as exc:
        _die(str(exc))
    out, close = _open_output(output)
    try:
        if learn is not None:
            status = _learn(list(policies), policy, command, learn, write_policy, out, fmt,
                            color, utc, log_new_exec, enable_audit, drain)
        else:
            live, summary_status = _one_run(policy, command, out, fmt, color, utc,
                                            log_new_exec, enable_audit, drain)
            status = summary_status
            if suggest:
                _suggest_after(live, list(policies), write_policy, out, fmt, color)
    except EnforceError as exc:
        _die(str(exc))
    finally:
        if close:
            out.close()
    sys.exit(status)


def _open_output(output: Optional[str]) -> Tuple[TextIO, bool]:
    if output is None:
        return sys.stderr, False
    try:
        return open(output, "w", encoding="utf-8", errors="surrogateescape"), True
    except OSError as exc:
        _die(f"{output}: {exc.strerror}")
    raise AssertionError  # pragma: no cover


def _one_run(policy: Any, command: Tuple[str, ...], out: TextIO, fmt: str, color: str,
             utc: bool, log_new_exec: bool, enable_audit: bool, drain: float,
             title: Optional[str] = None) -> Tuple[Any, int]:
    """One sandboxed run of the command, explained; (the LiveRun, its status)."""
    from lldecode.analysis.explain import Paragraph, explanation
    from lldecode.analysis.live_run import LiveRun
    from lldecode.landlock.enforce import restrict_flags
    from lldecode.output.explain import render_text
    from lldecode.output.jsonable import write_ndjson_line
    from lldecode.output.run import render_summary
    from lldecode.output.text import Style

    style = Style(color, out)
    live = LiveRun(command, policy, restrict_flags(log_new_exec=log_new_exec),
                   enable_audit=enable_audit, drain=drain)
    previous = _forward_signals(live)
    try:
        live.start()
        for warning in live.warnings:
            _warn(warning)
        shown_problems = list(live.problems)
        for problem in shown_problems:
            _warn(problem)
        if not live.reading:
            _warn("CMD runs sandboxed all the same; " + live.afterwards())
        if title and fmt == "text":
            out.write(style(title, "bold") + "\n")
            out.flush()
        shown = 0
        for operation in live.operations():
            if fmt == "ndjson":
                item = dict(explanation(Paragraph(operation), policy))
                item["event"] = "denial"
                write_ndjson_line(out, item)
            elif not live.is_repeat(operation):
                out.write(("\n" if shown else "") + render_text(Paragraph(operation), style,
                                                                 utc, policy) + "\n")
                shown += 1
            out.flush()
        summary = live.summary()
        for problem in summary.problems[len(shown_problems):]:
            _warn(problem)  # found while reading (the socket overran...)
        if fmt == "ndjson":
            item = summary.as_dict()
            item["event"] = "summary"
            write_ndjson_line(out, item)
        else:
            out.write(("\n" if shown else "") + render_summary(summary, style) + "\n")
        out.flush()
        return live, summary.status
    finally:
        _restore_signals(previous)
        live.close()


def _forward_signals(live: Any) -> List[Tuple[int, Any]]:
    """While CMD runs: ^C (sent to CMD too, by the terminal) does not stop
    lldecode before CMD; SIGTERM and SIGHUP are passed on to CMD.  Python
    handlers, not SIG_IGN: execve puts them back to default in CMD."""
    def forward(signum: int, _frame: Any) -> None:
        child = live.child
        if child is not None and child.status is None and signum != signal.SIGINT:
            try:
                os.kill(child.pid, signum)
            except OSError:
                pass

    previous: List[Tuple[int, Any]] = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            previous.append((signum, signal.signal(signum, forward)))
        except (ValueError, OSError):  # pragma: no cover - not the main thread
            pass
    return previous


def _restore_signals(previous: List[Tuple[int, Any]]) -> None:
    for signum, handler in previous:
        signal.signal(signum, handler)


def _denials_of(live: Any) -> List[Any]:
    return [d for group in live.groups.values() for d in group.denials]


def _suggest(live: Any, policy_files: List[str]) -> Any:
    from lldecode.analysis.suggest import suggest

    return suggest(_denials_of(live), policy_files)


def _suggest_after(live: Any, policy_files: List[str], write_policy: Optional[str],
                   out: TextIO, fmt: str, color: str) -> None:
    """--suggest: the verified fix of the run's denials.  As text, on
    standard output (``> fix.diff`` keeps a diff patch(1) applies), the
    explanations staying on stderr or in -o FILE; as ndjson, in the stream."""
    from lldecode.output.jsonable import write_ndjson_line
    from lldecode.output.text import Style, safe, utf8_stdout

    if not live.summary().read:
        _warn("--suggest: the denials were not read: nothing to suggest")
        return
    if not live.count:
        if fmt == "ndjson":
            write_ndjson_line(out, {"event": "suggestion", "rules": [], "diff": ""})
        else:
            _warn("--suggest: nothing to add, CMD ran without a denial")
        return
    result = _suggest(live, policy_files)
    written = result.write(directory=_made(write_policy)) if write_policy else []
    if fmt == "ndjson":
        item = dict(result.as_dict())
        item["event"] = "suggestion"
        item["written"] = written
        write_ndjson_line(out, item)
        return
    stdout = utf8_stdout()
    style = Style(color, stdout)
    diff = result.diff().rstrip("\n")
    for line in diff.split("\n") if diff else ():
        stdout.write(safe(line) + "\n")
    for note in result.notes:
        stdout.write(f"note: {safe(note)}\n")
    verification = result.verification
    stdout.write(style(safe(verification.summary),
                       "green" if verification.ok else "yellow") + "\n")
    for failure in verification.failures:
        stdout.write(f"  not allowed: {safe(failure.what)}: {safe(failure.reason)}\n")
    for path in written:
        stdout.write(f"written: {safe(path)}\n")
    stdout.flush()


def _made(directory: Optional[str]) -> str:
    if directory is None:
        return tempfile.mkdtemp(prefix="lldecode-learn-")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        _die(f"{directory}: {exc.strerror}")
    return directory


def _learn(policy_files: List[str], policy: Any, command: Tuple[str, ...], rounds: int,
           write_policy: Optional[str], out: TextIO, fmt: str, color: str, utc: bool,
           log_new_exec: bool, enable_audit: bool, drain: float) -> int:
    """--learn N: run, apply the verified fix, run again, until no denial."""
    names = [os.path.basename(path) for path in policy_files]
    if len(set(names)) < len(names):
        _die("--learn writes each layer's file by its name: give policy files with distinct "
             "names")
    _warn(f"--learn runs CMD up to {rounds} times (once per round): it must be safe to "
          "repeat")
    work = tempfile.mkdtemp(prefix="lldecode-learn-rounds-")
    try:
        return _rounds(policy_files, policy, command, rounds, write_policy, out, fmt, color,
                       utc, log_new_exec, enable_audit, drain, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the rounds' files (the final one is copied)


def _rounds(policy_files: List[str], policy: Any, command: Tuple[str, ...], rounds: int,
            write_policy: Optional[str], out: TextIO, fmt: str, color: str, utc: bool,
            log_new_exec: bool, enable_audit: bool, drain: float, work: str) -> int:
    """The rounds of --learn, their files in ``work``."""
    from lldecode.landlock.policy import PolicyError, load_policy
    from lldecode.output.jsonable import write_ndjson_line
    from lldecode.output.text import Style, safe

    style = Style(color, out)
    files = list(policy_files)
    status = 0
    for number in range(1, rounds + 1):
        live, status = _one_run(policy, command, out, fmt, color, utc, log_new_exec,
                                enable_audit, drain,
                                title=f"lldecode run --learn: round {number} of at most {rounds}"
                                      f", policy: {' '.join(policy_files)}"
                                      + (f" with the rules of rounds 1-{number - 1}"
                                         if number > 2 else
                                         " with the rules of round 1" if number == 2 else ""))
        if not live.summary().read:
            _warn("--learn: the denials cannot be read: nothing to learn from")
            return status
        if not live.count:
            break
        result = _suggest(live, files)
        verification = result.verification
        added = [rule.as_dict() for rule in result.rules]
        if fmt == "ndjson":
            write_ndjson_line(out, {"event": "round", "round": number, "policy": files,
                                    "denied_operations": live.count, "added": added,
                                    "verified": verification.summary})
        else:
            operations = f"{live.count} denied operation" + ("" if live.count == 1 else "s")
            out.write(style(f"round {number}: {operations}; "
                            f"{safe(verification.summary)}", "bold") + "\n")
            for line in _as_originals(result.diff(), files, policy_files).split("\n"):
                if line:
                    out.write(safe(line) + "\n")
        if not any(doc.changed for doc in result.documents):
            _warn(f"--learn: round {number}: no rule can allow what is left: stopping")
            break
        round_dir = os.path.join(work, f"round-{number}")
        os.makedirs(round_dir)
        files = result.write(directory=round_dir)
        try:
            policy = load_policy(files)
        except PolicyError as exc:
            _die(f"--learn: the suggested policy does not load: {exc}")
        if number == rounds:
            _warn(f"--learn: still denied after {rounds} runs; the policy of round "
                  f"{number + 1} (not run) is written")
    final_dir = _made(write_policy)
    written = _copy_final(files, final_dir)
    if fmt == "ndjson":
        write_ndjson_line(out, {"event": "learned", "policy": written, "status": status})
    else:
        out.write(style("lldecode run --learn: final policy: " + safe(" ".join(written)),
                        "bold") + "\n")
    out.flush()
    return status


def _as_originals(diff: str, files: List[str], originals: List[str]) -> str:
    """A round's diff with the file names of the policy given (not the
    round's copies)."""
    for current, original in zip(files, originals):
        if current != original:
            for side in ("--- a/", "+++ b/"):
                diff = diff.replace(side + current.lstrip("/") + "\n",
                                    side + original.lstrip("/") + "\n")
    return diff


def _copy_final(files: List[str], directory: str) -> List[str]:
    written = []
    for path in files:
        target = os.path.join(directory, os.path.basename(path))
        if os.path.abspath(target) != os.path.abspath(path):
            shutil.copyfile(path, target)
        written.append(target)
    return written
