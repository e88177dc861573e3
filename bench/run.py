"""Benchmark lldecode against ausearch and grep, side by side, on the same files.

For each generated log (see bench/loggen.py) every command runs ``--runs``
times, in rounds (each round runs every command once, so that a drift in
the machine's speed touches them all alike); the table gives the median wall time,
the ratio to ``ausearch
--raw`` and to ``ausearch -i`` measured in the same run, lines per second,
and the peak resident memory of the command and its worker processes.  It
is a benchmark, not a test: nothing here asserts a time.

Usage::

    python -m bench.run [--mixed-size 1G] [--dense-events 1000000] [--runs 3]
                        [--only mixed|dense] [--out bench/out]

Debian's auditd package (ausearch) is installed with apt-get when missing and
this runs as root; otherwise the ausearch rows are left out.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bench.loggen import generate, parse_size

ROOT = Path(__file__).resolve().parent.parent


def lldecode() -> List[str]:
    found = shutil.which("lldecode", path=str(Path(sys.executable).parent) + os.pathsep
                         + os.environ.get("PATH", ""))
    return [found] if found else [sys.executable, "-m", "lldecode"]


def ensure_ausearch() -> Optional[str]:
    path = shutil.which("ausearch")
    if path or os.geteuid() != 0 or not shutil.which("apt-get"):
        return path
    print("installing Debian's auditd package for ausearch ...", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-qq", "auditd"], env=env,
                   stdout=subprocess.DEVNULL, check=False)
    return shutil.which("ausearch")


def _tree_rss_kib(pid: int) -> int:
    """Memory of the descendants of a process (KiB; the process itself is
    GNU time): the sum of their proportional set sizes, so that pages the
    forked workers share with their parent count once."""
    total, stack = 0, _children(pid)
    while stack:
        current = stack.pop()
        stack.extend(_children(current))
        try:
            with open(f"/proc/{current}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError):
            continue
    return total


def _children(pid: int) -> List[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except (OSError, ValueError):
        return []


def measure(argv: List[str], output: Optional[str] = None) -> Tuple[float, float, int]:
    """(wall seconds, peak memory in MiB, exit status) of one run of ``argv``.

    The command runs under GNU time, whose %M is the command's own peak
    resident set; its process tree (parallel workers included, shared pages
    counted once) is sampled four times a second, and the peak is the
    larger of the two.  Output goes to ``output`` (a file, so that grep
    cannot stop at its first match as it does for /dev/null).
    """
    timer = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.NamedTemporaryFile("r") as stats, \
            open(output or os.devnull, "wb") as sink:
        wrapped = ([timer, "-f", "%M", "-o", stats.name] + argv) if timer else argv
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=sink, stderr=subprocess.DEVNULL)
        tree_peak = [0]
        done = threading.Event()

        def sample() -> None:  # the tree's memory, while the main thread waits
            while not done.wait(0.25):
                tree_peak[0] = max(tree_peak[0], _tree_rss_kib(proc.pid) if timer else 0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        proc.wait()
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        own = stats.read().split() if timer else []
    own_peak = int(own[-1]) if own and own[-1].isdigit() else 0
    return seconds, max(own_peak, tree_peak[0]) / 1024, proc.returncode


def commands(path: Path, ausearch: Optional[str]) -> List[Tuple[str, List[str]]]:
    ll = lldecode()
    cmds = [
        ("lldecode filter --count", ll + ["filter", "--count", str(path)]),
        ("lldecode summarize", ll + ["summarize", str(path)]),
        ("lldecode explain > /dev/null", ll + ["explain", str(path)]),
    ]
    if ausearch:
        cmds += [
            ("ausearch -m 1423,1424 --raw", [ausearch, "-if", str(path), "-m", "1423,1424",
                                             "--raw"]),
            ("ausearch -m 1423,1424 -i", [ausearch, "-if", str(path), "-m", "1423,1424", "-i"]),
        ]
    cmds.append(("grep -c (floor)", ["grep", "-c", "-E",
                                     r"type=(UNKNOWN\[142[34]\]|LANDLOCK_)", str(path)]))
    return cmds


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def bench_file(label: str, path: Path, lines: int, runs: int,
               ausearch: Optional[str], scratch: Path, skip: List[str]) -> List[List[str]]:
    chosen = [(name, argv) for name, argv in commands(path, ausearch)
              if not any(text in name for text in skip)]
    # Round after round, every command once per round: a machine whose speed
    # drifts (a shared host) slows every command alike, and the ratios hold.
    measured: Dict[str, List[Tuple[float, float, int]]] = {name: [] for name, _ in chosen}
    for round_number in range(1, runs + 1):
        for name, argv in chosen:
            print(f"  {label}: round {round_number}/{runs}: {name} ...", file=sys.stderr)
            output = None if "/dev/null" in name else str(scratch / "output")
            measured[name].append(measure(argv, output))
    results = {name: (statistics.median(t for t, _, _ in runs_of),
                      max(p for _, p, _ in runs_of), runs_of[-1][2])
               for name, runs_of in measured.items()}
    raw = results.get("ausearch -m 1423,1424 --raw")
    interpreted = results.get("ausearch -m 1423,1424 -i")
    rows = []
    for name, (seconds, peak, _status) in results.items():
        rows.append([
            label, name, f"{seconds:.2f}",
            f"{seconds / raw[0]:.2f}" if raw else "-",
            f"{seconds / interpreted[0]:.2f}" if interpreted else "-",
            f"{lines / seconds / 1000:.0f}k", f"{peak:.0f}",
        ])
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mixed-size", type=parse_size, default=parse_size("1G"))
    parser.add_argument("--dense-events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["mixed", "dense"])
    parser.add_argument("--skip", action="append", default=[], metavar="TEXT",
                        help="leave out the commands whose name holds TEXT (repeatable)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    ausearch = ensure_ausearch()
    logs = []
    if args.only in (None, "mixed"):
        logs.append(("mixed", args.out / f"mixed-{args.mixed_size}.log",
                     dict(size=args.mixed_size)))
    if args.only in (None, "dense"):
        logs.append(("dense", args.out / f"dense-{args.dense_events}.log",
                     dict(events=args.dense_events)))
    rows: List[List[str]] = []
    for label, path, amount in logs:
        if not path.exists():
            print(f"generating {path} ...", file=sys.stderr)
            with open(path, "w", encoding="latin-1") as out:
                generate(out, label, **amount)
        with open(path, "rb") as f:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))
        size = path.stat().st_size / 1e6
        label = f"{label} ({size:.0f} MB, {lines / 1e6:.2f}M lines)"
        rows.extend(bench_file(label, path, lines, args.runs, ausearch, args.out, args.skip))
    from tabulate import tabulate

    print(f"Machine: {machine()}; median of {args.runs} interleaved runs\n")
    print(tabulate(rows, headers=["log", "command", "seconds", "/ ausearch --raw",
                                  "/ ausearch -i", "lines/s", "peak RSS MiB"],
                   tablefmt="github", disable_numparse=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
