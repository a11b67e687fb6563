"""The training objective beside the model (`molmo.modeling.loss_sums`) against a per-token float64 oracle."""

from __future__ import annotations

import math

import pytest
import torch

from molmo.modeling import IGNORE_INDEX, loss_sums


def oracle(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> tuple[float, float]:
    """Token by token: weight * -log softmax(logits)[label] and weight * log(sum(exp(logits)))^2, targets only."""
    cross_entropy = z_squared = 0.0
    for b in range(labels.shape[0]):
        for t in range(labels.shape[1]):
            if int(labels[b, t]) == IGNORE_INDEX:
                continue
            row = [float(x) for x in logits[b, t].double()]
            top = max(row)
            log_z = top + math.log(sum(math.exp(x - top) for x in row))
            cross_entropy += float(weights[b, t]) * (log_z - row[int(labels[b, t])])
            z_squared += float(weights[b, t]) * log_z**2
    return cross_entropy, z_squared


@pytest.mark.parametrize("seed", range(6))
def test_the_sums_are_the_weighted_per_token_cross_entropy_and_squared_log_normaliser(seed):
    generator = torch.Generator().manual_seed(seed)
    batch, length, vocab = 1 + seed % 3, 5 + seed, 7 + 3 * seed
    logits = torch.randn(batch, length, vocab, generator=generator) * (1 + seed)
    labels = torch.randint(0, vocab, (batch, length), generator=generator)
    labels[torch.rand(batch, length, generator=generator) < 0.4] = IGNORE_INDEX
    weights = torch.rand(batch, length, generator=generator) * (labels != IGNORE_INDEX)
    cross_entropy, z_squared = loss_sums(logits, labels, weights)
    assert (cross_entropy.dtype, z_squared.dtype) == (torch.float32, torch.float32)
    assert (float(cross_entropy), float(z_squared)) == pytest.approx(oracle(logits, labels, weights), rel=1e-5)


def test_bf16_logits_are_summed_in_fp32_and_untargeted_positions_add_nothing():
    logits = (torch.randn(2, 4, 11) * 30).to(torch.bfloat16)
    labels = torch.tensor([[1, IGNORE_INDEX, 3, 4], [IGNORE_INDEX] * 4])
    weights = torch.tensor([[1.0, 0.0, 0.5, 2.0], [0.0] * 4])
    cross_entropy, z_squared = loss_sums(logits, labels, weights)
    assert cross_entropy.dtype == torch.float32
    assert (float(cross_entropy), float(z_squared)) == pytest.approx(oracle(logits.float(), labels, weights), rel=1e-5)
    logits[1] = 1e4  # a row with no target: whatever its logits, nothing changes
    assert float(loss_sums(logits, labels, weights)[1]) == pytest.approx(float(z_squared), rel=1e-6)
