"""AI2D through lmms-eval's `ai2d` task (lmms-eval 0.7.3 lmms_eval/tasks/ai2d/)."""

from evals.tasks.oracle import Difference, Example, LmmsOracle, letter_alone

EXTRACTION = Difference(
    "ai2d-extraction",
    "AI2D has no official scorer; lmms-eval takes a leading \"X.\" or the whole answer and compares it with the "
    "letter, we read the letter in any of the usual forms, or the option text",
    lambda case: not letter_alone(case.prediction),
)

ORACLE = LmmsOracle(
    task="ai2d",
    target=lambda item: item.answers[0],
    differences=(EXTRACTION,),
    examples=(Example(EXTRACTION, 0, "The answer is (D)", "D (froglet)", ours=1, lmms=0),),
)
