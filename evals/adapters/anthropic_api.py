"""Anthropic's Messages API (Claude) as a model adapter, through the official `anthropic` SDK (extra `anthropic`).

Spec: `anthropic:MODEL[?OPTION=VALUE&...]`, e.g. `anthropic:claude-3-5-sonnet-20240620`. Each request of a batch is
one `messages.create` call (the images as base64 `image` blocks before the text, `temperature=0`, `max_tokens`),
sent by a pool of threads. The key comes from `ANTHROPIC_API_KEY` and the endpoint from `ANTHROPIC_BASE_URL`
(default https://api.anthropic.com), as the SDK reads them. Options are those of `evals.adapters.hosted_sdk`, also
settable as environment variables `MOLMO_ARENA_ANTHROPIC_<OPTION>` (the spec's query wins).
"""

from __future__ import annotations

from typing import Any

from evals.adapters.base import GenerationRequest
from evals.adapters.hosted_sdk import HostedSDKAdapter, image_block
from evals.adapters.openai_api import RETRYABLE_STATUS


class AnthropicAdapter(HostedSDKAdapter):
    """A Claude model behind the Messages API; greedy, one call per item."""

    kind = "anthropic"
    sdk_module = "anthropic"
    key_envs = ("ANTHROPIC_API_KEY",)
    base_url_env = "ANTHROPIC_BASE_URL"
    default_base_url = "https://api.anthropic.com"

    def _make_client(self, key: str) -> Any:
        import anthropic

        # retries are ours (counted, Retry-After honoured), so the SDK's are off
        return anthropic.Anthropic(api_key=key, base_url=self.endpoint.base_url, timeout=self.endpoint.timeout,
                                   max_retries=0)

    def _call(self, client: Any, request: GenerationRequest) -> tuple[str, int, int | None]:
        content: list[dict[str, Any]] = []
        for image in request.images:
            media_type, data = image_block(image)
            content.append({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
        content.append({"type": "text", "text": request.prompt})
        # temperature in the body: recent SDK releases dropped the keyword argument, the API still takes the field
        message = client.messages.create(model=self.endpoint.model, max_tokens=request.max_new_tokens,
                                         messages=[{"role": "user", "content": content}],
                                         extra_body={"temperature": 0})
        text = "".join(block.text for block in message.content if getattr(block, "type", None) == "text")
        usage = getattr(message, "usage", None)
        output_tokens = getattr(usage, "output_tokens", None)
        prompt_tokens = sum(int(getattr(usage, name, None) or 0) for name in
                            ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
        return text, prompt_tokens, None if output_tokens is None else int(output_tokens)

    def _classify(self, error: Exception) -> tuple[bool, Any, str]:
        import anthropic

        if isinstance(error, anthropic.APIStatusError):
            hint = " (is ANTHROPIC_API_KEY right?)" if error.status_code in (401, 403) else ""
            return (error.status_code in RETRYABLE_STATUS, error.response.headers,
                    f"HTTP {error.status_code}{hint}: {error.message}")
        if isinstance(error, anthropic.APIConnectionError):  # refused, reset, timed out
            return True, None, str(error)
        return False, None, str(error)
