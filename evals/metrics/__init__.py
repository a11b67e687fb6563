"""Benchmark metrics: pure functions, one module per idea, and the per-task registry.

`score_item(task, prediction, answers, choices, meta)` scores one model output; `TASK_METRICS` says how each of
the 11 tasks is scored. The bootstrap interval (numpy) lives in `evals.metrics.bootstrap`, imported on demand.
"""

from evals.metrics.registry import TASK_METRICS, ItemScore, TaskMetric, score_item, task_metric

__all__ = ["TASK_METRICS", "ItemScore", "TaskMetric", "score_item", "task_metric"]
