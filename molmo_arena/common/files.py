"""Files written whole or not at all, JSON-lines files read with errors that name the line, and the hashes that
name inputs in every record.

A file is written to a temporary file beside its destination, flushed to disk (fsync), renamed over the
destination, and the rename itself is flushed (fsync of the folder): after a crash a reader finds the old file or
the complete new one, never a part, and a finished write survives a power cut (POSIX `rename(2)`; the folder sync is
what makes the rename durable on Linux filesystems such as ext4).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file that replaces `path` when the block ends without an error; on an error `path` is untouched
    and the temporary file is removed. Missing parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder: str | Path) -> None:
    """Flush a folder's entries (renames, new files) to disk."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` whole or not at all (see the module docstring)."""
    with replacing(path) as out:
        out.write(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 `text` to `path` whole or not at all."""
    return write_bytes(path, text.encode("utf-8"))


def write_lines(path: str | Path, lines: Iterable[str]) -> int:
    """Write one UTF-8 line per item (a newline added to each) to `path` whole or not at all, streaming, so an
    export larger than memory works too. Returns the number of lines."""
    count = 0
    with replacing(path) as out:
        for line in lines:
            out.write(line.encode("utf-8") + b"\n")
            count += 1
    return count


def file_sha256(path: str | Path) -> str:
    """The file's sha256 in hex (what `sha256sum` prints), read in blocks; an unreadable file is a ValueError
    that names it."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise ValueError(f"{path}: cannot read: {error.strerror}") from error
    return digest.hexdigest()


def read_json_lines(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSON-lines file; a line that is not a JSON object, or
    a file that cannot be read as UTF-8 text, is a ValueError naming `path:line`."""
    try:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number}: not valid JSON ({error.msg})") from None
                if not isinstance(record, dict):
                    raise ValueError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
                yield number, record
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read: {error}") from error
