"""ChartQA through lmms-eval's `chartqa` task (lmms-eval 0.7.3 lmms_eval/tasks/chartqa/), whose
`relaxed_correctness` is pix2struct's."""

from typing import Any

from evals.tasks.oracle import STRIP, Example, LmmsOracle, metric_value


def official(prediction: str, doc: dict[str, Any]) -> dict[str, Any]:
    """pix2struct's relaxed correctness (lmms-eval's copy) on the raw prediction."""
    from lmms_eval.tasks.chartqa.utils import relaxed_correctness

    return {"score": float(relaxed_correctness(prediction, doc["answer"]))}


ORACLE = LmmsOracle(
    task="chartqa",
    target=lambda item: item.answers[0],
    lmms_result=metric_value("relaxed_overall"),
    official=official,
    differences=(STRIP,),
    examples=(Example(STRIP, 6, " Mar ", "Mar", ours=0, lmms=1, overrides={"answer": "Mar"}),),
)
