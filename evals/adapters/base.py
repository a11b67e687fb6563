"""The one interface every model sits behind: a batch of requests in, one answer per request out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class GenerationRequest:
    """One rendered prompt with its image and generation settings; `task` names the benchmark it comes from
    (only answer-prior baselines look at it)."""

    prompt: str
    image: bytes | None
    max_new_tokens: int
    max_crops: int | None = None
    task: str | None = None


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
