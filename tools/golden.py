"""Golden outputs: every reading command, in every format, on every fixture.

``python -m tools.golden --write`` records a fingerprint of each (exit status,
stdout, stderr) in tests/golden/digests.json; ``tests/cli/test_golden.py``
runs the same commands and compares, byte for byte through the digests,
so a restructuring or a faster reader cannot change what a command prints.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "digests.json"

LOGS = [
    "fixtures/auditd-raw.log", "fixtures/auditd-enriched.log", "fixtures/auditd-node.log",
    "fixtures/ausearch-i.txt", "fixtures/ausearch-raw.txt", "fixtures/dmesg.txt",
    "fixtures/dmesg-T.txt", "fixtures/dmesg-ratelimited.txt", "fixtures/journal-json.json",
    "fixtures/journal-short.txt", "fixtures/journal-short-iso.txt",
    "fixtures/journal-short-precise.txt", "fixtures/rotated",
    "fixtures/samples/kernel-6.18-raw-audit.log", "fixtures/samples/kernel-6.18-dmesg.txt",
    "fixtures/laurel.json", "fixtures/laurel-node.json",
]

PER_LOG: List[List[str]] = [
    ["filter"], ["filter", "-f", "ndjson"], ["filter", "-f", "json"], ["filter", "-f", "csv"],
    ["filter", "-f", "table"], ["filter", "-f", "raw"], ["filter", "--count"],
    ["explain"], ["explain", "-f", "json"], ["explain", "-f", "ndjson"],
    ["explain", "--policy", "fixtures/policies/base-system.toml",
     "--policy", "fixtures/policies/project.json"],
    ["summarize"], ["summarize", "--by", "blocker"], ["summarize", "--by", "exe,path"],
    ["summarize", "--by", "domain,syscall", "-f", "json"], ["summarize", "-f", "csv"],
    ["summarize", "-f", "ndjson", "--by", "blocker,domain"],
    ["domains"], ["domains", "-f", "json"], ["domains", "-f", "csv"], ["domains", "-f", "text"],
    ["filter", "-f", "tsv"], ["filter", "-Hn"], ["filter", "-f", "github"],
    ["filter", "-f", "junit"], ["filter", "-f", "sarif"],
    ["explain", "-f", "csv"], ["explain", "-f", "sarif"], ["explain", "-f", "github"],
    ["summarize", "-f", "text"], ["summarize", "-f", "tsv", "--by", "blocker,path"],
    ["summarize", "-f", "github", "--by", "path"], ["summarize", "-f", "junit"],
    ["summarize", "--tablefmt", "github", "--top", "2", "--by", "path"],
    ["domains", "-f", "ndjson"], ["domains", "-f", "tsv"],
    ["suggest"], ["suggest", "--scope", "dir", "-f", "toml"],
]

OTHER: List[List[str]] = [
    ["mask", "fs", "0x1fff"], ["mask", "fs", "make_reg,refer", "-f", "json"],
    ["mask", "net", "3"], ["mask", "scope", "3"], ["mask", "deny", "0x21"],
    ["mask", "deny", "0x4", "-f", "json"],
    ["simulate", "--policy", "fixtures/policies/base-system.toml", "read", "/etc/shadow"],
    ["simulate", "--policy", "fixtures/policies/base-system.toml", "write", "/usr/bin/x"],
    ["simulate", "--policy", "fixtures/policies/base-system.toml",
     "--policy", "fixtures/policies/project.json", "-f", "json", "rename", "/tmp/a", "/usr/b"],
    ["simulate", "--policy", "fixtures/policies/no-dev-ioctl.toml", "ioctl", "/dev/tty"],
    ["simulate", "--policy", "fixtures/policies/project.json", "connect", "443"],
    ["simulate", "--policy", "fixtures/policies/base-system.toml", "open", "/etc/passwd",
     "O_RDWR|O_TRUNC"],
    ["suggest", "--policy", "fixtures/policies/refer-rename.toml", "--format", "diff",
     "fixtures/auditd-raw.log"],
    ["suggest", "--policy", "fixtures/policies/base-system.toml",
     "--policy", "fixtures/policies/project.json", "-f", "json", "fixtures/auditd-raw.log"],
]


def commands() -> List[List[str]]:
    out = [c + [log] for log in LOGS for c in PER_LOG]
    out += OTHER
    return out


def run(args: List[str]) -> Tuple[int, str, str]:
    env = dict(os.environ, TZ="UTC", NO_COLOR="1", COLUMNS="100")
    env.pop("LLDECODE_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "lldecode", *args, *(
        ["-j", "1"] if args[0] in ("summarize", "domains") or "--count" in args else [])],
        cwd=ROOT, capture_output=True, env=env, timeout=120)
    return proc.returncode, proc.stdout.decode("utf-8", "surrogateescape"), \
        proc.stderr.decode("utf-8", "surrogateescape")


def digest(code: int, out: str, err: str) -> str:
    """One command's result as a short, stable fingerprint."""
    text = json.dumps([code, out, err], ensure_ascii=False)
    return f"{code}:{len(out)}:{len(err)}:" + hashlib.sha256(
        text.encode("utf-8", "surrogateescape")).hexdigest()[:20]


def record(full: bool = False) -> Dict[str, object]:
    table: Dict[str, object] = {}
    for args in commands():
        code, out, err = run(args)
        table[" ".join(args)] = ({"status": code, "stdout": out, "stderr": err} if full
                                 else digest(code, out, err))
    return table


def main() -> None:
    """--write: record the digests; --full FILE: every output whole (to diff by hand)."""
    full = "--full" in sys.argv
    table = record(full)
    if "--write" in sys.argv:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    if full:
        target = Path(sys.argv[sys.argv.index("--full") + 1])
        target.write_text(json.dumps(table, indent=1, sort_keys=True, ensure_ascii=False))
    print(f"{len(table)} commands recorded")


if __name__ == "__main__":
    main()
