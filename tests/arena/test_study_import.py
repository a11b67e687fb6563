import base64
import io
import json
import random
from pathlib import Path

import PIL.Image
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arena import study
from arena.db import Answer, Battle, Image, Model, ModelPair, Prompt
from arena.study import (
    MAX_TEXT_CHARS,
    ImportCounts,
    check_image,
    create_battles,
    import_answers,
    import_gold,
    import_prompts,
    import_study,
)

from .arena_files import png_bytes, write_jsonl


def _image(format: str, size: tuple[int, int] = (4, 4)) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", size, (200, 10, 10)).save(buffer, format)
    return buffer.getvalue()


def _count(session: Session, table: type) -> int:
    return session.scalar(select(func.count()).select_from(table))


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP", "GIF"])
def test_check_image_accepts_the_allowed_formats(image_format: str) -> None:
    assert check_image(_image(image_format, (5, 3))) == (5, 3, image_format)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_image("BMP"), "not an image in one of the formats"),
        (b"just some text", "not an image in one of the formats"),
        (_image("PNG", (64, 64))[:-30], "broken image"),
        (_image("JPEG", (64, 64))[:200], "broken image"),
    ],
)
def test_check_image_refuses_other_formats_and_broken_files(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_image(data)


def test_check_image_refuses_files_and_pictures_over_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _image("PNG", (40, 30))
    monkeypatch.setattr(study, "MAX_IMAGE_BYTES", len(data) - 1)
    with pytest.raises(ValueError, match="more than the limit"):
        check_image(data)
    monkeypatch.setattr(study, "MAX_IMAGE_BYTES", len(data))
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 40 * 30 - 1)
    with pytest.raises(ValueError, match="more than 1199 pixels"):
        check_image(data)


def test_import_stores_prompts_images_answers_and_battles(session: Session, tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "one.png").write_bytes(png_bytes(1))
    encoded = base64.b64encode(png_bytes(1)).decode()
    prompts = [
        {"prompt_id": "p1", "image": "images/one.png", "question": "What?", "category": "ocr"},
        {"prompt_id": "p2", "image_base64": encoded, "question": "Same image again?"},
        {"prompt_id": "p3", "image_base64": "data:image/jpeg;base64," + base64.b64encode(_image("JPEG")).decode(),
         "question": "Red?", "category": "colour"},
    ]
    assert import_prompts(session, write_jsonl(tmp_path / "prompts.jsonl", prompts)) == 3
    answers = [{"prompt_id": f"p{p}", "model": model, "answer": f"{model} on {p}",
                "generation": {"temperature": 0.0}} for p in (1, 2, 3) for model in ("x", "y", "z", "w")]
    answers[-1] = {"prompt_id": "p3", "model": "w", "answer": "no settings"}
    (tmp_path / "answers.jsonl").write_text("\n".join(json.dumps(a) for a in answers) + "\n\n")
    assert import_answers(session, tmp_path / "answers.jsonl") == 12

    images = session.scalars(select(Image).order_by(Image.format)).all()
    assert [(i.format, i.width, i.height) for i in images] == [("JPEG", 4, 4), ("PNG", 8, 6)]
    assert images[1].data == png_bytes(1)
    stored = session.scalars(select(Prompt).order_by(Prompt.prompt_id)).all()
    assert [p.category for p in stored] == ["ocr", "", "colour"]
    assert stored[0].image_sha256 == stored[1].image_sha256 == images[1].sha256
    assert session.scalars(select(Answer.generation).order_by(Answer.id)).all()[-2:] == [{"temperature": 0.0}, {}]

    assert create_battles(session, random.Random(0), pairs_per_prompt=2) == 3 * 2
    assert create_battles(session, random.Random(0)) == 3 * (6 - 2)
    assert create_battles(session, random.Random(0)) == 0
    battles = session.scalars(select(Battle)).all()
    pairs = {(b.prompt_id, frozenset((b.answer_a.model.name, b.answer_b.model.name))) for b in battles}
    assert len(pairs) == len(battles) == 18
    assert all(b.answer_a.prompt_id == b.answer_b.prompt_id == b.prompt_id for b in battles)
    assert {b.answer_a.model.name for b in battles} == {"x", "y", "z", "w"}  # random orientation
    pairs = {p.id: (p.model_low_id, p.model_high_id) for p in session.scalars(select(ModelPair))}
    assert len(pairs) == 6
    assert all(pairs[b.pair_id] == tuple(sorted((b.answer_a.model_id, b.answer_b.model_id))) for b in battles)


BAD_PROMPTS = [
    ('{"prompt_id": "p2", "image": "ok.png"}', "field 'question'"),
    ('{"prompt_id": "p2", "question": "?"}', "field 'image': give exactly one"),
    ('{"prompt_id": "p2", "question": "?", "image": "ok.png", "image_base64": "AAAA"}', "field 'image'"),
    ('{"prompt_id": "p2", "question": "?", "image": "missing.png"}', "field 'image': cannot read"),
    ('{"prompt_id": "p2", "question": "?", "image": "notes.txt"}', "field 'image': not an image"),
    ('{"prompt_id": "p2", "question": "?", "image_base64": "***"}', "field 'image_base64': not valid base64"),
    ('{"prompt_id": "p2", "question": "?", "image": "ok.png", "category": 3}', "field 'category'"),
    ('{"prompt_id": "p1", "question": "?", "image": "ok.png"}', "field 'prompt_id': 'p1' appears twice"),
    ('{"prompt_id": "", "question": "?", "image": "ok.png"}', "field 'prompt_id'"),
    ('{"prompt_id": "p2", ', "not valid JSON"),
    ('["p2"]', "expected a JSON object"),
]


def test_bad_prompt_lines_name_file_line_and_field_and_store_nothing(session: Session, tmp_path: Path) -> None:
    (tmp_path / "ok.png").write_bytes(png_bytes(3))
    (tmp_path / "notes.txt").write_text("not a picture")
    good = '{"prompt_id": "p1", "question": "?", "image": "ok.png"}'
    path = tmp_path / "prompts.jsonl"
    for line, message in BAD_PROMPTS:
        path.write_text(f"{good}\n{line}\n")
        with pytest.raises(ValueError, match=f"prompts.jsonl:2: {message}"):
            import_prompts(session, path)
    assert _count(session, Prompt) == _count(session, Image) == 0


def test_bad_answer_and_gold_lines_are_refused(session: Session, tmp_path: Path, make_study) -> None:
    make_study(n_models=2, n_prompts=2)
    answers, gold = _count(session, Answer), tmp_path / "bad.jsonl"
    for line, message in [
        ('{"prompt_id": "nope", "model": "m", "answer": "a"}', "field 'prompt_id': unknown prompt 'nope'"),
        ('{"prompt_id": "p0", "model": "m"}', "field 'answer'"),
        ('{"prompt_id": "p0", "model": "model-1", "answer": "a"}', "field 'model': 'model-1' already has"),
        ('{"prompt_id": "p0", "model": "gold-decoy", "answer": "a"}', "field 'model': 'gold-decoy' is reserved"),
        ('{"prompt_id": "p0", "model": "m", "answer": "a", "generation": 1}', "field 'generation'"),
    ]:
        gold.write_text(line + "\n")
        with pytest.raises(ValueError, match=f"bad.jsonl:1: {message}"):
            import_answers(session, gold)
    assert _count(session, Answer) == answers
    for line, message in [
        ('{"prompt_id": "p0", "good_model": "unknown", "bad_answer": "b"}', "field 'good_model'"),
        ('{"prompt_id": "p0", "good_model": "model-0"}', "field 'bad_answer'"),
    ]:
        gold.write_text(line + "\n")
        with pytest.raises(ValueError, match=f"bad.jsonl:1: {message}"):
            import_gold(session, gold, random.Random(0))
    assert _count(session, Battle) == 2


def test_gold_items_pit_a_stored_answer_against_a_bad_one(session: Session, make_study, tmp_path) -> None:
    make_study(n_models=3, n_prompts=6, gold=True)
    gold = session.scalars(select(Battle).where(Battle.is_gold)).all()
    assert len(gold) == 6
    for battle in gold:
        good = battle.answer_a if battle.gold_better == "a" else battle.answer_b
        bad = battle.answer_b if battle.gold_better == "a" else battle.answer_a
        assert (good.model.name, bad.model.name, bad.text) == ("model-0", "gold-decoy", "a cat (wrong image)")
    assert {battle.gold_better for battle in gold} == {"a", "b"}
    assert all(battle.pair_id is None for battle in gold)
    assert session.scalar(select(func.count()).select_from(Model)) == 4
    again = write_jsonl(tmp_path / "again.jsonl", [{"prompt_id": "p0", "good_model": "model-1", "bad_answer": "x"}])
    with pytest.raises(ValueError, match="'p0' already has a gold item"):
        import_gold(session, again, random.Random(0))


def _counts(session: Session) -> tuple[int, ...]:
    session.expire_all()
    return tuple(_count(session, table) for table in (Image, Prompt, Model, Answer, ModelPair, Battle))


def test_an_import_is_all_or_nothing(session: Session, tmp_path: Path) -> None:
    """Issue 15 item 3: good prompts with bad answers, or a bad second answer file, store nothing at all."""
    (tmp_path / "one.png").write_bytes(png_bytes(1))
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt_id": "p1", "image": "one.png", "question": "?"}])
    first = write_jsonl(tmp_path / "first.jsonl", [{"prompt_id": "p1", "model": m, "answer": m} for m in "xy"])
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt_id": "p1", "model": "newmodel", "answer": "fine"},
                                               {"prompt_id": "p1", "model": "z"}])
    fixed = write_jsonl(tmp_path / "fixed.jsonl", [{"prompt_id": "p1", "model": m, "answer": m}
                                                   for m in ("newmodel", "z")])
    gold = write_jsonl(tmp_path / "gold.jsonl", [{"prompt_id": "p1", "good_model": "nobody", "bad_answer": "b"}])
    for files in ({"answers": [bad]}, {"answers": [first, bad]}, {"answers": [first], "gold": gold}):
        with pytest.raises(ValueError, match=r"(bad|gold)\.jsonl:\d: field"):
            import_study(session, random.Random(0), prompts=prompts, **files)
        assert _counts(session) == (0, 0, 0, 0, 0, 0)
    with pytest.raises(ValueError, match="pairs per prompt must be at least 1, not 0"):
        import_study(session, random.Random(0), prompts=prompts, answers=[first], pairs_per_prompt=0)
    assert _counts(session) == (0, 0, 0, 0, 0, 0)
    counts = import_study(session, random.Random(0), prompts=prompts, answers=[first, fixed])
    assert counts == ImportCounts(prompts=1, answers=(2, 2), battles=6, gold=0)
    assert _counts(session) == (1, 1, 4, 4, 6, 6)


def test_questions_and_answers_over_the_limit_are_refused(session: Session, tmp_path: Path) -> None:
    """Issue 15 item 6: a 10 MB answer stops the import with a clear error."""
    (tmp_path / "one.png").write_bytes(png_bytes(1))
    at_limit = "x" * MAX_TEXT_CHARS
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt_id": "p1", "image": "one.png", "question": at_limit}])
    answers = write_jsonl(tmp_path / "answers.jsonl", [{"prompt_id": "p1", "model": "x", "answer": at_limit},
                                                       {"prompt_id": "p1", "model": "y", "answer": "y" * 10_000_000}])
    with pytest.raises(ValueError, match=f"answers.jsonl:2: field 'answer': 10000000 characters, more than the "
                                         f"limit of {MAX_TEXT_CHARS}"):
        import_study(session, random.Random(0), prompts=prompts, answers=[answers])
    long_question = write_jsonl(tmp_path / "long.jsonl", [{"prompt_id": "p2", "image": "one.png",
                                                           "question": at_limit + "?"}])
    with pytest.raises(ValueError, match=r"long\.jsonl:1: field 'question'"):
        import_study(session, random.Random(0), prompts=long_question)
    good = write_jsonl(tmp_path / "good.jsonl", [{"prompt_id": "p1", "model": "x", "answer": at_limit}])
    gold = write_jsonl(tmp_path / "gold.jsonl", [{"prompt_id": "p1", "good_model": "x", "bad_answer": at_limit * 2}])
    with pytest.raises(ValueError, match=r"gold\.jsonl:1: field 'bad_answer'"):
        import_study(session, random.Random(0), prompts=prompts, answers=[good], gold=gold)
    assert _counts(session) == (0, 0, 0, 0, 0, 0)
