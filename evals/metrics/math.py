"""MathVista and MMMU answer extraction and scoring, rule-based, with an optional cached LLM judge for MathVista."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from evals.metrics.multiple_choice import LETTERS, extract_choice, is_option_letter

# ---------------------------------------------------------------------------------------------------------------
# MMMU (official MMMU-Benchmark eval_utils, as Molmo and lmms-eval run it; harness.md §5.4)

_MMMU_EDGE_MARKS = (",", ".", "!", "?", ";", ":", "'")
_MMMU_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
# The official split; it runs after lower-casing, so the capital look-ahead never fires and only newlines split.
_MMMU_SUB_RESPONSE = re.compile(r"\.\s(?=[A-Z])|\n")
_MMMU_NUMBERS = (
    re.compile(r"(?<![\d.,])-?\d{1,3}(?:,\d{3})+(?![\d,])"),  # with thousands separators
    re.compile(r"(?<![\d.,])-?\d+(?:\.\d+)?[eE][+-]?\d+"),  # scientific
    re.compile(r"(?<![\d.,])-?(?:\d+\.\d+|\.\d+|\d+)(?![\d,]|\.\d|[eE][+-]?\d)"),  # plain
)


def parse_mmmu_choice(response: str, choices: Sequence[str]) -> str | None:
    """MMMU's `parse_multi_choice_response` without its random fallback: None when nothing matches.

    Strip , . ! ? ; : ' from the ends (one mark after the other) and pad with spaces. Candidates: letters written
    "(X)"; else " X "; else "X." (lmms-eval's addition); else, for answers of more than 5 words, options whose
    text appears in the answer (case-insensitive). Several candidates: the one whose mark occurs last.
    """
    for mark in _MMMU_EDGE_MARKS:
        response = response.strip(mark)
    padded = f" {response} "
    lowered = padded.lower()
    letters = LETTERS[: len(choices)]
    patterns = (
        {letter: f"({letter})" for letter in letters},
        {letter: f" {letter} " for letter in letters},
        {letter: f"{letter}." for letter in letters},
    )
    for pattern in patterns:
        found = {letter: padded.rfind(mark) for letter, mark in pattern.items() if mark in padded}
        if found:
            return max(found, key=found.__getitem__)
    if len(padded.split()) > 5:
        found = {
            letter: lowered.rfind(choice.lower())
            for letter, choice in zip(letters, choices, strict=True)
            if choice.lower() in lowered
        }
        if found:
            return max(found, key=found.__getitem__)
    return None


def _mmmu_key_responses(response: str) -> list[str]:
    """The shortest tail after an answer indicator ("is ", "so ", ...; "=" too in the last sentence) per
    sub-response; the whole response when there is none."""
    response = response.lower()
    sub_responses = _MMMU_SUB_RESPONSE.split(response)
    keys = []
    for index, sub_response in enumerate(sub_responses):
        indicators = _MMMU_INDICATORS + (("=",) if index == len(sub_responses) - 1 else ())
        shortest = ""
        for indicator in indicators:
            if indicator in sub_response:
                tail = sub_response.split(indicator)[-1].strip()
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest not in _MMMU_EDGE_MARKS:
            keys.append(shortest)
    return keys or [response]


def _mmmu_normalize(text: str) -> list[str | float]:
    """MMMU's `normalize_str`: a number becomes float rounded to 2 decimals; other text is lower-cased, and a
    single character c becomes [" c", "c "] so that it matches only as a word."""
    text = text.strip()
    try:
        return [round(float(text.replace(",", "")), 2)]
    except ValueError:
        text = text.lower()
        return [" " + text, text + " "] if len(text) == 1 else [text]


def parse_mmmu_open(response: str) -> list[str | float]:
    """MMMU's `parse_open_response`: the key responses plus every number in them, normalised, in order, deduplicated."""
    keys = _mmmu_key_responses(response)
    candidates = list(keys)
    for key in keys:
        for pattern in _MMMU_NUMBERS:
            candidates.extend(pattern.findall(key))
    return list(dict.fromkeys(value for candidate in candidates for value in _mmmu_normalize(candidate)))


def mmmu_open_correct(candidates: list[str | float], answers: list[str]) -> bool:
    """MMMU's `eval_open`: a text answer counts if it is a substring of a text candidate; a numeric answer
    if it equals a numeric candidate."""
    for expected in (value for answer in answers for value in _mmmu_normalize(answer)):
        if isinstance(expected, float):
            if any(isinstance(c, float) and c == expected for c in candidates):
                return True
        elif any(isinstance(c, str) and expected in c for c in candidates):
            return True
    return False


# ---------------------------------------------------------------------------------------------------------------
# MathVista (official MathVista calculate_score normalisation; harness.md §5.5)

# A leading "-" is a minus sign only when it does not follow a word ("3-4" reads 3 and 4, "x = -4" reads -4).
_NUMBER = re.compile(r"(?:(?<![\w.])-)?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|(?:(?<![\w.])-)?\.\d+")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")


def _numbers(text: str) -> list[str]:
    return [number.replace(",", "") for number in _NUMBER.findall(text)]


def _python_number(text: str) -> int | float:
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def _option_text(text: str, choices: Sequence[str]) -> str | None:
    if text in choices:
        return text
    letter = extract_choice(text, choices).letter
    return None if letter is None else choices[LETTERS.index(letter)]


def normalize_mathvista_answer(
    extraction: str, *, choices: Sequence[str] | None, answer_type: str, precision: int
) -> str | None:
    """MathVista's `normalize_extracted_answer`, deterministic; None when nothing can be read.

    Multiple choice: an option's exact text, else the letter or text `extract_choice` finds (rule or
    Levenshtein-nearest option, as MathVista does), mapped to the option text. Free form: integer ->
    str(int(x)), float -> str(round(x, precision)) of the last number in the text; list -> str() of the numbers
    in the last [...]; text -> stripped text.
    """
    text = extraction.strip()
    if not text:
        return None
    if choices:
        return _option_text(text, choices)
    if answer_type == "list":
        lists = _BRACKETS.findall(text)
        return str([_python_number(n) for n in _numbers(lists[-1])]) if lists else None
    if answer_type not in ("integer", "float"):
        return text
    numbers = _numbers(text)
    if not numbers:
        return None
    value = float(numbers[-1])
    return str(int(value)) if answer_type == "integer" else str(round(value, precision))


def _decimals(text: str) -> int:
    numbers = _numbers(text)
    return len(numbers[-1].partition(".")[2]) if numbers else 0


class AnswerJudge(Protocol):
    """Extracts the short answer from a free-text response to a MathVista query."""

    def extract(self, query: str, response: str) -> str: ...


def _is_short_circuit(response: str, choices: Sequence[str] | None, answer_type: str) -> bool:
    """MathVista skips the judge when the response already is an option text, an integer or a float."""
    if choices:
        return response in choices
    if answer_type in ("integer", "float"):
        try:
            (int if answer_type == "integer" else float)(response)
        except ValueError:
            return False
        return True
    return False


def mathvista_score(
    prediction: str,
    answer: str,
    *,
    choices: Sequence[str] | None,
    meta: dict,
    judge: AnswerJudge | None = None,
) -> tuple[str | None, float]:
    """(normalised extraction, accuracy) of a MathVista response (official scoring, harness.md §5.5).

    `meta` carries MathVista's `answer_type` (integer, float, text, list), `precision` (decimals of float
    answers; inferred from `answer` if missing) and, for the judge, the dataset's `query`. `answer` is the
    option's text or letter for multiple choice. Without a `judge` the extraction is rule-based (olmo-eval's
    `math_vista:offline` approach, here with a last-number rule for free-form answers); with one, responses
    that are not already an option, integer or float go through it first, as in the official pipeline.
    Correct iff the normalised extraction equals the normalised answer.
    """
    answer_type = meta.get("answer_type") or "text"
    precision = meta.get("precision")
    valid = isinstance(precision, int | float) and not math.isnan(precision)
    precision = int(precision) if valid else _decimals(answer)
    response = prediction.strip()
    if judge is not None and response and not _is_short_circuit(response, choices, answer_type):
        if "query" not in meta:
            raise ValueError("the MathVista judge needs the dataset's query in meta['query']")
        response = judge.extract(meta["query"], response)
    extracted = normalize_mathvista_answer(response, choices=choices, answer_type=answer_type, precision=precision)
    if choices and is_option_letter(answer, len(choices)):
        expected = choices[LETTERS.index(answer)]
    else:
        normalized = normalize_mathvista_answer(answer, choices=None, answer_type=answer_type, precision=precision)
        expected = answer.strip() if normalized is None else normalized
    return extracted, float(extracted is not None and extracted == expected)


# ---------------------------------------------------------------------------------------------------------------
# Optional LLM judge for MathVista answer extraction

_EXTRACTION_INSTRUCTIONS = (
    "Each example below shows a question, a model's response to it and the short answer extracted from that "
    "response. Extract the answer from the last response in the same way, and reply with the answer only."
)
# Our own examples, in the official prompt's layout: integer, 1-decimal float, 2-decimal float, list, option letter.
_EXTRACTION_EXAMPLES = (
    (
        "Hint: Answer with an integer, e.g. 1, 2, 3, and give the final value at the end.\n"
        "Question: How many red blocks are left after removing the two largest ones?",
        "There are five red blocks and the two largest are removed, so three remain. The answer is 3.",
        "3",
    ),
    (
        "Hint: Answer with a floating-point number with one decimal place, e.g. 1.2, and give it at the end.\n"
        "Question: How long is the rope, in centimetres?",
        "The rope starts at 0 and ends a little before the 7.5 mark, at about 7.4 cm.",
        "7.4",
    ),
    (
        "Hint: Answer with a floating-point number with two decimal places, e.g. 1.23, and give it at the end.\n"
        "Question: What is the slope of the line through (0, 1) and (3, 2)?",
        "The slope is (2 - 1) / (3 - 0), which is about 0.33.",
        "0.33",
    ),
    (
        "Hint: Answer with a Python list, e.g. [1, 2, 3], and give it at the end.\n"
        "Question: In which years were more than 50 thousand units sold?",
        "Only the bars for 2019 and 2021 pass the 50 line, so the years are 2019 and 2021.",
        "[2019, 2021]",
    ),
    (
        "Hint: Answer with the correct option letter, e.g. A, B, C, D, and give it at the end.\n"
        "Question: Which shape has the largest area?\nChoices:\n(A) the circle\n(B) the square\n(C) the triangle",
        "The square's side is 4, so its area of 16 beats the circle's 12.6 and the triangle's 8. The answer is B.",
        "B",
    ),
)


def _example(query: str, response: str, answer: str = "") -> str:
    return f"{query}\n\nModel response: {response}\n\nExtracted answer: {answer}"


def mathvista_extraction_prompt(query: str, response: str) -> str:
    """The few-shot extraction prompt in MathVista's layout (harness.md §5.5): instructions and five examples,
    then the dataset's `query`, the response and "Extracted answer: ". The wording is ours, so judge extractions
    may differ slightly from runs of the official prompt."""
    demos = "\n\n".join(_example(*example) for example in _EXTRACTION_EXAMPLES)
    return f"{_EXTRACTION_INSTRUCTIONS}\n\n{demos}\n\n{_example(query, response)}"


_RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


@dataclass
class ChatCompletionsJudge:
    """A MathVista answer extractor behind an OpenAI-compatible `POST {base_url}/chat/completions` endpoint.

    The API key is read from the environment variable `api_key_env` at request time and never written
    anywhere. Answers are cached on disk as `cache_dir/<sha256(model + prompt)>.json`, so reruns send no
    request. Failed requests (network errors, 408/409/429/5xx) are retried with exponential back-off.
    """

    base_url: str
    model: str
    api_key_env: str
    cache_dir: Path
    timeout_s: float = 60.0
    attempts: int = 4
    backoff_s: float = 1.0
    requests: int = field(default=0, init=False)
    cache_hits: int = field(default=0, init=False)
    prompt_tokens: int = field(default=0, init=False)
    completion_tokens: int = field(default=0, init=False)

    def extract(self, query: str, response: str) -> str:
        prompt = mathvista_extraction_prompt(query, response)
        path = Path(self.cache_dir) / f"{hashlib.sha256((self.model + prompt).encode()).hexdigest()}.json"
        if path.exists():
            self.cache_hits += 1
            return json.loads(path.read_text(encoding="utf-8"))["answer"]
        answer = self._complete(prompt)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps({"model": self.model, "prompt": prompt, "answer": answer}), encoding="utf-8")
        partial.replace(path)
        return answer

    def _complete(self, prompt: str) -> str:
        api_key = os.environ.get(self.api_key_env)
        if not api_key:
            raise ValueError(f"the judge's API key variable {self.api_key_env} is not set")
        url = self.base_url.rstrip("/") + "/chat/completions"
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "max_tokens": 256,
        }
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
        )
        for attempt in range(self.attempts):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                    payload = json.load(reply)
                break
            except (urllib.error.URLError, TimeoutError) as error:
                retryable = not isinstance(error, urllib.error.HTTPError) or error.code in _RETRYABLE_STATUS
                if not retryable or attempt == self.attempts - 1:
                    raise
                time.sleep(self.backoff_s * 2**attempt)
        self.requests += 1
        usage = payload.get("usage") or {}
        self.prompt_tokens += int(usage.get("prompt_tokens", 0))
        self.completion_tokens += int(usage.get("completion_tokens", 0))
        try:
            return str(payload["choices"][0]["message"]["content"]).strip()
        except (KeyError, IndexError, TypeError) as error:
            raise ValueError(f"unexpected reply from the judge at {url}: {str(payload)[:200]}") from error
