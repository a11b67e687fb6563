"""The lmms-eval bridge, run for real in the side environment `make lmms-eval-env` builds (lmms-eval installed on
top of .venv's packages, torchvision uninstalled again because its only build here fails at import).

lmms-eval's own CLI finds our model through the entry point; `molmo-arena eval lmms-eval` runs lmms-eval tasks,
offline, on local data: a task folder given with --include-path, and lmms-eval's registered ChartQA task pointed
at a ChartQA fixture with --data. Nothing is skipped: without the side environment these tests fail and say how
to build it.
"""

import collections
import io
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from evals.adapters.base import GenerationRequest
from evals.adapters.hf import HFAdapter
from evals.data import load_items
from evals.fixtures import write_fixture
from evals.lmms_bridge import cut_at_stops, image_bytes
from evals.tiny_models import save_tiny
from molmo_arena import main
from molmo_arena.common.files import file_sha256
from tests.evals.side_env import ROOT, run, side
from tests.torch_threads import one_torch_thread

DOCUMENTS = 6

TASK_YAML = """\
task: chartqa_fixture
dataset_path: parquet
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_visual: !function utils.doc_to_visual
doc_to_text: !function utils.doc_to_text
doc_to_target: answer
generation_kwargs:
  max_new_tokens: 6
  temperature: 0
  do_sample: false
process_results: !function utils.process_results
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""

TASK_UTILS = """\
def doc_to_visual(doc):
    return [doc["image"].convert("RGB")]


def doc_to_text(doc):
    return doc["question"] + "\\nAnswer with a number."


def process_results(doc, results):
    return {"exact_match": float(results[0].strip() == doc["answer"])}
"""


@pytest.fixture(scope="module")
def chartqa(tmp_path_factory) -> Path:
    return write_fixture("chartqa", tmp_path_factory.mktemp("data"), n=DOCUMENTS)


def test_the_side_environment_has_lmms_eval_and_no_torchvision():
    done = run([side("python"), "-c", "import importlib.metadata as m, importlib.util as u; "
                 "print(u.find_spec('torchvision'), m.version('lmms-eval'), "
                 "[e.value for e in m.entry_points(group='lmms_eval.models', name='molmo_arena')])"], ROOT)
    assert done.stdout.split(" ", 2)[0] == "None"
    assert "['evals.lmms_bridge:model_manifest']" in done.stdout


@pytest.fixture(scope="module")
def lmms_eval_cli(chartqa, tmp_path_factory):
    """(model folder, logged samples) of lmms-eval's own CLI running `--model molmo_arena` on a local task."""
    root = tmp_path_factory.mktemp("lmms-cli")
    tasks = root / "tasks"
    tasks.mkdir()
    (tasks / "chartqa_fixture.yaml").write_text(TASK_YAML.format(data=chartqa))
    (tasks / "utils.py").write_text(TASK_UTILS)
    with one_torch_thread():
        model = save_tiny("qwen2_vl", root / "qwen2-vl")
    run([side("python"), "-m", "lmms_eval", "eval", "--model", "molmo_arena", "--model_args", f"spec=hf:{model}",
          "--batch_size", "4", "--tasks", "chartqa_fixture", "--include_path", str(tasks), "--output_path",
          str(root / "out"), "--log_samples", "--verbosity", "WARNING"], root)
    [samples] = (root / "out").rglob("*_samples_chartqa_fixture.jsonl")
    return model, [json.loads(line) for line in samples.read_text().splitlines()]


def test_lmms_eval_runs_our_adapter_by_its_registered_name(lmms_eval_cli, chartqa):
    """Every document reached the adapter as lmms-eval rendered it (prompt and image) and came back unchanged:
    the logged answers are what our HF adapter gives in-process for the same prompt and fixture image."""
    model, logged = lmms_eval_cli
    assert sorted(int(s["doc_id"]) for s in logged) == list(range(DOCUMENTS))
    items = load_items("chartqa", chartqa)
    with one_torch_thread():
        adapter = HFAdapter(str(model))
        for sample in logged:
            item = items[int(sample["doc_id"])]
            assert sample["input"] == f"{item.question}\nAnswer with a number."
            [answer] = adapter.generate([GenerationRequest(sample["input"], item.images, 6)])
            # "\n\n" is the stop string lmms-eval gives a generation task that names none
            assert sample["filtered_resps"] == cut_at_stops(answer.text, ["\n\n"])
            assert sample["token_counts"] == [{"output_tokens": answer.output_tokens}]
            assert sample["exact_match"] == float(sample["filtered_resps"].strip() == item.answers[0])


@pytest.fixture(scope="module")
def bridge_runs(chartqa, tmp_path_factory):
    """Our CLI in the side environment, in one process: an unknown task, then the same run twice."""
    root = tmp_path_factory.mktemp("lmms-ours")
    answers = collections.Counter(item.answers[0] for item in load_items("chartqa", chartqa))
    common = ["eval", "lmms-eval", "--model", f"constant:{answers.most_common(1)[0][0]}",
              "--data", f"chartqa={chartqa}"]
    calls = [[*common, "--tasks", "chartqa_typo", "--out", str(root / "typo")],
             [*common, "--tasks", "chartqa", "--out", str(root / "first")],
             [*common, "--tasks", "chartqa", "--out", str(root / "second")]]
    script = ("import json, sys\nfrom molmo_arena import main\n"
              "print(json.dumps([main(call) for call in json.loads(sys.argv[1])]))")
    done = run([side("python"), "-c", script, json.dumps(calls)], root)
    return root, json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_eval_lmms_eval_refuses_an_unknown_task_by_name(bridge_runs):
    root, codes, stderr = bridge_runs
    assert codes[0] == 2
    assert "lmms-eval has no task 'chartqa_typo'" in stderr
    assert not (root / "typo").exists()


def test_eval_lmms_eval_writes_an_auditable_reproduciblerun(bridge_runs, chartqa):
    root, codes, _ = bridge_runs
    assert codes[1:] == [0, 0]
    first, second = root / "first", root / "second"
    for name in ("run.json", "samples.jsonl"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    record = json.loads((first / "run.json").read_text())
    assert record["schema"] == "molmo-arena/lmms-eval-run/1" and record["status"] == "complete"
    assert record["model"]["adapter"] == "constant" and record["model"]["spec"].startswith("constant:")
    assert record["data"]["chartqa"] == {"path": str(chartqa), "sha256": file_sha256(chartqa)}
    lmms = record["lmms_eval"]
    assert lmms["version"] == record["packages"]["lmms-eval"]
    config = lmms["task_configs"]["chartqa"]
    # The registered task's prompts and metrics, with only the documents' source replaced.
    assert config["dataset_path"] == "parquet" and config["doc_to_text"] == "<function chartqa_doc_to_text>"
    assert config["generation_kwargs"]["max_new_tokens"] == 16
    assert len(lmms["task_config_sha256"]["chartqa"]) == len(lmms["prompts_sha256"]["chartqa"]) == 64

    samples = [json.loads(line) for line in (first / "samples.jsonl").read_text().splitlines()]
    assert [s["doc_id"] for s in samples] == list(range(DOCUMENTS))
    assert all(s["prompt"].endswith("\nAnswer the question with a single word.") for s in samples)
    overall = record["scores"]["chartqa"]["metrics"]["relaxed_overall"]["value"]
    assert record["scores"]["chartqa"]["documents"] == DOCUMENTS
    assert overall == sum(s["metrics"]["relaxed_overall"] for s in samples) / DOCUMENTS
    assert 0 < overall < 1  # the most frequent answer is right on some documents, not all

    # lmms-eval's relaxed accuracy and ours agree on the same predictions.
    predictions = root / "predictions.jsonl"
    predictions.write_text("".join(json.dumps({"id": s["doc_id"], "prediction": s["prediction"],
                                               "answers": [s["target"]]}) + "\n" for s in samples))
    assert main(["eval", "score", "chartqa", str(predictions), "--out", str(root / "ours.jsonl")]) == 0
    ours = [json.loads(line)["score"] for line in (root / "ours.jsonl").read_text().splitlines()]
    assert ours == [s["metrics"]["relaxed_overall"] for s in samples]


def test_without_lmms_eval_the_command_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "lmms_eval", None)  # not installed (as in .venv): importing it fails
    code = main(["eval", "lmms-eval", "--model", "constant:1", "--tasks", "chartqa", "--out", str(tmp_path / "out")])
    assert code == 2
    assert "pip install 'molmo-arena[lmms-eval]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_images_reach_the_adapter_losslessly(tmp_path):
    image = Image.new("RGB", (5, 3), (10, 200, 30))
    image.putpixel((2, 1), (255, 0, 7))
    decoded = Image.open(io.BytesIO(image_bytes(image, "doc 0")))
    assert decoded.tobytes() == image.tobytes()
    path = tmp_path / "a.jpg"
    path.write_bytes(b"\xff\xd8jpeg bytes")
    assert image_bytes(str(path), "doc 1") == b"\xff\xd8jpeg bytes"  # a path's file is sent as it is
    with pytest.raises(ValueError, match="doc 2: expected an image"):
        image_bytes(42, "doc 2")


def test_stop_strings_cut_at_the_first_that_occurs():
    assert cut_at_stops("12\n\nmore", ["\n\n"]) == "12"
    assert cut_at_stops("a.b|c", ["|", "."]) == "a"
    assert cut_at_stops("plain", ["", "\n\n"]) == "plain"


def test_mathvista_runs_without_a_key_and_mmmu_sends_every_image(tmp_path):
    """lmms-eval's MathVista task imports without OPENAI_API_KEY (its judge is built at import), and an MMMU
    question reaches the adapter with every image it names, in order."""
    data = {task: write_fixture(task, tmp_path / "data", n=6) for task in ("mathvista", "mmmu")}
    script = """
import json, sys
from evals.adapters.baselines import ConstantAdapter
from molmo_arena import main

seen = []
answer = ConstantAdapter.generate
ConstantAdapter.generate = lambda self, requests: seen.extend(len(r.images) for r in requests) or answer(self, requests)
codes = [main(["eval", "lmms-eval", "--model", "constant:A", "--tasks", task, "--data", f"{task}={path}",
               "--out", f"{sys.argv[2]}/{task}"]) for task, path in json.loads(sys.argv[1]).items()]
print(json.dumps([codes, seen]))
"""
    tasks = {"mathvista_testmini_format": str(data["mathvista"]), "mmmu_val": str(data["mmmu"])}
    done = run([side("python"), "-c", script, json.dumps(tasks), str(tmp_path / "runs")], tmp_path)
    codes, seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert codes == [0, 0], done.stderr[-2000:]
    record = json.loads((tmp_path / "runs/mathvista_testmini_format/run.json").read_text())
    assert record["scores"]["mathvista_testmini_format"]["documents"] == 6
    images = sorted(len(item.images) for item in load_items("mmmu", data["mmmu"]))
    assert sorted(seen[6:]) == images == [1, 1, 1, 1, 2, 4]
