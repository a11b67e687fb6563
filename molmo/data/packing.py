"""Multi-annotation packing: one image and all of its annotations in one sequence, sharing the image tokens.

    BOS  <image tokens>  [prompt 1  answer 1 EOS]  [prompt 2  answer 2 EOS]  ...   (then padding)
    sub: 10000 ...       1 ...                     2 ...
    pos: 0 1 ... L-1     L L+1 ...                 L L+1 ...                        (restarts after the image)

Each token carries a subsegment id: the BOS and image tokens 10000, annotation k the id k. Token i may
attend to token j when j <= i (causal) and sub[j] >= sub[i]: so an annotation sees the image and itself,
never another annotation, and the image sees only the image. Padding gets id -1 (it may see everything
before it; its outputs carry no loss), so every row of the mask has at least one True.

Targets: `labels[t]` is the token to predict at position t (the next token) where that token belongs to
an answer (EOS included), else -100; `loss_weights[t]` is the annotation's weight times sqrt(1 / n) for n
annotations ("root_subsegments" weighting, as the release does at SFT), or times 1 with "none".
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from molmo.data.formatting import Turn
from molmo.image_preprocessing import MolmoImageConfig, preprocess_image
from molmo.image_tokens import IM_COL, IM_END, IM_PATCH, IM_START, image_input_idx, image_token_ids
from molmo.modeling import IGNORE_INDEX

IMAGE_SUBSEGMENT = 10000  # subsegment id of BOS and image tokens: larger than any annotation's
PAD_SUBSEGMENT = -1
LOSS_WEIGHTINGS = ("root_subsegments", "none")


def packed_attention_mask(subsegment_ids: torch.Tensor) -> torch.Tensor:
    """(..., T) subsegment ids -> (..., T, T) bool: query i may attend key j (causal, same or image)."""
    length = subsegment_ids.shape[-1]
    causal = torch.ones(length, length, dtype=torch.bool, device=subsegment_ids.device).tril()
    return causal & (subsegment_ids[..., None, :] >= subsegment_ids[..., :, None])


@dataclass(frozen=True, eq=False)
class PackedExample:
    """One image with its packed annotations, ready for the collator."""

    input_ids: np.ndarray  # (T,) int64
    labels: np.ndarray  # (T,) int64, next-token targets, IGNORE_INDEX where no loss
    loss_weights: np.ndarray  # (T,) float32, 0 where no loss
    subsegment_ids: np.ndarray  # (T,) int64
    position_ids: np.ndarray  # (T,) int64
    crops: np.ndarray  # (N, 576, 588) float32
    image_masks: np.ndarray  # (N, 576) float32
    image_input_idx: np.ndarray  # (N, 144) int64, token position receiving each pooled feature, -1 = none

    @property
    def attention_mask(self) -> np.ndarray:
        """(T, T) bool, True where query i may attend key j."""
        return packed_attention_mask(torch.from_numpy(self.subsegment_ids)).numpy()

    @property
    def num_loss_tokens(self) -> int:
        return int((self.labels != IGNORE_INDEX).sum())


class Packer:
    """Tokenises turns and lays one image and its turns out as one training sequence.

    tokenizer: any Hugging Face tokenizer holding the tokens <im_start>, <im_end>, <im_patch>, <im_col>.
    BOS is the tokenizer's BOS or, as for Qwen2 and OLMo which have none, its EOS.
    release_image_masks: give the image masks in the release's shifted layout, as `molmo.processing`
    does at inference by default (see `MolmoImageInputs.release_image_masks`); False: each crop its own.
    """

    def __init__(
        self,
        tokenizer,
        image_config: MolmoImageConfig,
        max_seq_len: int,
        loss_weighting: str = "root_subsegments",
        release_image_masks: bool = True,
    ) -> None:
        if loss_weighting not in LOSS_WEIGHTINGS:
            raise ValueError(f"unknown loss_weighting {loss_weighting!r}; expected one of {LOSS_WEIGHTINGS}")
        self.tokenizer = tokenizer
        self.image_config = image_config
        self.max_seq_len = max_seq_len
        self.loss_weighting = loss_weighting
        self.release_image_masks = release_image_masks
        vocab = tokenizer.get_vocab()
        missing = [t for t in (IM_START, IM_END, IM_PATCH, IM_COL) if t not in vocab]
        if missing:
            raise ValueError(f"the tokenizer lacks the image tokens {missing}; add them as special tokens")
        self.image_token_ids = {t: vocab[t] for t in (IM_START, IM_END, IM_PATCH, IM_COL)}
        if tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has no EOS token")
        self.eos_id: int = tokenizer.eos_token_id
        self.bos_id: int = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else self.eos_id
        self.pad_id: int = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def __call__(self, image: bytes | Image.Image, turns: Sequence[Turn]) -> PackedExample:
        """Pack one image and its turns; tokens past max_seq_len are cut (as the release truncates)."""
        if isinstance(image, bytes):
            image = Image.open(io.BytesIO(image))
        inputs = preprocess_image(image, self.image_config)
        image_tokens = image_token_ids(inputs.tiling, self.image_config, self.image_token_ids)
        prefix = np.concatenate([[self.bos_id], image_tokens])
        if len(prefix) >= self.max_seq_len:
            raise ValueError(
                f"the image takes {len(prefix)} tokens with tiling {inputs.tiling}: more than max_seq_len "
                f"{self.max_seq_len} leaves room for; lower max_crops or raise max_seq_len"
            )
        scale = math.sqrt(1.0 / len(turns)) if self.loss_weighting == "root_subsegments" and turns else 1.0
        ids, subsegments, positions = [prefix], [np.full(len(prefix), IMAGE_SUBSEGMENT)], [np.arange(len(prefix))]
        is_target, weights = [np.zeros(len(prefix), bool)], [np.zeros(len(prefix), np.float32)]
        for k, turn in enumerate(turns, start=1):
            prompt, answer = self.encode(turn.prompt), [*self.encode(turn.answer), self.eos_id]
            n = len(prompt) + len(answer)
            ids.append(np.array(prompt + answer, dtype=np.int64))
            subsegments.append(np.full(n, k))
            positions.append(len(prefix) + np.arange(n))
            is_target.append(np.arange(n) >= len(prompt))
            weights.append(np.full(n, turn.weight * scale, np.float32))
        input_ids = np.concatenate(ids)[: self.max_seq_len].astype(np.int64)
        target_token = np.concatenate(is_target)[: self.max_seq_len]
        token_weight = np.concatenate(weights)[: self.max_seq_len]
        # The target at position t is token t + 1: shift left by one, nothing to predict after the last token.
        labels = np.full_like(input_ids, IGNORE_INDEX)
        labels[:-1] = np.where(target_token[1:], input_ids[1:], IGNORE_INDEX)
        loss_weights = np.zeros(len(input_ids), np.float32)
        loss_weights[:-1] = np.where(target_token[1:], token_weight[1:], 0.0)
        pooled_idx = image_input_idx(inputs.tiling, self.image_config)
        idx = np.where(pooled_idx >= 0, pooled_idx + 1, -1)  # +1: the image starts after BOS
        return PackedExample(
            input_ids=input_ids,
            labels=labels,
            loss_weights=loss_weights,
            subsegment_ids=np.concatenate(subsegments)[: self.max_seq_len].astype(np.int64),
            position_ids=np.concatenate(positions)[: self.max_seq_len].astype(np.int64),
            crops=inputs.crops,
            image_masks=inputs.release_image_masks if self.release_image_masks else inputs.image_masks,
            image_input_idx=idx.astype(np.int64),
        )


def collate(examples: Sequence[PackedExample], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad packed examples into one batch for `MolmoForCausalLM.forward` (plus labels and loss weights).

    Returns input_ids (B, T), labels (B, T), loss_weights (B, T), attention_mask (B, 1, T, T) bool,
    position_ids (B, T), images (B, N, 576, 588), image_masks (B, N, 576), image_input_idx (B, N, 144)
    with T and N the largest in the batch; padded tokens have label -100, weight 0, subsegment -1;
    padded crop slots are zeros with image_input_idx -1 (no token receives them).
    """
    batch, length = len(examples), max(len(e.input_ids) for e in examples)
    crops = max(len(e.crops) for e in examples)
    _, patches, patch_dim = examples[0].crops.shape
    pooled = examples[0].image_input_idx.shape[1]
    out = {
        "input_ids": torch.full((batch, length), pad_id, dtype=torch.long),
        "labels": torch.full((batch, length), IGNORE_INDEX, dtype=torch.long),
        "loss_weights": torch.zeros(batch, length),
        "position_ids": torch.zeros(batch, length, dtype=torch.long),
        "images": torch.zeros(batch, crops, patches, patch_dim),
        "image_masks": torch.zeros(batch, crops, patches),
        "image_input_idx": torch.full((batch, crops, pooled), -1, dtype=torch.long),
    }
    subsegments = torch.full((batch, length), PAD_SUBSEGMENT, dtype=torch.long)
    for b, example in enumerate(examples):
        t, n = len(example.input_ids), len(example.crops)
        out["input_ids"][b, :t] = torch.from_numpy(example.input_ids)
        out["labels"][b, :t] = torch.from_numpy(example.labels)
        out["loss_weights"][b, :t] = torch.from_numpy(example.loss_weights)
        out["position_ids"][b, :t] = torch.from_numpy(example.position_ids)
        subsegments[b, :t] = torch.from_numpy(example.subsegment_ids)
        out["images"][b, :n] = torch.from_numpy(example.crops)
        out["image_masks"][b, :n] = torch.from_numpy(example.image_masks)
        out["image_input_idx"][b, :n] = torch.from_numpy(example.image_input_idx)
    out["attention_mask"] = packed_attention_mask(subsegments)[:, None]
    return out
