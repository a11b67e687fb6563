"""This process's place in a torchrun job, and the collectives training needs: DDP or FSDP2 wrapping, gradient sync,
sums over ranks, and the whole model gathered from its shards.

The process group is started once, by the command that launches training (`init_distributed`); everything else
reads where it stands (`Distributed.current`) and starts nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from molmo.config import MolmoConfig


@dataclass(frozen=True)
class Distributed:
    """This process's place in the job (torchrun sets RANK, WORLD_SIZE and LOCAL_RANK)."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def current(cls) -> Distributed:
        """Where this process stands now; a torchrun job whose process group is not started yet is an error."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
        if world_size == 1:
            return cls(0, 1, device)
        if not dist.is_initialized():
            raise RuntimeError(f"WORLD_SIZE is {world_size} but no process group is started: call "
                               "molmo.train.distributed.init_distributed() first")
        return cls(dist.get_rank(), world_size, device)


def init_distributed() -> Distributed:
    """Join the process group when started by torchrun with several processes (NCCL on GPU, gloo on CPU)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return Distributed.current()


def is_sharded(env: Distributed, parallelism: str) -> bool:
    """Whether the weights are split over ranks (FSDP), so no rank holds the whole model."""
    return env.world_size > 1 and parallelism == "fsdp"


def parallelize(model: nn.Module, env: Distributed, parallelism: str, blocks: Sequence[nn.Module],
                find_unused_parameters: bool = False) -> nn.Module:
    """DDP or FSDP2 over the process group; the module as is in a single process.

    FSDP2 shards each of `blocks` and then the rest. Only rank 0 holds the starting weights (the others build the
    model on the meta device, shapes without memory); every rank then receives its shard of rank 0's weights.
    find_unused_parameters: for DDP, where some parameters get no gradient in a step (a mixture of experts).
    """
    if env.world_size == 1:
        return model
    if parallelism == "fsdp":
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        # Rank 0's starting weights, kept whole until every rank has its shard of them.
        start = {name: tensor.detach() for name, tensor in model.state_dict().items()} if env.is_main else {}
        mesh = init_device_mesh(env.device.type, (env.world_size,))
        for block in blocks:
            fully_shard(block, mesh=mesh)
        fully_shard(model, mesh=mesh)
        _fill_from_rank0(model, start, env)
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [env.device.index] if env.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=find_unused_parameters)


def _fill_from_rank0(model: nn.Module, start: dict[str, torch.Tensor], env: Distributed) -> None:
    """Give the meta-device ranks memory, then rank 0's weights (each rank keeps its shard) and buffers (whole,
    the non-persistent ones too, such as the rotary frequencies that no state dict holds)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    if not env.is_main:
        model.to_empty(device=env.device)
    set_model_state_dict(model, start, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)


def gradient_sync(model: nn.Module, env: Distributed, parallelism: str,
                  sync: bool) -> contextlib.AbstractContextManager:
    """Skip the gradient all-reduce (sync=False) on all but the last micro-batch of a step."""
    if env.world_size == 1:
        return contextlib.nullcontext()
    if parallelism == "fsdp":
        model.set_requires_gradient_sync(sync)
        return contextlib.nullcontext()
    return contextlib.nullcontext() if sync else model.no_sync()


def sum_over_ranks(values: list[float], env: Distributed) -> list[float]:
    """Each value summed over every rank (in float64)."""
    tensor = torch.tensor(values, dtype=torch.float64, device=env.device)
    if env.world_size > 1:
        dist.all_reduce(tensor)
    return tensor.tolist()


def barrier(env: Distributed) -> None:
    """Wait for every rank (nothing to wait for in a single process)."""
    if env.world_size > 1:
        dist.barrier()


def full_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict[str, Any], dict[str, Any]]:
    """The full model and optimizer state dicts on the CPU, gathered on rank 0 (empty elsewhere under FSDP)."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return (get_model_state_dict(model, options=options),
            get_optimizer_state_dict(model, optimizer, options=options))


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP wrapper (FSDP2 shards the model in place, so it is its own inside)."""
    from torch.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


def whole_model(model: nn.Module, model_config: MolmoConfig, env: Distributed, parallelism: str,
                device: torch.device) -> nn.Module | None:
    """The model with all its weights on rank 0 (None elsewhere): the model itself, or under FSDP a copy gathered
    onto `device` (a collective: every rank must call it)."""
    if not is_sharded(env, parallelism):
        return unwrap(model) if env.is_main else None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if not env.is_main:
        return None
    from molmo.modeling import MolmoForCausalLM

    copy = MolmoForCausalLM(model_config)
    copy.load_state_dict(state)
    return copy.to(device)
