"""Setting up a study: prompts and their images, pre-generated answers, battles and gold items.

Inputs are JSON-lines files, one object a line:

- prompts: `prompt_id`, `question`, optional `category`, and the image as either `image` (a file path,
  relative to the JSONL file's folder) or `image_base64` (optionally a `data:` URI);
- answers: `prompt_id`, `model`, `answer`, optional `generation` (an object: the generation settings);
- gold items: `prompt_id`, `good_model` (whose answer is the good side), `bad_answer` (deliberately bad).

Images are checked before they are stored: at most `MAX_IMAGE_BYTES`, one of `ALLOWED_FORMATS`, at most
`PIL.Image.MAX_IMAGE_PIXELS` pixels, and fully decodable. Questions and answers are at most `MAX_TEXT_CHARS`
characters (a longer one is refused, not cut). A bad line raises ValueError naming the file, the line and the
field. The functions add to the session and commit nothing: `import_study` runs a whole import (prompts,
answer files, battles, gold items) in one transaction, so a bad line anywhere stores nothing at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import itertools
import random
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import PIL.Image
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from arena.db import Answer, Battle, Image, Model, ModelPair, Prompt
from molmo_arena.common.files import read_json_lines

MAX_IMAGE_BYTES = 20 * 1024 * 1024
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
DECOY_MODEL = "gold-decoy"  # the model name under which gold items' bad answers are stored
# Longer than any answer worth reading side by side (a long Molmo caption is a few thousand characters); the
# vote page folds what does not fit its box.
MAX_TEXT_CHARS = 20_000


@dataclass(frozen=True)
class ImportCounts:
    """What one `import_study` stored."""

    prompts: int
    answers: tuple[int, ...]  # per answer file, in order
    battles: int
    gold: int


def import_study(session: Session, rng: random.Random, *, prompts: Path | None = None,
                 answers: Sequence[Path] = (), gold: Path | None = None,
                 pairs_per_prompt: int | None = None) -> ImportCounts:
    """Import prompts, answer files (then make battles for them) and gold items in one transaction: committed
    whole, or rolled back and nothing stored when any line of any file is refused (the ValueError names it)."""
    try:
        n_prompts = import_prompts(session, prompts) if prompts else 0
        n_answers = tuple(import_answers(session, path) for path in answers)
        n_battles = create_battles(session, rng, pairs_per_prompt=pairs_per_prompt) if answers else 0
        n_gold = import_gold(session, gold, rng) if gold else 0
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return ImportCounts(n_prompts, n_answers, n_battles, n_gold)


def import_prompts(session: Session, path: str | Path) -> int:
    """Store the prompts of a JSONL file and their images; returns the number of prompts."""
    path = Path(path)
    known = set(session.scalars(select(Prompt.prompt_id)))
    prompts: list[Prompt] = []
    images: dict[str, Image] = {}
    for where, record in read_jsonl(path):
        prompt_id = _text_field(record, "prompt_id", where)
        if prompt_id in known:
            raise ValueError(f"{where}: field 'prompt_id': {prompt_id!r} appears twice or is already stored")
        known.add(prompt_id)
        data = image_bytes(record, path.parent, where)
        sha256 = hashlib.sha256(data).hexdigest()
        if sha256 not in images and session.get(Image, sha256) is None:
            field = "image" if "image" in record else "image_base64"
            try:
                width, height, image_format = check_image(data)
            except ValueError as error:
                raise ValueError(f"{where}: field {field!r}: {error}") from error
            images[sha256] = Image(sha256=sha256, data=data, width=width, height=height, format=image_format)
        category = record.get("category", "")
        if not isinstance(category, str):
            raise ValueError(f"{where}: field 'category': expected a string")
        prompts.append(Prompt(prompt_id=prompt_id, question=_long_text_field(record, "question", where),
                              category=category, image_sha256=sha256))
    session.add_all([*images.values(), *prompts])
    session.flush()
    return len(prompts)


def import_answers(session: Session, path: str | Path) -> int:
    """Store the answers of a JSONL file, creating models as they appear; returns the number of answers."""
    path = Path(path)
    prompts = dict(session.execute(select(Prompt.prompt_id, Prompt.id)).all())
    models = dict(session.execute(select(Model.name, Model.id)).all())
    taken = set(session.execute(select(Answer.prompt_id, Model.name).join(Answer.model)).all())
    rows = []
    for where, record in read_jsonl(path):
        prompt_id = _text_field(record, "prompt_id", where)
        if prompt_id not in prompts:
            raise ValueError(f"{where}: field 'prompt_id': unknown prompt {prompt_id!r}")
        model = _text_field(record, "model", where)
        if model == DECOY_MODEL:
            raise ValueError(f"{where}: field 'model': {DECOY_MODEL!r} is reserved for gold items")
        if (prompts[prompt_id], model) in taken:
            raise ValueError(f"{where}: field 'model': {model!r} already has an answer to {prompt_id!r}")
        taken.add((prompts[prompt_id], model))
        generation = record.get("generation", {})
        if not isinstance(generation, dict):
            raise ValueError(f"{where}: field 'generation': expected an object")
        rows.append((prompts[prompt_id], model, _long_text_field(record, "answer", where), generation))
    for name in dict.fromkeys(model for _, model, _, _ in rows):
        if name not in models:
            models[name] = _add_model(session, name).id
    session.add_all(Answer(prompt_id=prompt, model_id=models[model], text=text, generation=generation)
                    for prompt, model, text, generation in rows)
    session.flush()
    return len(rows)


def create_battles(session: Session, rng: random.Random, *, pairs_per_prompt: int | None = None) -> int:
    """Create a battle for every pair of models that answered a prompt, or for `pairs_per_prompt` pairs
    drawn at random per prompt (at least 1); which answer is `a` is random too. Pairs that already have a
    battle are kept and counted towards `pairs_per_prompt`. Returns the number of battles created."""
    if pairs_per_prompt is not None and pairs_per_prompt < 1:
        raise ValueError(f"pairs per prompt must be at least 1, not {pairs_per_prompt}")
    answers = session.execute(
        select(Answer.prompt_id, Answer.id, Answer.model_id).join(Answer.model)
        .where(Model.name != DECOY_MODEL).order_by(Answer.prompt_id, Model.name)
    ).all()
    existing = {frozenset(pair) for pair in session.execute(
        select(Battle.answer_a_id, Battle.answer_b_id).where(~Battle.is_gold)).all()}
    battles = []
    for prompt_id, group in itertools.groupby(answers, key=lambda answer: answer.prompt_id):
        pairs = list(itertools.combinations(group, 2))
        new = [(x, y) for x, y in pairs if frozenset((x.id, y.id)) not in existing]
        if pairs_per_prompt is not None:
            new = rng.sample(new, max(0, min(len(new), pairs_per_prompt - (len(pairs) - len(new)))))
        for x, y in new:
            a, b = (x, y) if rng.random() < 0.5 else (y, x)
            battles.append((prompt_id, a.id, b.id, _pair_key(a.model_id, b.model_id)))
    pair_ids = _model_pairs(session, {key for *_, key in battles})
    if battles:
        session.execute(insert(Battle), [
            {"prompt_id": prompt_id, "answer_a_id": a, "answer_b_id": b, "is_gold": False, "pair_id": pair_ids[key]}
            for prompt_id, a, b, key in battles])
    return len(battles)


def import_gold(session: Session, path: str | Path, rng: random.Random) -> int:
    """Create gold battles from a JSONL file: a stored good answer against a deliberately bad one, on a
    random side that is recorded as `gold_better`. One gold item per prompt. Returns the number created."""
    path = Path(path)
    prompts = dict(session.execute(select(Prompt.prompt_id, Prompt.id)).all())
    answers = {(prompt, model): answer for prompt, model, answer in session.execute(
        select(Answer.prompt_id, Model.name, Answer.id).join(Answer.model)).all()}
    with_gold = {prompt for prompt, model in answers if model == DECOY_MODEL}
    items = []
    for where, record in read_jsonl(path):
        prompt_id = _text_field(record, "prompt_id", where)
        if prompt_id not in prompts:
            raise ValueError(f"{where}: field 'prompt_id': unknown prompt {prompt_id!r}")
        prompt = prompts[prompt_id]
        if prompt in with_gold:
            raise ValueError(f"{where}: field 'prompt_id': {prompt_id!r} already has a gold item")
        with_gold.add(prompt)
        good_model = _text_field(record, "good_model", where)
        if (prompt, good_model) not in answers:
            raise ValueError(f"{where}: field 'good_model': {good_model!r} has no answer to {prompt_id!r}")
        items.append((prompt, answers[prompt, good_model], _long_text_field(record, "bad_answer", where)))
    decoy = session.scalars(select(Model).where(Model.name == DECOY_MODEL)).one_or_none()
    decoy = decoy or _add_model(session, DECOY_MODEL)
    for prompt, good, bad_text in items:
        bad = Answer(prompt_id=prompt, model_id=decoy.id, text=bad_text,
                     generation={"gold": "deliberately bad answer"})
        session.add(bad)
        session.flush()
        good_is_a = rng.random() < 0.5
        session.add(Battle(prompt_id=prompt, answer_a_id=good if good_is_a else bad.id,
                           answer_b_id=bad.id if good_is_a else good, is_gold=True,
                           gold_better="a" if good_is_a else "b"))
    session.flush()
    return len(items)


def check_image(data: bytes) -> tuple[int, int, str]:
    """Decode untrusted image bytes completely; returns (width, height, format) or raises ValueError."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"the image has {len(data)} bytes, more than the limit of {MAX_IMAGE_BYTES}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PIL.Image.DecompressionBombWarning)
            with PIL.Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
                image.verify()
            with PIL.Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
                image.load()
                return image.width, image.height, str(image.format)
    except (PIL.Image.DecompressionBombError, PIL.Image.DecompressionBombWarning) as error:
        raise ValueError(f"the image has more than {PIL.Image.MAX_IMAGE_PIXELS} pixels") from error
    except PIL.UnidentifiedImageError as error:
        raise ValueError(f"not an image in one of the formats {', '.join(ALLOWED_FORMATS)}") from error
    except Exception as error:  # decoders of untrusted bytes fail in many ways; all mean "broken image"
        raise ValueError(f"broken image: {error}") from error


def _pair_key(model: int, other: int) -> tuple[int, int]:
    return (model, other) if model < other else (other, model)


def _model_pairs(session: Session, keys: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """The ids of the model pairs with these (low, high) model ids, creating the missing ones."""
    ids = {(low, high): pair for pair, low, high in session.execute(
        select(ModelPair.id, ModelPair.model_low_id, ModelPair.model_high_id)).all()}
    missing = [ModelPair(model_low_id=low, model_high_id=high) for low, high in sorted(keys - ids.keys())]
    session.add_all(missing)
    session.flush()
    return ids | {(pair.model_low_id, pair.model_high_id): pair.id for pair in missing}


def _add_model(session: Session, name: str) -> Model:
    model = Model(name=name)
    session.add(model)
    session.flush()
    return model


def read_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ('file:line', object) for every non-blank line."""
    for number, record in read_json_lines(path):
        yield f"{path}:{number}", record


def _text_field(record: dict[str, Any], field: str, where: str) -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: field {field!r}: expected a non-empty string")
    return value


def _long_text_field(record: dict[str, Any], field: str, where: str) -> str:
    """A text the page shows in full (question, answer): non-empty and at most `MAX_TEXT_CHARS` characters."""
    value = _text_field(record, field, where)
    if len(value) > MAX_TEXT_CHARS:
        raise ValueError(f"{where}: field {field!r}: {len(value)} characters, more than the limit of "
                         f"{MAX_TEXT_CHARS}")
    return value


def image_bytes(record: dict[str, Any], folder: Path, where: str) -> bytes:
    """The raw bytes of the line's image, from `image` (a path) or `image_base64`, size-checked first."""
    if ("image" in record) == ("image_base64" in record):
        raise ValueError(f"{where}: field 'image': give exactly one of 'image' (a path) and 'image_base64'")
    if "image" in record:
        image_path = folder / _text_field(record, "image", where)
        try:
            size = image_path.stat().st_size
            if size > MAX_IMAGE_BYTES:
                raise ValueError(f"{where}: field 'image': {image_path} has {size} bytes, "
                                 f"more than the limit of {MAX_IMAGE_BYTES}")
            return image_path.read_bytes()
        except OSError as error:
            raise ValueError(f"{where}: field 'image': cannot read {image_path}: {error}") from error
    text = _text_field(record, "image_base64", where)
    if text.startswith("data:"):
        text = text.partition(",")[2]
    if len(text) * 3 // 4 > MAX_IMAGE_BYTES + 3:
        raise ValueError(f"{where}: field 'image_base64': more than the limit of {MAX_IMAGE_BYTES} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError(f"{where}: field 'image_base64': not valid base64: {error}") from error
