"""Reading battles in FastChat's cleaned-battle format, with errors that name the file, the row and the field.

A battle is one vote: `model_a`, `model_b`, `winner` in {model_a, model_b, tie, tie (bothbad)}, plus optional
`judge`, `category`, `tstamp`, `question_id` and `anony`. Accepted containers: JSON lines (`.jsonl`,
`.ndjson`), a JSON array (`.json`), CSV (`.csv`) and Parquet (`.parquet`); the text formats may be gzipped.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import zlib
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
    if kind not in (".jsonl", ".ndjson", ".json", ".csv", ".parquet"):
        raise BattleDataError(f"{path}: unknown battles format {path.name!r} (use .jsonl, .json, .csv or .parquet)")
    try:
        if kind in (".jsonl", ".ndjson"):
            battles = _read_clean_json_lines(path)
            if battles is not None:
                return battles
            frame, where = _read_json_lines(path)
        elif kind == ".json":
            frame, where = _read_json_array(path)
        elif kind == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            where = _LineLabels("line", 2)
        else:
            frame = pd.read_parquet(path)
            where = _LineLabels("row", 1)
    except UnicodeDecodeError as error:
        raise BattleDataError(f"{path}: not UTF-8 text ({error.reason})") from None
    except pd.errors.ParserError as error:
        raise BattleDataError(f"{path}: not valid CSV ({error})") from None
    except (OSError, EOFError, zlib.error) as error:
        raise BattleDataError(f"{path}: cannot be read ({error})") from None
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


def _open(path: Path, binary: bool = False):
    """The file's text (UTF-8) or bytes, through gzip for a .gz name."""
    mode, encoding = ("rb", None) if binary else ("rt", "utf-8")
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    return opener(path, mode, encoding=encoding)


def _read_json_lines(path: Path) -> tuple[pd.DataFrame, _LineLabels]:
    records, numbers = [], []
    with _open(path) as handle:
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


class _NeedsLineReader(Exception):
    """The file is not plainly valid JSON lines: the line reader reads it, with its exact messages."""


def _need(condition: bool) -> None:
    if not condition:
        raise _NeedsLineReader


def _read_clean_json_lines(path: Path) -> pd.DataFrame | None:
    """The battles of a JSON-lines file that is plainly valid, parsed by Arrow in a fraction of the line reader's
    time; None for anything else (blank lines, tabs or carriage returns, values of other types, any bad value).
    Both readers give the same frame for every file this one accepts."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pa_json

    with _open(path, binary=True) as handle:
        data = handle.read()
    try:
        _need(_one_object_per_line(data))
        try:
            table = pa_json.read_json(pa.py_buffer(data))
        except pa.ArrowInvalid:
            raise _NeedsLineReader from None
        _need(table.num_rows == data.count(b"\n") + (not data.endswith(b"\n")))
        columns = {name: table[name].combine_chunks() for name in table.column_names}
        for name in REQUIRED_COLUMNS:
            _need(name in columns and columns[name].type == pa.string() and columns[name].null_count == 0)
        kinds = {"judge": "string", "category": "string", "question_id": "string", "tstamp": "number", "anony": "bool"}
        allowed = {"string": (pa.string(),), "number": (pa.int64(), pa.float64()), "bool": (pa.bool_(),)}
        for name, kind in kinds.items():
            _need(name not in columns or columns[name].type in (*allowed[kind], pa.null()))

        def strings(column: pa.Array, clean=str) -> np.ndarray:
            if column.type == pa.null():
                return np.full(len(column), "", dtype=object)
            encoded = pc.dictionary_encode(column)
            words = np.array([clean(word) for word in encoded.dictionary.to_pylist()] + [""], dtype=object)
            return words[encoded.indices.fill_null(len(words) - 1).to_numpy()]

        model_a, model_b = strings(columns["model_a"], str.strip), strings(columns["model_b"], str.strip)
        _need(model_a.astype(bool).all() and model_b.astype(bool).all() and not (model_a == model_b).any())
        _need(set(pc.unique(columns["winner"]).to_pylist()) <= set(WINNERS))
    except _NeedsLineReader:
        return None
    battles = {"model_a": model_a, "model_b": model_b, "winner": strings(columns["winner"])}
    battles |= {name: strings(columns[name]) for name in ("judge", "category", "question_id") if name in columns}
    if "tstamp" in columns:
        battles["tstamp"] = pc.cast(columns["tstamp"], pa.float64()).to_numpy(zero_copy_only=False)
    if "anony" in columns:
        battles["anony"] = pc.fill_null(pc.cast(columns["anony"], pa.bool_()), True).to_numpy(zero_copy_only=False)
    return pd.DataFrame(battles)


def _one_object_per_line(data: bytes) -> bool:
    """Whether every line of `data` starts with '{' and ends with '}', is valid UTF-8 and holds no control byte:
    with that, Arrow's row count equals the line count exactly when each line holds one object."""
    if not data or not (data.isascii() or _is_utf8(data)):
        return False
    octets = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(octets == ord("\n"))
    if np.count_nonzero(octets < 0x20) != breaks.size:
        return False
    ends = breaks - 1 if data.endswith(b"\n") else np.append(breaks - 1, len(data) - 1)
    starts = np.append(0, ends[:-1] + 2)
    return bool((ends >= starts).all() and (octets[starts] == ord("{")).all() and (octets[ends] == ord("}")).all())


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _read_json_array(path: Path) -> tuple[pd.DataFrame, _LineLabels]:
    with _open(path) as handle:
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


def _absent(value) -> bool:
    """Whether a field holds no value: left out of its record, null, NaN or NA."""
    return value is _MISSING or value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


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
            battles[field] = frame[field].map(lambda v: "" if _absent(v) else str(v))
    if "tstamp" in frame.columns:
        values = frame["tstamp"].map(lambda v: np.nan if _absent(v) or v == "" else v)
        stamps = pd.to_numeric(values, errors="coerce")
        absent = values.isna().to_numpy()
        fail(~absent & stamps.isna().to_numpy(), "tstamp", lambda v: f"expected a number (seconds), got {v!r}")
        battles["tstamp"] = stamps.astype(float)
    if "anony" in frame.columns:
        battles["anony"] = _parse_flags(frame["anony"], path, where)
    return battles.reset_index(drop=True)


def _parse_flags(column: pd.Series, path: Path, where) -> pd.Series:
    def parse(value):
        if _absent(value):
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
