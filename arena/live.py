"""Live battles: an annotator's own image and question, answered on the spot by two models.

A live battle belongs to the annotator who asked: it has no model pair (`pair_id` is None) and is not gold,
so the sampler never shows it to anyone else; its vote is exported like any other, in category "live".
The uploaded image is checked like an imported one (size, format, pixel count, full decode).
The two models answer at the same time, and the page shows their answers as they grow (`stream_answers`).
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db import Annotator, Answer, Assignment, Battle, Image, Model, Prompt
from arena.study import check_image
from evals.adapters.base import GenerationRequest, ModelAdapter, generate_streaming

LIVE_CATEGORY = "live"


def add_live_battle(
    session: Session,
    annotator: Annotator,
    image: bytes,
    question: str,
    answers: Sequence[tuple[str, str]],
    swapped: bool,
) -> Assignment:
    """Store the prompt, its two (model name, answer text) pairs and a battle assigned to `annotator`."""
    if len(answers) != 2:
        raise ValueError(f"a live battle needs exactly two answers, got {len(answers)}")
    if not question.strip():
        raise ValueError("the question is empty")
    width, height, image_format = check_image(image)
    sha256 = hashlib.sha256(image).hexdigest()
    if session.get(Image, sha256) is None:
        session.add(Image(sha256=sha256, data=image, width=width, height=height, format=image_format))
    prompt = Prompt(prompt_id=f"live-{uuid.uuid4().hex}", question=question.strip(), category=LIVE_CATEGORY,
                    image_sha256=sha256)
    session.add(prompt)
    stored = []
    for name, text in answers:
        model = session.scalars(select(Model).where(Model.name == name)).one_or_none() or Model(name=name)
        answer = Answer(prompt=prompt, model=model, text=text, generation={"live": True})
        session.add(answer)
        stored.append(answer)
    battle = Battle(prompt=prompt, answer_a=stored[0], answer_b=stored[1], is_gold=False, n_assigned=1)
    assignment = Assignment(annotator_id=annotator.id, battle=battle, swapped=swapped, shown_at=time.time())
    session.add(assignment)
    session.commit()
    return assignment


def stream_answers(adapters: Sequence[ModelAdapter], request: GenerationRequest, show: Callable[[int, str], None],
                   poll_s: float = 0.05) -> list[str]:
    """Every adapter answers `request` at once, each on its own thread; returns their final answers, in order.

    While they generate, `show(index, answer so far)` is called on the calling thread (Streamlit draws only from
    the script's own thread) whenever an answer has grown, at most every `poll_s` seconds, and once more with each
    final answer. A failing adapter's error is raised once the others are done.
    """
    latest: list[str | None] = [None] * len(adapters)
    shown: list[str | None] = [None] * len(adapters)
    lock = threading.Lock()

    def answer(index: int) -> str:
        def grow(_: int, text: str) -> None:
            with lock:
                latest[index] = text

        return generate_streaming(adapters[index], [request], grow)[0].text

    def flush() -> None:
        with lock:
            changed = [(i, text) for i, text in enumerate(latest) if text is not None and text != shown[i]]
        for index, text in changed:
            show(index, text)
            shown[index] = text

    with ThreadPoolExecutor(max_workers=len(adapters), thread_name_prefix="live-answer") as pool:
        futures = [pool.submit(answer, index) for index in range(len(adapters))]
        while not all(future.done() for future in futures):
            wait(futures, timeout=poll_s)
            flush()
    answers = [future.result() for future in futures]
    flush()
    return answers
