"""RealWorldQA through lmms-eval's `realworldqa` task (lmms-eval 0.7.3 lmms_eval/tasks/realworldqa/); the options
are in the question text as x.ai wrote them."""

from evals.tasks.oracle import Difference, Example, LmmsOracle, letter_alone

EXTRACTION = Difference(
    "realworldqa-extraction",
    "RealWorldQA has no official scorer; lmms-eval's extract_mcq_answer ranks capital letters by position and "
    "form, we read the letter in the usual forms or the option text; short answers: lmms-eval lower-cases and "
    "drops a final \".\", we apply vqaEval.py's normalisation",
    lambda case: not (letter_alone(case.prediction) and case.prediction.strip()[0].isupper()),
)

ORACLE = LmmsOracle(
    task="realworldqa",
    target=lambda item: item.answers[0],
    options_in_text=False,
    differences=(EXTRACTION,),
    examples=(Example(EXTRACTION, 3, "Two", "2", ours=1, lmms=0),),
)
