"""Benchmark metrics: pure functions, one module per idea, and the per-task registry.

`score_item(task, prediction, answers, choices, meta, profile=...)` scores one model output; `PROFILES` says how
each of the 11 tasks is scored under each scoring profile (`official`, the default, and `molmo`). The
bootstrap interval (numpy) lives in `evals.metrics.bootstrap`, imported on demand.
"""

from evals.metrics.registry import (
    DEFAULT_PROFILE,
    PROFILES,
    TASK_METRICS,
    ItemScore,
    TaskMetric,
    score_item,
    task_metric,
)

__all__ = ["DEFAULT_PROFILE", "PROFILES", "TASK_METRICS", "ItemScore", "TaskMetric", "score_item", "task_metric"]
