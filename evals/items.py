"""The one record every benchmark is normalised into before prompting and scoring."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EvalItem:
    """One benchmark question, whatever the source dataset's schema.

    `answers` holds the ground-truth strings: the annotators' answers for VQA-style tasks, the correct option's
    letter ("A", "B", ...) for multiple choice. `choices` holds the option texts for multiple choice, else None.
    `images` holds the encoded image files (PNG/JPEG bytes) the question shows, in order (several for an MMMU
    question that names `<image 2>` and more), decoded only when a model needs them. `meta` carries
    task-specific fields that prompts or metrics need (for example ChartQA's human/augmented split, MathVista's
    answer type and precision, MMMU's question type).
    """

    id: str
    question: str
    answers: list[str]
    images: tuple[bytes, ...] = ()
    choices: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def image(self) -> bytes | None:
        """The first image, for places that show one picture per question (the arena's prompts)."""
        return self.images[0] if self.images else None
