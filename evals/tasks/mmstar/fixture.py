"""MMStar fixture rows: one small drawn question for each of the 18 axes of the 6 capabilities, in turn, four options
inline in the question ("\\nOptions: A: ..., B: ..."), the answer's letter, as Lin-Chen/MMStar's val split holds
them. Every image is drawn from the truth the question asks about."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

from evals.fixtures.checks import blobs, picked, pixels
from evals.fixtures.common import Example, image_cell
from evals.fixtures.draw import COLORS, INK, PAPER, SKY, Shape
from evals.fixtures.scenes import COUNTABLES, count_scene
from evals.items import EvalItem
from molmo.data.drawing import SHAPES, arrow, canvas, centered_text, grid_boxes, png, text_box

AXES = (
    ("coarse perception", "image scene and topic"),
    ("coarse perception", "image style & quality"),
    ("coarse perception", "image emotion"),
    ("fine-grained perception", "object counting"),
    ("fine-grained perception", "recognition"),
    ("fine-grained perception", "localization"),
    ("instance reasoning", "single-instance reasoning"),
    ("instance reasoning", "cross-instance attribute reasoning"),
    ("instance reasoning", "cross-instance relation reasoning"),
    ("logical reasoning", "code & sequence reasoning"),
    ("logical reasoning", "diagram reasoning"),
    ("logical reasoning", "common reasoning"),
    ("science & technology", "biology & chemistry & physics"),
    ("science & technology", "electronics & energy & mechanical eng."),
    ("science & technology", "geography & earth science & agriculture"),
    ("math", "geometry"),
    ("math", "numeric commonsense and calculation"),
    ("math", "statistical reasoning"),
)

# What a template returns: the image, the question stem, the correct option, three wrong ones, the truth.
Drawn = tuple[bytes, str, str, list[str], dict[str, Any]]


def _others(correct: str, candidates: list[str]) -> list[str]:
    """The first three candidates that differ from `correct` and from each other."""
    return [value for value in dict.fromkeys(candidates) if value != correct][:3]


def _shapes(rng: random.Random, n: int, size: int = 40) -> tuple[Any, Any, list[Shape]]:
    image, draw = canvas(320, 240, PAPER)
    shapes = [Shape(rng.choice(SHAPES), color, box)
              for color, box in zip(rng.sample(list(COLORS), n), grid_boxes(rng, n, (10, 10, 310, 230), size),
                                    strict=True)]
    for shape in shapes:
        shape.draw(draw)
    return image, draw, shapes


def _scene(rng: random.Random) -> Drawn:
    image, _, shapes = _shapes(rng, rng.randint(3, 5))
    wrong = ["a crowded city street", "a bowl of fruit", "a handwritten letter"]
    return png(image), "What does this image mainly show?", "coloured geometric shapes", wrong, {"shapes": shapes}


def _style(rng: random.Random) -> Drawn:
    image, _, shapes = _shapes(rng, rng.randint(2, 4))
    wrong = ["a black-and-white photograph", "an oil painting", "a blurry night photograph"]
    return png(image), "Which best describes the style of this image?", "a flat digital drawing", wrong, {
        "shapes": shapes}


def _emotion(rng: random.Random) -> Drawn:
    mood = rng.choice(["happy", "sad"])
    image, draw = canvas(240, 240, SKY)
    draw.ellipse((40, 40, 200, 200), fill=COLORS["yellow"], outline=INK, width=3)
    draw.ellipse((85, 90, 100, 105), fill=INK)
    draw.ellipse((140, 90, 155, 105), fill=INK)
    arc = (80, 110, 160, 170) if mood == "happy" else (80, 140, 160, 200)
    draw.arc(arc, *((20, 160) if mood == "happy" else (200, 340)), fill=INK, width=4)
    wrong = [m for m in ("happy", "sad", "angry", "surprised") if m != mood]
    return png(image), "What emotion does the face in the image show?", mood, wrong, {"mood": mood}


def _counting(rng: random.Random) -> Drawn:
    noun, kind, color = rng.choice(COUNTABLES)
    count = rng.randint(2, 7)
    image, _ = count_scene(rng, (kind, color), count, [])
    wrong = [str(v) for v in rng.sample([v for v in range(1, 10) if v != count], 3)]
    return image, f"How many {noun} are there in the image?", str(count), wrong, {"color": color, "count": count}


def _recognition(rng: random.Random) -> Drawn:
    image, _, shapes = _shapes(rng, 3)
    target = rng.choice(shapes)
    wrong = [kind for kind in (*SHAPES, "star") if kind != target.kind][:3]
    return png(image), f"What shape is the {target.color} object?", target.kind, wrong, {"target": target}


def _localization(rng: random.Random) -> Drawn:
    image, draw = canvas(320, 240, PAPER)
    side = rng.choice(["left", "right"])
    x = rng.randint(20, 90) if side == "left" else rng.randint(190, 260)
    target = Shape(rng.choice(SHAPES), rng.choice(list(COLORS)), (x, 100, x + 40, 140))
    target.draw(draw)
    wrong = [f"on the {'right' if side == 'left' else 'left'}", "at the very top", "at the very bottom"]
    return png(image), f"Where is the {target.color} {target.kind} in the image?", f"on the {side}", wrong, {
        "target": target, "side": side}


def _single_instance(rng: random.Random) -> Drawn:
    image, _, (shape,) = _shapes(rng, 1, size=60)
    wrong = rng.sample([c for c in COLORS if c != shape.color], 3)
    return png(image), f"What color is the {shape.kind}?", shape.color, wrong, {"target": shape}


def _attribute(rng: random.Random) -> Drawn:
    image, draw = canvas(320, 240, PAPER)
    (c1, c2), (k1, k2) = rng.sample(list(COLORS), 2), rng.sample(SHAPES, 2)
    big, small = rng.sample([0, 1], 2)
    sizes = {big: 90, small: 40}
    first = Shape(k1, c1, (30, 70, 30 + sizes[0], 70 + sizes[0]))
    second = Shape(k2, c2, (180, 70, 180 + sizes[1], 70 + sizes[1]))
    first.draw(draw)
    second.draw(draw)
    names = [f"the {c1} {k1}", f"the {c2} {k2}"]
    stem = f"Which is larger, the {c1} {k1} or the {c2} {k2}?"
    return png(image), stem, names[big], [names[small], "they are the same size", "neither is shown"], {
        "shapes": [first, second], "larger": big}


def _relation(rng: random.Random) -> Drawn:
    image, _, (first, second) = _shapes(rng, 2, size=50)
    while abs(first.center[0] - second.center[0]) < 60:
        image, _, (first, second) = _shapes(rng, 2, size=50)
    side = "left of" if first.center[0] < second.center[0] else "right of"
    other = "right of" if side == "left of" else "left of"
    stem = f"Is the {first.color} {first.kind} to the left or to the right of the {second.color} {second.kind}?"
    return png(image), stem, f"to the {side}", [f"to the {other}", "on top of it", "inside it"], {
        "shapes": [first, second], "side": side}


def _sequence(rng: random.Random) -> Drawn:
    start, step = rng.randint(1, 9), rng.randint(2, 6)
    values = [start + step * k for k in range(4)]
    image, draw = canvas(320, 120, PAPER)
    centered_text(draw, (0, 0, 320, 120), ", ".join(map(str, values)) + ", ?", 26)
    answer = values[-1] + step
    wrong = _others(str(answer), [str(answer + step), str(answer - 1), str(answer + 1)])
    return png(image), "Which number comes next in the sequence shown?", str(answer), wrong, {
        "values": values, "next": answer}


_CHAINS = (["seed", "sprout", "flower", "fruit"], ["egg", "larva", "pupa", "moth"], ["ice", "water", "steam", "cloud"])


def _diagram(rng: random.Random) -> Drawn:
    chain = list(rng.choice(_CHAINS))
    image, draw = canvas(420, 120, PAPER)
    for k, name in enumerate(chain):
        box = (10 + 105 * k, 40, 90 + 105 * k, 80)
        draw.rectangle(box, outline=INK, width=2)
        centered_text(draw, box, name, 13)
        if k:
            arrow(draw, (92 + 105 * (k - 1), 60), (8 + 105 * k, 60), INK)
    k = rng.randrange(3)
    wrong = [name for name in chain if name != chain[k + 1]][:3]
    return png(image), f"In the diagram, what comes right after {chain[k]}?", chain[k + 1], wrong, {
        "chain": chain, "after": chain[k]}


_LIGHTS = {"red": "stop", "green": "go", "yellow": "slow down"}


def _common(rng: random.Random) -> Drawn:
    lit = rng.choice(list(_LIGHTS))
    image, draw = canvas(160, 240, SKY)
    draw.rectangle((50, 20, 110, 200), fill=(30, 30, 30))
    for k, lamp in enumerate(("red", "yellow", "green")):
        draw.ellipse((60, 30 + 56 * k, 100, 70 + 56 * k), fill=COLORS[lamp] if lamp == lit else (70, 70, 70))
    wrong = [action for action in (*_LIGHTS.values(), "turn around") if action != _LIGHTS[lit]]
    return png(image), "What should a driver facing this traffic light do?", _LIGHTS[lit], wrong, {"lit": lit}


_FORMULAS = {"H2O": "water", "CO2": "carbon dioxide", "NaCl": "table salt", "O2": "oxygen"}


def _chemistry(rng: random.Random) -> Drawn:
    formula = rng.choice(list(_FORMULAS))
    image, draw = canvas(240, 120, PAPER)
    centered_text(draw, (0, 0, 240, 120), formula, 40)
    wrong = [name for name in _FORMULAS.values() if name != _FORMULAS[formula]]
    return png(image), "Which substance has the chemical formula shown?", _FORMULAS[formula], wrong, {
        "formula": formula}


def _circuit(rng: random.Random) -> Drawn:
    closed = rng.random() < 0.5
    image, draw = canvas(320, 200, PAPER)
    draw.line([(60, 50), (260, 50), (260, 150), (60, 150), (60, 50)], fill=INK, width=3)
    draw.rectangle((40, 85, 80, 115), fill=PAPER, outline=INK, width=3)  # the battery
    text_box(draw, (48, 90), "+ -", 14)
    draw.ellipse((240, 80, 280, 120), fill=COLORS["yellow"] if closed else PAPER, outline=INK, width=3)  # the bulb
    draw.rectangle((140, 40, 180, 60), fill=PAPER)
    draw.line([(140, 50), (180, 50) if closed else (175, 25)], fill=INK, width=3)  # the switch
    answers = ["yes, the circuit is closed", "no, the switch is open"]
    correct = answers[0] if closed else answers[1]
    wrong = [answers[1] if closed else answers[0], "only without the battery", "it cannot be told"]
    return png(image), "Does the bulb in this circuit light up?", correct, wrong, {"closed": closed}


_DIRECTIONS = {"north": (0, -1), "east": (1, 0), "south": (0, 1), "west": (-1, 0)}


def _compass(rng: random.Random) -> Drawn:
    direction = rng.choice(list(_DIRECTIONS))
    image, draw = canvas(240, 240, PAPER)
    text_box(draw, (112, 4), "N", 18, bold=True)
    dx, dy = _DIRECTIONS[direction]
    arrow(draw, (120 - 70 * dx, 130 - 70 * dy), (120 + 70 * dx, 130 + 70 * dy), COLORS["red"])
    wrong = [d for d in _DIRECTIONS if d != direction]
    return png(image), "On this map, which direction does the red arrow point?", direction, wrong, {
        "direction": direction}


def _geometry(rng: random.Random) -> Drawn:
    radius = rng.randint(2, 9)
    image, draw = canvas(240, 240, PAPER)
    draw.ellipse((30, 30, 210, 210), outline=INK, width=3)
    draw.line([(120, 120), (210, 120)], fill=INK, width=2)
    text_box(draw, (135, 98), f"r = {radius} cm", 14)
    wrong = _others(f"{2 * radius} cm", [f"{v} cm" for v in (radius, radius * radius, 2 * radius + 2, 4 * radius)])
    return png(image), "What is the diameter of the circle?", f"{2 * radius} cm", wrong, {"radius": radius}


def _calculation(rng: random.Random) -> Drawn:
    a, b = rng.randint(10, 60), rng.randint(2, 30)
    image, draw = canvas(240, 120, PAPER)
    centered_text(draw, (0, 0, 240, 120), f"{a} + {b} = ?", 30)
    wrong = _others(str(a + b), [str(a + b + 1), str(a + b - 10), str(a * b), str(a + b + 10)])
    return png(image), "What is the result of the calculation shown?", str(a + b), wrong, {"terms": (a, b)}


def _statistics(rng: random.Random) -> Drawn:
    labels = rng.sample(["Mon", "Tue", "Wed", "Thu", "Fri"], 4)
    values = rng.sample(range(2, 20), 4)
    image, draw = canvas(320, 240, PAPER)
    for k, (label, value) in enumerate(zip(labels, values, strict=True)):
        draw.rectangle((30 + 70 * k, 200 - 9 * value, 80 + 70 * k, 200), fill=COLORS["blue"])
        text_box(draw, (40 + 70 * k, 205), label, 12)
        text_box(draw, (45 + 70 * k, 183 - 9 * value), str(value), 12)
    tallest = labels[values.index(max(values))]
    wrong = [label for label in labels if label != tallest]
    return png(image), "Which day has the tallest bar in the chart?", tallest, wrong, {
        "labels": labels, "values": values}


TEMPLATES: dict[str, Callable[[random.Random], Drawn]] = {
    "image scene and topic": _scene,
    "image style & quality": _style,
    "image emotion": _emotion,
    "object counting": _counting,
    "recognition": _recognition,
    "localization": _localization,
    "single-instance reasoning": _single_instance,
    "cross-instance attribute reasoning": _attribute,
    "cross-instance relation reasoning": _relation,
    "code & sequence reasoning": _sequence,
    "diagram reasoning": _diagram,
    "common reasoning": _common,
    "biology & chemistry & physics": _chemistry,
    "electronics & energy & mechanical eng.": _circuit,
    "geography & earth science & agriculture": _compass,
    "geometry": _geometry,
    "numeric commonsense and calculation": _calculation,
    "statistical reasoning": _statistics,
}


def generate(rng: random.Random, n: int) -> list[Example]:
    """`n` rows, the axes in turn; options shuffled, the answer the correct option's letter."""
    examples = []
    for i in range(n):
        category, axis = AXES[i % len(AXES)]
        image, stem, correct, wrong, truth = TEMPLATES[axis](rng)
        choices = [correct, *wrong]
        rng.shuffle(choices)
        letter = chr(ord("A") + choices.index(correct))
        listed = ", ".join(f"{chr(ord('A') + k)}: {choice}" for k, choice in enumerate(choices))
        index = 1 + i
        row = {
            "index": index,
            "question": f"{stem}\nOptions: {listed}",
            "image": image_cell(image),
            "answer": letter,
            "category": category,
            "l2_category": axis,
            "meta_info": {"source": "molmo-arena-fixture", "split": "val", "image_path": f"images/{index}.png"},
        }
        examples.append(Example(row=row, truth={**truth, "axis": axis, "correct": correct}))
    return examples


def features() -> Any:
    """The hub dataset's `datasets` features (its parquet): column order, dtypes, image columns."""
    from datasets import Features, Image, Value

    string = Value("string")
    return Features({
        "index": Value("int64"),
        "question": string,
        "image": Image(),
        "answer": string,
        "category": string,
        "l2_category": string,
        "meta_info": {"source": string, "split": string, "image_path": string},
    })


def _centroid_x(image: bytes, color: tuple[int, int, int]) -> float:
    mask = np.abs(pixels(image) - np.array(color)).max(axis=2) <= 10
    return float(np.nonzero(mask)[1].mean())


def check(item: EvalItem, truth: dict) -> None:
    """The answer is the option the truth makes correct; counts, colours, sides and sizes are on the pixels."""
    assert picked(item) == truth["correct"] and item.meta["l2_category"] == truth["axis"]
    assert len(item.choices) == 4 and len(set(item.choices)) == 4
    axis, image = truth["axis"], item.image
    if axis == "object counting":
        assert blobs(image, COLORS[truth["color"]]) == truth["count"]
    elif axis in {"recognition", "single-instance reasoning"}:
        target = truth["target"]
        assert tuple(pixels(image)[target.center[1], target.center[0]]) == COLORS[target.color]
    elif axis == "localization":
        assert (_centroid_x(image, COLORS[truth["target"].color]) < 160) == (truth["side"] == "left")
    elif axis == "cross-instance relation reasoning":
        first, second = truth["shapes"]
        left = _centroid_x(image, COLORS[first.color]) < _centroid_x(image, COLORS[second.color])
        assert left == (truth["side"] == "left of")
    elif axis == "cross-instance attribute reasoning":
        areas = [int((np.abs(pixels(image) - np.array(COLORS[s.color])).max(axis=2) <= 10).sum())
                 for s in truth["shapes"]]
        assert areas.index(max(areas)) == truth["larger"]
    elif axis == "code & sequence reasoning":
        values = truth["values"]
        assert int(truth["correct"]) == 2 * values[-1] - values[-2]
    elif axis == "geometry":
        assert truth["correct"] == f"{2 * truth['radius']} cm"
    elif axis == "numeric commonsense and calculation":
        assert int(truth["correct"]) == sum(truth["terms"])
    elif axis == "statistical reasoning":
        assert truth["values"][truth["labels"].index(truth["correct"])] == max(truth["values"])
