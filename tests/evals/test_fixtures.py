"""The generated fixtures of every benchmark folder: written in three formats they load back into the same items, the
answers agree with what was drawn (each builder's `check`, on the pixels where that is cheap), and the same seed
gives the same bytes."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from evals.data import load_items
from evals.fixtures import FORMATS, Example, builder, generate, write_all_fixtures, write_fixture, write_rows
from evals.fixtures.__main__ import main
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


@pytest.mark.parametrize("task", list(TASKS))
def test_every_format_loads_back_into_the_same_items(task: str, tmp_path: Path) -> None:
    rows = [example.row for example in examples(task)]
    expected = items(task)
    assert len(expected) == N
    for fmt in FORMATS:
        path = write_rows(task, rows, tmp_path / fmt, fmt)
        assert load_items(task, path) == expected, fmt


@pytest.mark.parametrize("task", list(TASKS))
def test_answers_agree_with_what_was_drawn(task: str) -> None:
    for item, example in zip(items(task), examples(task), strict=True):
        builder(task).check(item, example.truth)


@pytest.mark.parametrize("task", list(TASKS))
def test_a_check_refuses_rows_drawn_from_another_truth(task: str) -> None:
    shifted = examples(task)[1:] + examples(task)[:1]
    with pytest.raises(AssertionError):
        for item, example in zip(items(task), shifted, strict=True):
            builder(task).check(item, example.truth)


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
    for task in TASKS:
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
