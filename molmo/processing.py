"""Text and images -> Molmo's model inputs, for one example or a left-padded batch.

One example is laid out as the release lays it out (the release's `preprocessing_molmo.py`; allenai/molmo
`olmo/data/model_preprocessor.py`):

    BOS  <image tokens: global view, then the high-res grid>  " User: {style}: {prompt} Assistant:"

BOS is the tokenizer's own, or its EOS where it has none (Qwen2 and OLMo tokenizers, as the release
does). The four image tokens are added to any Hugging Face tokenizer that lacks them. Batches are padded
on the left so that every row's next token comes at the same index during generation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from molmo.image_preprocessing import MOLMO_TRAIN_CONFIG, MolmoImageConfig, preprocess_image
from molmo.image_tokens import IM_COL, IM_END, IM_PATCH, IM_START, image_input_idx, image_token_ids

if TYPE_CHECKING:
    import torch

IMAGE_TOKENS = (IM_START, IM_END, IM_PATCH, IM_COL)
EOS_TOKEN = "<|endoftext|>"  # the Qwen2 / OLMo end-of-text token, also their BOS in Molmo


def format_prompt(prompt: str, style: str | None = None) -> str:
    """The release's user turn: `" User: {style}: {prompt} Assistant:"` (no style tag: demo / chat style)."""
    text = f"{style}: {prompt}" if style else prompt
    return f" User: {text} Assistant:"


def add_image_tokens(tokenizer: Any) -> dict[str, int]:
    """Add `<im_start>`, `<im_end>`, `<im_patch>`, `<im_col>` as special tokens where missing; their ids."""
    vocab = tokenizer.get_vocab()
    missing = [token for token in IMAGE_TOKENS if token not in vocab]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    return {token: tokenizer.convert_tokens_to_ids(token) for token in IMAGE_TOKENS}


_TINY_CORPUS = (
    " User: Assistant: What is the value of the tallest bar? How many shapes are there? What colour is the car? "
    "Which option is correct? What does the sign say? Describe this image. Point to the cat. "
    "vqa2: chart_qa: doc_qa: info_qa: text_vqa: a_okvqa_mc: ai2_diagram: "
    "A: B: C: D: yes no red blue green circle square triangle 0 1 2 3 4 5 6 7 8 9 10 100"
)


def tiny_tokenizer(vocab_size: int = 512) -> Any:
    """A byte-level BPE tokenizer trained in milliseconds, laid out like the release's Qwen2 tokenizer.

    `<|endoftext|>` is EOS, pad and (there being no BOS) BOS; the base vocabulary is padded with
    `|<EXTRA_TOKENS_i>|` to exactly `vocab_size` (the tiny presets' embedding size), so the image tokens
    that follow get ids vocab_size .. vocab_size + 3, in the image-token rows of the embedding.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator([_TINY_CORPUS] * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=EOS_TOKEN, pad_token=EOS_TOKEN)
    tokenizer.add_tokens([f"|<EXTRA_TOKENS_{i}>|" for i in range(vocab_size - len(tokenizer))], special_tokens=True)
    add_image_tokens(tokenizer)
    return tokenizer


@dataclass(frozen=True, eq=False)
class MolmoExample:
    """One tokenised example (numpy); `image_input_idx` holds positions in `input_ids`, negative = unused."""

    input_ids: np.ndarray  # (T,) int64
    prompt: str  # the text after the image, as tokenised
    crops: np.ndarray | None = None  # (N, 576, 588) float32
    image_masks: np.ndarray | None = None  # (N, 576) float32
    image_input_idx: np.ndarray | None = None  # (N, 144) int64


@dataclass(frozen=True, eq=False)
class MolmoBatch:
    """Left-padded model inputs; the image tensors are None when no row has an image."""

    input_ids: torch.Tensor  # (B, T) long
    attention_mask: torch.Tensor  # (B, T) bool, False on left padding
    prompts: list[str]
    images: torch.Tensor | None = None  # (B, N, 576, 588) float, padding crops all zero
    image_masks: torch.Tensor | None = None  # (B, N, 576) float, -1 on padding crops
    image_input_idx: torch.Tensor | None = None  # (B, N, 144) long, -1 on padding crops

    def to(self, device: str | torch.device) -> MolmoBatch:
        """The same batch on `device`."""
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return MolmoBatch(move(self.input_ids), move(self.attention_mask), self.prompts, move(self.images),
                          move(self.image_masks), move(self.image_input_idx))

    def model_inputs(self) -> dict[str, torch.Tensor | None]:
        """Keyword arguments for `MolmoForCausalLM.forward`."""
        return {"input_ids": self.input_ids, "images": self.images, "image_masks": self.image_masks,
                "image_input_idx": self.image_input_idx, "attention_mask": self.attention_mask}


class MolmoProcessor:
    """Tokenizer + image pre-processor for one model.

    release_image_masks: feed the image masks in the release's shifted layout (see
    `MolmoImageInputs.release_image_masks`), which its weights were trained with; False gives each crop
    its own mask.
    """

    def __init__(self, tokenizer: Any, image_config: MolmoImageConfig = MOLMO_TRAIN_CONFIG,
                 release_image_masks: bool = True) -> None:
        self.tokenizer = tokenizer
        self.image_config = image_config
        self.release_image_masks = release_image_masks
        self.image_token_ids = add_image_tokens(tokenizer)
        if tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has no EOS token, which Molmo needs to end answers")
        self.eos_token_id: int = tokenizer.eos_token_id
        self.bos_token_id: int = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else self.eos_token_id
        self.pad_token_id: int = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_token_id

    def encode(self, prompt: str, image: Image.Image | np.ndarray | None = None, style: str | None = None,
               max_crops: int | None = None) -> MolmoExample:
        """One example: BOS, the image's tokens (if any), then the formatted user turn."""
        text = format_prompt(prompt, style)
        ids = [self.bos_token_id]
        crops = masks = idx = None
        if image is not None:
            config = self.image_config if max_crops is None else replace(self.image_config, max_crops=max_crops)
            inputs = preprocess_image(image, config)
            idx = image_input_idx(inputs.tiling, config)  # (N, 144), relative to the image's first token
            idx = np.where(idx >= 0, idx + len(ids), idx)
            ids.extend(image_token_ids(inputs.tiling, config, self.image_token_ids).tolist())
            crops = inputs.crops
            masks = inputs.release_image_masks if self.release_image_masks else inputs.image_masks
        ids.extend(self.tokenizer.encode(text, add_special_tokens=False))
        return MolmoExample(np.asarray(ids, dtype=np.int64), text, crops, masks, idx)

    def collate(self, examples: Sequence[MolmoExample]) -> MolmoBatch:
        """Left-pad examples into one batch; rows without an image (or with fewer crops) get padding crops."""
        import torch

        batch, length = len(examples), max(len(e.input_ids) for e in examples)
        input_ids = np.full((batch, length), self.pad_token_id, dtype=np.int64)
        attention_mask = np.zeros((batch, length), dtype=bool)
        for row, example in enumerate(examples):
            input_ids[row, length - len(example.input_ids):] = example.input_ids
            attention_mask[row, length - len(example.input_ids):] = True
        result = MolmoBatch(torch.from_numpy(input_ids), torch.from_numpy(attention_mask),
                            [e.prompt for e in examples])
        with_image = [e for e in examples if e.crops is not None]
        if not with_image:
            return result
        crops_n = max(len(e.crops) for e in with_image)
        patches, patch_dim = with_image[0].crops.shape[1:]
        tokens = with_image[0].image_input_idx.shape[1]
        images = np.zeros((batch, crops_n, patches, patch_dim), dtype=np.float32)
        image_masks = np.full((batch, crops_n, patches), -1.0, dtype=np.float32)
        idx = np.full((batch, crops_n, tokens), -1, dtype=np.int64)
        for row, example in enumerate(examples):
            if example.crops is None:
                continue
            shift = length - len(example.input_ids)
            n = len(example.crops)
            images[row, :n] = example.crops
            image_masks[row, :n] = example.image_masks
            idx[row, :n] = np.where(example.image_input_idx >= 0, example.image_input_idx + shift,
                                    example.image_input_idx)
        return replace(result, images=torch.from_numpy(images), image_masks=torch.from_numpy(image_masks),
                       image_input_idx=torch.from_numpy(idx))

    def __call__(self, prompts: Sequence[str], images: Sequence[Image.Image | np.ndarray | None] | None = None,
                 styles: Sequence[str | None] | None = None,
                 max_crops: Sequence[int | None] | int | None = None) -> MolmoBatch:
        """Encode and collate a batch; `images`, `styles`, `max_crops` are per prompt (None = none / default)."""
        count = len(prompts)
        images = list(images) if images is not None else [None] * count
        styles = list(styles) if styles is not None else [None] * count
        crops = list(max_crops) if isinstance(max_crops, Sequence) else [max_crops] * count
        if not len(images) == len(styles) == len(crops) == count:
            raise ValueError("images, styles and max_crops need one entry per prompt")
        return self.collate([self.encode(*args) for args in zip(prompts, images, styles, crops, strict=True)])

    def decode(self, token_ids: Sequence[int]) -> str:
        """Generated ids -> text, special tokens dropped."""
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True)
