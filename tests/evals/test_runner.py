import json
from pathlib import Path

import pytest

from evals.adapters.base import Generation, GenerationRequest
from evals.fixtures import write_fixture
from evals.runner import EvaluationRun, RunConfig, Shard

TASKS = ("ai2d", "chartqa", "countbenchqa", "docvqa")


class EchoAdapter:
    """A deterministic stand-in model: answers with the first answer-like word it can see, or a fixed guess."""

    spec = "test:echo"
    prompt_family = "generic"

    def __init__(self, fail_on: str | None = None, stop_after: int | None = None) -> None:
        self.fail_on = fail_on
        self.stop_after = stop_after
        self.batches = 0

    def describe(self):
        return {"adapter": "test", "model": "echo"}

    def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        if self.stop_after is not None and self.batches >= self.stop_after:
            raise KeyboardInterrupt  # the process is killed between two batches
        self.batches += 1
        if self.fail_on and any(self.fail_on in r.prompt for r in requests):
            if len(requests) > 1:
                raise RuntimeError("batch failed")
            raise RuntimeError(f"cannot answer {self.fail_on!r}")
        return [Generation(text="B" if "A." in r.prompt else str(len(r.prompt) % 7), prompt=f"<{r.prompt}>",
                           output_tokens=1) for r in requests]


@pytest.fixture(scope="module")
def fixture_data(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("fixtures")
    return {task: str(write_fixture(task, folder, n=10)) for task in TASKS}


def _config(data, **changes):
    return RunConfig(tasks=TASKS, prompt_set="generic", batch_size=3, data=data, **changes)


def _samples(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]


def test_a_run_writes_every_sample_and_a_run_record(tmp_path, fixture_data):
    record = EvaluationRun(EchoAdapter(), _config(fixture_data), tmp_path / "run").run()
    samples = _samples(tmp_path / "run")
    assert len(samples) == 40
    assert {s["task"] for s in samples} == set(TASKS)
    first = next(s for s in samples if s["task"] == "ai2d")
    assert first["prompt"].endswith("Answer with the option's letter from the given choices directly.")
    assert first["model_prompt"] == f"<{first['prompt']}>"
    assert first["prediction"] == "B" and first["parsed"] == "B"
    on_disk = json.loads((tmp_path / "run/run.json").read_text())
    assert on_disk == record and record["status"] == "complete"
    assert record["tasks"]["ai2d"]["dataset"] == "lmms-lab-encoder/ai2d"
    assert record["tasks"]["ai2d"]["data_fingerprint"].startswith("sha256:")
    assert len(record["tasks"]["docvqa"]["prompt_sha256"]) == 64
    assert record["packages"]["numpy"]
    ai2d = record["scores"]["ai2d"]
    expected = 100 * sum(s["score"] for s in samples if s["task"] == "ai2d") / 10
    assert ai2d["score"] == pytest.approx(expected)
    assert ai2d["lower"] <= ai2d["score"] <= ai2d["upper"] and ai2d["items"] == 10


def test_a_killed_run_resumes_and_ends_with_the_same_scores(tmp_path, fixture_data):
    whole = EvaluationRun(EchoAdapter(), _config(fixture_data), tmp_path / "whole").run()
    with pytest.raises(KeyboardInterrupt):
        EvaluationRun(EchoAdapter(stop_after=5), _config(fixture_data), tmp_path / "killed").run()
    assert len(_samples(tmp_path / "killed")) == 13  # ai2d (3+3+3+1) and one batch of chartqa reached the disk
    with open(tmp_path / "killed/samples.jsonl", "a") as handle:
        handle.write('{"task": "ai2d", "id": "cut sh')  # a line the kill cut short
    resumed_adapter = EchoAdapter()
    resumed = EvaluationRun(resumed_adapter, _config(fixture_data), tmp_path / "killed").run()
    assert resumed["scores"] == whole["scores"]
    assert resumed_adapter.batches == 11  # only the missing 27 items: chartqa 3+3+1, then 4 batches per task
    key = lambda s: (s["task"], s["id"])  # noqa: E731
    assert sorted(map(key, _samples(tmp_path / "killed"))) == sorted(map(key, _samples(tmp_path / "whole")))


def test_resuming_with_other_settings_is_refused(tmp_path, fixture_data):
    EvaluationRun(EchoAdapter(), _config(fixture_data, limit=2), tmp_path / "run").run()
    with pytest.raises(ValueError, match=r"run.json: this folder holds a run with a different config"):
        EvaluationRun(EchoAdapter(), _config(fixture_data, limit=3), tmp_path / "run").run()


def test_a_failing_item_is_recorded_scored_zero_and_the_run_goes_on(tmp_path, fixture_data):
    items = _samples_of_whole_run(tmp_path, fixture_data)
    victim = next(s for s in items if s["task"] == "docvqa")
    adapter = EchoAdapter(fail_on=victim["prompt"])
    record = EvaluationRun(adapter, _config(fixture_data), tmp_path / "run").run()
    samples = {(s["task"], s["id"]): s for s in _samples(tmp_path / "run")}
    failed = samples[("docvqa", victim["id"])]
    assert failed["error"] == f"RuntimeError: cannot answer {victim['prompt']!r}"
    assert failed["score"] == 0.0 and failed["prediction"] == ""
    same_prompt = sum(s["prompt"] == victim["prompt"] for s in items)  # questions may repeat across documents
    assert record["scores"]["docvqa"]["errors"] == same_prompt
    assert len(samples) == 40 and sum(s["error"] is not None for s in samples.values()) == same_prompt


def _samples_of_whole_run(tmp_path, data):
    EvaluationRun(EchoAdapter(), _config(data), tmp_path / "reference").run()
    return _samples(tmp_path / "reference")


def test_data_parallel_shards_merge_into_the_single_process_result(tmp_path, fixture_data):
    single = EvaluationRun(EchoAdapter(), _config(fixture_data), tmp_path / "single").run()
    assert EvaluationRun(EchoAdapter(), _config(fixture_data), tmp_path / "dp", Shard(1, 2)).run() is None
    merged = EvaluationRun(EchoAdapter(), _config(fixture_data), tmp_path / "dp", Shard(0, 2)).run()
    assert merged["scores"] == single["scores"]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    ordered = sorted(strip(_samples(tmp_path / "single")), key=lambda r: (TASKS.index(r["task"]), r["index"]))
    assert strip(_samples(tmp_path / "dp")) == ordered


def test_submission_run_writes_the_server_answer_file(tmp_path):
    from evals.fixtures import generate, write_rows

    rows = [dict(example.row, answers=None) for example in generate("docvqa", n=5, seed=3)]
    data = write_rows("docvqa", rows, tmp_path / "test_split", "parquet")
    config = RunConfig(tasks=("docvqa",), prompt_set="generic", data={"docvqa": str(data)}, submission=True)
    record = EvaluationRun(EchoAdapter(), config, tmp_path / "run").run()
    assert record["scores"] == {"docvqa": {"items": 5, "errors": 0}}
    answers = json.loads((tmp_path / "run/submission/docvqa.json").read_text())
    assert [a["questionId"] for a in answers] == [int(r["questionId"]) for r in rows]
    assert all(isinstance(a["answer"], str) and a["answer"] for a in answers)
    assert all(s["score"] is None for s in _samples(tmp_path / "run"))
    with pytest.raises(ValueError, match="ai2d has no evaluation-server split; tasks with one: vqav2, docvqa"):
        RunConfig(tasks=("ai2d",), prompt_set="generic", submission=True).spec("ai2d")


def test_the_scoring_profile_is_recorded_and_changes_only_the_scores(tmp_path, fixture_data, capsys):
    from evals.runner import score_record
    from molmo_arena import main

    official = EvaluationRun(EchoAdapter(), _config(fixture_data), tmp_path / "official").run()
    molmo = EvaluationRun(EchoAdapter(), _config(fixture_data, scoring="molmo"), tmp_path / "molmo").run()
    assert (official["config"]["scoring"], molmo["config"]["scoring"]) == ("official", "molmo")
    official_samples, molmo_samples = _samples(tmp_path / "official"), _samples(tmp_path / "molmo")
    assert {s["scoring"] for s in official_samples} == {"official"} and {s["scoring"] for s in molmo_samples} == {
        "molmo"}
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip([score_record(s, "molmo") for s in official_samples]) == strip(molmo_samples)

    # `eval compare` shows a run under the molmo profile (the paper's), rescoring it from its samples.
    assert main(["eval", "compare", str(tmp_path / "official"), str(tmp_path / "molmo"), "--models", "Molmo-72B"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "molmo scoring" in line]
    assert len(rows) == 2 and rows[0].split("|")[2:] == rows[1].split("|")[2:]
    assert main(["eval", "compare", str(tmp_path / "official"), "--scoring", "official"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "official scoring" in line)
    assert f"{official['scores']['ai2d']['score']:.1f}" in row


class RecordingAdapter(EchoAdapter):
    """The echo model, keeping every request it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[GenerationRequest] = []

    def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        self.requests += requests
        return super().generate(requests)


def test_every_image_an_mmmu_question_names_reaches_the_model_in_order(tmp_path):
    from evals.data import load_items

    data = {"mmmu": str(write_fixture("mmmu", tmp_path / "data", n=10))}
    adapter = RecordingAdapter()
    EvaluationRun(adapter, RunConfig(tasks=("mmmu",), prompt_set="generic", data=data), tmp_path / "run").run()
    items = load_items("mmmu", data["mmmu"])
    assert sorted(r.images for r in adapter.requests) == sorted(item.images for item in items)
    assert {s["images"] for s in _samples(tmp_path / "run")} == {1, 2, 4}


def test_a_task_with_a_breakdown_reports_its_score_by_each_field(tmp_path, fixture_data, monkeypatch):
    import dataclasses

    from evals.cli import summary_table
    from evals.tasks import TASKS as SPECS

    monkeypatch.setitem(SPECS, "chartqa", dataclasses.replace(SPECS["chartqa"], breakdown=("type",)))
    config = RunConfig(tasks=("chartqa", "ai2d"), prompt_set="generic", data=fixture_data)
    record = EvaluationRun(EchoAdapter(), config, tmp_path / "run").run()
    samples = [s for s in _samples(tmp_path / "run") if s["task"] == "chartqa"]
    by_type = record["scores"]["chartqa"]["breakdown"]["type"]
    assert list(by_type) == ["augmented_test", "human_test"] and "breakdown" not in record["scores"]["ai2d"]
    again = EvaluationRun(EchoAdapter(), dataclasses.replace(config, batch_size=5), tmp_path / "again").run()
    assert json.dumps(again["scores"]) == json.dumps(record["scores"])  # the same file whatever the batching
    for value, group in by_type.items():
        scores = [s["score"] for s in samples if s["meta"]["type"] == value]
        assert group == {"score": round(100 * sum(scores) / len(scores), 4), "items": len(scores),
                         "correct": round(sum(scores), 4)}
    assert summary_table(record).endswith("\nchartqa by type: " + "; ".join(
        f"{value} {group['score']:.1f} ({group['correct']:g}/{group['items']})" for value, group in by_type.items()))
