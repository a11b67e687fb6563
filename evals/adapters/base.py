"""The one interface every model sits behind: a batch of requests in, one answer per request out."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# Called while answers are generated, with the position of a request in the batch and its answer so far, decoded and
# cleaned as the final answer is (so a later call's text extends an earlier one's, up to the last unfinished word).
TextCallback = Callable[[int, str], None]


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


def generate_streaming(adapter: ModelAdapter, requests: list[GenerationRequest],
                       on_text: TextCallback) -> list[Generation]:
    """`adapter.generate`, reporting each answer's text as it grows where the adapter can (it sets
    `streams_text = True` and takes `on_text`), otherwise reporting each answer once, whole, when the batch is done.
    Either way `on_text` sees every answer's final text last, so a caller can rely on it alone."""
    if getattr(adapter, "streams_text", False):
        answers = adapter.generate(requests, on_text=on_text)  # type: ignore[call-arg]
    else:
        answers = adapter.generate(requests)
    for index, answer in enumerate(answers):
        on_text(index, answer.text)
    return answers


class TokenStream:
    """Turns each decoding step's new token ids (one per row of a batch) into `on_text` calls.

    A row ends at a stop id or at its request's `max_new_tokens`, as the final answer does; `decode` must turn a
    row's ids into text exactly as the adapter makes its final answer (special tokens dropped, stripped).
    """

    def __init__(self, requests: Sequence[GenerationRequest], stop_ids: Collection[int],
                 decode: Callable[[list[int]], str], on_text: TextCallback) -> None:
        self.limits = [request.max_new_tokens for request in requests]
        self.stop_ids = stop_ids
        self.decode = decode
        self.on_text = on_text
        self.rows: list[list[int]] = [[] for _ in requests]
        self.done = [False] * len(requests)

    def push(self, tokens: Sequence[int]) -> None:
        """One step: the new token of every row (whatever a finished row is fed is ignored)."""
        for index, token in enumerate(tokens):
            if self.done[index]:
                continue
            if token in self.stop_ids:
                self.done[index] = True
                continue
            row = self.rows[index]
            row.append(token)
            self.done[index] = len(row) >= self.limits[index]
            self.on_text(index, self.decode(row))
