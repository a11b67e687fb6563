"""Per-component optimisation: param groups by submodule, the warmup + cosine schedule, per-component clipping."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from molmo.train.config import ComponentSection, OptimSection
from molmo.train.optim import build_optimizer, build_scheduler, clip_gradients, component_parameters, lr_multiplier


class ThreeParts(nn.Module):
    """The model's three submodule names, nothing else."""

    def __init__(self) -> None:
        super().__init__()
        self.vision_encoder = nn.Linear(4, 4)
        self.connector = nn.Linear(4, 4)
        self.language_model = nn.Linear(4, 4)


def _optim(**clips: float | None) -> OptimSection:
    return OptimSection(components={
        "vit": ComponentSection(("vision_encoder",), lr=6e-6, warmup_steps=2000, max_grad_norm=clips.get("vit", 1.0)),
        "connector": ComponentSection(("connector",), lr=2e-4, warmup_steps=200,
                                      max_grad_norm=clips.get("connector", 1.0)),
        "llm": ComponentSection(("language_model",), lr=2e-5, warmup_steps=2000, max_grad_norm=clips.get("llm", 1.0)),
    })


@pytest.mark.parametrize(
    ("step", "expected"),
    [(1, 1 / 200), (100, 0.5), (200, 1.0), (201, 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 800))),
     (600, 0.55), (1000, 0.1)],
)
def test_warmup_then_cosine_to_ten_percent(step, expected):
    assert lr_multiplier(step, 200, 1000, 0.1) == pytest.approx(expected)


def test_no_warmup_starts_at_the_peak():
    assert lr_multiplier(1, 0, 100, 0.1) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 100)))


def test_each_component_follows_its_own_schedule():
    model = ThreeParts()
    optim = _optim()
    optimizer = build_optimizer(model, optim)
    scheduler = build_scheduler(optimizer, optim, total_steps=22300)
    seen = {}
    for step in range(1, 2301):
        if step in (1, 200, 2000, 2300):
            seen[step] = {g["name"]: g["lr"] for g in optimizer.param_groups}
        optimizer.step()
        scheduler.step()
    assert seen[1] == pytest.approx({"vit": 6e-6 / 2000, "connector": 2e-4 / 200, "llm": 2e-5 / 2000})
    assert seen[200]["connector"] == pytest.approx(2e-4) and seen[200]["vit"] == pytest.approx(6e-6 * 0.1)
    assert seen[2000] == pytest.approx({"vit": 6e-6, "connector": 2e-4 * lr_multiplier(2000, 200, 22300, 0.1),
                                        "llm": 2e-5})
    cosine = lr_multiplier(2300, 2000, 22300, 0.1)
    assert seen[2300]["vit"] == pytest.approx(6e-6 * cosine) and seen[2300]["llm"] == pytest.approx(2e-5 * cosine)
    group = optimizer.param_groups[0]
    assert (group["betas"], group["eps"], group["weight_decay"]) == ((0.9, 0.95), 1e-6, 0.0)


def test_every_parameter_in_exactly_one_component():
    model = ThreeParts()
    groups = component_parameters(model, _optim().components)
    assert [len(groups[name]) for name in ("vit", "connector", "llm")] == [2, 2, 2]
    model.extra = nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"parameters in no component: \['extra.weight', 'extra.bias'\]"):
        component_parameters(model, _optim().components)
    both = {"a": ComponentSection(("connector",), 1.0, 0), "b": ComponentSection(("connector", "vision_encoder",
                                                                                   "language_model"), 1.0, 0)}
    with pytest.raises(ValueError, match="belongs to several components"):
        component_parameters(ThreeParts(), both)


def test_each_component_is_clipped_on_its_own():
    model = ThreeParts()
    optim = _optim(connector=None)
    optimizer = build_optimizer(model, optim)
    for module, scale in ((model.vision_encoder, 10.0), (model.connector, 10.0), (model.language_model, 0.01)):
        for param in module.parameters():
            param.grad = torch.full_like(param, scale)
    norms = clip_gradients(optimizer, optim)
    assert norms["vit"] == pytest.approx(10.0 * math.sqrt(20)) and norms["llm"] == pytest.approx(0.01 * math.sqrt(20))

    def norm(module: nn.Module) -> float:
        return float(torch.cat([p.grad.flatten() for p in module.parameters()]).norm())

    assert norm(model.vision_encoder) == pytest.approx(1.0, rel=1e-4)  # clipped to its limit
    assert norm(model.connector) == pytest.approx(10.0 * math.sqrt(20))  # no limit for this component
    assert norm(model.language_model) == pytest.approx(0.01 * math.sqrt(20))  # small: untouched (a global clip
    # to 1.0 would have shrunk it by the ViT's and connector's norms)
