"""The peer as the oracle: lmms-eval 0.7.3's own task code (run in the side environment by lmms_oracle.py) over the
fixture of every benchmark whose folder has an `oracle.py`, and thousands of generated predictions.

(a) lmms-eval's registered task reads the dataset our spec names (hub id, config, split), and every fixture
document goes through it (`doc_to_visual`, `doc_to_text`, `doc_to_target`, `process_results` on the gold answer):
the fixtures are in the hub schema a real run reads.
(b) Every generated prediction is scored by lmms-eval and by our official profile. Where lmms-eval carries the
official code, ours equals the official definition on every case; wherever lmms-eval and ours disagree, the
disagreement is one of the deliberate differences the benchmark's folder lists, each with an example this test
scores on both sides, so the list cannot go stale.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image

from evals.data import load_items
from evals.fixtures import generate, write_all_fixtures
from evals.items import EvalItem
from evals.scoring import score_item
from evals.tasks import TASKS, task_part
from evals.tasks.oracle import LmmsOracle, OracleCase, predictions
from tests.evals.side_env import ROOT, run, side

DOCS = 16
ORACLES: dict[str, LmmsOracle] = {task: part.ORACLE for task in TASKS if (part := task_part(task, "oracle"))}
Case = tuple[int, str, "dict[str, Any] | None"]


def generated_cases(items: dict[str, list[EvalItem]]) -> dict[str, list[Case]]:
    """(document index, prediction, field overrides) per task, fixed by a seed: about 150 predictions per document
    (`evals.tasks.oracle.predictions`) and the task's own variants of the document."""
    rng = random.Random(13)
    cases: dict[str, list[Case]] = {}
    for task, task_items in items.items():
        oracle, rows = ORACLES[task], []
        for index, item in enumerate(task_items):
            others = [task_items[(index + step) % len(task_items)] for step in (1, 5, 11)]
            rows += [(index, prediction, None) for prediction in predictions(oracle, item, others, rng)]
            rows += [(index, prediction, overrides) for prediction, overrides in oracle.variants(item)]
        cases[task] = rows
    return cases


@dataclass(frozen=True)
class Oracle:
    """Our items, the cases sent and lmms-eval's report: `cases[task]` holds (index, prediction, overrides) in the
    order of `report[task]["cases"]`; the first of them are each document's gold answer, then the task's examples
    of its differences, then the generated predictions."""

    items: dict[str, list[EvalItem]]
    rows: dict[str, list[dict[str, Any]]]
    cases: dict[str, list[Case]]
    report: dict[str, Any]

    def case(self, task: str, position: int) -> OracleCase:
        index, prediction, overrides = self.cases[task][position]
        item = TASKS[task].to_item(self.rows[task][index] | overrides, index) if overrides else self.items[task][index]
        ours = score_item(task, prediction, item.answers, item.choices, item.meta)
        return OracleCase(task, prediction, item, ours, self.report[task]["cases"][position])

    def example(self, task: str, number: int) -> OracleCase:
        return self.case(task, len(self.items[task]) + number)

    def generated(self, task: str) -> range:
        return range(len(self.items[task]) + len(ORACLES[task].examples), len(self.cases[task]))


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Oracle:
    root = tmp_path_factory.mktemp("oracle")
    paths = write_all_fixtures(root / "data", n=DOCS, tasks=list(ORACLES))
    items = {task: load_items(task, path) for task, path in paths.items()}
    rows = {task: [example.row for example in generate(task, DOCS)] for task in paths}
    generated = generated_cases(items)
    cases = {}
    for task, task_items in items.items():
        gold = ORACLES[task].gold
        cases[task] = [(index, gold(item), None) for index, item in enumerate(task_items)]
        cases[task] += [(e.index, e.prediction, e.overrides) for e in ORACLES[task].examples]
        cases[task] += generated[task]
    request = root / "request.json"
    request.write_text(json.dumps({"fixtures": {task: str(path) for task, path in paths.items()}, "cases": cases}))
    run([side("python"), "-m", "tests.evals.lmms_oracle", str(request), str(root / "report.json")], ROOT)
    report = json.loads((root / "report.json").read_text())
    return Oracle(items, rows, cases, report)


def _explained(case: OracleCase) -> list[str]:
    return [d.id for d in ORACLES[case.task].differences if d.explains(case)]


def _agree(case: OracleCase) -> bool:
    return case.ours.score == pytest.approx(case.lmms["score"])


# --------------------------------------------------------------------------------------- (a) the fixtures


def _pixels(image: bytes) -> list[Any]:
    rgb = Image.open(io.BytesIO(image)).convert("RGB")
    return [*rgb.size, hashlib.sha256(rgb.tobytes()).hexdigest()]


@pytest.mark.parametrize("task", list(ORACLES))
def test_lmms_eval_reads_the_dataset_our_spec_names(oracle: Oracle, task: str) -> None:
    spec = TASKS[task]
    assert oracle.report[task]["dataset"] == [spec.hf_id, spec.config, spec.split]


@pytest.mark.parametrize("task", list(ORACLES))
def test_lmms_eval_reads_every_fixture_document_as_we_do(oracle: Oracle, task: str) -> None:
    """doc_to_visual gives our images (every one an MMMU question names, in order), doc_to_text holds our
    question and options, doc_to_target our answer, and process_results gives the gold answer full marks
    wherever no listed difference applies."""
    docs, task_oracle = oracle.report[task]["docs"], ORACLES[task]
    assert len(docs) == len(oracle.items[task]) == DOCS
    for index, (doc, item) in enumerate(zip(docs, oracle.items[task], strict=True)):
        assert doc["visuals"] == [_pixels(image) for image in item.images], (task, index)
        assert task_oracle.question_in_text(item) in doc["text"], (task, index)
        if item.choices and task_oracle.options_in_text:
            assert all(f"{chr(65 + k)}. {choice}" in doc["text"] for k, choice in enumerate(item.choices))
        assert doc["target"] == json.loads(json.dumps(task_oracle.target(item))), (task, index)
        gold = oracle.case(task, index)
        assert gold.ours.score == 1.0, (task, index)
        assert _agree(gold) or _explained(gold), (task, index, gold.prediction, gold.lmms)


# --------------------------------------------------------------------------------------- (b) the predictions


def test_thousands_of_predictions_per_task(oracle: Oracle) -> None:
    assert min(len(oracle.generated(task)) for task in ORACLES) >= 2000


@pytest.mark.parametrize("task", [task for task, o in ORACLES.items() if o.official])
def test_ours_is_the_official_definition_on_every_case(oracle: Oracle, task: str) -> None:
    """Where lmms-eval carries the official code (the folder's `official`) ours equals it on every prediction,
    raw: the score, or what was parsed where the definition is a parser."""
    checked = 0
    for position in oracle.generated(task):
        case = oracle.case(task, position)
        ((kind, official),) = oracle.report[task]["oracle"][position].items()
        if kind == "parsed":
            assert case.ours.parsed == official, (case.prediction, case.item.answers)
        else:
            assert case.ours.score == pytest.approx(official), (case.prediction, case.item.answers)
        checked += 1
    assert checked >= 2000


@pytest.mark.parametrize("task", list(ORACLES))
def test_every_disagreement_with_lmms_eval_is_a_listed_difference(oracle: Oracle, task: str) -> None:
    cases = [oracle.case(task, position) for position in oracle.generated(task)]
    unexplained = [(c.prediction, c.item.answers[:3], c.ours.score, c.lmms) for c in cases
                   if not _agree(c) and not _explained(c)]
    assert not unexplained, f"{len(unexplained)} unexplained, e.g. {unexplained[:5]}"
    if ORACLES[task].agrees_everywhere:
        assert all(_agree(case) for case in cases)


def _gold_text(item: EvalItem) -> str:
    if item.choices:
        return f"{item.answers[0]} ({item.choices[ord(item.answers[0]) - ord('A')]})"
    if len(item.answers) == 10:
        counts = {answer: item.answers.count(answer) for answer in item.answers}
        return ", ".join(f"{n} × {answer}" for answer, n in counts.items())
    return " or ".join(item.answers)


@pytest.mark.parametrize("task", list(ORACLES))
def test_every_listed_difference_is_real_and_shown_as_recorded(oracle: Oracle, task: str) -> None:
    """Each example disagrees, for its difference's reason, with the answer and the two scores its folder
    records; every difference a task lists has an example in some task that lists it."""
    for number, example in enumerate(ORACLES[task].examples):
        case = oracle.example(task, number)
        assert example.difference in ORACLES[task].differences, example.difference.id
        assert not _agree(case), example.difference.id
        assert example.difference.id in _explained(case)
        assert _gold_text(case.item) == example.answer, example.difference.id
        assert (case.ours.score, case.lmms["score"]) == pytest.approx((example.ours, example.lmms))
    shown = {e.difference.id for o in ORACLES.values() for e in o.examples}
    assert {d.id for d in ORACLES[task].differences} <= shown


def test_mmmu_open_answers_listed_or_single_through_lmms_eval(oracle: Oracle) -> None:
    """A single accepted answer is read the same by both (the list is the only difference on open questions)."""
    for position in oracle.generated("mmmu"):
        case = oracle.case("mmmu", position)
        if not case.item.choices and len(case.item.answers) == 1:
            assert _agree(case), case.prediction
