"""Tiny randomly initialised Hugging Face VLMs written to disk in their real layout.

No model hub is reachable where this project is built and tested, so the Hugging Face adapter is tested (and
the demo's "random VLM" baseline is made) with checkpoints like these: each family's real config, model and
processor classes, its special tokens and chat-template style, a byte-level BPE tokenizer trained in
milliseconds, a PIL-backend image processor, and random weights, saved with `save_pretrained` and loaded back
through `hf:PATH` exactly as a hub checkpoint would be. `FAMILIES` is the table; `save_tiny` builds any row.

The four Molmo 0924 releases, whose remote code transformers does not have, are written the same way in their own
Hugging Face layout for `molmo:PATH`: `MOLMO_RELEASES` names them, `save_tiny_molmo_release` builds any of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from molmo.release_config import PROCESSOR_CONFIG

_CORPUS = (
    "USER: ASSISTANT: What is the value of the tallest bar? How many shapes are there? Answer the question "
    "using a single word or phrase. Answer with the option's letter from the given choices directly. "
    "A. B. C. D. yes no red blue green circle square triangle 0 1 2 3 4 5 6 7 8 9 10 chart document sign"
)
# The language model of every family: two layers of width 32 (head size 16).
_TEXT = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
         "num_key_value_heads": 2, "initializer_range": 0.2}
_MROPE = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]}  # sums to head size / 2


def _chat_template(turn: str, image: str, end: str, generation: str, prefix: str = "") -> str:
    """A Jinja chat template in one family's layout: `turn` opens a message, image placeholders sit in line."""
    return (
        f"{prefix}{{% for message in messages %}}{turn}{{% for part in message['content'] %}}"
        f"{{% if part['type'] == 'image' %}}{image}{{% else %}}{{{{ part['text'] }}}}{{% endif %}}{{% endfor %}}"
        f"{end}{{% endfor %}}{{% if add_generation_prompt %}}{generation}{{% endif %}}"
    )


@dataclass(frozen=True)
class TinyFamily:
    """One row of the table: the real classes of a family, its special tokens and tiny dimensions.

    `tokens` names the tokenizer's bos/eos/pad/unk; `token_ids` maps config fields to the special token whose id
    they hold; `text` is added to the shared `_TEXT` dimensions; `image_processor` is the PIL-backend class.
    """

    model: str
    config: str
    processor: str
    image_processor: str
    vision: dict[str, Any]
    image: dict[str, Any]
    special_tokens: tuple[str, ...]
    tokens: dict[str, str]
    token_ids: dict[str, str]
    chat_template: str | None
    text: dict[str, Any] = field(default_factory=dict)
    config_kwargs: dict[str, Any] = field(default_factory=dict)
    processor_kwargs: dict[str, Any] = field(default_factory=dict)
    extra_special_tokens: dict[str, str] = field(default_factory=dict)


_SIGLIP = {"model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
           "num_attention_heads": 2, "image_size": 16, "patch_size": 8}
# LLaVA-OneVision's anyres canvases: 1x1 to 3x3 cells of the 16-pixel base resolution.
_PINPOINTS = [[16 * rows, 16 * columns] for rows in range(1, 4) for columns in range(1, 4)]


def _llava(image_size: int = 32, patch_size: int = 8) -> TinyFamily:
    """LLaVA-1.5: a CLIP ViT (its CLS token dropped) and an MLP projector before a Llama."""
    return TinyFamily(
        model="LlavaForConditionalGeneration", config="LlavaConfig", processor="LlavaProcessor",
        image_processor="CLIPImageProcessorPil",
        vision={"model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 64,
                "num_hidden_layers": 2, "num_attention_heads": 2, "image_size": image_size,
                "patch_size": patch_size, "projection_dim": 32},
        image={"size": {"shortest_edge": image_size}, "crop_size": {"height": image_size, "width": image_size}},
        special_tokens=("<unk>", "<s>", "</s>", "<pad>", "<image>"),
        tokens={"unk": "<unk>", "bos": "<s>", "eos": "</s>", "pad": "<pad>"},
        token_ids={"image_token_id": "<image>"},
        chat_template=_chat_template("{{ message['role'] | upper }}: ", "<image>\n", " ", "ASSISTANT:"),
        text={"model_type": "llama", "max_position_embeddings": 512},
        config_kwargs={"vision_feature_select_strategy": "default"},
        processor_kwargs={"patch_size": patch_size, "vision_feature_select_strategy": "default",
                          "num_additional_image_tokens": 1},
        extra_special_tokens={"image_token": "<image>"},
    )


def _qwen(prefix: str, vision: dict[str, Any], text: dict[str, Any]) -> TinyFamily:
    """A Qwen-VL generation (`prefix` of its class names): ChatML, <|image_pad|> and a 4-pixel-patch image grid."""
    return TinyFamily(
        model=f"{prefix}ForConditionalGeneration", config=f"{prefix}Config", processor=f"{prefix}Processor",
        image_processor="Qwen2VLImageProcessorPil",
        vision={"patch_size": 4, "spatial_merge_size": 2, "temporal_patch_size": 2, **vision},
        image={"patch_size": 4, "merge_size": 2, "temporal_patch_size": 2, "min_pixels": 16 * 16,
               "max_pixels": 32 * 32},
        special_tokens=("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                        "<|image_pad|>", "<|video_pad|>"),
        tokens={"eos": "<|im_end|>", "pad": "<|endoftext|>"},
        token_ids={"image_token_id": "<|image_pad|>", "video_token_id": "<|video_pad|>",
                   "vision_start_token_id": "<|vision_start|>", "vision_end_token_id": "<|vision_end|>"},
        chat_template=_chat_template("<|im_start|>{{ message['role'] }}\n",
                                     "<|vision_start|><|image_pad|><|vision_end|>", "<|im_end|>\n",
                                     "<|im_start|>assistant\n"),
        text=text,
    )


def _idefics(prefix: str, special_tokens: tuple[str, ...], tokens: dict[str, str]) -> TinyFamily:
    """Idefics3 or SmolVLM: pixel-shuffled ViT tiles (2x2 of 16 pixels plus a global view) before a Llama."""
    return TinyFamily(
        model=f"{prefix}ForConditionalGeneration", config=f"{prefix}Config", processor=f"{prefix}Processor",
        image_processor=f"{prefix}ImageProcessorPil",
        vision={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                "image_size": 16, "patch_size": 4},
        image={"do_image_splitting": True, "size": {"longest_edge": 32}, "max_image_size": {"longest_edge": 16}},
        special_tokens=(*special_tokens, "<fake_token_around_image>", "<image>", "<end_of_utterance>",
                        "<global-img>", *(f"<row_{row}_col_{col}>" for row in range(1, 7) for col in range(1, 7))),
        tokens={**tokens, "eos": "<end_of_utterance>"},
        token_ids={"image_token_id": "<image>"},
        chat_template=_chat_template("{{ message['role'] | capitalize }}:", "<image>", "<end_of_utterance>\n",
                                     "Assistant:", prefix=tokens["bos"]),
        text={"model_type": "llama"},
        config_kwargs={"scale_factor": 2},
        processor_kwargs={"image_seq_len": 4},  # (16 / 4)^2 patches / 2^2 pixel shuffle
    )


FAMILIES: dict[str, TinyFamily] = {
    "llava": _llava(),
    "qwen2_vl": _qwen("Qwen2VL", {"depth": 1, "embed_dim": 16, "hidden_size": 32, "num_heads": 2, "mlp_ratio": 2},
                      {"rope_parameters": _MROPE}),
    "qwen2_5_vl": _qwen("Qwen2_5_VL", {"depth": 2, "hidden_size": 16, "intermediate_size": 32, "num_heads": 2,
                                       "out_hidden_size": 32, "window_size": 16, "fullatt_block_indexes": [1]},
                        {"rope_parameters": _MROPE}),
    "qwen3_vl": _qwen("Qwen3VL", {"depth": 2, "hidden_size": 16, "intermediate_size": 32, "num_heads": 2,
                                  "out_hidden_size": 32, "num_position_embeddings": 16,
                                  "deepstack_visual_indexes": [0]},
                      {"head_dim": 16, "rope_parameters": {**_MROPE, "mrope_interleaved": True}}),
    "llava_onevision": TinyFamily(
        model="LlavaOnevisionForConditionalGeneration", config="LlavaOnevisionConfig",
        processor="LlavaOnevisionProcessor", image_processor="LlavaOnevisionImageProcessorPil", vision=_SIGLIP,
        image={"size": {"height": 16, "width": 16}, "image_grid_pinpoints": _PINPOINTS},
        special_tokens=("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"),
        tokens={"eos": "<|im_end|>", "pad": "<|endoftext|>"},
        token_ids={"image_token_id": "<image>", "video_token_id": "<video>"},
        chat_template=_chat_template("<|im_start|>{{ message['role'] }} ", "<image>\n", "<|im_end|>",
                                     "<|im_start|>assistant\n"),
        text={"model_type": "qwen2"},
        config_kwargs={"vision_feature_select_strategy": "full", "vision_feature_layer": -1,
                       "image_grid_pinpoints": _PINPOINTS},
        processor_kwargs={"num_image_tokens": 4, "vision_feature_select_strategy": "full"},
    ),
    "paligemma": TinyFamily(
        model="PaliGemmaForConditionalGeneration", config="PaliGemmaConfig", processor="PaliGemmaProcessor",
        image_processor="SiglipImageProcessorPil", vision=_SIGLIP,
        image={"size": {"height": 16, "width": 16}, "image_seq_length": 4},
        special_tokens=("<pad>", "<eos>", "<bos>", "<unk>", "<image>"),
        tokens={"unk": "<unk>", "bos": "<bos>", "eos": "<eos>", "pad": "<pad>"},
        token_ids={"image_token_id": "<image>"},
        chat_template=None,  # PaliGemma takes a plain prefix, no chat turns
        text={"model_type": "gemma", "head_dim": 16},
        config_kwargs={"projection_dim": 32, "hidden_size": 32},
        extra_special_tokens={"image_token": "<image>"},
    ),
    "molmo2": TinyFamily(
        model="Molmo2ForConditionalGeneration", config="Molmo2Config", processor="Molmo2Processor",
        image_processor="Molmo2ImageProcessorPil",  # ours: transformers has Molmo2's only for torchvision
        vision={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                "num_key_value_heads": 2, "head_dim": 8, "image_size": [32, 32], "patch_size": 4,
                "initializer_range": 0.2},
        # 32 px crops of 8x8 patches overlapping by 2 patches on each side, up to 4 crops plus the global view
        image={"size": {"height": 32, "width": 32}, "patch_size": 4, "overlap_margins": [2, 2], "max_crops": 4},
        special_tokens=("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|image|>", "<|video|>", "<im_patch>",
                        "<im_col>", "<im_start>", "<low_res_im_start>", "<frame_start>", "<im_end>", "<frame_end>",
                        "<im_low>"),
        tokens={"eos": "<|im_end|>", "pad": "<|endoftext|>"},
        token_ids={"image_start_token_id": "<im_start>", "low_res_image_start_token_id": "<low_res_im_start>",
                   "image_end_token_id": "<im_end>", "image_patch_id": "<im_patch>",
                   "frame_start_token_id": "<frame_start>", "frame_end_token_id": "<frame_end>"},
        chat_template=_chat_template("<|im_start|>{{ message['role'] }}\n", "<|image|>", "<|im_end|>\n",
                                     "<|im_start|>assistant\n"),
        text={"head_dim": 16, "additional_vocab_size": 0},  # the special tokens live in the one vocabulary here
        config_kwargs={"adapter_config": {"vision_feature_layer": [-1], "hidden_size": 16, "num_attention_heads": 2,
                                          "num_key_value_heads": 2, "head_dim": 8, "intermediate_size": 32,
                                          "text_hidden_size": 32, "initializer_range": 0.2}},
        extra_special_tokens={"image_token": "<|image|>"},
    ),
    "idefics3": _idefics("Idefics3", ("<|begin_of_text|>", "<|end_of_text|>"),
                         {"bos": "<|begin_of_text|>", "pad": "<|end_of_text|>"}),
    "smolvlm": _idefics("SmolVLM", ("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
                        {"bos": "<|im_start|>", "pad": "<|im_end|>"}),
}


def _tokenizer(family: TinyFamily):
    """A byte-level BPE over `_CORPUS` with the family's special tokens, trained in milliseconds."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=family.tokens.get("unk")))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=list(family.special_tokens),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator([_CORPUS] * 4, trainer)
    roles = {f"{role}_token": token for role, token in family.tokens.items()}
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, extra_special_tokens=family.extra_special_tokens,
                                   **roles)


def save_tiny(family: str | TinyFamily, folder: str | Path, seed: int = 0) -> Path:
    """Write the tiny model of `family` (a key of `FAMILIES`, or a row) to `folder`, ready for `hf:folder`."""
    import torch
    import transformers

    from evals.adapters.hf import image_only_processor, image_processor_class

    family = FAMILIES[family] if isinstance(family, str) else family
    folder = Path(folder)
    tokenizer = _tokenizer(family)
    image_processor = image_processor_class(family.image_processor)(**family.image)
    processor = image_only_processor(getattr(transformers, family.processor)).from_args_and_dict(
        [image_processor, tokenizer], {"chat_template": family.chat_template, **family.processor_kwargs})
    tokenizer = processor.tokenizer  # some processors add their own tokens (PaliGemma's <loc…>/<seg…>)
    ids = {role: tokenizer.convert_tokens_to_ids(token) for role, token in family.tokens.items()}
    text = {**_TEXT, **family.text, "vocab_size": len(tokenizer), "bos_token_id": ids.get("bos"),
            "eos_token_id": ids["eos"], "pad_token_id": ids["pad"]}
    token_ids = {key: tokenizer.convert_tokens_to_ids(token) for key, token in family.token_ids.items()}
    config = getattr(transformers, family.config)(vision_config=family.vision, text_config=text, **token_ids,
                                                  **family.config_kwargs)
    torch.manual_seed(seed)
    model = getattr(transformers, family.model)(config).eval()
    model.generation_config.pad_token_id = ids["pad"]
    model.generation_config.eos_token_id = ids["eos"]
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_tiny_llava(folder: str | Path, seed: int = 0, image_size: int = 32, patch_size: int = 8) -> Path:
    """LLaVA-1.5 layout: CLIP ViT + MLP projector + Llama, "USER: <image>\\n… ASSISTANT:" prompts."""
    return save_tiny(_llava(image_size, patch_size), folder, seed)


def save_tiny_qwen2_vl(folder: str | Path, seed: int = 0) -> Path:
    """Qwen2-VL layout: native-resolution ViT with 2x2 patch merging, M-RoPE Qwen2, ChatML prompts."""
    return save_tiny("qwen2_vl", folder, seed)


def save_tiny_qwen2_5_vl(folder: str | Path, seed: int = 0) -> Path:
    """Qwen2.5-VL layout: the Qwen2-VL recipe with windowed ViT attention (one full-attention block)."""
    return save_tiny("qwen2_5_vl", folder, seed)


def save_tiny_qwen3_vl(folder: str | Path, seed: int = 0) -> Path:
    """Qwen3-VL layout: learned ViT positions, DeepStack features, interleaved M-RoPE Qwen3."""
    return save_tiny("qwen3_vl", folder, seed)


def save_tiny_llava_onevision(folder: str | Path, seed: int = 0) -> Path:
    """LLaVA-OneVision layout: SigLIP + Qwen2 with anyres tiling over a grid of pinpoint resolutions."""
    return save_tiny("llava_onevision", folder, seed)


def save_tiny_paligemma(folder: str | Path, seed: int = 0) -> Path:
    """PaliGemma layout: SigLIP + Gemma, a plain "<image><bos>prefix\\n" prompt with full attention on the prefix."""
    return save_tiny("paligemma", folder, seed)


def save_tiny_idefics3(folder: str | Path, seed: int = 0) -> Path:
    """Idefics3 layout: SigLIP-style ViT + pixel shuffle + Llama, images split into tiles plus a global view."""
    return save_tiny("idefics3", folder, seed)


def save_tiny_smolvlm(folder: str | Path, seed: int = 0) -> Path:
    """SmolVLM layout: the Idefics3 recipe with SmolLM2's ChatML tokens."""
    return save_tiny("smolvlm", folder, seed)


def save_tiny_molmo2(folder: str | Path, seed: int = 0) -> Path:
    """Molmo2 layout: SigLIP-style ViT, attention-pooled 2x2 patches, Qwen3-style decoder, overlapping crops plus
    a global view, ChatML prompts; pre-processed by our torchvision-free image processor."""
    return save_tiny("molmo2", folder, seed)


# ---------------------------------------------------------------------------------------------------------------
# The four Molmo 0924 releases in their Hugging Face layout, shrunk, for `molmo:PATH` (docs/checkpoints.md).

MOLMO_IMAGE_TOKENS = ("<im_start>", "<im_end>", "<im_patch>", "<im_col>", "<|image|>")  # preprocessing_molmo.py's order
_MOLMO_EMBEDDING_ROWS = 384  # the tiny decoders' base embedding rows; the release's are a multiple of 128 too
_SPECIAL = {"lstrip": False, "normalized": False, "rstrip": False, "single_word": False}


@dataclass(frozen=True)
class ReleaseTokenizer:
    """How a Molmo release lays its tokenizer out, around a BPE vocabulary trained here.

    `in_vocab`: special tokens of the base vocabulary (GPT-NeoX's `|||IP_ADDRESS|||` and `<|padding|>` take ids 0 and
    1, its last three the top ids); `appended`: special tokens after it (Qwen2's `<|endoftext|>`, ...). With
    `pad_to_embedding`, `|<EXTRA_TOKENS_i>|` fill the ids up to the embedding's base rows, so that the image tokens
    take the `wte.new_embedding` rows (allenai/molmo `olmo/tokenizer.py` `build_tokenizer`); without, the image
    tokens follow at once and take padding rows of the base embedding. `config` is tokenizer_config.json less its
    token lists; `vocab_files` writes vocab.json and merges.txt too; with `list_additional`, tokenizer_config.json
    lists the tokens Molmo adds as `additional_special_tokens` (special_tokens_map.json always does).
    """

    in_vocab: tuple[tuple[str, ...], tuple[str, ...]]
    appended: tuple[str, ...]
    pad_to_embedding: bool
    config: dict[str, Any]
    vocab_files: bool
    list_additional: bool


@dataclass(frozen=True)
class TinyMolmoRelease:
    """One release, shrunk: the real preset's decoder kind, RoPE base and norm epsilon with `llm`'s sizes."""

    preset: str
    llm: dict[str, Any]
    tokenizer: ReleaseTokenizer
    generation_config: dict[str, Any] = field(default_factory=lambda: {"_from_model_config": True})
    generation_token_ids: dict[str, str] = field(default_factory=dict)  # generation_config key -> its token


_QWEN2_TOKENIZER = ReleaseTokenizer(  # Molmo-7B-D-0924's files, verified; Molmo-72B-0924 is built the same way
    in_vocab=((), ()),
    appended=("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
    pad_to_embedding=True,
    config={**PROCESSOR_CONFIG, "add_prefix_space": False, "bos_token": None, "clean_up_tokenization_spaces": False,
            "eos_token": "<|endoftext|>", "errors": "replace", "model_max_length": 32768,
            "pad_token": "<|endoftext|>", "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer",
            "unk_token": None},
    vocab_files=True,
    list_additional=True,
)
_MOLMO_RELEASES: dict[str, TinyMolmoRelease] = {
    "Molmo-7B-D-0924": TinyMolmoRelease(
        "Molmo-7B-D",
        {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2, "intermediate_size": 96},
        _QWEN2_TOKENIZER),
    "Molmo-72B-0924": TinyMolmoRelease(
        "Molmo-72B",
        {"hidden_size": 64, "num_layers": 3, "num_heads": 8, "num_kv_heads": 1, "intermediate_size": 80},
        _QWEN2_TOKENIZER),
    "Molmo-7B-O-0924": TinyMolmoRelease(  # OLMo-7B-1024's dolma2 tokenizer (cl100k with <|pad|>): inferred
        "Molmo-7B-O",
        {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 4, "intermediate_size": 96},
        ReleaseTokenizer(
            in_vocab=((), ()),
            appended=("<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|endofprompt|>",
                      "<|pad|>"),
            pad_to_embedding=False,
            config={**PROCESSOR_CONFIG, "add_prefix_space": False, "bos_token": None,
                    "clean_up_tokenization_spaces": False, "eos_token": "<|endoftext|>", "model_max_length": 8192,
                    "pad_token": "<|pad|>", "tokenizer_class": "GPT2Tokenizer", "unk_token": None},
            vocab_files=False,
            list_additional=True,
        )),
    "MolmoE-1B-0924": TinyMolmoRelease(  # OLMoE-1B-7B's GPT-NeoX tokenizer, as a public copy of the release has it
        "MolmoE-1B",
        {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 4, "intermediate_size": 32,
         "num_experts": 8, "num_experts_per_token": 3},
        ReleaseTokenizer(
            in_vocab=(("|||IP_ADDRESS|||", "<|padding|>"), ("|||EMAIL_ADDRESS|||", "|||PHONE_NUMBER|||",
                                                             "<|endoftext|>")),
            appended=(),
            pad_to_embedding=False,
            config={"add_bos_token": False, "add_eos_token": False, "add_prefix_space": False, "bos_token": None,
                    "clean_up_tokenization_spaces": True, "eos_token": "<|endoftext|>",
                    "model_max_length": 1000000000000000019884624838656, "pad_token": "<|padding|>",
                    "tokenizer_class": "GPTNeoXTokenizer", "unk_token": None},
            vocab_files=False,
            list_additional=False,
        ),
        {"_from_model_config": True, "transformers_version": "4.43.0.dev0"},
        {"eos_token_id": "<|endoftext|>", "pad_token_id": "<|padding|>"}),
}
MOLMO_RELEASES = tuple(_MOLMO_RELEASES)


def _molmo_tokenizer(spec: ReleaseTokenizer) -> tuple[Any, int]:
    """(a `tokenizers.Tokenizer` in the release's id layout, the size of its BPE model's vocabulary)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    learned = Tokenizer(models.BPE())
    learned.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    learned.train_from_iterator([_CORPUS] * 4, trainer)
    first, last = spec.in_vocab
    tokens = sorted(learned.get_vocab(), key=learned.token_to_id)
    vocab = {token: index for index, token in enumerate((*first, *tokens, *last))}
    merges = [tuple(pair) for pair in json.loads(learned.to_str())["model"]["merges"]]
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()

    def add(names: Sequence[str]) -> None:
        tokenizer.add_special_tokens([AddedToken(name, special=True, normalized=False) for name in names])

    add((*first, *last, *spec.appended))
    if spec.pad_to_embedding:
        add([f"|<EXTRA_TOKENS_{i}>|" for i in range(_MOLMO_EMBEDDING_ROWS - tokenizer.get_vocab_size())])
    add(MOLMO_IMAGE_TOKENS)
    return tokenizer, len(vocab)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _save_molmo_tokenizer(spec: ReleaseTokenizer, folder: Path) -> dict[str, int]:
    """Write the release's tokenizer files to `folder`; the ids of all its added tokens."""
    tokenizer, base = _molmo_tokenizer(spec)
    tokenizer.save(str(folder / "tokenizer.json"))
    if spec.vocab_files:
        tokenizer.model.save(str(folder))  # vocab.json, merges.txt
    added = {token.content: index for index, token in sorted(tokenizer.get_added_tokens_decoder().items())}
    molmo_added = [token for token in added if token.startswith("|<EXTRA_TOKENS_") or token in MOLMO_IMAGE_TOKENS]
    config = {**spec.config, "added_tokens_decoder": {
        str(index): {"content": token, **_SPECIAL, "special": True} for token, index in added.items()}}
    if spec.list_additional:
        config["additional_special_tokens"] = molmo_added
    _write_json(folder / "tokenizer_config.json", dict(sorted(config.items())))
    roles = {role: {"content": spec.config[role], **_SPECIAL} for role in ("eos_token", "pad_token")}
    _write_json(folder / "special_tokens_map.json", {"additional_special_tokens": molmo_added, **roles})
    _write_json(folder / "added_tokens.json", {token: index for token, index in added.items() if index >= base})
    return added


def save_tiny_molmo_release(release: str, folder: str | Path, seed: int = 0, max_shard_bytes: int = 250_000) -> Path:
    """Write the tiny `release` (a name in `MOLMO_RELEASES`) in that release's Hugging Face layout, for `molmo:folder`.

    The real preset's decoder kind, RoPE base and norm epsilon with tiny sizes and the tiny ViT; every tensor random
    (norm weights and padding embeddings too, so a tensor read under a wrong name changes the output), in bfloat16
    shards of at most `max_shard_bytes` with `model.safetensors.index.json`; the release's config files and tokenizer
    files with its special tokens at its ids.
    """
    import torch

    from molmo.checkpoint import random_init, save_hf_layout
    from molmo.config import TINY_VIT, MolmoConfig, get_preset

    spec = _MOLMO_RELEASES[release]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    added = _save_molmo_tokenizer(spec.tokenizer, folder)
    llm = replace(get_preset(spec.preset).llm, vocab_size=_MOLMO_EMBEDDING_ROWS, **spec.llm)
    model = random_init(MolmoConfig.connect(TINY_VIT, llm), seed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.02 * torch.randn(parameter.shape, generator=generator))
    save_hf_layout(model, folder, max_shard_bytes, dtype=torch.bfloat16, vocab_size=added[MOLMO_IMAGE_TOKENS[0]])
    generation = {**spec.generation_config, **{key: added[token] for key, token in spec.generation_token_ids.items()}}
    _write_json(folder / "generation_config.json", generation)
    return folder
