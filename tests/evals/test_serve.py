"""`evals.serve`: the OpenAI-compatible endpoint over stand-in adapters (fast), in a thread on a free port; streaming
and the API key through the official `openai` client, also against the real `molmo-arena serve` in a subprocess."""

import base64
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from evals.adapters.base import Generation, GenerationRequest
from evals.serve import next_delta, parse_chat_request, stable_prefix
from evals.serve_cli import API_KEY_ENV, default_name, is_loopback
from evals.tiny_models import save_tiny_llava
from molmo_arena import main
from tests.evals.streaming import WordByWordAdapter, serving


class EchoAdapter:
    """Answers `prompt|image bytes|max_crops`; refuses mixed batches (as the HF adapter does) and the prompt 'boom'."""

    spec = "echo:"
    prompt_family = "generic"

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.lock = threading.Lock()

    def describe(self):
        return {"adapter": "echo"}

    def generate(self, requests):
        with self.lock:
            self.batches.append(len(requests))
        if len({r.image is None for r in requests}) > 1:
            raise ValueError("a batch mixes requests with and without images")
        if any(r.prompt == "boom" for r in requests):
            raise ValueError("boom")
        return [Generation(text=f"{r.prompt}|{len(r.image or b'')}|{r.max_crops}", prompt=f"USER: {r.prompt}",
                           output_tokens=min(3, r.max_new_tokens)) for r in requests]


def _png(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (12, 8), color).save(out, format="PNG")
    return out.getvalue()


PNG = _png()
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


@pytest.fixture(scope="module")
def server():
    with serving(EchoAdapter(), "echo", max_batch=4, window_s=0.1) as chat:
        yield chat


def _url(server, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def _call(server, path: str, body=None) -> tuple[int, dict]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(_url(server, path), data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _body(content, **extra) -> dict:
    return {"model": "echo", "messages": [{"role": "user", "content": content}], **extra}


def _image_content(text: str, url: str = DATA_URL) -> list[dict]:
    return [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": text}]


def test_completion_is_openai_shaped_with_usage(server):
    status, reply = _call(server, "/v1/chat/completions", _body(_image_content("What colour?"), max_tokens=2,
                                                                 temperature=0, max_crops=12))
    assert status == 200
    assert reply["object"] == "chat.completion" and reply["id"].startswith("chatcmpl-")
    assert reply["model"] == "echo" and isinstance(reply["created"], int)
    choice = reply["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": f"What colour?|{len(PNG)}|12"}
    assert choice["finish_reason"] == "length" and choice["index"] == 0
    assert reply["usage"] == {"prompt_tokens": 0, "completion_tokens": 2, "total_tokens": 2}

    status, reply = _call(server, "/v1/chat/completions", _body("Just text", max_completion_tokens=50))
    assert status == 200
    assert reply["choices"][0]["message"]["content"] == "Just text|0|None"
    assert reply["choices"][0]["finish_reason"] == "stop"


def test_models_and_health(server):
    status, models = _call(server, "/v1/models")
    assert status == 200 and models["object"] == "list"
    assert [m["id"] for m in models["data"]] == ["echo"] and models["data"][0]["object"] == "model"
    status, health = _call(server, "/health")
    assert status == 200 and health["status"] == "ok" and health["model"] == "echo"


def test_concurrent_requests_are_batched_by_kind_and_bounded(server):
    server.adapter.batches.clear()
    bodies = [_body(_image_content(f"q{i}")) for i in range(6)] + [_body(f"t{i}") for i in range(6)]
    with ThreadPoolExecutor(12) as pool:
        replies = list(pool.map(lambda body: _call(server, "/v1/chat/completions", body), bodies))
    assert [status for status, _ in replies] == [200] * 12
    contents = [reply["choices"][0]["message"]["content"] for _, reply in replies]
    assert contents == [f"q{i}|{len(PNG)}|None" for i in range(6)] + [f"t{i}|0|None" for i in range(6)]
    batches = server.adapter.batches
    assert sum(batches) == 12 and max(batches) <= 4  # --max-batch 4, and no mixed batch was ever refused
    assert len(batches) < 12  # requests arriving together shared generate calls


def test_a_failing_request_fails_alone(server):
    bodies = [_body("fine"), _body("boom"), _body("also fine")]
    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(lambda body: _call(server, "/v1/chat/completions", body), bodies))
    assert [status for status, _ in replies] == [200, 500, 200]
    assert replies[1][1]["error"]["type"] == "server_error" and "boom" in replies[1][1]["error"]["message"]


def _bad_base64() -> str:
    return "data:image/png;base64,@@@"


@pytest.mark.parametrize(("body", "param"), [
    ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
    ({"model": "echo"}, "messages"),
    ({"model": "echo", "messages": [{"role": "system", "content": "be brief"}]}, "messages[0].role"),
    (_body(42), "messages[0].content"),
    (_body([{"type": "audio", "audio": "x"}]), "messages[0].content[0].type"),
    (_body([{"type": "text", "text": 7}]), "messages[0].content[0].text"),
    (_body([{"type": "image_url", "image_url": {"url": DATA_URL}}]), "messages[0].content"),
    (_body(_image_content("q", _bad_base64())), "messages[0].content[0].image_url.url"),
    (_body(_image_content("q", "data:image/png;base64," + base64.b64encode(b"not an image").decode())),
     "messages[0].content[0].image_url.url"),
    (_body(_image_content("q", "file:///etc/passwd")), "messages[0].content[0].image_url.url"),
    (_body("hi", max_tokens=0), "max_tokens"),
    (_body("hi", max_tokens="10"), "max_tokens"),
    (_body("hi", temperature=0.7), "temperature"),
    (_body("hi", stream="yes"), "stream"),
    (_body("hi", stream_options={"include_usage": True}), "stream_options"),
    (_body("hi", stream=True, stream_options=[]), "stream_options"),
    (_body("hi", stream=True, stream_options={"include_usage": 1}), "stream_options.include_usage"),
    (_body("hi", n=2), "n"),
    (_body("hi", max_crops=-1), "max_crops"),
])
def test_bad_requests_get_400_naming_the_field(server, body, param):
    status, reply = _call(server, "/v1/chat/completions", body)
    assert status == 400
    assert reply["error"]["param"] == param and reply["error"]["type"] == "invalid_request_error"
    assert reply["error"]["message"].startswith(param)


def test_http_image_urls_are_refused_without_fetching(server):
    fetched = []

    class Listener(BaseHTTPRequestHandler):
        def do_GET(self):
            fetched.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args):
            pass

    listener = ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    try:
        for scheme in ("http", "https"):
            url = f"{scheme}://127.0.0.1:{listener.server_address[1]}/cat.png"
            status, reply = _call(server, "/v1/chat/completions", _body(_image_content("q", url)))
            assert status == 400
            assert reply["error"]["param"] == "messages[0].content[0].image_url.url"
            assert "refused" in reply["error"]["message"] and "data:" in reply["error"]["message"]
    finally:
        listener.shutdown()
        listener.server_close()
    assert fetched == []


def test_unknown_model_path_and_bad_json(server):
    status, reply = _call(server, "/v1/chat/completions", {**_body("hi"), "model": "gpt-4o"})
    assert status == 404 and reply["error"]["code"] == "model_not_found" and reply["error"]["param"] == "model"
    status, reply = _call(server, "/v1/completions", _body("hi"))
    assert status == 404 and reply["error"]["type"] == "not_found_error"
    status, reply = _call(server, "/nowhere")
    assert status == 404
    status, reply = _call(server, "/v1/chat/completions", b"{not json")
    assert status == 400 and "not valid JSON" in reply["error"]["message"]
    status, reply = _call(server, "/v1/chat/completions", b"[1, 2]")
    assert status == 400 and "JSON object" in reply["error"]["message"]


def test_parse_joins_text_parts_and_keeps_the_image_bytes():
    body = _body([{"type": "text", "text": "first"}, {"type": "image_url", "image_url": {"url": DATA_URL}},
                  {"type": "text", "text": "second"}], max_tokens=7, max_crops=36)
    chat = parse_chat_request(body, "echo")
    assert chat.generation == GenerationRequest("first\nsecond", PNG, 7, 36)
    assert chat.max_tokens == 7


def test_a_question_with_several_images_keeps_them_all_in_order():
    """MMMU items name up to 7 images; the `openai:` adapter sends each as its own part, and all reach the model."""
    second = _png(color=(0, 0, 255))
    second_url = "data:image/png;base64," + base64.b64encode(second).decode()
    body = _body([{"type": "image_url", "image_url": {"url": DATA_URL}},
                  {"type": "image_url", "image_url": {"url": second_url}},
                  {"type": "text", "text": "<image 1> or <image 2>?"}])
    assert parse_chat_request(body, "echo").generation.images == (PNG, second)


def test_default_served_name():
    assert default_name("hf:/models/tiny-llava/") == "tiny-llava"
    assert default_name("hf:Qwen/Qwen2-VL-7B-Instruct") == "Qwen2-VL-7B-Instruct"
    assert default_name("molmo:tiny") == "tiny"


KEY = "sk-test-0123456789"


@pytest.fixture(scope="module")
def word_server():
    with serving(WordByWordAdapter(pause_s=0.05), "words", max_batch=8, window_s=0.1, api_key=KEY) as chat:
        yield chat


def _client(server, key: str = KEY):
    import openai

    return openai.OpenAI(base_url=_url(server, "/v1"), api_key=key, max_retries=0, timeout=30)


def test_streamed_chunks_arrive_as_the_answer_grows_and_add_up_to_the_whole_answer(word_server):
    client = _client(word_server)
    question = "one two three four five six"
    whole = client.chat.completions.create(model="words", messages=[{"role": "user", "content": question}])
    started = time.monotonic()
    arrivals, chunks = [], []
    stream = client.chat.completions.create(model="words", messages=[{"role": "user", "content": question}],
                                            stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        arrivals.append(time.monotonic() - started)
        chunks.append(chunk)
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id and c.model == "words" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[0].choices[0].delta.content == ""
    deltas = [c.choices[0].delta.content for c in chunks[1:] if c.choices and c.choices[0].delta.content]
    assert "".join(deltas) == whole.choices[0].message.content == "six five four three two one ."
    assert len(deltas) >= 5  # word by word, the unfinished word "wo" never sent
    assert arrivals[len(deltas) // 2] < arrivals[-1] - 0.1  # the first words came while the model still worked
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finish] == ["stop"] and finish[0].choices[0].delta.content is None
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 7
    assert all(c.usage is None for c in chunks[:-1])


def test_streams_without_usage_and_concurrent_streams_share_batches(word_server):
    client = _client(word_server)
    word_server.adapter.batches.clear()
    questions = [f"q{i} a b c" for i in range(6)]

    def ask(question: str) -> tuple[str, list]:
        chunks = list(client.chat.completions.create(
            model="words", messages=[{"role": "user", "content": question}], stream=True))
        return "".join(c.choices[0].delta.content or "" for c in chunks), chunks

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(ask, questions))
    assert [text for text, _ in results] == [f"c b a q{i} ." for i in range(6)]
    assert all(c.usage is None and c.choices for _, chunks in results for c in chunks)
    assert sum(word_server.adapter.batches) == 6 and len(word_server.adapter.batches) < 6


def test_a_model_failure_mid_stream_is_an_error_event(word_server):
    import openai

    received = []
    with pytest.raises(openai.APIError, match="boom"):
        for chunk in _client(word_server).chat.completions.create(
                model="words", messages=[{"role": "user", "content": "boom"}], stream=True):
            received.append(chunk)
    assert received and received[0].choices[0].delta.role == "assistant"


def test_an_adapter_that_cannot_stream_sends_its_answer_when_done(server):
    import openai

    client = openai.OpenAI(base_url=_url(server, "/v1"), api_key="unused", max_retries=0, timeout=30)
    chunks = list(client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "two words"}],
                                                 stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "two words|0|None"
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[-1].choices[0].delta.content is None
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_the_api_key_is_required_under_v1_in_openai_error_shape(word_server):
    import openai

    for key in ("wrong", KEY + "x", ""):
        with pytest.raises(openai.AuthenticationError) as caught:
            _client(word_server, key or "-").models.list()
        assert caught.value.status_code == 401 and caught.value.body["code"] == "invalid_api_key"
    status, reply = _call(word_server, "/v1/chat/completions", _body("hi"))  # no Authorization header at all
    assert status == 401
    assert set(reply["error"]) == {"message", "type", "param", "code"}
    assert reply["error"]["type"] == "invalid_request_error" and reply["error"]["param"] == "Authorization"
    assert [m.id for m in _client(word_server).models.list().data] == ["words"]
    status, health = _call(word_server, "/health")  # for load balancers, as in vLLM
    assert status == 200 and health["model"] == "words"


def test_the_answer_so_far_becomes_append_only_deltas():
    sent = ""
    for text in ["Hel", "Hello wor", "Hello world", "Hello world ,", "Hello world, and \ufffd"]:
        sent += next_delta(sent, text, final=False)
        assert "Hello world, and".startswith(sent)
    assert sent == "Hello world, and"  # the half character waits for the rest of its word
    assert next_delta(sent, "Hello world, and more", final=True) == " more"
    assert next_delta("Hello world", "Hello world ,", final=False) == ""  # the unfinished last word waits
    assert stable_prefix("one two\nthree") == "one two" and stable_prefix("single") == ""


def test_serve_refuses_a_non_loopback_address_without_a_key(monkeypatch, capsys):
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    assert main(["serve", "--model", "constant:x", "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "--host 0.0.0.0" in capsys.readouterr().err
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")


@pytest.fixture(scope="module", params=["hf", "molmo"])
def real_server(request, tmp_path_factory):
    """`molmo-arena serve` in a subprocess over a tiny random LLaVA on disk or the in-repo tiny Molmo, with its key
    in the environment (never on the command line)."""
    spec = (f"hf:{save_tiny_llava(tmp_path_factory.mktemp('serve') / 'tiny-llava')}" if request.param == "hf"
            else "molmo:tiny")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", **{API_KEY_ENV: KEY})
    process = subprocess.Popen([sys.executable, "-m", "molmo_arena", "serve", "--model", spec, "--port", "0",
                                "--name", "tiny", "--max-batch", "4", "--batch-window-ms", "50"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = process.stdout.readline()
        found = re.search(r"at (http://127\.0\.0\.1:\d+/v1) \(API key required\)", line)
        assert found, f"the server did not start: {line!r}"
        yield found.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_streamed_text_equals_the_whole_answer_on_real_models(real_server):
    import openai

    client = openai.OpenAI(base_url=real_server, api_key=KEY, max_retries=0, timeout=120)
    image = [{"type": "image_url", "image_url": {"url": DATA_URL}}]
    contents = [f"What is shown here? {word}" for word in ("red", "chart", "count the shapes", "sign")]
    # Random weights decode to arbitrary tokens: a hard case for streaming text that must add up to the answer.

    def both(index: int) -> tuple[str, str, list]:
        content = [*image, {"type": "text", "text": contents[index]}] if index % 2 else contents[index]
        messages = [{"role": "user", "content": content}]
        whole = client.chat.completions.create(model="tiny", messages=messages, max_tokens=16, temperature=0)
        chunks = list(client.chat.completions.create(model="tiny", messages=messages, max_tokens=16, stream=True,
                                                     stream_options={"include_usage": True}))
        return whole.choices[0].message.content, "".join(c.choices[0].delta.content or "" for c in chunks
                                                         if c.choices), chunks

    with ThreadPoolExecutor(4) as pool:  # streamed requests batched together, as the server does
        results = list(pool.map(both, range(len(contents))))
    for whole, streamed, chunks in results:
        assert streamed == whole and whole
        assert chunks[-1].usage.completion_tokens >= 1
        assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] in (
            ["stop"], ["length"])
    assert any(sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 2 for _, _, chunks in results)
