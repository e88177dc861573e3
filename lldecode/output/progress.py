"""A progress line on stderr while long inputs are read.

Shown only when asked for (``--progress``, by default when stderr is a
terminal) and only for regular files: a thread looks at the read position of
the file being read a few times a second, so reading itself pays nothing.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import BinaryIO, Optional, TextIO

from lldecode.output.escape import escape_text

# Seconds between two looks at the read position: often enough to look
# alive, rarely enough to cost nothing.
INTERVAL = 0.25
# Bytes: a smaller file is read before a progress line would tell anything.
MIN_SIZE = 8 << 20


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class Progress:
    """Watches one file at a time; draws ``reading FILE  42% (420 MB of 1.0 GB)``."""

    def __init__(self, stream: Optional[TextIO] = None, interval: float = INTERVAL,
                 min_size: int = MIN_SIZE):
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.min_size = min_size
        self._name = ""
        self._fd: Optional[int] = None
        self._size = 0
        self._drawn = False
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="lldecode-progress", daemon=True)
        self._thread.start()

    def watch(self, name: str, fileobj: BinaryIO) -> None:
        """Follow ``fileobj`` (a binary file) from now on."""
        try:
            fd = fileobj.fileno()
            size = os.fstat(fd).st_size
            os.lseek(fd, 0, os.SEEK_CUR)
        except (OSError, AttributeError, ValueError):
            fd, size = None, 0
        with self._lock:
            self._name, self._fd, self._size = escape_text(name), fd, size

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                fd, size, name = self._fd, self._size, self._name
            if fd is None or size < self.min_size:
                continue
            try:
                position = os.lseek(fd, 0, os.SEEK_CUR)
            except OSError:
                continue
            done = min(position, size)
            self.stream.write(f"\r\x1b[Kreading {name}  {100 * done // size}% "
                              f"({_size(done)} of {_size(size)})")
            self.stream.flush()
            self._drawn = True

    def close(self) -> None:
        """Stop watching and erase the progress line."""
        self._stop.set()
        self._thread.join()
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
