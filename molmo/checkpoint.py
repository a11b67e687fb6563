"""Save and load Molmo weights: the in-repo layout, and the release's Hugging Face layout by an explicit name map.

In-repo layout: `config.json` (`MolmoConfig.to_dict()` plus a format tag) and `model.safetensors` holding
`MolmoForCausalLM.state_dict()` as is.

Release layout (the allenai/Molmo-*-0924 repositories): `config.json` with the release's LLM fields, and
`model.safetensors` or shards `model-0000X-of-0000Y.safetensors` with `model.safetensors.index.json`, named
after the release's `modeling_molmo.py` (reference/molmo.md §8):

    model.vision_backbone.image_vit.*            the ViT (23 blocks; we build 22: block 22, 0-based, is never read)
    model.vision_backbone.{pad_embed, image_pooling_2d.*, image_projector.*}   the connector
    model.transformer.{wte.embedding, wte.new_embedding, blocks.N.*, ln_f, ff_out}   the LLM

`release_tensor_maps` lists every tensor pair. Where one side fuses what the other keeps apart, the map
converts explicitly: the fused `att_proj` (q | k | v rows), the fused `ff_proj` (up | gate rows, as the
release's SwiGLU reads `x, gate = ff_proj(x).chunk(2)`), the split embedding (base rows + 128 image-token
rows), and OLMoE's experts (megablocks' flat (E * f, d) `w1` / `v1` / `w2` against transformers'
(E, 2f, d) gate | up and (E, d, f) down).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from molmo.config import PRESETS, TINY_PRESETS, ConnectorConfig, LLMConfig, MolmoConfig, VisionConfig

if TYPE_CHECKING:
    import torch

    from molmo.modeling import MolmoForCausalLM

FORMAT = "molmo-arena/molmo-v1"
_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")
_HUB_FILES = ["*.json", "*.safetensors", "*.txt", "*.model"]  # config, weights, tokenizer; not the remote code

Tensors = list["torch.Tensor"]


# ---------------------------------------------------------------------------------------------------------------
# Building a model from tensors.


def random_init(config: MolmoConfig, seed: int = 0) -> MolmoForCausalLM:
    """A randomly initialised model, the same for the same seed (the global RNG is left as it was)."""
    import torch

    from molmo.modeling import MolmoForCausalLM

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MolmoForCausalLM(config).eval()


def check_tensors(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]], source: str,
                   skipped: Collection[str] = ()) -> None:
    """ValueError on the first shape mismatch, then on missing tensors, then on unexpected ones."""
    for name, shape in expected.items():
        if name in found and found[name] != shape:
            raise ValueError(f"{source}: tensor {name} has shape {list(found[name])}, the config expects "
                             f"{list(shape)}")

    def listing(names: list[str]) -> str:
        return ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")

    missing = [name for name in expected if name not in found]
    if missing:
        raise ValueError(f"{source}: missing {len(missing)} tensor(s) the config needs: {listing(missing)}")
    unexpected = [name for name in found if name not in expected and name not in skipped]
    if unexpected:
        raise ValueError(f"{source}: {len(unexpected)} unexpected tensor(s): {listing(unexpected)}")


def _empty_model(config: MolmoConfig) -> MolmoForCausalLM:
    """The model with its parameters on the meta device: shapes without memory or initialisation."""
    import torch

    from molmo.modeling import MolmoForCausalLM

    with torch.device("meta"):
        return MolmoForCausalLM(config)


def _assemble(config: MolmoConfig, state: dict[str, torch.Tensor], dtype: torch.dtype | None,
              device: str | torch.device) -> MolmoForCausalLM:
    """The model holding exactly `state` (already checked against the config)."""
    model = _empty_model(config)
    if dtype is not None:
        state = {name: t.to(dtype) if t.is_floating_point() else t for name, t in state.items()}
    model.load_state_dict(state, strict=True, assign=True)
    decoder = model.language_model.model
    decoder.rotary_emb = type(decoder.rotary_emb)(config=decoder.config)  # RoPE frequencies: a buffer, not saved
    return model.to(device).eval()


# ---------------------------------------------------------------------------------------------------------------
# In-repo layout.


def save_pretrained(model: MolmoForCausalLM, folder: str | Path, tokenizer: Any = None) -> Path:
    """Write `config.json` and `model.safetensors` (and the tokenizer's files when given) to `folder`."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"format": FORMAT, **model.config.to_dict()}, indent=2) + "\n")
    state = {name: t.detach().contiguous() for name, t in model.state_dict().items()}
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    return folder


def load_pretrained(folder: str | Path, dtype: torch.dtype | None = None,
                    device: str | torch.device = "cpu") -> MolmoForCausalLM:
    """Inverse of `save_pretrained`; ValueError if the weights do not fit the config."""
    from safetensors.torch import load_file

    folder = Path(folder)
    data = json.loads((folder / "config.json").read_text())
    data.pop("format", None)
    config = MolmoConfig.from_dict(data)
    state = load_file(folder / "model.safetensors")
    expected = {name: tuple(t.shape) for name, t in _empty_model(config).state_dict().items()}
    check_tensors(expected, {name: tuple(t.shape) for name, t in state.items()}, str(folder))
    return _assemble(config, state, dtype, device)


# ---------------------------------------------------------------------------------------------------------------
# Release layout: the name map.


def _same(tensors: Tensors) -> Tensors:
    return tensors


@dataclass(frozen=True)
class TensorMap:
    """Our tensor(s) <-> the release's tensor(s), with the conversion each way (identity for a rename)."""

    ours: tuple[str, ...]
    release: tuple[str, ...]
    to_release: Callable[[Tensors], Tensors] = _same
    to_ours: Callable[[Tensors], Tensors] = _same


def _rename(ours: str, release: str) -> TensorMap:
    return TensorMap((ours,), (release,))


def _stacked_rows(ours: tuple[str, ...], release: str, rows: tuple[int, ...]) -> TensorMap:
    """Several of our tensors = consecutive row blocks of one release tensor (fused qkv, fused up | gate)."""
    import torch

    # Cloned apart on loading, so that each parameter owns its memory rather than viewing the fused tensor.
    return TensorMap(ours, (release,), lambda ts: [torch.cat(ts)], lambda ts: [p.clone() for p in ts[0].split(rows)])


def _split_rows(ours: str, release: tuple[str, ...], rows: tuple[int, ...]) -> TensorMap:
    """One of our tensors = several release tensors stacked by rows (the embedding and its image-token rows)."""
    import torch

    return TensorMap((ours,), release, lambda ts: list(ts[0].split(rows)), lambda ts: [torch.cat(ts)])


def _experts(ours: str, release: str, llm: LLMConfig) -> TensorMap:
    """OLMoE experts, ours `experts.gate_up_proj` (E, 2f, d) and `experts.down_proj` (E, d, f), against the
    release's (megablocks) `experts.mlp.w1` (gate), `v1` (up), `w2` (down, transposed), each (E * f, d)."""
    import torch

    experts, width, hidden = llm.num_experts, llm.intermediate_size, llm.hidden_size

    def to_release(tensors: Tensors) -> Tensors:
        gate_up, down = tensors
        gate, up = gate_up.split(width, dim=1)  # (E, f, d) each
        return [gate.reshape(experts * width, hidden), up.reshape(experts * width, hidden),
                down.transpose(1, 2).reshape(experts * width, hidden)]

    def to_ours(tensors: Tensors) -> Tensors:
        gate, up, down = (t.reshape(experts, width, hidden) for t in tensors)
        return [torch.cat([gate, up], dim=1), down.transpose(1, 2).contiguous()]

    return TensorMap((f"{ours}experts.gate_up_proj", f"{ours}experts.down_proj"),
                     tuple(f"{release}experts.mlp.{w}" for w in ("w1", "v1", "w2")), to_release, to_ours)


_VIT = "model.vision_backbone.image_vit."
_VIT_BLOCK = (  # ours under vision_encoder.blocks.N. -> release under image_vit.transformer.resblocks.N.
    ("attn.q_proj", "attention.wq"), ("attn.k_proj", "attention.wk"), ("attn.v_proj", "attention.wv"),
    ("attn.o_proj", "attention.wo"), ("attn_norm", "attention_norm"), ("mlp_norm", "ffn_norm"),
    ("mlp.fc1", "feed_forward.w1"), ("mlp.fc2", "feed_forward.w2"),
)
# Decoder norms: the release's attn_norm / ff_norm sit before attention / MLP, or after them with norm_after.
_NORMS = {
    "qwen2": ("input_layernorm", "post_attention_layernorm"),
    "olmoe": ("input_layernorm", "post_attention_layernorm"),
    "olmo2": ("post_attention_layernorm", "post_feedforward_layernorm"),
}


def release_tensor_maps(config: MolmoConfig) -> list[TensorMap]:
    """Every tensor of the in-repo model against its name(s) in the release's checkpoint."""
    vision, llm = config.vision, config.llm
    maps = [_rename(f"vision_encoder.{name}", f"{_VIT}{name}") for name in
            ("patch_embedding.weight", "class_embedding", "positional_embedding", "pre_ln.weight", "pre_ln.bias")]
    for i in range(vision.num_built_layers):
        maps += [_rename(f"vision_encoder.blocks.{i}.{ours}.{p}", f"{_VIT}transformer.resblocks.{i}.{release}.{p}")
                 for ours, release in _VIT_BLOCK for p in ("weight", "bias")]

    backbone = "model.vision_backbone."
    maps.append(_rename("connector.pad_embed", f"{backbone}pad_embed"))
    maps += [_rename(f"connector.pool.{x}_proj.{p}", f"{backbone}image_pooling_2d.w{x}.{p}")
             for x in "qkvo" for p in ("weight", "bias")]
    maps += [_rename(f"connector.projector.{ours}.weight", f"{backbone}image_projector.{release}.weight")
             for ours, release in (("gate_proj", "w1"), ("up_proj", "w3"), ("down_proj", "w2"))]

    lm, tr = "language_model.model.", "model.transformer."
    maps += [
        _split_rows(f"{lm}embed_tokens.weight", (f"{tr}wte.embedding", f"{tr}wte.new_embedding"),
                    (llm.vocab_size, llm.additional_vocab_size)),
        _rename(f"{lm}norm.weight", f"{tr}ln_f.weight"),
        _rename("language_model.lm_head.weight", f"{tr}ff_out.weight"),
    ]
    kv_width = llm.num_kv_heads * llm.head_dim
    qkv_rows = (llm.hidden_size, kv_width, kv_width)
    attn_norm, ff_norm = _NORMS[llm.kind]
    for i in range(llm.num_layers):
        ours, block = f"{lm}layers.{i}.", f"{tr}blocks.{i}."
        qkv = tuple(f"{ours}self_attn.{x}_proj" for x in "qkv")
        maps.append(_stacked_rows(tuple(f"{name}.weight" for name in qkv), f"{block}att_proj.weight", qkv_rows))
        if llm.kind == "qwen2":
            maps.append(_stacked_rows(tuple(f"{name}.bias" for name in qkv), f"{block}att_proj.bias", qkv_rows))
        else:
            maps += [_rename(f"{ours}self_attn.{x}_norm.weight", f"{block}{x}_norm.weight") for x in "qk"]
        maps += [
            _rename(f"{ours}self_attn.o_proj.weight", f"{block}attn_out.weight"),
            _rename(f"{ours}{attn_norm}.weight", f"{block}attn_norm.weight"),
            _rename(f"{ours}{ff_norm}.weight", f"{block}ff_norm.weight"),
        ]
        if llm.kind == "olmoe":
            maps += [_rename(f"{ours}mlp.gate.weight", f"{block}ffn.router.layer.weight"),
                     _experts(f"{ours}mlp.", f"{block}ffn.", llm)]
        else:
            maps += [_stacked_rows((f"{ours}mlp.up_proj.weight", f"{ours}mlp.gate_proj.weight"),
                                   f"{block}ff_proj.weight", (llm.intermediate_size, llm.intermediate_size)),
                     _rename(f"{ours}mlp.down_proj.weight", f"{block}ff_out.weight")]
    return maps


def _unused_vit_blocks(config: MolmoConfig) -> range:
    """ViT blocks the release's checkpoint holds that no feature layer reads (block 22 of 23)."""
    return range(config.vision.num_built_layers, config.vision.num_layers)


def _is_unused_vit_tensor(name: str, config: MolmoConfig) -> bool:
    match = re.match(rf"{re.escape(_VIT)}transformer\.resblocks\.(\d+)\.", name)
    return match is not None and int(match.group(1)) in _unused_vit_blocks(config)


# ---------------------------------------------------------------------------------------------------------------
# Release layout: config.json.


def config_from_release(data: dict[str, Any]) -> MolmoConfig:
    """A release `config.json` -> MolmoConfig. The release keeps the ViT's settings in code, not in the file:
    absent `image_*` keys mean OpenAI CLIP ViT-L/14-336 as the release builds it."""
    experts = data.get("moe_num_experts") or 0
    kind = "olmoe" if experts else "olmo2" if data.get("norm_after") else "qwen2"
    flags = (bool(data.get("qkv_bias")), bool(data.get("attention_layer_norm")), bool(data.get("norm_after")))
    wanted = {"qwen2": (True, False, False), "olmo2": (False, True, True), "olmoe": (False, True, False)}[kind]
    unsupported = {
        "qkv_bias / attention_layer_norm / norm_after": flags != wanted,
        "weight_tying": bool(data.get("weight_tying") or data.get("tie_word_embeddings")),
        "clip_qkv": data.get("clip_qkv") is not None,
        "layer_norm_type": data.get("layer_norm_type", "rms") != "rms",
    }
    if any(unsupported.values()):
        bad = ", ".join(key for key, value in unsupported.items() if value)
        raise ValueError(f"release config not supported ({bad}): the released Molmo models are Qwen2 "
                         "(qkv bias), OLMo-7B-1024 (QK-norm, norm after) or OLMoE (QK-norm, experts) decoders")
    try:
        heads = data["num_attention_heads"]
        llm = LLMConfig(
            kind=kind,
            hidden_size=data["hidden_size"],
            num_layers=data["num_hidden_layers"],
            num_heads=heads,
            num_kv_heads=data.get("num_key_value_heads") or heads,
            intermediate_size=data["intermediate_size"] // 2,  # the release stores the fused (up | gate) width
            vocab_size=data.get("embedding_size") or data["vocab_size"],
            additional_vocab_size=data.get("additional_vocab_size", 128),
            rope_theta=float(data["rope_theta"]),
            rms_norm_eps=float(data["layer_norm_eps"]),
            max_position_embeddings=data.get("max_position_embeddings", 4096),
            num_experts=experts,
            num_experts_per_token=data.get("moe_top_k") or 0,
        )
    except KeyError as error:
        raise ValueError(f"release config lacks {error}") from None
    clip = VisionConfig()
    crop_size = data.get("image_default_input_size", [clip.crop_size])[0]
    vision = VisionConfig(
        crop_size=crop_size,
        patch_size=data.get("image_patch_size", clip.patch_size),
        hidden_size=data.get("image_emb_dim", clip.hidden_size),
        num_heads=data.get("image_num_heads", clip.num_heads),
        intermediate_size=data.get("image_mlp_dim", clip.intermediate_size),
        num_layers=data.get("image_num_layers", clip.num_layers),
        feature_layers=tuple(data.get("vit_layers", clip.feature_layers)),
        layer_norm_eps=data.get("image_norm_eps", clip.layer_norm_eps),
    )
    # The release pools at the ViT's width and heads and projects through half the fused MLP width.
    connector = ConnectorConfig(num_heads=vision.num_heads, hidden_size=vision.hidden_size,
                                projector_hidden_size=llm.intermediate_size)
    return MolmoConfig(vision, connector, llm)


def release_config(config: MolmoConfig) -> dict[str, Any]:
    """MolmoConfig -> a release `config.json` (plus the ViT's `image_*` settings, which the release hard-codes)."""
    llm, vision = config.llm, config.vision
    data: dict[str, Any] = {
        "architectures": ["MolmoForCausalLM"],
        "model_type": "molmo",
        "hidden_size": llm.hidden_size,
        "num_hidden_layers": llm.num_layers,
        "num_attention_heads": llm.num_heads,
        "num_key_value_heads": llm.num_kv_heads,
        "intermediate_size": 2 * llm.intermediate_size,
        "vocab_size": llm.vocab_size,
        "embedding_size": llm.vocab_size,
        "additional_vocab_size": llm.additional_vocab_size,
        "max_position_embeddings": llm.max_position_embeddings,
        "rope_theta": llm.rope_theta,
        "layer_norm_eps": llm.rms_norm_eps,
        "layer_norm_type": "rms",
        "qkv_bias": llm.kind == "qwen2",
        "attention_layer_norm": llm.kind != "qwen2",
        "norm_after": llm.kind == "olmo2",
        "clip_qkv": None,
        "weight_tying": False,
        "tie_word_embeddings": False,
        "use_position_ids": True,
        "image_default_input_size": [vision.crop_size, vision.crop_size],
        "image_patch_size": vision.patch_size,
        "image_emb_dim": vision.hidden_size,
        "image_num_heads": vision.num_heads,
        "image_num_layers": vision.num_layers,
        "image_mlp_dim": vision.intermediate_size,
        "image_norm_eps": vision.layer_norm_eps,
        "vit_layers": list(vision.feature_layers),
    }
    if llm.kind == "olmoe":
        data.update(moe_num_experts=llm.num_experts, moe_top_k=llm.num_experts_per_token)
    if config_from_release(data) != config:
        raise ValueError("this config has no release layout: the release pools at the ViT's width and heads, with "
                         "2 x 2 windows, and projects through the LLM's MLP width")
    return data


# ---------------------------------------------------------------------------------------------------------------
# Release layout: files.


def save_hf_layout(model: MolmoForCausalLM, folder: str | Path, max_shard_bytes: int | None = None,
                   tokenizer: Any = None) -> Path:
    """Write `model` as the release lays its checkpoints out (names, fused tensors, config.json).

    With `max_shard_bytes`, weights go to `model-0000X-of-0000Y.safetensors` shards with
    `model.safetensors.index.json`. The ViT blocks the release holds but never reads are written as zeros.
    """
    import torch
    from safetensors.torch import save_file

    config = model.config
    data = release_config(config)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for entry in release_tensor_maps(config):
        converted = entry.to_release([state[name].detach() for name in entry.ours])
        tensors.update((name, t.contiguous()) for name, t in zip(entry.release, converted, strict=True))
    first_block = f"{_VIT}transformer.resblocks.0."
    for block in _unused_vit_blocks(config):
        for name in [n for n in tensors if n.startswith(first_block)]:
            unused = name.replace(first_block, f"{_VIT}transformer.resblocks.{block}.")
            tensors[unused] = torch.zeros_like(tensors[name])
    (folder / "config.json").write_text(json.dumps(data, indent=2) + "\n")

    if max_shard_bytes is None:
        save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    else:
        shards: list[dict[str, torch.Tensor]] = [{}]
        size = 0
        for name, tensor in tensors.items():
            nbytes = tensor.numel() * tensor.element_size()
            if shards[-1] and size + nbytes > max_shard_bytes:
                shards.append({})
                size = 0
            shards[-1][name] = tensor
            size += nbytes
        weight_map = {}
        for number, shard in enumerate(shards, start=1):
            file = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
            save_file(shard, folder / file, metadata={"format": "pt"})
            weight_map.update(dict.fromkeys(shard, file))
        total = sum(t.numel() * t.element_size() for t in tensors.values())
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    return folder


def _release_files(folder: Path) -> dict[str, Path]:
    """Tensor name -> the safetensors file holding it, from the index or the single file."""
    from safetensors import safe_open

    index = folder / "model.safetensors.index.json"
    if index.exists():
        weight_map = json.loads(index.read_text())["weight_map"]
        return {name: folder / file for name, file in weight_map.items()}
    single = folder / "model.safetensors"
    if not single.exists():
        raise FileNotFoundError(f"{folder}: no model.safetensors or model.safetensors.index.json")
    with safe_open(single, framework="pt") as handle:
        return dict.fromkeys(handle.keys(), single)


def load_hf_layout(folder: str | Path, dtype: torch.dtype | None = None,
                   device: str | torch.device = "cpu") -> MolmoForCausalLM:
    """A checkpoint in the release's layout -> the in-repo model, through `release_tensor_maps`.

    ValueError naming the first tensor whose shape does not fit the config (expected and found shapes),
    else the missing tensors, else the unexpected ones. The never-read ViT blocks are skipped.
    """
    from safetensors import safe_open

    folder = Path(folder)
    config = config_from_release(json.loads((folder / "config.json").read_text()))
    files = _release_files(folder)
    found: dict[str, tuple[int, ...]] = {}
    for file in sorted(set(files.values())):
        with safe_open(file, framework="pt") as handle:
            names = handle.keys()  # a list, read from the file's header
            found.update((name, tuple(handle.get_slice(name).get_shape())) for name in names)
    maps = release_tensor_maps(config)
    meta_state = _empty_model(config).state_dict()
    expected: dict[str, tuple[int, ...]] = {}
    for entry in maps:
        converted = entry.to_release([meta_state[name] for name in entry.ours])
        expected.update((name, tuple(t.shape)) for name, t in zip(entry.release, converted, strict=True))
    skipped = {name for name in found if _is_unused_vit_tensor(name, config)}
    check_tensors(expected, found, str(folder), skipped)

    release: dict[str, torch.Tensor] = {}
    for file in sorted({files[name] for name in expected}):
        with safe_open(file, framework="pt") as handle:
            names = handle.keys()
            release.update((name, handle.get_tensor(name)) for name in names if name in expected)
    state = {}
    for entry in maps:
        converted = entry.to_ours([release.pop(name) for name in entry.release])
        state.update(zip(entry.ours, converted, strict=True))
    return _assemble(config, state, dtype, device)


# ---------------------------------------------------------------------------------------------------------------
# One entry point.


def load_tokenizer(folder: str | Path) -> Any:
    """The tokenizer saved beside a checkpoint, or None when there is none."""
    folder = Path(folder)
    if not (folder / "tokenizer.json").exists() and not (folder / "tokenizer_config.json").exists():
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def from_pretrained(name_or_path: str | Path, dtype: torch.dtype | None = None, device: str | torch.device = "cpu",
                    seed: int = 0, revision: str | None = None) -> tuple[MolmoForCausalLM, Any]:
    """(model, tokenizer or None) from a local folder, a preset name or a Hugging Face hub id.

    - a folder: the in-repo layout (`save_pretrained`) or the release's (`save_hf_layout`, allenai/Molmo-*);
    - a preset (`molmo.config.PRESETS`): random weights from `seed`; the tiny presets come with
      `tiny_tokenizer()`, the others with no tokenizer;
    - `org/name`: downloaded with `huggingface_hub.snapshot_download` (config, weights and tokenizer files only).
    """
    name = str(name_or_path)
    folder = Path(name_or_path)
    if not folder.is_dir():
        if name in PRESETS:
            from molmo.processing import tiny_tokenizer

            config = PRESETS[name]
            tokenizer = tiny_tokenizer(config.llm.vocab_size) if name in TINY_PRESETS else None
            return random_init(config, seed).to(device=device, dtype=dtype), tokenizer
        if not _HUB_ID.fullmatch(name):
            raise ValueError(f"{name!r} is not a folder, a preset ({', '.join(PRESETS)}) or a hub id org/name")
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(name, revision=revision, allow_patterns=_HUB_FILES))
    data = json.loads((folder / "config.json").read_text())
    loader = load_pretrained if data.get("format") == FORMAT else load_hf_layout
    return loader(folder, dtype, device), load_tokenizer(folder)
