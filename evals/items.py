"""The one record every benchmark is normalised into before prompting and scoring."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EvalItem:
    """One benchmark question, whatever the source dataset's schema.

    `answers` holds the ground-truth strings: the annotators' answers for VQA-style tasks, the correct option's
    letter ("A", "B", ...) for multiple choice. `choices` holds the option texts for multiple choice, else None.
    `image` is the encoded image file (PNG/JPEG bytes), decoded only when a model needs it. `meta` carries
    task-specific fields that prompts or metrics need (for example ChartQA's human/augmented split, MathVista's
    answer type and precision, MMMU's question type).
    """

    id: str
    question: str
    answers: list[str]
    image: bytes | None = None
    choices: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
