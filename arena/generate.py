"""Pre-generating arena answers through the evaluation adapters, as Molmo's human evaluation did."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from arena.study import image_bytes, read_jsonl
from evals.adapters.base import GenerationRequest, ModelAdapter
from molmo_arena.common.files import write_lines


def generate_answers(
    adapters: Sequence[tuple[str, ModelAdapter]],
    prompts_path: str | Path,
    out_path: str | Path,
    max_new_tokens: int = 256,
    batch_size: int = 4,
    progress: Callable[[Iterable, str, int], Iterable] | None = None,
) -> int:
    """Answer every prompt of a prompt-set JSONL with every (name, adapter); write an answers JSONL that
    `arena import --answers` reads. Returns the number of answers. The file appears only when complete.
    A prompt's optional `task` (a benchmark name) reaches the adapters with its request."""
    prompts_path = Path(prompts_path)
    prompts = [(record["prompt_id"], record["question"], image_bytes(record, prompts_path.parent, where),
                record.get("task")) for where, record in read_jsonl(prompts_path)]
    progress = progress or (lambda batches, _name, _total: batches)
    lines = []
    for name, adapter in adapters:
        batches = [prompts[start : start + batch_size] for start in range(0, len(prompts), batch_size)]
        for batch in progress(batches, name, len(batches)):
            requests = [GenerationRequest(question, image, max_new_tokens, task=task)
                        for _, question, image, task in batch]
            for (prompt_id, *_), answer in zip(batch, adapter.generate(requests), strict=True):
                generation = {"spec": adapter.spec, "max_new_tokens": max_new_tokens, "model": adapter.describe()}
                lines.append(json.dumps({"prompt_id": prompt_id, "model": name, "answer": answer.text,
                                         "generation": generation}, ensure_ascii=False))
    return write_lines(out_path, lines)
