"""The generated fixtures: written in three formats they load back into the same items, the answers agree with
what was drawn (checked on the pixels where that is cheap), and the same seed gives the same bytes."""

from __future__ import annotations

import io
import math
import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from evals.data import load_items
from evals.fixtures import FORMATS, GENERATORS, Example, generate, write_all_fixtures, write_fixture, write_rows
from evals.fixtures.__main__ import main
from evals.fixtures.draw import COLORS
from evals.items import EvalItem
from evals.tasks import TASKS

N = 12


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


@cache
def examples(task: str) -> list[Example]:
    """Generated once per test process: matplotlib makes the chart tasks the slow ones."""
    return generate(task, N, seed=0)


def items(task: str) -> list[EvalItem]:
    return [TASKS[task].to_item(example.row, index) for index, example in enumerate(examples(task))]


def pixels(image: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(image)).convert("RGB"), dtype=np.int16)


def blobs(image: bytes, color: tuple[int, int, int], tolerance: int = 40) -> int:
    """Separate regions of one colour: shapes are drawn apart, so this counts them."""
    mask = np.abs(pixels(image) - np.array(color)).max(axis=2) <= tolerance
    return ndimage.label(mask)[1]


def picked(item: EvalItem) -> str:
    """The option text that the item's letter answer points to."""
    assert item.choices is not None
    return item.choices[ord(item.answers[0]) - ord("A")]


@pytest.mark.parametrize("task", list(GENERATORS))
def test_every_format_loads_back_into_the_same_items(task: str, tmp_path: Path) -> None:
    rows = [example.row for example in examples(task)]
    expected = items(task)
    assert len(expected) == N
    for fmt in FORMATS:
        path = write_rows(task, rows, tmp_path / fmt, fmt)
        assert load_items(task, path) == expected, fmt


def test_generators_cover_every_task() -> None:
    assert list(GENERATORS) == list(TASKS)


def check_ai2d(item: EvalItem, truth: dict) -> None:
    order, answer = truth["order"], picked(item)
    assert answer == truth["correct"]
    if match := re.search(r"comes right (after|before) (.+)\?", item.question):
        step = 1 if match[1] == "after" else -1
        assert answer == order[(order.index(match[2]) + step) % len(order)]
    elif match := re.search(r"what does the (.+) eat\?", item.question):
        assert answer == order[order.index(match[1]) - 1]
    else:
        assert answer == order[-1]
    assert len(item.choices) == 4 and len(set(item.choices)) == 4


def check_chartqa(item: EvalItem, truth: dict) -> None:
    values = truth["values"]

    def number(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else f"{x:.1f}"

    question, (answer,) = item.question, item.answers
    if match := re.fullmatch(r"What is the value of (.+)\?", question):
        assert answer == number(values[match[1]])
    elif question.startswith("Which") and question.endswith("highest value?"):
        assert values[answer] == max(values.values())
    elif question == "What is the lowest value in the chart?":
        assert answer == number(min(values.values()))
    elif match := re.fullmatch(r"What is the difference between the values of (.+) and (.+)\?", question):
        assert float(answer) == pytest.approx(abs(values[match[1]] - values[match[2]]))
    elif question == "What is the sum of the highest and lowest values?":
        assert float(answer) == pytest.approx(max(values.values()) + min(values.values()))
    elif match := re.fullmatch(r"Is the value of (.+) greater than that of (.+)\?", question):
        assert answer == ("Yes" if values[match[1]] > values[match[2]] else "No")
    else:
        threshold = float(re.fullmatch(r"How many \w+ have a value above (.+)\?", question)[1])
        assert int(answer) == sum(v > threshold for v in values.values())
    assert item.meta["type"] in {"human_test", "augmented_test"}


def check_vqav2(item: EvalItem, truth: dict) -> None:
    shapes, answer = truth["shapes"], truth["answer"]
    words = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6"}
    assert sum(words.get(a, a) == answer for a in item.answers) >= 6 and len(item.answers) == 10
    assert sum(blobs(item.image, COLORS[color]) for color in {s.color for s in shapes}) == len(shapes)
    if truth["target"] is not None:
        target = truth["target"]
        assert tuple(pixels(item.image)[target.center[1], target.center[0]]) == COLORS[answer]
    elif match := re.fullmatch(r"How many (\w+)s are there\?", item.question):
        assert int(answer) == sum(s.kind == match[1] for s in shapes)
    else:
        color, kind = re.fullmatch(r"Is there a (\w+) (\w+)\?", item.question).groups()
        assert answer == ("yes" if any(s.color == color and s.kind == kind for s in shapes) else "no")


def check_docvqa(item: EvalItem, truth: dict) -> None:
    assert {answer.removeprefix("$") for answer in item.answers} == {truth["fields"][truth["key"]]}


def check_infovqa(item: EvalItem, truth: dict) -> None:
    stats = dict(truth["stats"])
    if truth["kind"] == "percent":
        phrase = re.fullmatch(r"What percentage of (.+)\?", item.question)[1]
        assert item.answers == [f"{stats[phrase]}%", str(stats[phrase])]
    elif truth["kind"] == "count":
        assert item.answers == [str(len(stats))]
    elif truth["kind"] == "title":
        assert item.answers[0] == truth["title"]
    else:
        first, second = re.findall(r'"([^"]+)"', item.question)
        total = stats[first] + stats[second]
        assert item.answers == [f"{total}%", str(total)]


def check_textvqa(item: EvalItem, truth: dict) -> None:
    assert sum(a.lower() == truth["answer"] for a in item.answers) >= 7
    assert item.meta["ocr_tokens"] == truth["text"].lower().split()


def check_realworldqa(item: EvalItem, truth: dict) -> None:
    value = picked(item) if item.choices else item.answers[0]
    assert value == truth["value"]
    if "How many cars" in item.question:
        assert value == str(len(truth["cars"]))
    if "traffic light" in item.question:
        lamp = ("Red", "Yellow", "Green").index(value)
        red, green, _ = pixels(item.image)[42 + 24 * lamp, 448 - 41]
        assert (red > 150, green > 150) == {"Red": (True, False), "Yellow": (True, True), "Green": (False, True)}[value]


def check_mmmu(item: EvalItem, truth: dict) -> None:
    named = sorted({int(k) for k in re.findall(r"<image (\d)>", item.question + " ".join(item.choices or []))})
    assert len(item.images) == len(named) == item.meta["num_images"] and named == list(range(1, len(named) + 1))
    if "larger" in truth:  # two squares: the one with more shaded pixels has the larger fraction
        shaded = [int((np.abs(pixels(image) - (120, 160, 220)).max(axis=2) <= 10).sum()) for image in item.images]
        assert picked(item) == f"<image {1 + shaded.index(max(shaded))}>" == f"<image {truth['larger']}>"
    elif "options" in truth:
        width, height = truth["sides"]
        assert math.prod(truth["options"][ord(item.answers[0]) - ord("A")]) == width * height
        assert item.choices == ["<image 2>", "<image 3>", "<image 4>"]
    elif "sides" in truth:
        assert picked(item) == f"{truth['area']} cm^2" == f"{math.prod(truth['sides'])} cm^2"
    elif "parts" in truth:
        assert item.choices is None and item.answers[0] == f"1/{truth['parts']}"
    else:
        assert picked(item) == f"${sum(truth['prices'][name] for name in truth['items'])}"


def check_mathvista(item: EvalItem, truth: dict) -> None:
    meta = item.meta
    assert meta["query"].startswith("Hint: ") and f"Question: {item.question}" in meta["query"]
    if item.choices:
        assert picked(item) == truth["labels"][truth["values"].index(max(truth["values"]))] == meta["answer"]
    elif "values" in truth:
        precision = int(meta["precision"])
        assert item.answers[0] == f"{sum(truth['values']) / len(truth['values']):.{precision}f}"
        assert len(item.answers[0].split(".")[1]) == precision
    elif "slope" in truth:
        x = int(re.fullmatch(r"What is the value of f\((-?\d+)\)\?", item.question)[1])
        assert int(item.answers[0]) == truth["slope"] * x + truth["intercept"] and meta["answer_type"] == "integer"
    else:
        assert item.answers[0] == f"{math.hypot(*truth['legs']):.1f}" and meta["unit"] == "cm"


def check_count(item: EvalItem, truth: dict) -> None:
    assert blobs(item.image, COLORS[truth["color"]]) == int(item.answers[0])
    assert 2 <= int(item.answers[0]) <= 10


CHECKS = {
    "ai2d": check_ai2d,
    "chartqa": check_chartqa,
    "vqav2": check_vqav2,
    "docvqa": check_docvqa,
    "infovqa": check_infovqa,
    "textvqa": check_textvqa,
    "realworldqa": check_realworldqa,
    "mmmu": check_mmmu,
    "mathvista": check_mathvista,
    "countbenchqa": check_count,
    "pixmo_count": check_count,
}


@pytest.mark.parametrize("task", list(GENERATORS))
def test_answers_agree_with_what_was_drawn(task: str) -> None:
    for item, example in zip(items(task), examples(task), strict=True):
        CHECKS[task](item, example.truth)


def test_fixtures_mix_the_question_kinds_each_benchmark_has() -> None:
    assert {item.meta["type"] for item in items("chartqa")} == {"human_test", "augmented_test"}
    assert {item.meta["question_type"] for item in items("mmmu")} == {"multiple-choice", "open"}
    assert {len(item.images) for item in items("mmmu")} == {1, 2, 4}
    assert {item.meta["answer_type"] for item in items("mathvista")} == {"text", "integer", "float"}
    assert {item.meta["precision"] for item in items("mathvista")} >= {1.0, 2.0}
    assert {item.meta["format"] for item in items("realworldqa")} == {"multiple_choice", "short"}
    assert any(len(set(item.answers)) > 1 for item in items("vqav2"))
    assert any(len(item.answers) > 1 for item in items("infovqa"))
    assert len({item.answers[0] for item in items("countbenchqa")}) > 3


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    tasks = ["vqav2", "realworldqa", "mmmu"]  # PNG, JPEG, several image columns; charts: the test below
    for fmt in FORMATS:
        first = write_all_fixtures(tmp_path / "a" / fmt, n=3, seed=7, fmt=fmt, tasks=tasks)
        second = write_all_fixtures(tmp_path / "b" / fmt, n=3, seed=7, fmt=fmt, tasks=tasks)
        for task in tasks:
            assert _file_bytes(first[task]) == _file_bytes(second[task]), (task, fmt)
    assert generate("vqav2", 3, seed=8) != generate("vqav2", 3, seed=7)


def test_every_generator_is_deterministic() -> None:
    for task in GENERATORS:
        assert generate(task, 1, seed=3) == generate(task, 1, seed=3), task


def _file_bytes(path: Path) -> dict[str, bytes]:
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    return {str(f.relative_to(path.parent)): f.read_bytes() for f in files if f.is_file()}


def test_write_fixture_names_and_errors(tmp_path: Path) -> None:
    assert write_fixture("pixmo_count", tmp_path, n=2).name == "pixmo_count.parquet"
    assert write_fixture("pixmo_count", tmp_path, n=2, fmt="jsonl").name == "pixmo_count.jsonl"
    assert (write_fixture("pixmo_count", tmp_path, n=2, fmt="disk") / "state.json").exists()
    with pytest.raises(ValueError, match="unknown fixture format 'csv'"):
        write_fixture("pixmo_count", tmp_path, n=2, fmt="csv")
    with pytest.raises(ValueError, match="unknown task 'coco'"):
        write_fixture("coco", tmp_path)


def test_command_line_writes_the_requested_fixtures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main([str(tmp_path), "--n", "2", "--format", "jsonl", "--task", "ai2d", "--task", "countbenchqa"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ai2d.jsonl", "countbenchqa.jsonl"]
    assert "2 fixtures" in capsys.readouterr().out
    assert len(load_items("countbenchqa", tmp_path / "countbenchqa.jsonl")) == 2
