"""What the lmms-eval oracle needs of a benchmark, and the prediction generators every benchmark shares.

tests/evals/test_lmms_eval_oracle.py runs lmms-eval's own task code (in its side environment, through
tests/evals/lmms_oracle.py) over each benchmark's fixture and thousands of generated predictions, and scores each
prediction with lmms-eval and with our official profile. A benchmark folder whose benchmark lmms-eval has declares
`ORACLE` in its `oracle.py`: lmms-eval's task name, what its `doc_to_target` gives, how to read its
`process_results`, the official definition where lmms-eval carries the official code, extra predictions and cases
the generic generators below miss, and the deliberate differences between lmms-eval and our official profile,
each with an example scored on both sides. `python -m evals.tasks --differences` prints them as a table.

The `lmms_*` and `official` callables run in the side environment, where lmms-eval is importable; the rest is
plain data and pure functions.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evals.items import EvalItem
from evals.metrics.scorers import ItemScore

_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


@dataclass(frozen=True)
class OracleCase:
    """One scored prediction: the task, the prediction, our item, our official score and lmms-eval's (`score`,
    what it `parsed`, the answer its filters left in `filtered`)."""

    task: str
    prediction: str
    item: EvalItem
    ours: ItemScore
    lmms: dict[str, Any]


@dataclass(frozen=True)
class Difference:
    """A deliberate difference between our official profile and lmms-eval 0.7.3: its id, why the two differ, and
    the test that tells whether a disagreeing case is one of it."""

    id: str
    why: str
    explains: Callable[[OracleCase], bool]


@dataclass(frozen=True)
class Example:
    """A difference shown on one fixture document (`index` into the oracle's 16 documents of seed 0), its fields
    `overrides` applied: the prediction, the gold answer as the table shows it, and the two scores it gets."""

    difference: Difference
    index: int
    prediction: str
    answer: str
    ours: float
    lmms: float
    overrides: dict[str, Any] | None = None


def exact_match(result: dict[str, Any]) -> tuple[float, Any]:
    """lmms-eval's `exact_match` metric of one document; it parses nothing we compare."""
    return float(result["exact_match"]), None


def metric_value(key: str) -> Callable[[dict[str, Any]], tuple[float, Any]]:
    """A reader of the metric `key` of one document (a number, or a dict holding it under the same key)."""

    def read(result: dict[str, Any]) -> tuple[float, Any]:
        value = result[key]
        return float(value[key] if isinstance(value, dict) else value), None

    return read


def most_common_answer(item: EvalItem) -> str:
    """What a model that knows the answer writes: the letter of a multiple-choice item, else the annotators' most
    common answer (the first accepted answer when they are all different)."""
    if item.choices:
        return item.answers[0]
    return max(item.answers, key=item.answers.count)


def no_predictions(item: EvalItem, gold: str) -> list[str]:
    return []


def no_variants(item: EvalItem) -> list[tuple[str, dict[str, Any]]]:
    return []


@dataclass(frozen=True)
class LmmsOracle:
    """What the oracle test needs of one benchmark (see the module docstring).

    `task`: lmms-eval's task of the same benchmark and split. `target(item)`: what its `doc_to_target` gives for
    our item. `lmms_result(result)`: (score, parsed) from one document's `process_results`. `official(prediction,
    doc)`: the official definition, {"score": x} or {"parsed": y} to compare with ours, where lmms-eval carries the
    official code. `gold(item)`: what a model that knows the answer writes. `predictions(item, gold)`: predictions
    beyond the generic ones; `variants(item)`: (prediction, field overrides) cases of the same document changed.
    `question_in_text(item)`: the question as `doc_to_text` shows it; `options_in_text`: whether it lists the
    options as "A. text". `agrees_everywhere`: lmms-eval follows the official definition on every case.
    """

    task: str
    target: Callable[[EvalItem], Any]
    lmms_result: Callable[[dict[str, Any]], tuple[float, Any]] = exact_match
    official: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None
    gold: Callable[[EvalItem], str] = most_common_answer
    predictions: Callable[[EvalItem, str], list[str]] = no_predictions
    variants: Callable[[EvalItem], list[tuple[str, dict[str, Any]]]] = no_variants
    question_in_text: Callable[[EvalItem], str] = field(default=lambda item: item.question)
    options_in_text: bool = True
    agrees_everywhere: bool = False
    differences: tuple[Difference, ...] = ()
    examples: tuple[Example, ...] = ()


# --------------------------------------------------------------------------------------- shared differences


def letter_alone(text: str) -> bool:
    """The prediction is one letter, maybe with a final "."."""
    return len(text.strip().rstrip(".").strip()) == 1 and text.strip()[0].isalpha()


def _integer_alone(text: str) -> bool:
    return text.strip().isdigit() and text.strip() == str(int(text.strip()))


STRIP = Difference(
    "strip",
    "lmms-eval strips every output before scoring (lmms_eval/api/task.py, ConfigurableTask.process_results); "
    "pix2struct's relaxed correctness compares the answer as given, and the RRC ANLS script takes its length "
    "from the raw answer",
    lambda case: case.prediction != case.prediction.strip(),
)

COUNT_READING = Difference(
    "count-reading",
    "no official scorer; lmms-eval compares the stripped output with the number (CountBenchQA) or the first "
    "integer in it (PixMo-Count), we read the count as the release's PointCountEval does, with whole decimals "
    "and the points of the markup",
    lambda case: not _integer_alone(case.prediction),
)


def official_anls(prediction: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The RRC ANLS script (lmms-eval's copy, lmms_eval/api/metrics.py `anls`) on the raw prediction (DocVQA,
    InfographicVQA); runs in the side environment."""
    from lmms_eval.api.metrics import anls

    return {"score": anls(doc["answers"], [prediction])["anls"]}


def anls_oracle(task: str) -> LmmsOracle:
    """A DocVQA-family task of lmms-eval (DocVQA, InfographicVQA), whose `anls` is the RRC script's."""
    return LmmsOracle(task=task, target=lambda item: item.answers, lmms_result=metric_value("anls"),
                      official=official_anls, differences=(STRIP,))


def count_predictions(item: EvalItem, gold: str) -> list[str]:
    """Counts as a pointing model writes them: decimals, sentences, point markup, one off, two readings."""
    n = int(gold)
    points = " ".join(f'x{k}="{10 * k}.0" y{k}="50.0"' for k in range(1, n + 1))
    return [f"{n}.0", f"There are {n} cones.", f"a total of {n}", f"Counting the <points {points} "
            f'alt="cones">cones</points> shows a total of {n}.', f'<points {points} alt="c">c</points>',
            f"{n - 1}", f"{n + 1}", f"{n}\n{n + 1}", f"I count {n}, maybe {n + 1}"]


# --------------------------------------------------------------------------------------- generated predictions


def near_misses(text: str, rng: random.Random, n: int) -> list[str]:
    """`text` with one character deleted, replaced or inserted, `n` times."""
    out = []
    for _ in range(n):
        if not text:
            break
        k = rng.randrange(len(text))
        char = rng.choice("abcdefgxyz0123456789 .,")
        out.append(rng.choice([text[:k] + text[k + 1:], text[:k] + char + text[k + 1:], text[:k] + char + text[k:]]))
    return out


def wrappers(gold: str) -> list[str]:
    """How a model writes an answer it has: case, spaces, punctuation, the forms of answer lines and paragraphs."""
    return [
        gold, gold.lower(), gold.upper(), gold.title(), f" {gold} ", f"{gold}\n", f"\n{gold}", f"{gold}.", f"{gold}!",
        f"{gold}?", f'"{gold}"', f"({gold})", f"Answer: {gold}", f"The answer is {gold}.", f'The answer is "{gold}".',
        f"{gold}\n{gold}", f"Let me think step by step.\n{gold}", f"{gold}\nI am not sure.", f"**{gold}**",
        gold.replace(" ", ","), gold.replace(" ", "  "), gold.replace(" ", "\t"), f"it's {gold}", f"the {gold}",
    ]


def is_number(text: str) -> bool:
    """Whether `text` reads as a number, ignoring a final "%" and thousands commas."""
    try:
        float(text.rstrip("%").replace(",", ""))
    except ValueError:
        return False
    return True


def numbers(gold: str) -> list[str]:
    """Numbers near and around a numeric answer: units, commas, percent signs, decimals, words, 3% and 6% off."""
    value = float(gold.rstrip("%").replace(",", ""))
    out = [f"{value:,.0f}", f"{value:.1f}", f"{value:.2f}", f"{value * 1.03:g}", f"{value * 0.94:g}",
           f"{value}%", f"{value / 100:g}", f"${gold}", f"{gold} cm", f"{gold}%", f"{gold} percent", f"-{gold}",
           f"{value:g}e0", f"about {gold}", f"{gold} or {value + 1:g}"]
    if value.is_integer() and 0 <= value <= 10:
        out += [_NUMBER_WORDS[int(value)], _NUMBER_WORDS[int(value)].capitalize()]
    return out


def letters(letter: str, option: str, wrong: str) -> list[str]:
    """A multiple-choice answer written every way a model writes one, and a few wrong or unreadable ones."""
    return [letter, letter.lower(), f"({letter})", f"{letter}.", f"{letter})", f"{letter}:", f"{letter}. {option}",
            f"({letter}) {option}", f"Option {letter}", f"The answer is {letter}.", f"The answer is ({letter})",
            f"Answer: {letter}", f"answer:{letter}", f"{option}", f"{option}.",
            f"I think the correct option is {option}",
            f"{letter} is correct because the diagram shows {option}", f"{wrong}", f"{wrong} or {letter}",
            f"{letter} or {wrong}", f"Not {wrong}, the answer is {letter}", f"{letter}{letter}", f"{letter}\n{wrong}"]


def junk() -> list[str]:
    """Outputs that answer nothing."""
    return ["", " ", "\n", "I don't know.", "none", "N/A", "The image does not show it.", "0", "yes", "no"]


def predictions(oracle: LmmsOracle, item: EvalItem, others: list[EvalItem], rng: random.Random) -> list[str]:
    """About 150 predictions for one item: its gold in many forms, numbers around it, near misses, the task's own
    extra forms, other items' answers, letters versus option texts, empty and multi-line outputs."""
    if item.choices:
        letter = item.answers[0]
        option = item.choices[ord(letter) - ord("A")]
        wrong = next(chr(ord("A") + k) for k in range(len(item.choices)) if chr(ord("A") + k) != letter)
        golds = letters(letter, option, wrong) + wrappers(option) + near_misses(option, rng, 6)
        golds += oracle.predictions(item, letter)
    else:
        gold = most_common_answer(item)
        golds = wrappers(gold) + near_misses(gold, rng, 30) + (numbers(gold) if is_number(gold) else [])
        golds += oracle.predictions(item, gold)
    return golds + [text for other in others for text in wrappers(other.answers[0])] + junk()
