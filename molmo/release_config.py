"""The Molmo 0924 releases' `config.json` and `preprocessor_config.json`, read into our configs and written from them.

The four releases come with two remote-code files, each reading its own keys (docs/checkpoints.md):

- `modeling_molmo.py` with `config_molmo.py` (Molmo-7B-D-0924, Molmo-7B-O-0924, Molmo-72B-0924): transformers-style
  keys (`hidden_size`, `num_hidden_layers`, `intermediate_size` = the fused up | gate width, ...).
  `MolmoForCausalLM.__init__` passes the LLM's sizes and three flags on and fixes everything else in code, whatever
  the file says: no weight tying, no `clip_qkv`, 128 image-token rows, OpenAI CLIP ViT-L/14-336 with 23 blocks and
  the features of blocks -2 and -9. We compute what that code computes.
- `modeling_molmoe.py` with `config_molmoe.py` (MolmoE-1B-0924): the OLMo training config's own keys (`d_model`,
  `n_heads`, `mlp_ratio`, `moe_num_experts`, ...), each read as written, and the ViT in a nested `vision_backbone`.

Each file describes one of our three decoders (`molmo.config.LLMKind`); a setting that would make the release's code
compute something else is refused, naming the key and its value. Pure dicts and dataclasses: no torch here.
"""

from __future__ import annotations

from typing import Any

from molmo.config import CLIP_VIT_L_336, LLMConfig, MolmoConfig, VisionConfig
from molmo.image_preprocessing import MolmoImageConfig

# Molmo-7B-D-0924's config.json as released, less the keys `_molmo_config` sizes.
_MOLMO_RELEASED: dict[str, Any] = {
    "architectures": ["MolmoForCausalLM"],
    "auto_map": {"AutoConfig": "config_molmo.MolmoConfig", "AutoModelForCausalLM": "modeling_molmo.MolmoForCausalLM"},
    "clip_qkv": None,
    "initializer_range": 0.02,
    "layer_norm_type": "rms",
    "model_type": "molmo",
    "tie_word_embeddings": False,
    "use_cache": True,
    "use_position_ids": True,
    "weight_tying": False,
}
# (qkv_bias, attention_layer_norm, norm_after) of the decoders `modeling_molmo.py`'s MolmoSequentialBlock computes as
# ours do: Qwen2 (biased q/k/v), and OLMo-2 (RMSNorm over the whole q and k projections, norms after attention and MLP).
_MOLMO_DECODERS = {"qwen2": (True, False, False), "olmo2": (False, True, True)}
# `MolmoForCausalLM.__init__` of `modeling_molmo.py`: `additional_vocab_size=128`, not read from the file.
_MOLMO_IMAGE_TOKEN_ROWS = 128

# MolmoE-1B-0924's config.json as released, less the keys `_molmoe_config` sizes.
_MOLMOE_RELEASED: dict[str, Any] = {
    "auto_map": {"AutoConfig": "config_molmoe.MolmoConfig", "AutoModelForCausalLM": "modeling_molmoe.MolmoForCausalLM"},
    "activation_type": "swiglu", "alibi": False, "alibi_bias_max": 8.0, "always_start_with_space": True,
    "architectures": ["OLMoForCausalLM"], "attention_dropout": 0.0, "attention_layer_norm": True,
    "attention_layer_norm_with_affine": True, "attention_type": "sdpa", "attn_logit_softcapping": None,
    "bias_for_layer_norm": False, "block_group_size": 1, "block_type": "moe", "clip_qkv": None,
    "crop_mode": "overlap-and-resize-c2", "default_inference_len": 65, "do_random_scale": False,
    "embedding_dropout": 0.0, "final_logit_softcapping": None, "fix_image_input_idx": 2, "float32_attention": True,
    "gin_bindings": None, "head_dim": None, "image_feature_dropout": 0.0, "image_padding_embed": "pad_and_partial_pad",
    "image_pooling_2d": "attention-meanq", "image_pooling_h": 2, "image_pooling_w": 2, "image_projector": "mlp",
    "include_bias": False, "init_cutoff_factor": 3.0, "init_device": "meta", "init_fn": "normal", "init_std": 0.02,
    "initializer_range": 0.02, "layer_norm_type": "rms", "layer_norm_with_affine": True, "llm_load_path": None,
    "loss_token_weighting": "root_subsegments", "low_cpu_fsdp": True, "max_crops": 12, "max_sequence_length": 4096,
    "message_formatting": "role", "model_type": "molmo", "moe_capacity_factor": 1.25, "moe_dropless": True,
    "moe_interleave": False, "moe_lbl_in_fp32": False, "moe_log_expert_assignment": False, "moe_loss_weight": 0.0,
    "moe_mlp_impl": "sparse", "moe_shared_expert": False, "moe_zloss_weight": 0.0, "multi_query_attention": None,
    "new_embedding_init_range": 0.02, "norm_after": False, "normalize_input_embeds": False, "overlap_margins": [4, 4],
    "pad_to": None, "pad_token_id": 1, "pad_tokenizer": False, "precision": "amp_bf16", "prompt_override": None,
    "prompt_type": "uber_model", "qkv_bias": False, "query_pre_attn_scalar": 224, "residual_dropout": 0.1,
    "response_attention_dropout": 0.0, "response_residual_dropout": 0.0, "rope": True, "rope_full_precision": True,
    "rope_impl": "llama", "scale_logits": False, "system_prompt_kind": "demo_or_style",
    "transformers_version": "4.45.0.dev0", "unconditioned": False, "use_cache": True, "use_cls_feature": False,
    "use_col_tokens": True, "use_position_ids": True, "vit_load_path": None, "weight_tying": False,
}
# The keys of `_MOLMOE_RELEASED` that `modeling_molmoe.py` reads and that change what it computes at inference
# (dropout, initialisation, precision and training keys do not): their released values are the only ones we compute.
# `weight_tying=true` would make its `MolmoForCausalLM.forward` read `wte.weight`, which its `Embedding` lacks.
_MOLMOE_COMPUTES = (
    "attention_layer_norm", "bias_for_layer_norm", "clip_qkv", "final_logit_softcapping", "head_dim",
    "image_padding_embed", "image_pooling_2d", "image_pooling_h", "image_pooling_w", "image_projector", "include_bias",
    "layer_norm_with_affine", "norm_after", "normalize_input_embeds", "qkv_bias", "rope", "rope_impl", "scale_logits",
    "use_cls_feature", "weight_tying",
)
# MolmoE-1B-0924's nested `vision_backbone`, less the keys `_vision_backbone` sizes. `image_model_type` "openai" and
# `image_mlp_activations` "quick_gelu" select the CLIP ViT our encoder computes.
_VISION_RELEASED: dict[str, Any] = {
    "attention_dropout": 0.0, "fsdp_wrap": False, "image_dropout_rate": 0.0, "image_mlp_activations": "quick_gelu",
    "image_model_type": "openai", "initializer_range": 0.02, "residual_dropout": 0.0, "resize_mode": "default",
}
_VISION_COMPUTES = ("image_mlp_activations", "image_model_type")

# processor_config.json as the releases ship it; its two keys also sit in Molmo-7B-D's tokenizer_config.json.
PROCESSOR_CONFIG: dict[str, Any] = {"auto_map": {"AutoProcessor": "preprocessing_molmo.MolmoProcessor"},
                                    "processor_class": "MolmoProcessor"}
# preprocessor_config.json as the releases ship it (the same in all four), less the keys `preprocessor_config` sizes.
_PREPROCESSOR_RELEASED: dict[str, Any] = {
    "auto_map": {"AutoImageProcessor": "image_preprocessing_molmo.MolmoImageProcessor",
                 "AutoProcessor": "preprocessing_molmo.MolmoProcessor"},
    "do_normalize": True,
    "image_padding_mask": True,
    "image_processor_type": "MolmoImageProcessor",
    "processor_class": PROCESSOR_CONFIG["processor_class"],
}


def _refuse(key: str, value: Any, why: str) -> ValueError:
    return ValueError(f"{key}={value!r} is not supported: {why}")


def _required(data: dict[str, Any], key: str, within: str = "") -> Any:
    if data.get(key) is None:
        raise ValueError(f"release config lacks '{within}{key}'")
    return data[key]


# ---------------------------------------------------------------------------------------------------------------
# config.json -> MolmoConfig.


def config_from_release(data: dict[str, Any]) -> MolmoConfig:
    """A release `config.json` -> MolmoConfig: MolmoE's OLMo-style keys (`d_model`, ...) or the others' (`hidden_size`).

    ValueError naming the key for a missing size or a setting the release's code would compute differently from us.
    """
    return _from_molmoe(data) if "d_model" in data else _from_molmo(data)


def _from_molmo(data: dict[str, Any]) -> MolmoConfig:
    flags = tuple(bool(data.get(key)) for key in ("qkv_bias", "attention_layer_norm", "norm_after"))
    kinds = {value: kind for kind, value in _MOLMO_DECODERS.items()}
    if flags not in kinds:
        raise _refuse("(qkv_bias, attention_layer_norm, norm_after)", flags,
                      "modeling_molmo.py's decoders we compute are Qwen2 (True, False, False), as in Molmo-7B-D and "
                      "-72B, and OLMo-2 (False, True, True), as in Molmo-7B-O")
    if data.get("layer_norm_type", "rms") != "rms":
        raise _refuse("layer_norm_type", data["layer_norm_type"], "the released models use 'rms'")
    # `weight_tying`, `tie_word_embeddings`, `clip_qkv` and `additional_vocab_size` are not read: modeling_molmo.py's
    # MolmoForCausalLM.__init__ builds its model with weight_tying=False, additional_vocab_size=128 and no clip_qkv.
    heads = _required(data, "num_attention_heads")
    llm = LLMConfig(
        kind=kinds[flags],
        hidden_size=_required(data, "hidden_size"),
        num_layers=_required(data, "num_hidden_layers"),
        num_heads=heads,
        num_kv_heads=data.get("num_key_value_heads") or heads,
        intermediate_size=_required(data, "intermediate_size") // 2,  # the fused (up | gate) width
        vocab_size=_vocabulary(data),
        additional_vocab_size=_MOLMO_IMAGE_TOKEN_ROWS,
        rope_theta=float(_required(data, "rope_theta")),
        rms_norm_eps=float(_required(data, "layer_norm_eps")),
        max_position_embeddings=data.get("max_position_embeddings") or 2048,  # config_molmo.py's default
    )
    return MolmoConfig.connect(_vision(data), llm)


def _from_molmoe(data: dict[str, Any]) -> MolmoConfig:
    for key in _MOLMOE_COMPUTES:
        if data.get(key, _MOLMOE_RELEASED[key]) != _MOLMOE_RELEASED[key]:
            raise _refuse(key, data[key], f"MolmoE-1B-0924 has {_MOLMOE_RELEASED[key]!r}")
    experts = data.get("moe_num_experts") or 0
    if not experts:
        raise _refuse("moe_num_experts", data.get("moe_num_experts"),
                      "the only release with OLMo-style keys, MolmoE-1B-0924, is a mixture of experts")
    d_model, heads = _required(data, "d_model"), _required(data, "n_heads")
    if data.get("n_kv_heads") not in (None, heads):
        raise _refuse("n_kv_heads", data["n_kv_heads"],
                      "modeling_molmoe.py sizes k_norm to d_model, so keys need as many heads as queries")
    fused = data.get("mlp_hidden_size") or data.get("mlp_ratio", 4) * d_model  # config_molmoe.py's mlp_ratio: 4
    llm = LLMConfig(
        kind="olmoe",
        hidden_size=d_model,
        num_layers=_required(data, "n_layers"),
        num_heads=heads,
        num_kv_heads=heads,
        intermediate_size=fused // 2,  # each expert: MolmoeMLP's width, half the fused one
        vocab_size=_vocabulary(data),
        additional_vocab_size=_required(data, "additional_vocab_size"),
        rope_theta=float(_required(data, "rope_theta")),
        rms_norm_eps=float(_required(data, "layer_norm_eps")),
        max_position_embeddings=data.get("max_position_embeddings") or _required(data, "max_sequence_length"),
        num_experts=experts,
        num_experts_per_token=_required(data, "moe_top_k"),
    )
    return MolmoConfig.connect(_vision(data), llm)


def _vocabulary(data: dict[str, Any]) -> int:
    """Rows of the base embedding and of the LM head: `embedding_size`, else `vocab_size` (both remote codes)."""
    vocab = _required(data, "vocab_size")
    rows = data.get("embedding_size") or vocab
    if rows < vocab:
        raise _refuse("embedding_size", rows, f"smaller than vocab_size {vocab}")
    return rows


def _vision(data: dict[str, Any]) -> VisionConfig:
    """The nested `vision_backbone` (MolmoE's keys) and `vit_layers`; absent: the CLIP ViT modeling_molmo.py builds."""
    block = data.get("vision_backbone")
    if block is None:
        return CLIP_VIT_L_336
    for key in _VISION_COMPUTES:
        if block.get(key, _VISION_RELEASED[key]) != _VISION_RELEASED[key]:
            raise _refuse(f"vision_backbone.{key}", block[key], f"the releases use {_VISION_RELEASED[key]!r}")
    def size(key: str) -> Any:
        return _required(block, key, "vision_backbone.")

    vision = VisionConfig(
        crop_size=size("image_default_input_size")[0],
        patch_size=size("image_patch_size"),
        hidden_size=size("image_emb_dim"),
        num_heads=size("image_num_heads"),
        intermediate_size=size("image_mlp_dim"),
        num_layers=size("image_num_layers"),
        feature_layers=tuple(data.get("vit_layers") or CLIP_VIT_L_336.feature_layers),
        layer_norm_eps=float(size("image_norm_eps")),
    )
    derived = {  # keys the release's ViT reads that follow from the others in every CLIP ViT we compute
        "image_default_input_size": [vision.crop_size, vision.crop_size],
        "image_head_dim": vision.hidden_size // vision.num_heads,
        "image_num_key_value_heads": vision.num_heads,
        "image_num_pos": vision.num_positions,
        "image_pos_patch_size": vision.patch_size,
    }
    for key, value in derived.items():
        found = block.get(key, value)
        if (list(found) if isinstance(value, list) else found) != value:
            raise _refuse(f"vision_backbone.{key}", found, f"this ViT needs {value!r}")
    return vision


# ---------------------------------------------------------------------------------------------------------------
# MolmoConfig -> config.json.


def release_config(config: MolmoConfig, vocab_size: int | None = None) -> dict[str, Any]:
    """MolmoConfig -> the `config.json` of the release with its decoder: MolmoE-1B-0924's keys for OLMoE, Molmo-7B-D's
    for Qwen2 and OLMo-2.

    vocab_size: the tokenizer's vocabulary before the image tokens (the id of `<im_start>`, by construction of
    allenai/molmo `olmo/tokenizer.py` `build_tokenizer`); by default the embedding's base rows. A ViT other than
    the release's CLIP is written as MolmoE's nested `vision_backbone`, which modeling_molmo.py does not read.
    ValueError for a config no release layout can hold (a connector other than `MolmoConfig.connect`'s, ...).
    """
    data = _molmoe_config(config) if config.llm.kind == "olmoe" else _molmo_config(config)
    data["vocab_size"] = vocab_size or config.llm.vocab_size
    if config_from_release(data) != config:
        raise ValueError("this config has no release layout: the release pools at the ViT's width and heads, with "
                         "2 x 2 windows, projects through the LLM's MLP width, and (outside MolmoE) has 128 "
                         "image-token rows")
    return dict(sorted(data.items()))


def _molmo_config(config: MolmoConfig) -> dict[str, Any]:
    llm = config.llm
    qkv_bias, attention_layer_norm, norm_after = _MOLMO_DECODERS[llm.kind]
    data = {
        **_MOLMO_RELEASED,
        "attention_layer_norm": attention_layer_norm,
        "embedding_size": llm.vocab_size,
        "hidden_size": llm.hidden_size,
        "intermediate_size": 2 * llm.intermediate_size,
        "layer_norm_eps": float(llm.rms_norm_eps),
        "max_position_embeddings": llm.max_position_embeddings,
        "norm_after": norm_after,
        "num_attention_heads": llm.num_heads,
        "num_hidden_layers": llm.num_layers,
        "num_key_value_heads": llm.num_kv_heads,
        "qkv_bias": qkv_bias,
        "rope_theta": float(llm.rope_theta),
    }
    if config.vision != CLIP_VIT_L_336:
        data |= {"vision_backbone": _vision_backbone(config.vision), "vit_layers": list(config.vision.feature_layers)}
    return data


def _molmoe_config(config: MolmoConfig) -> dict[str, Any]:
    llm = config.llm
    fused = 2 * llm.intermediate_size
    return {
        **_MOLMOE_RELEASED,
        "additional_vocab_size": llm.additional_vocab_size,
        "d_model": llm.hidden_size,
        "embedding_size": llm.vocab_size,
        "layer_norm_eps": float(llm.rms_norm_eps),
        "max_position_embeddings": llm.max_position_embeddings,
        # MolmoE-1B-0924 writes its width as a ratio (mlp_ratio 1, mlp_hidden_size null); other widths go in full.
        "mlp_hidden_size": None if fused % llm.hidden_size == 0 else fused,
        "mlp_ratio": fused // llm.hidden_size if fused % llm.hidden_size == 0 else 1,
        "moe_num_experts": llm.num_experts,
        "moe_top_k": llm.num_experts_per_token,
        "n_heads": llm.num_heads,
        "n_kv_heads": None,
        "n_layers": llm.num_layers,
        "rope_theta": float(llm.rope_theta),
        "vision_backbone": _vision_backbone(config.vision),
        "vit_layers": list(config.vision.feature_layers),
    }


def _vision_backbone(vision: VisionConfig) -> dict[str, Any]:
    """MolmoE-1B-0924's nested `vision_backbone` for `vision`."""
    return dict(sorted({
        **_VISION_RELEASED,
        "image_default_input_size": [vision.crop_size, vision.crop_size],
        "image_emb_dim": vision.hidden_size,
        "image_head_dim": vision.hidden_size // vision.num_heads,
        "image_mlp_dim": vision.intermediate_size,
        "image_norm_eps": float(vision.layer_norm_eps),
        "image_num_heads": vision.num_heads,
        "image_num_key_value_heads": vision.num_heads,
        "image_num_layers": vision.num_layers,
        "image_num_pos": vision.num_positions,
        "image_patch_size": vision.patch_size,
        "image_pos_patch_size": vision.patch_size,
    }.items()))


# ---------------------------------------------------------------------------------------------------------------
# preprocessor_config.json: the release's image processor settings, which our pre-processing computes itself.


def preprocessor_config(image: MolmoImageConfig) -> dict[str, Any]:
    """The release's `preprocessor_config.json` for this pre-processing geometry (`max_crops` is its default)."""
    pooled = image.crop_patches // image.pool_size
    return dict(sorted({
        **_PREPROCESSOR_RELEASED,
        "base_image_input_size": [image.crop_size, image.crop_size],
        "image_mean": list(image.image_mean),
        "image_patch_size": image.patch_size,
        "image_std": list(image.image_std),
        "image_token_length_h": pooled,
        "image_token_length_w": pooled,
        "max_crops": image.max_crops,
        "overlap_margins": list(image.overlap_margins),
    }.items()))


def check_preprocessor(data: dict[str, Any], image: MolmoImageConfig, source: str) -> None:
    """ValueError naming the first key of a `preprocessor_config.json` that asks for pre-processing other than ours
    (`max_crops`, a per-request setting here, is not compared)."""
    expected = preprocessor_config(image)
    for key in ("base_image_input_size", "image_patch_size", "image_token_length_h", "image_token_length_w",
                "overlap_margins", "image_mean", "image_std", "do_normalize", "image_padding_mask"):
        if key in data and data[key] != expected[key]:
            raise ValueError(f"{source}: {_refuse(key, data[key], f'this model uses {expected[key]!r}')}")
