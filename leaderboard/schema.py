"""The battle record, column by column: the one table every battles reader follows.

A battle is one vote in FastChat's cleaned-battle layout (FastChat `fastchat/serve/monitor/clean_battle_data.py`,
its output fields; the public Chatbot Arena, VisionArena and WildVision dumps use the same names). Columns not
listed here (`conversation_a`, `conversation_b`, `image`, `turn`, `dedup_tag`, ...) are read past and dropped.
The methods that use each column are described in docs/leaderboard.md.
"""

from __future__ import annotations

from dataclasses import dataclass

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
# Spellings of a winner in other public releases, read as the FastChat value (arena-human-preference-140k
# writes `both_bad`).
WINNER_ALIASES = {"both_bad": "tie (bothbad)"}
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")


@dataclass(frozen=True)
class Column:
    """One battle field: its name in the file, what kind of value it holds and whether a battle must have it.

    kinds: `name` (a non-empty model name, surrounding spaces removed), `winner` (one of WINNERS or an alias),
    `text` (any scalar, kept as text; absent reads as ""), `number` (seconds; a number or numeric text; absent
    reads as NaN), `flag` (true/false, 1/0, yes/no; absent reads as true), `metadata` (FastChat's
    `conv_metadata` object: the style counts below), `tags` (a nested object of classifier labels, as
    `category_tag`: every label that is true becomes a tag).
    """

    name: str
    kind: str
    required: bool = False


COLUMNS = (
    Column("model_a", "name", required=True),
    Column("model_b", "name", required=True),
    Column("winner", "winner", required=True),
    Column("judge", "text"),
    Column("category", "text"),
    Column("question_id", "text"),
    Column("language", "text"),
    Column("tstamp", "number"),
    Column("anony", "flag"),
    Column("conv_metadata", "metadata"),
    Column("category_tag", "tags"),
)
BY_NAME = {column.name: column for column in COLUMNS}
REQUIRED = tuple(column.name for column in COLUMNS if column.required)


@dataclass(frozen=True)
class StyleCount:
    """One per-answer count in `conv_metadata`: `key` with {side} = a or b; a plain number, or an object whose
    values are summed (FastChat `rating_systems.py`, `preprocess_for_style`)."""

    feature: str
    key: str
    parts: tuple[str, ...] = ()


# FastChat's four style counts (`STYLE_CONTROL_ELEMENTS_V1`, counted by `add_markdown_info.py`), then our own:
# the points an answer marks on the image (molmo-arena's `arena export`; see docs/leaderboard.md).
STYLE_COUNTS = (
    StyleCount("tokens", "sum_assistant_{side}_tokens"),
    StyleCount("headers", "header_count_{side}", ("h1", "h2", "h3", "h4", "h5", "h6")),
    StyleCount("lists", "list_count_{side}", ("ordered", "unordered")),
    StyleCount("bold", "bold_count_{side}", ("**", "__")),
    StyleCount("points", "point_count_{side}"),
)
FASTCHAT_FEATURES = ("tokens", "headers", "lists", "bold")


def style_column(feature: str, side: str) -> str:
    """The battles-frame column that holds one side's count of one style feature."""
    return f"style_{feature}_{side}"
