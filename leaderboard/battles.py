"""Reading battles in FastChat's cleaned-battle format, with errors that name the file, the row and the field.

A battle is one vote: `model_a`, `model_b`, `winner` in {model_a, model_b, tie, tie (bothbad)}, plus optional
`judge`, `category`, `tstamp`, `question_id` and `anony`. Accepted containers: JSON lines (`.jsonl`,
`.ndjson`), a JSON array (`.json`), CSV (`.csv`) and Parquet (`.parquet`); the text formats may be gzipped.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
REQUIRED_COLUMNS = ("model_a", "model_b", "winner")
OPTIONAL_COLUMNS = ("judge", "category", "tstamp", "question_id", "anony")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class BattleDataError(ValueError):
    """Bad battle data: the message names the file, where in it, and the field."""


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of the file's bytes, recorded with every fit so a rating can be traced to its input."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_battles(path: str | Path) -> pd.DataFrame:
    """Read and validate a battles file; returns one row per battle with the known columns that are present."""
    path = Path(path)
    if not path.is_file():
        raise BattleDataError(f"{path}: no such file")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind in (".jsonl", ".ndjson"):
        frame, where = _read_json_lines(path)
    elif kind == ".json":
        frame, where = _read_json_array(path)
    elif kind == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        where = _LineLabels("line", 2)
    elif kind == ".parquet":
        frame = pd.read_parquet(path)
        where = _LineLabels("row", 1)
    else:
        raise BattleDataError(f"{path}: unknown battles format {path.name!r} (use .jsonl, .json, .csv or .parquet)")
    if len(frame) == 0:
        raise BattleDataError(f"{path}: the file holds no battles")
    return _validate(frame, path, where)


class _LineLabels:
    """Maps a 0-based row index to the location a user sees: 'line 7' or 'row 3'."""

    def __init__(self, word: str, first: int, numbers: np.ndarray | None = None) -> None:
        self.word, self.first, self.numbers = word, first, numbers

    def __getitem__(self, index: int) -> str:
        number = self.numbers[index] if self.numbers is not None else index + self.first
        return f"{self.word} {number}"


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix.lower() == ".gz" else open(path, encoding="utf-8")


def _read_json_lines(path: Path) -> tuple[pd.DataFrame, _LineLabels]:
    records, numbers = [], []
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise BattleDataError(f"{path}: line {number}: not valid JSON ({error.msg})") from None
            if not isinstance(record, dict):
                raise BattleDataError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
            records.append(record)
            numbers.append(number)
    where = _LineLabels("line", 1, np.asarray(numbers))
    return _records_frame(records, path, where), where


def _read_json_array(path: Path) -> tuple[pd.DataFrame, _LineLabels]:
    with _open_text(path) as handle:
        try:
            records = json.load(handle)
        except json.JSONDecodeError as error:
            raise BattleDataError(f"{path}: line {error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(records, list):
        raise BattleDataError(f"{path}: expected a JSON array of battle objects, got {type(records).__name__}")
    where = _LineLabels("record", 1)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise BattleDataError(f"{path}: {where[index]}: expected a JSON object, got {type(record).__name__}")
    return _records_frame(records, path, where), where


_MISSING = object()


def _records_frame(records: list[dict], path: Path, where: _LineLabels) -> pd.DataFrame:
    """Columns of the known fields; a record missing a required field is an error at that record."""
    present = {key for record in records for key in record}
    columns = {}
    for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
        if name not in present:
            continue
        values = [record.get(name, _MISSING) for record in records]
        if name in REQUIRED_COLUMNS and _MISSING in values:
            index = values.index(_MISSING)
            raise BattleDataError(f"{path}: {where[index]}: field {name!r}: missing")
        columns[name] = values
    return pd.DataFrame(columns, index=pd.RangeIndex(len(records)))


def _validate(frame: pd.DataFrame, path: Path, where) -> pd.DataFrame:
    missing = [name for name in REQUIRED_COLUMNS if name not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise BattleDataError(f"{path}: missing column {missing[0]!r} (columns found: {found})")

    def fail(mask: np.ndarray, field: str, message) -> None:
        bad = np.flatnonzero(mask)
        if bad.size:
            index = int(bad[0])
            value = frame[field].iloc[index]
            raise BattleDataError(f"{path}: {where[index]}: field {field!r}: {message(value)}")

    battles = pd.DataFrame(index=frame.index)
    for field in ("model_a", "model_b"):
        column = frame[field]
        ok = column.map(lambda v: isinstance(v, str) and v.strip() != "").to_numpy(bool)
        fail(~ok, field, lambda v: f"expected a model name, got {v!r}")
        battles[field] = column.str.strip()
    fail((battles["model_a"] == battles["model_b"]).to_numpy(), "model_b",
         lambda v: f"model {v!r} battles itself")
    winner = frame["winner"]
    fail(~winner.isin(WINNERS).to_numpy(), "winner",
         lambda v: f"unknown value {v!r} (expected one of {', '.join(WINNERS)})")
    battles["winner"] = winner.astype(str)

    for field in ("judge", "category", "question_id"):
        if field in frame.columns:
            battles[field] = frame[field].map(lambda v: "" if v is None or v is _MISSING else str(v))
    if "tstamp" in frame.columns:
        stamps = pd.to_numeric(frame["tstamp"].map(lambda v: np.nan if v is _MISSING else v), errors="coerce")
        given = frame["tstamp"].map(lambda v: v is not _MISSING and v not in ("", None)).to_numpy(bool)
        fail(given & stamps.isna().to_numpy(), "tstamp", lambda v: f"expected a number (seconds), got {v!r}")
        battles["tstamp"] = stamps.astype(float)
    if "anony" in frame.columns:
        battles["anony"] = _parse_flags(frame["anony"], path, where)
    return battles.reset_index(drop=True)


def _parse_flags(column: pd.Series, path: Path, where) -> pd.Series:
    def parse(value):
        if value is _MISSING or value is None:
            return True
        if isinstance(value, bool | np.bool_):
            return bool(value)
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return None

    parsed = column.map(parse)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        index = int(bad[0])
        raise BattleDataError(
            f"{path}: {where[index]}: field 'anony': expected true or false, got {column.iloc[index]!r}"
        )
    return parsed.astype(bool)
