"""An LLM that extracts MathVista answers, the step MathVista's evaluation (lupantech/MathVista
evaluation/extract_answer.py) gives to GPT: any OpenAI-compatible chat-completions endpoint, cached on disk."""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class AnswerJudge(Protocol):
    """Extracts the short answer from a free-text response to a MathVista query."""

    def extract(self, query: str, response: str) -> str: ...


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
    """The few-shot extraction prompt in the layout of MathVista's (evaluation/prompts/ext_ans.py, assembled as
    extract_answer.py `create_test_prompt` does): instructions and five examples, then the dataset's `query`, the
    response and "Extracted answer: ". The wording is ours, so judge extractions may differ slightly from runs
    of the official prompt."""
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
