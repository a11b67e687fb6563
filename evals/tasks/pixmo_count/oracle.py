"""PixMo-Count through lmms-eval's `pixmo_count` task (lmms-eval 0.7.3 lmms_eval/tasks/pixmo_count/)."""

from evals.tasks.oracle import COUNT_READING, LmmsOracle, count_predictions, metric_value

ORACLE = LmmsOracle(
    task="pixmo_count",
    target=lambda item: item.answers[0],
    lmms_result=metric_value("acc"),
    predictions=count_predictions,
    differences=(COUNT_READING,),
)
