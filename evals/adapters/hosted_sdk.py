"""What the adapters for hosted APIs reached through an official SDK (`anthropic:`, `gemini:`) share.

Options (`concurrency` 8, `timeout` 120 s, `retries` 6 after 429, 408/409, 5xx and connection errors with
exponential back-off from `backoff` (1.0) seconds with full jitter or the server's `Retry-After`, `input_price`
and `output_price` in US dollars per million tokens for the cost in `usage()`), the retry loop, usage and key
scrubbing; the batching, partial-failure bookkeeping and usage come from `OpenAIAdapter`. The key is never
stored by this code, described, or put in an error.
"""

from __future__ import annotations

import importlib
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, ClassVar

from evals.adapters.base import Generation, GenerationRequest
from evals.adapters.openai_api import (
    _OPTIONS,
    MAX_BACKOFF_S,
    APIError,
    EndpointSpec,
    OpenAIAdapter,
    _retry_after,
    image_data_url,
)

_SDK_OPTIONS = ("concurrency", "timeout", "retries", "backoff", "input_price", "output_price")


def image_block(image: bytes) -> tuple[str, str]:
    """(media type, base64 data) of an image as the hosted APIs take it (PNG, JPEG, GIF, WebP; others as PNG)."""
    header, _, data = image_data_url(image).partition(",")
    return header.removeprefix("data:").removesuffix(";base64"), data


class HostedSDKAdapter(OpenAIAdapter):
    """A hosted model reached through its vendor's SDK: subclasses set the class attributes and `_call`."""

    kind: ClassVar[str]
    sdk_module: ClassVar[str]  # what to import to check the SDK is there
    key_envs: ClassVar[tuple[str, ...]]  # variables that may hold the key, first one preferred
    base_url_env: ClassVar[str]
    default_base_url: ClassVar[str]

    def __init__(self, target: str, spec: str | None = None) -> None:  # no super().__init__: no URL to parse
        self.spec = spec or f"{self.kind}:{target}"
        model, _, query = target.partition("?")
        where = f"--model {self.kind}:{target}"
        if not model:
            raise ValueError(f"{where}: no model name; expected {self.kind}:MODEL[?OPTION=VALUE&...]")
        try:
            given = urllib.parse.parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
        except ValueError:
            raise ValueError(f"{where}: options go as ?OPTION=VALUE&OPTION=VALUE after the model") from None
        unknown = sorted(set(given) - set(_SDK_OPTIONS))
        if unknown:
            raise ValueError(f"{where}: unknown option {unknown[0]!r}; options: {', '.join(_SDK_OPTIONS)}")
        prefix = f"MOLMO_ARENA_{self.kind.upper()}_"
        values: dict[str, Any] = {}
        for name in _SDK_OPTIONS:
            parse, default = _OPTIONS[name]
            text = given[name][-1] if name in given else os.environ.get(prefix + name.upper(), default)
            try:
                values[name] = None if text is None else parse(text)
            except ValueError as error:
                source = f"option {name!r}" if name in given else prefix + name.upper()
                raise ValueError(f"{where}: {source}={text!r}: {error}") from None
        base_url = (os.environ.get(self.base_url_env) or self.default_base_url).rstrip("/")
        self.endpoint = EndpointSpec(base_url=base_url, model=model, key_env=self.key_envs[0], send_max_crops=False,
                                     **values)
        self._import_sdk()  # fails here, naming the extra, when the SDK is not installed
        self._client: Any = None
        # the state OpenAIAdapter.generate/usage keep (lock, counts, the answers of a partly failed batch)
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(("requests", "failed_requests", "attempts", "retries", "prompt_tokens",
                                      "completion_tokens"), 0)
        self._answered: dict[GenerationRequest, Generation] = {}

    def describe(self) -> dict[str, Any]:
        return {"adapter": self.kind, "base_url": self.endpoint.base_url, "model": self.endpoint.model,
                "decoding": "greedy (temperature 0)"}

    @property
    def _url(self) -> str:
        return f"{self.endpoint.base_url} ({self.kind}:{self.endpoint.model})"

    def _key(self) -> str:
        for name in self.key_envs:
            if os.environ.get(name):
                return os.environ[name]
        raise APIError(f"{self._url}: no API key; set {' or '.join(self.key_envs)}")

    def _import_sdk(self) -> None:
        try:
            importlib.import_module(self.sdk_module)
        except ImportError:
            raise ImportError(f"the {self.kind}: adapter needs the {self.sdk_module!r} SDK: "
                              f"pip install 'molmo-arena[{self.kind}]'") from None

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._make_client(self._key())
            return self._client

    def _make_client(self, key: str) -> Any:
        raise NotImplementedError

    def _call(self, client: Any, request: GenerationRequest) -> tuple[str, int, int | None]:
        """One SDK call: (text, prompt tokens, output tokens or None); SDK errors pass through."""
        raise NotImplementedError

    def _classify(self, error: Exception) -> tuple[bool, Any, str]:
        """(retryable, headers or None, message) of an SDK error; message before scrubbing."""
        raise NotImplementedError

    def _complete(self, request: GenerationRequest, on_text: Callable[[str], None] | None = None) -> Generation:
        """One request through the SDK, without streaming: `on_text`, if given, gets the whole answer once."""
        try:
            text, prompt_tokens, output_tokens = self._with_retries(lambda: self._call(self._get_client(), request))
        except Exception:
            self._add(failed_requests=1)
            raise
        self._add(requests=1, prompt_tokens=prompt_tokens, completion_tokens=output_tokens or 0)
        if on_text is not None:
            on_text(text.strip())
        return Generation(text=text.strip(), prompt=request.prompt, output_tokens=output_tokens)

    def _with_retries(self, call: Callable[[], Any]) -> Any:
        attempt = 0
        while True:
            self._add(attempts=1)
            try:
                return call()
            except (APIError, ImportError):
                raise
            except Exception as error:
                retryable, headers, message = self._classify(error)
                if not retryable or attempt == self.endpoint.retries:
                    after = f" (after {attempt + 1} attempts)" if retryable else ""
                    raise APIError(f"{self._url}: {type(error).__name__}: {self._scrub(message)[:500]}{after}") \
                        from None
                wait = _retry_after(headers)
            if wait is None:  # exponential back-off with full jitter
                wait = random.uniform(0.0, min(MAX_BACKOFF_S, self.endpoint.backoff * 2**attempt))
            self._add(retries=1)
            time.sleep(wait)
            attempt += 1

    def _scrub(self, text: str) -> str:
        for name in self.key_envs:
            key = os.environ.get(name)
            if key:
                text = text.replace(key, "***")
        return text
