"""Checkpoints: read only what a log gained since the last run (cron, CI).

A checkpoint file (JSON) holds the position reached in the last file read:
its device and inode, the byte offset after the last whole line, the bytes
just before that offset (to recognize the file, or its copy), and the time
and serial of the last event there (for the messages).  The next run starts
there, skipping the files of the set read before it; when the file was
rotated meanwhile:

* by rename (``audit.log`` became ``audit.log.1``): the file with the
  inode, among the inputs or beside them (its rotated names), is read from
  the offset, then every newer file of the set;
* by copy and truncate: the copy (the rotated file whose bytes before the
  offset are the ones remembered) is read from the offset, then the
  truncated file from its start.

When the checkpoint does not match, the command stops before reading, with
an exit status like ausearch's: :data:`EXIT_INVALID` (10, the checkpoint
file cannot be read or is no checkpoint), :data:`EXIT_NOT_FOUND` (11, no
input is the file it names, nor a rotated copy of it), :data:`EXIT_MISMATCH`
(12, the file is there but no longer holds the position: it was rewritten,
or compressed after its rotation).  The checkpoint is written only after a
successful run (exit status 0 or 1, or the end of ``--follow``), atomically.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from lldecode.audit import follow
from lldecode.audit.sources import Source, file_source, is_compressed, rotation_key

EXIT_INVALID = 10
EXIT_NOT_FOUND = 11
EXIT_MISMATCH = 12

FORMAT = "lldecode-checkpoint"
VERSION = 1

# The last event's stamp is looked for in this many bytes before the offset.
_STAMP_SCAN = 1 << 16
_STAMP_RE = re.compile(rb"audit\((\d+(?:\.\d+)?):(\d+)\)")


class CheckpointError(Exception):
    """A checkpoint that cannot be used: the message and the exit status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class Checkpoint:
    """A position in a log file (see the module's doc)."""

    def __init__(self, path: str, dev: int, ino: int, offset: int, fingerprint: bytes,
                 time: Optional[float] = None, serial: Optional[int] = None):
        self.path = path
        self.dev = dev
        self.ino = ino
        self.offset = offset
        self.fingerprint = fingerprint
        self.time = time
        self.serial = serial

    # -- the file --------------------------------------------------------------

    @classmethod
    def load(cls, path: str) -> Optional["Checkpoint"]:
        """The checkpoint in ``path``; None when there is none yet (the first
        run reads everything); CheckpointError when it cannot be used."""
        try:
            with open(path, "rb") as f:
                data = f.read(1 << 16)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CheckpointError(f"checkpoint {path}: {exc.strerror or exc}",
                                  EXIT_INVALID) from None
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT or doc.get("version") != VERSION:
                raise ValueError("not an lldecode checkpoint")
            fingerprint = bytes.fromhex(doc["fingerprint"])
            made = cls(str(doc["path"]), int(doc["dev"]), int(doc["ino"]), int(doc["offset"]),
                       fingerprint,
                       float(doc["time"]) if doc.get("time") is not None else None,
                       int(doc["serial"]) if doc.get("serial") is not None else None)
            if made.offset < 0 or len(fingerprint) > made.offset:
                raise ValueError("offset out of range")
            return made
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CheckpointError(
                f"checkpoint {path}: cannot be read ({exc}); remove it to read every "
                "record again", EXIT_INVALID) from None

    def save(self, path: str) -> None:
        """Write the checkpoint to ``path`` atomically (OSError if it cannot)."""
        doc: Dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "path": self.path, "dev": self.dev,
            "ino": self.ino, "offset": self.offset, "fingerprint": self.fingerprint.hex(),
            "time": self.time, "serial": self.serial}
        import tempfile  # (here: a run without --checkpoint does not import it)

        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".lldecode-checkpoint-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                json.dump(doc, f, indent=1)
                f.write("\n")
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    @classmethod
    def after(cls, source: follow.FileSource) -> Optional["Checkpoint"]:
        """The position a file source reached (None if it read nothing yet)."""
        if source.identity is None:
            return None
        dev, ino = source.identity
        offset = source.position
        time_, serial = None, None
        try:
            with open(source.filename, "rb") as f:
                start = max(0, offset - _STAMP_SCAN)
                f.seek(start)
                tail = f.read(offset - start)
            fingerprint = tail[-follow.FINGERPRINT:]
            stamps = _STAMP_RE.findall(tail)
            if stamps:
                time_, serial = float(stamps[-1][0]), int(stamps[-1][1])
        except OSError:
            fingerprint = source.fingerprint
        return cls(os.path.abspath(source.filename), dev, ino, offset, fingerprint, time_, serial)

    def describe(self) -> str:
        """Where the checkpoint is, in words."""
        where = f"byte {self.offset} of {self.path}"
        if self.serial is not None:
            where += f" (after event {self.serial})"
        return where

    # -- resuming --------------------------------------------------------------

    def _holds_position(self, path: str) -> bool:
        """Does ``path`` hold the remembered bytes just before the offset?"""
        try:
            with open(path, "rb") as f:
                if is_compressed(f.read(6)):
                    return False
                start = self.offset - len(self.fingerprint)
                f.seek(start)
                return f.read(len(self.fingerprint)) == self.fingerprint and (
                    os.fstat(f.fileno()).st_size >= self.offset)
        except OSError:
            return False

    def _is_file(self, path: str) -> bool:
        try:
            st = os.stat(path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == (self.dev, self.ino)

    def resume(self, paths: Sequence[str]) -> Tuple[List[Tuple[str, int]], List[str]]:
        """The files to read after the checkpoint, each with the offset to
        start at, given the input files in reading order (oldest first);
        and notes for the user.  CheckpointError when it does not match."""
        notes: List[str] = []
        for i, path in enumerate(paths):
            if not self._is_file(path):
                continue
            if self._holds_position(path):
                return [(path, self.offset)] + [(p, 0) for p in paths[i + 1:]], notes
            copy = follow.find_by_content(path, self.offset, self.fingerprint, exclude=path)
            if copy is not None:  # copied and truncated since
                notes.append(f"checkpoint: {path} was copied to {copy} and truncated "
                             f"since the last run: reading {copy} from byte {self.offset}")
                return [(copy, self.offset)] + [(p, 0) for p in paths[i:]], notes
            raise CheckpointError(
                f"checkpoint: {path} no longer holds the position of the last run "
                f"({self.describe()}): it was rewritten or truncated; remove the checkpoint "
                "to read it all", EXIT_MISMATCH)
        # not among the inputs: rotated since (renamed beside an input)
        for i, path in enumerate(paths):
            siblings = follow.rotated_siblings(path)
            for sibling in siblings:
                if not self._is_file(sibling):
                    continue
                if not self._holds_position(sibling):
                    raise CheckpointError(
                        f"checkpoint: {sibling} (rotated since the last run) no longer "
                        f"holds its position ({self.describe()})", EXIT_MISMATCH)
                newer = [s for s in siblings
                         if rotation_key(s) > rotation_key(sibling) and s not in paths]
                newer.sort(key=rotation_key)
                notes.append(f"checkpoint: {self.path} was rotated to {sibling} since "
                             f"the last run: reading it from byte {self.offset}")
                return ([(sibling, self.offset)] + [(s, 0) for s in newer]
                        + [(p, 0) for p in paths[i:]]), notes
        for path in [self.path] + list(paths):
            for candidate in follow.rotated_siblings(path):
                if candidate.endswith((".gz", ".bz2", ".xz")) and os.path.basename(
                        candidate).startswith(os.path.basename(self.path)):
                    raise CheckpointError(
                        f"checkpoint: {self.path} was rotated and compressed since the last "
                        f"run ({candidate}?): its position cannot be found in a compressed "
                        "file; remove the checkpoint to read everything", EXIT_MISMATCH)
        raise CheckpointError(
            f"checkpoint: no input is the file of the last run ({self.describe()}), nor a "
            "rotated copy of it: give that log (or its directory), or remove the checkpoint "
            "to read everything", EXIT_NOT_FOUND)


def sources_for(files: Sequence[Tuple[str, int]], follow_last: bool = False,
                max_line_length: Optional[int] = None) -> List[Source]:
    """Sources for (file, offset) pairs: uncompressed files as
    :class:`~lldecode.audit.follow.FileSource` (their position known),
    compressed ones read whole; the last one followed when asked."""
    made: List[Source] = []
    for n, (path, offset) in enumerate(files):
        last = n == len(files) - 1
        try:
            with open(path, "rb") as f:
                compressed = is_compressed(f.read(6))
        except OSError:
            compressed = False
        if compressed:
            made.append(file_source(path) if max_line_length is None
                        else file_source(path, max_line_length))
            continue
        source = follow.FileSource(path, offset, follow=follow_last and last)
        if max_line_length is not None:
            source.max_line_length = max_line_length
        made.append(source)
    return made
