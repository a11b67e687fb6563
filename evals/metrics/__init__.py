"""Benchmark metrics: pure functions, one module per idea, each citing its source.

`evals.metrics.scorers` says what a scorer is (`ItemScore`, `TaskMetric`) and holds the scorers several
benchmarks share; each benchmark binds its own in its folder (`evals/tasks/<name>/`), and `evals.scoring` scores
an answer of any task. The bootstrap interval (numpy) lives in `evals.metrics.bootstrap`, imported on demand.
"""

from evals.metrics.scorers import DEFAULT_PROFILE, PROFILES, ItemScore, TaskMetric

__all__ = ["DEFAULT_PROFILE", "PROFILES", "ItemScore", "TaskMetric"]
