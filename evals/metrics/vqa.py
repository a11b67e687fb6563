"""VQA accuracy (VQA v2, TextVQA) and the answer normalisation behind it.

Definitions follow the official VQA evaluation (GT-Vision-Lab/VQA `vqaEval.py` @ c4e6a0e) and the EvalAI answer
processor that VQA v2 / TextVQA leaderboards run (harness.md §5.1), re-implemented from that spec.
"""

from __future__ import annotations

import re
from functools import lru_cache

# vqaEval.py punctuation list (c4e6a0e): no ".", ":" or "'".
PUNCTUATION = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!")
_ANY_PUNCTUATION = re.compile("[" + re.escape("".join(PUNCTUATION)) + "]")
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
# Official regex, kept as is: the look-behind is mistyped as a look-ahead, so it removes every "." not followed by
# a digit ("5." -> "5", "3.5" kept).
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
# The official code passes re.UNICODE (= 32) as `count`, so at most 32 periods are removed.
_PERIOD_STRIP_COUNT = 32

NUMBER_WORDS = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
ARTICLES = frozenset({"a", "an", "the"})

# The official table, entries as published: keys with capitals ("Id've", "Im", "Ive") can never match after
# lower-casing, and "somebody'd" maps to "somebodyd".
CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't",
    "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's",
    "howd": "how'd", "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm",
    "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've", "itll": "it'll",
    "let's": "let's", "maam": "ma'am", "mightnt": "mightn't", "mightnt've": "mightn't've",
    "mightn'tve": "mightn't've", "mightve": "might've", "mustnt": "mustn't", "mustve": "must've",
    "neednt": "needn't", "notve": "not've", "oclock": "o'clock", "oughtnt": "oughtn't",
    "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at", "shant": "shan't",
    "shed've": "she'd've", "she'dve": "she'd've", "she's": "she's", "shouldve": "should've",
    "shouldnt": "shouldn't", "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd", "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've", "someonell": "someone'll",
    "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's", "thered": "there'd",
    "thered've": "there'd've", "there'dve": "there'd've", "therere": "there're", "theres": "there's",
    "theyd": "they'd", "theyd've": "they'd've", "they'dve": "they'd've", "theyll": "they'll",
    "theyre": "they're", "theyve": "they've", "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've",
    "we'dve": "we'd've", "weve": "we've", "werent": "weren't", "whatll": "what'll", "whatre": "what're",
    "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd", "wheres": "where's",
    "whereve": "where've", "whod": "who'd", "whod've": "who'd've", "who'dve": "who'd've", "wholl": "who'll",
    "whos": "who's", "whove": "who've", "whyll": "why'll", "whyre": "why're", "whys": "why's",
    "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't", "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
    "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've", "youd": "you'd",
    "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll", "youre": "you're", "youve": "you've",
}  # fmt: skip


# processDigitArticle's two word maps in one: number words and contraction keys are disjoint, and no mapped
# value is an article, so mapping once gives the official result.
_WORD_MAP = {**NUMBER_WORDS, **CONTRACTIONS}


def process_punctuation(text: str) -> str:
    """`processPunctuation` of vqaEval.py.

    Each punctuation mark is deleted when it touches a space or when the text holds a digit-comma-digit group
    ("2,000" -> "2000"), and replaced by a space otherwise ("left-hand" -> "left hand"); the conditions are
    tested on the input text. Then periods not followed by a digit are removed ("1.5." -> "1.5").
    """
    if _ANY_PUNCTUATION.search(text) is not None:
        delete_all = _COMMA_STRIP.search(text) is not None
        out = text
        for mark in PUNCTUATION:
            if mark in out:
                touches_space = mark + " " in text or " " + mark in text
                out = out.replace(mark, "" if delete_all or touches_space else " ")
        text = out
    if "." not in text:
        return text
    return _PERIOD_STRIP.sub("", text, count=_PERIOD_STRIP_COUNT)


def process_digit_article(text: str) -> str:
    """`processDigitArticle` of vqaEval.py: lower-case, number words none..ten to digits, drop a/an/the,
    expand the contractions table, join words with single spaces."""
    return " ".join([_WORD_MAP.get(word, word) for word in text.lower().split() if word not in ARTICLES])


def _process(text: str) -> str:
    return process_digit_article(process_punctuation(text))


@lru_cache(maxsize=1 << 18)
def _normalized(text: str) -> tuple[str, str]:
    """(EvalAI, Molmo) normalisations of `text`, computed once when the EvalAI-only steps change nothing."""
    base = text.replace("\n", " ").replace("\t", " ").strip().lower()
    tokenized = base.replace(",", "").replace("?", "").replace("'s", " 's").strip()
    molmo = _process(base)
    return (molmo if tokenized == base else _process(tokenized)), molmo


def normalize_answer(text: str) -> str:
    """The EvalAI VQA answer processor, applied to predictions and ground truths alike.

    Lower-case; delete "," and "?"; "'s" becomes " 's" (so "it's" -> "it 's"); newlines and tabs become spaces;
    then `process_punctuation` and `process_digit_article`.
    """
    return _normalized(text)[0]


def molmo_normalize_answer(text: str) -> str:
    """Molmo's `preprocess_answer` (allenai/molmo olmo/eval/vqa.py, per harness.md §5.1): newlines and tabs to
    spaces, strip, lower-case, then `process_punctuation` and `process_digit_article` (no "'s" split)."""
    return _normalized(text)[1]


def leave_one_out_accuracy(matches: int, n_answers: int) -> float:
    """Official VQA accuracy of an answer that `matches` of `n_answers` annotators gave.

    The mean over the n leave-one-out subsets of min(1, matches in the subset / 3), in closed form
    [k·min(1, (k−1)/3) + (n−k)·min(1, k/3)] / n: 0, 0.3, 0.6, 0.9, 1.0 for k = 0..4 of 10 answers.
    With a single answer every subset is empty and the accuracy is 0.
    """
    if n_answers < 1:
        raise ValueError("VQA accuracy needs at least one ground-truth answer")
    k = matches
    return (k * min(1.0, (k - 1) / 3) + (n_answers - k) * min(1.0, k / 3)) / n_answers


def vqa_accuracy(prediction: str, answers: list[str]) -> float:
    """Official VQA accuracy (GT-Vision-Lab vqaEval.py leave-one-out average; EvalAI answer processor on both sides).

    vqaEval.py itself only strips punctuation from ground truths (and only when annotators disagree) because the
    released VQA v2 annotations were normalised at collection time; normalising both sides, as EvalAI/MMF and
    lmms-eval's TextVQA do, gives the same result on those annotations except where a ground truth is itself a
    number word, article or contraction key (e.g. "none"), and is required for TextVQA's raw answers.
    """
    return vqa_scores(prediction, answers)[0]


def molmo_vqa_score(prediction: str, answers: list[str]) -> float:
    """Molmo's simplified VQA score min(1, matches / 3), no leave-one-out (allenai/molmo `vqa_score`, harness.md
    §5.1): 0.333, 0.667, 1.0 for 1, 2, 3 matching annotators."""
    return vqa_scores(prediction, answers)[1]


def vqa_scores(prediction: str, answers: list[str]) -> tuple[float, float]:
    """(`vqa_accuracy`, `molmo_vqa_score`) in one pass; normalisations are cached per distinct string."""
    official, molmo = _normalized(prediction)
    official_answers, molmo_answers = zip(*map(_normalized, answers), strict=True) if answers else ((), ())
    return (
        leave_one_out_accuracy(official_answers.count(official), len(answers)),
        min(1.0, molmo_answers.count(molmo) / 3),
    )
