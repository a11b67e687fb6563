"""MMStar's official scoring rule (MMStar-Benchmark/MMStar eval/vlmeval/evaluate/mmstar.py, `MMStar_eval`).

The script lower-cases and strips the answer and the prediction and turns newlines into spaces; an item is correct
when the answer's letter is the prediction's first character, or its second after "(", or the character right
after "option " or "the answer is ". Nothing else in the output counts: "B) because ..." is B, "Answer: B" is A
(its first character), "The correct option is B" is nothing. The score of a category is its correct items over
its items (250 each), the final score the correct items over all 1,500: item accuracy.
"""

from __future__ import annotations

_PREFIXES = ("(", "option ", "the answer is ")


def mmstar_reading(prediction: str, letters: str) -> str | None:
    """The option letter the rule reads in `prediction` (upper case), None when it reads none of `letters`.

    The script compares each position with the answer's letter in turn; for answers among `letters` (none of which
    is "(", "o" or "t") at most one of its tests can hold, so the comparison is this reading followed by equality.
    """
    text = prediction.lower().strip().replace("\n", " ")
    candidates = letters.lower()
    if text[:1] and text[0] in candidates:
        return text[0].upper()
    for prefix in _PREFIXES:
        read = text[len(prefix): len(prefix) + 1] if text.startswith(prefix) else ""
        if read and read in candidates:
            return read.upper()
    return None
