"""Save and load Molmo weights: the in-repo layout, and the releases' Hugging Face layout by an explicit name map.

In-repo layout: `config.json` (`MolmoConfig.to_dict()` plus a format tag) and `model.safetensors` holding
`MolmoForCausalLM.state_dict()` as is.

Release layout (the allenai/Molmo-7B-D-0924, -7B-O-0924, -72B-0924 and MolmoE-1B-0924 repositories, described in
docs/checkpoints.md): `config.json` (`molmo.release_config`), `preprocessor_config.json`, the tokenizer's files, and
`model.safetensors` or shards `model-0000X-of-0000Y.safetensors` with `model.safetensors.index.json`, named after
the modules of the release's remote code, `modeling_molmo.py` (7B-D, 7B-O, 72B) or `modeling_molmoe.py` (MolmoE):

    model.vision_backbone.image_vit.*            the ViT (23 blocks; we build 22: block 22, 0-based, is never read)
    model.vision_backbone.{pad_embed, image_pooling_2d.*, image_projector.*}   the connector
    model.transformer.{wte.embedding, wte.new_embedding, ln_f}                  the LLM's embedding and final norm
    model.transformer.blocks.N.{att_proj, attn_out, attn_norm, q_norm, k_norm, ff_norm, ff_proj, ff_out}
    model.transformer.ff_out                                                   the LM head      (modeling_molmo.py)
    model.transformer.blocks.N.attn.{att_proj, attn_out, attn_norm, q_norm, k_norm}
    model.transformer.blocks.N.mlp.{ff_norm, gate, experts.E.{gate,up,down}_proj}
    lm_head                                                                    the LM head      (modeling_molmoe.py)

`release_tensor_maps` lists every tensor pair. Where one side fuses what the other keeps apart, the map
converts explicitly: the fused `att_proj` (q | k | v rows), the fused `ff_proj` (up | gate rows, as the
release's SwiGLU reads `x, gate = ff_proj(x).chunk(2)`), the split embedding (base rows + 128 image-token
rows), and OLMoE's experts (one module per expert in the release against transformers' stacked (E, 2f, d)
gate | up and (E, d, f) down).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from molmo.config import PRESETS, TINY_PRESETS, LLMConfig, MolmoConfig

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
    """OLMoE's experts: ours stacked, `experts.gate_up_proj` (E, 2f, d) and `experts.down_proj` (E, d, f), the
    release's one module per expert, `experts.E.{gate,up,down}_proj.weight` ((f, d), (f, d), (d, f)), as
    modeling_molmoe.py's MolmoeSparseMoeBlock holds its MolmoeMLPs."""
    import torch

    width = llm.intermediate_size

    def to_release(tensors: Tensors) -> Tensors:
        gate_up, down = tensors
        return [t for e in range(llm.num_experts) for t in (*gate_up[e].split(width), down[e])]

    def to_ours(tensors: Tensors) -> Tensors:
        gates, ups, downs = tensors[0::3], tensors[1::3], tensors[2::3]
        return [torch.stack([torch.cat(pair) for pair in zip(gates, ups, strict=True)]), torch.stack(downs)]

    names = tuple(f"{release}experts.{e}.{part}_proj.weight"
                  for e in range(llm.num_experts) for part in ("gate", "up", "down"))
    return TensorMap((f"{ours}experts.gate_up_proj", f"{ours}experts.down_proj"), names, to_release, to_ours)


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
    moe = llm.kind == "olmoe"
    # modeling_molmoe.py nests a block's attention under `attn` (MolmoAttention) and its MLP under `mlp`
    # (MolmoeSparseMoeBlock), and keeps the LM head beside the model (`MolmoForCausalLM.lm_head`);
    # modeling_molmo.py's MolmoSequentialBlock holds all in the block, its head is `transformer.ff_out`.
    attn, mlp = ("attn.", "mlp.") if moe else ("", "")
    maps += [
        _split_rows(f"{lm}embed_tokens.weight", (f"{tr}wte.embedding", f"{tr}wte.new_embedding"),
                    (llm.vocab_size, llm.additional_vocab_size)),
        _rename(f"{lm}norm.weight", f"{tr}ln_f.weight"),
        _rename("language_model.lm_head.weight", "lm_head.weight" if moe else f"{tr}ff_out.weight"),
    ]
    kv_width = llm.num_kv_heads * llm.head_dim
    qkv_rows = (llm.hidden_size, kv_width, kv_width)
    attn_norm, ff_norm = _NORMS[llm.kind]
    for i in range(llm.num_layers):
        ours, block = f"{lm}layers.{i}.", f"{tr}blocks.{i}."
        qkv = tuple(f"{ours}self_attn.{x}_proj" for x in "qkv")
        maps.append(_stacked_rows(tuple(f"{name}.weight" for name in qkv), f"{block}{attn}att_proj.weight", qkv_rows))
        if llm.kind == "qwen2":
            maps.append(_stacked_rows(tuple(f"{name}.bias" for name in qkv), f"{block}att_proj.bias", qkv_rows))
        else:
            maps += [_rename(f"{ours}self_attn.{x}_norm.weight", f"{block}{attn}{x}_norm.weight") for x in "qk"]
        maps += [
            _rename(f"{ours}self_attn.o_proj.weight", f"{block}{attn}attn_out.weight"),
            _rename(f"{ours}{attn_norm}.weight", f"{block}{attn}attn_norm.weight"),
            _rename(f"{ours}{ff_norm}.weight", f"{block}{mlp}ff_norm.weight"),
        ]
        if moe:
            maps += [_rename(f"{ours}mlp.gate.weight", f"{block}mlp.gate.weight"),
                     _experts(f"{ours}mlp.", f"{block}mlp.", llm)]
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
# Release layout: files.


def save_hf_layout(model: MolmoForCausalLM, folder: str | Path, max_shard_bytes: int | None = None,
                   tokenizer: Any = None, dtype: torch.dtype | None = None, vocab_size: int | None = None) -> Path:
    """Write `model` as the releases lay their checkpoints out: tensor names, fused tensors, `config.json` (the
    release schema of its decoder, `molmo.release_config`), `preprocessor_config.json`, `processor_config.json`.

    With `max_shard_bytes`, weights go to `model-0000X-of-0000Y.safetensors` shards with
    `model.safetensors.index.json`; `dtype` converts them (default: as they are). The ViT blocks the release holds
    but never reads are written as zeros. `vocab_size` (the config's) defaults to the id of the tokenizer's
    `<im_start>`, else to the embedding's base rows.
    """
    import torch
    from safetensors.torch import save_file

    from molmo.image_tokens import IM_START
    from molmo.release_config import PROCESSOR_CONFIG, preprocessor_config, release_config

    config = model.config
    if vocab_size is None and tokenizer is not None:
        vocab_size = tokenizer.convert_tokens_to_ids(IM_START)
    data = release_config(config, vocab_size)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for entry in release_tensor_maps(config):
        converted = entry.to_release([state[name].detach() for name in entry.ours])
        tensors.update((name, t.to(dtype or t.dtype).contiguous())
                       for name, t in zip(entry.release, converted, strict=True))
    first_block = f"{_VIT}transformer.resblocks.0."
    for block in _unused_vit_blocks(config):
        for name in [n for n in tensors if n.startswith(first_block)]:
            unused = name.replace(first_block, f"{_VIT}transformer.resblocks.{block}.")
            tensors[unused] = torch.zeros_like(tensors[name])
    files = {"config.json": data, "preprocessor_config.json": preprocessor_config(config.image_config()),
             "processor_config.json": PROCESSOR_CONFIG}
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content, indent=2) + "\n")

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
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
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
    """A checkpoint in a release's layout -> the in-repo model, through `release_tensor_maps`.

    ValueError naming the config key a release's code would compute differently, the first tensor whose shape does
    not fit the config (expected and found shapes), else the missing tensors, else the unexpected ones. The
    never-read ViT blocks are skipped. Tensors are converted to `dtype` (default: as stored).
    """
    from safetensors import safe_open

    from molmo.release_config import check_preprocessor, config_from_release

    folder = Path(folder)
    try:
        config = config_from_release(json.loads((folder / "config.json").read_text()))
    except ValueError as error:
        raise ValueError(f"{folder / 'config.json'}: {error}") from None
    preprocessor = folder / "preprocessor_config.json"
    if preprocessor.exists():
        check_preprocessor(json.loads(preprocessor.read_text()), config.image_config(), str(preprocessor))
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

    # The releases' config.json names remote code (`auto_map`), which AutoTokenizer would offer to run to read the
    # model type, prompting on a terminal; the tokenizer itself is a plain one (tokenizer.json).
    return AutoTokenizer.from_pretrained(folder, trust_remote_code=False)


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
