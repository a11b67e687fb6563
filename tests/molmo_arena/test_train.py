"""`molmo-arena train`: a config trained in one process, and the harness as the trainer's evaluation callback."""

from __future__ import annotations

import json

import pytest
import yaml

import molmo_arena
from molmo.train.config import config_from_dict
from molmo_arena.train import build_trainer
from tests.molmo.test_train_trainer import tiny_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: one thread beats several


def test_the_train_command_runs_a_config(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(max_steps=3)))
    out = tmp_path / "run"
    status = molmo_arena.main(["train", "--config", str(config), "--out", str(out), "--max-steps", "2",
                               "--set", "train.save_every=1", "--no-progress"])
    assert status == 0
    assert [p.name for p in sorted((out / "checkpoints").iterdir())] == ["step-000001", "step-000002"]
    assert json.loads((out / "config.json").read_text())["train"]["max_steps"] == 2
    assert molmo_arena.main(["train", "--config", str(config), "--set", "train.max_steps=zero"]) == 2


def test_the_train_command_evaluates_the_weights_in_place_at_checkpoints(tmp_path):
    """Without --eval-adapter the config's eval section runs the harness on the in-repo model being trained."""
    from molmo.data.synthetic import generate_rows, write_rows

    held_out = write_rows(generate_rows("count_qa_plain", 3, seed=1), tmp_path / "held_out.parquet")
    config = dict(tiny_config(max_steps=2), eval={"tasks": ["pixmo_count"], "data": {"pixmo_count": str(held_out)}})
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    assert molmo_arena.main(["train", "--config", str(tmp_path / "tiny.yaml"), "--out", str(out),
                             "--set", "train.eval_every=2", "--no-progress"]) == 0
    run = json.loads((out / "evals" / "step-000002" / "run.json").read_text())
    assert run["model"]["model"] == "<training weights>" and run["config"]["prompt_set"] == "molmo"
    assert run["scores"]["pixmo_count"]["items"] == 3
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 2


def test_the_harness_callback_runs_the_eval_section_with_the_adapter_factory(tmp_path):
    from evals.adapters.base import Generation
    from evals.fixtures import write_fixture

    seen = {}

    class Counting:
        spec, prompt_family = "trained-tiny", "generic"

        def describe(self):
            return {"adapter": "test", "model": "trained-tiny"}

        def generate(self, requests):
            return [Generation(text="3", prompt=r.prompt) for r in requests]

    def factory(model, tokenizer, model_config, section):
        seen.update(training=model.training, vocab=model_config.llm.vocab_size, tasks=section.tasks,
                    tokenizer=tokenizer)
        return Counting()

    data = write_fixture("pixmo_count", tmp_path / "fixtures", n=4)
    config = tiny_config(max_steps=1)
    config["eval"] = {"tasks": ["pixmo_count"], "prompt_set": "generic", "data": {"pixmo_count": str(data)}}
    trainer = build_trainer(config_from_dict(config), tmp_path / "run", adapter_factory=factory, progress=False)
    trainer.run()
    assert seen == {"training": False, "vocab": 512, "tasks": ("pixmo_count",), "tokenizer": trainer.tokenizer}
    assert trainer.module.training  # back to training afterwards
    run = json.loads((tmp_path / "run" / "evals" / "step-000001" / "run.json").read_text())
    assert run["scores"]["pixmo_count"]["items"] == 4
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last == {"step": 1, "eval": {"pixmo_count": run["scores"]["pixmo_count"]["score"]}}


def test_without_an_eval_section_the_trainer_gets_no_callback(tmp_path):
    assert build_trainer(config_from_dict(tiny_config()), tmp_path / "run", progress=False).evaluation is None
