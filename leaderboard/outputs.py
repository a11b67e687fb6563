"""The fit's files: ratings.csv, ratings.json and pairwise.csv, written all together or not at all."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from leaderboard.bradley_terry import ELO_PER_NAT
from leaderboard.ratings import Leaderboard
from molmo_arena.common.files import sync_folder, write_bytes

SCHEMA = "molmo-arena/ratings/v1"
CSV_COLUMNS = ("model", "rating", "lower", "upper", "rank", "battles", "wins", "losses", "ties", "flags")


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("molmo-arena")
    except PackageNotFoundError:
        return "unknown"


def _round(value: float) -> float:
    return float(np.round(value, 4))


def ratings_csv(board: Leaderboard) -> bytes:
    table = board.table()
    for column in ("rating", "lower", "upper"):
        table[column] = np.round(table[column].to_numpy(float), 4)
    return table[list(CSV_COLUMNS)].to_csv(index=False, lineterminator="\n").encode()


def pairwise_table(board: Leaderboard) -> pd.DataFrame:
    """For every pair (better-rated model first): P(model_a beats model_b), its 95% interval, and whether the
    interval excludes one half."""
    p, low, high = board.win_probability()
    order = np.array([board.models.index(m) for m in board.table()["model"]], dtype=np.int64)
    first, second = np.triu_indices(len(order), k=1)  # every pair once, in table order
    i, j = order[first], order[second]
    models = np.array(board.models, dtype=object)
    frame = pd.DataFrame({"model_a": models[i], "model_b": models[j], "p_win": p[i, j], "lower": low[i, j],
                          "upper": high[i, j]})
    frame["decided"] = (frame["lower"] > 0.5) | (frame["upper"] < 0.5)
    return frame


def pairwise_csv(board: Leaderboard) -> bytes:
    frame = pairwise_table(board)
    for column in ("p_win", "lower", "upper"):
        frame[column] = np.round(frame[column].to_numpy(float), 6)
    return frame.to_csv(index=False, lineterminator="\n").encode()


def ratings_json(board: Leaderboard, source: Mapping[str, str]) -> bytes:
    """The ratings with the settings, the input's hash, the battle selection and the diagnostics."""
    table = board.table()
    records = []
    for row in table.itertuples(index=False):
        records.append(
            {
                "model": row.model,
                "rating": _round(row.rating),
                "lower": _round(row.lower),
                "upper": _round(row.upper),
                "rank": int(row.rank),
                "battles": int(row.battles),
                "wins": int(row.wins),
                "losses": int(row.losses),
                "ties": int(row.ties),
                "flags": row.flags.split(";") if row.flags else [],
            }
        )
    settings = asdict(board.settings)
    settings["anchor"] = list(board.settings.anchor) if board.settings.anchor else None
    settings["style_features"] = list(board.style.features) if board.style else None
    settings.update({"scale": 400, "base": 10, "confidence": 0.95})
    diagnostics = board.diagnostics
    document = {
        "schema": SCHEMA,
        "molmo_arena_version": package_version(),
        "input": dict(source),
        "settings": settings,
        "selection": board.selection,
        "diagnostics": {
            "connected": diagnostics.connected,
            "components": diagnostics.components,
            "ridge": diagnostics.ridge,
            "never_won": diagnostics.never_won,
            "never_lost": diagnostics.never_lost,
            "few_battles": diagnostics.few_battles,
            "self_battles": diagnostics.self_battles,
            "converged": diagnostics.convergence.converged,
            "newton_steps": diagnostics.convergence.iterations,
            "bootstrap_rounds_not_converged": diagnostics.convergence.bootstrap_rounds_not_converged,
            "anomalous_judges": [{"judge": f.judge, "flagged_at_vote": f.votes, "against_the_crowd": f.side}
                                 for f in diagnostics.anomalous_judges],
            "warnings": diagnostics.warnings(),
        },
        "ratings": records,
    }
    if board.style is not None:
        document["style_control"] = style_document(board)
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def style_document(board: Leaderboard) -> dict:
    """The style coefficients with their intervals, and the fit without style control beside the ratings."""
    style = board.style
    plain = style.plain.table().set_index("model")
    return {
        "coefficients": [
            {"feature": name, "beta": _round(beta), "lower": _round(low), "upper": _round(high),
             "elo_per_sd": _round(beta * ELO_PER_NAT)}
            for name, beta, low, high in zip(style.features, style.beta, style.lower, style.upper, strict=True)
        ],
        "ridge": style.ridge,
        "without_style_control": [
            {"model": model, "rating": _round(row.rating), "lower": _round(row.lower), "upper": _round(row.upper),
             "rank": int(row["rank"])} for model, row in plain.iterrows()
        ],
    }


def fit_files(board: Leaderboard, source: Mapping[str, str]) -> dict[str, bytes]:
    return {
        "ratings.csv": ratings_csv(board),
        "ratings.json": ratings_json(board, source),
        "pairwise.csv": pairwise_csv(board),
    }


def write_files(out_dir: str | Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write every file into a staging folder beside `out_dir`, then move them in: a failure leaves `out_dir`
    as it was (no half-written files)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        for name, data in files.items():
            write_bytes(staging / name, data)  # on disk (fsync'ed) before any file is moved in
        out_dir.mkdir(exist_ok=True)
        written = []
        for name in files:
            destination = out_dir / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, destination)
            sync_folder(destination.parent)
            written.append(destination)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
