"""PixMo and academic readers: every schema and file type into Examples; bad rows name file, row and field."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from molmo.data.pixmo import DATASETS, ExampleSource, read_examples
from molmo.data.synthetic import generate_rows, write_rows


def _png(width: int = 200, height: int = 100) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_points_files_round_trip_and_rows_of_one_image_merge(tmp_path, suffix):
    rows = generate_rows("points", 6, seed=0)
    path = write_rows(rows, tmp_path / f"points{suffix}")
    examples = list(read_examples("pixmo_points", path))
    assert len(examples) == 6  # one per image, however many labels were asked about it
    assert sum(len(e.annotations) for e in examples) == len(rows)
    first = next(r for r in rows if r["image_sha256"] == rows[0]["image_sha256"])
    annotation = examples[0].annotations[0]
    assert annotation.style == "pointing" and annotation.label == first["label"]
    assert annotation.points == tuple((p["x"] / 128 * 100, p["y"] / 128 * 100) for p in first["points"])
    assert examples[0].image == rows[0]["image"]


def test_save_to_disk_folder_and_hub_style_sequences(tmp_path):
    import datasets

    rows = generate_rows("count", 4, seed=0)
    columns = {key: [row[key] for row in rows] for key in rows[0]}
    # the hub schema: points as a `sequence` of {x, y}, which reads back as a dict of lists
    columns["points"] = [{"x": [p["x"] for p in r["points"]], "y": [p["y"] for p in r["points"]]} for r in rows]
    datasets.Dataset.from_dict(columns).save_to_disk(str(tmp_path / "count"))
    examples = list(read_examples("pixmo_count", tmp_path / "count"))
    assert [len(e.annotations[0].points) for e in examples] == [r["count"] for r in rows]
    assert all(e.annotations[0].style == "point_count" for e in examples)


def test_every_pixmo_schema_reads():
    image = _png()
    cases = {
        "pixmo_cap": {"caption": "A long caption.", "transcripts": ["um a caption", "another one"]},
        "pixmo_ama": {"question": "What is it?", "answer": "A square."},
        "pixmo_cap_qa": {"question": "How many?", "answer": "Two."},
        "pixmo_docs_tables": {"questions": {"question": ["Q1", "Q2"], "answer": ["A1", "A2"]}},
        "pixmo_clocks": {"text": "11:57:04 PM", "hour_visible": 23, "minute_visible": 57},
        "vqa": {"question": "Colour?", "answers": [{"answer": "red"}, {"answer": "red"}, {"answer": "blue"}]},
        "multiple_choice": {"question": "Which?", "options": ["cat", "dog"], "answer": "B"},
    }
    got = {name: ExampleSource(name, [{"image": image, **fields}], "mem")[0].annotations
           for name, fields in cases.items()}
    assert [(a.style, a.answer) for a in got["pixmo_cap"]] == [
        ("long_caption", "A long caption."), ("transcript", "um a caption"), ("transcript", "another one")]
    assert got["pixmo_ama"][0].style == "user_qa" and got["pixmo_cap_qa"][0].style == "synthetic_qa"
    assert [(a.prompt, a.answer, a.style) for a in got["pixmo_docs_tables"]] == [
        ("Q1", "A1", "pixmo_docs_tables"), ("Q2", "A2", "pixmo_docs_tables")]
    assert got["pixmo_clocks"][0].answer == "11:57:04 PM"
    assert got["vqa"][0].answer_votes == ("red", "red", "blue")
    assert got["multiple_choice"][0].answer == "dog" and got["multiple_choice"][0].options == ("cat", "dog")


def test_clocks_without_text_are_written_from_the_time():
    row = {"image": _png(), "hour": 13, "minute": 5, "second": -1}
    assert ExampleSource("pixmo_clocks", [row], "mem")[0].annotations[0].answer == "1:05"


def test_multiple_choice_answers_as_index_or_text():
    base = {"image": _png(), "question": "Q", "choices": ["a", "b", "c"]}
    for answer in (2, "c", "C"):
        assert ExampleSource("multiple_choice", [{**base, "answer": answer}], "m")[0].annotations[0].answer == "c"


def test_points_in_pixels_become_a_0_100_scale():
    row = {"image": _png(200, 100), "label": "dots", "points": [{"x": 50, "y": 25}, {"x": 200, "y": 100}]}
    assert ExampleSource("pixmo_points", [row], "m")[0].annotations[0].points == ((25.0, 25.0), (100.0, 100.0))


def test_images_from_an_images_dir_by_sha256(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "abc").write_bytes(_png())
    row = {"image_url": "https://example.org/x.jpg", "image_sha256": "abc", "question": "Q", "answer": "A"}
    path = tmp_path / "ama.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps({**row, "question": "Q2"}) + "\n")
    (example,) = list(read_examples("pixmo_ama", path, images_dir=tmp_path / "images"))
    assert [a.prompt for a in example.annotations] == ["Q", "Q2"]


@pytest.mark.parametrize(
    ("name", "row", "field"),
    [
        ("pixmo_ama", {"question": "Q"}, "answer"),
        ("pixmo_ama", {"question": 3, "answer": "A"}, "question"),
        ("pixmo_points", {"label": "x", "points": [{"x": "left"}]}, "points"),
        ("pixmo_count", {"label": "x", "points": [], "count": 4}, "points"),
        ("pixmo_docs_other", {"questions": {"question": ["a"], "answer": []}}, "questions"),
        ("multiple_choice", {"question": "Q", "options": ["a"], "answer": "Z"}, "answer"),
        ("pixmo_cap", {"caption": "c", "image": b"not an image"}, "image"),
    ],
)
def test_bad_rows_name_the_file_the_row_and_the_field(name, row, field):
    good = {"image": _png(), "question": "Q", "answer": "A"}
    rows = [good, {"image": _png(), **row}] if name == "pixmo_ama" else [{"image": _png(), **row}]
    source = ExampleSource(name, rows, "data/bad.parquet")
    with pytest.raises(ValueError, match=rf"data/bad.parquet: row {len(rows) - 1}: field '{field}'"):
        [source[i] for i in range(len(source))]


def test_missing_images_and_unknown_sources_are_clear(tmp_path):
    path = tmp_path / "ama.jsonl"
    path.write_text(json.dumps({"image_url": "http://x", "question": "Q", "answer": "A"}) + "\n")
    with pytest.raises(ValueError, match=r"row 0: field 'image': no image in the row; PixMo ships URLs"):
        read_examples("pixmo_ama", path)[0]
    with pytest.raises(ValueError, match="unknown dataset 'pixmo_nope'"):
        read_examples("pixmo_nope", path)
    with pytest.raises(ValueError, match="no such data file"):
        read_examples("pixmo_ama", tmp_path / "missing.parquet")
    with pytest.raises(ValueError, match="has no Hugging Face id"):
        read_examples("vqa")
    bad = tmp_path / "broken.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(ValueError, match=rf"{bad}: row 0: not valid JSON"):
        read_examples("pixmo_ama", bad)


def test_pixmo_sources_name_their_hub_datasets():
    assert DATASETS["pixmo_cap"].hf_id == "allenai/pixmo-cap"
    assert (DATASETS["pixmo_docs_charts"].hf_id, DATASETS["pixmo_docs_charts"].hf_config) == (
        "allenai/pixmo-docs", "charts")
    assert DATASETS["pixmo_points_count"].style == "point_count"
