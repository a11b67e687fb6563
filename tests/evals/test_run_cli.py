"""`molmo-arena eval run` end to end on a tiny random Hugging Face VLM over every benchmark's fixture."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evals.fixtures import write_all_fixtures
from evals.tasks import TASKS
from evals.tiny_models import save_tiny_llava
from molmo_arena import main

ENV = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
ITEMS = 6  # fixture items per benchmark


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    write_all_fixtures(root / "data", n=ITEMS)
    return save_tiny_llava(root / "tiny-llava"), root / "data"


def _command(model: Path, data: Path, out: Path) -> list[str]:
    return ["eval", "run", "--model", f"hf:{model}", "--tasks", "all", "--data-dir", str(data),
            "--batch-size", "1", "--out", str(out)]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.slow
def test_run_is_killed_resumes_and_rescores_identically(setup, tmp_path, capsys):
    model, data = setup
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "molmo_arena", *_command(model, data, out)], env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not _lines(out / "samples.jsonl") and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = len(_lines(out / "samples.jsonl"))
    assert 1 <= before < ITEMS * len(TASKS)
    assert json.loads((out / "run.json").read_text())["status"] == "running"

    assert main(_command(model, data, out)) == 0
    assert "| ai2d |" in capsys.readouterr().out
    record = json.loads((out / "run.json").read_text())
    samples = _lines(out / "samples.jsonl")
    assert record["status"] == "complete" and len(samples) == ITEMS * len(TASKS)
    assert len({(s["task"], s["id"]) for s in samples}) == ITEMS * len(TASKS)
    assert set(record["scores"]) == set(TASKS)
    assert record["model"]["architecture"] == "LlavaForConditionalGeneration"
    assert all(s["model_prompt"].startswith("USER: <image>\n") for s in samples)

    for task in TASKS:
        scores = tmp_path / f"{task}.scores.jsonl"
        assert main(["eval", "score", task, str(out / "samples.jsonl"), "--out", str(scores)]) == 0
        rescored = {r["id"]: r["score"] for r in _lines(scores)}
        assert rescored == {s["id"]: s["score"] for s in samples if s["task"] == task}
        printed = capsys.readouterr().out
        assert f"{record['scores'][task]['score']:.2f}" in printed

    assert main(["eval", "compare", str(out), "--models", "Molmo-72B"]) == 0
    table = capsys.readouterr().out
    assert "| Molmo-72B (paper) | 96.3 |" in table and "(generic prompts, molmo scoring)" in table


@pytest.mark.slow
def test_torchrun_data_parallel_matches_one_process(setup, tmp_path):
    model, data = setup
    single, parallel = tmp_path / "single", tmp_path / "parallel"
    base = [sys.executable, "-m", "molmo_arena"]
    subprocess.run(base + _command(model, data, single) + ["--limit", "3"], env=ENV, check=True,
                   capture_output=True)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m",
                "molmo_arena"]
    subprocess.run(torchrun + _command(model, data, parallel) + ["--limit", "3"], env=ENV, check=True,
                   capture_output=True)
    one = json.loads((single / "run.json").read_text())["scores"]
    two = json.loads((parallel / "run.json").read_text())["scores"]
    assert one == two
    assert sorted(p.name for p in (parallel / "shards").iterdir()) == [
        "rank-0.done", "rank-0.jsonl", "rank-1.done", "rank-1.jsonl"]
    strip = lambda rows: [(list(TASKS).index(r["task"]), r["index"], r["id"], r["prediction"]) for r in rows]  # noqa: E731
    assert strip(_lines(parallel / "samples.jsonl")) == sorted(strip(_lines(single / "samples.jsonl")))


def test_bad_arguments_are_one_line_errors(setup, tmp_path, capsys):
    model, data = setup
    assert main(["eval", "run", "--model", f"hf:{model}", "--tasks", "ai2d,nope", "--out", str(tmp_path)]) == 2
    assert "--tasks: unknown task 'nope'" in capsys.readouterr().err
    assert main(["eval", "run", "--model", "gpt:x", "--tasks", "ai2d", "--data-dir", str(data)]) == 2
    assert "expected KIND:TARGET" in capsys.readouterr().err
    assert main(["eval", "run", "--model", f"hf:{model}", "--tasks", "ai2d", "--data-dir", str(tmp_path)]) == 2
    assert "no ai2d.parquet, ai2d.jsonl or ai2d/" in capsys.readouterr().err
