"""The benchmark folders and what is derived from them (the registry, its order and groups, `python -m evals.tasks`),
and each task's row reader (`to_item`) on hand-written rows in the hub schemas."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import sys
from pathlib import Path

import pytest
from PIL import Image

from evals.items import EvalItem
from evals.metrics.scorers import PROFILES
from evals.tasks import (
    GROUPS,
    PAPER_TABLE,
    PAPER_TASKS,
    TASKS,
    FieldError,
    discover,
    get_task,
    image_bytes,
    resolve_tasks,
    task_part,
)
from evals.tasks.__main__ import catalogue, differences


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def _png(color: str = "red", size: tuple[int, int] = (8, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()
CELL = {"bytes": PNG, "path": None}
TASKS_DIR = Path(__file__).resolve().parents[2] / "evals" / "tasks"


def test_every_folder_is_a_task_named_after_it() -> None:
    folders = sorted(p.name for p in TASKS_DIR.iterdir() if (p / "__init__.py").exists())
    assert sorted(TASKS) == folders
    for name, spec in TASKS.items():
        assert spec.name == name and spec.display_name
        assert spec.revision == "main"  # the hub cannot be reached to pin a commit
        assert spec.kind in {"short", "multiple_choice", "count", "math"}
        assert tuple(spec.scoring) == PROFILES
        assert (spec.submission_split is None) == (spec.submission_id is None)
        assert task_part(name, "fixture") is not None


def test_the_paper_s_eleven_come_first_in_the_order_of_the_paper_table() -> None:
    with open(PAPER_TABLE, encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    columns = [TASKS[task].paper_column for task in PAPER_TASKS]
    assert len(PAPER_TASKS) == 11 and columns == [column for column in header if column in columns]
    assert list(TASKS)[:11] == list(PAPER_TASKS)
    others = list(TASKS)[11:]
    assert others == sorted(others) and not any(TASKS[task].paper_column for task in others)


def test_groups_and_lists_of_tasks() -> None:
    assert resolve_tasks("all") == list(TASKS) == list(GROUPS["all"])
    assert resolve_tasks("paper") == list(PAPER_TASKS)
    assert resolve_tasks(" chartqa , ai2d,chartqa ") == ["chartqa", "ai2d"]
    assert resolve_tasks("ai2d,paper")[:2] == ["ai2d", "chartqa"] and len(resolve_tasks("ai2d,paper")) == 11
    with pytest.raises(ValueError, match=r"unknown task 'vqa'; valid tasks: ai2d, .* \(or 'all', 'paper'\)"):
        resolve_tasks("ai2d,vqa")
    with pytest.raises(ValueError, match="no task in ' , '"):
        resolve_tasks(" , ")


def test_specs_are_frozen_and_unknown_names_are_reported() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TASKS["ai2d"].split = "train"  # type: ignore[misc]
    with pytest.raises(ValueError, match=r"unknown task 'vqa'.*vqav2"):
        get_task("vqa")
    with pytest.raises(ValueError, match="unknown task 'vqa'"):
        task_part("vqa", "fixture")


def test_a_spec_binds_every_profile_and_names_its_server_id_field() -> None:
    with pytest.raises(ValueError, match="scoring must bind the profiles official, molmo"):
        dataclasses.replace(TASKS["ai2d"], scoring={"official": TASKS["ai2d"].scoring["official"]})
    with pytest.raises(ValueError, match="submission_split and submission_id go together"):
        dataclasses.replace(TASKS["ai2d"], submission_split="test")


def _package(root: Path, name: str, folders: dict[str, str]) -> list[str]:
    """A package `name` under `root` whose sub-folders define TASK as given."""
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("")
    for folder, body in folders.items():
        (root / name / folder).mkdir()
        (root / name / folder / "__init__.py").write_text("import dataclasses\nfrom evals.tasks import TASKS\n" + body)
    return [str(root / name)]


def test_discovery_refuses_a_misnamed_folder_and_an_unknown_paper_column(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        good = _package(tmp_path, "good", {
            "zeta": "TASK = dataclasses.replace(TASKS['ai2d'], name='zeta', paper_column=None)\n",
            "alpha": "TASK = dataclasses.replace(TASKS['chartqa'], name='alpha', paper_column=None)\n",
            "ai2d": "TASK = TASKS['ai2d']\n",
        })
        assert list(discover(good, "good")) == ["ai2d", "alpha", "zeta"]
        misnamed = _package(tmp_path, "misnamed", {"one": "TASK = dataclasses.replace(TASKS['ai2d'], name='two')\n"})
        with pytest.raises(ValueError, match=r"misnamed\.one: TASK is named 'two'; a benchmark is named by its folder"):
            discover(misnamed, "misnamed")
        column = _package(tmp_path, "column", {"ai2d": "TASK = dataclasses.replace(TASKS['ai2d'], paper_column='x')\n"})
        with pytest.raises(ValueError, match=r"column\.ai2d: paper_column 'x' is not a column of"):
            discover(column, "column")
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] in {"good", "misnamed", "column"}]:
            del sys.modules[name]


def test_the_catalogue_and_the_differences_come_from_the_folders() -> None:
    rows = catalogue().splitlines()[2:]
    assert [row.split(" | ")[0].lstrip("| ") for row in rows] == list(TASKS)
    assert all(TASKS[task].hf_id in row for task, row in zip(TASKS, rows, strict=True))
    table = differences().splitlines()[2:]
    oracles = [part.ORACLE for task in TASKS if (part := task_part(task, "oracle"))]
    examples = [example for oracle in oracles for example in oracle.examples]
    assert [re.match(r"\| `([a-z0-9-]+)` \|", row)[1] for row in table] == [e.difference.id for e in examples]
    listed = {difference.id for oracle in oracles for difference in oracle.differences}
    assert listed == {e.difference.id for e in examples}
    for example, row in zip(examples, table, strict=True):
        assert f"| `{example.prediction!r}` | {example.answer} | {example.ours:g} | {example.lmms:g} |" in row


@pytest.mark.parametrize(
    "value",
    [CELL, PNG, {"bytes": PNG, "path": "whatever.png"}, Image.open(io.BytesIO(PNG))],
    ids=["dict", "bytes", "dict-with-path", "pil"],
)
def test_image_cells_become_png_bytes(value: object) -> None:
    data = image_bytes({"image": value}, "image")
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.size == (8, 6)


def test_jpeg_passes_through_and_other_formats_are_reencoded(tmp_path) -> None:
    jpeg, bmp = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (5, 5), "blue").save(jpeg, format="JPEG")
    Image.new("RGB", (5, 5), "blue").save(bmp, format="BMP")
    assert image_bytes({"image": jpeg.getvalue()}, "image") == jpeg.getvalue()
    assert Image.open(io.BytesIO(image_bytes({"image": bmp.getvalue()}, "image"))).format == "PNG"
    (tmp_path / "picture.jpg").write_bytes(jpeg.getvalue())
    by_path = {"bytes": None, "path": str(tmp_path / "picture.jpg")}
    assert image_bytes({"image": by_path}, "image") == jpeg.getvalue()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (b"not an image", "unreadable image"),
        ({"bytes": None, "path": None}, "no image bytes"),
        ({"bytes": None, "path": "/no/such/file.png"}, "cannot read image file"),
        (None, "empty"),
        (42, "no image bytes"),
    ],
)
def test_bad_images_name_the_field(value: object, problem: str) -> None:
    with pytest.raises(FieldError, match=f"field 'image_1': {problem}") as raised:
        image_bytes({"image_1": value}, "image_1")
    assert raised.value.field == "image_1"


def test_ai2d_answer_index_becomes_a_letter() -> None:
    row = {"question": "Which stage follows egg?", "options": ["pupa", "larva", "adult", "egg"], "image": CELL}
    item = TASKS["ai2d"].to_item({**row, "answer": "1"}, 7)
    assert item == EvalItem("7", "Which stage follows egg?", ["B"], (PNG,), ["pupa", "larva", "adult", "egg"])
    assert item.image == PNG
    assert TASKS["ai2d"].to_item({**row, "answer": 3}, 7).answers == ["D"]
    with pytest.raises(FieldError, match="field 'answer': option index 4 out of range"):
        TASKS["ai2d"].to_item({**row, "answer": "4"}, 7)
    with pytest.raises(FieldError, match="field 'answer': not an option index"):
        TASKS["ai2d"].to_item({**row, "answer": "B"}, 7)


def test_chartqa_keeps_the_human_or_augmented_type() -> None:
    row = {"type": "human_test", "question": "What is the sum?", "answer": "12.5", "image": CELL}
    item = TASKS["chartqa"].to_item(row, 0)
    assert (item.answers, item.meta) == (["12.5"], {"type": "human_test"})


def test_vqav2_takes_all_ten_annotator_answers() -> None:
    answers = ["2"] * 7 + ["3", "two", "2"]
    row = {
        "question_type": "how many",
        "multiple_choice_answer": "2",
        "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": k + 1} for k, a in enumerate(answers)],
        "image_id": 42,
        "answer_type": "number",
        "question_id": 42000,
        "question": "How many dogs are there?",
        "image": CELL,
    }
    item = TASKS["vqav2"].to_item(row, 0)
    assert item.id == "42000"
    assert item.answers == answers
    assert item.meta["answer_type"] == "number"
    with pytest.raises(FieldError, match="field 'answers'"):
        TASKS["vqav2"].to_item({**row, "answers": ["2"] * 10}, 0)


def test_docvqa_and_infovqa_keep_every_answer_variant() -> None:
    doc = {"questionId": "57", "question": "What is the date?", "question_types": ["form"], "image": CELL,
           "docId": 3, "answers": ["May 1, 1990", "1 May 1990"]}  # fmt: skip
    assert TASKS["docvqa"].to_item(doc, 0).answers == ["May 1, 1990", "1 May 1990"]
    info = {"questionId": "9", "question": "What share?", "answers": ["45%", "45"], "answer_type": ["single span"],
            "image": CELL, "operation/reasoning": []}  # fmt: skip
    item = TASKS["infovqa"].to_item(info, 0)
    assert (item.id, item.answers, item.meta["answer_type"]) == ("9", ["45%", "45"], ["single span"])


def test_textvqa_keeps_ocr_tokens_for_the_optional_hint() -> None:
    row = {"question_id": 5, "question": "what brand?", "answers": ["acme"] * 10, "image": CELL,
           "image_id": "ab12", "ocr_tokens": ["acme", "cola"]}  # fmt: skip
    item = TASKS["textvqa"].to_item(row, 0)
    assert item.meta["ocr_tokens"] == ["acme", "cola"]
    assert len(item.answers) == 10


def test_realworldqa_reads_options_from_the_question_text() -> None:
    question = (
        "Which lane is the truck in?\nA. Left lane\nB. Middle lane\nC. Right lane\n"
        "Please answer directly with only the letter of the correct option and nothing else."
    )
    item = TASKS["realworldqa"].to_item({"question": question, "answer": "C", "image": CELL}, 3)
    assert item.choices == ["Left lane", "Middle lane", "Right lane"]
    assert (item.answers, item.meta["format"], item.question) == (["C"], "multiple_choice", question)
    short = "How many cars are there?\nPlease answer directly with a single word or number."
    item = TASKS["realworldqa"].to_item({"question": short, "answer": "3", "image": CELL}, 4)
    assert (item.choices, item.answers, item.meta["format"]) == (None, ["3"], "short")


def _mmmu_row(**fields: object) -> dict[str, object]:
    row = {
        "id": "validation_Art_Theory_12",
        "question": "<image 1> Which period is this painting from?",
        "options": "['Baroque', 'Rococo', 'Cubism', 'Gothic']",
        "explanation": "",
        "image_1": CELL,
        **{f"image_{k}": None for k in range(2, 8)},
        "img_type": "['Paintings']",
        "answer": "A",
        "topic_difficulty": "Easy",
        "question_type": "multiple-choice",
        "subfield": "Art History",
    }
    return row | fields


def test_mmmu_multiple_choice_and_open_questions() -> None:
    item = TASKS["mmmu"].to_item(_mmmu_row(image_2=CELL), 0)
    assert item.choices == ["Baroque", "Rococo", "Cubism", "Gothic"]
    assert item.answers == ["A"]
    assert "<image 1>" in item.question
    assert (item.meta["subject"], item.meta["num_images"]) == ("Art_Theory", 2)
    assert item.images == (PNG,)  # image_2 is filled but not named
    open_question = TASKS["mmmu"].to_item(_mmmu_row(options="[]", question_type="open", answer="12"), 0)
    assert (open_question.choices, open_question.answers) == (None, ["12"])
    listed = TASKS["mmmu"].to_item(_mmmu_row(options="[]", question_type="open", answer="['1/2', '0.5']"), 0)
    assert listed.answers == ["1/2", "0.5"]


def test_mmmu_items_carry_every_image_the_text_names_in_number_order() -> None:
    images = {f"image_{k}": {"bytes": _png(color), "path": None} for k, color in enumerate(["red", "green", "blue"], 1)}
    row = _mmmu_row(question="Compare <image 3> with <image 1>.", options="['<image 2>', 'neither']", **images)
    item = TASKS["mmmu"].to_item(row, 0)
    assert item.images == (_png("red"), _png("green"), _png("blue"))  # options count; 1, 2, 3 as lmms-eval sorts
    assert item.question == "Compare <image 3> with <image 1>."  # the tokens stay in the text
    unnamed = TASKS["mmmu"].to_item(_mmmu_row(question="Which period is this painting from?"), 0)
    assert unnamed.images == (PNG,)  # none named: image_1
    with pytest.raises(FieldError, match="field 'image_2': empty"):
        TASKS["mmmu"].to_item(_mmmu_row(question="<image 1> or <image 2>?"), 0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"options": "['a', 'b'"}, "field 'options': not a list literal"),
        ({"answer": "E"}, "field 'answer': 'E' is not one of the 4 option letters"),
        ({"question_type": "essay"}, "field 'question_type'"),
        ({"image_1": None}, "field 'image_1': empty"),
    ],
)
def test_mmmu_bad_rows_name_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(FieldError, match=message):
        TASKS["mmmu"].to_item(_mmmu_row(**fields), 0)


def _mathvista_row(**fields: object) -> dict[str, object]:
    row = {
        "pid": "17",
        "question": "Which bar is the tallest?",
        "image": "images/17.png",
        "decoded_image": CELL,
        "choices": ["red", "green", "blue"],
        "unit": None,
        "precision": None,
        "answer": "green",
        "question_type": "multi_choice",
        "answer_type": "text",
        "metadata": {"task": "figure question answering"},
        "query": "Hint: ...\nQuestion: Which bar is the tallest?\nChoices:\n(A) red\n(B) green\n(C) blue",
    }
    return row | fields


def test_mathvista_choice_text_becomes_a_letter_and_free_form_keeps_precision() -> None:
    item = TASKS["mathvista"].to_item(_mathvista_row(), 0)
    assert (item.id, item.answers, item.choices) == ("17", ["B"], ["red", "green", "blue"])
    assert item.meta["answer"] == "green"
    assert item.meta["query"].startswith("Hint:")
    free = _mathvista_row(choices=None, answer="1.45", question_type="free_form", answer_type="float", precision=2.0)
    item = TASKS["mathvista"].to_item(free, 0)
    assert (item.answers, item.choices, item.meta["precision"]) == (["1.45"], None, 2.0)
    with pytest.raises(FieldError, match="field 'answer': 'purple' is not one of the choices"):
        TASKS["mathvista"].to_item(_mathvista_row(answer="purple"), 0)


def test_counting_tasks() -> None:
    row = {"image": CELL, "text": "Three dogs on a sofa.", "question": "How many dogs are there?", "number": 3}
    item = TASKS["countbenchqa"].to_item(row, 9)
    assert (item.id, item.answers, item.meta) == ("9", ["3"], {"caption": "Three dogs on a sofa."})
    with pytest.raises(FieldError, match="field 'number': expected an integer"):
        TASKS["countbenchqa"].to_item({**row, "number": "3"}, 9)
    pixmo = {"image": CELL, "question": "<image>\nHow many birds are there?", "answer": "7"}
    item = TASKS["pixmo_count"].to_item(pixmo, 0)
    assert (item.question, item.answers) == ("How many birds are there?", ["7"])
