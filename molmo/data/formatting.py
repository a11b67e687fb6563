"""Molmo's prompt formatting: annotations -> (prompt text, answer text) turns, as the release trains on them.

Two system-prompt kinds, both deterministic given a seed:

    style_and_length (stage 1, captioning): a style tag with a noisy length hint, no role tags
        " long_caption 83:"  ->  " <caption>"         hint = (len(caption) + int(N(0, 25))) // 15,
                                                        "long_caption :" (no number) 10% of the time
    demo_or_style (stage 2, SFT): a style prefix, in the " User: ... Assistant:" turn format
        " User: chart_qa: What is the value of X? Assistant:"  ->  " 7"
        the demo styles (point_count, pointing, user_qa, long_caption) drop the prefix 90% of the time,
        android_control and demo never have one

Targets the formatter writes itself:
    pointing      <point x="10.5" y="20.1" alt="cats">cats</point>, or <points x1=".." y1=".." x2=.. ..>
                  (0-100 scale, 1 decimal, sorted by x * 10000 + y), "There are none." without points
    point_count   Counting the <points .. alt="cats">cats</points> shows a total of 3.
    multiple choice  question + "\\n" + "A: opt1\\nB: opt2" + "\\n" -> the letter
    several reference answers  the most frequent one, ties broken by the seed
    "how many" questions of user_qa / synthetic_qa get a "no pointing" prefix so plain counting stays possible

The prompt phrasings below are this project's own; the release has 23 caption, 43 pointing and 57
point_count templates and 32 "no pointing" prefixes of its own.
The packer adds the end-of-sequence token after each answer.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from molmo.data.pixmo import Annotation, Example

DEMO_STYLES = frozenset({"point_count", "pointing", "user_qa", "long_caption"})
NO_PREFIX_STYLES = frozenset({"android_control", "demo"})
SYSTEM_PROMPTS = ("demo_or_style", "style_and_length")
MESSAGE_FORMATS = ("role", "none")
NONE_TEXT = "There are none."
PREFIX_KEEP_PROBABILITY = 0.1  # demo styles keep their style prefix this often
NO_LENGTH_PROBABILITY = 0.1  # style_and_length drops the length hint this often
LENGTH_NOISE_STD = 25.0  # characters
CHARS_PER_LENGTH_UNIT = 15

CAPTION_PROMPTS = (
    "Describe this image.",
    "Describe this image in detail.",
    "What do you see in this picture?",
    "Write a detailed description of the image.",
    "Give a thorough caption for this image.",
    "Tell me everything you can see here.",
)
POINTING_PROMPTS = (
    "Point to the {label}.",
    "Point at every {label} in the image.",
    "Where are the {label}? Point to them.",
    "Show me where the {label} are.",
    "Mark each of the {label} with a point.",
    "Locate all {label}.",
)
POINT_COUNT_PROMPTS = (
    "How many {label} are there?",
    "Count the {label}.",
    "How many {label} can you see?",
    "Count the {label} in this image.",
    "What is the number of {label} in the image?",
    "How many {label} are in the picture?",
)
CLOCK_PROMPTS = (
    "What time is it?",
    "What time does the clock show?",
    "Read the time on this clock.",
    "What time is shown?",
)
NO_POINT_PREFIXES = ("No pointing: ", "Answer without pointing: ", "Do not point. ", "Without pointing, answer: ")


@dataclass(frozen=True)
class Turn:
    """One formatted annotation: the prompt text, the answer text (loss is taken on it) and its weight."""

    prompt: str
    answer: str
    weight: float = 1.0


def points_to_text(points: Sequence[tuple[float, float]], label: str, alt: str | None = None) -> str:
    """Points on the 0-100 scale in the release's tag format, sorted left to right then top to bottom."""
    alt = label if alt is None else alt
    if not points:
        return NONE_TEXT
    ordered = sorted(points, key=lambda p: p[0] * 10000 + p[1])
    if len(ordered) == 1:
        (x, y), = ordered
        return f'<point x="{x:.1f}" y="{y:.1f}" alt="{alt}">{label}</point>'
    coords = " ".join(f'x{k}="{x:.1f}" y{k}="{y:.1f}"' for k, (x, y) in enumerate(ordered, start=1))
    return f'<points {coords} alt="{alt}">{label}</points>'


def count_to_text(points: Sequence[tuple[float, float]], label: str) -> str:
    """The point-then-count target: the points, then the total."""
    if not points:
        return NONE_TEXT
    return f"Counting the {points_to_text(points, label)} shows a total of {len(points)}."


def _letter(k: int) -> str:
    return chr(ord("A") + k)


def _question_and_answer(annotation: Annotation, rng: random.Random) -> tuple[str, str, str]:
    """(style, question text, answer text) of an annotation in the demo_or_style setting."""
    style, question, answer = annotation.style, annotation.prompt, annotation.answer
    if annotation.answer_votes:
        counts = Counter(annotation.answer_votes)
        top = max(counts.values())
        answer = rng.choice(sorted(a for a, c in counts.items() if c == top))
    if style == "pointing":
        question = rng.choice(POINTING_PROMPTS).format(label=annotation.label)
        answer = points_to_text(annotation.points or (), annotation.label)
    elif style == "point_count":
        question = rng.choice(POINT_COUNT_PROMPTS).format(label=annotation.label)
        answer = count_to_text(annotation.points or (), annotation.label)
    elif style in {"long_caption", "transcript"} and not question:
        question = rng.choice(CAPTION_PROMPTS)
    elif style == "clocks" and not question:
        question = rng.choice(CLOCK_PROMPTS)
    elif annotation.options and style == "ai2_diagram" and all(len(o) == 1 and o.isalpha() for o in annotation.options):
        style, question = "ai2_diagram_no_letter", question + "\n" + "\n".join(annotation.options) + "\n"
    elif annotation.options:
        listed = "\n".join(f"{_letter(k)}: {option}" for k, option in enumerate(annotation.options))
        question, answer = f"{question}\n{listed}\n", _letter(annotation.options.index(answer))
    elif style in {"user_qa", "synthetic_qa"} and question.lower().startswith("how many"):
        question = rng.choice(NO_POINT_PREFIXES) + question
    return style, question, answer


def _style_and_length(annotation: Annotation, rng: random.Random) -> tuple[str, str]:
    """Stage 1: the user text is the style and a noisy length hint, e.g. "long_caption 83:"."""
    if rng.random() < NO_LENGTH_PROBABILITY:
        return f"{annotation.style} :", annotation.answer
    length = max(0, len(annotation.answer) + int(rng.gauss(0.0, LENGTH_NOISE_STD)))
    return f"{annotation.style} {length // CHARS_PER_LENGTH_UNIT}:", annotation.answer


def format_annotation(
    annotation: Annotation, rng: random.Random, system_prompt: str = "demo_or_style", message_format: str = "role"
) -> Turn:
    """One annotation -> one Turn, drawing templates and noise from `rng`."""
    if system_prompt == "style_and_length":
        user, answer = _style_and_length(annotation, rng)
    elif system_prompt == "demo_or_style":
        style, question, answer = _question_and_answer(annotation, rng)
        keep_prefix = style not in NO_PREFIX_STYLES and (
            style not in DEMO_STYLES or rng.random() < PREFIX_KEEP_PROBABILITY
        )
        user = f"{style}: {question}" if keep_prefix else question
    else:
        raise ValueError(f"unknown system_prompt {system_prompt!r}; expected one of {SYSTEM_PROMPTS}")
    if message_format == "role":
        return Turn(f" User: {user} Assistant:", f" {answer}", annotation.weight)
    if message_format == "none":
        return Turn(f" {user}", f" {answer}", annotation.weight)
    raise ValueError(f"unknown message_format {message_format!r}; expected one of {MESSAGE_FORMATS}")


def format_example(
    example: Example,
    seed: int,
    *,
    system_prompt: str = "demo_or_style",
    message_format: str = "role",
    shuffle: bool = False,
    transcripts_per_example: int = 1,
) -> list[Turn]:
    """All annotations of one example as Turns; the same seed gives the same turns.

    transcripts_per_example: PixMo-Cap rows carry several transcripts; the release trains on the caption
        plus one of them chosen at random.
    shuffle: shuffle the order of the annotations (the release does at SFT).
    """
    rng = random.Random(seed)
    transcripts = [k for k, a in enumerate(example.annotations) if a.style == "transcript"]
    kept = set(rng.sample(transcripts, min(transcripts_per_example, len(transcripts))))
    annotations = [a for k, a in enumerate(example.annotations) if a.style != "transcript" or k in kept]
    if shuffle:
        rng.shuffle(annotations)
    return [format_annotation(a, rng, system_prompt, message_format) for a in annotations]
