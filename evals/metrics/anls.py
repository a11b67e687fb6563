"""Average Normalized Levenshtein Similarity (DocVQA, InfographicVQA)."""

from __future__ import annotations

from evals.metrics.text import collapse_whitespace, levenshtein

ANLS_THRESHOLD = 0.5


def _normalize(text: str) -> str:
    return collapse_whitespace(text).lower()


def anls(prediction: str, answers: list[str], threshold: float = ANLS_THRESHOLD) -> float:
    """Per-question ANLS (Biten et al. 2019, the DocVQA definition; harness.md §5.2).

    s = max over ground truths g of (1 − NL(g, p) if NL < τ else 0), NL = Levenshtein(g, p) / max(|g|, |p|),
    τ = 0.5, on lower-cased, whitespace-collapsed strings. Lengths are those of the *normalised* strings, as the
    definition says; lmms-eval and VLMEvalKit take them from the raw strings instead (a Qwen-VL quirk), which
    differs only when normalisation changes a length. Two empty strings score 1.0, as in olmo-eval.
    """
    predicted = _normalize(prediction)
    best = 0.0
    for answer in answers:
        expected = _normalize(answer)
        length = max(len(expected), len(predicted))
        if length == 0:
            return 1.0
        distance = levenshtein(expected, predicted) / length
        if distance < threshold:
            best = max(best, 1.0 - distance)
    return best
