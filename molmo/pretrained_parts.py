"""Stage 1's starting point: the ViT from a pre-trained CLIP checkpoint, the decoder from a pre-trained LLM.

Molmo trains no part from scratch but the connector: stage 1 starts from OpenAI's CLIP ViT-L/14-336 and the
LLM of the preset (Qwen2-7B for Molmo-7B-D; allenai/molmo `launch_scripts/utils.py`). Both are read in their
Hugging Face layouts (a hub id or a folder) and copied into a `MolmoForCausalLM`; the connector and the image-token
rows of the input embedding keep their random initialisation. A checkpoint whose shape differs from the preset is
refused with the field that differs.
"""

from __future__ import annotations

from typing import Any

from molmo.checkpoint import check_tensors
from molmo.config import LLMConfig, VisionConfig
from molmo.modeling import MolmoForCausalLM, decoder_config


def _require_equal(source: str, fields: dict[str, tuple[Any, Any]]) -> None:
    """ValueError naming the first config field whose value differs from what the preset needs."""
    for name, (found, needed) in fields.items():
        if found != needed:
            raise ValueError(f"{source}: config {name} is {found!r}, the preset needs {needed!r}")


def _copy_into(module: Any, tensors: dict[str, Any], source: str) -> None:
    """Load `tensors` into `module` after checking that they are exactly its tensors, in their shapes."""
    import torch

    expected = {name: tuple(tensor.shape) for name, tensor in module.state_dict().items()}
    check_tensors(expected, {name: tuple(tensor.shape) for name, tensor in tensors.items()}, source)
    with torch.no_grad():
        module.load_state_dict(tensors, strict=True)


def clip_vision_tensors(clip_state: dict[str, Any], config: VisionConfig) -> dict[str, Any]:
    """A CLIP vision transformer's tensors (`embeddings.*`, `encoder.layers.*`, ...) renamed to `VisionEncoder`'s,
    for the blocks it builds. The patch convolution (C, 3, p, p) becomes the Linear over patches flattened in
    "(dh dw c)" order."""
    get = clip_state.__getitem__
    conv = get("embeddings.patch_embedding.weight")  # (C, 3, p, p)
    tensors = {
        "patch_embedding.weight": conv.permute(0, 2, 3, 1).reshape(conv.shape[0], -1),  # (C, p * p * 3)
        "class_embedding": get("embeddings.class_embedding"),
        "positional_embedding": get("embeddings.position_embedding.weight"),
        "pre_ln.weight": get("pre_layrnorm.weight"),
        "pre_ln.bias": get("pre_layrnorm.bias"),
    }
    names = {"self_attn.q_proj": "attn.q_proj", "self_attn.k_proj": "attn.k_proj", "self_attn.v_proj": "attn.v_proj",
             "self_attn.out_proj": "attn.o_proj", "layer_norm1": "attn_norm", "layer_norm2": "mlp_norm",
             "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}
    for block in range(config.num_built_layers):
        for theirs, ours in names.items():
            for kind in ("weight", "bias"):
                tensors[f"blocks.{block}.{ours}.{kind}"] = get(f"encoder.layers.{block}.{theirs}.{kind}")
    return tensors


def load_vision_tower(model: MolmoForCausalLM, name_or_path: str) -> None:
    """Copy a CLIP vision tower (a CLIPModel or CLIPVisionModel checkpoint) into `model.vision_encoder`."""
    import torch
    from transformers import CLIPVisionModel

    clip = CLIPVisionModel.from_pretrained(name_or_path, dtype=torch.float32)
    found, needed = clip.config, model.config.vision
    _require_equal(name_or_path, {
        "image_size": (found.image_size, needed.crop_size),
        "patch_size": (found.patch_size, needed.patch_size),
        "num_channels": (found.num_channels, 3),
        "hidden_size": (found.hidden_size, needed.hidden_size),
        "num_attention_heads": (found.num_attention_heads, needed.num_heads),
        "intermediate_size": (found.intermediate_size, needed.intermediate_size),
        "hidden_act": (found.hidden_act, "quick_gelu"),
        "layer_norm_eps": (found.layer_norm_eps, needed.layer_norm_eps),
    })
    if found.num_hidden_layers < needed.num_built_layers:
        raise ValueError(f"{name_or_path}: config num_hidden_layers is {found.num_hidden_layers}, the preset reads "
                         f"its first {needed.num_built_layers} blocks")
    state = {name.removeprefix("vision_model."): tensor for name, tensor in clip.state_dict().items()}
    _copy_into(model.vision_encoder, clip_vision_tensors(state, needed), name_or_path)


def load_language_model(model: MolmoForCausalLM, name_or_path: str) -> None:
    """Copy a causal LM of the preset's kind (Qwen2, OLMo-2, OLMoE) into `model.language_model`: its embedding
    fills the base-vocabulary rows, its output layer the LM head; the image-token rows keep their values."""
    import torch
    from transformers import AutoModelForCausalLM

    llm = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=torch.float32)
    _check_llm(name_or_path, llm.config, model.config.llm)
    state = dict(llm.get_decoder().state_dict())
    vocab = model.config.llm.vocab_size
    embedding = model.language_model.model.embed_tokens.weight.detach().clone()  # (V + extra, d)
    embedding[:vocab] = state["embed_tokens.weight"]
    state["embed_tokens.weight"] = embedding
    _copy_into(model.language_model, {**{f"model.{name}": tensor for name, tensor in state.items()},
                                      "lm_head.weight": llm.get_output_embeddings().weight}, name_or_path)


def _check_llm(source: str, found: Any, needed: LLMConfig) -> None:
    """Compare the fields that decide the decoder's function; tensor shapes are checked when they are loaded."""
    ours = decoder_config(needed)
    fields = {"model_type": (found.model_type, ours.model_type), "vocab_size": (found.vocab_size, needed.vocab_size)}
    for name in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                 "intermediate_size", "hidden_act", "rms_norm_eps", "use_sliding_window", "attention_bias",
                 "num_experts", "num_experts_per_tok", "norm_topk_prob"):
        if hasattr(ours, name):
            fields[name] = (getattr(found, name, None), getattr(ours, name))
    rope = getattr(found, "rope_parameters", None) or {}
    fields["rope_parameters.rope_type"] = (rope.get("rope_type"), "default")
    fields["rope_parameters.rope_theta"] = (rope.get("rope_theta"), needed.rope_theta)
    _require_equal(source, fields)
