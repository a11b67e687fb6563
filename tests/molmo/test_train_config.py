"""Training configs: the shipped stages carry the paper's recipe, and bad files fail naming file and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from molmo.train.config import ConfigError, config_from_dict, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "molmo" / "train" / "configs"


def _lrs(config) -> dict[str, tuple[float, int, float | None]]:
    return {name: (c.lr, c.warmup_steps, c.max_grad_norm) for name, c in config.optim.components.items()}


def test_stage1_is_the_captioning_recipe():
    config = load_config(CONFIGS / "stage1_caption.yaml")
    assert _lrs(config) == {"vit": (6e-6, 2000, 1.0), "connector": (2e-4, 200, 1.0), "llm": (2e-5, 2000, 1.0)}
    assert config.optim.components["vit"].modules == ("vision_encoder",)
    assert (config.optim.betas, config.optim.eps, config.optim.weight_decay) == ((0.9, 0.95), 1e-6, 0.0)
    assert config.optim.final_lr_fraction == 0.1 and config.optim.z_loss == 1e-4
    assert (config.train.global_batch_size, config.data.max_seq_len, config.train.max_steps) == (128, 2304, 22300)
    assert (config.model.residual_dropout, config.model.response_residual_dropout) == (0.0, 0.1)
    assert (config.data.system_prompt, config.data.message_format) == ("style_and_length", "none")
    assert [d.reader for d in config.data.datasets] == ["pixmo_cap"]
    assert (config.model.init_vision, config.model.init_language) == ("openai/clip-vit-large-patch14-336",
                                                                      "Qwen/Qwen2-7B")


def test_stage2_is_the_fine_tuning_mixture():
    config = load_config(CONFIGS / "stage2_sft.yaml")
    assert _lrs(config) == {"vit": (5e-6, 200, 1.0), "connector": (5e-6, 200, 1.0), "llm": (1e-5, 200, 1.0)}
    assert (config.train.global_batch_size, config.train.max_steps) == (256, 30000)
    assert (config.model.residual_dropout, config.model.response_residual_dropout) == (0.1, 0.0)
    assert config.data.loss_weighting == "root_subsegments" and config.data.shuffle_annotations
    rates = {d.name: d.rate for d in config.data.datasets}
    assert rates["pixmo_points"] + rates["pixmo_points_count"] == pytest.approx(28.8)
    assert rates["pixmo_count"] == 6.2 and rates["tally_qa"] == 3.9 and rates["science_qa"] == 0.8
    pixmo = sum(rate for name, rate in rates.items() if name.startswith("pixmo"))
    # Table 7: Points 28.8 + AMA 3.8 + Cap 3.2 (+ point-explanations 2.4, no reader yet) and the synthetic 31.6
    assert pixmo == pytest.approx(28.8 + 3.8 + 3.2 + 31.6)


def test_tiny_config_is_small():
    config = load_config(CONFIGS / "tiny_synthetic.yaml")
    assert config.model.preset == "tiny" and config.data.max_crops == 1
    assert all(d.source.startswith("synthetic:") for d in config.data.datasets)


def _minimal() -> dict:
    return {
        "model": {"preset": "tiny"},
        "data": {"datasets": [{"name": "c", "reader": "pixmo_count", "rate": 1.0, "source": "synthetic:count",
                               "limit": 4}]},
        "optim": {"components": {"all": {"modules": ["vision_encoder", "connector", "language_model"],
                                         "lr": 1e-3, "warmup_steps": 0}}},
        "train": {"max_steps": 2, "global_batch_size": 2, "micro_batch_size": 1},
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["optim"].update(betaz=[0.9, 0.9]), r"cfg.yaml: optim.betaz: unknown key"),
        (lambda c: c["optim"]["components"]["all"].update(lr="fast"),
         r"cfg.yaml: optim.components.all.lr: expected a number, got 'fast'"),
        (lambda c: c["train"].pop("max_steps"), r"cfg.yaml: train.max_steps: missing required key"),
        (lambda c: c["train"].update(global_batch_size=3, micro_batch_size=2),
         r"cfg.yaml: train.global_batch_size: 3 is not a multiple of micro_batch_size 2"),
        (lambda c: c["data"]["datasets"][0].update(reader="pixmo_points"),
         r"cfg.yaml: data.datasets\[0\].reader: synthetic:count writes pixmo_count rows"),
        (lambda c: c["data"]["datasets"][0].update(rate=0), r"data.datasets\[0\].rate: must be > 0"),
        (lambda c: c["model"].update(preset="Molmo-9B"), r"model.preset: unknown preset 'Molmo-9B'"),
        (lambda c: c["optim"].update(betas=[0.9]), r"optim.betas: expected a list of 2"),
        (lambda c: c["train"].update(parallelism="zero3"), r"train.parallelism: expected one of"),
        (lambda c: c["data"].update(system_prompt="chat"), r"data.system_prompt: expected one of"),
        (lambda c: c["model"].update(init_checkpoint="stage1/model", init_language="Qwen/Qwen2-7B"),
         r"model.init_checkpoint: start from a whole checkpoint or from init_vision / init_language, not both"),
    ],
)
def test_bad_values_name_the_file_and_the_key(tmp_path, change, message):
    import yaml

    config = _minimal()
    change(config)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_overrides_and_round_trip(tmp_path):
    import yaml

    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(_minimal()))
    config = load_config(path, {"train.max_steps": 7, "model.residual_dropout": 0.1})
    assert config.train.max_steps == 7 and config.model.residual_dropout == 0.1
    # YAML 1.1 reads 1e-3 as a string; a number field takes it as the number it means.
    path.write_text(re.sub(r"\blr: \S+", "lr: 1e-3", yaml.safe_dump(_minimal())))
    assert load_config(path).optim.components["all"].lr == 0.001
    path.write_text(yaml.safe_dump(_minimal()))
    assert config_from_dict(config.to_dict()).to_dict() == config.to_dict()
    with pytest.raises(ConfigError, match=r"not valid YAML"):
        (tmp_path / "broken.yaml").write_text("model: [unclosed")
        load_config(tmp_path / "broken.yaml")
