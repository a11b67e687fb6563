"""Model configuration: the released models' dimensions, the tiny presets' geometry, JSON round trips."""

import json

import pytest

from molmo.config import (
    PRESETS,
    TINY_PRESETS,
    ConnectorConfig,
    LLMConfig,
    MolmoConfig,
    VisionConfig,
    get_preset,
)
from molmo.image_preprocessing import MOLMO_EVAL_CONFIG, MOLMO_TRAIN_CONFIG

RELEASED = ("Molmo-7B-D", "Molmo-7B-O", "MolmoE-1B", "Molmo-72B")


def test_presets_and_unknown_name_lists_them():
    assert set(RELEASED) | {"small", "tiny"} <= set(PRESETS)
    assert get_preset("tiny") is PRESETS["tiny"]
    with pytest.raises(ValueError, match=r"unknown Molmo preset 'Molmo-8B'.*Molmo-7B-D.*tiny"):
        get_preset("Molmo-8B")


@pytest.mark.parametrize(
    ("name", "kind", "hidden", "layers", "heads", "kv_heads", "mlp", "vocab", "rope", "projector"),
    [  # allenai/molmo launch_scripts/utils.py; mlp is half the release's fused width (37888, 22016, 59136)
        ("Molmo-7B-D", "qwen2", 3584, 28, 28, 4, 18944, 152064, 1e6, 18944),
        ("Molmo-7B-O", "olmo2", 4096, 32, 32, 32, 11008, 100352, 5e5, 11008),
        ("MolmoE-1B", "olmoe", 2048, 16, 16, 16, 1024, 50304, 1e4, 1024),
        ("Molmo-72B", "qwen2", 8192, 80, 64, 8, 29568, 152064, 1e6, 29568),
    ],
)
def test_released_dimensions(name, kind, hidden, layers, heads, kv_heads, mlp, vocab, rope, projector):
    config = get_preset(name)
    llm = config.llm
    assert (llm.kind, llm.hidden_size, llm.num_layers, llm.num_heads, llm.num_kv_heads) == (
        kind, hidden, layers, heads, kv_heads)
    assert (llm.intermediate_size, llm.vocab_size, llm.rope_theta) == (mlp, vocab, rope)
    assert llm.additional_vocab_size == 128
    assert config.connector == ConnectorConfig(pool_size=2, num_heads=16, hidden_size=1024,
                                               projector_hidden_size=projector)
    vit = config.vision  # CLIP ViT-L/14-336 as the release keeps it: 23 blocks, layers -2 and -9
    assert (vit.hidden_size, vit.num_heads, vit.intermediate_size, vit.num_layers) == (1024, 16, 4096, 23)
    assert vit.feature_layers == (-2, -9)
    assert vit.feature_indices == (21, 14)
    assert vit.num_built_layers == 22
    assert (vit.grid, vit.num_positions, vit.patch_dim) == (24, 577, 588)
    assert config.vit_feature_size == 2048
    assert config.tokens_per_crop == 144


def test_molmoe_experts():
    llm = get_preset("MolmoE-1B").llm
    assert (llm.num_experts, llm.num_experts_per_token) == (64, 8)


@pytest.mark.parametrize("name", sorted(TINY_PRESETS))
def test_tiny_presets_keep_the_release_geometry(name):
    config = get_preset(name)
    assert (config.vision.crop_size, config.vision.patch_size, config.connector.pool_size) == (336, 14, 2)
    assert config.tokens_per_crop == 144
    assert config.image_config(12) == MOLMO_TRAIN_CONFIG
    assert config.image_config(36) == MOLMO_EVAL_CONFIG
    # 3 blocks in the checkpoint, features from the 2nd and 1st: the 3rd is never built, as the release's 23rd
    assert config.vision.feature_indices == (1, 0)
    assert config.vision.num_built_layers == 2
    assert config.vision.hidden_size <= 64 and config.llm.hidden_size <= 64


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_json_round_trip(name):
    config = get_preset(name)
    again = MolmoConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert isinstance(again.vision.feature_layers, tuple)


def test_from_dict_refuses_unknown_and_missing_keys():
    data = get_preset("tiny").to_dict()
    data["llm"]["hidden_sise"] = 3
    with pytest.raises(ValueError, match="hidden_sise"):
        MolmoConfig.from_dict(data)
    with pytest.raises(ValueError, match="not a Molmo config"):
        MolmoConfig.from_dict({"vision": {}})


def test_invalid_configs_are_refused():
    with pytest.raises(ValueError, match="feature_layers"):
        VisionConfig(num_layers=3, feature_layers=(-9,))
    with pytest.raises(ValueError, match="unknown LLM kind"):
        LLMConfig(kind="llama")
    with pytest.raises(ValueError, match="num_experts"):
        LLMConfig(kind="olmoe")
    with pytest.raises(ValueError, match="multiple of num_heads"):
        LLMConfig(hidden_size=100, num_heads=3, num_kv_heads=3)
    with pytest.raises(ValueError, match="do not pool"):
        MolmoConfig(vision=VisionConfig(crop_size=14 * 25), connector=ConnectorConfig())
