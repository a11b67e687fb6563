"""Reading battles in FastChat's cleaned-battle format, with errors that name the file, the row and the field.

A battle is one vote; its columns are listed once, in `leaderboard.schema.COLUMNS`. Accepted containers: JSON
lines (`.jsonl`, `.ndjson`), a JSON array (`.json`), CSV (`.csv`) and Parquet (`.parquet`); the text formats
may be gzipped. Every reader turns its file into the same thing, one Arrow array (or, for records parsed one by
one, one list) per known column, and one vectorised check validates them all, so a bad value gets the same
one-line message whatever the format. Battles of a model against itself are kept here and dropped (and counted)
by the fit's battle selection.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from leaderboard.schema import (
    BY_NAME,
    COLUMNS,
    FALSE_WORDS,
    REQUIRED,
    STYLE_COUNTS,
    TRUE_WORDS,
    WINNER_ALIASES,
    WINNERS,
    style_column,
)

FORMATS = (".jsonl", ".ndjson", ".json", ".csv", ".parquet")


class BattleDataError(ValueError):
    """Bad battle data: the message names the file, where in it, and the field."""


@dataclass(frozen=True)
class _Locations:
    """Maps a 0-based row index to the place a user sees: 'line 7', 'record 3' or 'row 3'."""

    word: str
    first: int
    numbers: np.ndarray | None = None

    def __getitem__(self, index: int) -> str:
        number = self.numbers[index] if self.numbers is not None else index + self.first
        return f"{self.word} {number}"


@dataclass(frozen=True)
class _RawColumns:
    """A file's known columns before validation: Arrow arrays, or Python lists of parsed values (where a
    required field left out of a record is `_MISSING`)."""

    columns: dict[str, pa.Array | list]
    rows: int
    where: _Locations


_MISSING = object()


def load_battles(path: str | Path, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Read and validate a battles file; returns one row per battle with the known columns that are present.

    `columns` names the known columns to read besides the required ones (default: all); the others are read past
    like unknown ones, unchecked (a fit reads what its settings use, `leaderboard.ratings.battle_columns`).
    Model names, winners and text fields come back as pandas categoricals (model_a and model_b share one sorted
    list of models), so later steps work on integer codes."""
    path = Path(path)
    wanted = set(REQUIRED) | (set(BY_NAME) if columns is None else set(columns))
    unknown = sorted(wanted - set(BY_NAME))
    if unknown:
        raise ValueError(f"unknown battle columns {', '.join(unknown)} (known: {', '.join(BY_NAME)})")
    if not path.is_file():
        raise BattleDataError(f"{path}: no such file")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind not in FORMATS:
        raise BattleDataError(f"{path}: unknown battles format {path.name!r} (use .jsonl, .json, .csv or .parquet)")
    try:
        if kind in (".jsonl", ".ndjson"):
            raw = _read_plain_json_lines(path, wanted) or _read_json_lines(path, wanted)
        elif kind == ".json":
            raw = _read_json_array(path, wanted)
        elif kind == ".csv":
            raw = _read_csv(path, wanted)
        else:
            raw = _read_parquet(path, wanted)
    except UnicodeDecodeError as error:
        raise BattleDataError(f"{path}: not UTF-8 text ({error.reason})") from None
    except pd.errors.ParserError as error:
        raise BattleDataError(f"{path}: not valid CSV ({error})") from None
    except (OSError, EOFError, zlib.error, pa.ArrowException) as error:
        raise BattleDataError(f"{path}: cannot be read ({error})") from None
    if raw.rows == 0:
        raise BattleDataError(f"{path}: the file holds no battles")
    return _validate(raw, path)


# ----------------------------------------------------------------------------------------------------------
# Readers: each returns the known columns of its file.


def _open(path: Path, binary: bool = False):
    """The file's text (UTF-8) or bytes, through gzip for a .gz name."""
    mode, encoding = ("rb", None) if binary else ("rt", "utf-8")
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    return opener(path, mode, encoding=encoding)


def _records_columns(records: list[dict], where: _Locations, wanted: set[str]) -> _RawColumns:
    """One list per wanted known field of parsed records; a field no record has is left out."""
    present = {key for record in records for key in record}
    columns = {}
    for column in COLUMNS:
        if column.name in present and column.name in wanted:
            default = _MISSING if column.required else None
            columns[column.name] = [record.get(column.name, default) for record in records]
    return _RawColumns(columns, len(records), where)


def _read_json_lines(path: Path, wanted: set[str]) -> _RawColumns:
    """The exact reader: one `json.loads` per line, so a syntax error names its line."""
    records, numbers = [], []
    with _open(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = _parse_json(line, path, lambda error, number=number: f"line {number}")
            if not isinstance(record, dict):
                raise BattleDataError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
            records.append(record)
            numbers.append(number)
    return _records_columns(records, _Locations("line", 1, np.asarray(numbers)), wanted)


def _read_json_array(path: Path, wanted: set[str]) -> _RawColumns:
    with _open(path) as handle:
        records = _parse_json(handle.read(), path, lambda error: f"line {error.lineno}")
    if not isinstance(records, list):
        raise BattleDataError(f"{path}: expected a JSON array of battle objects, got {type(records).__name__}")
    where = _Locations("record", 1)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise BattleDataError(f"{path}: {where[index]}: expected a JSON object, got {type(record).__name__}")
    return _records_columns(records, where, wanted)


def _read_csv(path: Path, wanted: set[str]) -> _RawColumns:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=lambda name: name in wanted)
    columns: dict[str, pa.Array | list] = {}
    for name in frame.columns:
        column = BY_NAME.get(name)
        if column is None:
            continue
        text = frame[name].to_numpy(dtype=object)
        if column.kind in ("metadata", "tags"):  # nested objects are JSON text in a CSV cell
            columns[name] = [_json_cell(path, frame.index[i] + 2, name, v) for i, v in enumerate(text)]
        else:
            array = pa.array(text, type=pa.string())
            columns[name] = array if column.required else pc.if_else(pc.equal(array, ""), None, array)
    return _RawColumns(columns, len(frame), _Locations("line", 2))


def _json_cell(path: Path, line: int, field: str, text: str) -> Any:
    return None if text == "" else _parse_json(text, path, lambda error: f"line {line}: field {field!r}")


def _parse_json(text: str, path: Path, place) -> Any:
    """`json.loads(text)`; a syntax error is one line naming the file and `place(error)`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BattleDataError(f"{path}: {place(error)}: not valid JSON ({error.msg})") from None


def _read_parquet(path: Path, wanted: set[str]) -> _RawColumns:
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    names = [name for name in schema.names if name in wanted]
    # Text columns come out dictionary-encoded, as Parquet stores them: each distinct name is checked once.
    text = [name for name in names if _is_text(schema.field(name).type)]
    table = pq.read_table(path, columns=names, read_dictionary=text).unify_dictionaries()
    # Nested columns stay in chunks (joining them copies every field); the checks read chunked arrays as well.
    columns = {name: table[name] if BY_NAME[name].kind in ("metadata", "tags") else table[name].combine_chunks()
               for name in names}
    return _RawColumns(columns, table.num_rows, _Locations("row", 1))


# The JSON-lines fast path: Arrow parses only the known fields, with the types a plainly valid file has.
_COUNT = pa.float64()
_ARROW_TYPES = {"name": pa.string(), "winner": pa.string(), "text": pa.string(), "number": pa.float64(),
                "flag": pa.bool_()}


def _arrow_schema(data: bytes, wanted: set[str]) -> pa.Schema | None:
    """The known fields with the types of a plainly valid file; the nested ones only where the file has them
    (parsing a nested type costs time on every line); None where Arrow must infer (`category_tag`'s labels
    have no fixed shape)."""
    if "category_tag" in wanted and b'"category_tag"' in data:
        return None
    metadata = pa.struct([
        (count.key.format(side=side), pa.struct([(part, _COUNT) for part in count.parts]) if count.parts else _COUNT)
        for count in STYLE_COUNTS for side in "ab"
    ])
    fields = [(c.name, _ARROW_TYPES[c.kind]) for c in COLUMNS if c.kind in _ARROW_TYPES and c.name in wanted]
    if "conv_metadata" in wanted and b'"conv_metadata"' in data:
        fields.append(("conv_metadata", metadata))
    return pa.schema(fields)


class _NeedsLineReader(Exception):
    """The file is not plainly valid JSON lines: the line reader reads it, with its exact messages."""


def _need(condition: bool) -> None:
    if not condition:
        raise _NeedsLineReader


def _read_plain_json_lines(path: Path, wanted: set[str]) -> _RawColumns | None:
    """The columns of a JSON-lines file that is plainly valid, parsed by Arrow in a fraction of the line reader's
    time; None for anything else (blank lines, tabs or carriage returns, values of other types, a field left
    out of a record that needs it). Both readers give the same battles for every file this one accepts."""
    import pyarrow.json as pa_json

    with _open(path, binary=True) as handle:
        data = handle.read()
    try:
        _need(_one_object_per_line(data))
        schema = _arrow_schema(data, wanted)
        options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore") if schema \
            else pa_json.ParseOptions()
        try:
            table = pa_json.read_json(pa.py_buffer(data), parse_options=options)
        except pa.ArrowInvalid:
            raise _NeedsLineReader from None
        _need(table.num_rows == data.count(b"\n") + (not data.endswith(b"\n")))
        columns = {}
        for name in table.column_names:
            if name not in wanted:
                continue
            array = table[name].combine_chunks()
            if BY_NAME[name].required:
                _need(array.type == pa.string() and array.null_count == 0)
            elif BY_NAME[name].kind in _ARROW_TYPES:
                _need(array.type in (_ARROW_TYPES[BY_NAME[name].kind], pa.null()))
            if array.null_count < len(array):
                columns[name] = array
    except _NeedsLineReader:
        return None
    return _RawColumns(columns, table.num_rows, _Locations("line", 1))


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


# ----------------------------------------------------------------------------------------------------------
# Validation: one pass per column, the same for every reader.


def _absent(value: Any) -> bool:
    """Whether a parsed value holds nothing: null, NaN or NA."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


class _Checker:
    """Validates one file's columns; every failure is one line naming the file, the place and the field."""

    def __init__(self, raw: _RawColumns, path: Path) -> None:
        self.raw, self.path = raw, path

    def fail(self, index: int, field: str, message: str) -> None:
        raise BattleDataError(f"{self.path}: {self.raw.where[int(index)]}: field {field!r}: {message}")

    def first(self, mask: np.ndarray | pa.Array) -> int | None:
        if isinstance(mask, pa.Array | pa.ChunkedArray):
            mask = mask.fill_null(False).to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(mask)
        return int(bad[0]) if bad.size else None

    def arrow(self, name: str, values: pa.Array | list) -> pa.Array:
        """A list of parsed values as one Arrow array. Where Arrow cannot hold them together, each value is
        converted on its own to the column's kind, and the first that cannot be is the error."""
        if isinstance(values, pa.Array | pa.ChunkedArray):
            return values
        missing = next((i for i, v in enumerate(values) if v is _MISSING), None)
        if missing is not None:
            self.fail(missing, name, "missing")
        try:
            return pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
        kind = BY_NAME[name].kind
        convert = _CONVERT[kind]
        cleaned = []
        for index, value in enumerate(values):
            converted = None if _absent(value) else convert(value)
            if converted is _REFUSED:
                self.fail(index, name, _refusal(kind, value))
            cleaned.append(converted)
        return pa.array(cleaned, from_pandas=True)

    def values(self, array: pa.Array, index: int) -> Any:
        return array[index].as_py()

    def strings(self, name: str, array: pa.Array) -> pa.Array:
        """A text column as Arrow text: numbers and flags become their text; other values are refused."""
        if _is_text(array.type):
            return array
        if pa.types.is_null(array.type) or pa.types.is_integer(array.type) or pa.types.is_floating(array.type) \
                or pa.types.is_boolean(array.type):
            return array.cast(pa.string())
        index = self.first(pc.is_valid(array))
        self.fail(index, name, _refusal("text", self.values(array, index)))
        raise AssertionError  # unreachable: fail raised

    def first_of(self, encoded: pa.DictionaryArray, positions: pa.Array) -> int | None:
        """The first row whose dictionary entry is at one of `positions`."""
        if len(positions) == 0:
            return None
        return self.first(pc.is_in(encoded.indices, value_set=positions.cast(encoded.indices.type)))


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _encoded(array: pa.Array) -> pa.DictionaryArray:
    """A text array dictionary-encoded (as Parquet hands it over, or encoded here), with string words."""
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array.cast(pa.string()))
    return pa.DictionaryArray.from_arrays(array.indices, array.dictionary.cast(pa.string()))


_REFUSED = object()


def _refusal(kind: str, value: Any) -> str:
    """The message for a value a column of this kind cannot hold."""
    if kind == "winner":
        return f"unknown value {value!r} (expected one of {', '.join(WINNERS)})"
    expected = {"name": "a model name", "text": "text", "number": "a number (seconds)", "flag": "true or false",
                "metadata": "an object of counts", "tags": "an object of labels"}[kind]
    return f"expected {expected}, got {value!r}"


def _to_number(value: Any) -> Any:
    if isinstance(value, bool):
        return _REFUSED
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value) if isinstance(value, str) and value.strip() else _REFUSED
    except ValueError:
        return _REFUSED


def _to_flag(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower() if isinstance(value, str | int) else None
    return True if word in TRUE_WORDS else False if word in FALSE_WORDS else _REFUSED


# One value converted to its column's kind, for lists Arrow cannot take whole (mixed types): _REFUSED if it
# cannot be. Nested objects stay Python objects (read by `_style_counts` and `_tags`).
_CONVERT = {
    "name": lambda v: v if isinstance(v, str) else _REFUSED,
    "winner": lambda v: v if isinstance(v, str) else _REFUSED,
    "text": lambda v: str(v) if isinstance(v, str | int | float | bool) else _REFUSED,
    "number": _to_number,
    "flag": _to_flag,
    "metadata": lambda v: v if isinstance(v, dict) else _REFUSED,
    "tags": lambda v: v if isinstance(v, dict) else _REFUSED,
}


def _codes(encoded: pa.DictionaryArray) -> np.ndarray:
    """Each row's position in the dictionary, -1 where null."""
    return encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)


def _categorical(words: Sequence[str], codes: np.ndarray) -> pd.Categorical:
    """words[codes] as a pandas categorical whose categories are the distinct words that occur, sorted (a
    dictionary may hold a word twice once cleaned, and words no row uses)."""
    used = np.bincount(codes, minlength=len(words)) > 0
    categories = sorted({word for word, use in zip(words, used, strict=True) if use})
    position = {word: i for i, word in enumerate(categories)}
    remap = np.array([position.get(word, -1) for word in words], dtype=np.int32)
    return pd.Categorical.from_codes(remap[codes], categories=categories)


def _text(check: _Checker, name: str, array: pa.Array) -> pd.Categorical:
    """A text column: "" where absent."""
    encoded = _encoded(check.strings(name, array))
    words, codes = encoded.dictionary.to_pylist(), _codes(encoded)
    return _categorical([*words, ""], np.where(codes < 0, len(words), codes))


def _validate(raw: _RawColumns, path: Path) -> pd.DataFrame:
    check = _Checker(raw, path)
    missing = [name for name in REQUIRED if name not in raw.columns]
    if missing:
        found = ", ".join(raw.columns) or "no known column"
        raise BattleDataError(f"{path}: missing column {missing[0]!r} (columns found: {found})")
    battles: dict[str, np.ndarray | pd.Categorical] = {}
    names = {}
    for column in COLUMNS:
        if column.name not in raw.columns:
            continue
        values = raw.columns[column.name]
        if column.kind in ("metadata", "tags") and isinstance(values, list):
            values = _flat_objects(check, column.name, values)
        array = check.arrow(column.name, values)
        if not column.required and array.null_count == len(array):
            continue  # a field every battle leaves empty is as good as absent
        if column.kind == "name":
            names[column.name] = _names(check, column.name, array)
            if len(names) == 2:  # both sides share one list of models
                battles |= _models(names["model_a"], names["model_b"])
        elif column.kind == "winner":
            battles[column.name] = _winners(check, array)
        elif column.kind == "text":
            battles[column.name] = _text(check, column.name, array)
        elif column.kind == "number":
            battles[column.name] = _numbers(check, column.name, array)
        elif column.kind == "flag":
            battles[column.name] = _flags(check, column.name, array)
        elif column.kind == "metadata":
            battles |= _style_counts(check, column.name, array)
        else:
            battles["tags"] = _tags(check, column.name, array)
    return pd.DataFrame(battles, index=pd.RangeIndex(raw.rows), copy=False)  # no copy into 2-d blocks


def _flat_objects(check: _Checker, name: str, values: list) -> list:
    """Parsed nested objects reduced to what is read from them, so that Arrow can hold them together: the style
    counts of `conv_metadata` (each a number), or the true/false labels of `category_tag` keyed by their path."""
    kind = BY_NAME[name].kind
    flat = []
    for index, value in enumerate(values):
        if _absent(value) or value is _MISSING:
            flat.append(None)
            continue
        if not isinstance(value, dict):
            check.fail(index, name, _refusal(kind, value))
        if kind == "tags":
            flat.append(dict(_labels(value, "")))
            continue
        counts = {}
        for count in STYLE_COUNTS:
            for side in "ab":
                key = count.key.format(side=side)
                if key in value and not _absent(value[key]):
                    number = _count(value[key])
                    if number is None:
                        check.fail(index, f"{name}.{key}",
                                   f"expected a count or an object of counts, got {value[key]!r}")
                    counts[key] = number
        flat.append(counts)
    return flat


def _count(value: Any) -> float | None:
    """A count as FastChat reads it: a number, or the sum of an object's values; None for anything else."""
    if isinstance(value, dict):
        parts = [_count(part) for part in value.values() if not _absent(part)]
        return None if None in parts else float(sum(parts))
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _labels(value: dict, prefix: str):
    for key, child in value.items():
        if isinstance(child, dict):
            yield from _labels(child, f"{prefix}{key}.")
        elif isinstance(child, bool):
            yield f"{prefix}{key}", child


def _names(check: _Checker, name: str, array: pa.Array) -> tuple[list[str], np.ndarray]:
    """A model-name column as its cleaned dictionary and each row's position in it."""
    if not _is_text(array.type):
        index = check.first(np.ones(len(array), dtype=bool)) if array.null_count == len(array) else \
            check.first(pc.is_valid(array))
        check.fail(index, name, f"expected a model name, got {check.values(array, index)!r}")
    index = check.first(pc.is_null(array))
    if index is not None:
        check.fail(index, name, "expected a model name, got None")
    encoded = _encoded(array)
    words = pc.utf8_trim_whitespace(encoded.dictionary)
    index = check.first_of(encoded, pc.indices_nonzero(pc.equal(words, "")))
    if index is not None:
        check.fail(index, name, f"expected a model name, got {check.values(array, index)!r}")
    return words.to_pylist(), _codes(encoded)


def _models(model_a: tuple[list[str], np.ndarray], model_b: tuple[list[str], np.ndarray]
            ) -> dict[str, pd.Categorical]:
    """Both model columns as categoricals over one sorted list of models, so that they compare code by code."""
    (words_a, codes_a), (words_b, codes_b) = model_a, model_b
    both = _categorical(words_a + words_b, np.concatenate([codes_a, codes_b + len(words_a)]))
    return {"model_a": both[: len(codes_a)], "model_b": both[len(codes_a):]}


def _winners(check: _Checker, array: pa.Array) -> pd.Categorical:
    expected = f"(expected one of {', '.join(WINNERS)})"
    if not _is_text(array.type):
        index = check.first(pc.is_valid(array)) or 0
        check.fail(index, "winner", f"unknown value {check.values(array, index)!r} {expected}")
    index = check.first(pc.is_null(array))
    if index is not None:
        check.fail(index, "winner", f"unknown value None {expected}")
    encoded = _encoded(array)
    known = pa.array(WINNERS + tuple(WINNER_ALIASES))
    index = check.first_of(encoded, pc.indices_nonzero(pc.invert(pc.is_in(encoded.dictionary, value_set=known))))
    if index is not None:
        check.fail(index, "winner", f"unknown value {check.values(array, index)!r} {expected}")
    return _categorical([WINNER_ALIASES.get(w, w) for w in encoded.dictionary.to_pylist()], _codes(encoded))


def _numbers(check: _Checker, name: str, array: pa.Array) -> np.ndarray:
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_null(array.type):
        return array.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if _is_text(array.type):
        text = pd.Series(array.cast(pa.string()).to_numpy(zero_copy_only=False), dtype=object)
        blank = text.isna().to_numpy() | (text.str.strip() == "").fillna(True).to_numpy()
        parsed = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(dtype=float)
        index = check.first(~blank & np.isnan(parsed))
        if index is None:
            return parsed
    else:
        index = check.first(pc.is_valid(array))
    check.fail(index, name, f"expected a number (seconds), got {check.values(array, index)!r}")
    raise AssertionError  # unreachable: fail raised


def _flags(check: _Checker, name: str, array: pa.Array) -> np.ndarray:
    if pa.types.is_boolean(array.type) or pa.types.is_null(array.type):
        return pc.fill_null(array.cast(pa.bool_()), True).to_numpy(zero_copy_only=False)
    words = pc.utf8_lower(pc.utf8_trim_whitespace(array.cast(pa.string())))
    true = pc.is_in(words, value_set=pa.array(TRUE_WORDS)).fill_null(False)
    false = pc.is_in(words, value_set=pa.array(FALSE_WORDS)).fill_null(False)
    index = check.first(pc.and_(pc.is_valid(words), pc.invert(pc.or_(true, false))))
    if index is not None:
        check.fail(index, name, f"expected true or false, got {check.values(array, index)!r}")
    return pc.or_(true, pc.is_null(words)).to_numpy(zero_copy_only=False)


def _count_values(check: _Checker, field: str, array: pa.Array) -> np.ndarray:
    """A count (a number, or an object whose values are summed, absent parts as 0) per battle: float, NaN where
    absent. Checked in Arrow and added up chunk by chunk into one array (a fresh array per part and chunk costs
    more in page faults than the sums)."""
    total = np.zeros(len(array))
    if not pa.types.is_struct(array.type):
        _add(total, _counts(check, field, array))
        return _absent_as_nan(total, array)
    for i in range(array.type.num_fields):
        part = pc.struct_field(array, [i])
        if pa.types.is_struct(part.type):
            total += np.nan_to_num(_count_values(check, field, part))
        elif not pa.types.is_null(part.type):  # a part no battle has adds nothing
            _add(total, _counts(check, field, part))
    return _absent_as_nan(total, array)


def _add(total: np.ndarray, values: pa.Array | pa.ChunkedArray) -> None:
    """total += values, nulls counting as 0."""
    start = 0
    for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
        numbers = (chunk.fill_null(0) if chunk.null_count else chunk).to_numpy(zero_copy_only=False)
        total[start : start + len(chunk)] += numbers
        start += len(chunk)


def _counts(check: _Checker, field: str, array: pa.Array) -> pa.Array:
    """A column of plain counts: numbers, none negative."""
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_null(array.type):
        lowest = pc.min(array).as_py()
        if lowest is None or lowest >= 0:
            return array
        index = check.first(pc.less(array, 0))
        check.fail(index, field, f"expected a count, got {float(check.values(array, index)):g}")
    index = check.first(pc.is_valid(array))
    check.fail(index, field, f"expected a count or an object of counts, got {check.values(array, index)!r}")
    raise AssertionError  # unreachable: fail raised


def _absent_as_nan(values: np.ndarray, array: pa.Array) -> np.ndarray:
    """`values` with NaN where `array` is null."""
    if array.null_count:
        values = np.where(pc.is_valid(array).to_numpy(zero_copy_only=False), values, np.nan)
    return values


def _style_counts(check: _Checker, name: str, array: pa.Array) -> dict[str, np.ndarray]:
    """The style counts of FastChat's `conv_metadata` (and our own point count), one column per side."""
    if not pa.types.is_struct(array.type):
        index = check.first(pc.is_valid(array))
        check.fail(index, name, f"expected an object of counts, got {check.values(array, index)!r}")
    present = {array.type.field(i).name: i for i in range(array.type.num_fields)}
    out = {}
    for count in STYLE_COUNTS:
        for side in "ab":
            key = count.key.format(side=side)
            if key in present:
                values = _count_values(check, f"{name}.{key}", pc.struct_field(array, [present[key]]))
                values = _absent_as_nan(values, array)
                if not np.isnan(values).all():  # a count no battle has is as good as absent
                    out[style_column(count.feature, side)] = values
    return out


def _tags(check: _Checker, name: str, array: pa.Array) -> np.ndarray:
    """The labels that are true in a nested object (FastChat's `category_tag`), as "path.to.label" joined by
    commas, e.g. "math_v0.1.math,criteria_v0.1.creativity"."""
    if not pa.types.is_struct(array.type):
        index = check.first(pc.is_valid(array))
        check.fail(index, name, f"expected an object of labels, got {check.values(array, index)!r}")
    tags = np.full(len(array), "", dtype=object)

    def walk(node: pa.Array, prefix: str, valid: np.ndarray) -> None:
        nonlocal tags
        for i in range(node.type.num_fields):
            child = pc.struct_field(node, [i])
            label = prefix + node.type.field(i).name
            if pa.types.is_struct(child.type):
                walk(child, label + ".", valid & pc.is_valid(child).to_numpy(zero_copy_only=False))
            elif pa.types.is_boolean(child.type):
                on = valid & child.fill_null(False).to_numpy(zero_copy_only=False)
                tags = np.where(on, tags + np.where(tags == "", "", ",") + label, tags)

    walk(array, "", pc.is_valid(array).to_numpy(zero_copy_only=False))
    return tags
