"""Non-neural baselines: what a score means is clearer beside the score of a guess.

`constant:TEXT` always answers TEXT. `frequent:PATH` answers each task with its most frequent ground-truth
answer in a reference split (a JSON object task -> answer, made by `most_frequent_answers` from items that
are not the ones evaluated) — the "prior" baseline of the VQA literature.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from evals.adapters.base import Generation, GenerationRequest
from evals.items import EvalItem


def most_frequent_answers(items_by_task: Mapping[str, Iterable[EvalItem]]) -> dict[str, str]:
    """Per task, the most frequent first ground-truth answer (ties broken by the answer text, so the table is
    reproducible)."""
    table = {}
    for task, items in items_by_task.items():
        counts = Counter(item.answers[0] for item in items if item.answers)
        if counts:
            table[task] = min(counts, key=lambda answer: (-counts[answer], answer))
    return table


class ConstantAdapter:
    """Answers every request with the same text."""

    prompt_family = "generic"

    def __init__(self, text: str, spec: str | None = None) -> None:
        self.text = text
        self.spec = spec or f"constant:{text}"

    def describe(self) -> dict[str, Any]:
        return {"adapter": "constant", "model": f"constant answer {self.text!r}"}

    def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        return [Generation(text=self.text, prompt=r.prompt, output_tokens=0) for r in requests]


class FrequentAnswerAdapter:
    """Answers each task with its most frequent answer from a reference split; refuses an unknown task."""

    prompt_family = "generic"

    def __init__(self, path: str | Path, spec: str | None = None) -> None:
        self.path = Path(path)
        try:
            self.table = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"{self.path}: cannot read the answer table: {error}") from error
        if not isinstance(self.table, dict) or not all(isinstance(v, str) for v in self.table.values()):
            raise ValueError(f"{self.path}: expected a JSON object mapping each task to an answer string")
        self.spec = spec or f"frequent:{path}"

    def describe(self) -> dict[str, Any]:
        return {"adapter": "frequent", "model": "most frequent answer per task", "table": self.table}

    def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        missing = sorted({str(r.task) for r in requests if r.task not in self.table})
        if missing:
            raise ValueError(f"{self.path}: no answer for task(s) {', '.join(missing)}")
        return [Generation(text=self.table[r.task], prompt=r.prompt, output_tokens=0) for r in requests]
