"""Batched decoding for `MolmoForCausalLM`: greedy or sampled (temperature, top-p), with or without a KV cache.

With the cache, the prompt (and its image) is run once and each step feeds one token per row; without it,
every step re-runs the whole sequence, image included (the reference path of `bench/molmo_generation.py`).
Rows are left-padded (`MolmoProcessor`), so every row's next token lands at the same index; a row stops at
EOS, after which it is fed padding that nobody reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from molmo.modeling import MolmoForCausalLM
from molmo.processing import MolmoBatch, MolmoProcessor


@dataclass(frozen=True)
class GenerationResult:
    """Per row: the new token ids (EOS and anything after it dropped) and their text."""

    token_ids: list[list[int]]
    texts: list[str]


def sample_top_p(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator) -> torch.Tensor:
    """logits (B, V) -> (B,) ids drawn from softmax(logits / temperature), cut to the top-p nucleus.

    The nucleus is the smallest set of most likely tokens whose probability reaches `top_p`.
    """
    probs = torch.softmax(logits / temperature, dim=-1)  # (B, V)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(dim=-1) - sorted_probs >= top_p  # mass before this token already enough
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs.masked_fill(outside, 0.0))
    return torch.multinomial(probs, num_samples=1, generator=generator)[:, 0]


@torch.inference_mode()
def generate(
    model: MolmoForCausalLM,
    processor: MolmoProcessor,
    batch: MolmoBatch,
    max_new_tokens: int = 32,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    use_cache: bool = True,
    on_step: Callable[[torch.Tensor], None] | None = None,
) -> GenerationResult:
    """Continue every row of `batch` by up to `max_new_tokens`, stopping each row at the processor's EOS.

    Greedy unless `do_sample`; sampling draws from a torch.Generator seeded with `seed`, so equal
    arguments give equal outputs. `on_step`, when given, receives each step's new tokens (B,) as they are
    chosen (padding for rows already finished), so a caller can stream the answers.
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    if do_sample and (temperature <= 0 or not 0 < top_p <= 1):
        raise ValueError("sampling needs temperature > 0 and 0 < top_p <= 1")
    device = next(model.parameters()).device
    batch = batch.to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    image_inputs = {"images": batch.images, "image_masks": batch.image_masks,
                    "image_input_idx": batch.image_input_idx}
    input_ids, attention_mask = batch.input_ids, batch.attention_mask  # (B, T), growing by one per step
    finished = torch.zeros(len(input_ids), dtype=torch.bool, device=device)
    eos = processor.eos_token_id
    new_tokens = []
    step_ids, past = input_ids, None
    for step in range(max_new_tokens):
        if use_cache:  # the image is read at the first step only: later steps feed one token per row
            out = model(step_ids, **(image_inputs if step == 0 else {}), attention_mask=attention_mask,
                        past_key_values=past, use_cache=True, logits_to_keep=1)
            past = out.past_key_values
        else:
            out = model(input_ids, **image_inputs, attention_mask=attention_mask, logits_to_keep=1)
        logits = out.logits[:, -1].float()  # (B, V)
        token = sample_top_p(logits, temperature, top_p, generator) if do_sample else logits.argmax(dim=-1)
        token = token.masked_fill(finished, processor.pad_token_id)  # (B,)
        new_tokens.append(token)
        if on_step is not None:
            on_step(token)
        finished |= token == eos
        if bool(finished.all()):
            break
        step_ids = token[:, None]  # (B, 1)
        input_ids = torch.cat([input_ids, step_ids], dim=1)
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones(len(token), 1)], dim=1)
    rows = torch.stack(new_tokens, dim=1).tolist()  # (B, steps)
    token_ids = [row[: row.index(eos)] if eos in row else row for row in rows]
    return GenerationResult(token_ids, [processor.decode(ids) for ids in token_ids])
