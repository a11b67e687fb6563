"""Any model adapter as an OpenAI-compatible HTTP endpoint: `POST /v1/chat/completions`, `GET /v1/models`,
`GET /health`.

Standard library only: a `ThreadingHTTPServer` takes each request on its own thread, and a `Batcher` thread
gathers the requests that arrive within a few milliseconds (up to `max_batch`) into one `adapter.generate` call,
since the adapters generate in batches. Images come inline as base64 `data:` URLs; the server fetches nothing
from the network, so http(s) image URLs are refused. One user message per request (its text parts joined by
newlines, at most one image); decoding is greedy, so `temperature` must be 0 or absent. `max_crops` is an optional
extension field passed to the adapter (the in-repo Molmo crops images by it).
Errors are OpenAI-style JSON (`{"error": {"message", "type", "param", "code"}}`) with 400 naming the field,
404 for an unknown path or model, 413 for a body over 64 MiB and 500 when the model fails.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from evals.adapters.base import Generation, GenerationRequest, ModelAdapter

DEFAULT_MAX_TOKENS = 256
MAX_BODY_BYTES = 64 << 20
log = logging.getLogger(__name__)


class RequestError(Exception):
    """A request the server refuses: HTTP status, message and the offending field (OpenAI's `param`)."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def _bad(param: str, message: str) -> RequestError:
    return RequestError(400, f"{param}: {message}", param)


@dataclass(frozen=True)
class ChatRequest:
    """A chat-completions body reduced to what an adapter takes."""

    generation: GenerationRequest
    max_tokens: int


def _decode_image(url: Any, param: str) -> bytes:
    if not isinstance(url, str):
        raise _bad(param, "expected a string")
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        raise _bad(param, "http(s) image URLs are refused: this server fetches nothing from the network; send the "
                   "image inline as a data:image/...;base64,... URL")
    header, comma, payload = url.partition(",")
    if scheme != "data" or not comma or not header.endswith(";base64"):
        raise _bad(param, "expected a data:image/...;base64,... URL")
    try:
        image = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(param, "the data URL is not valid base64") from None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image)) as opened:
            opened.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        raise _bad(param, "the data URL does not hold a readable image of a sane size") from None
    return image


def _positive_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad(name, f"expected a positive integer, got {value!r}")
    return value


def parse_chat_request(body: Any, served_name: str) -> ChatRequest:
    """Validate a chat-completions body; RequestError naming the field that is wrong."""
    if not isinstance(body, dict):
        raise RequestError(400, "the body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str):
        raise _bad("model", f"expected a string, got {model!r}")
    if model != served_name:
        raise RequestError(404, f"model {model!r} does not exist; this server serves {served_name!r}", "model",
                           "model_not_found")
    if body.get("stream"):
        raise _bad("stream", "streaming is not supported; send stream: false or leave it out")
    temperature = body.get("temperature")
    if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, int | float)
                                    or temperature != 0):
        raise _bad("temperature", f"this server decodes greedily; send 0 or leave it out, got {temperature!r}")
    if body.get("n") not in (None, 1):
        raise _bad("n", f"only one choice per request, got {body.get('n')!r}")
    max_tokens = _positive_int(body, "max_tokens") or _positive_int(body, "max_completion_tokens")
    max_crops = _positive_int(body, "max_crops")  # molmo-arena's extension, for adapters that crop
    messages = body.get("messages")
    if not isinstance(messages, list) or len(messages) != 1:
        raise _bad("messages", "expected a list holding exactly one user message")
    message = messages[0]
    if not isinstance(message, dict) or message.get("role") != "user":
        raise _bad("messages[0].role", "expected 'user' (one user turn; no system or earlier turns)")
    content = message.get("content")
    texts: list[str] = []
    images: list[bytes] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for index, part in enumerate(content):
            param = f"messages[0].content[{index}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                if not isinstance(part.get("text"), str):
                    raise _bad(f"{param}.text", "expected a string")
                texts.append(part["text"])
            elif kind == "image_url":
                if images:
                    raise _bad(param, "at most one image per request")
                image_url = part.get("image_url")
                url = image_url.get("url") if isinstance(image_url, dict) else image_url
                images.append(_decode_image(url, f"{param}.image_url.url"))
            else:
                raise _bad(f"{param}.type", f"expected 'text' or 'image_url', got {kind!r}")
    else:
        raise _bad("messages[0].content", "expected a string or a list of parts")
    if not texts:
        raise _bad("messages[0].content", "no text part")
    max_tokens = max_tokens or DEFAULT_MAX_TOKENS
    request = GenerationRequest(prompt="\n".join(texts), images=tuple(images), max_new_tokens=max_tokens,
                                max_crops=max_crops)
    return ChatRequest(request, max_tokens)


class Batcher:
    """One thread that runs the adapter: requests arriving within `window_s` of the first are answered together."""

    def __init__(self, adapter: ModelAdapter, max_batch: int = 8, window_s: float = 0.005) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.adapter = adapter
        self.max_batch = max_batch
        self.window_s = window_s
        self.requests = 0
        self.batches = 0
        self._queue: queue.Queue[tuple[GenerationRequest, Future[Generation]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="molmo-arena-batcher", daemon=True)
        self._thread.start()

    def submit(self, request: GenerationRequest) -> Future[Generation]:
        future: Future[Generation] = Future()
        self._queue.put((request, future))
        return future

    def close(self) -> None:
        """Answer what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _loop(self) -> None:
        while (job := self._queue.get()) is not None:
            jobs = [job]
            deadline = time.monotonic() + self.window_s
            while len(jobs) < self.max_batch:
                try:
                    job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if job is None:
                    self._queue.put(None)  # stop after this batch
                    break
                jobs.append(job)
            # Adapters take batches of one kind: with images or text only.
            for with_image in (True, False):
                group = [(r, f) for r, f in jobs if bool(r.images) == with_image]
                if group:
                    self.batches += 1
                    self.requests += len(group)
                    self._run(group)

    def _run(self, jobs: list[tuple[GenerationRequest, Future[Generation]]]) -> None:
        try:
            answers = self.adapter.generate([request for request, _ in jobs])
            if len(answers) != len(jobs):
                raise RuntimeError(f"the adapter gave {len(answers)} answers to {len(jobs)} requests")
        except Exception as error:
            if len(jobs) > 1:  # one bad request must not fail the others: answer them one by one
                for job in jobs:
                    self._run([job])
                return
            log.exception("generation failed")
            jobs[0][1].set_exception(RequestError(500, f"the model failed: {type(error).__name__}: {error}"[:500]))
            return
        for (_, future), answer in zip(jobs, answers, strict=True):
            future.set_result(answer)


def _prompt_tokens(adapter: ModelAdapter, text: str) -> int:
    """Text tokens of the model's input (image tokens not counted), where the adapter has a tokenizer."""
    tokenizer = getattr(getattr(adapter, "processor", None), "tokenizer", None)
    if tokenizer is None:
        return 0
    return len(tokenizer.encode(text, add_special_tokens=False))


class ChatServer(ThreadingHTTPServer):
    """The HTTP server; `serve_forever()` to run, `shutdown()` then `server_close()` to stop."""

    daemon_threads = True
    request_queue_size = 1024  # the listen backlog: a burst of clients must queue, not wait out SYN retries

    def __init__(self, adapter: ModelAdapter, name: str, host: str = "127.0.0.1", port: int = 8000,
                 max_batch: int = 8, window_s: float = 0.005) -> None:
        self.adapter = adapter
        self.name = name
        self.created = int(time.time())
        self.batcher = Batcher(adapter, max_batch, window_s)
        super().__init__((host, port), _Handler)

    def server_close(self) -> None:
        super().server_close()
        self.batcher.close()

    def completion(self, chat: ChatRequest) -> dict[str, Any]:
        """Answer one validated request through the batcher, as an OpenAI chat.completion object."""
        answer = self.batcher.submit(chat.generation).result()
        completion_tokens = answer.output_tokens or 0
        prompt_tokens = _prompt_tokens(self.adapter, answer.prompt)
        finish = "length" if answer.output_tokens is not None and answer.output_tokens >= chat.max_tokens else "stop"
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                         "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for clients that reuse connections
    server: ChatServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/health":
            self._send(200, {"status": "ok", "model": self.server.name, "requests": self.server.batcher.requests,
                             "batches": self.server.batcher.batches})
        elif path == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": self.server.name, "object": "model",
                                                         "created": self.server.created,
                                                         "owned_by": "molmo-arena"}]})
        else:
            self._error(RequestError(404, f"no such path: GET {path or '/'}", code="not_found"))

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            body = self._read_json()  # read even for a wrong path, so the connection stays usable
            if path != "/v1/chat/completions":
                raise RequestError(404, f"no such path: POST {path or '/'}", code="not_found")
            chat = parse_chat_request(body, self.server.name)
            self._send(200, self.server.completion(chat))
        except RequestError as error:
            self._error(error)
        except Exception:
            log.exception("unexpected error answering %s", path)
            self._error(RequestError(500, "internal server error"))

    def _read_json(self) -> Any:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise RequestError(411 if length is None else 400, "Content-Length: a JSON body of known length is "
                               "required", "Content-Length")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise RequestError(413, f"Content-Length: the body is over {MAX_BODY_BYTES >> 20} MiB", "Content-Length")
        raw = self.rfile.read(int(length))
        try:
            return json.loads(raw)
        except ValueError as error:
            raise RequestError(400, f"the body is not valid JSON ({error})") from None

    def _error(self, error: RequestError) -> None:
        kind = "invalid_request_error" if error.status < 500 else "server_error"
        if error.status == 404:
            kind = "not_found_error"
        self._send(error.status, {"error": {"message": error.message, "type": kind, "param": error.param,
                                            "code": error.code}})

    def _send(self, status: int, document: dict[str, Any]) -> None:
        data = json.dumps(document, ensure_ascii=False).encode()
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # per-request lines only at DEBUG level
        log.debug("%s " + format, self.address_string(), *args)
