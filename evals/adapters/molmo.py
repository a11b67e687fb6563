"""The in-repo Molmo: `--model molmo:PATH_OR_PRESET`, greedy, the release's prompt format and crops per request.

PATH is a folder in the in-repo layout or in a release's Hugging Face layout (allenai/Molmo-7B-D-0924, -7B-O-0924,
-72B-0924, MolmoE-1B-0924, or one written by `molmo.checkpoint.save_hf_layout`; docs/checkpoints.md), or one of
those hub ids; a tiny preset name (`molmo:tiny`) gives random weights from a fixed seed and the tiny tokenizer, for
tests and demos. The release's remote code is never run: the weights load into the in-repo model by name.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from evals.adapters.base import Generation, GenerationRequest, TextCallback, TokenStream

SEED = 0  # the weights of a preset


class MolmoAdapter:
    """Batched greedy generation with the in-repo model; the recorded prompt goes in the user turn as is."""

    prompt_family = "molmo"
    streams_text = True  # generate() takes on_text (see evals.adapters.base.generate_streaming)

    def __init__(self, model: Any, tokenizer: Any, spec: str, target: str, device: str = "cpu") -> None:
        from molmo.processing import MolmoProcessor

        self.model = model
        self.processor = MolmoProcessor(tokenizer, model.config.image_config())
        self.spec = spec
        self.target = target
        self.device = device

    @classmethod
    def load(cls, target: str, spec: str | None = None, device: str = "cpu", dtype: str = "auto") -> MolmoAdapter:
        """Load a checkpoint folder, a hub id or a tiny preset (seeded random weights)."""
        import torch

        from molmo.checkpoint import from_pretrained
        from molmo.config import PRESETS, TINY_PRESETS

        if target in PRESETS and target not in TINY_PRESETS and not Path(target).is_dir():
            raise ValueError(f"molmo:{target}: only the tiny presets ({', '.join(sorted(TINY_PRESETS))}) come with a "
                             "tokenizer; give a checkpoint folder or hub id for real weights")
        torch_dtype = {"auto": None, "float32": torch.float32, "bfloat16": torch.bfloat16,
                       "float16": torch.float16}[dtype]
        model, tokenizer = from_pretrained(target, dtype=torch_dtype, device=device, seed=SEED)
        if tokenizer is None:
            raise ValueError(f"molmo:{target}: no tokenizer files beside the weights")
        return cls(model, tokenizer, spec or f"molmo:{target}", target, device)

    def describe(self) -> dict[str, Any]:
        from evals.adapters.hf import weights_sha256
        from molmo.config import TINY_PRESETS

        local = Path(self.target)
        return {
            "adapter": "molmo",
            "model": self.target,
            "architecture": f"MolmoForCausalLM (in-repo, {self.model.config.llm.kind} decoder)",
            "seed": SEED if self.target in TINY_PRESETS else None,
            "weights_sha256": weights_sha256(local) if local.is_dir() else None,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "dtype": str(next(self.model.parameters()).dtype).removeprefix("torch."),
            "device": self.device,
        }

    def generate(self, requests: list[GenerationRequest], on_text: TextCallback | None = None) -> list[Generation]:
        from PIL import Image

        from molmo.generation import generate

        # Molmo 0924 takes one image per prompt: a request with several (MMMU's `<image 2>`...) shows the model its
        # first, as the release's own MMMU evaluation does (allenai/molmo olmo/data/academic_datasets.py, image_1).
        images = [Image.open(io.BytesIO(r.images[0])) if r.images else None for r in requests]
        batch = self.processor([r.prompt for r in requests], images, max_crops=[r.max_crops for r in requests])
        stream = None if on_text is None else TokenStream(
            requests, {self.processor.eos_token_id}, lambda ids: self.processor.decode(ids).strip(), on_text)
        result = generate(self.model, self.processor, batch, max_new_tokens=max(r.max_new_tokens for r in requests),
                          on_step=None if stream is None else lambda tokens: stream.push(tokens.tolist()))
        answers = []
        for request, prompt, generated in zip(requests, batch.prompts, result.token_ids, strict=True):
            ids = generated[: request.max_new_tokens]
            answers.append(Generation(text=self.processor.decode(ids).strip(), prompt=prompt, output_tokens=len(ids)))
        return answers


def training_adapter(model: Any, tokenizer: Any, model_config: Any, section: Any) -> MolmoAdapter:
    """The training loop's evaluation hook: the weights being trained, evaluated in place (no checkpoint)."""
    device = str(next(model.parameters()).device)
    return MolmoAdapter(model, tokenizer, spec="molmo:<training weights>", target="<training weights>", device=device)
