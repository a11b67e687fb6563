"""The Molmo training loop, one process or many (`torchrun`, DDP or FSDP2), resumable bit for bit.

One optimizer step:

    draw global_batch_size samples from the mixture (seeded; each rank takes every world_size-th)
    format each example's annotations (seeded per sample) and pack them with the image into one sequence
    for each micro-batch: forward (bf16 autocast on GPU, fp32 on CPU), loss, backward
        loss = sum over target tokens of weight * (cross-entropy + z_loss * logsumexp^2)
               / target tokens in the whole global batch (all micro-batches, all ranks)
        so the gradient is the same for any split of the global batch into ranks and micro-batches
    clip each component's gradient norm, AdamW step, per-component LR schedule step

Every `save_every` steps a checkpoint holds the model, the optimizer, the scheduler, the sampler's position
and RNG, and every rank's Python and torch RNG states: a run killed after a checkpoint and resumed with
`resume=True` continues exactly as if it had never stopped. Rank 0 logs one JSON line per `log_every`
steps to `metrics.jsonl`: the loss (weighted cross-entropy per target token), z_loss (the mean logsumexp^2,
before its weight), tokens/s, and each component's learning rate and gradient norm before clipping.
At the end the weights go to out/model in the in-repo layout (`molmo.checkpoint.save_pretrained`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from molmo.data.formatting import format_example
from molmo.data.packing import IGNORE_INDEX, PackedExample, Packer, collate
from molmo.data.pixmo import Example, read_examples
from molmo.train.config import DataSection, EvalSection, TrainingConfig
from molmo.train.optim import build_optimizer, build_scheduler, clip_gradients

MODEL_INPUTS = ("input_ids", "images", "image_masks", "image_input_idx", "attention_mask", "position_ids")
AdapterFactory = Callable[[nn.Module, Any, Any, EvalSection], Any]  # (model, tokenizer, model config, eval)


@dataclass(frozen=True)
class Distributed:
    """This process's place in the job (torchrun sets RANK, WORLD_SIZE and LOCAL_RANK)."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed() -> Distributed:
    """Join the process group when started by torchrun with several processes (NCCL on GPU, gloo on CPU)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Distributed(dist.get_rank() if world_size > 1 else 0, world_size, device)


# ---------------------------------------------------------------------------------------------------------
# Data: the mixture, its sampler, formatting and packing.


@dataclass(frozen=True)
class Sample:
    """One draw from the mixture: which example, and the seed that formats it."""

    dataset: int
    index: int
    seed: int


class MixtureSampler:
    """Draws examples: a dataset by its rate, then that dataset's next example in a per-epoch shuffled order.

    Its whole state is the numpy generator's state, how many examples each dataset has given, and the
    number of draws; the orders are recomputed from (seed, dataset, epoch). So `state_dict` and
    `load_state_dict` put a resumed run on exactly the samples the uninterrupted run would have drawn.
    """

    def __init__(self, sizes: Sequence[int], rates: Sequence[float], seed: int) -> None:
        if any(size <= 0 for size in sizes):
            raise ValueError(f"every dataset of the mixture needs examples, sizes are {list(sizes)}")
        self.sizes = list(sizes)
        self.seed = seed
        self.probabilities = np.asarray(rates, dtype=np.float64) / float(sum(rates))
        self.rng = np.random.default_rng(seed)
        self.position = [0] * len(sizes)
        self.drawn = 0
        self._orders: dict[int, tuple[int, np.ndarray]] = {}  # dataset -> (epoch, order)

    def _order(self, dataset: int, epoch: int) -> np.ndarray:
        cached = self._orders.get(dataset)
        if cached is None or cached[0] != epoch:
            order = np.random.default_rng((self.seed, dataset, epoch)).permutation(self.sizes[dataset])
            self._orders[dataset] = cached = (epoch, order)
        return cached[1]

    def draw(self, n: int) -> list[Sample]:
        samples = []
        for dataset in self.rng.choice(len(self.sizes), size=n, p=self.probabilities):
            d = int(dataset)
            epoch, offset = divmod(self.position[d], self.sizes[d])
            self.position[d] += 1
            seed = int(np.random.SeedSequence((self.seed, self.drawn)).generate_state(1)[0])
            samples.append(Sample(d, int(self._order(d, epoch)[offset]), seed))
            self.drawn += 1
        return samples

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "position": list(self.position), "drawn": self.drawn}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["position"]) != len(self.sizes):
            raise ValueError("the checkpoint's mixture has a different number of datasets")
        self.rng.bit_generator.state = state["rng"]
        self.position = list(state["position"])
        self.drawn = int(state["drawn"])


def load_mixture(data: DataSection) -> list[Sequence[Example]]:
    """Every dataset of the mixture as a sequence of Examples (read lazily where the source allows)."""
    from molmo.data.synthetic import generate_examples

    mixture = []
    for dataset in data.datasets:
        if dataset.source is not None and dataset.source.startswith("synthetic:"):
            task = dataset.source.removeprefix("synthetic:")
            examples = generate_examples(task, dataset.limit or 0, dataset.seed, dataset.image_size, dataset.style)
        else:
            examples = read_examples(dataset.reader, dataset.source, split=dataset.split, style=dataset.style,
                                     images_dir=dataset.images_dir, limit=dataset.limit)
        if not len(examples):
            raise ValueError(f"dataset {dataset.name!r} ({dataset.source or dataset.reader}) has no examples")
        mixture.append(examples)
    return mixture


# ---------------------------------------------------------------------------------------------------------
# Model helpers: transformer blocks, activation checkpointing, residual dropout, loss.


def transformer_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The repeated blocks (items of a ModuleList, outermost lists only), with their names."""
    blocks: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and not any(name.startswith(f"{b}.") for b, _ in blocks):
            blocks.extend((f"{name}.{k}", block) for k, block in enumerate(module))
    return blocks


def checkpoint_activations(blocks: Sequence[nn.Module]) -> None:
    """Recompute each block's activations during backward instead of storing them (memory for compute)."""
    for block in blocks:
        block.forward = functools.partial(torch.utils.checkpoint.checkpoint, block.forward, use_reentrant=False)


class ResidualDropout:
    """Dropout on each LLM block's residual update, at a per-token rate.

    Answer tokens get max(rate, response_rate), other tokens `rate` (stage 1: 0 and 0.1, "text-only
    dropout"; stage 2: 0.1 and 0). The release drops the attention and MLP outputs separately before each
    residual add; the decoder here comes whole from transformers, so the block's whole update
    (output - input) is dropped once, at the same rate. Set `response_mask` (B, T) before each forward.
    """

    def __init__(self, blocks: Sequence[nn.Module], rate: float, response_rate: float) -> None:
        self.rate, self.response_rate = rate, response_rate
        self.response_mask: torch.Tensor | None = None
        for block in blocks:
            block.register_forward_hook(self._hook, with_kwargs=True)

    def _hook(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
        if not module.training:
            return output
        hidden_in = args[0] if args else kwargs["hidden_states"]
        hidden_out = output[0] if isinstance(output, tuple) else output
        rate = torch.full(hidden_in.shape[:-1], self.rate, device=hidden_in.device)
        if self.response_mask is not None and self.response_rate > self.rate:
            rate = rate.masked_fill(self.response_mask.to(hidden_in.device), self.response_rate)
        rate = rate[..., None]  # (B, T, 1)
        keep = torch.rand_like(hidden_out, dtype=torch.float32) >= rate
        update = (hidden_out - hidden_in) * keep / (1.0 - rate)
        dropped = hidden_in + update.to(hidden_out.dtype)
        return (dropped, *output[1:]) if isinstance(output, tuple) else dropped


def loss_sums(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted sums over target tokens of the cross-entropy and of logsumexp^2 (the z-loss term), in fp32."""
    flat = logits.float().reshape(-1, logits.shape[-1])
    cross_entropy = F.cross_entropy(flat, labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="none")
    weights = weights.reshape(-1).to(flat.device)
    return (cross_entropy * weights).sum(), (torch.logsumexp(flat, dim=-1).pow(2) * weights).sum()


def rng_states() -> dict[str, Any]:
    """This process's Python and torch (CPU and CUDA) RNG states (the data path uses its own seeded generators)."""
    return {
        "python": random.getstate(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The newest complete checkpoint folder under out_dir/checkpoints, if any."""
    folders = sorted((out_dir / "checkpoints").glob("step-*"))
    complete = [f for f in folders if (f / "COMPLETE").exists()]
    return complete[-1] if complete else None


# ---------------------------------------------------------------------------------------------------------
# The trainer.


class Trainer:
    """Builds the model, data and optimizer from a config and trains, checkpoints, logs and evaluates."""

    def __init__(
        self,
        config: TrainingConfig,
        out_dir: str | Path,
        *,
        adapter_factory: AdapterFactory | None = None,
        progress: bool = True,
    ) -> None:
        from molmo.config import get_preset

        self.config = config
        self.out = Path(out_dir)
        self.env = init_distributed()
        self.adapter_factory = adapter_factory
        self.progress = progress
        train, data = config.train, config.data
        per_rank = train.global_batch_size // self.env.world_size
        if train.global_batch_size % self.env.world_size or per_rank % train.micro_batch_size:
            raise ValueError(f"{config.path}: train.global_batch_size {train.global_batch_size} does not split into "
                             f"{self.env.world_size} processes x micro-batches of {train.micro_batch_size}")
        self.micro_batches_per_step = per_rank // train.micro_batch_size
        self.autocast_dtype = self._autocast_dtype()

        self.model_config = get_preset(config.model.preset)
        self.tokenizer = self._tokenizer()
        self.packer = Packer(self.tokenizer, self.model_config.image_config(data.max_crops), data.max_seq_len,
                             data.loss_weighting, data.release_image_masks)
        self.mixture = load_mixture(data)
        self.sampler = MixtureSampler([len(m) for m in self.mixture], [d.rate for d in data.datasets], train.seed)
        self.pool = ThreadPoolExecutor(data.num_workers) if data.num_workers else None

        torch.manual_seed(train.seed)  # identical initial weights on every rank
        self.module = self._build_model()
        self.model = self._parallelize(self.module)
        self.optimizer = build_optimizer(self.module, config.optim)
        self.scheduler = build_scheduler(self.optimizer, config.optim, train.max_steps)
        self.step = 0

    # -- set-up ---------------------------------------------------------------------------------------------

    def _autocast_dtype(self) -> torch.dtype | None:
        precision = self.config.train.precision
        if precision == "bf16" or (precision == "auto" and self.env.device.type == "cuda"):
            return torch.bfloat16
        return None

    def _tokenizer(self) -> Any:
        from molmo.processing import add_image_tokens, tiny_tokenizer

        name = self.config.model.tokenizer
        if name == "tiny":
            return tiny_tokenizer(self.model_config.llm.vocab_size)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(name)
        ids = add_image_tokens(tokenizer)
        if max(ids.values()) >= self.model_config.llm.embedding_rows:
            raise ValueError(f"{self.config.path}: model.tokenizer: image token ids {ids} lie past the "
                             f"{self.model_config.llm.embedding_rows} embedding rows of {self.config.model.preset}")
        return tokenizer

    def _load_pretrained_parts(self, model: nn.Module) -> None:
        """Stage 1's start: the ViT and the decoder from their own pre-trained checkpoints, if the config names them."""
        from molmo.pretrained_parts import load_language_model, load_vision_tower

        for key, load in (("init_vision", load_vision_tower), ("init_language", load_language_model)):
            source = getattr(self.config.model, key)
            if source:
                try:
                    load(model, source)
                except (ValueError, OSError) as error:
                    raise ValueError(f"{self.config.path}: model.{key}: {error}") from None

    @property
    def _sharded(self) -> bool:
        return self.env.world_size > 1 and self.config.train.parallelism == "fsdp"

    def _build_model(self) -> nn.Module:
        """The model with its starting weights. Under FSDP only rank 0 builds them (on the CPU); the other ranks hold
        a model on the meta device (shapes, no memory) until `_parallelize` shards it and fills it from rank 0."""
        from molmo.modeling import MolmoForCausalLM

        if self._sharded and not self.env.is_main:
            with torch.device("meta"):
                model = MolmoForCausalLM(self.model_config)
        else:
            model = MolmoForCausalLM(self.model_config)
            if self.config.model.init_checkpoint:
                from molmo.checkpoint import from_pretrained

                start, _ = from_pretrained(self.config.model.init_checkpoint)
                if start.config != self.model_config:
                    raise ValueError(f"{self.config.path}: model.init_checkpoint {self.config.model.init_checkpoint} "
                                     f"is not a {self.config.model.preset} model")
                model.load_state_dict(start.state_dict())
            self._load_pretrained_parts(model)
            if not self._sharded:
                model.to(self.env.device)  # under FSDP, fully_shard moves each shard to the device itself
        model.train()
        blocks = transformer_blocks(model)
        llm_blocks = [block for name, block in blocks if name.startswith("language_model.")]
        if self.config.model.residual_dropout or self.config.model.response_residual_dropout:
            if not llm_blocks:
                raise ValueError("residual dropout needs the LLM's blocks in a ModuleList under language_model")
            self.dropout: ResidualDropout | None = ResidualDropout(
                llm_blocks, self.config.model.residual_dropout, self.config.model.response_residual_dropout
            )
        else:
            self.dropout = None
        if self.config.train.activation_checkpointing:
            checkpoint_activations([block for _, block in blocks])
        return model

    def _parallelize(self, model: nn.Module) -> nn.Module:
        """DDP or FSDP2 over the process group; the module as is in a single process."""
        if self.env.world_size == 1:
            return model
        if self.config.train.parallelism == "fsdp":
            from torch.distributed.device_mesh import init_device_mesh
            from torch.distributed.fsdp import fully_shard

            # Rank 0's starting weights, kept whole until every rank has its shard of them.
            start = {name: tensor.detach() for name, tensor in model.state_dict().items()} if self.env.is_main else {}
            mesh = init_device_mesh(self.env.device.type, (self.env.world_size,))
            for _, block in transformer_blocks(model):
                fully_shard(block, mesh=mesh)
            fully_shard(model, mesh=mesh)
            self._fill_from_rank0(model, start)
            return model
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.env.device.index] if self.env.device.type == "cuda" else None
        # A mixture of experts leaves experts without tokens (and gradients) in some steps.
        sparse = self.model_config.llm.kind == "olmoe"
        return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=sparse)

    def _fill_from_rank0(self, model: nn.Module, start: dict[str, torch.Tensor]) -> None:
        """Give the meta-device ranks memory, then rank 0's weights (each rank keeps its shard) and buffers (whole,
        the non-persistent ones too, such as the rotary frequencies that no state dict holds)."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        if not self.env.is_main:
            model.to_empty(device=self.env.device)
        set_model_state_dict(model, start, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)

    # -- data -----------------------------------------------------------------------------------------------

    def _pack(self, sample: Sample) -> PackedExample:
        data = self.config.data
        example = self.mixture[sample.dataset][sample.index]
        turns = format_example(example, sample.seed, system_prompt=data.system_prompt,
                               message_format=data.message_format, shuffle=data.shuffle_annotations,
                               transcripts_per_example=data.transcripts_per_example)
        return self.packer(example.image, turns)

    def _next_batch(self) -> list[PackedExample]:
        """This rank's share of the next global batch, packed."""
        mine = self.sampler.draw(self.config.train.global_batch_size)[self.env.rank :: self.env.world_size]
        return list(self.pool.map(self._pack, mine)) if self.pool else [self._pack(s) for s in mine]

    # -- one step -------------------------------------------------------------------------------------------

    def _sum_over_ranks(self, values: list[float]) -> list[float]:
        tensor = torch.tensor(values, dtype=torch.float64, device=self.env.device)
        if self.env.world_size > 1:
            dist.all_reduce(tensor)
        return tensor.tolist()

    def _gradient_sync(self, sync: bool) -> contextlib.AbstractContextManager:
        """Skip the gradient all-reduce on all but the last micro-batch of a step."""
        if self.env.world_size == 1:
            return contextlib.nullcontext()
        if self.config.train.parallelism == "fsdp":
            self.model.set_requires_gradient_sync(sync)
            return contextlib.nullcontext()
        return contextlib.nullcontext() if sync else self.model.no_sync()

    def train_step(self, packed: list[PackedExample]) -> dict[str, float]:
        """Forward and backward over this rank's micro-batches, clip, and step; returns global statistics."""
        micro = self.config.train.micro_batch_size
        (loss_tokens,) = self._sum_over_ranks([sum(p.num_loss_tokens for p in packed)])
        # DDP and FSDP average gradients over ranks; scaling by world_size turns that into the global sum.
        scale = self.env.world_size / max(loss_tokens, 1.0)
        cross_entropy = z_term = torch.zeros((), device=self.env.device)
        for k in range(self.micro_batches_per_step):
            batch = collate(packed[k * micro : (k + 1) * micro], self.packer.pad_id)
            batch = {name: tensor.to(self.env.device, non_blocking=True) for name, tensor in batch.items()}
            if self.dropout is not None:  # answer tokens: the input token at t was the target at t - 1
                self.dropout.response_mask = F.pad(batch["labels"][:, :-1] != IGNORE_INDEX, (1, 0))
            with self._gradient_sync(k == self.micro_batches_per_step - 1):
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
        ce_total, z_total, tokens = self._sum_over_ranks([float(cross_entropy), float(z_term), tokens])
        return {
            "loss": ce_total / max(loss_tokens, 1.0),
            "z_loss": z_total / max(loss_tokens, 1.0),
            "tokens": tokens,
            "loss_tokens": loss_tokens,
            **{f"lr/{name}": rate for name, rate in rates.items()},
            **{f"grad_norm/{name}": norm for name, norm in norms.items()},
        }

    # -- checkpoints ----------------------------------------------------------------------------------------

    def _full_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The full model and optimizer state dicts, gathered on rank 0 (empty elsewhere under FSDP)."""
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_model_state_dict,
            get_optimizer_state_dict,
        )

        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        return (get_model_state_dict(self.model, options=options),
                get_optimizer_state_dict(self.model, self.optimizer, options=options))

    def save_checkpoint(self) -> Path:
        """Write out/checkpoints/step-N (atomically: a COMPLETE marker last) and prune old ones."""
        model_state, optimizer_state = self._full_state()
        ranks_rng = [rng_states()]
        if self.env.world_size > 1:
            ranks_rng = [None] * self.env.world_size
            dist.all_gather_object(ranks_rng, rng_states())
        folder = self.out / "checkpoints" / f"step-{self.step:06d}"
        if self.env.is_main:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            torch.save(model_state, folder / "model.pt")
            torch.save(optimizer_state, folder / "optimizer.pt")
            torch.save({"step": self.step, "scheduler": self.scheduler.state_dict(),
                        "sampler": self.sampler.state_dict(), "rng": ranks_rng, "world_size": self.env.world_size},
                       folder / "trainer.pt")
            (folder / "model_config.json").write_text(json.dumps(self.model_config.to_dict(), indent=2) + "\n")
            (folder / "COMPLETE").write_text("")
            complete = sorted(f for f in folder.parent.glob("step-*") if (f / "COMPLETE").exists())
            for old in complete[: -self.config.train.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
        if self.env.world_size > 1:
            dist.barrier()
        return folder

    def load_checkpoint(self, folder: Path) -> None:
        """Restore everything `save_checkpoint` wrote; the number of processes must be the same."""
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_model_state_dict,
            set_optimizer_state_dict,
        )

        # Our own files (the sampler's numpy generator state, Python's RNG state): a full unpickle is safe here.
        state = torch.load(folder / "trainer.pt", weights_only=False)
        if state["world_size"] != self.env.world_size:
            raise ValueError(f"{folder} was written by {state['world_size']} processes, this run has "
                             f"{self.env.world_size}: resume with the same number")
        distributed = self.env.world_size > 1
        load_here = self.env.is_main or not distributed
        options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=distributed)
        model_state = torch.load(folder / "model.pt", weights_only=True) if load_here else {}
        optimizer_state = torch.load(folder / "optimizer.pt", weights_only=False) if load_here else {}
        set_model_state_dict(self.model, model_state, options=options)
        set_optimizer_state_dict(self.model, self.optimizer, optimizer_state, options=options)
        self.scheduler.load_state_dict(state["scheduler"])
        self.sampler.load_state_dict(state["sampler"])
        set_rng_states(state["rng"][self.env.rank])
        self.step = int(state["step"])

    # -- evaluation -----------------------------------------------------------------------------------------

    def _whole_model(self, device: torch.device) -> nn.Module | None:
        """The model with all its weights on rank 0 (None elsewhere): under FSDP a copy gathered onto `device`."""
        if not self._sharded:
            return self.module if self.env.is_main else None
        model_state, _ = self._full_state()  # collective: every rank takes part
        if not self.env.is_main:
            return None
        from molmo.modeling import MolmoForCausalLM

        module = MolmoForCausalLM(self.model_config)
        module.load_state_dict(model_state)
        return module.to(device)

    def export(self) -> Path:
        """Save the weights and tokenizer in the in-repo layout (`molmo.checkpoint.save_pretrained`) to out/model."""
        from molmo.checkpoint import save_pretrained

        module = self._whole_model(torch.device("cpu"))  # a whole 72B model fits no GPU
        if module is not None:
            save_pretrained(module, self.out / "model", self.tokenizer)
        if self.env.world_size > 1:
            dist.barrier()
        return self.out / "model"

    def evaluate(self) -> dict[str, Any] | None:
        """Run the eval section's benchmarks on the current weights (rank 0), through the adapter factory."""
        section = self.config.eval
        if section is None or self.adapter_factory is None:
            return None
        from evals.runner import EvaluationRun, RunConfig

        module = self._whole_model(self.env.device)
        scores = None
        if module is not None:
            module.eval()
            adapter = self.adapter_factory(module, self.tokenizer, self.model_config, section)
            run = RunConfig(tasks=section.tasks, prompt_set=section.prompt_set, limit=section.limit,
                            batch_size=section.batch_size, seed=self.config.train.seed, data=dict(section.data))
            record = EvaluationRun(adapter, run, self.out / "evals" / f"step-{self.step:06d}").run()
            scores = {task: summary.get("score") for task, summary in record["scores"].items()}
            self._log({"step": self.step, "eval": scores})
            module.train()
        if self.env.world_size > 1:
            dist.barrier()
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
            stats = self.train_step(self._next_batch())
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
            if self.config.eval is not None and (step % train.eval_every == 0 if train.eval_every else saved):
                self.evaluate()
        bar.close()
        if self.step == train.max_steps:
            self.export()
        return records
