"""Molmo (0924) in one module: a CLIP ViT, a 2 x 2 attention-pooling connector, and a decoder-only LLM.

    crops (M, 576, 588) --ViT--> layers -2 and -9, concatenated (M, 576, 2 * 1024)
        + pad_embed[0] on all-padding patches, pad_embed[1] on partly padded ones
        --2 x 2 attention pool, query = window mean--> (M, 144, 1024)
        --SwiGLU projector--> (M, 144, d_model)
    token embeddings (B, T, d_model), and each pooled feature added at the `<im_patch>` position
        that `image_input_idx` names --decoder (Qwen2 / OLMo-2 / OLMoE from transformers)--> logits (B, T, V)

The ViT and the connector are written here (the Molmo paper, arXiv:2409.17146, its Architecture section), after
allenai/molmo `olmo/image_vit.py` and `olmo/model.py` (`MolmoVisionBackbone`) and the releases' `modeling_molmo.py`;
the decoder is transformers' own model class built from its config class, so its attention, RoPE and KV cache are the
library's; docs/checkpoints.md says where that decoder computes exactly what each release's remote code computes. The
three parts are the submodules `vision_encoder`, `connector`, `language_model`; `loss_sums` (at the end) is the
training objective.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from molmo.config import LLMConfig, MolmoConfig, VisionConfig


@dataclass
class MolmoOutput:
    """Next-token logits over the base vocabulary and, with `use_cache`, the updated KV cache."""

    logits: torch.Tensor  # (B, T, V)
    past_key_values: Any = None  # a transformers Cache, or None


# ---------------------------------------------------------------------------------------------------------------
# Vision encoder: OpenAI CLIP ViT-L/14-336, pre-LN, quick-GELU.


class VisionAttention(nn.Module):
    """Bidirectional multi-head self-attention over one crop's tokens."""

    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        width = config.hidden_size
        self.num_heads = config.num_heads
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.o_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        crops, length, width = x.shape  # (M, L, C)
        heads = self.num_heads

        def split(t: torch.Tensor) -> torch.Tensor:  # (M, L, C) -> (M, H, L, C / H)
            return t.view(crops, length, heads, width // heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)))
        return self.o_proj(out.transpose(1, 2).reshape(crops, length, width))  # (M, L, C)


class VisionMLP(nn.Module):
    """fc2(quick_gelu(fc1 x)), CLIP's MLP."""

    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.fc1(x)
        return self.fc2(hidden * torch.sigmoid(1.702 * hidden))  # quick GELU


class VisionBlock(nn.Module):
    """Pre-LN transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attn = VisionAttention(config)
        self.mlp_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = VisionMLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x))
        return x + self.mlp(self.mlp_norm(x))


class VisionEncoder(nn.Module):
    """Crops of flattened patches -> the chosen blocks' outputs, concatenated per patch (class token dropped).

    The patch embedding is a bias-free Linear over each patch's 588 values in "(dh dw c)" order, as the
    release stores it. Only blocks up to the deepest feature layer are built.
    """

    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        width = config.hidden_size
        self.feature_indices = config.feature_indices
        self.patch_embedding = nn.Linear(config.patch_dim, width, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(width) * width**-0.5)
        self.positional_embedding = nn.Parameter(torch.randn(config.num_positions, width) * width**-0.5)
        self.pre_ln = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.blocks = nn.ModuleList(VisionBlock(config) for _ in range(config.num_built_layers))

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """crops (M, 576, 588) -> features (M, 576, len(feature_layers) * C)."""
        x = self.patch_embedding(crops)  # (M, 576, C)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)  # (M, 1, C)
        x = self.pre_ln(torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype))  # (M, 577, C)
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        features = torch.cat([outputs[i] for i in self.feature_indices], dim=-1)  # (M, 577, F * C)
        return features[:, 1:]  # (M, 576, F * C)


# ---------------------------------------------------------------------------------------------------------------
# Connector: padding embeddings, 2 x 2 attention pooling ("attention-meanq"), SwiGLU projector.


class AttentionPool(nn.Module):
    """One query per window, the mean of its patches, attends over the window's patches (no residual)."""

    def __init__(self, in_features: int, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q_proj = nn.Linear(in_features, hidden_size)
        self.k_proj = nn.Linear(in_features, hidden_size)
        self.v_proj = nn.Linear(in_features, hidden_size)
        self.o_proj = nn.Linear(hidden_size, hidden_size)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """windows (W, K, F): K patches each -> (W, hidden)."""
        count, size, _ = windows.shape
        heads = self.num_heads
        head_dim = self.o_proj.in_features // heads
        query = self.q_proj(windows.mean(dim=1, keepdim=True)).view(count, 1, heads, head_dim).transpose(1, 2)
        key = self.k_proj(windows).view(count, size, heads, head_dim).transpose(1, 2)  # (W, H, K, hd)
        value = self.v_proj(windows).view(count, size, heads, head_dim).transpose(1, 2)  # (W, H, K, hd)
        scores = query @ key.transpose(-1, -2) * head_dim**-0.5  # (W, H, 1, K)
        weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(value.dtype)  # softmax in float32
        pooled = (weights @ value).transpose(1, 2).reshape(count, heads * head_dim)  # (W, hidden)
        return self.o_proj(pooled)


class SwiGLU(nn.Module):
    """down(silu(gate x) * up x), no biases: the release's image projector (w1 = gate, w3 = up, w2 = down)."""

    def __init__(self, in_features: int, hidden_size: int, out_features: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(in_features, hidden_size, bias=False)
        self.up_proj = nn.Linear(in_features, hidden_size, bias=False)
        self.down_proj = nn.Linear(hidden_size, out_features, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Connector(nn.Module):
    """ViT features of a crop -> one LLM-width vector per 2 x 2 patch window, row-major."""

    def __init__(self, config: MolmoConfig) -> None:
        super().__init__()
        connector = config.connector
        self.grid = config.vision.grid
        self.pool_size = connector.pool_size
        # Row 0: added to patches that are all padding; row 1: to partly padded ones (zero-initialised).
        self.pad_embed = nn.Parameter(torch.zeros(2, config.vit_feature_size))
        self.pool = AttentionPool(config.vit_feature_size, connector.hidden_size, connector.num_heads)
        self.projector = SwiGLU(connector.hidden_size, connector.projector_hidden_size, config.llm.hidden_size)

    def forward(self, features: torch.Tensor, image_masks: torch.Tensor | None = None) -> torch.Tensor:
        """features (M, 576, F), image_masks (M, 576) real-pixel fraction per patch -> (M, 144, d_model).

        A mask of 0 marks an all-padding patch, one in [0, 1) other than 0 (the release's -1 rows too) a partly
        padded one; without masks no padding embedding is added.
        """
        if image_masks is not None:
            all_pad = (image_masks == 0).to(features.dtype)[..., None]  # (M, 576, 1)
            partial_pad = ((image_masks < 1) & (image_masks != 0)).to(features.dtype)[..., None]
            pad_embed = self.pad_embed.to(features.dtype)
            features = features + all_pad * pad_embed[0] + partial_pad * pad_embed[1]
        crops, _, width = features.shape
        side, pool = self.grid // self.pool_size, self.pool_size
        windows = (
            features.view(crops, side, pool, side, pool, width)  # (M, 12, 2, 12, 2, F)
            .permute(0, 1, 3, 2, 4, 5)  # (M, 12, 12, 2, 2, F)
            .reshape(crops * side * side, pool * pool, width)  # (M * 144, 4, F)
        )
        pooled = self.pool(windows).view(crops, side * side, -1)  # (M, 144, hidden)
        return self.projector(pooled)  # (M, 144, d_model)


# ---------------------------------------------------------------------------------------------------------------
# Language model: a transformers decoder plus an output layer over the base vocabulary.


def decoder_config(config: LLMConfig) -> Any:
    """The transformers config of the decoder for `config.kind`, its vocabulary sized for the image-token rows."""
    from transformers import Olmo2Config, OlmoeConfig, Qwen2Config

    common = dict(
        vocab_size=config.embedding_rows,
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads,
        rope_parameters={"rope_type": "default", "rope_theta": config.rope_theta},
        rms_norm_eps=config.rms_norm_eps,
        max_position_embeddings=config.max_position_embeddings,
        attention_dropout=0.0,
        tie_word_embeddings=False,
        pad_token_id=None,
        bos_token_id=None,
        eos_token_id=None,
        attn_implementation="sdpa",  # takes the boolean (B, 1, T, S) masks `causal_mask` builds
    )
    if config.kind == "qwen2":
        return Qwen2Config(**common, use_sliding_window=False)
    if config.kind == "olmo2":
        return Olmo2Config(**common, attention_bias=False)
    return OlmoeConfig(**common, num_experts=config.num_experts, num_experts_per_tok=config.num_experts_per_token,
                       norm_topk_prob=False)


def build_decoder(config: LLMConfig) -> nn.Module:
    """The transformers decoder (no LM head) for `config.kind`."""
    from transformers import Olmo2Model, OlmoeModel, Qwen2Model

    model_class = {"qwen2": Qwen2Model, "olmo2": Olmo2Model, "olmoe": OlmoeModel}[config.kind]
    return model_class(decoder_config(config))


class LanguageModel(nn.Module):
    """`model`: the transformers decoder; `lm_head`: hidden -> logits over the base vocabulary (untied)."""

    def __init__(self, config: LLMConfig) -> None:
        super().__init__()
        self.model = build_decoder(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)


def causal_mask(attention_mask: torch.Tensor | None, batch: int, length: int, past: int,
                device: torch.device) -> torch.Tensor:
    """The boolean mask the decoder gets, (B, 1, T, past + T), True = may attend.

    attention_mask: None (every token real), a (B, past + T) padding mask combined with causality, or a
    (B, 1, T, past + T) mask used as given (e.g. a block mask over packed annotations). Every token may
    always attend to itself, so a fully masked padding row stays finite instead of turning NaN.
    """
    keys = past + length
    if attention_mask is None or attention_mask.dim() == 2:
        query_pos = torch.arange(past, keys, device=device)[:, None]  # (T, 1)
        mask = (torch.arange(keys, device=device)[None, :] <= query_pos)[None, None]  # (1, 1, T, S)
        if attention_mask is not None:
            if attention_mask.shape != (batch, keys):
                raise ValueError(f"a 2-D attention_mask must be (B, cached + T) = {(batch, keys)}, "
                                 f"got {tuple(attention_mask.shape)}")
            mask = mask & attention_mask.to(device=device, dtype=torch.bool)[:, None, None, :]
        mask = mask.expand(batch, 1, length, keys)
    elif attention_mask.dim() == 4:
        if attention_mask.shape != (batch, 1, length, keys):
            raise ValueError(f"a 4-D attention_mask must be (B, 1, T, cached + T) = {(batch, 1, length, keys)}, "
                             f"got {tuple(attention_mask.shape)}")
        mask = attention_mask.to(device=device, dtype=torch.bool)
    else:
        raise ValueError(f"attention_mask must be 2-D or 4-D, got {attention_mask.dim()}-D")
    itself = torch.zeros(length, keys, dtype=torch.bool, device=device)
    itself[torch.arange(length), torch.arange(past, keys)] = True
    return mask | itself  # (B, 1, T, S)


def default_position_ids(attention_mask: torch.Tensor | None, batch: int, length: int, past: int,
                         device: torch.device) -> torch.Tensor:
    """(B, T) positions: cumsum(mask) - 1 under a 2-D padding mask (left padding), else past .. past + T - 1."""
    if attention_mask is not None and attention_mask.dim() == 2:
        positions = attention_mask.to(device=device, dtype=torch.long).cumsum(-1) - 1
        return positions.clamp(min=0)[:, -length:]
    return torch.arange(past, past + length, device=device).expand(batch, length)


class MolmoForCausalLM(nn.Module):
    """Molmo: `vision_encoder` -> `connector` -> features added to `language_model`'s token embeddings."""

    def __init__(self, config: MolmoConfig) -> None:
        super().__init__()
        self.config = config
        self.vision_encoder = VisionEncoder(config.vision)
        self.connector = Connector(config)
        self.language_model = LanguageModel(config.llm)

    def embed_inputs(self, input_ids: torch.Tensor, images: torch.Tensor | None = None,
                     image_masks: torch.Tensor | None = None,
                     image_input_idx: torch.Tensor | None = None) -> torch.Tensor:
        """Token embeddings (B, T, d) with each crop's pooled features added at its `<im_patch>` positions.

        images (B, N, 576, 588), image_masks (B, N, 576), image_input_idx (B, N, 144): entry [b, n, k] is
        the position in row b that receives pooled token k of crop n, negative for none. Crops with no
        position at all (batch padding) skip the ViT.
        """
        rows = self.config.llm.embedding_rows
        if input_ids.numel() and (int(input_ids.min()) < 0 or int(input_ids.max()) >= rows):
            raise ValueError(f"token ids must lie in [0, {rows}): the base vocabulary plus the image-token rows")
        embeds = self.language_model.model.embed_tokens(input_ids)  # (B, T, d)
        if images is None:
            return embeds
        if image_input_idx is None:
            raise ValueError("images need image_input_idx to say where their features go")
        used = (image_input_idx >= 0).any(dim=-1)  # (B, N): crops that feed at least one token
        if not bool(used.any()):
            return embeds
        crops = images[used].to(self.vision_encoder.patch_embedding.weight.dtype)  # (M, 576, 588)
        masks = None if image_masks is None else image_masks[used]  # (M, 576)
        features = self.connector(self.vision_encoder(crops), masks)  # (M, 144, d)
        positions = image_input_idx[used]  # (M, 144)
        crop_rows = used.nonzero()[:, 0, None].expand_as(positions)  # (M, 144): batch row of each crop
        keep = positions >= 0
        return embeds.index_put((crop_rows[keep], positions[keep]), features[keep].to(embeds.dtype),
                                accumulate=True)

    def forward(
        self,
        input_ids: torch.Tensor,
        images: torch.Tensor | None = None,
        image_masks: torch.Tensor | None = None,
        image_input_idx: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Any = None,
        use_cache: bool = False,
        logits_to_keep: int = 0,
    ) -> MolmoOutput:
        """input_ids (B, T) -> logits (B, T, V).

        attention_mask: (B, cached + T) padding mask (True/1 = real token), or a (B, 1, T, cached + T)
        boolean mask used as is (True = may attend), e.g. the block mask of packed annotations.
        position_ids: (B, T); by default cumsum(mask) - 1 for a 2-D mask, else consecutive after the cache.
        Images are read only where `input_ids` hold their tokens (the prefill step of generation).
        logits_to_keep: compute logits for the last this many positions only (0 = all; generation keeps 1, which
        spares a (B, T, V) tensor of ~1 GB per row for a 152k vocabulary and a long image prompt).
        """
        batch, length = input_ids.shape
        device = input_ids.device
        decoder = self.language_model.model
        if use_cache and past_key_values is None:
            from transformers import DynamicCache

            past_key_values = DynamicCache(config=decoder.config)
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        if position_ids is None:
            position_ids = default_position_ids(attention_mask, batch, length, past, device)
        mask = causal_mask(attention_mask, batch, length, past, device)  # (B, 1, T, past + T)
        embeds = self.embed_inputs(input_ids, images, image_masks, image_input_idx)  # (B, T, d)
        out = decoder(inputs_embeds=embeds, attention_mask=mask, position_ids=position_ids,
                      past_key_values=past_key_values, use_cache=use_cache)
        hidden = out.last_hidden_state[:, -logits_to_keep:] if logits_to_keep else out.last_hidden_state
        logits = self.language_model.lm_head(hidden)  # (B, T or logits_to_keep, V)
        return MolmoOutput(logits=logits, past_key_values=out.past_key_values if use_cache else None)


# ---------------------------------------------------------------------------------------------------------------
# The training loss.

IGNORE_INDEX = -100  # the label of a position with no target (PyTorch's cross_entropy default)


def loss_sums(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """logits (B, T, V), labels (B, T), weights (B, T) -> two fp32 sums over the target tokens, each token times its
    weight: the cross-entropy, and logsumexp(logits)^2 (the z-loss term, before its coefficient).

    They are sums, not means, so that a trainer can divide by the target tokens of the whole global batch (every
    micro-batch, every rank), as allenai/molmo's `olmo/train.py` does (`Trainer.train_batch`, `BatchDivisor.
    global_batch`); the objective is then `(cross_entropy + z_loss * z_squared) / tokens`, with the z-loss of
    PaLM (Chowdhery et al. 2022, §5: coefficient 1e-4), the release's `softmax_auxiliary_loss_scale`.
    """
    flat = logits.float().reshape(-1, logits.shape[-1])  # (B*T, V), fp32 for a stable logsumexp
    cross_entropy = F.cross_entropy(flat, labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="none")
    weights = weights.reshape(-1).to(flat.device)
    return (cross_entropy * weights).sum(), (torch.logsumexp(flat, dim=-1).pow(2) * weights).sum()
