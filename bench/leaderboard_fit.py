"""Leaderboard speed and accuracy at 30 models / 1M battles and at LMArena's scale, 250 models / 3M battles.

For each scale, on simulated battles with pairing skewed as in a live arena (model popularity log-normal), written
as Parquet in FastChat's layout, this prints:
- the whole CLI as a user runs it (`python -m molmo_arena leaderboard fit FILE ...`, interpreter start included):
  sandwich intervals, and the bootstrap with --rounds rounds;
- the same fits in process (from the battles already in memory), and reading the file alone beside
  `pandas.read_parquet` of the same columns;
- `choix.ilsr_pairwise` on the same battles, and a plain per-battle maximum-likelihood fit (scipy L-BFGS) with the
  largest rating difference against ours (target: 0.01 Elo);
- arena-rank (LMArena's package) with sandwich intervals, when `--arena-rank-python` names an interpreter that
  has it (arena-rank pins numpy 2.3.3 and jax, so it lives in its own environment);
- at the large scale, style control on the same 3M battles: the CLI with sandwich intervals and with a
  --style-rounds bootstrap, and the style fit in process.

Every timing is the fastest of --repeats runs (default 1). In-process figures run with one OpenBLAS thread, as
the CLI does (leaderboard/cli.py).

    .venv/bin/python bench/leaderboard_fit.py [--scale small|large|all] [--rounds 1000] [--style-rounds 100]
        [--repeats 1] [--arena-rank-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads, as the CLI sets it

import choix
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import log_expit

from leaderboard.battles import load_battles
from leaderboard.bradley_terry import ELO_PER_NAT
from leaderboard.counts import codes
from leaderboard.ratings import FitSettings, battle_columns, fit_leaderboard
from leaderboard.simulate import simulate_battles, write_battles_parquet
from molmo_arena.common.arguments import positive_int

SCALES = {"small": (30, 1_000_000), "large": (250, 3_000_000)}
STYLE = {"tokens": 0.3, "headers": 0.02, "lists": 0.05, "bold": 0.1}
ROOT = Path(__file__).resolve().parents[1]

ARENA_RANK = """
import json, sys, time
import pandas as pd
from arena_rank.models.bradley_terry import BradleyTerry
from arena_rank.utils.data_utils import PairDataset
frame = pd.read_parquet(sys.argv[1], columns=["model_a", "model_b", "winner"])
start = time.perf_counter()
data = PairDataset.from_pandas(frame)
model = BradleyTerry(n_competitors=len(data.competitors))
out = model.compute_ratings_and_cis(data, ci_method="sandwich")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "models": data.competitors,
                  "ratings": [float(r) for r in out["ratings"]]}))
"""


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


def timed(function, repeats: int):
    """The result of `function` and the fastest of `repeats` runs' wall times."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return result, best


def cli(repeats: int, *args: str) -> float:
    """Wall time of `molmo-arena leaderboard fit` in a fresh interpreter (the user's environment: no OpenBLAS
    setting passed on), the fastest of `repeats` runs."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"} | {"PYTHONPATH": str(ROOT)}
    return timed(lambda: subprocess.run([sys.executable, "-m", "molmo_arena", "leaderboard", "fit", *args,
                                         "--quiet"], check=True, env=env, cwd=ROOT), repeats)[1]


def choix_fit(a: np.ndarray, b: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """choix takes (winner, loser) pairs and has no ties: each result counts twice, a tie as one win each way."""
    decisive = y != 0.5
    winners = np.where(y == 1.0, a, b)[decisive]
    losers = np.where(y == 1.0, b, a)[decisive]
    pairs = np.concatenate([np.repeat(np.stack([winners, losers], 1), 2, axis=0),
                            np.stack([a[~decisive], b[~decisive]], 1), np.stack([b[~decisive], a[~decisive]], 1)])
    theta = choix.ilsr_pairwise(n, pairs, tol=1e-10)
    return (theta - theta.mean()) * ELO_PER_NAT


def run_scale(name: str, args: argparse.Namespace, folder: Path) -> None:
    models, n_battles = SCALES[name]
    rng = np.random.default_rng(args.seed)
    truth = {f"model-{i:03d}": float(r) for i, r in enumerate(rng.normal(1000, 100, models))}
    style = STYLE if name == "large" else None
    battles = simulate_battles(truth, n_battles, seed=args.seed, popularity=rng.lognormal(0.0, 1.0, models),
                               style=style)
    path = folder / f"battles-{name}.parquet"
    write_battles_parquet(battles, path)
    pair = battles["model_a"].str.cat(battles["model_b"], sep="|")
    print(f"\n## {models} models, {n_battles:,} battles ({pair.nunique():,} ordered pairs seen; the most frequent "
          f"pair {pair.value_counts().iloc[0]:,} battles), {battles['winner'].str.startswith('tie').mean():.1%} ties, "
          f"Parquet {path.stat().st_size / 2**20:.0f} MiB")

    rows = []
    columns = ["model_a", "model_b", "winner", "judge", "tstamp", "anony"]
    _, t_bare = timed(lambda: pd.read_parquet(path, columns=columns), args.repeats)
    loaded, t_load = timed(lambda: load_battles(path, columns), args.repeats)
    fitted = loaded[["model_a", "model_b", "winner", *battle_columns(FitSettings())]]
    rows.append(("pandas.read_parquet of the same columns (no checks)", t_bare))
    rows.append(("load_battles (read + validate)", t_load))
    out = folder / "out"
    rows.append(("CLI: fit --ci sandwich", cli(args.repeats, str(path), "--ci", "sandwich", "--out", str(out))))
    rows.append((f"CLI: fit --rounds {args.rounds} (bootstrap)",
                 cli(args.repeats, str(path), "--rounds", str(args.rounds), "--out", str(out))))
    sand, t_sand = timed(lambda: fit_leaderboard(fitted, FitSettings(ci="sandwich")), args.repeats)
    boot, t_boot = timed(lambda: fit_leaderboard(fitted, FitSettings(rounds=args.rounds, seed=args.seed)),
                         args.repeats)
    rows.append(("in process: fit + sandwich", t_sand))
    rows.append((f"in process: fit + {args.rounds} bootstrap rounds", t_boot))

    order = list(sand.models)
    index = {model: i for i, model in enumerate(order)}
    a, b = codes(loaded["model_a"], index), codes(loaded["model_b"], index)
    y = np.array([1.0, 0.0, 0.5])[codes(loaded["winner"], {"model_a": 0, "model_b": 1}, missing=2)]
    elo_choix, t_choix = timed(lambda: choix_fit(a, b, y, len(order)), 1)  # tens of seconds: once is enough
    elo_plain, t_plain = timed(lambda: plain_mle(a, b, y, len(order)), 1)
    rows.append(("choix.ilsr_pairwise (point estimate only)", t_choix))
    rows.append(("plain per-battle MLE, scipy L-BFGS (point estimate only)", t_plain))
    ours = sand.rating - sand.rating.mean()
    notes = [f"largest rating difference vs the plain per-battle MLE: {np.abs(ours - elo_plain).max():.4f} Elo",
             f"largest rating difference vs choix: {np.abs(ours - elo_choix).max():.4f} Elo",
             f"median 95% half-width: bootstrap {np.median(boot.upper - boot.lower) / 2:.2f}, "
             f"sandwich {np.median(sand.upper - sand.lower) / 2:.2f} Elo",
             f"bootstrap rounds not converged: {boot.diagnostics.convergence.bootstrap_rounds_not_converged}"]
    if args.arena_rank_python:
        script = folder / "arena_rank_fit.py"
        script.write_text(ARENA_RANK)
        start = time.perf_counter()
        reply = subprocess.run([args.arena_rank_python, str(script), str(path)], check=True, capture_output=True,
                               text=True)
        wall = time.perf_counter() - start
        result = json.loads(reply.stdout.strip().splitlines()[-1])
        theirs = pd.Series(result["ratings"], index=result["models"]).reindex(order).to_numpy()
        rows.append(("arena-rank BradleyTerry + sandwich (its fit; process wall time in brackets)",
                     result["seconds"]))
        notes.append(f"arena-rank: process wall time {wall:.2f} s; largest rating difference vs ours "
                     f"{np.abs(ours - (theirs - theirs.mean())).max():.4f} Elo")
    if style:
        rows.append(("CLI: fit --style-control --ci sandwich",
                     cli(args.repeats, str(path), "--style-control", "--ci", "sandwich", "--out", str(out))))
        rows.append((f"CLI: fit --style-control --rounds {args.style_rounds} (bootstrap)",
                     cli(args.repeats, str(path), "--style-control", "--rounds", str(args.style_rounds),
                         "--out", str(out))))
        style_boot = json.loads((out / "ratings.json").read_text())
        styled = load_battles(path, battle_columns(FitSettings(style_control=True)))
        board, t_style = timed(lambda: fit_leaderboard(styled, FitSettings(ci="sandwich", style_control=True)),
                               args.repeats)
        rows.append(("in process: style control + sandwich", t_style))
        coefficients = ", ".join(f"{n} {b:+.3f} (true {STYLE[n]:+.2f})" for n, b in
                                 zip(board.style.features, board.style.beta, strict=True))
        notes.append(f"style coefficients: {coefficients}")
        notes.append("style bootstrap rounds not converged: "
                     f"{style_boot['diagnostics']['bootstrap_rounds_not_converged']}")
    print(f"load average after the runs: {os.getloadavg()[0]:.1f}")
    print(f"| {'step':76s} | seconds |\n|{'-' * 78}|---------|")
    for label, seconds in rows:
        print(f"| {label:76s} | {seconds:7.2f} |")
    for note in notes:
        print(f"- {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("small", "large", "all"), default="all")
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--style-rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=positive_int, default=1,
                        help="time each step this many times and keep the fastest (default: 1)")
    parser.add_argument("--arena-rank-python", metavar="PATH",
                        help="an interpreter with arena-rank installed (pip install arena-rank==0.1.1 in its own "
                        "virtual environment)")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as folder:
        for name in (("small", "large") if args.scale == "all" else (args.scale,)):
            run_scale(name, args, Path(folder))


if __name__ == "__main__":
    main()
