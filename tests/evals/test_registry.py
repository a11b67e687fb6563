"""The model registry (`results/reference/models.yaml`) and its loader."""

import csv
import re
from pathlib import Path

import pytest
import yaml

from evals.registry import GROUPS, REGISTRY_PATH, get_model, label, load_registry, spec

TABLE1 = REGISTRY_PATH.parent / "molmo_paper_table1.csv"


def test_the_papers_27_models_are_registered_with_their_groups():
    registry = load_registry()
    with open(TABLE1, encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 27
    assert {row["model"]: row["group"] for row in table} == {
        row["model"]: registry[row["model"]].group for row in table}
    assert {entry.group for entry in registry.values()} == set(GROUPS)


def test_molmo2_and_the_qwen_baselines_are_registered():
    registry = load_registry()
    families = {entry.family for entry in registry.values()}
    assert {"Molmo2", "Qwen2.5-VL", "Qwen3-VL"} <= families
    assert get_model("Molmo2-8B").checkpoint == "allenai/Molmo2-8B"
    assert get_model("Qwen2.5-VL-7B").open_weights and not get_model("Qwen2.5-VL-7B").open_data


def test_specs_fill_the_adapter_templates():
    assert spec("Molmo-7B-D") == "molmo:allenai/Molmo-7B-D-0924"
    assert spec("Qwen2-VL-7B") == "hf:Qwen/Qwen2-VL-7B-Instruct"
    assert spec("GPT-4o-0513") == "openai:https://api.openai.com/v1#gpt-4o-2024-05-13"
    assert spec("Molmo2-8B") == "hf:allenai/Molmo2-8B"  # native in transformers, with our image processor
    assert (spec("Phi3.5-Vision-4B", base_url="http://127.0.0.1:8000/v1/")
            == "openai:http://127.0.0.1:8000/v1#microsoft/Phi-3.5-vision-instruct")
    with pytest.raises(ValueError, match="give its base_url"):
        spec("Phi3.5-Vision-4B")
    with pytest.raises(ValueError, match="no adapter runs this model"):
        spec("Cambrian-1-8B")
    with pytest.raises(ValueError, match="no model 'Molmo-9B'"):
        spec("Molmo-9B")


def test_every_openai_template_parses_as_an_adapter_spec():
    from evals.adapters.openai_api import EndpointSpec

    for entry in load_registry().values():
        if entry.adapter and entry.adapter.startswith("openai:"):
            target = spec(entry.name, base_url="http://127.0.0.1:8000/v1").removeprefix("openai:")
            assert EndpointSpec.parse(target).model == entry.checkpoint


def test_labels_say_how_open_a_model_is():
    assert label("Molmo-7B-D") == "Molmo-7B-D (open weights, data, code)"
    assert label("LLaVA-1.5-7B") == "LLaVA-1.5-7B (open weights + data, distilled)"
    assert label("Qwen2-VL-72B") == "Qwen2-VL-72B (open weights)"
    assert label("Claude-3 Opus") == "Claude-3 Opus (API only)"
    assert label("my-finetune") == "my-finetune"


def _write(tmp_path: Path, models, schema="molmo-arena/models/v1") -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump({"schema": schema, "models": models}))
    return path


GOOD = {"name": "M", "group": "Open weights only", "family": "F", "org": "O", "checkpoint": "o/m",
        "adapter": "hf:{checkpoint}", "params_b": 7, "open_weights": True, "open_data": False, "open_code": False,
        "distilled": None}


@pytest.mark.parametrize(("change", "message"), [
    ({"group": "Open-ish"}, "models[0] (M): field 'group': 'Open-ish' is not one of"),
    ({"group": "API only"}, "field 'group': 'API only' contradicts the openness fields (open weights)"),
    ({"params_b": "7B"}, "field 'params_b': expected int or float or null, got '7B'"),
    ({"params_b": -1}, "field 'params_b': expected a positive number"),
    ({"open_data": "no"}, "field 'open_data': expected bool"),
    ({"adapter": "vllm:{checkpoint}"}, "field 'adapter': unknown adapter kind 'vllm'"),
    ({"adapter": "hf:{hub}"}, "field 'adapter': unknown placeholder {hub}"),
    ({"active_params_b": 9}, "field 'active_params_b': must not exceed params_b"),
    ({"licence": "MIT"}, "field 'licence': unknown field"),
    ({"checkpoint": " "}, "field 'checkpoint': empty"),
])
def test_bad_entries_name_the_file_entry_and_field(tmp_path, change, message):
    path = _write(tmp_path, [{**GOOD, **change}])
    with pytest.raises(ValueError, match=re.escape(f"{path}: ") + ".*" + re.escape(message)):
        load_registry(path)


def test_missing_fields_duplicates_and_bad_files_are_refused(tmp_path):
    missing = {k: v for k, v in GOOD.items() if k != "family"}
    with pytest.raises(ValueError, match=r"models\[0\] \(M\): field 'family': missing"):
        load_registry(_write(tmp_path, [missing]))
    with pytest.raises(ValueError, match=r"models\[1\] \(M\): field 'name': duplicate"):
        load_registry(_write(tmp_path, [GOOD, GOOD]))
    with pytest.raises(ValueError, match=r"models\[0\]: expected a mapping"):
        load_registry(_write(tmp_path, ["M"]))
    with pytest.raises(ValueError, match="schema: molmo-arena/models/v1"):
        load_registry(_write(tmp_path, [GOOD], schema="v0"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("models: [\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_registry(broken)
    assert load_registry(_write(tmp_path, [GOOD]))["M"].params_b == 7
