"""Hugging Face VLMs through `AutoModelForImageTextToText` and their processor, from a local path or a hub id.

One code path serves every family (`config.model_type`); `PLAIN_PROMPTS` holds the families without chat turns.
Processors use their PIL image backend: torchvision is not a dependency (`AutoImageProcessor` picks the PIL class
when torchvision is absent), and the video processor some families carry (it needs torchvision) is left out.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from evals.adapters.base import Generation, GenerationRequest, TextCallback, TokenStream

# Families prompted without a chat template: a plain prompt with `{image}` (the processor's image token) and
# `{prompt}`. PaliGemma takes a task prefix ("answer en" for question answering); its processor puts <bos> after
# the image tokens and "\n" after the prefix, and returns token_type_ids so image and prefix attend both ways.
PLAIN_PROMPTS: dict[str, str] = {"paligemma": "{image}answer en {prompt}"}


def image_only_processor(processor_class: type) -> type:
    """`processor_class` without its video processor, which only exists with torchvision; evaluation is images only.

    The subclass keeps the class name, so a checkpoint saved with it has the real `processor_class`. The family's
    own `__init__` still receives None in the video processor's place (wherever its signature puts it), and a base
    between it and `ProcessorMixin` takes that None out before the attributes are matched up.
    """
    from transformers import ProcessorMixin

    full = processor_class.get_attributes()
    attributes = [name for name in full if name != "video_processor"]
    if len(attributes) == len(full):
        return processor_class

    class WithoutVideoProcessor(ProcessorMixin):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("video_processor", None)
            kept = [arg for arg, name in zip(args, full, strict=False) if name != "video_processor"]
            super().__init__(*kept, *args[len(full):], **kwargs)

    def from_args_and_dict(cls: type, args: list, processor_dict: dict[str, Any], **kwargs: Any) -> Any:
        given = iter(args)  # the sub-processors in attribute order, None where the video processor goes
        ordered = [None if name == "video_processor" else next(given) for name in full]
        return processor_class.from_args_and_dict.__func__(cls, ordered, processor_dict, **kwargs)

    return type(processor_class.__name__, (processor_class, WithoutVideoProcessor), {
        "__module__": processor_class.__module__, "get_attributes": classmethod(lambda cls: list(attributes)),
        "from_args_and_dict": classmethod(from_args_and_dict)})


# Families whose transformers image processor exists only as a torchvision class: our NumPy/torch version of it.
OWN_IMAGE_PROCESSORS = {"molmo2": "Molmo2ImageProcessorPil"}


def image_processor_class(name: str) -> type:
    """The PIL-backend image processor class called `name`: transformers' own, or one of ours."""
    if name == "Molmo2ImageProcessorPil":
        from evals.adapters.molmo2_image_processing import Molmo2ImageProcessorPil

        return Molmo2ImageProcessorPil
    import transformers

    return getattr(transformers, name)


def load_processor(target: str, config: Any, revision: str | None = None) -> Any:
    """The processor of the model at `target`, the image-only form of its family's class where there is one."""
    from transformers import AutoProcessor, AutoTokenizer
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING

    processor_class = PROCESSOR_MAPPING.get(type(config), None)
    if processor_class is None:  # not a native family (remote code): as the checkpoint says
        return AutoProcessor.from_pretrained(target, revision=revision)
    own = OWN_IMAGE_PROCESSORS.get(config.model_type)
    if own is None:
        return image_only_processor(processor_class).from_pretrained(target, revision=revision)
    # The checkpoint's image processor settings, read into our class instead of the torchvision one it names.
    image_processor = image_processor_class(own).from_pretrained(target, revision=revision)
    tokenizer = AutoTokenizer.from_pretrained(target, revision=revision)
    settings, _ = processor_class.get_processor_dict(target, revision=revision)
    return image_only_processor(processor_class).from_args_and_dict([image_processor, tokenizer], settings)


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
    """Batched greedy generation with left padding; the chat template (or the family's plain prompt) places the
    images, one placeholder each before the text, and the processor expands them into the family's image tokens."""

    prompt_family = "generic"
    streams_text = True  # generate() takes on_text (see evals.adapters.base.generate_streaming)

    def __init__(self, target: str, spec: str | None = None, device: str = "cpu", dtype: str = "auto",
                 revision: str | None = None) -> None:
        import torch
        from transformers import AutoModelForImageTextToText

        self.spec = spec or f"hf:{target}"
        self.target = target
        self.revision = revision
        self.device = device
        torch_dtype = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16,
                       "float16": torch.float16}[dtype]
        self.model = AutoModelForImageTextToText.from_pretrained(target, revision=revision, dtype=torch_dtype)
        self.model.to(device).eval()
        self.family = self.model.config.model_type
        self.plain_prompt = PLAIN_PROMPTS.get(self.family)
        self.processor = load_processor(target, self.model.config, revision)
        self.processor.tokenizer.padding_side = "left"
        eos = self.model.generation_config.eos_token_id
        self.stop_ids = {*(eos if isinstance(eos, list) else [eos]), self.processor.tokenizer.eos_token_id} - {None}

    def describe(self) -> dict[str, Any]:
        local = Path(self.target)
        return {
            "adapter": "hf",
            "model": self.target,
            "family": self.family,
            "architecture": type(self.model).__name__,
            "image_processor": type(self.processor.image_processor).__name__,
            "revision": self.revision or getattr(self.model.config, "_commit_hash", None),
            "weights_sha256": weights_sha256(local) if local.is_dir() else None,
            "dtype": str(self.model.dtype).removeprefix("torch."),
            "device": self.device,
        }

    def _prompt(self, prompt: str, n_images: int) -> str:
        if self.plain_prompt is not None:
            return self.plain_prompt.format(image=self.processor.image_token * n_images, prompt=prompt)
        content = [{"type": "image"}] * n_images + [{"type": "text", "text": prompt}]
        messages = [{"role": "user", "content": content}]
        # Rendered by the tokenizer: some processors' own apply_chat_template reads video settings (SmolVLM's).
        return self.processor.tokenizer.apply_chat_template(
            messages, chat_template=self.processor.chat_template, add_generation_prompt=True, tokenize=False)

    def generate(self, requests: list[GenerationRequest], on_text: TextCallback | None = None) -> list[Generation]:
        import torch
        from PIL import Image

        if len({not r.images for r in requests}) > 1:
            raise ValueError("a batch mixes requests with and without images")
        texts = [self._prompt(r.prompt, len(r.images)) for r in requests]
        # One list of images per prompt, in the prompt's order: the processor expands each image's placeholder
        # (and processors that tile images, Idefics3 and SmolVLM, need the grouping).
        images = [[Image.open(io.BytesIO(image)).convert("RGB") for image in r.images] for r in requests if r.images]
        inputs = self.processor(images=images or None, text=texts, return_tensors="pt", padding=True)
        inputs.pop("labels", None)  # training targets some processors add (PaliGemma's), not generation inputs
        inputs = inputs.to(self.device)
        max_new_tokens = max(r.max_new_tokens for r in requests)
        streamer = None if on_text is None else self._streamer(requests, on_text)
        with torch.inference_mode():
            output = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, streamer=streamer)
        new_tokens = output[:, inputs["input_ids"].shape[1]:]
        answers = []
        for request, text, row in zip(requests, texts, new_tokens, strict=True):
            tokens = row[: request.max_new_tokens].tolist()
            stop = next((i for i, token in enumerate(tokens) if token in self.stop_ids), len(tokens))
            tokens = tokens[:stop]
            answer = self.processor.tokenizer.decode(tokens, skip_special_tokens=True).strip()
            answers.append(Generation(text=answer, prompt=text, output_tokens=len(tokens)))
        return answers

    def _streamer(self, requests: list[GenerationRequest], on_text: TextCallback) -> Any:
        """A transformers streamer over the whole batch: `generate` puts the prompt ids (B, T) first, then each
        step's new token of every row (B,); each row's text goes to `on_text`, decoded as in `generate`."""
        from transformers.generation.streamers import BaseStreamer

        stream = TokenStream(requests, self.stop_ids,
                             lambda ids: self.processor.tokenizer.decode(ids, skip_special_tokens=True).strip(),
                             on_text)

        class BatchStreamer(BaseStreamer):
            def put(self, value: Any) -> None:
                if value.dim() == 1:  # the prompt comes as (B, T) and is not part of the answer
                    stream.push(value.tolist())

            def end(self) -> None:
                pass

        return BatchStreamer()
