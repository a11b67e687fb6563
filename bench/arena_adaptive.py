"""Adaptive against uniform pair sampling on a simulated Molmo study: votes until the leaderboard is precise.

The 27 models of the Molmo paper's human evaluation (the Elo column of results/reference/molmo_paper_table1.csv)
vote through the arena's own pair policies (`arena.sampling.UniformPairs` and `AdaptivePolicy`, the code behind
`arena serve --sampling uniform|adaptive`), one vote at a time, outcomes drawn from the Bradley-Terry model with
ties as `leaderboard.simulate` draws them (rate `--tie-rate`; the paper does not publish its own). Every
`--check-every` votes the leaderboard's own fit (`leaderboard.bradley_terry`: maximum likelihood, sandwich
covariance, Wald 95% intervals) is asked two questions:

- widths: is every model's 95% half-width at most `--half-width` Elo (15)?
- top 5: are the top 5 separated from the rest, i.e. does the 95% interval of the rating difference exclude 0 for
  every (top-5 model, other model) pair? (Within the top 5 the paper's ratings differ by 2 Elo, which no study of
  this size resolves, so the question is which five lead, not their order.)

It prints the votes each policy needed per seed, the median and mean, adaptive as a share of uniform, and the
coverage of the intervals (the share of true ratings, centred like the fit, inside their 95% intervals) at the
stopping points and at fixed vote counts (`--coverage-at`); it should stay near 95% since the sampling depends only
on past outcomes (docs/arena-sampling.md).

    .venv/bin/python bench/arena_adaptive.py [--seeds 5] [--tie-rate 0.25] [--max-votes 300000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from arena.sampling import REFRESH_EVERY, UNIFORM, AdaptivePolicy
from leaderboard.bradley_terry import ELO_PER_NAT, RIDGE, fit_strengths, needs_ridge, sandwich_covariance

TABLE = Path(__file__).resolve().parents[1] / "results" / "reference" / "molmo_paper_table1.csv"
Z95 = 1.959963984540054


@dataclass
class Outcome:
    """When each question was first answered yes, and whether the true ratings were inside the intervals then and
    at fixed vote counts."""

    votes: dict[str, int | None] = field(default_factory=lambda: {"widths": None, "top 5": None})
    covered: dict[str, list[bool]] = field(default_factory=lambda: {"widths": [], "top 5": []})
    covered_at: dict[int, list[bool]] = field(default_factory=dict)


def leaderboard_answers(wins: np.ndarray, ties: np.ndarray, truth: np.ndarray, half_width: float,
                        top: list[int]) -> tuple[bool, bool, np.ndarray]:
    """(every half-width <= half_width, top separated from the rest, truth inside each model's interval)."""
    scores = wins + 0.5 * ties
    ridge = RIDGE if needs_ridge(scores) else 0.0
    theta = fit_strengths(scores, ridge)
    covariance = sandwich_covariance(wins, ties, theta, ridge) * ELO_PER_NAT**2
    rating = theta * ELO_PER_NAT
    sd = np.sqrt(np.diag(covariance))
    diff_sd = np.sqrt(np.maximum(sd[:, None] ** 2 + sd[None, :] ** 2 - 2 * covariance, 0.0))
    rest = [m for m in range(len(truth)) if m not in top]
    separated = all(rating[t] - rating[o] > Z95 * diff_sd[t, o] for t in top for o in rest)
    return bool((Z95 * sd <= half_width).all()), separated, np.abs(rating - truth) <= Z95 * sd


def simulate(policy_name: str, elo: np.ndarray, seed: int, args: argparse.Namespace) -> Outcome:
    """One study, vote by vote, until both questions are answered yes or `--max-votes`."""
    n = len(elo)
    truth = elo - elo.mean()  # the fit is centred on the mean
    strength = truth / ELO_PER_NAT
    top = list(np.argsort(-elo)[:5])
    low, high = np.triu_indices(n, k=1)
    rng, outcomes = random.Random(seed), np.random.default_rng(seed)
    policy = AdaptivePolicy(n, low, high, refresh_every=args.refresh_every) if policy_name == "adaptive" else None
    n_assigned, games, score_low = np.zeros(len(low)), np.zeros(len(low)), np.zeros(len(low))
    wins, ties = np.zeros((n, n)), np.zeros((n, n))
    result = Outcome()
    for vote in range(1, args.max_votes + 1):
        if policy is None:
            q = UNIFORM.order(None, list(enumerate(n_assigned.tolist())), rng)[0]
        else:
            if policy.needs_refresh(n_assigned):
                policy.refresh(score_low, games, n_assigned)
            q = policy.order(n_assigned, rng)[0]
        i, j = low[q], high[q]
        p = 1.0 / (1.0 + np.exp(strength[j] - strength[i]))
        tie = min(args.tie_rate, 2.0 * min(p, 1.0 - p))
        u = outcomes.random()
        if u < p - tie / 2:
            wins[i, j] += 1
            score_low[q] += 1.0
        elif u < 1.0 - tie:
            wins[j, i] += 1
        else:
            ties[i, j] += 1
            ties[j, i] += 1
            score_low[q] += 0.5
        n_assigned[q] += 1
        games[q] += 1
        if vote % args.check_every == 0 or vote in args.coverage_at:
            narrow, separated, covered = leaderboard_answers(wins, ties, truth, args.half_width, top)
            for question, yes in (("widths", narrow), ("top 5", separated)):
                if yes and result.votes[question] is None:
                    result.votes[question] = vote
                    result.covered[question] = covered.tolist()
            if vote in args.coverage_at:
                result.covered_at[vote] = covered.tolist()
            if all(v is not None for v in result.votes.values()) and vote >= max(args.coverage_at, default=0):
                break
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--tie-rate", type=float, default=0.25)
    parser.add_argument("--half-width", type=float, default=15.0, help="target 95%% half-width, Elo")
    parser.add_argument("--check-every", type=int, default=500, help="votes between two leaderboard fits")
    parser.add_argument("--refresh-every", type=int, default=REFRESH_EVERY,
                        help="votes between two fits inside the adaptive sampler")
    parser.add_argument("--max-votes", type=int, default=300_000)
    parser.add_argument("--coverage-at", type=int, nargs="*", default=[25_000, 100_000],
                        help="also check coverage at these fixed vote counts (no stopping rule involved)")
    parser.add_argument("--policies", nargs="+", choices=("uniform", "adaptive"), default=["uniform", "adaptive"])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    elo = pd.read_csv(TABLE)["elo"].to_numpy(float)
    print(f"{len(elo)} models from {TABLE.name}; ties at {args.tie_rate:.0%}; checks every {args.check_every} votes; "
          f"adaptive refits every {args.refresh_every}; seeds 0-{args.seeds - 1}")
    figures: dict[str, dict] = {}
    for name in args.policies:
        started = time.perf_counter()
        runs = [simulate(name, elo, seed, args) for seed in range(args.seeds)]
        figures[name] = {"seconds": round(time.perf_counter() - started, 1)}
        for question in ("widths", "top 5"):
            votes = [run.votes[question] for run in runs]
            reached = [v for v in votes if v is not None]
            covered = [c for run in runs for c in run.covered[question]]
            figures[name][question] = {
                "votes": votes, "median": float(np.median(reached)) if reached else None,
                "mean": float(np.mean(reached)) if reached else None, "unreached": votes.count(None),
                "coverage": float(np.mean(covered)) if covered else None}
        figures[name]["coverage at"] = {
            str(at): float(np.mean([c for run in runs for c in run.covered_at.get(at, [])])) for at in args.coverage_at}
        print(f"{name}: {figures[name]['seconds']} s")
    if len(args.policies) < 2:
        print(json.dumps(figures, indent=1))
        return
    print("\n| question | uniform votes (median, mean) | adaptive votes (median, mean) | adaptive / uniform (median) "
          "| coverage uniform | coverage adaptive |\n|---|---|---|---|---|---|")
    for question in ("widths", "top 5"):
        u, a = figures["uniform"][question], figures["adaptive"][question]
        ratio = a["median"] / u["median"] if a["median"] and u["median"] else None
        row = [question, f"{u['median']:,.0f}, {u['mean']:,.0f}" if u["median"] else "not reached",
               f"{a['median']:,.0f}, {a['mean']:,.0f}" if a["median"] else "not reached",
               f"{ratio:.2f}" if ratio else "-",
               f"{u['coverage']:.3f}" if u["coverage"] is not None else "-",
               f"{a['coverage']:.3f}" if a["coverage"] is not None else "-"]
        print("| " + " | ".join(row) + " |")
    for at in args.coverage_at:
        shares = [figures[name]["coverage at"][str(at)] for name in ("uniform", "adaptive")]
        print(f"coverage at {at:,} votes (fixed, no stopping rule): uniform {shares[0]:.3f}, adaptive {shares[1]:.3f}")
    for name in ("uniform", "adaptive"):
        for question in ("widths", "top 5"):
            entry = figures[name][question]
            unreached = f" ({entry['unreached']} not within {args.max_votes:,})" if entry["unreached"] else ""
            print(f"{name:8s} {question:6s} votes per seed: {entry['votes']}{unreached}")
    if args.json:
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json)}, "figures": figures},
                                        indent=2))


if __name__ == "__main__":
    main()
