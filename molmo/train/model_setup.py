"""The model and tokenizer a training config names, with the training-only hooks on the model: residual dropout on
the LLM's blocks and activation checkpointing.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from molmo.config import MolmoConfig, get_preset
from molmo.train.config import TrainingConfig
from molmo.train.distributed import Distributed, is_sharded


def load_tokenizer(config: TrainingConfig) -> Any:
    """The config's tokenizer with Molmo's image tokens: "tiny" (trained in milliseconds) or a Hugging Face one."""
    from molmo.processing import add_image_tokens, tiny_tokenizer

    model_config = get_preset(config.model.preset)
    name = config.model.tokenizer
    if name == "tiny":
        return tiny_tokenizer(model_config.llm.vocab_size)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name)
    ids = add_image_tokens(tokenizer)
    if max(ids.values()) >= model_config.llm.embedding_rows:
        raise ValueError(f"{config.path}: model.tokenizer: image token ids {ids} lie past the "
                         f"{model_config.llm.embedding_rows} embedding rows of {config.model.preset}")
    return tokenizer


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 autocast where asked for (or on GPU with "auto"); None: plain fp32."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def transformer_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The repeated blocks (items of a ModuleList, outermost lists only), with their names."""
    blocks: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and not any(name.startswith(f"{b}.") for b, _ in blocks):
            blocks.extend((f"{name}.{k}", block) for k, block in enumerate(module))
    return blocks


def checkpoint_activations(blocks: Sequence[nn.Module]) -> None:
    """Recompute each block's activations during backward instead of storing them (memory for compute)."""
    for block in blocks:
        block.forward = functools.partial(torch.utils.checkpoint.checkpoint, block.forward, use_reentrant=False)


class ResidualDropout:
    """Dropout on each LLM block's residual update, at a per-token rate.

    Answer tokens get max(rate, response_rate), other tokens `rate` (stage 1: 0 and 0.1, "text-only
    dropout"; stage 2: 0.1 and 0: `residual_dropout` and `response_residual_dropout` in allenai/molmo's
    `launch_scripts/train_captioner.py` and `train_multitask_model.py`). The release drops the attention and MLP
    outputs separately before each residual add; the decoder here comes whole from transformers, so the block's
    whole update (output - input) is dropped once, at the same rate. Set `response_mask` (B, T) before each forward.
    """

    def __init__(self, blocks: Sequence[nn.Module], rate: float, response_rate: float) -> None:
        self.rate, self.response_rate = rate, response_rate
        self.response_mask: torch.Tensor | None = None
        for block in blocks:
            block.register_forward_hook(self._hook, with_kwargs=True)

    def _hook(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
        if not module.training:
            return output
        hidden_in = args[0] if args else kwargs["hidden_states"]
        hidden_out = output[0] if isinstance(output, tuple) else output
        rate = torch.full(hidden_in.shape[:-1], self.rate, device=hidden_in.device)
        if self.response_mask is not None and self.response_rate > self.rate:
            rate = rate.masked_fill(self.response_mask.to(hidden_in.device), self.response_rate)
        rate = rate[..., None]  # (B, T, 1)
        keep = torch.rand_like(hidden_out, dtype=torch.float32) >= rate
        update = (hidden_out - hidden_in) * keep / (1.0 - rate)
        dropped = hidden_in + update.to(hidden_out.dtype)
        return (dropped, *output[1:]) if isinstance(output, tuple) else dropped


def _load_pretrained_parts(model: nn.Module, config: TrainingConfig) -> None:
    """Stage 1's start: the ViT and the decoder from their own pre-trained checkpoints, if the config names them."""
    from molmo.pretrained_parts import load_language_model, load_vision_tower

    for key, load in (("init_vision", load_vision_tower), ("init_language", load_language_model)):
        source = getattr(config.model, key)
        if source:
            try:
                load(model, source)
            except (ValueError, OSError) as error:
                raise ValueError(f"{config.path}: model.{key}: {error}") from None


def build_model(config: TrainingConfig, model_config: MolmoConfig,
                env: Distributed) -> tuple[nn.Module, ResidualDropout | None]:
    """The model with its starting weights and training hooks, and its residual dropout (None at rate 0).

    Under FSDP only rank 0 builds the weights (on the CPU); the other ranks hold a model on the meta device (shapes,
    no memory) until `molmo.train.distributed.parallelize` shards it and fills it from rank 0. Seed torch first:
    the random initial weights come from its generator.
    """
    from molmo.modeling import MolmoForCausalLM

    sharded = is_sharded(env, config.train.parallelism)
    if sharded and not env.is_main:
        with torch.device("meta"):
            model = MolmoForCausalLM(model_config)
    else:
        model = MolmoForCausalLM(model_config)
        if config.model.init_checkpoint:
            from molmo.checkpoint import from_pretrained

            start, _ = from_pretrained(config.model.init_checkpoint)
            if start.config != model_config:
                raise ValueError(f"{config.path}: model.init_checkpoint {config.model.init_checkpoint} "
                                 f"is not a {config.model.preset} model")
            model.load_state_dict(start.state_dict())
        _load_pretrained_parts(model, config)
        if not sharded:
            model.to(env.device)  # under FSDP, fully_shard moves each shard to the device itself
    model.train()
    blocks = transformer_blocks(model)
    dropout = None
    if config.model.residual_dropout or config.model.response_residual_dropout:
        llm_blocks = [block for name, block in blocks if name.startswith("language_model.")]
        if not llm_blocks:
            raise ValueError("residual dropout needs the LLM's blocks in a ModuleList under language_model")
        dropout = ResidualDropout(llm_blocks, config.model.residual_dropout, config.model.response_residual_dropout)
    if config.train.activation_checkpointing:
        checkpoint_activations([block for _, block in blocks])
    return model, dropout
