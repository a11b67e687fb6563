"""Every baseline family's tiny checkpoint, saved to disk in its real layout, runs end to end through `hf:PATH`."""

import io
import json
import sys

import pytest
from PIL import Image

from evals.adapters.base import GenerationRequest
from evals.adapters.hf import HFAdapter
from evals.data import load_items
from evals.fixtures import write_all_fixtures
from evals.prompts import render_prompt
from evals.tiny_models import FAMILIES, save_tiny
from molmo_arena import main
from tests.torch_threads import one_torch_thread

TASKS = ("ai2d", "countbenchqa", "chartqa")  # multiple choice, counting, short answer
# transformers' PaliGemma processor builds its (unused here) labels with np.array over tensors.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")


@pytest.fixture(autouse=True, scope="module")
def _offline_single_thread():
    """No hub (the hub library reads HF_HUB_OFFLINE once, at import), and one torch thread: for matrices this
    small, a second thread only adds synchronisation, which costs ten times the work on a busy machine."""
    with pytest.MonkeyPatch.context() as patch, one_torch_thread():
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
        yield


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """task -> fixture file, all in one folder."""
    return write_all_fixtures(tmp_path_factory.mktemp("fixtures"), n=2, tasks=TASKS)


@pytest.fixture(scope="module", params=list(FAMILIES))
def family(request, tmp_path_factory):
    """(family name, checkpoint folder, adapter on it), saved and loaded once per family."""
    folder = save_tiny(request.param, tmp_path_factory.mktemp(request.param) / "model")
    return request.param, folder, HFAdapter(str(folder))


def _png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def test_checkpoint_has_the_real_layout_and_describe_names_the_family(family):
    name, folder, adapter = family
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == name and config["architectures"] == [FAMILIES[name].model]
    processor = json.loads((folder / "processor_config.json").read_text())
    assert processor["processor_class"] == FAMILIES[name].processor
    described = adapter.describe()
    assert described["family"] == name and described["architecture"] == FAMILIES[name].model
    assert described["image_processor"] == FAMILIES[name].image_processor  # the PIL backend
    assert "torchvision" not in sys.modules


def test_eval_run_answers_every_fixture_item(family, data, tmp_path):
    name, folder, _ = family
    out = tmp_path / "run"
    assert main(["eval", "run", "--model", f"hf:{folder}", "--tasks", ",".join(TASKS), "--data-dir",
                 str(next(iter(data.values())).parent), "--limit", "2", "--batch-size", "2", "--out", str(out)]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "complete" and set(record["scores"]) == set(TASKS)
    assert record["model"]["family"] == name
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert sorted(s["task"] for s in samples) == sorted(TASKS * 2)
    for sample in samples:
        assert sample["error"] is None, (sample["task"], sample["error"])
        assert sample["prediction"] and 0 < sample["output_tokens"] <= 32
        assert sample["prompt"] in sample["model_prompt"]


def test_batched_generation_equals_one_by_one(family, data):
    _, _, adapter = family
    requests = []
    for task, path in data.items():
        for item in load_items(task, path, limit=2):
            prompt = render_prompt(task, "generic", item)
            requests.append(GenerationRequest(prompt.text, item.images, prompt.max_new_tokens))
    # A tiny wide image and a tall one: grids, tiles and anyres cells that differ within one batch.
    requests += [GenerationRequest("How many?", _png((150, 20)), 8), GenerationRequest("What?", _png((30, 90)), 5)]
    batched = adapter.generate(requests)
    alone = [adapter.generate([request])[0] for request in requests]
    assert batched == alone
    assert all(g.output_tokens <= r.max_new_tokens for g, r in zip(batched, requests, strict=True))


def test_a_question_with_several_images_gets_all_of_them(family):
    """An MMMU question naming `<image 1>` and `<image 2>`: both images reach the model, one placeholder each."""
    _, _, adapter = family
    two = GenerationRequest("<image 1> or <image 2>: which is wider?", (_png((60, 30)), _png((30, 60))), 4)
    one = GenerationRequest("Which colour?", _png((40, 40)), 4)
    [answer] = adapter.generate([two])
    assert answer.prompt.count(adapter.processor.image_token) == 2
    assert adapter.generate([two, one]) == [answer, adapter.generate([one])[0]]
