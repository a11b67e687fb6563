"""OpenAI-compatible chat completions (vLLM, SGLang, `molmo-arena serve`, hosted APIs) as a model adapter.

Spec: `openai:BASE_URL[?OPTION=VALUE&...]#MODEL`, e.g. `openai:http://127.0.0.1:8000/v1#molmo-tiny`. Each request
of a batch is one `POST BASE_URL/chat/completions` (the images inline as base64 `data:` URLs, `temperature: 0`,
`max_tokens`), sent by a pool of threads. Every option can also be set by an environment variable
`MOLMO_ARENA_OPENAI_<OPTION>` (upper case); the spec's query wins:

- `concurrency` (8): requests in flight at once (the runner's `--batch-size` bounds it too);
- `timeout` (120): socket timeout of one HTTP request, seconds;
- `retries` (6): retries of a request after 429, 408/409, 5xx, connection errors and timeouts, with exponential
  back-off (`backoff` seconds (1.0), doubling, full jitter, at most 60 s) or the server's `Retry-After`;
- `key_env` (OPENAI_API_KEY): the environment variable holding the API key, sent as a bearer token when set;
- `input_price`, `output_price`: US dollars per million prompt / completion tokens, for the cost in `usage()`;
- `send_max_crops` (0): 1 adds the request's `max_crops` to the body, a field `molmo-arena serve` understands
  (hosted APIs reject unknown fields, so it is off by default).

The API key is read from the environment for each request and never stored, described or put in an error.
Evaluation sends plain requests; a caller that wants to watch answers grow (`generate(..., on_text=...)`, the arena's
live page) gets them streamed (`stream: true`; a retried request starts its answer again).
"""

from __future__ import annotations

import base64
import email.utils
import functools
import http.client
import io
import json
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from evals.adapters.base import Generation, GenerationRequest, TextCallback
from molmo_arena.common.arguments import non_negative_float, non_negative_int, positive_float, positive_int

ENV_PREFIX = "MOLMO_ARENA_OPENAI_"
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_BACKOFF_S = 60.0
MAX_RETRY_AFTER_S = 600.0
T = TypeVar("T")


class APIError(RuntimeError):
    """A request that failed for good (after its retries, or at once for a client error such as 400 or 401)."""


def _flag(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError("must be 0 or 1")
    return text == "1"


def _env_name(text: str) -> str:
    if not text.replace("_", "").isalnum():
        raise ValueError("must be an environment variable name")
    return text


# option -> (parse, default)
_OPTIONS: dict[str, tuple[Callable[[str], Any], str | None]] = {
    "concurrency": (positive_int, "8"),
    "timeout": (positive_float, "120"),
    "retries": (non_negative_int, "6"),
    "backoff": (non_negative_float, "1.0"),
    "key_env": (_env_name, "OPENAI_API_KEY"),
    "input_price": (non_negative_float, None),
    "output_price": (non_negative_float, None),
    "send_max_crops": (_flag, "0"),
}


@dataclass(frozen=True)
class EndpointSpec:
    """What an `openai:` spec names: where to send requests, which model, and the client's settings."""

    base_url: str
    model: str
    concurrency: int
    timeout: float
    retries: int
    backoff: float
    key_env: str
    input_price: float | None
    output_price: float | None
    send_max_crops: bool

    @classmethod
    def parse(cls, target: str) -> EndpointSpec:
        """Parse `BASE_URL[?OPTION=VALUE&...]#MODEL`; ValueError naming the part that is wrong."""
        where = f"--model openai:{target}"
        parts = urllib.parse.urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{where}: expected openai:http(s)://HOST[:PORT]/PATH#MODEL, e.g. "
                             "openai:http://127.0.0.1:8000/v1#my-model")
        if parts.username is not None or parts.password is not None:
            raise ValueError(f"{where}: credentials do not belong in the URL; put the key in the variable that "
                             "key_env names (default OPENAI_API_KEY)")
        if not parts.fragment:
            raise ValueError(f"{where}: no model name; end the spec with #MODEL_NAME")
        try:
            query = urllib.parse.parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        except ValueError:
            raise ValueError(f"{where}: options go as ?OPTION=VALUE&OPTION=VALUE before the #") from None
        unknown = sorted(set(query) - set(_OPTIONS))
        if unknown:
            raise ValueError(f"{where}: unknown option {unknown[0]!r}; options: {', '.join(_OPTIONS)}")
        values: dict[str, Any] = {}
        for name, (parse, default) in _OPTIONS.items():
            given = query[name][-1] if name in query else os.environ.get(ENV_PREFIX + name.upper(), default)
            source = f"option {name!r}" if name in query else f"{ENV_PREFIX}{name.upper()}"
            try:
                values[name] = None if given is None else parse(given)
            except ValueError as error:
                raise ValueError(f"{where}: {source}={given!r}: {error}") from None
        base_url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        return cls(base_url=base_url, model=parts.fragment, **values)


_IMAGE_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
                (b"GIF89a", "image/gif"))


def image_data_url(image: bytes) -> str:
    """The image as a base64 `data:` URL; PNG, JPEG, GIF and WebP go as they are, other formats as PNG."""
    mime = next((kind for magic, kind in _IMAGE_TYPES if image.startswith(magic)), None)
    if mime is None and image[:4] == b"RIFF" and image[8:12] == b"WEBP":
        mime = "image/webp"
    if mime is None:  # e.g. BMP or TIFF, which the APIs do not take: re-encode losslessly
        from PIL import Image

        out = io.BytesIO()
        Image.open(io.BytesIO(image)).save(out, format="PNG")
        image, mime = out.getvalue(), "image/png"
    return f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"


def _retry_after(headers: Any) -> float | None:
    """Seconds that a `Retry-After` header (seconds or an HTTP date) asks for, or None."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


class OpenAIAdapter:
    """A model behind an OpenAI-compatible chat-completions endpoint; greedy, one HTTP request per item."""

    prompt_family = "generic"
    streams_text = True  # with on_text, requests go with `stream: true` (the arena's live page shows them growing)

    def __init__(self, target: str, spec: str | None = None) -> None:
        self.spec = spec or f"openai:{target}"
        self.endpoint = EndpointSpec.parse(target)
        # A local server is reached directly even where http(s)_proxy is set for the outside world.
        host = urllib.parse.urlsplit(self.endpoint.base_url).hostname or ""
        direct = host == "localhost" or host.startswith("127.") or host == "::1"
        self._opener = urllib.request.build_opener(*([urllib.request.ProxyHandler({})] if direct else []))
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(("requests", "failed_requests", "attempts", "retries", "prompt_tokens",
                                      "completion_tokens"), 0)
        # The answers of the last batch that failed in part: the runner then retries its items one by one, and
        # those already answered are not paid for twice.
        self._answered: dict[GenerationRequest, Generation] = {}

    def describe(self) -> dict[str, Any]:
        """Where the model is and what is sent; client settings (concurrency, retries, prices) change no answer."""
        return {
            "adapter": "openai",
            "base_url": self.endpoint.base_url,
            "model": self.endpoint.model,
            "max_crops_sent": self.endpoint.send_max_crops,
            "decoding": "greedy (temperature 0)",
        }

    def usage(self) -> dict[str, Any]:
        """Requests, HTTP attempts, retries and tokens so far (from the replies' `usage`), with the cost if priced."""
        with self._lock:
            counts = dict(self._counts)
        counts["total_tokens"] = counts["prompt_tokens"] + counts["completion_tokens"]
        prices = (self.endpoint.input_price, self.endpoint.output_price)
        cost = None
        if prices != (None, None):
            cost = round(((prices[0] or 0.0) * counts["prompt_tokens"]
                          + (prices[1] or 0.0) * counts["completion_tokens"]) / 1e6, 6)
        return {**counts, "input_price_per_1m": prices[0], "output_price_per_1m": prices[1], "cost_usd": cost}

    def generate(self, requests: list[GenerationRequest], on_text: TextCallback | None = None) -> list[Generation]:
        answers: dict[int, Generation] = {}
        with self._lock:
            for index, request in enumerate(requests):
                if request in self._answered:
                    answers[index] = self._answered.pop(request)
        todo = [i for i in range(len(requests)) if i not in answers]
        errors: dict[int, Exception] = {}
        if todo:
            with ThreadPoolExecutor(max_workers=min(self.endpoint.concurrency, len(todo))) as pool:
                futures = {i: pool.submit(self._complete, requests[i],
                                          None if on_text is None else functools.partial(on_text, i)) for i in todo}
            for index, future in futures.items():
                try:
                    answers[index] = future.result()
                except Exception as error:  # collected: the others' answers are kept below
                    errors[index] = error
        if errors:
            if len(requests) > 1:
                with self._lock:
                    self._answered = {requests[i]: answers[i] for i in answers}
            first = min(errors)
            raise APIError(f"{len(errors)} of {len(requests)} requests failed; first: {errors[first]}")
        return [answers[i] for i in range(len(requests))]

    def _complete(self, request: GenerationRequest, on_text: Callable[[str], None] | None = None) -> Generation:
        content: list[dict[str, Any]] = []
        content.extend({"type": "image_url", "image_url": {"url": image_data_url(image)}} for image in request.images)
        content.append({"type": "text", "text": request.prompt})
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": request.max_new_tokens,
            "temperature": 0,
        }
        if self.endpoint.send_max_crops and request.max_crops is not None:
            body["max_crops"] = request.max_crops
        try:
            reply = self._post(body) if on_text is None else self._stream(body, on_text)
        except Exception:
            self._add(failed_requests=1)
            raise
        try:
            text = reply["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            self._add(failed_requests=1)
            raise APIError(f"{self._url}: a reply without choices[0].message.content: "
                           f"{self._scrub(json.dumps(reply)[:300])}") from None
        usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
        prompt_tokens, completion_tokens = int(usage.get("prompt_tokens") or 0), usage.get("completion_tokens")
        self._add(requests=1, prompt_tokens=prompt_tokens, completion_tokens=int(completion_tokens or 0))
        return Generation(text=str(text).strip(), prompt=request.prompt,
                          output_tokens=None if completion_tokens is None else int(completion_tokens))

    @property
    def _url(self) -> str:
        return self.endpoint.base_url + "/chat/completions"

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries; the parsed JSON reply, or APIError."""

        def read(reply: Any) -> dict[str, Any]:
            raw = reply.read()
            try:
                return json.loads(raw)
            except ValueError:
                text = self._scrub(raw[:200].decode(errors="replace"))
                raise APIError(f"{self._url}: the reply is not JSON: {text}") from None

        return self._request(body, read)

    def _stream(self, body: dict[str, Any], on_text: Callable[[str], None]) -> dict[str, Any]:
        """POST with `stream: true` and read the server-sent events, passing the answer so far to `on_text`; the
        reply as one chat.completion-like dict (content and usage). A retry starts the answer again."""

        def read(reply: Any) -> dict[str, Any]:
            text, usage = "", None
            for line in reply:
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise APIError(f"{self._url}: a stream event is not JSON: {self._scrub(str(data[:200]))}") from None
                if isinstance(chunk.get("error"), dict):
                    message = self._scrub(str(chunk["error"].get("message"))[:500])
                    raise APIError(f"{self._url}: the stream ended with an error: {message}")
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or ():
                    if (choice.get("delta") or {}).get("content"):
                        text += choice["delta"]["content"]
                        on_text(text.strip())
            return {"choices": [{"message": {"content": text}}], "usage": usage}

        return self._request({**body, "stream": True, "stream_options": {"include_usage": True}}, read)

    def _request(self, body: dict[str, Any], read: Callable[[Any], T]) -> T:
        """POST with retries; what `read` makes of the reply, or APIError."""
        data = json.dumps(body).encode()
        attempt = 0
        while True:
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            key = os.environ.get(self.endpoint.key_env)
            if key:
                headers["Authorization"] = f"Bearer {key}"
            self._add(attempts=1)
            last = attempt == self.endpoint.retries
            try:
                with self._opener.open(urllib.request.Request(self._url, data=data, headers=headers),
                                       timeout=self.endpoint.timeout) as reply:
                    return read(reply)
            except urllib.error.HTTPError as error:
                detail = self._error_detail(error)
                if error.code not in RETRYABLE_STATUS or last:
                    hint = f" (is {self.endpoint.key_env} set?)" if error.code in (401, 403) else ""
                    raise APIError(f"{self._url}: HTTP {error.code}{hint}: {detail}") from None
                wait = _retry_after(error.headers)
            except (http.client.HTTPException, OSError) as error:  # refused, reset, timed out (URLError too)
                if last:
                    reason = getattr(error, "reason", None) or error
                    raise APIError(f"{self._url}: {type(error).__name__}: {self._scrub(str(reason))} "
                                   f"(after {attempt + 1} attempts)") from None
                wait = None
            if wait is None:  # exponential back-off with full jitter
                wait = random.uniform(0.0, min(MAX_BACKOFF_S, self.endpoint.backoff * 2**attempt))
            self._add(retries=1)
            time.sleep(wait)
            attempt += 1

    def _error_detail(self, error: urllib.error.HTTPError) -> str:
        """The server's error message (OpenAI-style `error.message` when there is one), short and key-free."""
        try:
            raw = error.read().decode(errors="replace")
        except (OSError, http.client.HTTPException):
            raw = ""
        try:
            message = json.loads(raw)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = raw or str(error.reason)
        return self._scrub(str(message)[:500])

    def _scrub(self, text: str) -> str:
        key = os.environ.get(self.endpoint.key_env)
        return text.replace(key, "***") if key else text

    def _add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                self._counts[name] += value
