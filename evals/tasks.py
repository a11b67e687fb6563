"""The 11 benchmarks of the Molmo paper as data: where each one's rows live and how one row becomes an `EvalItem`.

Each `TaskSpec` names a Hugging Face dataset (lmms-eval's copy, or the original where lmms-eval uses it), the
split scored locally and, where the paper's number comes from an evaluation server, the split to submit instead.
The ids are those of lmms-eval's current task files (lmms_eval/tasks/*/ in lmms-eval 0.7.3 and upstream, after
its pull request 1416 moved the lmms-lab copies to `lmms-lab-encoder/...`; the old ids only redirect).
`to_item` is a pure function from one row, in that dataset's own schema, to the shared record; `evals.data`
reads the rows (from the hub or from a local copy in the same schema) and `evals.fixtures` writes small copies.

Revisions: commit hashes cannot be looked up without the hub, which the machines this project is built on cannot
reach, so every spec asks for `revision="main"`; the runner records the fingerprint of the data it actually read
(`evals.data.dataset_fingerprint`) as the revision of each run.

Schema assumptions, where the dataset cards and the lmms-eval tasks leave something open:

- ai2d: `answer` is the option index as a string ("0".."3") on the hub; an int is accepted too.
- realworldqa: the options are only in the question text, one per line as "A. text"; a row whose answer is one
  of those letters is multiple choice, any other row is a short-answer question.
- mmmu: `options` is a Python list literal in a string (a real list is accepted too); an open question's
  `answer` is a string, sometimes a list literal of accepted answers (as MMMU's own answer_dict_val.json lists
  them). The images are every `image_k` that the question or its options name as `<image k>`, in k order, as
  lmms-eval's `mmmu_doc_to_visual` passes them (`image_1` when the text names none);
  `meta["num_images"]` says how many `image_k` columns were filled.
- mathvista: `answer` holds the choice text for multi_choice rows; the item's answer is that choice's letter,
  the text stays in `meta["answer"]`.
- pixmo_count (kcz358/pixmo-count, the re-host with images): columns `image`, `question` (may carry an
  `<image>` token, which is dropped) and `answer` (a string holding the count); `label` is kept in meta when
  present.
- countbenchqa, chartqa, ai2d, realworldqa and pixmo_count rows carry no id: the row index is the item id.

Images arrive as `datasets` stores them (a dict with `bytes` and `path`, raw bytes, or a PIL image once decoded)
and leave as PNG or JPEG bytes: PNG/JPEG bytes pass through untouched, anything else is re-encoded as PNG.
An item carries a tuple of images (one for every benchmark but MMMU).
"""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from PIL import Image, UnidentifiedImageError

from evals.items import EvalItem

Kind = Literal["short", "multiple_choice", "count", "math"]


class FieldError(ValueError):
    """A row's field is missing or malformed; `evals.data` adds the file and the row to the message."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field {field!r}: {problem}")
        self.field = field


@dataclass(frozen=True)
class TaskSpec:
    """One benchmark: its hub dataset (id, config, revision), the split scored locally, the split whose answers go
    to an evaluation server when the paper's number comes from one, the kind of answer, and how to read one row."""

    name: str
    display_name: str
    hf_id: str
    split: str
    kind: Kind
    to_item: Callable[[dict[str, Any], int], EvalItem]
    config: str | None = None
    revision: str = "main"
    submission_split: str | None = None


# ---------------------------------------------------------------------------------------------- field helpers


def _field(row: dict[str, Any], name: str) -> Any:
    if name not in row:
        raise FieldError(name, "missing")
    if row[name] is None:
        raise FieldError(name, "empty")
    return row[name]


def _text(row: dict[str, Any], name: str) -> str:
    value = _field(row, name)
    if not isinstance(value, str):
        raise FieldError(name, f"expected a string, got {type(value).__name__}")
    return value


def _strings(row: dict[str, Any], name: str) -> list[str]:
    value = _field(row, name)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise FieldError(name, "expected a list of strings")
    return list(value)


def _literal_list(row: dict[str, Any], name: str) -> list[str]:
    """A list stored as a Python literal in a string (MMMU's `options`), or a plain list."""
    value = _field(row, name)
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError) as err:
            raise FieldError(name, f"not a list literal: {value[:60]!r}") from err
    if not isinstance(value, list | tuple):
        raise FieldError(name, "expected a list")
    return [str(v) for v in value]


def letter(index: int) -> str:
    """The option letter of a 0-based option index: 0 -> "A"."""
    return chr(ord("A") + index)


_PASS_THROUGH_FORMATS = {"PNG", "JPEG"}


def _encode_png(image: Image.Image) -> bytes:
    if image.mode not in {"1", "L", "LA", "I", "P", "RGB", "RGBA"}:
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def image_bytes(row: dict[str, Any], name: str) -> bytes:
    """The PNG/JPEG bytes of an image column, however `datasets` handed it over (dict, bytes, PIL image)."""
    value = _field(row, name)
    if isinstance(value, Image.Image):
        return _encode_png(value)
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
        if data is None and path:
            try:
                data = Path(path).read_bytes()
            except OSError as err:
                raise FieldError(name, f"cannot read image file {path!r}: {err.strerror}") from err
    else:
        data = value
    if not isinstance(data, bytes | bytearray) or not data:
        raise FieldError(name, f"no image bytes (got {type(data).__name__})")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format in _PASS_THROUGH_FORMATS:
                return bytes(data)
            return _encode_png(image)
    except (UnidentifiedImageError, OSError) as err:
        raise FieldError(name, "unreadable image") from err


# ---------------------------------------------------------------------------------------------- per-task readers


def ai2d_item(row: dict[str, Any], index: int) -> EvalItem:
    """lmms-lab-encoder/ai2d: `question`, `options` (list), `answer` (the option index), `image`."""
    options = _strings(row, "options")
    raw = _field(row, "answer")
    try:
        answer = int(raw)
    except (TypeError, ValueError) as err:
        raise FieldError("answer", f"not an option index: {raw!r}") from err
    if not 0 <= answer < len(options):
        raise FieldError("answer", f"option index {answer} out of range for {len(options)} options")
    return EvalItem(
        id=str(index),
        question=_text(row, "question"),
        answers=[letter(answer)],
        images=(image_bytes(row, "image"),),
        choices=options,
    )


def chartqa_item(row: dict[str, Any], index: int) -> EvalItem:
    """lmms-lab-encoder/ChartQA: `type` (human_test | augmented_test), `question`, `answer`, `image`."""
    return EvalItem(
        id=str(index),
        question=_text(row, "question"),
        answers=[_text(row, "answer")],
        images=(image_bytes(row, "image"),),
        meta={"type": _text(row, "type")},
    )


def vqav2_item(row: dict[str, Any], index: int) -> EvalItem:
    """lmms-lab-encoder/VQAv2: `answers` is a list of 10 {answer, answer_confidence, answer_id} dicts."""
    annotations = _field(row, "answers")
    if not isinstance(annotations, list) or not all(isinstance(a, dict) and "answer" in a for a in annotations):
        raise FieldError("answers", "expected a list of {answer, ...} dicts")
    return EvalItem(
        id=str(_field(row, "question_id")),
        question=_text(row, "question"),
        answers=[str(a["answer"]) for a in annotations],
        images=(image_bytes(row, "image"),),
        meta={
            "image_id": _field(row, "image_id"),
            "question_type": row.get("question_type"),
            "answer_type": row.get("answer_type"),
            "multiple_choice_answer": row.get("multiple_choice_answer"),
        },
    )


def docvqa_item(row: dict[str, Any], index: int) -> EvalItem:
    """lmms-lab-encoder/DocVQA, config DocVQA: `questionId`, `question`, `answers` (list), `image`, `docId`."""
    return EvalItem(
        id=str(_field(row, "questionId")),
        question=_text(row, "question"),
        answers=_strings(row, "answers"),
        images=(image_bytes(row, "image"),),
        meta={"doc_id": row.get("docId"), "question_types": row.get("question_types")},
    )


def infovqa_item(row: dict[str, Any], index: int) -> EvalItem:
    """lmms-lab-encoder/DocVQA, config InfographicVQA: `questionId`, `question`, `answers`, `answer_type`, `image`."""
    return EvalItem(
        id=str(_field(row, "questionId")),
        question=_text(row, "question"),
        answers=_strings(row, "answers"),
        images=(image_bytes(row, "image"),),
        meta={"answer_type": row.get("answer_type"), "operation/reasoning": row.get("operation/reasoning")},
    )


def textvqa_item(row: dict[str, Any], index: int) -> EvalItem:
    """lmms-lab-encoder/textvqa: `question_id`, `question`, 10 `answers`, `ocr_tokens` (for the optional OCR hint)."""
    return EvalItem(
        id=str(_field(row, "question_id")),
        question=_text(row, "question"),
        answers=_strings(row, "answers"),
        images=(image_bytes(row, "image"),),
        meta={"image_id": row.get("image_id"), "ocr_tokens": row.get("ocr_tokens") or []},
    )


_OPTION_LINE = re.compile(r"^([A-Z])\.\s+(.+?)\s*$", re.MULTILINE)


def realworldqa_item(row: dict[str, Any], index: int) -> EvalItem:
    """lmms-lab-encoder/RealWorldQA: `question` (x.ai's text, options and instruction included), `answer`, `image`."""
    question = _text(row, "question")
    answer = _text(row, "answer").strip()
    options = _OPTION_LINE.findall(question)
    letters = [name for name, _ in options]
    is_choice = bool(options) and letters == [letter(i) for i in range(len(options))] and answer in letters
    return EvalItem(
        id=str(index),
        question=question,
        answers=[answer],
        images=(image_bytes(row, "image"),),
        choices=[text for _, text in options] if is_choice else None,
        meta={"format": "multiple_choice" if is_choice else "short"},
    )


def _mmmu_subject(item_id: str) -> str:
    """MMMU ids read "<split>_<Subject_Name>_<n>": "validation_Art_Theory_3" -> "Art_Theory"."""
    parts = item_id.split("_")
    return "_".join(parts[1:-1])


_IMAGE_TOKEN = re.compile(r"<image (\d+)>")


def mmmu_images(row: dict[str, Any], options: list[str]) -> tuple[bytes, ...]:
    """The images an MMMU question names as `<image k>` in its text or options, by k (lmms-eval
    `mmmu_doc_to_visual`); `image_1` alone when the text names none, so the model still sees the picture."""
    named = {int(k) for text in (row.get("question") or "", *options) for k in _IMAGE_TOKEN.findall(text)}
    return tuple(image_bytes(row, f"image_{k}") for k in sorted(named or {1}))


def mmmu_item(row: dict[str, Any], index: int) -> EvalItem:
    """lmms-lab-encoder/MMMU: `options` is a list literal, `question_type` is multiple-choice | open, images in
    image_1..7."""
    item_id = _text(row, "id")
    question_type = _text(row, "question_type")
    options = _literal_list(row, "options")
    answer = _text(row, "answer").strip()
    if question_type == "multiple-choice":
        if answer not in {letter(i) for i in range(len(options))}:
            raise FieldError("answer", f"{answer!r} is not one of the {len(options)} option letters")
        answers, choices = [answer], options
    elif question_type == "open":
        answers = _literal_list(row, "answer") if answer.startswith("[") else [answer]
        choices = None
    else:
        raise FieldError("question_type", f"expected multiple-choice or open, got {question_type!r}")
    return EvalItem(
        id=item_id,
        question=_text(row, "question"),
        answers=answers,
        images=mmmu_images(row, options),
        choices=choices,
        meta={
            "question_type": question_type,
            "subject": _mmmu_subject(item_id),
            "subfield": row.get("subfield"),
            "topic_difficulty": row.get("topic_difficulty"),
            "img_type": row.get("img_type"),
            "num_images": sum(row.get(f"image_{k}") is not None for k in range(1, 8)),
        },
    )


def mathvista_item(row: dict[str, Any], index: int) -> EvalItem:
    """AI4Math/MathVista: `decoded_image`, `choices`, `answer_type`, `precision`, `unit`, and the official `query`."""
    question_type = _text(row, "question_type")
    answer = _text(row, "answer")
    if question_type == "multi_choice":
        choices = _strings(row, "choices")
        if answer not in choices:
            raise FieldError("answer", f"{answer!r} is not one of the choices")
        answers = [letter(choices.index(answer))]
    elif question_type == "free_form":
        choices, answers = None, [answer]
    else:
        raise FieldError("question_type", f"expected multi_choice or free_form, got {question_type!r}")
    return EvalItem(
        id=str(_field(row, "pid")),
        question=_text(row, "question"),
        answers=answers,
        images=(image_bytes(row, "decoded_image"),),
        choices=choices,
        meta={
            "question_type": question_type,
            "answer_type": _text(row, "answer_type"),
            "answer": answer,
            "precision": row.get("precision"),
            "unit": row.get("unit"),
            "query": _text(row, "query"),
        },
    )


def countbenchqa_item(row: dict[str, Any], index: int) -> EvalItem:
    """vikhyatk/CountBenchQA: `image`, `text` (the caption, which names the count), `question`, `number`."""
    number = _field(row, "number")
    if not isinstance(number, int) or isinstance(number, bool):
        raise FieldError("number", f"expected an integer, got {number!r}")
    return EvalItem(
        id=str(index),
        question=_text(row, "question"),
        answers=[str(number)],
        images=(image_bytes(row, "image"),),
        meta={"caption": _text(row, "text")},
    )


def pixmo_count_item(row: dict[str, Any], index: int) -> EvalItem:
    """kcz358/pixmo-count: `image`, `question` (maybe with an `<image>` token), `answer` (the count as text)."""
    return EvalItem(
        id=str(index),
        question=_text(row, "question").replace("<image>", "").strip(),
        answers=[str(_field(row, "answer")).strip()],
        images=(image_bytes(row, "image"),),
        meta={"label": row.get("label")},
    )


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec("ai2d", "AI2D", "lmms-lab-encoder/ai2d", "test", "multiple_choice", ai2d_item),
        TaskSpec("chartqa", "ChartQA", "lmms-lab-encoder/ChartQA", "test", "short", chartqa_item),
        TaskSpec(
            "vqav2", "VQA v2.0", "lmms-lab-encoder/VQAv2", "validation", "short", vqav2_item,
            submission_split="testdev",
        ),
        TaskSpec(
            "docvqa", "DocVQA", "lmms-lab-encoder/DocVQA", "validation", "short", docvqa_item,
            config="DocVQA", submission_split="test",
        ),
        TaskSpec(
            "infovqa", "InfographicVQA", "lmms-lab-encoder/DocVQA", "validation", "short", infovqa_item,
            config="InfographicVQA", submission_split="test",
        ),
        TaskSpec("textvqa", "TextVQA", "lmms-lab-encoder/textvqa", "validation", "short", textvqa_item),
        TaskSpec(
            "realworldqa", "RealWorldQA", "lmms-lab-encoder/RealWorldQA", "test", "multiple_choice", realworldqa_item,
        ),
        TaskSpec("mmmu", "MMMU", "lmms-lab-encoder/MMMU", "validation", "multiple_choice", mmmu_item),
        TaskSpec("mathvista", "MathVista", "AI4Math/MathVista", "testmini", "math", mathvista_item),
        TaskSpec("countbenchqa", "CountBenchQA", "vikhyatk/CountBenchQA", "test", "count", countbenchqa_item),
        TaskSpec("pixmo_count", "PixMo-Count", "kcz358/pixmo-count", "test", "count", pixmo_count_item),
    )
}  # fmt: skip


def _unanswered(to_item: Callable[[dict[str, Any], int], EvalItem]) -> Callable[[dict[str, Any], int], EvalItem]:
    """The same reader for a split whose answers stay on the evaluation server (`answers` absent or null)."""

    def read(row: dict[str, Any], index: int) -> EvalItem:
        return to_item(dict(row, answers=row.get("answers") or []), index)

    return read


def submission_task(name: str) -> TaskSpec:
    """The spec of a task's server-scored split (VQA v2 test-dev, DocVQA and InfographicVQA test)."""
    spec = get_task(name)
    if spec.submission_split is None:
        with_server = ", ".join(t for t, s in TASKS.items() if s.submission_split)
        raise ValueError(f"{name} has no evaluation-server split; tasks with one: {with_server}")
    return replace(spec, split=spec.submission_split, to_item=_unanswered(spec.to_item))


def get_task(name: str) -> TaskSpec:
    """The spec of a task by its short name, with the known names in the error."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None
