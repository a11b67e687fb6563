"""`evals.serve`: the OpenAI-compatible endpoint over a stand-in adapter (fast), in a thread on a free port."""

import base64
import io
import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from evals.adapters.base import Generation, GenerationRequest
from evals.serve import ChatServer, parse_chat_request
from evals.serve_cli import default_name


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


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (12, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


PNG = _png()
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


@pytest.fixture(scope="module")
def server():
    adapter = EchoAdapter()
    chat = ChatServer(adapter, "echo", "127.0.0.1", 0, max_batch=4, window_s=0.1)
    thread = threading.Thread(target=chat.serve_forever, daemon=True)
    thread.start()
    yield chat
    chat.shutdown()
    chat.server_close()


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
    (_body([*_image_content("q"), {"type": "image_url", "image_url": {"url": DATA_URL}}]), "messages[0].content[2]"),
    (_body("hi", max_tokens=0), "max_tokens"),
    (_body("hi", max_tokens="10"), "max_tokens"),
    (_body("hi", temperature=0.7), "temperature"),
    (_body("hi", stream=True), "stream"),
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


def test_default_served_name():
    assert default_name("hf:/models/tiny-llava/") == "tiny-llava"
    assert default_name("hf:Qwen/Qwen2-VL-7B-Instruct") == "Qwen2-VL-7B-Instruct"
    assert default_name("molmo:tiny") == "tiny"
