"""`molmo_arena`, an lmms-eval model that answers through any of our adapters (`spec=KIND:TARGET`).

lmms-eval hands over requests whose arguments are (context, generation kwargs, doc_to_visual, doc id, task,
split); the context goes to the adapter as the prompt, unchanged, and the document's images (every one
`doc_to_visual` gives, in its order, as MMMU's `<image k>` questions need) as PNG bytes. Our adapters generate
greedily, so a task that asks for sampling or log-likelihoods is refused with the task and document named,
never answered differently from what it asks.
"""

from __future__ import annotations

from typing import Any

from lmms_eval.api.instance import GenerationResult, Instance, TokenCounts
from lmms_eval.api.model import lmms

from evals.adapters import GenerationRequest, load_adapter
from evals.lmms_bridge import cut_at_stops, image_bytes

DEFAULT_MAX_NEW_TOKENS = 32  # when a task names no max_new_tokens


class MolmoArenaModel(lmms):
    """Any molmo-arena adapter behind lmms-eval's model interface (generation tasks, greedy)."""

    def __init__(self, spec: str, batch_size: int | str = 8, device: str = "cpu", dtype: str = "auto",
                 max_crops: int | str | None = None, **unused: Any) -> None:
        super().__init__()
        unknown = {key: value for key, value in unused.items() if key != "max_batch_size"}
        if unknown:
            raise ValueError(f"molmo_arena model_args: unknown {', '.join(sorted(unknown))}; "
                             "known: spec, batch_size, device, dtype, max_crops")
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError(f"molmo_arena model_args: batch_size must be at least 1, got {batch_size}")
        self.max_crops = None if max_crops in (None, "") else int(max_crops)
        self.adapter = load_adapter(spec, device=device, dtype=dtype)

    def _request(self, instance: Instance) -> GenerationRequest:
        context, gen_kwargs, doc_to_visual, doc_id, task, split = instance.args
        where = f"task {task!r} document {doc_id}"
        if gen_kwargs.get("do_sample") or float(gen_kwargs.get("temperature") or 0) > 0:
            raise ValueError(f"{where}: asks for sampling ({gen_kwargs}); molmo-arena adapters generate greedily")
        visuals = doc_to_visual(self.task_dict[task][split][doc_id]) if doc_to_visual else []
        visuals = [v for v in (visuals if isinstance(visuals, list) else [visuals]) if v is not None]
        return GenerationRequest(prompt=context, images=tuple(image_bytes(visual, where) for visual in visuals),
                                 max_new_tokens=int(gen_kwargs.get("max_new_tokens", DEFAULT_MAX_NEW_TOKENS)),
                                 max_crops=self.max_crops, task=task)

    def generate_until(self, requests: list[Instance]) -> list[GenerationResult]:
        """Answer in the order given, in batches of up to `batch_size` consecutive requests that all have an image
        or all have none (adapters refuse a batch that mixes them); images are encoded one batch at a time."""
        results: list[GenerationResult] = []
        batch: list[tuple[Instance, GenerationRequest]] = []
        for instance in requests:
            request = self._request(instance)
            if batch and (len(batch) == self.batch_size or bool(batch[0][1].images) != bool(request.images)):
                results += self._answer(batch)
                batch = []
            batch.append((instance, request))
        return results + (self._answer(batch) if batch else [])

    def _answer(self, batch: list[tuple[Instance, GenerationRequest]]) -> list[GenerationResult]:
        results = []
        for (instance, _), generation in zip(batch, self.adapter.generate([r for _, r in batch]), strict=True):
            context, gen_kwargs = instance.args[:2]
            text = cut_at_stops(generation.text, list(gen_kwargs.get("until") or []))
            self.cache_hook.add_partial("generate_until", (context, gen_kwargs), text)
            results.append(GenerationResult(text, TokenCounts(output_tokens=generation.output_tokens)))
        return results

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        raise NotImplementedError("molmo_arena: log-likelihood tasks are not supported (our adapters generate "
                                  "answers); run the task's generate_until variant")

    def generate_until_multi_round(self, requests: list[Instance]) -> list[str]:
        raise NotImplementedError("molmo_arena: multi-round generation is not supported; adapters answer one turn")
