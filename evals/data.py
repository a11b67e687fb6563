"""Read a benchmark's rows, from the Hugging Face hub or from a local copy in the same schema, as `EvalItem`s.

Local copies come in three formats, all in the hub dataset's own columns:

- a Parquet file (what the hub serves, and what `pyarrow`/`Dataset.to_parquet` write);
- a JSON-lines file, one row per line, with images as `{"bytes": <base64>, "path": ...}` (JSON cannot hold raw
  bytes) or `{"bytes": null, "path": <file relative to the JSON-lines file>}`;
- a directory written by `Dataset.save_to_disk` (a `DatasetDict` directory works too: the task's split is used);

or a directory holding Parquet shards or JSON-lines files, read in name order. Images are kept as encoded bytes:
nothing here decodes pixels. Errors name the file, the row (counted from 0) and the field. `dataset_fingerprint`
names the data actually read, for the run record.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evals.items import EvalItem
from evals.tasks import FieldError, TaskSpec, get_task
from molmo_arena.common.files import file_sha256, read_json_lines

_BATCH_ROWS = 256
_SAVE_TO_DISK_MARKERS = ("state.json", "dataset_info.json")
_DATASET_DICT_MARKER = "dataset_dict.json"


def load_items(task: str | TaskSpec, data: str | Path | None = None, limit: int | None = None) -> list[EvalItem]:
    """All items of `task` (the first `limit` rows when given), from the hub when `data` is None, else from `data`."""
    return list(iter_items(task, data, limit))


def iter_items(task: str | TaskSpec, data: str | Path | None = None, limit: int | None = None) -> Iterator[EvalItem]:
    """Like `load_items`, one item at a time, so a large split (VQA v2 val) need not sit in memory."""
    spec = task if isinstance(task, TaskSpec) else get_task(task)
    rows = _hub_rows(spec, limit) if data is None else _local_rows(spec, Path(data), limit)
    for source, index, row in rows:
        try:
            yield spec.to_item(row, index)
        except FieldError as err:
            raise ValueError(f"{source}: row {index}: {err}") from err


def dataset_fingerprint(task: str | TaskSpec, data: str | Path | None = None) -> str:
    """What identifies the data read, for the run record's dataset revision.

    Local data: "sha256:<hex>", the file's own sha256 (what `sha256sum` prints), or for a directory the sha256
    over its files' relative paths and hashes (pass the directory when a JSON-lines file refers to image files
    beside it). Hub data: "datasets:<fingerprint>", the fingerprint `datasets` gives the loaded split, which
    changes when the files behind the requested revision change.
    """
    spec = task if isinstance(task, TaskSpec) else get_task(task)
    if data is None:
        return f"datasets:{_load_hub(spec)._fingerprint}"
    path = Path(data)
    if not path.is_dir():
        return f"sha256:{file_sha256(path)}"
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}\0{file_sha256(file)}\n".encode())
    return f"sha256:{digest.hexdigest()}"


# ---------------------------------------------------------------------------------------------- hub


def _load_hub(spec: TaskSpec) -> Any:
    import datasets

    return datasets.load_dataset(spec.hf_id, name=spec.config, split=spec.split, revision=spec.revision)


def _hub_rows(spec: TaskSpec, limit: int | None) -> Iterator[tuple[str, int, dict[str, Any]]]:
    source = f"{spec.hf_id}" + (f" ({spec.config})" if spec.config else "") + f" split {spec.split}"
    yield from _dataset_rows(_load_hub(spec), source, limit)


def _dataset_rows(dataset: Any, source: str, limit: int | None) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Rows of a `datasets.Dataset` as stored (Arrow format), so image columns stay undecoded bytes."""
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    index = 0
    for batch in dataset.with_format("arrow").iter(batch_size=_BATCH_ROWS):
        for row in batch.to_pylist():
            yield source, index, row
            index += 1


# ---------------------------------------------------------------------------------------------- local copies


def _local_rows(spec: TaskSpec, path: Path, limit: int | None) -> Iterator[tuple[str, int, dict[str, Any]]]:
    if not path.exists():
        raise ValueError(f"{path}: no such file or directory")
    if path.is_dir() and (
        (path / _DATASET_DICT_MARKER).exists() or all((path / m).exists() for m in _SAVE_TO_DISK_MARKERS)
    ):
        yield from _dataset_rows(_load_from_disk(spec, path), str(path), limit)
        return
    index = 0
    for file in _data_files(path):
        reader = _parquet_rows if file.suffix == ".parquet" else _jsonl_rows
        for row in reader(file):
            if limit is not None and index >= limit:
                return
            yield str(file), index, row
            index += 1


def _load_from_disk(spec: TaskSpec, path: Path) -> Any:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable save_to_disk directory: {err}") from err
    if isinstance(loaded, datasets.DatasetDict):
        if spec.split not in loaded:
            raise ValueError(f"{path}: no split {spec.split!r} (has {', '.join(loaded)})")
        return loaded[spec.split]
    return loaded


def _data_files(path: Path) -> list[Path]:
    if path.is_file():
        if path.suffix not in {".parquet", ".jsonl"}:
            raise ValueError(f"{path}: expected a .parquet or .jsonl file")
        return [path]
    for suffix in (".parquet", ".jsonl"):
        files = sorted(path.glob(f"*{suffix}"))
        if files:
            return files
    raise ValueError(f"{path}: no .parquet or .jsonl files and not a save_to_disk directory")


def _parquet_rows(file: Path) -> Iterator[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(file)
        for batch in parquet.iter_batches(batch_size=_BATCH_ROWS):
            yield from batch.to_pylist()
    except (pa.ArrowException, OSError) as err:
        raise ValueError(f"{file}: not a readable Parquet file: {err}") from err


def _jsonl_rows(file: Path) -> Iterator[dict[str, Any]]:
    for number, row in read_json_lines(file):
        yield {name: _json_image(value, name, file, number) for name, value in row.items()}


def _json_image(value: Any, name: str, file: Path, line: int) -> Any:
    """Turn a JSON image cell back into what `datasets` holds: bytes from base64, or a path made absolute."""
    if not (isinstance(value, dict) and set(value) == {"bytes", "path"}):
        return value
    data, path = value["bytes"], value["path"]
    if isinstance(data, str):
        try:
            return {"bytes": base64.b64decode(data, validate=True), "path": path}
        except binascii.Error as err:
            raise ValueError(f"{file}:{line}: field {name!r}: image bytes are not base64") from err
    if data is None and path:
        return {"bytes": None, "path": str(file.parent / path)}
    return value
