"""The in-repo Molmo behind the adapter interface, and `molmo-arena eval run --model molmo:tiny` end to end."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from evals.adapters import KINDS, GenerationRequest, load_adapter
from evals.fixtures import write_fixture
from molmo_arena import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: one thread beats several


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="module")
def adapter():
    return load_adapter("molmo:tiny")


def _png(height: int, width: int) -> bytes:
    pixels = np.random.default_rng(height).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_registered_and_described(adapter):
    assert "molmo" in KINDS
    assert adapter.spec == "molmo:tiny" and adapter.prompt_family == "molmo"
    described = adapter.describe()
    assert described["adapter"] == "molmo" and described["model"] == "tiny" and described["seed"] == 0
    assert described["parameters"] > 0 and described["dtype"] == "float32"


def test_generate_is_greedy_and_per_request(adapter):
    requests = [
        GenerationRequest("vqa2: What color is the triangle?", _png(200, 300), max_new_tokens=5, max_crops=4),
        GenerationRequest("How many?", None, max_new_tokens=2),
        GenerationRequest("doc_qa: What is the title?", _png(300, 200), max_new_tokens=3, max_crops=36),
    ]
    answers = adapter.generate(requests)
    assert [a.prompt for a in answers] == [
        " User: vqa2: What color is the triangle? Assistant:", " User: How many? Assistant:",
        " User: doc_qa: What is the title? Assistant:"]
    assert all(a.output_tokens <= r.max_new_tokens for a, r in zip(answers, requests, strict=True))
    assert adapter.generate(requests) == answers
    assert adapter.generate(requests[2:]) == answers[2:]  # batched = alone


def test_checkpoint_folder_gives_the_same_answers(adapter, tmp_path):
    from molmo.checkpoint import save_hf_layout

    save_hf_layout(adapter.model, tmp_path, tokenizer=adapter.processor.tokenizer)
    from_folder = load_adapter(f"molmo:{tmp_path}")
    request = [GenerationRequest("vqa2: Is there a cat?", _png(120, 160), max_new_tokens=4)]
    assert from_folder.generate(request) == adapter.generate(request)
    assert from_folder.describe()["weights_sha256"] and from_folder.describe()["seed"] is None


def test_untokenized_presets_are_refused():
    with pytest.raises(ValueError, match="only the tiny presets"):
        load_adapter("molmo:Molmo-7B-D")


def test_eval_run_cli(tmp_path, capsys):
    write_fixture("vqav2", tmp_path / "data", n=4)
    out = tmp_path / "run"
    assert main(["eval", "run", "--model", "molmo:tiny", "--tasks", "vqav2", "--data-dir", str(tmp_path / "data"),
                 "--batch-size", "2", "--out", str(out)]) == 0
    assert "| vqav2 |" in capsys.readouterr().out
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "complete" and record["model"]["adapter"] == "molmo"
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 and all(s["error"] in (None, "empty output") for s in samples)
    assert all(s["model_prompt"].startswith(" User: vqa2: ") for s in samples)


def test_release_setting_the_model_cannot_compute_exits_2_naming_it(tmp_path, capsys):
    from evals.tiny_models import save_tiny_molmo_release

    folder = save_tiny_molmo_release("MolmoE-1B-0924", tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "norm_after": True}))
    write_fixture("vqav2", tmp_path / "data", n=1)
    assert main(["eval", "run", "--model", f"molmo:{folder}", "--tasks", "vqav2", "--data-dir",
                 str(tmp_path / "data"), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert error == (f"molmo-arena: error: {folder / 'config.json'}: norm_after=True is not supported: "
                     "MolmoE-1B-0924 has False\n")
    assert not (tmp_path / "run" / "samples.jsonl").exists()
