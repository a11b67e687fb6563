"""Readers for PixMo and academic VQA data, from Hugging Face ids or local files, into one `Example` record.

Every source becomes a list of `Example`s: one image (its encoded file bytes) with all of its annotations,
because Molmo trains on all annotations of an image packed into one sequence (see `packing.py`). Rows that
share an image (same `image_sha256`, else `image_url`, else `image_id`) are merged, in first-seen order.
Sources are read lazily (`ExampleSource`): an Example, and its image, is built when it is indexed.

Sources (`DATASETS`), with what one row holds in the released Hugging Face schema:

    pixmo_cap            allenai/pixmo-cap                 image_url, caption, transcripts[]
    pixmo_ama            allenai/pixmo-ask-model-anything  image_url, image_sha256, question, answer
    pixmo_points         allenai/pixmo-points              image_url, image_sha256, points[{x, y}] (pixels),
    pixmo_points_count     (same rows, counting targets)   count, label, collection_method
    pixmo_count          allenai/pixmo-count               image_url, image_sha256, count, points[{x, y}], label
    pixmo_cap_qa         allenai/pixmo-cap-qa              image_url, question, answer
    pixmo_docs_<kind>    allenai/pixmo-docs, config <kind> image, image_id, questions {question[], answer[]}
                         (kind: charts, tables, other, diagrams)
    pixmo_clocks         allenai/pixmo-clocks              text ("8:15:30"), hour/minute/second(_visible), ...
    vqa                  (any academic VQA set)            image, question, answers[] (str or {answer}) | answer
    multiple_choice      (any academic MC set)             image, question, options[] | choices[], answer
                                                           (index, letter or option text)

Images come from an `image` column (bytes, the `{"bytes", "path"}` dict `datasets` stores, a PIL image, or a
path), else `image_path`, else `image_url` + `image_sha256` with `images_dir` holding a file named by the
sha256. PixMo publishes URLs only (and PixMo-Clocks no images at all): fetch them once into `images_dir`.

Local files: Parquet, JSON lines (paths relative to the file), or a `datasets.save_to_disk` folder. A bad
row raises ValueError naming the file, the row and the field.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image


@dataclass(frozen=True)
class Annotation:
    """One question and answer (or caption) about an image, before prompt formatting (`formatting.py`)."""

    prompt: str  # the user's question; "" where the style supplies the prompt (captions, pointing, clocks)
    answer: str  # the target; "" where formatting writes it from `points` (pointing, counting)
    style: str  # the release's style name: long_caption, transcript, pointing, point_count, user_qa, ...
    weight: float = 1.0  # relative loss weight of this annotation
    label: str = ""  # what is pointed at or counted
    points: tuple[tuple[float, float], ...] | None = None  # (x, y) on a 0-100 scale of the image width/height
    options: tuple[str, ...] = ()  # multiple choice: `answer` is the correct option's text
    answer_votes: tuple[str, ...] = ()  # several reference answers (VQA v2): the target is the most frequent


@dataclass(frozen=True)
class Example:
    """One image and every annotation of it."""

    id: str
    image: bytes  # the encoded image file (PNG, JPEG, ...)
    annotations: tuple[Annotation, ...]
    source: str = ""


class _Row:
    """One raw row with its location, for typed field access and error messages naming file, row and field."""

    def __init__(self, row: Mapping[str, Any], where: str, index: int) -> None:
        self.row, self.where, self.index = row, where, index

    def error(self, field: str, problem: str) -> ValueError:
        return ValueError(f"{self.where}: row {self.index}: field {field!r}: {problem}")

    def has(self, field: str) -> bool:
        return self.row.get(field) is not None

    def get(self, field: str) -> Any:
        if not self.has(field):
            raise self.error(field, "missing")
        return self.row[field]

    def text(self, field: str) -> str:
        value = self.get(field)
        if not isinstance(value, str):
            raise self.error(field, f"expected a string, got {type(value).__name__}")
        return value

    def texts(self, field: str) -> list[str]:
        value = self.get(field)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise self.error(field, "expected a list of strings")
        return list(value)

    def integer(self, field: str) -> int:
        value = self.get(field)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(field, f"expected an integer, got {value!r}")
        return value


# ---------------------------------------------------------------------------------------------------------
# Row -> annotations, one function per schema. `size` is the image's (width, height) in pixels.


def _cap(row: _Row, size: tuple[int, int], style: str) -> list[Annotation]:
    """PixMo-Cap: the caption and every transcript (formatting keeps one transcript per example)."""
    caption = [Annotation("", row.text("caption"), style)]
    transcripts = row.texts("transcripts") if row.has("transcripts") else []
    return caption + [Annotation("", t, "transcript") for t in transcripts if t.strip()]


def _qa(row: _Row, size: tuple[int, int], style: str) -> list[Annotation]:
    """One question and one answer (AskModelAnything, CapQA)."""
    return [Annotation(row.text("question"), row.text("answer"), style)]


def _points(row: _Row, size: tuple[int, int], style: str) -> list[Annotation]:
    """Points in pixels (PixMo-Points, PixMo-Count) -> a 0-100 scale; formatting writes the target."""
    width, height = size
    raw = row.get("points")
    if isinstance(raw, Mapping):  # datasets' `sequence` of a struct reads back as a dict of lists
        xs, ys = raw.get("x"), raw.get("y")
        if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys):
            raise row.error("points", "expected lists 'x' and 'y' of equal length")
        raw = [{"x": x, "y": y} for x, y in zip(xs, ys, strict=True)]
    if not isinstance(raw, list | tuple):
        raise row.error("points", "expected a list of {x, y}")
    points = []
    for k, point in enumerate(raw):
        try:
            x, y = float(point["x"]), float(point["y"])
        except (KeyError, TypeError, ValueError):
            raise row.error("points", f"point {k} is not an {{x, y}} pair of numbers: {point!r}") from None
        points.append((min(max(100.0 * x / width, 0.0), 100.0), min(max(100.0 * y / height, 0.0), 100.0)))
    if not points and row.has("count") and row.integer("count") > 0:
        raise row.error("points", f"none given for a count of {row.integer('count')} (eval splits have no points)")
    return [Annotation("", "", style, label=row.text("label"), points=tuple(points))]


def _docs(row: _Row, size: tuple[int, int], style: str) -> list[Annotation]:
    """PixMo-Docs: many questions about one rendered document, as {question: [...], answer: [...]}."""
    questions = row.get("questions")
    if isinstance(questions, list):  # a list of {question, answer} (JSON lines written by hand)
        questions = {k: [q.get(k) for q in questions] for k in ("question", "answer")}
    if not isinstance(questions, Mapping):
        raise row.error("questions", "expected {question: [...], answer: [...]}")
    asked, answered = questions.get("question"), questions.get("answer")
    if not isinstance(asked, list) or not isinstance(answered, list) or len(asked) != len(answered):
        raise row.error("questions", "expected lists 'question' and 'answer' of equal length")
    if not all(isinstance(v, str) for v in asked + answered):
        raise row.error("questions", "questions and answers must be strings")
    return [Annotation(q, a, style) for q, a in zip(asked, answered, strict=True)]


def _clock(row: _Row, size: tuple[int, int], style: str) -> list[Annotation]:
    """PixMo-Clocks: the shown time, as the dataset's own `text` ("8:15:30", "11:57:04 PM")."""
    if row.has("text"):
        return [Annotation("", row.text("text"), style)]
    hour, minute = row.integer("hour"), row.integer("minute")
    second = row.integer("second") if row.has("second") else -1
    hour12 = hour % 12 or 12
    return [Annotation("", f"{hour12}:{minute:02d}" + (f":{second:02d}" if second >= 0 else ""), style)]


def _vqa(row: _Row, size: tuple[int, int], style: str) -> list[Annotation]:
    """Academic VQA: several human answers (the target is the most frequent) or one answer."""
    question = row.text("question")
    if row.has("answers"):
        raw = row.get("answers")
        if not isinstance(raw, list | tuple) or not raw:
            raise row.error("answers", "expected a non-empty list")
        votes = [a["answer"] if isinstance(a, Mapping) else a for a in raw]
        if not all(isinstance(a, str) for a in votes):
            raise row.error("answers", "expected strings or {answer: string}")
        return [Annotation(question, votes[0], style, answer_votes=tuple(votes))]
    return [Annotation(question, row.text("answer"), style)]


def _multiple_choice(row: _Row, size: tuple[int, int], style: str) -> list[Annotation]:
    """Academic multiple choice: the answer is an option index, its letter, or its text."""
    field = "options" if row.has("options") else "choices"
    options = row.texts(field)
    answer = row.get("answer")
    letters = [chr(ord("A") + k) for k in range(len(options))]
    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(options):
        correct = options[answer]
    elif isinstance(answer, str) and answer in options:
        correct = answer
    elif isinstance(answer, str) and answer.strip().upper() in letters:
        correct = options[letters.index(answer.strip().upper())]
    else:
        raise row.error("answer", f"{answer!r} is neither an option, its index nor its letter")
    return [Annotation(row.text("question"), correct, style, options=tuple(options))]


@dataclass(frozen=True)
class DatasetSpec:
    """Where a source lives on the hub and how one of its rows becomes annotations."""

    hf_id: str | None
    hf_config: str | None
    annotate: Callable[[_Row, tuple[int, int], str], list[Annotation]]
    style: str


DATASETS: dict[str, DatasetSpec] = {
    "pixmo_cap": DatasetSpec("allenai/pixmo-cap", None, _cap, "long_caption"),
    "pixmo_ama": DatasetSpec("allenai/pixmo-ask-model-anything", None, _qa, "user_qa"),
    "pixmo_points": DatasetSpec("allenai/pixmo-points", None, _points, "pointing"),
    "pixmo_points_count": DatasetSpec("allenai/pixmo-points", None, _points, "point_count"),
    "pixmo_count": DatasetSpec("allenai/pixmo-count", None, _points, "point_count"),
    "pixmo_cap_qa": DatasetSpec("allenai/pixmo-cap-qa", None, _qa, "synthetic_qa"),
    **{
        f"pixmo_docs_{kind}": DatasetSpec("allenai/pixmo-docs", kind, _docs, f"pixmo_docs_{kind}")
        for kind in ("charts", "tables", "other", "diagrams")
    },
    "pixmo_clocks": DatasetSpec("allenai/pixmo-clocks", None, _clock, "clocks"),
    "vqa": DatasetSpec(None, None, _vqa, "vqa2"),
    "multiple_choice": DatasetSpec(None, None, _multiple_choice, "a_okvqa_mc"),
}


# ---------------------------------------------------------------------------------------------------------
# Rows from a source.


class _ArrowRows:
    """Random access to the rows of a pyarrow Table (a Parquet file) without converting it all to Python."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def __len__(self) -> int:
        return self.table.num_rows

    def __getitem__(self, index: int) -> Mapping[str, Any]:
        return self.table.slice(index, 1).to_pylist()[0]

    def column(self, name: str) -> list[Any] | None:
        return self.table.column(name).to_pylist() if name in self.table.column_names else None


Rows = Any  # a list of dicts, an _ArrowRows or a datasets.Dataset: len() and rows by index


def _column(rows: Rows, name: str) -> list[Any] | None:
    """One column of the rows as a list, None where the rows have no such column."""
    if isinstance(rows, _ArrowRows):
        return rows.column(name)
    if isinstance(rows, list):
        return [row.get(name) for row in rows] if any(name in row for row in rows) else None
    return list(rows[name]) if name in rows.column_names else None  # a datasets.Dataset


def _hub_rows(spec: DatasetSpec, name: str, split: str) -> tuple[str, Rows]:
    """Rows of the Hugging Face dataset (needs the hub, or its local cache), images left undecoded."""
    if spec.hf_id is None:
        raise ValueError(f"dataset {name!r} has no Hugging Face id: give a local file as its source")
    import datasets  # heavy: only when a hub dataset is read

    dataset = datasets.load_dataset(spec.hf_id, spec.hf_config, split=split)
    return f"{spec.hf_id}[{spec.hf_config or 'default'}:{split}]", _undecoded(dataset)


def _undecoded(dataset: Any) -> Any:
    """A `datasets.Dataset` whose image columns give {"bytes", "path"} instead of decoded PIL images."""
    import datasets

    for column, feature in dataset.features.items():
        if isinstance(feature, datasets.Image):
            dataset = dataset.cast_column(column, datasets.Image(decode=False))
    return dataset


def _file_rows(path: Path, split: str) -> Rows:
    """Rows of a local Parquet file, JSON-lines file or `save_to_disk` folder."""
    if path.is_dir():
        import datasets

        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise ValueError(f"{path}: no split {split!r} (has {sorted(loaded)})")
            loaded = loaded[split]
        return _undecoded(loaded)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return _ArrowRows(pq.read_table(path))
    if path.suffix in {".jsonl", ".json"}:
        return _json_lines(path)
    raise ValueError(f"{path}: unknown data file type (expected .parquet, .jsonl or a save_to_disk folder)")


def _json_lines(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}: row {number}: not valid JSON ({error.msg})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}: row {number}: expected a JSON object")
            rows.append(row)
    return rows


def _image_bytes(row: _Row, base_dir: Path | None, images_dir: Path | None) -> bytes:
    """The row's encoded image file (see the module docstring for the accepted forms)."""
    for field in ("image", "image_path"):
        if not row.has(field):
            continue
        value = row.get(field)
        if isinstance(value, Mapping):  # datasets' undecoded Image: {"bytes": ..., "path": ...}
            if value.get("bytes"):
                return bytes(value["bytes"])
            value = value.get("path")
        if isinstance(value, bytes | bytearray):
            return bytes(value)
        if isinstance(value, Image.Image):
            buffer = io.BytesIO()
            value.save(buffer, format="PNG")
            return buffer.getvalue()
        if isinstance(value, str) and value:
            path = Path(value) if base_dir is None else base_dir / value
            if not path.is_file():
                raise row.error(field, f"no image file at {path}")
            return path.read_bytes()
        raise row.error(field, f"unreadable image value of type {type(value).__name__}")
    if row.has("image_sha256") and images_dir is not None:
        path = images_dir / row.text("image_sha256")
        if not path.is_file():
            raise row.error("image_sha256", f"no downloaded image at {path}")
        return path.read_bytes()
    raise row.error(
        "image", "no image in the row; PixMo ships URLs: download them into images_dir, named by image_sha256"
    )


def _image_size(row: _Row, image: bytes) -> tuple[int, int]:
    try:
        with Image.open(io.BytesIO(image)) as opened:  # reads the header only
            return opened.size
    except (OSError, Image.DecompressionBombError) as error:
        raise row.error("image", f"not a readable image ({error})") from None


class ExampleSource(Sequence[Example]):
    """The Examples of one source, built from its rows when indexed (images are read then, not before).

    Rows about the same image (equal `image_sha256`, else `image_url`, else `image_id`) make one Example,
    in first-seen order; rows with none of these are an Example each. Only those key columns are read up
    front, so a source of millions of rows (memory-mapped by `datasets`, or a Parquet table) stays cheap.
    """

    def __init__(
        self,
        name: str,
        rows: Rows,
        where: str,
        *,
        style: str | None = None,
        base_dir: Path | None = None,
        images_dir: str | Path | None = None,
        limit: int | None = None,
    ) -> None:
        if name not in DATASETS:
            raise ValueError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
        self.name, self.rows, self.where = name, rows, where
        self.spec = DATASETS[name]
        self.style = style or self.spec.style
        self.base_dir = base_dir
        self.images_dir = Path(images_dir) if images_dir is not None else None
        count = len(rows) if limit is None else min(limit, len(rows))
        keys: list[Any] = [None] * count
        for field in ("image_id", "image_url", "image_sha256"):  # the last present wins: sha256 first
            column = _column(rows, field)
            if column is not None:
                keys = [(field, v) if isinstance(v, str) and v else old for old, v in zip(keys, column, strict=False)]
        groups: dict[Any, list[int]] = {}
        for index, key in enumerate(keys):
            groups.setdefault(key if key is not None else ("row", index), []).append(index)
        self.groups = list(groups.values())

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, index: int) -> Example:  # type: ignore[override]
        row_indices = self.groups[index]
        annotations: list[Annotation] = []
        image = b""
        for k, row_index in enumerate(row_indices):
            row = _Row(self.rows[row_index], self.where, row_index)
            if k == 0:
                image = _image_bytes(row, self.base_dir, self.images_dir)
                size = _image_size(row, image)
            annotations.extend(self.spec.annotate(row, size, self.style))
        return Example(f"{self.name}:{row_indices[0]}", image, tuple(annotations), self.name)


def read_examples(
    name: str,
    source: str | Path | None = None,
    *,
    split: str = "train",
    style: str | None = None,
    images_dir: str | Path | None = None,
    limit: int | None = None,
) -> ExampleSource:
    """One source's Examples (one per image, every annotation of it).

    name: a key of DATASETS (it picks the row schema, the hub id and the default style).
    source: a local file or folder; None reads the Hugging Face dataset (`datasets.load_dataset`).
    style: the style of the annotations (for `vqa`/`multiple_choice`: text_vqa, chart_qa, a_okvqa_mc, ...).
    limit: read only the first `limit` rows.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    if source is None:
        where, rows = _hub_rows(DATASETS[name], name, split)
        base_dir = None
    else:
        path = Path(source)
        if not path.exists():
            raise ValueError(f"{path}: no such data file or folder")
        where, rows, base_dir = str(path), _file_rows(path, split), (None if path.is_dir() else path.parent)
    return ExampleSource(name, rows, where, style=style, base_dir=base_dir, images_dir=images_dir, limit=limit)
