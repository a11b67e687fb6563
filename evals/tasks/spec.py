"""`TaskSpec`: everything the harness knows about one benchmark, as its folder declares it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from evals.items import EvalItem
from evals.metrics.scorers import PROFILES, TaskMetric

Kind = Literal["short", "multiple_choice", "count", "math"]


@dataclass(frozen=True)
class TaskSpec:
    """One benchmark.

    Its hub dataset (`hf_id`, `config`, `revision`) and the split scored locally; where the published number comes
    from an evaluation server, the split to submit instead (`submission_split`) and the field the server's answer
    file keys items on (`submission_id`). `to_item` reads one row of that dataset's own schema into an `EvalItem`.
    `scoring` binds a `TaskMetric` to every scoring profile. `paper_column` names the task's column in the Molmo
    paper's Table 1 (results/reference/molmo_paper_table1.csv) for the paper's 11 benchmarks, None for the others.
    `breakdown` names meta fields the run's score is also reported by (for example MMStar's categories).
    """

    name: str
    display_name: str
    hf_id: str
    split: str
    kind: Kind
    to_item: Callable[[dict[str, Any], int], EvalItem]
    scoring: Mapping[str, TaskMetric]
    config: str | None = None
    revision: str = "main"
    submission_split: str | None = None
    submission_id: str | None = None
    paper_column: str | None = None
    breakdown: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if tuple(self.scoring) != PROFILES:
            raise ValueError(f"task {self.name!r}: scoring must bind the profiles {', '.join(PROFILES)} in this "
                             f"order, got {', '.join(self.scoring) or 'none'}")
        if (self.submission_split is None) != (self.submission_id is None):
            raise ValueError(f"task {self.name!r}: submission_split and submission_id go together")
