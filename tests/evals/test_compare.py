"""`eval compare`: the paper's 11 in the table's order and their average, other benchmarks in columns of their own."""

import dataclasses
import json

from evals.tasks import PAPER_TASKS, TASKS
from molmo_arena import main


def _run(folder, scores: dict[str, float]) -> None:
    folder.mkdir()
    record = {"model": {"model": "fake"}, "config": {"tasks": list(scores), "prompt_set": "generic",
                                                     "scoring": "official", "seed": 0},
              "scores": {task: {"score": score} for task, score in scores.items()}}
    (folder / "run.json").write_text(json.dumps(record))


def test_other_benchmarks_get_a_column_and_stay_out_of_the_paper_average(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(TASKS, "zz_extra", dataclasses.replace(TASKS["chartqa"], name="zz_extra", paper_column=None))
    _run(tmp_path / "all", {**dict.fromkeys(PAPER_TASKS, 50.0), "zz_extra": 0.0})
    _run(tmp_path / "paper", dict.fromkeys(PAPER_TASKS, 40.0))
    assert main(["eval", "compare", str(tmp_path / "all"), str(tmp_path / "paper"), "--models", "Molmo-72B",
                 "--scoring", "official"]) == 0
    header, _, paper, everything, eleven = capsys.readouterr().out.splitlines()
    assert header == "| model | " + " | ".join([*PAPER_TASKS, "zz_extra"]) + " | avg11 |"
    assert paper.startswith("| Molmo-72B (paper) |") and paper.endswith(" | – | 81.2 |")
    assert everything.endswith(" | 50.0 | 0.0 | 50.0 |") and eleven.endswith(" | 40.0 | – | 40.0 |")


def test_without_other_benchmarks_the_table_is_the_paper_s(tmp_path, capsys):
    _run(tmp_path / "paper", dict.fromkeys(PAPER_TASKS[:3], 40.0))
    assert main(["eval", "compare", str(tmp_path / "paper"), "--models", "Molmo-72B", "--scoring", "official"]) == 0
    header, _, _, run = capsys.readouterr().out.splitlines()
    assert header == "| model | " + " | ".join(PAPER_TASKS) + " | avg11 |"
    assert run.endswith(" | 40.0 | 40.0 | 40.0 | " + "– | " * 8 + "– |")
