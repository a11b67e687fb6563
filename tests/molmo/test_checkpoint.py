"""Checkpoints: the in-repo layout, the release's Hugging Face layout through the name map, and refusals.
(The four releases' own layouts, files and oracles: test_checkpoint_releases.py.)"""

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from molmo.checkpoint import (
    from_pretrained,
    load_hf_layout,
    load_pretrained,
    random_init,
    save_hf_layout,
    save_pretrained,
)
from molmo.config import PRESETS, get_preset
from molmo.processing import tiny_tokenizer
from molmo.release_config import config_from_release, release_config

KINDS = ("tiny", "tiny-olmo2", "tiny-olmoe")

# Molmo-7B-D-0924's config.json, as published (the release keeps the ViT's settings in its modeling code).
MOLMO_7B_D_CONFIG = json.loads((Path(__file__).parent / "data" / "Molmo-7B-D-0924.config.json").read_text())


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: one thread beats several


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _model(name: str) -> torch.nn.Module:
    """A random model whose zero padding embeddings and unit norms are perturbed, so every tensor matters."""
    model = random_init(get_preset(name), seed=5)
    generator = torch.Generator().manual_seed(6)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.02 * torch.randn(parameter.shape, generator=generator))
    return model


def _logits(model) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 516, (2, 40), generator=generator)
    images = torch.randn(2, 2, 576, 588, generator=generator)
    masks = torch.rand(2, 2, 576, generator=generator).round()  # all-padding and real patches
    idx = torch.full((2, 2, 144), -1)
    idx[0, 0, :30], idx[1, 1, 5:20] = torch.arange(30), torch.arange(20, 35)
    with torch.no_grad():
        return model(ids, images, masks, idx).logits


def test_in_repo_round_trip(tmp_path):
    model = _model("tiny-olmoe")
    save_pretrained(model, tmp_path, tokenizer=tiny_tokenizer())
    assert torch.equal(_logits(load_pretrained(tmp_path)), _logits(model))
    again, tokenizer = from_pretrained(tmp_path)
    assert torch.equal(_logits(again), _logits(model))
    assert tokenizer.convert_tokens_to_ids("<im_patch>") == 514
    half = load_pretrained(tmp_path, dtype=torch.bfloat16)
    assert {p.dtype for p in half.parameters()} == {torch.bfloat16}


@pytest.mark.parametrize("name", KINDS)
def test_release_layout_round_trip(name, tmp_path):
    model = _model(name)
    save_hf_layout(model, tmp_path)
    assert torch.equal(_logits(load_hf_layout(tmp_path)), _logits(model))


def test_release_key_names(tmp_path):
    save_hf_layout(_model("tiny"), tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    vit, tr = "model.vision_backbone.image_vit.", "model.transformer."
    expected_shapes = {
        f"{vit}patch_embedding.weight": (32, 588),
        f"{vit}class_embedding": (32,),
        f"{vit}positional_embedding": (577, 32),
        f"{vit}pre_ln.bias": (32,),
        f"{vit}transformer.resblocks.1.attention.wq.weight": (32, 32),
        f"{vit}transformer.resblocks.1.attention_norm.weight": (32,),
        f"{vit}transformer.resblocks.1.feed_forward.w1.weight": (64, 32),
        f"{vit}transformer.resblocks.1.ffn_norm.bias": (32,),
        "model.vision_backbone.pad_embed": (2, 64),
        "model.vision_backbone.image_pooling_2d.wq.weight": (32, 64),
        "model.vision_backbone.image_pooling_2d.wo.bias": (32,),
        "model.vision_backbone.image_projector.w1.weight": (96, 32),
        "model.vision_backbone.image_projector.w3.weight": (96, 32),
        "model.vision_backbone.image_projector.w2.weight": (64, 96),
        f"{tr}wte.embedding": (512, 64),
        f"{tr}wte.new_embedding": (128, 64),
        f"{tr}blocks.1.att_proj.weight": (64 + 2 * 32, 64),  # q | k | v, 2 of 4 heads for k and v
        f"{tr}blocks.1.att_proj.bias": (128,),
        f"{tr}blocks.1.attn_out.weight": (64, 64),
        f"{tr}blocks.1.ff_proj.weight": (2 * 96, 64),  # up | gate
        f"{tr}blocks.1.ff_out.weight": (64, 96),
        f"{tr}blocks.1.attn_norm.weight": (64,),
        f"{tr}blocks.1.ff_norm.weight": (64,),
        f"{tr}ln_f.weight": (64,),
        f"{tr}ff_out.weight": (512, 64),
    }
    assert {name: tuple(tensors[name].shape) for name in expected_shapes} == expected_shapes
    # The block the release holds but never reads: present (as zeros), and no block past it.
    unused = [name for name in tensors if ".resblocks.2." in name]
    assert len(unused) == 16 and not any(tensors[name].any() for name in unused)
    assert not any(".resblocks.3." in name for name in tensors)
    assert all(name.startswith("model.") for name in tensors)


def test_fused_tensors_compute_what_the_release_computes(tmp_path):
    """Run the release's formulas on the written tensors and compare with our modules."""
    model = _model("tiny")
    save_hf_layout(model, tmp_path)
    t = load_file(tmp_path / "model.safetensors")
    x = torch.randn(3, 64)
    layer = model.language_model.model.layers[0]
    with torch.no_grad():
        q, k, v = F.linear(x, t["model.transformer.blocks.0.att_proj.weight"],
                           t["model.transformer.blocks.0.att_proj.bias"]).split([64, 32, 32], dim=-1)
        assert torch.allclose(q, layer.self_attn.q_proj(x)) and torch.allclose(k, layer.self_attn.k_proj(x))
        assert torch.allclose(v, layer.self_attn.v_proj(x))
        up, gate = F.linear(x, t["model.transformer.blocks.0.ff_proj.weight"]).chunk(2, dim=-1)  # x, gate
        release_mlp = F.linear(F.silu(gate) * up, t["model.transformer.blocks.0.ff_out.weight"])
        assert torch.allclose(release_mlp, layer.mlp(x), atol=1e-6)
        y = torch.randn(3, 32)
        w = {n: t[f"model.vision_backbone.image_projector.{n}.weight"] for n in ("w1", "w2", "w3")}
        release_projector = F.linear(F.silu(F.linear(y, w["w1"])) * F.linear(y, w["w3"]), w["w2"])
        assert torch.allclose(release_projector, model.connector.projector(y), atol=1e-6)
        table = torch.cat([t["model.transformer.wte.embedding"], t["model.transformer.wte.new_embedding"]])
        assert torch.equal(table, model.language_model.model.embed_tokens.weight)


def test_experts_compute_what_the_release_computes(tmp_path):
    """modeling_molmoe.py's MolmoeMLP per expert, down(silu(gate x) * up x), and its router `mlp.gate`."""
    model = _model("tiny-olmoe")
    save_hf_layout(model, tmp_path)
    t = load_file(tmp_path / "model.safetensors")
    block = "model.transformer.blocks.0.mlp."
    experts = model.language_model.model.layers[0].mlp.experts
    x = torch.randn(5, 64)
    with torch.no_grad():
        for e in range(4):
            gate, up, down = (t[f"{block}experts.{e}.{part}_proj.weight"] for part in ("gate", "up", "down"))
            release = F.linear(F.silu(F.linear(x, gate)) * F.linear(x, up), down)
            ours_gate, ours_up = F.linear(x, experts.gate_up_proj[e]).chunk(2, dim=-1)
            assert torch.allclose(release, F.linear(F.silu(ours_gate) * ours_up, experts.down_proj[e]), atol=1e-6)
    assert torch.equal(t[f"{block}gate.weight"], model.language_model.model.layers[0].mlp.gate.weight)
    assert not any(".ffn." in name or "ff_out" in name for name in t)  # no training-format (megablocks) names


def test_olmo2_norms_sit_after_attention_and_mlp(tmp_path):
    model = _model("tiny-olmo2")
    save_hf_layout(model, tmp_path)
    t = load_file(tmp_path / "model.safetensors")
    layer = model.language_model.model.layers[1]
    assert torch.equal(t["model.transformer.blocks.1.attn_norm.weight"], layer.post_attention_layernorm.weight)
    assert torch.equal(t["model.transformer.blocks.1.ff_norm.weight"], layer.post_feedforward_layernorm.weight)
    assert torch.equal(t["model.transformer.blocks.1.q_norm.weight"], layer.self_attn.q_norm.weight)
    assert json.loads((tmp_path / "config.json").read_text())["norm_after"] is True


def test_shape_mismatch_names_the_first_tensor(tmp_path):
    save_hf_layout(_model("tiny"), tmp_path)
    file = tmp_path / "model.safetensors"
    tensors = load_file(file)
    name = "model.transformer.blocks.1.att_proj.weight"
    tensors[name] = torch.zeros(130, 64)
    save_file(tensors, file)
    with pytest.raises(ValueError, match=rf"{name} has shape \[130, 64\], the config expects \[128, 64\]"):
        load_hf_layout(tmp_path)
    # A config that disagrees with the weights: the first tensor in the map's order is named.
    data = json.loads((tmp_path / "config.json").read_text())
    data["intermediate_size"] *= 2
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"image_projector\.w1\.weight has shape \[96, 32\].*\[192, 32\]"):
        load_hf_layout(tmp_path)


def test_in_repo_mismatch_is_refused(tmp_path):
    save_pretrained(_model("tiny"), tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    data["llm"]["vocab_size"] = 600
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"embed_tokens\.weight has shape \[640, 64\].*\[728, 64\]"):
        load_pretrained(tmp_path)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_release_config_round_trip(name):
    assert config_from_release(release_config(get_preset(name))) == get_preset(name)


def test_olmo_7b_release_config_is_the_preset():
    """Molmo-7B-O-0924: Molmo-7B-D-0924's keys, OLMo-7B-1024's values (allenai/molmo launch_scripts/utils.py)."""
    olmo = dict(MOLMO_7B_D_CONFIG, qkv_bias=False, attention_layer_norm=True, norm_after=True, hidden_size=4096,
                num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32, intermediate_size=22016,
                vocab_size=100278, embedding_size=100352, rope_theta=500000.0)
    assert config_from_release(olmo) == get_preset("Molmo-7B-O")
    assert release_config(get_preset("Molmo-7B-O"), vocab_size=100278) == olmo


def test_from_pretrained_presets_and_names(tmp_path):
    model, tokenizer = from_pretrained("tiny", seed=4)
    assert torch.equal(_logits(model), _logits(from_pretrained("tiny", seed=4)[0]))
    assert not torch.equal(_logits(model), _logits(from_pretrained("tiny", seed=5)[0]))
    assert len(tokenizer) == 516
    with pytest.raises(ValueError, match="not a folder, a preset"):
        from_pretrained("no such model")


def test_hub_id_downloads_a_snapshot(tmp_path, monkeypatch):
    import huggingface_hub

    save_hf_layout(_model("tiny"), tmp_path, tokenizer=tiny_tokenizer())
    calls = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None):
        calls.append((repo_id, revision, allow_patterns))
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    model, tokenizer = from_pretrained("allenai/Molmo-7B-D-0924", revision="main")
    assert calls == [("allenai/Molmo-7B-D-0924", "main", ["*.json", "*.safetensors", "*.txt", "*.model"])]
    assert torch.equal(_logits(model), _logits(_model("tiny"))) and tokenizer is not None
