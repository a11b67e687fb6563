import json

import pytest

from evals.adapters.base import GenerationRequest
from evals.adapters.baselines import ConstantAdapter, FrequentAnswerAdapter, most_frequent_answers
from evals.fixtures import write_fixture
from evals.items import EvalItem
from evals.runner import EvaluationRun, RunConfig


def _item(answer: str) -> EvalItem:
    return EvalItem(id=answer, question="q", answers=[answer, "other"])


def test_most_frequent_answer_with_reproducible_ties():
    table = most_frequent_answers({"vqav2": [_item("yes"), _item("no"), _item("yes")],
                                   "ai2d": [_item("B"), _item("A")], "empty": []})
    assert table == {"vqav2": "yes", "ai2d": "A"}


def test_the_prior_baseline_scores_what_its_guess_deserves(tmp_path):
    data = write_fixture("countbenchqa", tmp_path / "data", n=12)
    table = tmp_path / "frequent.json"
    table.write_text(json.dumps({"countbenchqa": "3"}))
    record = EvaluationRun(FrequentAnswerAdapter(table), RunConfig(tasks=("countbenchqa",), prompt_set="generic",
                           data={"countbenchqa": str(data)}), tmp_path / "run").run()
    samples = [json.loads(line) for line in (tmp_path / "run/samples.jsonl").read_text().splitlines()]
    expected = 100 * sum(s["answers"][0] == "3" for s in samples) / len(samples)
    assert record["scores"]["countbenchqa"]["score"] == pytest.approx(expected)
    assert {s["prediction"] for s in samples} == {"3"}


def test_unknown_tasks_and_bad_tables_are_refused(tmp_path):
    table = tmp_path / "frequent.json"
    table.write_text(json.dumps({"ai2d": "A"}))
    with pytest.raises(ValueError, match="no answer for task"):
        FrequentAnswerAdapter(table).generate([GenerationRequest("q", None, 4, task="vqav2")])
    table.write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        FrequentAnswerAdapter(table)
    assert ConstantAdapter("yes").generate([GenerationRequest("q", None, 4)])[0].text == "yes"
