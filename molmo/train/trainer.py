"""The Molmo training loop, one process or many (`torchrun`, DDP or FSDP2), resumable bit for bit.

One optimizer step:

    draw global_batch_size samples from the mixture (seeded; each rank takes every world_size-th)
    format each example's annotations (seeded per sample) and pack them with the image into one sequence
    for each micro-batch: forward (bf16 autocast on GPU, fp32 on CPU), loss, backward
        loss = sum over target tokens of weight * (cross-entropy + z_loss * logsumexp^2)
               / target tokens in the whole global batch (all micro-batches, all ranks)
        so the gradient is the same for any split of the global batch into ranks and micro-batches
    clip each component's gradient norm, AdamW step, per-component LR schedule step

(docs/training.md gives the source of each choice.)

The pieces live beside this loop: the mixture and its sampler (`mixture.py`), the model, tokenizer and training
hooks (`model_setup.py`), DDP/FSDP2 and the collectives (`distributed.py`), checkpoints and the final export
(`checkpointing.py`), the loss (`molmo.modeling.loss_sums`), the optimizer and schedule (`optim.py`).

Every `save_every` steps a checkpoint makes a killed run resumable with `resume=True` as if it had never stopped.
Rank 0 logs one JSON line per `log_every` steps to `metrics.jsonl`: the loss (weighted cross-entropy per target
token), z_loss (the mean logsumexp^2, before its weight), tokens/s, and each component's learning rate and
gradient norm before clipping. An evaluation callback, if given, scores the weights at checkpoints (or every
`eval_every` steps); its scores go to `metrics.jsonl` too. The trainer knows no benchmark: `molmo-arena train`
gives it a callback that runs the evaluation harness.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from molmo.config import get_preset
from molmo.data.formatting import format_example
from molmo.data.packing import PackedExample, Packer, collate
from molmo.modeling import IGNORE_INDEX, loss_sums
from molmo.train.checkpointing import export_model, latest_checkpoint, load_checkpoint, save_checkpoint
from molmo.train.config import TrainingConfig
from molmo.train.distributed import (
    Distributed,
    barrier,
    gradient_sync,
    parallelize,
    sum_over_ranks,
    whole_model,
)
from molmo.train.mixture import MixtureSampler, Sample, load_mixture
from molmo.train.model_setup import autocast_dtype, build_model, load_tokenizer, transformer_blocks
from molmo.train.optim import build_optimizer, build_scheduler, clip_gradients

MODEL_INPUTS = ("input_ids", "images", "image_masks", "image_input_idx", "attention_mask", "position_ids")

Evaluate = Callable[[nn.Module, int], Mapping[str, float | None]]
"""(model, step) -> scores by name. Called on rank 0 only, with the whole model in eval mode on the training device;
it must leave the weights as they are."""


class Trainer:
    """Builds the model, data and optimizer from a config and trains, checkpoints, logs and evaluates.

    env: this process's place in the job; by default read from the environment, where a torchrun job must have
    started its process group already (`molmo.train.distributed.init_distributed`).
    tokenizer: by default the config's (`model_setup.load_tokenizer`).
    evaluate: the evaluation callback (see `Evaluate`); None: no evaluation.
    """

    def __init__(
        self,
        config: TrainingConfig,
        out_dir: str | Path,
        *,
        env: Distributed | None = None,
        tokenizer: Any = None,
        evaluate: Evaluate | None = None,
        progress: bool = True,
    ) -> None:
        self.config = config
        self.out = Path(out_dir)
        self.env = env if env is not None else Distributed.current()
        self.evaluation = evaluate
        self.progress = progress
        train, data = config.train, config.data
        per_rank = train.global_batch_size // self.env.world_size
        if train.global_batch_size % self.env.world_size or per_rank % train.micro_batch_size:
            raise ValueError(f"{config.path}: train.global_batch_size {train.global_batch_size} does not split into "
                             f"{self.env.world_size} processes x micro-batches of {train.micro_batch_size}")
        self.micro_batches_per_step = per_rank // train.micro_batch_size
        self.autocast_dtype = autocast_dtype(train.precision, self.env.device)

        self.model_config = get_preset(config.model.preset)
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(config)
        self.packer = Packer(self.tokenizer, self.model_config.image_config(data.max_crops), data.max_seq_len,
                             data.loss_weighting, data.release_image_masks)
        self.mixture = load_mixture(data)
        self.sampler = MixtureSampler([len(m) for m in self.mixture], [d.rate for d in data.datasets], train.seed)
        self.pool = ThreadPoolExecutor(data.num_workers) if data.num_workers else None

        torch.manual_seed(train.seed)  # identical initial weights on every rank
        self.module, self.dropout = build_model(config, self.model_config, self.env)
        # A mixture of experts leaves experts without tokens (and gradients) in some steps.
        self.model = parallelize(self.module, self.env, train.parallelism,
                                 [block for _, block in transformer_blocks(self.module)],
                                 find_unused_parameters=self.model_config.llm.kind == "olmoe")
        self.optimizer = build_optimizer(self.module, config.optim)
        self.scheduler = build_scheduler(self.optimizer, config.optim, train.max_steps)
        self.step = 0

    # -- data -----------------------------------------------------------------------------------------------

    def _pack(self, sample: Sample) -> PackedExample:
        data = self.config.data
        example = self.mixture[sample.dataset][sample.index]
        turns = format_example(example, sample.seed, system_prompt=data.system_prompt,
                               message_format=data.message_format, shuffle=data.shuffle_annotations,
                               transcripts_per_example=data.transcripts_per_example)
        return self.packer(example.image, turns)

    def next_batch(self) -> list[PackedExample]:
        """This rank's share of the next global batch, packed."""
        mine = self.sampler.draw(self.config.train.global_batch_size)[self.env.rank :: self.env.world_size]
        return list(self.pool.map(self._pack, mine)) if self.pool else [self._pack(s) for s in mine]

    # -- one step -------------------------------------------------------------------------------------------

    def train_step(self, packed: list[PackedExample]) -> dict[str, float]:
        """Forward and backward over this rank's micro-batches, clip, and step; returns global statistics."""
        micro, parallelism = self.config.train.micro_batch_size, self.config.train.parallelism
        (loss_tokens,) = sum_over_ranks([sum(p.num_loss_tokens for p in packed)], self.env)
        # DDP and FSDP average gradients over ranks; scaling by world_size turns that into the global sum.
        scale = self.env.world_size / max(loss_tokens, 1.0)
        cross_entropy = z_term = torch.zeros((), device=self.env.device)
        for k in range(self.micro_batches_per_step):
            batch = collate(packed[k * micro : (k + 1) * micro], self.packer.pad_id)
            batch = {name: tensor.to(self.env.device, non_blocking=True) for name, tensor in batch.items()}
            if self.dropout is not None:  # answer tokens: the input token at t was the target at t - 1
                self.dropout.response_mask = F.pad(batch["labels"][:, :-1] != IGNORE_INDEX, (1, 0))
            with gradient_sync(self.model, self.env, parallelism, sync=k == self.micro_batches_per_step - 1):
                with torch.autocast(self.env.device.type, dtype=self.autocast_dtype or torch.float32,
                                    enabled=self.autocast_dtype is not None):
                    logits = self.model(**{name: batch[name] for name in MODEL_INPUTS}).logits
                ce_sum, z_sum = loss_sums(logits, batch["labels"], batch["loss_weights"])
                ((ce_sum + self.config.optim.z_loss * z_sum) * scale).backward()
            cross_entropy, z_term = cross_entropy + ce_sum.detach(), z_term + z_sum.detach()
        norms = clip_gradients(self.optimizer, self.config.optim)
        rates = {group["name"]: group["lr"] for group in self.optimizer.param_groups}
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        tokens = float(sum(len(p.input_ids) for p in packed))
        ce_total, z_total, tokens = sum_over_ranks([float(cross_entropy), float(z_term), tokens], self.env)
        return {
            "loss": ce_total / max(loss_tokens, 1.0),
            "z_loss": z_total / max(loss_tokens, 1.0),
            "tokens": tokens,
            "loss_tokens": loss_tokens,
            **{f"lr/{name}": rate for name, rate in rates.items()},
            **{f"grad_norm/{name}": norm for name, norm in norms.items()},
        }

    # -- checkpoints, export, evaluation --------------------------------------------------------------------

    def save_checkpoint(self) -> Path:
        """Write out/checkpoints/step-N (see `molmo.train.checkpointing`) and prune old ones."""
        return save_checkpoint(self.out, self.step, model=self.model, optimizer=self.optimizer,
                               scheduler=self.scheduler, sampler=self.sampler, model_config=self.model_config,
                               env=self.env, keep=self.config.train.keep_checkpoints)

    def load_checkpoint(self, folder: Path) -> None:
        """Continue from a checkpoint that `save_checkpoint` wrote, with the same number of processes."""
        self.step = load_checkpoint(folder, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                                    sampler=self.sampler, env=self.env)

    def export(self) -> Path:
        """Save the weights and tokenizer in the in-repo layout (`molmo.checkpoint.save_pretrained`) to out/model."""
        return export_model(self.out, self.model, self.model_config, self.tokenizer, self.env,
                            self.config.train.parallelism)

    def evaluate(self) -> Mapping[str, float | None] | None:
        """Score the current weights with the evaluation callback (on rank 0) and log the scores."""
        if self.evaluation is None:
            return None
        module = whole_model(self.model, self.model_config, self.env, self.config.train.parallelism, self.env.device)
        scores = None
        if module is not None:
            module.eval()
            scores = self.evaluation(module, self.step)
            self._log({"step": self.step, "eval": dict(scores)})
            module.train()
        barrier(self.env)
        return scores

    # -- the loop -------------------------------------------------------------------------------------------

    def _log(self, record: dict[str, Any]) -> None:
        if self.env.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            with open(self.out / "metrics.jsonl", "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    def _steps(self, stop_after: int | None) -> Iterator[int]:
        last = self.config.train.max_steps if stop_after is None else min(stop_after, self.config.train.max_steps)
        return iter(range(self.step + 1, last + 1))

    def run(self, resume: bool = False, stop_after: int | None = None) -> list[dict[str, Any]]:
        """Train to max_steps (or to step `stop_after`, leaving the schedule as is); returns the step records.

        resume: continue from the newest complete checkpoint under out/checkpoints, if there is one.
        """
        from tqdm import tqdm

        train = self.config.train
        if resume and (folder := latest_checkpoint(self.out)) is not None:
            self.load_checkpoint(folder)
        elif self.env.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(self.config.to_dict(), indent=2) + "\n")
        records = []
        bar = tqdm(total=train.max_steps, initial=self.step, disable=not (self.progress and self.env.is_main),
                   desc="train", unit="step")
        started = time.perf_counter()
        for step in self._steps(stop_after):
            tick = time.perf_counter()
            stats = self.train_step(self.next_batch())
            self.step = step
            seconds = time.perf_counter() - tick
            record = {"step": step, **stats, "tokens_per_s": stats["tokens"] / seconds, "step_s": seconds,
                      "elapsed_s": time.perf_counter() - started}
            records.append(record)
            if not math.isfinite(stats["loss"]):
                raise FloatingPointError(f"step {step}: the loss is {stats['loss']}")
            if step % train.log_every == 0 or step == train.max_steps:
                self._log(record)
            bar.update(1)
            bar.set_postfix(loss=f"{stats['loss']:.4f}", tok_s=f"{record['tokens_per_s']:.0f}")
            saved = bool(train.save_every and step % train.save_every == 0) or step in (train.max_steps, stop_after)
            if saved:
                self.save_checkpoint()
            if self.evaluation is not None and (step % train.eval_every == 0 if train.eval_every else saved):
                self.evaluate()
        bar.close()
        if self.step == train.max_steps:
            self.export()
        return records
