"""A published leaderboard: one Markdown file and one self-contained HTML page with the same content.

The report is built once as a list of blocks (headings, paragraphs, tables, figures) and rendered twice, so
the two formats cannot drift apart.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from leaderboard import plots
from leaderboard.online_elo import online_elo
from leaderboard.outputs import fit_files, package_version, pairwise_table
from leaderboard.ratings import Leaderboard, fit_leaderboard, select_battles

FIGURES = {
    "ratings": "Ratings with 95% intervals",
    "win_fraction": "Observed fraction of battles model A won against model B (ties excluded)",
    "battle_counts": "Number of battles between each pair",
    "win_probability": "Predicted probability that model A beats model B",
    "benchmarks": "Benchmark average against the arena rating",
}


@dataclass(frozen=True)
class Block:
    kind: str  # "h1" | "h2" | "p" | "warn" | "table" | "figure"
    text: str = ""
    table: pd.DataFrame | None = None


def load_benchmarks(path: str | Path, average_column: str) -> pd.DataFrame:
    """A benchmark results table with a `model` column and the average column to plot against the rating."""
    frame = pd.read_csv(path)
    for column in ("model", average_column):
        if column not in frame.columns:
            raise ValueError(f"{path}: missing column {column!r} (columns found: {', '.join(frame.columns)})")
    values = pd.to_numeric(frame[average_column], errors="coerce")
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise ValueError(f"{path}: line {row + 2}: field {average_column!r}: expected a number, "
                         f"got {frame[average_column].iloc[row]!r}")
    return frame.assign(**{average_column: values})


def build_report(
    battles: pd.DataFrame,
    board: Leaderboard,
    source: dict[str, str],
    title: str,
    benchmarks: pd.DataFrame | None = None,
    average_column: str = "avg11",
    progress: bool = False,
) -> dict[str, bytes]:
    """Every file of the report, keyed by relative path: the fit's files, report.md, report.html and plots/."""
    from tqdm.auto import tqdm

    categories = sorted(c for c in battles.get("category", pd.Series(dtype=str)).unique() if c)
    per_category = "category" in battles.columns and board.settings.category is None
    steps = tqdm(total=4 + (len(categories) if per_category else 0) + (benchmarks is not None), desc="report",
                 unit="step", disable=not progress)
    table = board.table()
    order = [board.models.index(m) for m in table["model"]]
    labels = list(table["model"])
    used = select_battles(battles, board.settings)[0]
    elo = online_elo(used)
    wins = board.counts.wins[np.ix_(order, order)]
    decisive = wins + wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        win_fraction = np.where(decisive > 0, wins / decisive, np.nan)
    probability = board.win_probability()[0][np.ix_(order, order)]
    np.fill_diagonal(probability, np.nan)
    counts = board.counts.games[np.ix_(order, order)].astype(float)
    np.fill_diagonal(counts, np.nan)

    drawings = {
        "ratings": lambda: plots.ratings_plot(table, title),
        "win_fraction": lambda: plots.matrix_plot(win_fraction, labels, FIGURES["win_fraction"], ".2f", "RdBu", 0, 1),
        "battle_counts": lambda: plots.matrix_plot(counts, labels, FIGURES["battle_counts"], ".0f", "Blues"),
        "win_probability": lambda: plots.matrix_plot(probability, labels, FIGURES["win_probability"], ".2f", "RdBu",
                                                     0, 1),
    }
    figures = {}
    for name, draw in drawings.items():
        figures[name] = draw()
        steps.update()
    blocks = _summary_blocks(board, source, title)
    blocks += [Block("h2", "Ratings"), Block("table", table=_ratings_table(table, elo)), Block("figure", "ratings")]
    blocks += _pairwise_blocks(board)
    blocks += [Block("h2", "Pair matrices")] + [Block("figure", n) for n in ("win_fraction", "battle_counts",
                                                                              "win_probability")]
    if per_category:
        blocks += _category_blocks(battles, board, categories, steps)
    if benchmarks is not None:
        joined = table.merge(benchmarks[["model", average_column]], on="model", how="inner")
        blocks += _benchmark_blocks(joined, average_column)
        if len(joined) >= 2:
            figures["benchmarks"] = plots.benchmark_plot(joined, average_column, FIGURES["benchmarks"])
            blocks.append(Block("figure", "benchmarks"))
        steps.update()
    steps.close()

    files = fit_files(board, source)
    files["report.md"] = _markdown(blocks).encode()
    files["report.html"] = _html(blocks, figures, title).encode()
    files.update({f"plots/{name}.png": data for name, data in figures.items()})
    return files


def _summary_blocks(board: Leaderboard, source: dict[str, str], title: str) -> list[Block]:
    s = board.settings
    selection = board.selection
    removed = [f"{v} {k.replace('_', ' ')}" for k, v in selection.items() if k not in ("read", "used") and v]
    interval = (f"95% percentile bootstrap ({s.rounds} rounds of multinomial resampling, seed {s.seed})"
                if s.ci == "bootstrap" else "95% normal intervals from the sandwich covariance")
    lines = [
        f"Generated by molmo-arena {package_version()} from `{source.get('file', '?')}` "
        f"(sha256 `{source.get('sha256', '?')[:16]}…`).",
        f"Battles: {selection['read']} read, {selection['used']} used"
        + (f" (removed: {', '.join(removed)})" if removed else "") + f"; {len(board.models)} models.",
        "Bradley-Terry maximum likelihood on the Elo scale, P(A beats B) = 1 / (1 + 10^((R_B - R_A) / 400)); "
        + ("both kinds of tie count as half a win for each side" if s.ties == "half" else "ties dropped")
        + "; " + (f"anchored at {s.anchor[0]} = {s.anchor[1]:g}" if s.anchor else f"mean rating {s.center:g}")
        + f"; intervals: {interval}. Rank = 1 + the number of models whose lower bound is above this model's upper "
        "bound.",
    ]
    blocks = [Block("h1", title)] + [Block("p", line) for line in lines]
    blocks += [Block("warn", note) for note in board.diagnostics.warnings()]
    return blocks


def _ratings_table(table: pd.DataFrame, elo: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rank": table["rank"],
            "model": table["model"],
            "rating": table["rating"].map("{:.1f}".format),
            "95% interval": [f"{lo:.1f} – {hi:.1f}" for lo, hi in zip(table["lower"], table["upper"], strict=True)],
            "battles": table["battles"],
            "wins": table["wins"],
            "losses": table["losses"],
            "ties": table["ties"],
            "online Elo": table["model"].map(elo).map("{:.0f}".format),
            "flags": table["flags"].str.replace(";", ", "),
        }
    )


def _pairwise_blocks(board: Leaderboard) -> list[Block]:
    pairs = pairwise_table(board)
    table = board.table()
    adjacent = set(zip(table["model"][:-1], table["model"][1:], strict=True))
    rows = pairs[[(a, b) in adjacent for a, b in zip(pairs["model_a"], pairs["model_b"], strict=True)]]
    shown = pd.DataFrame(
        {
            "model A": rows["model_a"],
            "model B": rows["model_b"],
            "P(A beats B)": rows["p_win"].map("{:.3f}".format),
            "95% interval": [f"{lo:.3f} – {hi:.3f}" for lo, hi in zip(rows["lower"], rows["upper"], strict=True)],
            "A better?": np.where(rows["decided"], "yes", "not decided"),
        }
    )
    return [
        Block("h2", "Neighbours in the ranking"),
        Block("p", "Each model against the next one down. The interval comes from the distribution of the rating "
                   "difference itself; every pair is in pairwise.csv."),
        Block("table", table=shown),
    ]


def _category_blocks(battles: pd.DataFrame, board: Leaderboard, categories: list[str], steps) -> list[Block]:
    columns = {}
    for category in categories:
        sub = fit_leaderboard(battles, replace(board.settings, category=category, anchor=None))
        half = (sub.upper - sub.lower) / 2
        columns[category] = pd.Series(
            [f"{r:.0f} ±{h:.0f}" for r, h in zip(sub.rating, half, strict=True)], index=list(sub.models)
        )
        steps.update()
    frame = pd.DataFrame(columns).reindex(board.table()["model"]).fillna("–")
    frame.index.name = "model"
    return [
        Block("h2", "By category"),
        Block("p", "A separate fit per category (mean rating 1000 in each); ± is half the 95% interval."),
        Block("table", table=frame.reset_index()),
    ]


def _benchmark_blocks(joined: pd.DataFrame, average_column: str) -> list[Block]:
    blocks = [Block("h2", "Benchmarks beside the arena")]
    if len(joined) >= 3:
        rho = joined["rating"].rank().corr(joined[average_column].rank())
        blocks.append(Block("p", f"Spearman rank correlation between the rating and {average_column}: {rho:.2f} "
                                 f"over {len(joined)} models."))
    shown = joined[["model", average_column, "rating"]].assign(rating=joined["rating"].map("{:.1f}".format))
    blocks.append(Block("table", table=shown))
    return blocks


def _markdown(blocks: list[Block]) -> str:
    out = []
    for block in blocks:
        if block.kind == "h1":
            out.append(f"# {block.text}")
        elif block.kind == "h2":
            out.append(f"## {block.text}")
        elif block.kind == "p":
            out.append(block.text)
        elif block.kind == "warn":
            out.append(f"> **Warning:** {block.text}")
        elif block.kind == "table":
            header = list(map(str, block.table.columns))
            rows = [[str(v).replace("|", "\\|") for v in row] for row in block.table.itertuples(index=False)]
            out.append("\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                                 + ["| " + " | ".join(row) + " |" for row in rows]))
        else:
            out.append(f"![{FIGURES[block.text]}](plots/{block.text}.png)")
    return "\n\n".join(out) + "\n"


_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #ccc;padding:3px 8px}
th{background:#f0f4f8}tr:nth-child(even){background:#fafafa}.warn{background:#fff3cd;border-left:4px solid #e0a800;
padding:0.5em 1em}figure{margin:1.5em 0}img{max-width:100%}figcaption{color:#555;font-size:0.9em}"""


def _html(blocks: list[Block], figures: dict[str, bytes], title: str) -> str:
    body = []
    for block in blocks:
        text = html.escape(block.text)
        if block.kind in ("h1", "h2"):
            body.append(f"<{block.kind}>{text}</{block.kind}>")
        elif block.kind == "p":
            body.append(f"<p>{text}</p>")
        elif block.kind == "warn":
            body.append(f'<p class="warn"><strong>Warning:</strong> {text}</p>')
        elif block.kind == "table":
            head = "".join(f"<th>{html.escape(str(c))}</th>" for c in block.table.columns)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                for row in block.table.itertuples(index=False)
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        else:
            data = base64.b64encode(figures[block.text]).decode()
            caption = html.escape(FIGURES[block.text])
            body.append(f'<figure id="{block.text}"><img alt="{caption}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{caption}</figcaption></figure>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
