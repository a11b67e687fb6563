"""Molmo model configuration: the ViT, the connector, the LLM, and presets for the released models.

Every dimension of the four 0924 checkpoints is written out here (sources in docs/checkpoints.md: the releases'
`config.json` and remote code, allenai/molmo `launch_scripts/utils.py`), so a preset names a model exactly; tiny
presets keep the real image geometry (336 px crops of 14 px patches, 2 x 2 pooling, so token counts match the
release) and shrink only widths and depths, for tests and CPU demos.

Pure dataclasses: importing this module loads neither torch nor transformers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from molmo.image_preprocessing import MolmoImageConfig

LLMKind = Literal["qwen2", "olmo2", "olmoe"]


@dataclass(frozen=True)
class VisionConfig:
    """The ViT in OpenAI CLIP's layout (pre-LN, quick-GELU, a class token, learned positions).

    `num_layers` counts the blocks the checkpoint holds (the release keeps 23 of CLIP-L's 24);
    `feature_layers` index the outputs of those blocks (Python-style, -1 = the last). Blocks after the
    deepest feature layer are never built: the release's 23rd block is computed by nobody.
    """

    crop_size: int = 336  # pixels per crop side
    patch_size: int = 14  # pixels per patch side
    hidden_size: int = 1024
    num_heads: int = 16
    intermediate_size: int = 4096
    num_layers: int = 23
    feature_layers: tuple[int, ...] = (-2, -9)  # concatenated in this order
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"ViT hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}")
        if not self.feature_layers or any(not -self.num_layers <= i < self.num_layers for i in self.feature_layers):
            raise ValueError(f"feature_layers {self.feature_layers} must index {self.num_layers} ViT blocks")

    @property
    def grid(self) -> int:
        """Patches per crop side: 24."""
        return self.crop_size // self.patch_size

    @property
    def num_positions(self) -> int:
        """Class token + patches: 577."""
        return 1 + self.grid**2

    @property
    def patch_dim(self) -> int:
        """Values per flattened patch: 14 * 14 * 3 = 588."""
        return self.patch_size**2 * 3

    @property
    def feature_indices(self) -> tuple[int, ...]:
        """`feature_layers` as non-negative block indices: (21, 14) for the release."""
        return tuple(i % self.num_layers for i in self.feature_layers)

    @property
    def num_built_layers(self) -> int:
        """Blocks up to the deepest feature layer, the only ones built: 22 for the release."""
        return max(self.feature_indices) + 1


@dataclass(frozen=True)
class ConnectorConfig:
    """2 x 2 attention pooling (query = the window mean) and a SwiGLU projector into the LLM width."""

    pool_size: int = 2  # patches per pooled-token side
    num_heads: int = 16  # pooling attention heads
    hidden_size: int = 1024  # pooling output width (= the ViT width in the release)
    projector_hidden_size: int = 18944  # SwiGLU hidden width: half the LLM's fused MLP width

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"pooling hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}")


@dataclass(frozen=True)
class LLMConfig:
    """The decoder: a transformers model class chosen by `kind`, built from its config class.

    qwen2 = Qwen2 (pre-norm, qkv bias); olmo2 = OLMo-2 / OLMo-7B-1024 (norms after attention and MLP,
    QK-norm); olmoe = OLMoE (pre-norm, QK-norm, top-k mixture of experts). `vocab_size` is the base
    embedding table and the output layer; `additional_vocab_size` rows follow it in the input embedding
    only, for the image tokens (the release's `wte.new_embedding`), and are never predicted.
    """

    kind: LLMKind = "qwen2"
    hidden_size: int = 3584
    num_layers: int = 28
    num_heads: int = 28
    num_kv_heads: int = 4
    intermediate_size: int = 18944  # SwiGLU hidden width (per expert for olmoe); the release stores 2x fused
    vocab_size: int = 152064
    additional_vocab_size: int = 128
    rope_theta: float = 1_000_000.0
    rms_norm_eps: float = 1e-6
    max_position_embeddings: int = 4096
    num_experts: int = 0  # olmoe only
    num_experts_per_token: int = 0  # olmoe only

    def __post_init__(self) -> None:
        if self.kind not in ("qwen2", "olmo2", "olmoe"):
            raise ValueError(f"unknown LLM kind {self.kind!r}; expected qwen2, olmo2 or olmoe")
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ValueError("LLM hidden_size must be a multiple of num_heads, and num_heads of num_kv_heads")
        if (self.kind == "olmoe") != (self.num_experts > 0):
            raise ValueError("num_experts > 0 exactly when kind is olmoe")
        if self.kind == "olmoe" and not 0 < self.num_experts_per_token <= self.num_experts:
            raise ValueError("olmoe needs 0 < num_experts_per_token <= num_experts")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def embedding_rows(self) -> int:
        """Rows of the input embedding: the base vocabulary + the image-token rows."""
        return self.vocab_size + self.additional_vocab_size


@dataclass(frozen=True)
class MolmoConfig:
    """The whole model. `image_config(max_crops)` gives the matching pre-processor geometry."""

    vision: VisionConfig = field(default_factory=VisionConfig)
    connector: ConnectorConfig = field(default_factory=ConnectorConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)

    def __post_init__(self) -> None:
        if self.vision.grid % self.connector.pool_size:
            raise ValueError(f"{self.vision.grid} patches per side do not pool by {self.connector.pool_size}")

    @property
    def vit_feature_size(self) -> int:
        """Width of the concatenated ViT features the connector reads: 2 * 1024 for the release."""
        return len(self.vision.feature_layers) * self.vision.hidden_size

    @property
    def tokens_per_crop(self) -> int:
        """Pooled tokens per crop: 12 * 12 = 144."""
        return (self.vision.grid // self.connector.pool_size) ** 2

    @classmethod
    def connect(cls, vision: VisionConfig, llm: LLMConfig) -> MolmoConfig:
        """The release's connector between `vision` and `llm`: 2 x 2 pooling at the ViT's width and heads, and a
        projector as wide as the LLM's MLP (`OLMoVisionBackbone` and `MLP` in the release's `modeling_molmo.py`)."""
        connector = ConnectorConfig(num_heads=vision.num_heads, hidden_size=vision.hidden_size,
                                    projector_hidden_size=llm.intermediate_size)
        return cls(vision, connector, llm)

    def image_config(self, max_crops: int = 12) -> MolmoImageConfig:
        """The pre-processor geometry this model reads (12 crops to train, 36 to evaluate)."""
        return MolmoImageConfig(
            crop_size=self.vision.crop_size,
            patch_size=self.vision.patch_size,
            pool_size=self.connector.pool_size,
            max_crops=max_crops,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested dict (tuples become lists)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MolmoConfig:
        """Inverse of `to_dict`; unknown keys are an error, so a typo never passes silently."""
        try:
            vision = dict(data["vision"])
            vision["feature_layers"] = tuple(vision.get("feature_layers", VisionConfig.feature_layers))
            return cls(VisionConfig(**vision), ConnectorConfig(**data["connector"]), LLMConfig(**data["llm"]))
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a Molmo config: {error}") from None


CLIP_VIT_L_336 = VisionConfig()  # openai/clip-vit-large-patch14-336, first 23 blocks


_QWEN2_7B = LLMConfig(kind="qwen2", hidden_size=3584, num_layers=28, num_heads=28, num_kv_heads=4,
                      intermediate_size=18944, vocab_size=152064, rope_theta=1e6, rms_norm_eps=1e-6)
_QWEN2_72B = LLMConfig(kind="qwen2", hidden_size=8192, num_layers=80, num_heads=64, num_kv_heads=8,
                       intermediate_size=29568, vocab_size=152064, rope_theta=1e6, rms_norm_eps=1e-5)
# OLMo-7B-1024-preview: tokenizer vocabulary 100278, embedding padded to 100352.
_OLMO_7B_1024 = LLMConfig(kind="olmo2", hidden_size=4096, num_layers=32, num_heads=32, num_kv_heads=32,
                          intermediate_size=11008, vocab_size=100352, rope_theta=5e5, rms_norm_eps=1e-6)
# OLMoE-1B-7B-0924: tokenizer vocabulary 50280, embedding padded to 50304; experts of width 1024; as many key/value
# heads as query heads (MolmoE's remote code sizes its k_norm to d_model).
_OLMOE_1B_7B = LLMConfig(kind="olmoe", hidden_size=2048, num_layers=16, num_heads=16, num_kv_heads=16,
                         intermediate_size=1024, vocab_size=50304, rope_theta=1e4, rms_norm_eps=1e-5,
                         max_position_embeddings=32768, num_experts=64, num_experts_per_token=8)
# Qwen2-0.5B-sized decoder: with the full ViT, ~0.9B parameters, for throughput benchmarks.
_QWEN2_SMALL = LLMConfig(kind="qwen2", hidden_size=896, num_layers=24, num_heads=14, num_kv_heads=2,
                         intermediate_size=4864, vocab_size=151936, rope_theta=1e6, rms_norm_eps=1e-6)

# Tiny: the real 336/14 crop geometry, a 3-block ViT of width 32. Feature layers (-2, -3) mirror the release's
# (-2, -9) over a checkpoint that keeps one block nobody reads, so the "unused trailing block" path is exercised.
TINY_VIT = VisionConfig(hidden_size=32, num_heads=2, intermediate_size=64, num_layers=3, feature_layers=(-2, -3))
TINY_VOCAB = 512  # the tiny tokenizer's base vocabulary (see molmo.processing.tiny_tokenizer)


def _tiny_llm(kind: LLMKind, **overrides: Any) -> LLMConfig:
    dims = dict(hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=96)
    return LLMConfig(kind=kind, vocab_size=TINY_VOCAB, rope_theta=1e4, rms_norm_eps=1e-6,
                     max_position_embeddings=8192, **{**dims, **overrides})


PRESETS: dict[str, MolmoConfig] = {
    "Molmo-7B-D": MolmoConfig.connect(CLIP_VIT_L_336, _QWEN2_7B),
    "Molmo-7B-O": MolmoConfig.connect(CLIP_VIT_L_336, _OLMO_7B_1024),
    "MolmoE-1B": MolmoConfig.connect(CLIP_VIT_L_336, _OLMOE_1B_7B),
    "Molmo-72B": MolmoConfig.connect(CLIP_VIT_L_336, _QWEN2_72B),
    "small": MolmoConfig.connect(CLIP_VIT_L_336, _QWEN2_SMALL),
    "tiny": MolmoConfig.connect(TINY_VIT, _tiny_llm("qwen2")),
    "tiny-olmo2": MolmoConfig.connect(TINY_VIT, _tiny_llm("olmo2")),
    # All heads keep their keys and values, as OLMoE-1B-7B does, so the MolmoE release layout can hold it.
    "tiny-olmoe": MolmoConfig.connect(TINY_VIT, _tiny_llm("olmoe", num_kv_heads=4, intermediate_size=32,
                                                           num_experts=4, num_experts_per_token=2)),
}
TINY_PRESETS = frozenset(name for name in PRESETS if name.startswith("tiny"))

# The Hugging Face ids of the released checkpoints, by preset.
HUB_IDS = {
    "Molmo-7B-D": "allenai/Molmo-7B-D-0924",
    "Molmo-7B-O": "allenai/Molmo-7B-O-0924",
    "MolmoE-1B": "allenai/MolmoE-1B-0924",
    "Molmo-72B": "allenai/Molmo-72B-0924",
}


def get_preset(name: str) -> MolmoConfig:
    """The preset called `name`; ValueError listing every preset otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown Molmo preset {name!r}; presets: {', '.join(PRESETS)}") from None
