"""Checkpoints found again after rotations (lldecode.analysis.checkpoint)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lldecode.analysis.checkpoint import (
    EXIT_INVALID,
    EXIT_MISMATCH,
    EXIT_NOT_FOUND,
    Checkpoint,
    CheckpointError,
)
from lldecode.audit.follow import FileSource


def _read(path: Path) -> Checkpoint:
    source = FileSource(str(path))
    list(source.lines())
    made = Checkpoint.after(source)
    assert made is not None
    return made


def test_two_renames_since_the_last_run(tmp_path):
    log = tmp_path / "audit.log"
    log.write_text("one\ntwo\n")
    mark = _read(log)
    with open(log, "a") as f:
        f.write("three\n")
    os.rename(log, tmp_path / "audit.log.1")
    log.write_text("four\n")
    os.rename(tmp_path / "audit.log.1", tmp_path / "audit.log.2")
    os.rename(log, tmp_path / "audit.log.1")
    log.write_text("five\n")
    files, notes = mark.resume([str(log)])
    assert files == [(str(tmp_path / "audit.log.2"), 8), (str(tmp_path / "audit.log.1"), 0),
                     (str(log), 0)]
    assert "rotated to" in notes[0]


def test_the_set_given_whole_skips_what_was_read(tmp_path):
    log = tmp_path / "audit.log"
    log.write_text("a\n")
    mark = _read(log)
    os.rename(log, tmp_path / "audit.log.1")
    log.write_text("b\n")
    (tmp_path / "audit.log.2").write_text("old\n")
    paths = [str(tmp_path / n) for n in ("audit.log.2", "audit.log.1", "audit.log")]
    files, notes = mark.resume(paths)
    assert files == [(paths[1], 2), (paths[2], 0)] and notes == []


def test_copied_and_truncated_then_written_again(tmp_path):
    log = tmp_path / "audit.log"
    log.write_text("x" * 100 + "\n")
    mark = _read(log)
    with open(log, "a") as f:
        f.write("after\n")
    shutil.copy(log, tmp_path / "audit.log.1")
    log.write_text("y" * 300 + "\n")    # longer than before: only its bytes tell
    files, notes = mark.resume([str(log)])
    assert files == [(str(tmp_path / "audit.log.1"), 101), (str(log), 0)]
    assert "truncated" in notes[0]


def test_compressed_since_is_a_mismatch(tmp_path):
    log = tmp_path / "audit.log"
    log.write_text("a\n")
    mark = _read(log)
    os.rename(log, tmp_path / "audit.log.1.gz")   # (its inode stays: a rename)
    (tmp_path / "audit.log.1.gz").unlink()
    (tmp_path / "audit.log.1.gz").write_bytes(b"\x1f\x8b")
    log.write_text("b\n")
    with pytest.raises(CheckpointError) as info:
        mark.resume([str(log)])
    assert info.value.status in (EXIT_MISMATCH, EXIT_NOT_FOUND)


@pytest.mark.parametrize("text", [b"", b"[]", b"{}", b'{"format": "lldecode-checkpoint"}',
                                  b'{"format": "lldecode-checkpoint", "version": 1, "path": "x",'
                                  b' "dev": 1, "ino": 2, "offset": -1, "fingerprint": ""}',
                                  b'{"format": "lldecode-checkpoint", "version": 1, "path": "x",'
                                  b' "dev": 1, "ino": 2, "offset": 5, "fingerprint": "zz"}',
                                  b"\xff\xfe garbage"])
def test_anything_else_is_no_checkpoint(tmp_path, text):
    state = tmp_path / "state.json"
    state.write_bytes(text)
    with pytest.raises(CheckpointError) as info:
        Checkpoint.load(str(state))
    assert info.value.status == EXIT_INVALID


def test_saved_and_loaded_alike(tmp_path):
    log = tmp_path / "audit.log"
    log.write_text("type=X msg=audit(1795737091.549:5323): a\npartial")
    mark = _read(log)
    assert (mark.offset, mark.time, mark.serial) == (41, 1795737091.549, 5323)
    mark.save(str(tmp_path / "state.json"))
    again = Checkpoint.load(str(tmp_path / "state.json"))
    assert vars(again) == vars(mark)
    assert Checkpoint.load(str(tmp_path / "none.json")) is None
