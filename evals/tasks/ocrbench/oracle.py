"""OCRBench through lmms-eval's `ocrbench` task (lmms-eval 0.7.3 lmms_eval/tasks/ocrbench/), whose
`ocrbench_process_results` is OCRBench's rule with one addition: fullwidth ASCII and the ideographic space are
folded to ASCII first (outside HME100k)."""

from typing import Any

from evals.items import EvalItem
from evals.tasks.oracle import Difference, Example, LmmsOracle, OracleCase

_FULLWIDTH = {chr(code): chr(code + 0xFEE0) for code in range(ord("!"), ord("~") + 1)} | {" ": "\u3000"}


def official(prediction: str, doc: dict[str, Any]) -> dict[str, Any]:
    """OCRBench's rule as lmms-eval's copy runs it with its own addition, the fullwidth folding, taken out."""
    from lmms_eval.tasks.ocrbench import utils

    folding = utils._fold_fullwidth_ascii
    utils._fold_fullwidth_ascii = lambda text: text
    try:
        result = utils.ocrbench_process_results(doc, [prediction])
    finally:
        utils._fold_fullwidth_ascii = folding
    return {"score": float(result["ocrbench_accuracy"]["score"])}


def lmms_result(result: dict[str, Any]) -> tuple[float, Any]:
    return float(result["ocrbench_accuracy"]["score"]), None


def fullwidth(text: str) -> str:
    """`text` in fullwidth forms, as East Asian input methods write it."""
    return "".join(_FULLWIDTH.get(char, char) for char in text)


def text_forms(item: EvalItem, gold: str) -> list[str]:
    """The answer inside sentences, across lines, without or with more spaces, in fullwidth forms."""
    return [f"The text reads: {gold}", f"{gold[:2]}\n{gold[2:]}", gold.replace(" ", ""), " ".join(gold),
            f"The answer is {gold} .", fullwidth(gold), f"Answer: {fullwidth(gold)}", gold.replace(" ", "\u3000"),
            f"{gold}\u3000", gold.swapcase()]


def _fullwidth_in(case: OracleCase) -> bool:
    texts = [case.prediction, *case.item.answers]
    return case.item.meta["dataset"] != "HME100k" and any(char in text for text in texts for char in
                                                          _FULLWIDTH.values())


FOLDING = Difference(
    "ocrbench-fullwidth",
    "lmms-eval folds fullwidth ASCII and the ideographic space to ASCII before matching (outside HME100k); "
    "OCRBench's script compares the characters as written",
    _fullwidth_in,
)

ORACLE = LmmsOracle(
    task="ocrbench",
    target=lambda item: item.answers,
    lmms_result=lmms_result,
    official=official,
    predictions=text_forms,
    differences=(FOLDING,),
    examples=(Example(FOLDING, 0, fullwidth("Coffee"), "Coffee", ours=0, lmms=1),),
)
