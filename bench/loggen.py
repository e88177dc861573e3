"""Generate large, realistic audit logs by replaying real records.

The records come from a real log (by default the kernel sample shipped in
fixtures/samples/): its Landlock events (denials with their SYSCALL and
PROCTITLE, the domains' allocated and deallocated records) and its ordinary
events (SYSCALL, CWD, PATH, PROCTITLE).  Each replay gets fresh serials,
timestamps and domain ids, so the generated log reads like one long boot:
domain ids keep increasing and every domain's ``denials=`` count still
matches its denials.

Events are spaced by ``1 / rate`` seconds (``--rate``, default a quiet host's
50 events a second).  The rate matters to ausearch: it keeps the events of
the last seconds open and searches them for each record, so a busy log
(thousands of events a second) slows it down far more than a quiet one.

Two shapes:

* ``mixed``: about 1% of the events are Landlock events, the rest ordinary;
* ``dense``: every event is a Landlock event (denials keep only their
  LANDLOCK, SYSCALL and PROCTITLE records).

Usage: ``python -m bench.loggen mixed|dense --size 200M [--rate 50] [--out FILE]``
or ``--events N`` for a number of Landlock events.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, TextIO, Tuple

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT / "fixtures" / "samples" / "kernel-6.18-raw-audit.log"

_HEADER_RE = re.compile(r"^(type=\S+ msg=audit\()(\d+)\.(\d+):(\d+)(\): )(.*)$")
_DOMAIN_RE = re.compile(r"\bdomain=([0-9a-f]+)")
_LANDLOCK_RE = re.compile(r"^type=(?:UNKNOWN\[142[34]\]|LANDLOCK_\w+) ")
_DENSE_TYPES = ("type=UNKNOWN[1423]", "type=UNKNOWN[1424]", "type=LANDLOCK_",
                "type=SYSCALL", "type=PROCTITLE")

# A quiet host: 50 audit events a second (a busy one logs thousands).
DEFAULT_RATE = 50.0

Event = List[Tuple[str, str]]  # (header prefix "type=X msg=audit(", body)


def load_events(path: Path) -> Tuple[List[Event], List[Event]]:
    """(Landlock events, ordinary events) of a raw auditd log, in log order."""
    events: Dict[int, Event] = {}
    order: List[int] = []
    with open(path, encoding="latin-1") as f:
        for line in f:
            m = _HEADER_RE.match(line.rstrip("\n"))
            if not m:
                continue
            serial = int(m.group(4))
            if serial not in events:
                events[serial] = []
                order.append(serial)
            events[serial].append((m.group(1), m.group(6)))
    landlock, ordinary = [], []
    for serial in order:
        event = events[serial]
        if any(_LANDLOCK_RE.match(prefix) for prefix, _ in event):
            landlock.append(event)
        elif any(prefix.startswith("type=SYSCALL") for prefix, _ in event):
            ordinary.append(event)
    return landlock, ordinary


class Replayer:
    """Writes events with fresh serials, times and domain ids."""

    def __init__(self, out: TextIO, start_time: float = 1_800_000_000.0,
                 start_serial: int = 1000, step: float = 1 / DEFAULT_RATE):
        self.out = out
        self.time = start_time
        self.serial = start_serial
        self.step = step
        self.domain_offset = 0
        self.bytes = 0
        self.lines = 0
        self.landlock_events = 0

    def write(self, event: Event, domain_map: Optional[Dict[str, str]] = None,
              dense: bool = False) -> None:
        self.serial += 1
        self.time += self.step
        sec = int(self.time)
        ms = int((self.time - sec) * 1000)
        stamp = f"{sec}.{ms:03d}:{self.serial}): "
        chunk = []
        for prefix, body in event:
            if dense and not prefix.startswith(_DENSE_TYPES):
                continue
            if domain_map is not None and "domain=" in body:
                body = _DOMAIN_RE.sub(lambda m: "domain=" + domain_map[m.group(1)], body, 1)
            chunk.append(f"{prefix}{stamp}{body}\n")
        text = "".join(chunk)
        self.out.write(text)
        self.bytes += len(text)
        self.lines += len(chunk)
        if domain_map is not None:
            self.landlock_events += 1


def _domain_map(landlock: List[Event], offset: int) -> Dict[str, str]:
    ids = sorted({m.group(1) for event in landlock for _, body in event
                  for m in _DOMAIN_RE.finditer(body)}, key=lambda x: int(x, 16))
    return {old: f"{int(old, 16) + offset:x}" for old in ids}


def generate(out: TextIO, shape: str, size: Optional[int] = None,
             events: Optional[int] = None, source: Path = DEFAULT_SOURCE,
             ordinary_per_landlock: int = 99, rate: float = DEFAULT_RATE) -> Replayer:
    """Write a log of ``size`` bytes or ``events`` Landlock events, ``rate``
    audit events a second."""
    if rate <= 0:
        raise ValueError("the rate must be positive")
    landlock, ordinary = load_events(source)
    replay = Replayer(out, step=1 / rate)
    ids = [int(m.group(1), 16) for event in landlock for _, body in event
           for m in _DOMAIN_RE.finditer(body)]
    span = max(ids) - min(ids) + 16
    k = 0

    def done() -> bool:
        if size is not None and replay.bytes >= size:
            return True
        return events is not None and replay.landlock_events >= events

    while not done():
        mapping = _domain_map(landlock, replay.domain_offset)
        replay.domain_offset += span
        for event in landlock:
            replay.write(event, mapping, dense=(shape == "dense"))
            if shape == "mixed":
                for _ in range(ordinary_per_landlock):
                    replay.write(ordinary[k % len(ordinary)])
                    k += 1
            if done():
                break
    return replay


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text[-1:].upper() in units:
        return int(float(text[:-1]) * units[text[-1].upper()])
    return int(text)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shape", choices=["mixed", "dense"])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--size", type=parse_size, help="bytes to write (200M, 1G)")
    group.add_argument("--events", type=int, help="Landlock events to write")
    parser.add_argument("--out", type=Path, help="output file (default: stdout)")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE,
                        help=f"audit events a second (default {DEFAULT_RATE:g}: a quiet host)")
    args = parser.parse_args(argv)
    out = open(args.out, "w", encoding="latin-1") if args.out else sys.stdout
    try:
        replay = generate(out, args.shape, args.size, args.events, args.source,
                          rate=args.rate)
    finally:
        if args.out:
            out.close()
    print(f"{args.shape}: {replay.lines} lines, {replay.bytes} bytes, "
          f"{replay.landlock_events} Landlock events, {args.rate:g} events/s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
