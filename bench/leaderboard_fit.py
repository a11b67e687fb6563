"""Leaderboard fitting speed and accuracy: 1,000,000 battles among 30 models, side by side with choix.

Prints the time of this project's full fit (aggregation, Newton MLE, 1000 bootstrap rounds) and of the
sandwich intervals, the time of `choix.ilsr_pairwise` on the same battles, their ratio, and the largest rating
differences against choix and against a plain per-battle maximum-likelihood fit; then the time to read the battles
back from JSON lines, through Arrow and through the exact line-by-line reader.

    .venv/bin/python bench/leaderboard_fit.py [--battles 1000000] [--models 30] [--rounds 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import choix
import numpy as np
from scipy.optimize import minimize
from scipy.special import log_expit

from leaderboard.battles import load_battles
from leaderboard.bradley_terry import ELO_PER_NAT
from leaderboard.ratings import FitSettings, fit_leaderboard
from leaderboard.simulate import simulate_battles, write_battles_jsonl


def plain_mle(a: np.ndarray, b: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """Per-battle Bradley-Terry likelihood (ties y = 1/2) by L-BFGS: the definition, with no aggregation."""

    def loss(free):
        theta = np.concatenate([[0.0], free])
        d = theta[a] - theta[b]
        residual = y - 1 / (1 + np.exp(-d))
        grad = np.bincount(b, residual, n) - np.bincount(a, residual, n)
        return -(y * log_expit(d) + (1 - y) * log_expit(-d)).sum(), grad[1:]

    free = minimize(loss, np.zeros(n - 1), jac=True, method="L-BFGS-B",
                    options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 10_000}).x
    theta = np.concatenate([[0.0], free])
    return (theta - theta.mean()) * ELO_PER_NAT


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--battles", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    truth = {f"model-{i:02d}": float(r) for i, r in enumerate(rng.normal(1000, 100, args.models))}
    battles = simulate_battles(truth, args.battles, seed=args.seed, tie_rate=0.25)
    ties = battles["winner"].str.startswith("tie").mean()
    print(f"{args.battles:,} battles among {args.models} models, {ties:.1%} ties, seed {args.seed}")

    boot, t_boot = timed(lambda: fit_leaderboard(battles, FitSettings(rounds=args.rounds, seed=args.seed)))
    sand, t_sand = timed(lambda: fit_leaderboard(battles, FitSettings(ci="sandwich")))

    models = list(boot.models)
    a = battles["model_a"].map(models.index).to_numpy()
    b = battles["model_b"].map(models.index).to_numpy()
    y = battles["winner"].map({"model_a": 1.0, "model_b": 0.0}).fillna(0.5).to_numpy()
    # choix takes (winner, loser) pairs and has no ties: count every result twice and a tie as one win each way.
    decisive = y != 0.5
    winners = np.where(y == 1.0, a, b)[decisive]
    losers = np.where(y == 1.0, b, a)[decisive]
    pairs = np.concatenate([np.repeat(np.stack([winners, losers], 1), 2, axis=0),
                            np.stack([a[~decisive], b[~decisive]], 1), np.stack([b[~decisive], a[~decisive]], 1)])
    theta_choix, t_choix = timed(lambda: choix.ilsr_pairwise(len(models), pairs, tol=1e-10))
    elo_choix = (theta_choix - theta_choix.mean()) * ELO_PER_NAT
    elo_plain, t_plain = timed(lambda: plain_mle(a, b, y, len(models)))
    ours = boot.rating - boot.rating.mean()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "battles.jsonl"
        write_battles_jsonl(battles, path)
        _, t_load = timed(lambda: load_battles(path))
        # One blank line is enough to send a file to the exact line-by-line reader instead of Arrow's.
        spaced = Path(folder) / "spaced.jsonl"
        spaced.write_bytes(b"\n" + path.read_bytes())
        _, t_load_lines = timed(lambda: load_battles(spaced))

    half_boot = np.median(boot.upper - boot.lower) / 2
    half_sand = np.median(sand.upper - sand.lower) / 2
    print(f"{'step':58s} {'seconds':>8s}")
    print(f"{'molmo-arena fit + ' + str(args.rounds) + ' bootstrap rounds (aggregation included)':58s} {t_boot:8.3f}")
    print(f"{'molmo-arena fit + sandwich intervals':58s} {t_sand:8.3f}")
    print(f"{'choix.ilsr_pairwise on the same battles (point estimate only)':58s} {t_choix:8.3f}")
    print(f"{'plain per-battle MLE, scipy L-BFGS (point estimate only)':58s} {t_plain:8.3f}")
    print(f"{'reading the battles from JSON lines (load_battles, Arrow)':58s} {t_load:8.3f}")
    print(f"{'the same with a blank line (line-by-line reader)':58s} {t_load_lines:8.3f}")
    print(f"ratio choix / molmo-arena bootstrap fit: {t_choix / t_boot:.1f}x")
    print(f"largest rating difference vs choix: {np.max(np.abs(ours - elo_choix)):.4f} Elo")
    print(f"largest rating difference vs plain MLE: {np.max(np.abs(ours - elo_plain)):.4f} Elo")
    print(f"median 95% half-width: bootstrap {half_boot:.2f}, sandwich {half_sand:.2f} Elo")


if __name__ == "__main__":
    main()
