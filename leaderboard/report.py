"""A published leaderboard: one Markdown file and one self-contained HTML page with the same content.

The report is built once as a list of blocks (headings, paragraphs, tables, figures) and rendered twice, so
the two formats cannot drift apart.
"""

from __future__ import annotations

import base64
import datetime
import html
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from leaderboard import plots
from leaderboard.bradley_terry import ELO_PER_NAT
from leaderboard.online_elo import online_elo
from leaderboard.outputs import fit_files, package_version, pairwise_table
from leaderboard.ratings import Leaderboard, fit_leaderboard, select_battles

# The battle fields the report reads besides those of the fit: categories for the per-category table, time
# stamps for "last updated".
REPORT_COLUMNS = ("category", "category_tag", "tstamp")
HEATMAP_MODELS = 25  # the heatmaps show the top models by rating, as FastChat's do (25 at scale 1)
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
    shown = order[:HEATMAP_MODELS]
    labels = list(table["model"])[:HEATMAP_MODELS]
    used = select_battles(battles, board.settings)[0]
    elo = online_elo(used)
    wins = board.counts.wins[np.ix_(shown, shown)]
    decisive = wins + wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        win_fraction = np.where(decisive > 0, wins / decisive, np.nan)
    probability = board.win_probability()[0][np.ix_(shown, shown)]
    np.fill_diagonal(probability, np.nan)
    counts = board.counts.games[np.ix_(shown, shown)].astype(float)
    np.fill_diagonal(counts, np.nan)
    top = f" (the top {len(shown)} of {len(order)} models by rating)" if len(shown) < len(order) else ""
    captions = dict(FIGURES)
    for name in ("win_fraction", "battle_counts", "win_probability"):
        captions[name] = FIGURES[name] + top
    ratings_title = FIGURES["ratings"] + (" (style control)" if board.style else "")

    drawings = {
        "ratings": lambda: plots.ratings_figure(table, ratings_title),
        "win_fraction": lambda: plots.matrix_figure(win_fraction, labels, captions["win_fraction"], ".2f", "RdBu",
                                                    0, 1),
        "battle_counts": lambda: plots.matrix_figure(counts, labels, captions["battle_counts"], ".0f", "Blues"),
        "win_probability": lambda: plots.matrix_figure(probability, labels, captions["win_probability"], ".2f",
                                                       "RdBu", 0, 1),
    }
    figures = {}
    for name, draw in drawings.items():
        figures[name] = plots.png(draw())
        steps.update()
    blocks = _summary_blocks(board, source, title, used)
    blocks += [Block("h2", "Ratings"), Block("table", table=_ratings_table(board, table, elo)),
               Block("figure", "ratings")]
    if board.style is not None:
        blocks += _style_blocks(board, used)
    blocks += _pairwise_blocks(board)
    blocks += [Block("h2", "Pair matrices")] + [Block("figure", n) for n in ("win_fraction", "battle_counts",
                                                                              "win_probability")]
    if per_category:
        blocks += _category_blocks(battles, board, categories, steps)
    if benchmarks is not None:
        joined = table.merge(benchmarks[["model", average_column]], on="model", how="inner")
        blocks += _benchmark_blocks(joined, average_column)
        if len(joined) >= 2:
            figures["benchmarks"] = plots.png(plots.benchmark_figure(joined, average_column, FIGURES["benchmarks"]))
            blocks.append(Block("figure", "benchmarks"))
        steps.update()
    steps.close()

    files = fit_files(board, source)
    files["report.md"] = _markdown(blocks, captions).encode()
    files["report.html"] = _html(blocks, figures, title, captions).encode()
    files.update({f"plots/{name}.png": data for name, data in figures.items()})
    return files


def _summary_blocks(board: Leaderboard, source: dict[str, str], title: str, used: pd.DataFrame) -> list[Block]:
    s = board.settings
    selection = board.selection
    removed = [f"{v} {k.replace('_', ' ')}" for k, v in selection.items() if k not in ("read", "used") and v]
    interval = (f"95% percentile bootstrap ({s.rounds} rounds of resampling, seed {s.seed})"
                if s.ci == "bootstrap" else "95% normal intervals from the sandwich covariance")
    lines = [
        f"Generated by molmo-arena {package_version()} from `{source.get('file', '?')}` "
        f"(sha256 `{source.get('sha256', '?')[:16]}…`).",
    ]
    if "tstamp" in used.columns and used["tstamp"].notna().any():
        last = datetime.datetime.fromtimestamp(float(used["tstamp"].max()), datetime.UTC)
        lines.append(f"Last updated: {last:%Y-%m-%d %H:%M} UTC (the latest battle used).")
    lines += [
        f"Battles: {selection['read']} read, {selection['used']} used"
        + (f" (removed: {', '.join(removed)})" if removed else "") + f"; {len(board.models)} models.",
        "Bradley-Terry maximum likelihood on the Elo scale, P(A beats B) = 1 / (1 + 10^((R_B - R_A) / 400)); "
        + ("both kinds of tie count as half a win for each side" if s.ties == "half" else "ties dropped")
        + "; " + (f"anchored at {s.anchor[0]} = {s.anchor[1]:g}" if s.anchor else f"mean rating {s.center:g}")
        + f"; intervals: {interval}. Rank = 1 + the number of models whose lower bound is above this model's upper "
        "bound.",
    ]
    controls = []
    if s.daily_votes_per_judge:
        controls.append(f"at most {s.daily_votes_per_judge} votes per judge per day")
    if s.outlier_test:
        flagged = len(board.diagnostics.anomalous_judges)
        controls.append(f"anomalous-voter test: {flagged} judges flagged, their battles "
                        + ("kept (--keep-outliers)" if s.keep_outliers else "removed"))
    if s.reweight_pairs:
        controls.append("battles weighted by 1 / max(battles of their pair, 50)")
    if controls:
        lines.append("Voter controls: " + "; ".join(controls) + ".")
    blocks = [Block("h1", title)] + [Block("p", line) for line in lines]
    blocks += [Block("warn", note) for note in board.diagnostics.warnings()]
    return blocks


def _ratings_table(board: Leaderboard, table: pd.DataFrame, elo: pd.Series) -> pd.DataFrame:
    frame = {"rank": table["rank"]}
    if board.style is not None:  # LMArena's "Rank (StyleCtrl)" beside the plain rank
        plain = board.style.plain.table().set_index("model")
        plain_rank = table["model"].map(plain["rank"])
        frame["rank without style control"] = plain_rank
        frame["rank change"] = [f"{d:+d}" if d else "=" for d in (plain_rank - table["rank"])]
    frame |= {
        "model": table["model"],
        "rating": table["rating"].map("{:.1f}".format),
        "95% interval": [f"{lo:.1f} – {hi:.1f}" for lo, hi in zip(table["lower"], table["upper"], strict=True)],
    }
    if board.style is not None:
        frame["rating without style control"] = table["model"].map(plain["rating"]).map("{:.1f}".format)
    frame |= {
        "votes": table["battles"],
        "wins": table["wins"],
        "losses": table["losses"],
        "ties": table["ties"],
        "online Elo": table["model"].map(elo).map("{:.0f}".format),
        "flags": table["flags"].str.replace(";", ", "),
    }
    return pd.DataFrame(frame)


FEATURE_TEXT = {
    "tokens": "answer length (tokens)",
    "headers": "markdown headers",
    "lists": "list items",
    "bold": "bold spans",
    "points": "marks points on the image",
}


def _style_blocks(board: Leaderboard, used: pd.DataFrame) -> list[Block]:
    style = board.style
    shown = pd.DataFrame({
        "feature": [FEATURE_TEXT[name] for name in style.features],
        "coefficient (logit per s.d.)": [f"{b:+.4f}" for b in style.beta],
        "95% interval": [f"{lo:+.4f} – {hi:+.4f}" for lo, hi in zip(style.lower, style.upper, strict=True)],
        "Elo per s.d.": [f"{b * ELO_PER_NAT:+.1f}" for b in style.beta],
    })
    moved = int((style.plain.table().set_index("model")["rank"].reindex(board.models).to_numpy()
                 != board.rank).sum())
    blocks = [
        Block("h2", "Style control"),
        Block("p", "Ratings above hold the answers' style apart (LMArena's contextual Bradley-Terry): each battle "
                   "adds beta · f to the logit, f = (x_A - x_B) / (x_A + x_B + 1) for each style count x, "
                   "standardised over the battles"
                   + (f", ridge {style.ridge:g} on beta" if style.ridge else ", unpenalised")
                   + f". {moved} of {len(board.models)} models change rank; the rank and rating without style "
                   "control stand beside them in the table."),
        Block("table", table=shown),
    ]
    if "points" in style.features and len(style.features) > 1:
        without = fit_leaderboard(used, replace(board.settings, style_features=tuple(
            f for f in style.features if f != "points"), ci="sandwich", anchor=board.settings.anchor))
        change = np.abs(without.rating - board.rating)
        ranks = int((without.rank != board.rank).sum())
        index = style.features.index("points")
        blocks.append(Block("p", f"The points feature (whether an answer marks points on the image, our own): "
                                 f"coefficient {style.beta[index]:+.4f} per s.d. Without it the ratings move by at "
                                 f"most {change.max():.1f} Elo (median {np.median(change):.1f}) and {ranks} models "
                                 "change rank."))
    return blocks


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
        # With style control a bootstrap per category would cost minutes; the sandwich is closed-form.
        ci = "sandwich" if board.style is not None else board.settings.ci
        sub = fit_leaderboard(battles, replace(board.settings, category=category, anchor=None, ci=ci))
        half = (sub.upper - sub.lower) / 2
        columns[category] = pd.Series(
            [f"{r:.0f} ±{h:.0f}" for r, h in zip(sub.rating, half, strict=True)], index=list(sub.models)
        )
        steps.update()
    frame = pd.DataFrame(columns).reindex(board.table()["model"]).fillna("–")
    frame.index.name = "model"
    return [
        Block("h2", "By category"),
        Block("p", "A separate fit per category (mean rating 1000 in each); ± is half the 95% interval"
                   + (" (sandwich)." if board.style is not None else ".")),
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


def _markdown(blocks: list[Block], captions: dict[str, str]) -> str:
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
            out.append(f"![{captions[block.text]}](plots/{block.text}.png)")
    return "\n\n".join(out) + "\n"


_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #ccc;padding:3px 8px}
th{background:#f0f4f8}tr:nth-child(even){background:#fafafa}.warn{background:#fff3cd;border-left:4px solid #e0a800;
padding:0.5em 1em}figure{margin:1.5em 0}img{max-width:100%;height:auto}figcaption{color:#555;font-size:0.9em}
.scroll{overflow-x:auto}code{background:#f3f3f3;padding:0 0.2em;border-radius:3px}h1{overflow-wrap:anywhere}"""


def _inline(text: str) -> str:
    """A paragraph's Markdown as HTML: escaped, with `code` spans and **bold** rendered (the two our text uses)."""
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def _html(blocks: list[Block], figures: dict[str, bytes], title: str, captions: dict[str, str]) -> str:
    body = []
    for block in blocks:
        text = _inline(block.text)
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
            body.append(f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>')
        else:
            data = base64.b64encode(figures[block.text]).decode()
            caption = html.escape(captions[block.text])
            body.append(f'<figure id="{block.text}"><img alt="{caption}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{caption}</figcaption></figure>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
