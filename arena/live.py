"""Live battles: an annotator's own image and question, answered on the spot by two models.

A live battle belongs to the annotator who asked: it has no model pair (`pair_id` is None) and is not gold,
so the sampler never shows it to anyone else; its vote is exported like any other, in category "live".
The uploaded image is checked like an imported one (size, format, pixel count, full decode).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db import Annotator, Answer, Assignment, Battle, Image, Model, Prompt
from arena.study import check_image

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
