"""Per-component optimisation: parameter groups (ViT, connector, LLM), the LR schedule, gradient clipping.

Molmo trains its three parts at very different rates (stage 1: connector 2e-4, LLM 2e-5, ViT 6e-6), with
their own warmups, and clips each part's gradient norm on its own (the paper's ablation: component-wise
clipping beats one global norm). One AdamW param group per component carries its name, so the schedule and
the clipping can treat each alike.

Schedule, for update number t = 1, 2, ..., T (T = max_steps), per component with peak lr and warmup w:

    t <= w:  lr * t / w                                               linear warmup
    t >  w:  lr * (f + (1 - f) * (1 + cos(pi * (t - w) / (T - w))) / 2)   cosine from the peak down to f * peak

with f = final_lr_fraction (0.1), so the last update uses exactly 10% of the peak.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from molmo.train.config import ComponentSection, OptimSection


def lr_multiplier(step: int, warmup_steps: int, total_steps: int, final_fraction: float) -> float:
    """The fraction of the peak LR that update number `step` (1-based) uses."""
    if step <= warmup_steps:
        return step / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return final_fraction + (1.0 - final_fraction) * 0.5 * (1.0 + math.cos(math.pi * progress))


def component_parameters(
    model: nn.Module, components: Mapping[str, ComponentSection]
) -> dict[str, list[nn.Parameter]]:
    """Trainable parameters by component; each must belong to exactly one component's modules."""
    groups: dict[str, list[nn.Parameter]] = {name: [] for name in components}
    unclaimed = []
    for param_name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        owners = [
            name for name, component in components.items()
            if any(param_name == m or param_name.startswith(f"{m}.") for m in component.modules)
        ]
        if len(owners) > 1:
            raise ValueError(f"parameter {param_name} belongs to several components: {owners}")
        if owners:
            groups[owners[0]].append(param)
        else:
            unclaimed.append(param_name)
    if unclaimed:
        raise ValueError(f"parameters in no component: {unclaimed[:5]}{' ...' if len(unclaimed) > 5 else ''}; "
                         "list their submodules under optim.components")
    empty = [name for name, params in groups.items() if not params]
    if empty:
        raise ValueError(f"components without trainable parameters: {empty}")
    return groups


def build_optimizer(model: nn.Module, optim: OptimSection) -> torch.optim.AdamW:
    """AdamW with one param group per component, each named and holding its own peak LR."""
    groups = component_parameters(model, optim.components)
    param_groups = [
        {"params": params, "lr": optim.components[name].lr, "name": name} for name, params in groups.items()
    ]
    return torch.optim.AdamW(param_groups, betas=optim.betas, eps=optim.eps, weight_decay=optim.weight_decay)


def build_scheduler(
    optimizer: torch.optim.Optimizer, optim: OptimSection, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-group warmup + cosine; LambdaLR's counter s (updates done so far) maps to update number s + 1."""

    def schedule(component: ComponentSection):
        return lambda done: lr_multiplier(done + 1, component.warmup_steps, total_steps, optim.final_lr_fraction)

    lambdas = [schedule(optim.components[group["name"]]) for group in optimizer.param_groups]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)


def clip_gradients(optimizer: torch.optim.Optimizer, optim: OptimSection) -> dict[str, float]:
    """Clip each component's gradient norm to its max_grad_norm; returns the norms before clipping.

    Works for plain, DDP and FSDP2 parameters (with FSDP2 the norm is a DTensor reduced over ranks).
    """
    norms = {}
    for group in optimizer.param_groups:
        params = [p for p in group["params"] if p.grad is not None]
        limit = optim.components[group["name"]].max_grad_norm
        if not params:
            norms[group["name"]] = 0.0
            continue
        norm = torch.nn.utils.clip_grad_norm_(params, limit if limit is not None else math.inf, foreach=True)
        if hasattr(norm, "full_tensor"):  # a DTensor under FSDP2
            norm = norm.full_tensor()
        norms[group["name"]] = float(norm)
    return norms
