"""Google's Gemini API as a model adapter, through the official `google-genai` SDK (extra `gemini`).

Spec: `gemini:MODEL[?OPTION=VALUE&...]`, e.g. `gemini:gemini-1.5-flash`. Each request of a batch is one
`models.generate_content` call (the images as inline parts before the text, `temperature=0`,
`max_output_tokens`), sent by a pool of threads. The key comes from `GEMINI_API_KEY` (or `GOOGLE_API_KEY`); the
endpoint can be moved with `GEMINI_BASE_URL` (a stand-in server in tests). The options (`concurrency`, `timeout`,
`retries`, `backoff`, `input_price`, `output_price`, or `MOLMO_ARENA_GEMINI_<OPTION>`) and the retry rules are
those of the `anthropic:` adapter; the SDK's own retries are off so that ours are counted. Output tokens include
the model's thinking tokens where it reports them, as those are billed.
"""

from __future__ import annotations

import base64
from typing import Any

from evals.adapters.base import GenerationRequest
from evals.adapters.hosted_sdk import HostedSDKAdapter, image_block
from evals.adapters.openai_api import RETRYABLE_STATUS, APIError


class GeminiAdapter(HostedSDKAdapter):
    """A Gemini model behind the Generative Language API; greedy, one call per item."""

    kind = "gemini"
    sdk_module = "google.genai"
    key_envs = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    base_url_env = "GEMINI_BASE_URL"
    default_base_url = "https://generativelanguage.googleapis.com"

    def _make_client(self, key: str) -> Any:
        from google import genai
        from google.genai import types

        options = types.HttpOptions(base_url=self.endpoint.base_url + "/", api_version="v1beta",
                                    timeout=int(self.endpoint.timeout * 1000),
                                    retry_options=types.HttpRetryOptions(attempts=1))
        return genai.Client(api_key=key, vertexai=False, http_options=options)

    def _call(self, client: Any, request: GenerationRequest) -> tuple[str, int, int | None]:
        from google.genai import types

        parts: list[Any] = []
        for image in request.images:
            mime_type, data = image_block(image)  # formats the API does not take come back as PNG
            parts.append(types.Part.from_bytes(data=base64.b64decode(data), mime_type=mime_type))
        parts.append(types.Part.from_text(text=request.prompt))
        response = client.models.generate_content(
            model=self.endpoint.model,
            contents=[types.Content(role="user", parts=parts)],
            config=types.GenerateContentConfig(temperature=0, max_output_tokens=request.max_new_tokens),
        )
        candidates = response.candidates or []
        if not candidates or candidates[0].content is None:
            feedback = getattr(response, "prompt_feedback", None)
            reason = candidates[0].finish_reason if candidates else None
            raise APIError(f"{self._url}: no answer (finish reason {reason}, prompt feedback {feedback})")
        text = "".join(part.text or "" for part in candidates[0].content.parts or [] if not part.thought)
        usage = response.usage_metadata
        prompt_tokens = int(getattr(usage, "prompt_token_count", None) or 0)
        answer_tokens = getattr(usage, "candidates_token_count", None)
        thoughts = int(getattr(usage, "thoughts_token_count", None) or 0)
        output_tokens = None if answer_tokens is None and not thoughts else int(answer_tokens or 0) + thoughts
        return text, prompt_tokens, output_tokens

    def _classify(self, error: Exception) -> tuple[bool, Any, str]:
        from google.genai import errors

        if isinstance(error, errors.APIError):
            hint = " (is GEMINI_API_KEY right?)" if error.code in (401, 403) else ""
            headers = getattr(getattr(error, "response", None), "headers", None)
            return error.code in RETRYABLE_STATUS, headers, f"HTTP {error.code}{hint}: {error.message}"
        if isinstance(error, _transport_errors()):  # refused, reset, timed out
            return True, None, str(error) or type(error).__name__
        return False, None, str(error)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The connection-level errors of whichever httpx the SDK runs on (`httpx`, or `httpx2` in newer releases)."""
    import contextlib
    import importlib

    found: list[type[BaseException]] = []
    for name in ("httpx", "httpx2"):
        with contextlib.suppress(ImportError, AttributeError):
            found.append(importlib.import_module(name).TransportError)
    return tuple(found)
