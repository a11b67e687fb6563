"""Reading a hub row's fields: the helpers every benchmark's reader shares, and the error they raise.

Images arrive as `datasets` stores them (a dict with `bytes` and `path`, raw bytes, or a PIL image once decoded)
and leave as PNG or JPEG bytes: PNG/JPEG bytes pass through untouched, anything else is re-encoded as PNG.
"""

from __future__ import annotations

import ast
import io
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from evals.items import EvalItem


class FieldError(ValueError):
    """A row's field is missing or malformed; `evals.data` adds the file and the row to the message."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field {field!r}: {problem}")
        self.field = field


def field(row: dict[str, Any], name: str) -> Any:
    """The value of a column that must be present and not null."""
    if name not in row:
        raise FieldError(name, "missing")
    if row[name] is None:
        raise FieldError(name, "empty")
    return row[name]


def text(row: dict[str, Any], name: str) -> str:
    """A string column."""
    value = field(row, name)
    if not isinstance(value, str):
        raise FieldError(name, f"expected a string, got {type(value).__name__}")
    return value


def strings(row: dict[str, Any], name: str) -> list[str]:
    """A list-of-strings column."""
    value = field(row, name)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise FieldError(name, "expected a list of strings")
    return list(value)


def literal_list(row: dict[str, Any], name: str) -> list[str]:
    """A list stored as a Python literal in a string (MMMU's `options`), or a plain list."""
    value = field(row, name)
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError) as err:
            raise FieldError(name, f"not a list literal: {value[:60]!r}") from err
    if not isinstance(value, list | tuple):
        raise FieldError(name, "expected a list")
    return [str(v) for v in value]


def short_answer_item(row: dict[str, Any], item_id: str, answers: list[str], meta: dict[str, Any]) -> EvalItem:
    """The item of a row holding `question` and one `image`, answered in words (DocVQA, InfographicVQA, TextVQA)."""
    return EvalItem(id=item_id, question=text(row, "question"), answers=answers, images=(image_bytes(row, "image"),),
                    meta=meta)


def letter(index: int) -> str:
    """The option letter of a 0-based option index: 0 -> "A"."""
    return chr(ord("A") + index)


_PASS_THROUGH_FORMATS = {"PNG", "JPEG"}


def _encode_png(image: Image.Image) -> bytes:
    if image.mode not in {"1", "L", "LA", "I", "P", "RGB", "RGBA"}:
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def image_bytes(row: dict[str, Any], name: str) -> bytes:
    """The PNG/JPEG bytes of an image column, however `datasets` handed it over (dict, bytes, PIL image)."""
    value = field(row, name)
    if isinstance(value, Image.Image):
        return _encode_png(value)
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
        if data is None and path:
            try:
                data = Path(path).read_bytes()
            except OSError as err:
                raise FieldError(name, f"cannot read image file {path!r}: {err.strerror}") from err
    else:
        data = value
    if not isinstance(data, bytes | bytearray) or not data:
        raise FieldError(name, f"no image bytes (got {type(data).__name__})")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format in _PASS_THROUGH_FORMATS:
                return bytes(data)
            return _encode_png(image)
    except (UnidentifiedImageError, OSError) as err:
        raise FieldError(name, "unreadable image") from err
