"""The `openai:` adapter against the real `molmo-arena serve` (a tiny random LLaVA, and the in-repo Molmo, each in
a subprocess) and against a scripted stand-in server for retries, timeouts and errors."""

import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from evals.adapters import load_adapter
from evals.adapters.base import GenerationRequest
from evals.adapters.openai_api import APIError, OpenAIAdapter, image_data_url
from evals.fixtures import write_fixture
from evals.tiny_models import save_tiny_llava
from molmo_arena import main
from tests.evals.fake_api import FakeAPI

ENV = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
TASKS = ("ai2d", "chartqa", "vqav2")  # multiple choice, relaxed accuracy, VQA accuracy
SENTINEL = "sk-sentinel-7f3a9c1e-never-write-me"


@pytest.fixture(scope="module", params=["hf", "molmo"])
def served(request, tmp_path_factory):
    """(base URL, in-process spec, prompt set, data folder) of `molmo-arena serve --model SPEC --port 0`, where SPEC
    is a tiny random LLaVA checkpoint on disk, or the in-repo Molmo (its seeded tiny preset) with its own prompts."""
    root = tmp_path_factory.mktemp("openai")
    for task in TASKS:
        write_fixture(task, root / "data", n=4)
    spec, prompt_set = ((f"hf:{save_tiny_llava(root / 'tiny-llava')}", "generic") if request.param == "hf"
                        else ("molmo:tiny", "molmo"))
    process = subprocess.Popen(
        [sys.executable, "-m", "molmo_arena", "serve", "--model", spec, "--port", "0", "--name", "tiny"],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        line = process.stdout.readline()  # "serving tiny (...) at http://127.0.0.1:PORT/v1", or EOF if it died
        found = re.search(r"at (http://127\.0\.0\.1:\d+/v1)", line)
        assert found, f"the server did not start: {line!r}"
        yield found.group(1), spec, prompt_set, root / "data"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _samples(out: Path) -> dict[tuple[str, str], dict]:
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    return {(row["task"], row["id"]): row for row in rows}


def test_eval_through_the_server_matches_in_process_and_never_writes_the_key(served, tmp_path, capsys,
                                                                              monkeypatch):
    base_url, spec, prompt_set, data = served
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    common = ["--tasks", ",".join(TASKS), "--data-dir", str(data), "--prompt-set", prompt_set]
    # send_max_crops: Molmo's prompts set how many crops an image gets; the served model must hear it too.
    api_spec = f"openai:{base_url}?send_max_crops=1#tiny"
    assert main(["eval", "run", "--model", api_spec, *common, "--out", str(tmp_path / "api")]) == 0
    assert main(["eval", "run", "--model", spec, *common, "--out", str(tmp_path / "local")]) == 0
    printed = capsys.readouterr()

    api, local = _samples(tmp_path / "api"), _samples(tmp_path / "local")
    assert len(api) == len(local) == 4 * len(TASKS) and api.keys() == local.keys()
    for key, row in api.items():
        for field in ("prediction", "parsed", "score", "secondary", "error", "output_tokens", "prompt"):
            assert row[field] == local[key][field], (key, field)
        assert row["model_prompt"] == row["prompt"]  # the API's input text is the rendered prompt itself
    api_run = json.loads((tmp_path / "api" / "run.json").read_text())
    local_run = json.loads((tmp_path / "local" / "run.json").read_text())
    assert api_run["scores"] == local_run["scores"]
    assert api_run["model"] == {"adapter": "openai", "base_url": base_url, "model": "tiny", "max_crops_sent": True,
                                "decoding": "greedy (temperature 0)"}
    assert local_run["model"]["adapter"] == spec.split(":")[0]
    usage = api_run["usage"]
    assert usage["requests"] == usage["attempts"] == len(api) and usage["retries"] == usage["failed_requests"] == 0
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] == sum(row["output_tokens"] for row in api.values())
    assert usage["cost_usd"] is None
    assert "usage" not in local_run

    written = [path.read_text() for path in (tmp_path / "api").rglob("*") if path.is_file()]
    assert all(SENTINEL not in text for text in [*written, printed.out, printed.err])


@pytest.fixture(scope="module")
def scripted():
    """A stand-in chat-completions server: each prompt `KIND:...` follows the script of KIND, step by step."""
    seen: dict[str, int] = {}
    headers: list[str | None] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            prompt = body["messages"][0]["content"][-1]["text"]
            with lock:
                seen[prompt] = step = seen.get(prompt, 0) + 1
                headers.append(self.headers.get("Authorization"))
            kind = prompt.split(":")[0]
            if kind == "flaky" and step == 1:
                return self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
            if kind == "flaky" and step == 2:
                return self._send(500, {"error": {"message": "oops"}})
            if kind == "slow" and step == 1:
                time.sleep(1.5)
            if kind == "down":
                return self._send(503, {"error": {"message": "overloaded"}})
            if kind == "bad":  # a careless server that echoes the credentials it got
                return self._send(400, {"error": {"message": f"bad request from {self.headers.get('Authorization')}"}})
            has_image = body["messages"][0]["content"][0]["type"] == "image_url"
            self._send(200, {"choices": [{"message": {"role": "assistant",
                                                      "content": f"  {prompt} image={has_image} "}}],
                             "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}})

        def _send(self, status, document, extra=None):
            data = json.dumps(document).encode()
            try:
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)),
                                    **(extra or {})}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (a timeout test)
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen, headers
    server.shutdown()
    server.server_close()


def _request(prompt: str, image: bytes | None = None) -> GenerationRequest:
    return GenerationRequest(prompt, image, 8)


def test_429_then_500_then_success_loses_nothing_and_counts_attempts(scripted, monkeypatch):
    base_url, seen, headers = scripted
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    adapter = OpenAIAdapter(f"{base_url}?backoff=0.01&concurrency=3&input_price=2&output_price=8#fake")
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, format="PNG")
    requests = [_request(f"flaky:{i}", png.getvalue() if i == 2 else None) for i in range(5)]
    answers = adapter.generate(requests)
    assert [a.text for a in answers] == [f"flaky:{i} image={i == 2}" for i in range(5)]
    assert [a.output_tokens for a in answers] == [3] * 5 and answers[0].prompt == "flaky:0"
    assert all(seen[f"flaky:{i}"] == 3 for i in range(5))
    assert adapter.usage() == {"requests": 5, "failed_requests": 0, "attempts": 15, "retries": 10,
                               "prompt_tokens": 50, "completion_tokens": 15, "total_tokens": 65,
                               "input_price_per_1m": 2.0, "output_price_per_1m": 8.0, "cost_usd": 0.00022}
    assert set(headers[-15:]) == {f"Bearer {SENTINEL}"}  # the key is sent ...
    assert SENTINEL not in json.dumps(adapter.describe()) + json.dumps(adapter.usage())  # ... and never kept


def test_a_timed_out_request_is_retried(scripted):
    base_url, _, _ = scripted
    adapter = OpenAIAdapter(f"{base_url}?timeout=0.3&backoff=0#fake")
    assert adapter.generate([_request("slow:1")])[0].text == "slow:1 image=False"
    assert adapter.usage()["attempts"] == 2 and adapter.usage()["retries"] == 1


def test_client_errors_fail_at_once_and_never_show_the_key(scripted, monkeypatch):
    base_url, _, _ = scripted
    monkeypatch.setenv("MY_PROVIDER_KEY", SENTINEL)
    adapter = OpenAIAdapter(f"{base_url}?key_env=MY_PROVIDER_KEY#fake")
    with pytest.raises(APIError) as caught:
        adapter.generate([_request("bad:1")])
    assert "HTTP 400" in str(caught.value) and "Bearer ***" in str(caught.value)
    assert SENTINEL not in str(caught.value) and SENTINEL not in repr(caught.value)
    assert adapter.usage()["attempts"] == 1 and adapter.usage()["failed_requests"] == 1


def test_gives_up_after_its_retries(scripted):
    base_url, _, _ = scripted
    adapter = OpenAIAdapter(f"{base_url}?retries=2&backoff=0#fake")
    with pytest.raises(APIError, match="HTTP 503: overloaded"):
        adapter.generate([_request("down:1")])
    assert adapter.usage()["attempts"] == 3
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused = OpenAIAdapter(f"http://127.0.0.1:{port}/v1?retries=1&backoff=0#fake")
    with pytest.raises(APIError, match="after 2 attempts"):
        refused.generate([_request("ok:1")])


def test_a_partly_failed_batch_is_not_paid_twice(scripted):
    base_url, seen, _ = scripted
    adapter = OpenAIAdapter(f"{base_url}#fake")
    batch = [_request("ok:a"), _request("bad:x"), _request("ok:b")]
    with pytest.raises(APIError, match="1 of 3 requests failed"):
        adapter.generate(batch)
    # The runner now retries one by one: the answered items come from memory, the failed one is asked again.
    assert adapter.generate([batch[2]])[0].text == "ok:b image=False"
    assert adapter.generate([batch[0]])[0].text == "ok:a image=False"
    with pytest.raises(APIError):
        adapter.generate([batch[1]])
    assert seen["ok:a"] == seen["ok:b"] == 1 and seen["bad:x"] == 2
    assert adapter.usage()["requests"] == 2


def test_options_come_from_the_query_or_the_environment(monkeypatch):
    monkeypatch.setenv("MOLMO_ARENA_OPENAI_CONCURRENCY", "32")
    adapter = load_adapter("openai:https://api.example.com/v1/?timeout=5&send_max_crops=1#org/model-7b")
    assert (adapter.endpoint.concurrency, adapter.endpoint.timeout, adapter.endpoint.retries) == (32, 5.0, 6)
    assert adapter.endpoint.key_env == "OPENAI_API_KEY" and adapter.endpoint.base_url == "https://api.example.com/v1"
    assert adapter.describe()["model"] == "org/model-7b" and adapter.describe()["max_crops_sent"] is True
    assert adapter.prompt_family == "generic"
    assert OpenAIAdapter("http://h/v1?concurrency=2#m").endpoint.concurrency == 2  # the query wins


@pytest.mark.parametrize(("target", "message"), [
    ("127.0.0.1:8000/v1#m", "expected openai:http"),
    ("http://127.0.0.1:8000/v1", "no model name"),
    ("http://user:pw@host/v1#m", "credentials do not belong in the URL"),
    ("http://host/v1?concurency=4#m", "unknown option 'concurency'"),
    ("http://host/v1?concurrency=0#m", "option 'concurrency'='0': expected a whole number of at least 1"),
    ("http://host/v1?timeout=soon#m", "option 'timeout'"),
    ("http://host/v1?send_max_crops=yes#m", "must be 0 or 1"),
    ("http://host/v1?key_env=MY-KEY#m", "environment variable name"),
])
def test_bad_specs_are_refused_clearly(target, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        OpenAIAdapter(target)


def test_bad_option_from_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("MOLMO_ARENA_OPENAI_RETRIES", "-1")
    with pytest.raises(ValueError, match="MOLMO_ARENA_OPENAI_RETRIES='-1'"):
        OpenAIAdapter("http://host/v1#m")


def test_images_go_as_data_urls():
    png, bmp = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (3, 2), (1, 2, 3)).save(png, format="PNG")
    Image.new("RGB", (3, 2), (1, 2, 3)).save(bmp, format="BMP")
    assert image_data_url(png.getvalue()).startswith("data:image/png;base64,iVBORw0KGgo")
    converted = image_data_url(bmp.getvalue())
    assert converted.startswith("data:image/png;base64,")
    import base64

    decoded = Image.open(io.BytesIO(base64.b64decode(converted.split(",", 1)[1])))
    assert decoded.getpixel((0, 0)) == (1, 2, 3)


def test_several_images_go_in_order_before_the_text():
    png, jpeg = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (3, 2), (1, 2, 3)).save(png, format="PNG")
    Image.new("RGB", (2, 3), (9, 8, 7)).save(jpeg, format="JPEG")
    reply = {"choices": [{"message": {"role": "assistant", "content": "ok"}}], "usage": {"prompt_tokens": 1}}
    fake = FakeAPI(lambda path, body: reply)
    try:
        OpenAIAdapter(f"{fake.url}/v1#m").generate([GenerationRequest("<image 1> or <image 2>?",
                                                                      (png.getvalue(), jpeg.getvalue()), 4)])
    finally:
        fake.close()
    content = fake.requests[0]["body"]["messages"][0]["content"]
    assert [part["type"] for part in content] == ["image_url", "image_url", "text"]
    assert [part["image_url"]["url"] for part in content[:2]] == [image_data_url(png.getvalue()),
                                                                  image_data_url(jpeg.getvalue())]
