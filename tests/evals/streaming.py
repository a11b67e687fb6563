"""A stand-in model that streams: shared by the server's tests and the arena's live-page tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from evals.adapters.base import Generation, GenerationRequest
from evals.serve import ChatServer


class WordByWordAdapter:
    """Answers with the prompt's words reversed and " ." after them, streamed through `on_text` one word every
    `pause_s` (with an unfinished word " wo" on the end while it works, as a real decoder's text has); 'boom' fails
    its batch after two words. Records the size of every batch."""

    spec = "words:"
    prompt_family = "generic"
    streams_text = True

    def __init__(self, pause_s: float = 0.0) -> None:
        self.pause_s = pause_s
        self.batches: list[int] = []

    def describe(self) -> dict[str, str]:
        return {"adapter": "words"}

    def generate(self, requests: list[GenerationRequest], on_text=None) -> list[Generation]:
        self.batches.append(len(requests))
        answers = [[*reversed(r.prompt.split()), "."] for r in requests]
        for step in range(1, max(len(words) for words in answers) + 1):
            time.sleep(self.pause_s)
            for index, words in enumerate(answers):
                if on_text is not None and step <= len(words):
                    on_text(index, " ".join(words[:step]) + (" wo" if step < len(words) else ""))
            if step == 2 and any(r.prompt == "boom" for r in requests):
                raise ValueError("boom")
        return [Generation(text=" ".join(words), prompt=r.prompt, output_tokens=len(words))
                for r, words in zip(requests, answers, strict=True)]


@contextmanager
def serving(adapter, name: str, **options) -> Iterator[ChatServer]:
    """`adapter` behind `evals.serve.ChatServer` on a free port of 127.0.0.1, in a thread, for the block."""
    server = ChatServer(adapter, name, "127.0.0.1", 0, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
