"""Any model adapter as an OpenAI-compatible HTTP endpoint: `POST /v1/chat/completions`, `GET /v1/models`,
`GET /health`.

Standard library only: a `ThreadingHTTPServer` takes each request on its own thread, and a `Batcher` thread
gathers the requests that arrive within a few milliseconds (up to `max_batch`) into one `adapter.generate` call,
since the adapters generate in batches. Images come inline as base64 `data:` URLs; the server fetches nothing
from the network, so http(s) image URLs are refused. One user message per request (its text parts joined by
newlines; its images in order, as MMMU's several-image questions send them); decoding is greedy, so `temperature`
must be 0 or absent. `max_crops` is an optional extension field passed to the adapter (the in-repo Molmo crops
images by it).
Errors are OpenAI-style JSON (`{"error": {"message", "type", "param", "code"}}`) with 400 naming the field,
401 without the API key (when the server has one), 404 for an unknown path or model, 413 for a body over 64 MiB
and 500 when the model fails.

`stream: true` answers with server-sent events in the format of OpenAI's chat-completions streaming
(https://platform.openai.com/docs/api-reference/chat-streaming): `chat.completion.chunk` objects carrying the role,
then the content as it grows, then the finish reason, optionally a last chunk with the usage
(`stream_options.include_usage`), then `data: [DONE]`. Streamed requests are batched with all others; adapters
that can report tokens as they are decoded (`streams_text`) stream word by word, others in one piece.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from evals.adapters.base import Generation, GenerationRequest, ModelAdapter, generate_streaming

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
    """A chat-completions body reduced to what an adapter takes, and how to answer it (streamed or whole)."""

    generation: GenerationRequest
    max_tokens: int
    stream: bool = False
    include_usage: bool = False  # stream_options.include_usage: a last chunk with the token counts


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


def _positive_int_field(body: dict[str, Any], name: str) -> int | None:
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
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _bad("stream", f"expected true or false, got {stream!r}")
    include_usage = _stream_options(body.get("stream_options"), bool(stream))
    temperature = body.get("temperature")
    if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, int | float)
                                    or temperature != 0):
        raise _bad("temperature", f"this server decodes greedily; send 0 or leave it out, got {temperature!r}")
    if body.get("n") not in (None, 1):
        raise _bad("n", f"only one choice per request, got {body.get('n')!r}")
    max_tokens = _positive_int_field(body, "max_tokens") or _positive_int_field(body, "max_completion_tokens")
    max_crops = _positive_int_field(body, "max_crops")  # molmo-arena's extension, for adapters that crop
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
    return ChatRequest(request, max_tokens, bool(stream), include_usage)


def _stream_options(options: Any, stream: bool) -> bool:
    """`stream_options` (only with `stream: true`, as OpenAI's API has it) -> include_usage."""
    if options is None:
        return False
    if not stream:
        raise _bad("stream_options", "only allowed when stream is true")
    if not isinstance(options, dict):
        raise _bad("stream_options", f"expected an object, got {options!r}")
    include_usage = options.get("include_usage", False)
    if not isinstance(include_usage, bool):
        raise _bad("stream_options.include_usage", f"expected true or false, got {include_usage!r}")
    return include_usage


def stable_prefix(text: str) -> str:
    """The part of an unfinished answer that later tokens leave as it is: everything before its last whitespace.

    The last word may still grow, end in half a UTF-8 character (decoded as U+FFFD), or lose the space before it
    when a tokenizer cleans up spaces before punctuation, so it is held back until the next word or the end.
    """
    cut = max((i for i, char in enumerate(text) if char.isspace()), default=0)
    return text[:cut]


def next_delta(sent: str, text: str, final: bool) -> str:
    """The text to stream after `sent`, given the answer so far (`final`: the whole answer): what `text`'s stable
    part adds, or nothing when it does not extend what was sent."""
    target = text if final else stable_prefix(text)
    if not target.startswith(sent):
        if final:
            log.warning("the final answer does not extend the streamed text; the stream ends as it is")
        return ""
    return target[len(sent):]


@dataclass
class _Job:
    request: GenerationRequest
    future: Future[Generation]
    on_text: Callable[[str], None] | None  # a streamed request's sink for its answer so far


class Batcher:
    """One thread that runs the adapter: requests arriving within `window_s` of the first are answered together.

    A streamed request is batched like any other; while its batch generates, its answer so far goes to its own
    `on_text` (through `evals.adapters.base.generate_streaming`, token by token where the adapter can stream).
    """

    def __init__(self, adapter: ModelAdapter, max_batch: int = 8, window_s: float = 0.005) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.adapter = adapter
        self.max_batch = max_batch
        self.window_s = window_s
        self.requests = 0
        self.batches = 0
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="molmo-arena-batcher", daemon=True)
        self._thread.start()

    def submit(self, request: GenerationRequest, on_text: Callable[[str], None] | None = None) -> Future[Generation]:
        future: Future[Generation] = Future()
        self._queue.put(_Job(request, future, on_text))
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
                group = [job for job in jobs if bool(job.request.images) == with_image]
                if group:
                    self.batches += 1
                    self.requests += len(group)
                    self._run(group)

    def _run(self, jobs: list[_Job]) -> None:
        requests = [job.request for job in jobs]
        try:
            if any(job.on_text is not None for job in jobs):
                answers = generate_streaming(self.adapter, requests, lambda index, text: _forward(jobs[index], text))
            else:
                answers = self.adapter.generate(requests)
            if len(answers) != len(jobs):
                raise RuntimeError(f"the adapter gave {len(answers)} answers to {len(jobs)} requests")
        except Exception as error:
            if len(jobs) > 1:  # one bad request must not fail the others: answer them one by one
                for job in jobs:
                    self._run([job])
                return
            log.exception("generation failed")
            jobs[0].future.set_exception(RequestError(500, f"the model failed: {type(error).__name__}: {error}"[:500]))
            return
        for job, answer in zip(jobs, answers, strict=True):
            job.future.set_result(answer)


def _forward(job: _Job, text: str) -> None:
    if job.on_text is not None:
        job.on_text(text)


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
                 max_batch: int = 8, window_s: float = 0.005, api_key: str | None = None) -> None:
        self.adapter = adapter
        self.name = name
        self.api_key = api_key or None
        self.created = int(time.time())
        self.batcher = Batcher(adapter, max_batch, window_s)
        super().__init__((host, port), _Handler)

    def server_close(self) -> None:
        super().server_close()
        self.batcher.close()

    def completion(self, chat: ChatRequest) -> dict[str, Any]:
        """Answer one validated request through the batcher, as an OpenAI chat.completion object."""
        answer = self.batcher.submit(chat.generation).result()
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                         "logprobs": None, "finish_reason": _finish_reason(answer, chat)}],
            "usage": self._usage(answer),
        }

    def completion_chunks(self, chat: ChatRequest) -> Iterator[dict[str, Any]]:
        """Answer one validated request through the batcher as OpenAI chat.completion.chunk objects: the role, the
        content as it grows, the finish reason, then with `include_usage` a chunk with no choices and the token
        counts. A model failure raises RequestError after the chunks already yielded."""
        texts: queue.Queue[str | None] = queue.Queue()  # the answer so far, then None once the future is done
        future = self.batcher.submit(chat.generation, texts.put)
        future.add_done_callback(lambda _: texts.put(None))
        head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": self.name}
        usage: dict[str, Any] = {"usage": None} if chat.include_usage else {}

        def chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
            return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
                    **usage}

        yield chunk({"role": "assistant", "content": ""})
        sent, finished = "", False
        while not finished:
            pending = [texts.get()]
            while not texts.empty():  # a slow reader gets the newest text, not every step
                pending.append(texts.get_nowait())
            finished = None in pending
            latest = [text for text in pending if text is not None]
            if latest and (delta := next_delta(sent, latest[-1], final=False)):
                sent += delta
                yield chunk({"content": delta})
        answer = future.result()
        if delta := next_delta(sent, answer.text, final=True):
            yield chunk({"content": delta})
        yield chunk({}, _finish_reason(answer, chat))
        if chat.include_usage:
            yield {**head, "choices": [], "usage": self._usage(answer)}

    def _usage(self, answer: Generation) -> dict[str, int]:
        completion_tokens = answer.output_tokens or 0
        prompt_tokens = _prompt_tokens(self.adapter, answer.prompt)
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens}


def _finish_reason(answer: Generation, chat: ChatRequest) -> str:
    return "length" if answer.output_tokens is not None and answer.output_tokens >= chat.max_tokens else "stop"


def _error_document(error: RequestError) -> dict[str, Any]:
    """OpenAI's error body: {"error": {"message", "type", "param", "code"}}."""
    kind = "invalid_request_error" if error.status < 500 else "server_error"
    if error.status == 404:
        kind = "not_found_error"
    return {"error": {"message": error.message, "type": kind, "param": error.param, "code": error.code}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for clients that reuse connections
    server: ChatServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if not self._authorized(path):
            return
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
        if not self._authorized(path):
            return
        try:
            body = self._read_json()  # read even for a wrong path, so the connection stays usable
            if path != "/v1/chat/completions":
                raise RequestError(404, f"no such path: POST {path or '/'}", code="not_found")
            chat = parse_chat_request(body, self.server.name)
            if chat.stream:
                self._stream(self.server.completion_chunks(chat))
            else:
                self._send(200, self.server.completion(chat))
        except RequestError as error:
            self._error(error)
        except Exception:
            log.exception("unexpected error answering %s", path)
            self._error(RequestError(500, "internal server error"))

    def _authorized(self, path: str) -> bool:
        """With an API key, everything under /v1 needs `Authorization: Bearer KEY` (as vLLM's --api-key does; /health
        stays open for load balancers). A refusal is answered before the body is read, and closes the connection."""
        key = self.server.api_key
        if key is None or not path.startswith("/v1"):
            return True
        scheme, _, given = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), key.encode()):
            return True
        self.close_connection = True
        self._error(RequestError(401, "Authorization: missing or incorrect API key; send 'Authorization: Bearer "
                                 "KEY' with the key the server was started with", "Authorization", "invalid_api_key"))
        return False

    def _stream(self, chunks: Iterator[dict[str, Any]]) -> None:
        """Server-sent events, one `data: JSON` per chunk and `data: [DONE]` at the end, in HTTP/1.1 chunked encoding
        (the connection stays usable). A model failure mid-stream is sent as a `data: {"error": ...}` event."""
        self.send_response(200, "OK")
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            try:
                for chunk in chunks:
                    self._write_event(json.dumps(chunk, ensure_ascii=False))
            except Exception as error:
                if not isinstance(error, RequestError):
                    log.exception("unexpected error while streaming")
                    error = RequestError(500, "internal server error")
                self._write_event(json.dumps(_error_document(error), ensure_ascii=False))
            self._write_event("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):  # the client left; its answer is still generated with the batch
            self.close_connection = True

    def _write_event(self, data: str) -> None:
        event = f"data: {data}\n\n".encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))

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
        self._send(error.status, _error_document(error))

    def _send(self, status: int, document: dict[str, Any]) -> None:
        data = json.dumps(document, ensure_ascii=False).encode()
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # per-request lines only at DEBUG level
        log.debug("%s " + format, self.address_string(), *args)
