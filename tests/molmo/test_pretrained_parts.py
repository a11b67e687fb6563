"""Stage 1's start: a CLIP checkpoint and an LLM checkpoint, saved to disk in their Hugging Face layouts, become
the ViT and the decoder of the tiny preset, computing exactly what they computed before."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molmo.checkpoint import random_init
from molmo.config import get_preset
from molmo.image_preprocessing import patchify
from molmo.modeling import decoder_config
from molmo.pretrained_parts import load_language_model, load_vision_tower
from molmo.train.config import config_from_dict
from molmo.train.trainer import Trainer
from tests.molmo.test_train_trainer import tiny_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = get_preset("tiny")


def clip_config(**overrides):
    from transformers import CLIPVisionConfig

    vision = TINY.vision
    return CLIPVisionConfig(**{
        "hidden_size": vision.hidden_size, "intermediate_size": vision.intermediate_size,
        "num_attention_heads": vision.num_heads, "num_hidden_layers": vision.num_layers + 1,  # like CLIP-L's 24 > 23
        "image_size": vision.crop_size, "patch_size": vision.patch_size, "hidden_act": "quick_gelu",
        "layer_norm_eps": vision.layer_norm_eps, **overrides})


def save_clip(folder, whole_clip: bool = False, **overrides):
    """A random CLIP vision tower saved as CLIPVisionModel or, like openai/clip-vit-large-patch14-336, as CLIPModel."""
    from transformers import CLIPConfig, CLIPModel, CLIPVisionModel

    torch.manual_seed(1)
    if whole_clip:
        text = {"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2, "num_hidden_layers": 1,
                "vocab_size": 64}
        model = CLIPModel(CLIPConfig(text_config=text, vision_config=clip_config(**overrides).to_dict(),
                                     projection_dim=8))
    else:
        model = CLIPVisionModel(clip_config(**overrides))
    model.save_pretrained(folder)
    return folder


def save_llm(folder, preset: str = "tiny", **overrides):
    """A random causal LM of a tiny preset's decoder shape and family, its vocabulary without the image-token rows."""
    from transformers import AutoModelForCausalLM

    llm = get_preset(preset).llm
    config = decoder_config(llm)
    config.vocab_size = llm.vocab_size
    for name, value in overrides.items():
        setattr(config, name, value)
    torch.manual_seed(2)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("whole_clip", [False, True], ids=["CLIPVisionModel", "CLIPModel"])
def test_the_vit_computes_what_the_clip_checkpoint_computes(tmp_path, whole_clip):
    from transformers import CLIPVisionModel

    folder = save_clip(tmp_path / "clip", whole_clip)
    model = random_init(TINY, seed=0)
    connector = {k: v.clone() for k, v in model.connector.state_dict().items()}
    load_vision_tower(model, str(folder))

    pixels = torch.randn(1, 3, TINY.vision.crop_size, TINY.vision.crop_size)
    with torch.no_grad():
        states = CLIPVisionModel.from_pretrained(folder).eval()(pixel_values=pixels, output_hidden_states=True)
        expected = torch.cat([states.hidden_states[i + 1] for i in TINY.vision.feature_indices], dim=-1)[:, 1:]
        crops = torch.from_numpy(patchify(pixels[0].permute(1, 2, 0).numpy(), TINY.vision.patch_size))
        ours = model.vision_encoder(crops.reshape(1, -1, TINY.vision.patch_dim))
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)
    for name, tensor in model.connector.state_dict().items():
        assert torch.equal(tensor, connector[name]), f"the connector's {name} changed"


@pytest.mark.parametrize("preset", ["tiny", "tiny-olmo2", "tiny-olmoe"])
def test_the_decoder_computes_what_the_llm_checkpoint_computes(tmp_path, preset):
    from transformers import AutoModelForCausalLM

    folder = save_llm(tmp_path / "llm", preset)
    config = get_preset(preset)
    model = random_init(config, seed=0)
    image_rows = model.language_model.model.embed_tokens.weight[config.llm.vocab_size:].detach().clone()
    load_language_model(model, str(folder))

    ids = torch.from_numpy(np.random.default_rng(0).integers(0, config.llm.vocab_size, (2, 9)))
    with torch.no_grad():
        expected = AutoModelForCausalLM.from_pretrained(folder).eval()(input_ids=ids).logits
        ours = model.eval()(ids).logits
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)
    assert torch.equal(model.language_model.model.embed_tokens.weight[config.llm.vocab_size:], image_rows)


@pytest.mark.parametrize(
    ("part", "overrides", "message"),
    [
        ("vit", {"hidden_size": 48, "intermediate_size": 96}, "config hidden_size is 48, the preset needs 32"),
        ("vit", {"hidden_act": "gelu"}, "config hidden_act is 'gelu', the preset needs 'quick_gelu'"),
        ("vit", {"num_hidden_layers": 1}, "config num_hidden_layers is 1, the preset reads its first 2 blocks"),
        ("llm", {"rms_norm_eps": 1e-5}, "config rms_norm_eps is 1e-05, the preset needs 1e-06"),
        ("llm", {"vocab_size": 600}, "config vocab_size is 600, the preset needs 512"),
    ],
)
def test_a_checkpoint_of_another_architecture_is_refused_naming_the_field(tmp_path, part, overrides, message):
    model = random_init(TINY, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    save, load = (save_clip, load_vision_tower) if part == "vit" else (save_llm, load_language_model)
    folder = save(tmp_path / part, **overrides)
    with pytest.raises(ValueError, match=rf"{part}: {message}"):
        load(model, str(folder))
    assert all(torch.equal(tensor, before[name]) for name, tensor in model.state_dict().items())


def test_an_llm_of_another_family_is_refused(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    llm = TINY.llm
    LlamaForCausalLM(LlamaConfig(vocab_size=llm.vocab_size, hidden_size=llm.hidden_size,
                                 intermediate_size=llm.intermediate_size, num_hidden_layers=llm.num_layers,
                                 num_attention_heads=llm.num_heads, num_key_value_heads=llm.num_kv_heads)
                     ).save_pretrained(tmp_path / "llama")
    with pytest.raises(ValueError, match="config model_type is 'llama', the preset needs 'qwen2'"):
        load_language_model(random_init(TINY), str(tmp_path / "llama"))


def test_a_stage1_config_starts_training_from_both_checkpoints(tmp_path):
    from transformers import AutoModelForCausalLM, CLIPVisionModel

    config = tiny_config()
    config["model"].update(init_vision=str(save_clip(tmp_path / "clip")), init_language=str(save_llm(tmp_path / "llm")))
    model = Trainer(config_from_dict(config), tmp_path / "run", progress=False).module
    clip = CLIPVisionModel.from_pretrained(tmp_path / "clip")
    llm = AutoModelForCausalLM.from_pretrained(tmp_path / "llm")
    assert torch.equal(model.vision_encoder.blocks[1].mlp.fc2.weight, clip.encoder.layers[1].mlp.fc2.weight)
    assert torch.equal(model.language_model.lm_head.weight, llm.lm_head.weight)

    config["model"]["init_language"] = str(tmp_path / "absent")
    with pytest.raises(ValueError, match=r"<dict>: model.init_language: .*absent"):
        Trainer(config_from_dict(config), tmp_path / "run2", progress=False)
