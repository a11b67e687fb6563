"""CountBenchQA through lmms-eval's `countbenchqa` task (lmms-eval 0.7.3 lmms_eval/tasks/countbenchqa/)."""

from evals.tasks.oracle import COUNT_READING, Example, LmmsOracle, count_predictions, metric_value

ORACLE = LmmsOracle(
    task="countbenchqa",
    target=lambda item: int(item.answers[0]),
    lmms_result=metric_value("acc"),
    predictions=count_predictions,
    differences=(COUNT_READING,),
    examples=(Example(COUNT_READING, 0, "There are 3 cones.", "3", ours=1, lmms=0, overrides={"number": 3}),),
)
