"""Small input files for the arena tests (a module of its own, so that test modules can import it)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import PIL.Image


def png_bytes(seed: int, size: tuple[int, int] = (8, 6)) -> bytes:
    """A small PNG whose colour, and so whose bytes, depend on `seed`."""
    buffer = io.BytesIO()
    PIL.Image.new("RGB", size, (seed % 256, seed // 256 % 256, 7)).save(buffer, "PNG")
    return buffer.getvalue()


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path
