"""The one interface every model sits behind: a batch of requests in, one answer per request out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class GenerationRequest:
    """One rendered prompt with its images and generation settings; `task` names the benchmark it comes from
    (only answer-prior baselines look at it).

    `images` are encoded image files in the order the prompt refers to them (several for an MMMU question that
    names `<image 2>`); one image may be given as its bytes and no image as None, both stored as a tuple.
    """

    prompt: str
    images: tuple[bytes, ...] | bytes | None
    max_new_tokens: int
    max_crops: int | None = None
    task: str | None = None

    def __post_init__(self) -> None:
        images = self.images
        if images is None:
            images = ()
        elif isinstance(images, bytes | bytearray):
            images = (bytes(images),)
        object.__setattr__(self, "images", tuple(images))

    @property
    def image(self) -> bytes | None:
        """The first image, or None: what a model that takes one image per prompt is shown."""
        return self.images[0] if self.images else None


@dataclass(frozen=True)
class Generation:
    """One answer; `prompt` is the exact text the model saw (after any chat template), for the sample record."""

    text: str
    prompt: str
    output_tokens: int | None = None


class ModelAdapter(Protocol):
    """A model that answers batches of requests greedily (deterministic for a fixed seed)."""

    spec: str
    prompt_family: str  # which recorded prompt set fits this model by default ("molmo" or "generic")

    def describe(self) -> dict[str, Any]:
        """What identifies the model in a run record: id, revision or weight hash, dtype, device, backend."""
        ...

    def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        """Answer every request, in order; raise if the batch cannot be answered."""
        ...
