"""`molmo-arena leaderboard ...`: fit ratings, publish a report, simulate battles.

Only argparse (and the argument types) is imported here; numpy, pandas and matplotlib load inside the command that runs.
"""

from __future__ import annotations

import argparse
import os
import sys

from molmo_arena.common.arguments import non_negative_int, positive_int


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="fit Bradley-Terry ratings from pairwise votes and publish them",
        description="Bradley-Terry ratings (Elo scale) with confidence intervals, from battles in FastChat's "
        "cleaned-battle format (JSON lines, JSON, CSV or Parquet).",
    )
    commands = parser.add_subparsers(dest="leaderboard_command", metavar="COMMAND", required=True)

    fit = commands.add_parser("fit", help="fit ratings and write ratings.csv, ratings.json, pairwise.csv",
                              description="Fit ratings and write DIR/ratings.csv, DIR/ratings.json and "
                              "DIR/pairwise.csv.")
    _add_fit_options(fit)
    fit.set_defaults(func=run_fit)

    report = commands.add_parser("report", help="fit ratings and publish a Markdown + HTML report with plots",
                                 description="Fit ratings and publish DIR/report.md, a self-contained "
                                 "DIR/report.html and DIR/plots/, beside the fit's files.")
    _add_fit_options(report)
    report.add_argument("--title", default="Arena leaderboard", help="the report's title")
    report.add_argument("--benchmarks", metavar="CSV",
                        help="benchmark results table (a 'model' column and an average column) to plot against "
                        "the rating")
    report.add_argument("--benchmark-average", default="avg11", metavar="COLUMN",
                        help="the column of --benchmarks to use (default: avg11, the 11-benchmark average)")
    report.set_defaults(func=run_report)

    simulate = commands.add_parser("simulate", help="write simulated battles among models of known rating",
                                   description="Simulate battles from known Elo-scale ratings (for planning a "
                                   "study, testing, and the shipped sample). Judges are labelled as simulated.")
    simulate.add_argument("--ratings", required=True, metavar="CSV",
                          help="a table with a 'model' column and a rating column")
    simulate.add_argument("--rating-column", default="elo", help="the rating column (default: elo)")
    simulate.add_argument("--battles", type=positive_int, default=10_000, help="number of battles (default: 10000)")
    simulate.add_argument("--tie-rate", type=float, default=0.25, help="share of ties between close models")
    simulate.add_argument("--categories", default="", help="comma-separated categories to spread battles over")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--out", required=True, metavar="FILE", help="output .jsonl or .jsonl.gz")
    simulate.set_defaults(func=run_simulate)


def _anchor(text: str) -> tuple[str, float]:
    model, sep, value = text.rpartition("=")
    try:
        if not sep or not model:
            raise ValueError
        return model, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MODEL=RATING, got {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
    return names


def _add_fit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("battles", metavar="BATTLES", help="battles file (.jsonl, .json, .csv, .parquet; .gz ok)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--ties", choices=("half", "drop"), default="half",
                        help="ties (both kinds) as half a win each (default) or dropped")
    parser.add_argument("--ci", choices=("bootstrap", "sandwich"), default="bootstrap",
                        help="95%% intervals: percentile bootstrap (default) or sandwich covariance")
    parser.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument("--anchor", type=_anchor, metavar="MODEL=RATING",
                        help="fix one model's rating instead of centring the mean at 1000")
    parser.add_argument("--min-battles", type=non_negative_int, default=0,
                        help="flag (not drop) models with fewer battles than this")
    parser.add_argument("--category", help="fit only the battles of this category")
    parser.add_argument("--keep-named", action="store_true",
                        help="also use battles with anony=false (by default only anonymous battles count)")
    style = parser.add_argument_group("style control (LMArena's default view)")
    style.add_argument("--style-control", action="store_true",
                       help="fit ratings with the answers' style held apart (length, headers, lists, bold from "
                       "conv_metadata; points where the battles have them); ratings.csv then holds the "
                       "style-controlled ratings")
    style.add_argument("--style-features", type=_names, metavar="LIST",
                       help="comma-separated style features (tokens, headers, lists, bold, points; default: the "
                       "first four, plus points where every battle has point counts)")
    style.add_argument("--style-ridge", type=float, default=0.0, metavar="LAMBDA",
                       help="ridge penalty (LAMBDA / 2) |beta|^2 on the style coefficients only (default: 0)")
    voters = parser.add_argument_group("voter controls")
    voters.add_argument("--daily-votes-per-judge", type=positive_int, metavar="K",
                        help="keep only each judge's first K votes of each (UTC) day")
    voters.add_argument("--outlier-test", action="store_true",
                        help="FastChat's anomalous-voter test: flag judges who vote against the crowd beyond "
                        "chance and remove their battles")
    voters.add_argument("--keep-outliers", action="store_true",
                        help="with --outlier-test: list the flagged judges but keep their battles")
    voters.add_argument("--reweight-pairs", action="store_true",
                        help="weight each battle by 1 / max(battles of its pair, 50) (arena-rank's inverse pair "
                        "frequency), so often-shown pairs do not dominate")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no table on stdout")


def _one_blas_thread() -> None:
    """Keep OpenBLAS to one thread unless the user chose otherwise (set before numpy loads; no effect after).

    The fit's linear algebra is on (M, M) matrices, where OpenBLAS's own threads cost more than they give: on a
    busy 2-core machine a 250 x 250 solve waits tens of milliseconds for them instead of taking under one, and
    the bootstrap runs its own workers (bench/README.md, leaderboard section)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _fit(args: argparse.Namespace, columns: tuple[str, ...] = ()):
    """Read the battles (the fields the fit reads, and `columns`) and fit them as the options say; the input's
    hash is computed on a second thread meanwhile."""
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from leaderboard.battles import load_battles
    from leaderboard.ratings import FitSettings, battle_columns, fit_leaderboard
    from molmo_arena.common.files import file_sha256

    settings = FitSettings(ties=args.ties, ci=args.ci, rounds=args.rounds, seed=args.seed, anchor=args.anchor,
                           min_battles=args.min_battles, category=args.category, keep_named=args.keep_named,
                           style_control=args.style_control, style_features=args.style_features,
                           style_ridge=args.style_ridge, daily_votes_per_judge=args.daily_votes_per_judge,
                           outlier_test=args.outlier_test, keep_outliers=args.keep_outliers,
                           reweight_pairs=args.reweight_pairs)
    with ThreadPoolExecutor(1) as pool:
        digest = pool.submit(file_sha256, args.battles)
        battles = load_battles(args.battles, battle_columns(settings) + columns)
        board = fit_leaderboard(battles, settings, progress=not args.quiet)
        source = {"file": Path(args.battles).name, "sha256": digest.result()}
    for note in board.diagnostics.warnings():
        print(f"warning: {note}", file=sys.stderr)
    return battles, board, source


def _show(board, written, quiet: bool) -> None:
    if quiet:
        return
    table = board.table()
    shown = table.head(30).to_string(index=False, float_format=lambda v: f"{v:.1f}")
    print(shown)
    if len(table) > 30:
        print(f"... {len(table) - 30} more models")
    print("wrote " + ", ".join(str(path) for path in written))


def run_fit(args: argparse.Namespace) -> int:
    _one_blas_thread()
    from leaderboard.outputs import fit_files, write_files

    _, board, source = _fit(args)
    written = write_files(args.out, fit_files(board, source))
    _show(board, written, args.quiet)
    return 0


def run_report(args: argparse.Namespace) -> int:
    _one_blas_thread()
    from leaderboard.outputs import write_files
    from leaderboard.report import REPORT_COLUMNS, build_report, load_benchmarks

    benchmarks = load_benchmarks(args.benchmarks, args.benchmark_average) if args.benchmarks else None
    battles, board, source = _fit(args, REPORT_COLUMNS)
    files = build_report(battles, board, source, args.title, benchmarks, args.benchmark_average,
                         progress=not args.quiet)
    written = write_files(args.out, files)
    _show(board, [p for p in written if p.suffix in (".html", ".md")], args.quiet)
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    import pandas as pd

    from leaderboard.simulate import simulate_battles, write_battles_jsonl

    table = pd.read_csv(args.ratings)
    for column in ("model", args.rating_column):
        if column not in table.columns:
            raise ValueError(f"{args.ratings}: missing column {column!r} (columns found: {', '.join(table.columns)})")
    ratings = dict(zip(table["model"], table[args.rating_column].astype(float), strict=True))
    categories = [c.strip() for c in args.categories.split(",") if c.strip()]
    battles = simulate_battles(ratings, args.battles, seed=args.seed, tie_rate=args.tie_rate, categories=categories)
    write_battles_jsonl(battles, args.out)
    print(f"wrote {len(battles)} simulated battles among {len(ratings)} models to {args.out}")
    return 0
