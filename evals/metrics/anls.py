"""Average Normalized Levenshtein Similarity (DocVQA, InfographicVQA): the official script and Molmo's variant."""

from __future__ import annotations

from evals.metrics.text import collapse_whitespace, levenshtein

ANLS_THRESHOLD = 0.5


def anls(prediction: str, answers: list[str], threshold: float = ANLS_THRESHOLD) -> float:
    """Per-question ANLS as the Robust Reading Competition's evaluation script computes it (the InfographicVQA /
    DocVQA `evaluate_method`, distributed at rrc.cvc.uab.es and docvqa.org).

    For each answer g: NL = Levenshtein(g', p') / max(len(g.upper()), len(p.upper())), where g' and p' are
    lower-cased and whitespace-collapsed but the lengths are those of the raw strings (0 when both are empty);
    the score is 1 − min NL, set to 0 only when it is *below* τ = 0.5, so a score of exactly 0.5 is kept:
    "1250" against "1,250.00" scores 0.5. The metric's definition in prose (Biten et al. 2019, ST-VQA, Eq. 1)
    keeps 1 − NL only for NL < τ, which drops NL = 0.5; the script wins (docs/scoring.md).
    """
    if not answers:
        raise ValueError("ANLS needs at least one ground-truth answer")
    predicted = collapse_whitespace(prediction).lower()
    distances = []
    for answer in answers:
        length = max(len(answer.upper()), len(prediction.upper()))
        distance = levenshtein(collapse_whitespace(answer).lower(), predicted)
        distances.append(0.0 if length == 0 else distance / length)
    score = 1 - min(distances)
    return 0.0 if score < threshold else score


def molmo_anls(prediction: str, answers: list[str], threshold: float = ANLS_THRESHOLD) -> float:
    """The Molmo release's ANLS (allenai/molmo olmo/eval/vqa.py `anls_metric`, max over the answers): distance
    on the lower-cased strings as they are, length of the raw strings, NL < 0.5 kept (so NL = 0.5 scores 0).
    Two empty strings, where the release divides by zero, score 1."""
    best = 0.0
    for answer in answers:
        length = max(len(answer), len(prediction))
        if length == 0:
            return 1.0
        distance = levenshtein(answer.lower(), prediction.lower()) / length
        if distance < threshold:
            best = max(best, 1.0 - distance)
    return best
