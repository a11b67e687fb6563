"""Training checkpoints, written so that a run killed after one and resumed continues exactly as if it never stopped.

    out/checkpoints/step-000100/
        model.pt          the full model state dict (gathered on rank 0 under FSDP)
        optimizer.pt      the full optimizer state dict
        trainer.pt        step, LR scheduler, mixture sampler (its generator and positions), every rank's Python and
                          torch RNG states, and the number of processes that wrote it
        model_config.json the preset's dimensions
        COMPLETE          written last: a folder without it is ignored on resume

At the end of training the weights go to out/model in the in-repo layout (`molmo.checkpoint.save_pretrained`).
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from molmo.config import MolmoConfig
from molmo.train.distributed import Distributed, barrier, full_state, whole_model
from molmo.train.mixture import MixtureSampler


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


def checkpoint_folder(out_dir: Path, step: int) -> Path:
    return out_dir / "checkpoints" / f"step-{step:06d}"


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The newest complete checkpoint folder under out_dir/checkpoints, if any."""
    folders = sorted((out_dir / "checkpoints").glob("step-*"))
    complete = [f for f in folders if (f / "COMPLETE").exists()]
    return complete[-1] if complete else None


def save_checkpoint(
    out_dir: Path,
    step: int,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    sampler: MixtureSampler,
    model_config: MolmoConfig,
    env: Distributed,
    keep: int,
) -> Path:
    """Write out_dir/checkpoints/step-N (every rank takes part; rank 0 writes) and keep only the newest `keep`."""
    model_state, optimizer_state = full_state(model, optimizer)
    ranks_rng = [rng_states()]
    if env.world_size > 1:
        ranks_rng = [None] * env.world_size
        dist.all_gather_object(ranks_rng, rng_states())
    folder = checkpoint_folder(out_dir, step)
    if env.is_main:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        torch.save(model_state, folder / "model.pt")
        torch.save(optimizer_state, folder / "optimizer.pt")
        torch.save({"step": step, "scheduler": scheduler.state_dict(), "sampler": sampler.state_dict(),
                    "rng": ranks_rng, "world_size": env.world_size}, folder / "trainer.pt")
        (folder / "model_config.json").write_text(json.dumps(model_config.to_dict(), indent=2) + "\n")
        (folder / "COMPLETE").write_text("")
        complete = sorted(f for f in folder.parent.glob("step-*") if (f / "COMPLETE").exists())
        for old in complete[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    barrier(env)
    return folder


def load_checkpoint(
    folder: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    sampler: MixtureSampler,
    env: Distributed,
) -> int:
    """Restore everything `save_checkpoint` wrote into the given objects; returns the step. The number of processes
    must be the one that wrote it."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    # Our own files (the sampler's numpy generator state, Python's RNG state): a full unpickle is safe here.
    state = torch.load(folder / "trainer.pt", weights_only=False)
    if state["world_size"] != env.world_size:
        raise ValueError(f"{folder} was written by {state['world_size']} processes, this run has "
                         f"{env.world_size}: resume with the same number")
    distributed = env.world_size > 1
    load_here = env.is_main or not distributed
    options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=distributed)
    model_state = torch.load(folder / "model.pt", weights_only=True) if load_here else {}
    optimizer_state = torch.load(folder / "optimizer.pt", weights_only=False) if load_here else {}
    set_model_state_dict(model, model_state, options=options)
    set_optimizer_state_dict(model, optimizer, optimizer_state, options=options)
    scheduler.load_state_dict(state["scheduler"])
    sampler.load_state_dict(state["sampler"])
    set_rng_states(state["rng"][env.rank])
    return int(state["step"])


def export_model(out_dir: Path, model: nn.Module, model_config: MolmoConfig, tokenizer: Any, env: Distributed,
                 parallelism: str) -> Path:
    """Save the weights and tokenizer in the in-repo layout (`molmo.checkpoint.save_pretrained`) to out_dir/model
    (every rank takes part; rank 0 writes)."""
    from molmo.checkpoint import save_pretrained

    whole = whole_model(model, model_config, env, parallelism, torch.device("cpu"))  # a whole 72B model fits no GPU
    if whole is not None:
        save_pretrained(whole, out_dir / "model", tokenizer)
    barrier(env)
    return out_dir / "model"
