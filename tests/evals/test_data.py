"""Loading benchmark rows: the hub call, the local formats and layouts, fingerprints, and error messages."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from functools import cache
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from evals.data import dataset_fingerprint, iter_items, load_items
from evals.fixtures import builder, generate, write_rows
from evals.items import EvalItem
from evals.tasks import TASKS


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


@cache
def rows(task: str) -> list[dict[str, Any]]:
    """Three generated rows in the task's hub schema."""
    return [example.row for example in generate(task, 3, seed=1)]


def direct(task: str) -> list[EvalItem]:
    """The items those rows make, without any loader in between."""
    return [TASKS[task].to_item(row, index) for index, row in enumerate(rows(task))]


def hub_dataset(task: str) -> datasets.Dataset:
    """What `load_dataset` returns for the real dataset, built from the fixture rows and the hub features."""
    return datasets.Dataset.from_list(rows(task), features=builder(task).features(), split=TASKS[task].split)


@pytest.mark.parametrize("task", list(TASKS))
def test_without_data_the_hub_dataset_is_loaded_at_the_pinned_revision(
    task: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def fake_load_dataset(path: str, **kwargs: Any) -> datasets.Dataset:
        calls.append((path, kwargs))
        return hub_dataset(task)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    spec = TASKS[task]
    assert load_items(task) == direct(task)
    assert load_items(task, limit=2) == direct(task)[:2]
    assert dataset_fingerprint(task) == f"datasets:{hub_dataset(task)._fingerprint}"
    expected = (spec.hf_id, {"name": spec.config, "split": spec.split, "revision": "main"})
    assert calls == [expected] * 3


def test_hub_images_stay_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub dataset decodes images to PIL on access; the loader reads the stored bytes instead."""
    dataset = hub_dataset("pixmo_count")
    assert isinstance(dataset[0]["image"], Image.Image)
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: dataset)
    assert load_items("pixmo_count")[0].image == rows("pixmo_count")[0]["image"]["bytes"]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "disk"])
def test_limit_reads_the_first_rows(fmt: str, tmp_path: Path) -> None:
    path = write_rows("mmmu", rows("mmmu"), tmp_path, fmt)
    assert load_items("mmmu", path, limit=2) == direct("mmmu")[:2]
    assert load_items("mmmu", str(path), limit=0) == []
    assert next(iter_items("mmmu", path)) == direct("mmmu")[0]


def test_a_directory_of_parquet_shards_is_read_in_name_order(tmp_path: Path) -> None:
    table = pq.read_table(write_rows("ai2d", rows("ai2d"), tmp_path / "single"))
    shards = tmp_path / "data"
    shards.mkdir()
    pq.write_table(table.slice(2), shards / "test-00001-of-00002.parquet")
    pq.write_table(table.slice(0, 2), shards / "test-00000-of-00002.parquet")
    assert load_items("ai2d", shards) == direct("ai2d")


def test_a_directory_holding_one_jsonl_file(tmp_path: Path) -> None:
    write_rows("chartqa", rows("chartqa"), tmp_path / "copy", "jsonl")
    assert load_items("chartqa", tmp_path / "copy") == direct("chartqa")


def test_a_saved_dataset_dict_uses_the_task_split(tmp_path: Path) -> None:
    split = TASKS["vqav2"].split
    datasets.DatasetDict({split: hub_dataset("vqav2")}).save_to_disk(str(tmp_path / "dict"))
    assert load_items("vqav2", tmp_path / "dict") == direct("vqav2")
    datasets.DatasetDict({"train": hub_dataset("vqav2")}).save_to_disk(str(tmp_path / "train_only"))
    with pytest.raises(ValueError, match=r"train_only: no split 'validation' \(has train\)"):
        load_items("vqav2", tmp_path / "train_only")


def test_jsonl_images_may_be_files_next_to_the_jsonl(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    lines = []
    for index, row in enumerate(rows("countbenchqa")):
        (tmp_path / "images" / f"{index}.png").write_bytes(row["image"]["bytes"])
        lines.append(json.dumps(row | {"image": {"bytes": None, "path": f"images/{index}.png"}}))
    (tmp_path / "countbenchqa.jsonl").write_text("\n".join(lines) + "\n")
    assert load_items("countbenchqa", tmp_path / "countbenchqa.jsonl") == direct("countbenchqa")


def test_fingerprints_follow_the_content(tmp_path: Path) -> None:
    parquet = write_rows("docvqa", rows("docvqa"), tmp_path / "a")
    twin = write_rows("docvqa", rows("docvqa"), tmp_path / "b")
    disk = write_rows("docvqa", rows("docvqa"), tmp_path / "c", "disk")
    fingerprint = dataset_fingerprint("docvqa", parquet)
    assert fingerprint == f"sha256:{hashlib.sha256(parquet.read_bytes()).hexdigest()}"
    assert dataset_fingerprint("docvqa", twin) == fingerprint
    assert dataset_fingerprint("docvqa", disk) == dataset_fingerprint("docvqa", str(disk))
    assert dataset_fingerprint("docvqa", disk) != dataset_fingerprint("docvqa", tmp_path / "a")
    write_rows("docvqa", rows("docvqa")[:2], tmp_path / "b")
    assert dataset_fingerprint("docvqa", twin) != fingerprint
    with pytest.raises(ValueError, match=r"missing\.parquet: cannot read"):
        dataset_fingerprint("docvqa", tmp_path / "missing.parquet")


def test_missing_paths_and_unknown_layouts_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nowhere\.parquet: no such file or directory"):
        load_items("ai2d", tmp_path / "nowhere.parquet")
    (tmp_path / "rows.csv").write_text("question,answer\n")
    with pytest.raises(ValueError, match=r"rows\.csv: expected a \.parquet or \.jsonl file"):
        load_items("ai2d", tmp_path / "rows.csv")
    with pytest.raises(ValueError, match=r"no \.parquet or \.jsonl files and not a save_to_disk directory"):
        load_items("ai2d", tmp_path)
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ValueError, match=r"broken\.parquet: not a readable Parquet file"):
        load_items("ai2d", tmp_path / "broken.parquet")


@pytest.mark.parametrize("task", list(TASKS))
def test_a_missing_column_names_the_file_row_and_field(task: str, tmp_path: Path) -> None:
    path = tmp_path / f"{task}.parquet"
    without_question = [{name: value for name, value in row.items() if name != "question"} for row in rows(task)]
    pq.write_table(pa.Table.from_pylist(without_question), path)
    with pytest.raises(ValueError, match=rf"{task}\.parquet: row 0: field 'question': missing"):
        load_items(task, path)


def test_an_unreadable_image_names_the_file_row_and_field(tmp_path: Path) -> None:
    broken = [dict(row) for row in rows("mathvista")]
    broken[2]["decoded_image"] = {"bytes": b"\x89PNG truncated", "path": None}
    path = write_rows("mathvista", broken, tmp_path, "jsonl")
    with pytest.raises(ValueError, match=r"mathvista.jsonl: row 2: field 'decoded_image': unreadable image"):
        load_items("mathvista", path)
    assert len(load_items("mathvista", path, limit=2)) == 2


def test_bad_json_lines_name_the_line(tmp_path: Path) -> None:
    path = write_rows("pixmo_count", rows("pixmo_count")[:1], tmp_path, "jsonl")
    path.write_text(path.read_text() + "{not json\n")
    loaded = iter_items("pixmo_count", path)
    assert next(loaded) == direct("pixmo_count")[0]
    with pytest.raises(ValueError, match=r"pixmo_count.jsonl:2: not valid JSON"):
        next(loaded)
    image = {"bytes": "%%% not base64", "path": None}
    path.write_text(json.dumps({"question": "q", "answer": "1", "image": image}) + "\n")
    with pytest.raises(ValueError, match=r"pixmo_count.jsonl:1: field 'image': image bytes are not base64"):
        load_items("pixmo_count", path)
    path.write_text("[1, 2]\n")
    with pytest.raises(ValueError, match=r"\.jsonl:1: expected a JSON object, got list"):
        load_items("pixmo_count", path)


def test_jsonl_rows_round_trip_base64_images(tmp_path: Path) -> None:
    path = write_rows("realworldqa", rows("realworldqa"), tmp_path, "jsonl")
    first = json.loads(path.read_text().splitlines()[0])
    assert base64.b64decode(first["image"]["bytes"]) == rows("realworldqa")[0]["image"]["bytes"]
    assert Image.open(io.BytesIO(load_items("realworldqa", path)[0].image)).format == "JPEG"
