"""Hugging Face VLMs through `AutoModelForImageTextToText` and `AutoProcessor`, from a local path or a hub id."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from evals.adapters.base import Generation, GenerationRequest


def weights_sha256(folder: Path) -> str:
    """Hash of the weight files of a local checkpoint, so a run names exactly the weights it used."""
    digest = hashlib.sha256()
    for file in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        digest.update(file.name.encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class HFAdapter:
    """Batched greedy generation with left padding; the processor's chat template places the image."""

    prompt_family = "generic"

    def __init__(self, target: str, spec: str | None = None, device: str = "cpu", dtype: str = "auto",
                 revision: str | None = None) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.spec = spec or f"hf:{target}"
        self.target = target
        self.revision = revision
        self.device = device
        self.processor = AutoProcessor.from_pretrained(target, revision=revision)
        self.processor.tokenizer.padding_side = "left"
        torch_dtype = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16,
                       "float16": torch.float16}[dtype]
        self.model = AutoModelForImageTextToText.from_pretrained(target, revision=revision, dtype=torch_dtype)
        self.model.to(device).eval()

    def describe(self) -> dict[str, Any]:
        local = Path(self.target)
        return {
            "adapter": "hf",
            "model": self.target,
            "architecture": type(self.model).__name__,
            "revision": self.revision or getattr(self.model.config, "_commit_hash", None),
            "weights_sha256": weights_sha256(local) if local.is_dir() else None,
            "dtype": str(self.model.dtype).removeprefix("torch."),
            "device": self.device,
        }

    def _chat_text(self, prompt: str, has_image: bool) -> str:
        content = ([{"type": "image"}] if has_image else []) + [{"type": "text", "text": prompt}]
        messages = [{"role": "user", "content": content}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True)

    def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        import torch
        from PIL import Image

        if len({r.image is None for r in requests}) > 1:
            raise ValueError("a batch mixes requests with and without images")
        texts = [self._chat_text(r.prompt, r.image is not None) for r in requests]
        images = [Image.open(io.BytesIO(r.image)).convert("RGB") for r in requests if r.image is not None]
        inputs = self.processor(images=images or None, text=texts, return_tensors="pt", padding=True)
        inputs = inputs.to(self.device)
        max_new_tokens = max(r.max_new_tokens for r in requests)
        with torch.inference_mode():
            output = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        new_tokens = output[:, inputs["input_ids"].shape[1]:]
        eos = self.processor.tokenizer.eos_token_id
        answers = []
        pad = self.processor.tokenizer.pad_token_id
        for request, text, row in zip(requests, texts, new_tokens, strict=True):
            tokens = row[: request.max_new_tokens].tolist()
            if eos in tokens:
                tokens = tokens[: tokens.index(eos)]
            tokens = [t for t in tokens if t != pad]
            answer = self.processor.tokenizer.decode(tokens, skip_special_tokens=True).strip()
            answers.append(Generation(text=answer, prompt=text, output_tokens=len(tokens)))
        return answers
