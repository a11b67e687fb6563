"""VQA accuracy (VQA v2, TextVQA) and the answer normalisation behind it, in three definitions.

- `vqa_v2_accuracy`: the official VQA v2 evaluation, GT-Vision-Lab/VQA
  PythonEvaluationTools/vqaEvaluation/vqaEval.py at master (a013f00, "Fixed processing answers bug").
- `textvqa_accuracy`: TextVQA's evaluator, facebookresearch/mmf mmf/utils/m4c_evaluators.py
  `TextVQAAccuracyEvaluator` with its `EvalAIAnswerProcessor`.
- `molmo_vqa_score`: the Molmo release's simplified score (allenai/molmo olmo/eval/vqa.py `vqa_score`).

All three share vqaEval.py's `processPunctuation` and `processDigitArticle` and their tables, re-implemented
here; docs/scoring.md compares them with examples.
"""

from __future__ import annotations

import re
from functools import lru_cache

# vqaEval.py's punctuation list: no ".", ":" or "'".
PUNCTUATION = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!")
_ANY_PUNCTUATION = re.compile("[" + re.escape("".join(PUNCTUATION)) + "]")
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
# vqaEval.py's regex, kept as is: the look-behind is mistyped as a look-ahead, so it removes every "." not
# followed by a digit ("5." -> "5", "3.5" kept).
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
# vqaEval.py passes re.UNICODE (= 32) as `count`, so at most 32 periods are removed.
_PERIOD_STRIP_COUNT = 32

NUMBER_WORDS = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
ARTICLES = frozenset({"a", "an", "the"})

# vqaEval.py's table, entries as published: keys with capitals ("Id've", "Im", "Ive") can never match after
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


def _flatten(text: str) -> str:
    """vqaEval.py's first step on every answer: newlines and tabs become spaces, then strip."""
    return text.replace("\n", " ").replace("\t", " ").strip()


@lru_cache(maxsize=1 << 18)
def _vqa_forms(text: str) -> tuple[str, str]:
    """(flattened, normalised): the two forms vqaEval.py compares, computed once per distinct string."""
    flat = _flatten(text)
    return flat, process_digit_article(process_punctuation(flat))


def vqa_normalize(text: str) -> str:
    """vqaEval.py's normalisation of an answer: `_flatten`, `process_punctuation`, `process_digit_article`."""
    return _vqa_forms(text)[1]


@lru_cache(maxsize=1 << 18)
def evalai_normalize(text: str) -> str:
    """MMF's `EvalAIAnswerProcessor` (TextVQA): lower-case; delete "," and "?"; "'s" becomes " 's" (so "it's" ->
    "it 's"); strip; newlines and tabs become spaces; then `process_punctuation` and `process_digit_article`.
    (Its own comma test is never reached: every comma is gone by then.)"""
    tokenized = text.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    return process_digit_article(process_punctuation(_flatten(tokenized)))


@lru_cache(maxsize=1 << 18)
def molmo_normalize(text: str) -> str:
    """The Molmo release's `preprocess_answer` (olmo/eval/vqa.py): newlines and tabs to spaces, lower-case, strip,
    then `process_punctuation` and `process_digit_article` (no "'s" split)."""
    return process_digit_article(process_punctuation(_flatten(text).lower().strip()))


def clear_caches() -> None:
    """Forget the cached normalisations (for timing a cold pass)."""
    for normalize in (_vqa_forms, evalai_normalize, molmo_normalize):
        normalize.cache_clear()


def leave_one_out_accuracy(matches: int, n_answers: int) -> float:
    """VQA accuracy of an answer that `matches` of `n_answers` annotators gave.

    The mean over the n leave-one-out subsets of min(1, matches in the subset / 3), in closed form
    [k·min(1, (k−1)/3) + (n−k)·min(1, k/3)] / n: 0, 0.3, 0.6, 0.9, 1.0 for k = 0..4 of 10 answers.
    With a single answer every subset is empty and the accuracy is 0.
    """
    if n_answers < 1:
        raise ValueError("VQA accuracy needs at least one ground-truth answer")
    k = matches
    return (k * min(1.0, (k - 1) / 3) + (n_answers - k) * min(1.0, k / 3)) / n_answers


def vqa_v2_accuracy(prediction: str, answers: list[str]) -> float:
    """VQA v2 accuracy as vqaEval.py computes it: the leave-one-out mean over the annotators' answers.

    Answers and prediction are flattened (`_flatten`); only when the annotators disagree (more than one distinct
    answer) are both normalised (`vqa_normalize`). When all agree nothing is normalised, so "Yes" scores 0
    against ten "yes" (the authors' choice, kept for answers that quote text from the image: GT-Vision-Lab/VQA
    issue 14). The check and the normalisation are vqaEval.py's; the prediction goes in raw.
    """
    flat, normalized = zip(*map(_vqa_forms, answers), strict=True)
    if len(set(flat)) > 1:
        predicted, expected = _vqa_forms(prediction)[1], normalized
    else:
        predicted, expected = _vqa_forms(prediction)[0], flat
    return leave_one_out_accuracy(expected.count(predicted), len(answers))


def textvqa_accuracy(prediction: str, answers: list[str]) -> float:
    """TextVQA accuracy as MMF's `TextVQAAccuracyEvaluator` computes it: `evalai_normalize` on the prediction and
    on every answer, then the leave-one-out mean."""
    expected = [evalai_normalize(answer) for answer in answers]
    return leave_one_out_accuracy(expected.count(evalai_normalize(prediction)), len(answers))


def molmo_vqa_score(prediction: str, answers: list[str]) -> float:
    """The Molmo release's VQA score: min(1, matching answers / 3) after `molmo_normalize` on both sides, with no
    leave-one-out subsets (0.333, 0.667, 1.0 for 1, 2, 3 matching annotators)."""
    expected = [molmo_normalize(answer) for answer in answers]
    return min(1.0, expected.count(molmo_normalize(prediction)) / 3)
