"""The `anthropic:` and `gemini:` adapters through their real SDKs against stand-in servers on 127.0.0.1 that speak
just enough of each API (Anthropic `POST /v1/messages`, Gemini `POST /v1beta/models/MODEL:generateContent`)."""

import base64
import io
import json
import sys
import time

import pytest
from PIL import Image

from evals.adapters import load_adapter
from evals.adapters.base import GenerationRequest
from evals.adapters.openai_api import APIError
from tests.evals.fake_api import FakeAPI

pytest.importorskip("anthropic")
pytest.importorskip("google.genai")

SENTINEL = "sk-sentinel-4b1d-never-write-me"


def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 10, 10)).save(out, format=fmt)
    return out.getvalue()


PNG, JPEG = _image("PNG"), _image("JPEG")


def _anthropic_answer(path, body):
    text = next(block["text"] for block in body["messages"][0]["content"] if block["type"] == "text")
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": body["model"], "stop_reason": "end_turn",
            "stop_sequence": None, "content": [{"type": "text", "text": f" echo {text} "}],
            "usage": {"input_tokens": 10, "output_tokens": 3}}


def _gemini_answer(path, body):
    text = next(part["text"] for part in body["contents"][0]["parts"] if "text" in part)
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": f" echo {text} "}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 3, "totalTokenCount": 13}}


@pytest.fixture(params=["anthropic", "gemini"])
def api(request, monkeypatch):
    """(kind, fake server) with the SDK pointed at the server and a sentinel key in the environment."""
    kind = request.param
    fake = FakeAPI(_anthropic_answer if kind == "anthropic" else _gemini_answer)
    for name in ("ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY" if kind == "anthropic" else "GEMINI_API_KEY", SENTINEL)
    monkeypatch.setenv("ANTHROPIC_BASE_URL" if kind == "anthropic" else "GEMINI_BASE_URL", fake.url)
    yield kind, fake
    fake.close()


def _image_and_settings(kind, body):
    """(media type, image bytes or None, temperature, max tokens) of one recorded request body."""
    if kind == "anthropic":
        images = [block["source"] for block in body["messages"][0]["content"] if block["type"] == "image"]
        image = images[0] if images else None
        assert image is None or image["type"] == "base64"
        return (image and image["media_type"], image and base64.b64decode(image["data"]), body["temperature"],
                body["max_tokens"])
    images = [part["inlineData"] for part in body["contents"][0]["parts"] if "inlineData" in part]
    image = images[0] if images else None
    config = body["generationConfig"]
    # protobuf JSON: either field spelling; the SDK sends URL-safe base64, which the API takes
    mime_type = image and (image.get("mimeType") or image.get("mime_type"))
    return (mime_type, image and base64.urlsafe_b64decode(image["data"]), config["temperature"],
            config["maxOutputTokens"])


def test_a_live_page_gets_each_whole_answer_once(api):
    """The SDK adapters do not stream: the arena's live page (which asks for the answer as it grows) gets each
    answer once, whole, from the request that produced it."""
    kind, _ = api
    adapter = load_adapter(f"{kind}:test-model")
    shown = []
    answers = adapter.generate([GenerationRequest("one", None, 5), GenerationRequest("two", None, 5)],
                               on_text=lambda index, text: shown.append((index, text)))
    assert sorted(shown) == [(0, "echo one"), (1, "echo two")] and [a.text for a in answers] == ["echo one", "echo two"]


def test_answers_in_order_with_images_settings_and_usage(api):
    kind, fake = api
    adapter = load_adapter(f"{kind}:test-model?concurrency=4&input_price=3&output_price=15")
    requests = [GenerationRequest("slow first", PNG, 7), GenerationRequest("second", JPEG, 8),
                GenerationRequest("third", None, 9)]
    answers = adapter.generate(requests)
    assert [a.text for a in answers] == ["echo slow first", "echo second", "echo third"]
    assert [a.prompt for a in answers] == ["slow first", "second", "third"]
    assert [a.output_tokens for a in answers] == [3, 3, 3]

    seen = {}
    for record in fake.requests:
        path, headers = record["path"], {k.lower(): v for k, v in record["headers"].items()}
        if kind == "anthropic":
            # the key as `x-api-key` (SDK 0.x) or as a bearer token (SDK 2.x)
            assert path == "/v1/messages"
            assert SENTINEL in (headers.get("x-api-key"), headers.get("authorization", "").removeprefix("Bearer "))
            assert record["body"]["model"] == "test-model"
        else:
            assert path == "/v1beta/models/test-model:generateContent" and headers["x-goog-api-key"] == SENTINEL
        text = json.dumps(record["body"])
        seen[next(p for p in ("slow first", "second", "third") if p in text)] = _image_and_settings(kind,
                                                                                                   record["body"])
    assert seen == {"slow first": ("image/png", PNG, 0, 7), "second": ("image/jpeg", JPEG, 0, 8),
                    "third": (None, None, 0, 9)}

    usage = adapter.usage()
    assert usage["requests"] == usage["attempts"] == 3 and usage["retries"] == usage["failed_requests"] == 0
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (30, 9, 39)
    assert usage["cost_usd"] == round((3 * 30 + 15 * 9) / 1e6, 6)
    described = adapter.describe()
    assert described == {"adapter": kind, "base_url": fake.url, "model": "test-model",
                         "decoding": "greedy (temperature 0)"}
    assert SENTINEL not in json.dumps(described) + json.dumps(usage)


def test_a_429_is_retried_after_retry_after(api):
    kind, fake = api
    fake.script.append((429, {"Retry-After": "0"}, {"error": {"code": 429, "message": "slow down"}}))
    adapter = load_adapter(f"{kind}:test-model?retries=2&backoff=0.01")
    started = time.monotonic()
    [answer] = adapter.generate([GenerationRequest("again", PNG, 5)])
    assert answer.text == "echo again" and time.monotonic() - started < 5
    assert len(fake.requests) == 2
    usage = adapter.usage()
    assert (usage["requests"], usage["attempts"], usage["retries"], usage["failed_requests"]) == (1, 2, 1, 0)


def test_errors_give_up_and_never_show_the_key(api):
    kind, fake = api
    leak = {"error": {"code": 400, "type": "invalid_request_error", "message": f"bad key {SENTINEL}"}}
    fake.script += [(400, {}, leak), (503, {}, {"error": {"code": 503, "message": f"down {SENTINEL}"}})] * 2
    adapter = load_adapter(f"{kind}:test-model?retries=1&backoff=0.01&concurrency=1")
    with pytest.raises(APIError) as client_error:  # a 400 is not retried
        adapter.generate([GenerationRequest("q", None, 5)])
    assert "HTTP 400" in str(client_error.value) and SENTINEL not in str(client_error.value)
    assert len(fake.requests) == 1
    fake.script[:] = [(503, {}, {"error": {"code": 503, "message": f"down {SENTINEL}"}})] * 2
    with pytest.raises(APIError) as server_error:  # a 503 is, `retries` times
        adapter.generate([GenerationRequest("q", None, 5)])
    assert "HTTP 503" in str(server_error.value) and "after 2 attempts" in str(server_error.value)
    assert SENTINEL not in str(server_error.value) and len(fake.requests) == 3
    usage = adapter.usage()
    assert (usage["requests"], usage["attempts"], usage["retries"], usage["failed_requests"]) == (0, 3, 1, 2)
    assert SENTINEL not in json.dumps(usage) + json.dumps(adapter.describe())


@pytest.mark.parametrize("kind", ["anthropic", "gemini"])
def test_a_missing_key_or_sdk_or_bad_option_is_named(kind, monkeypatch):
    for name in ("ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(APIError, match="no API key; set"):
        load_adapter(f"{kind}:m?retries=0").generate([GenerationRequest("q", None, 5)])
    with pytest.raises(ValueError, match="unknown option 'nope'"):
        load_adapter(f"{kind}:m?nope=1")
    with pytest.raises(ValueError, match="no model name"):
        load_adapter(f"{kind}:?retries=1")
    monkeypatch.setitem(sys.modules, "anthropic" if kind == "anthropic" else "google.genai", None)
    with pytest.raises(ImportError, match=rf"pip install 'molmo-arena\[{kind}\]'"):
        load_adapter(f"{kind}:m")


def test_several_images_go_in_order_before_the_text(api):
    kind, fake = api
    load_adapter(f"{kind}:test-model").generate([GenerationRequest("<image 1> or <image 2>?", (PNG, JPEG), 5)])
    body = fake.requests[0]["body"]
    if kind == "anthropic":
        blocks = body["messages"][0]["content"]
        assert [block["type"] for block in blocks] == ["image", "image", "text"]
        sent = [base64.b64decode(block["source"]["data"]) for block in blocks[:2]]
    else:
        parts = body["contents"][0]["parts"]
        assert "text" in parts[2]
        sent = [base64.urlsafe_b64decode(part["inlineData"]["data"]) for part in parts[:2]]
    assert sent == [PNG, JPEG]
