"""Prompt formatting: the release's point tags, style prefixes, length hints and turn format, seeded."""

from __future__ import annotations

import random
import re

import pytest

from molmo.data.formatting import (
    CAPTION_PROMPTS,
    NO_POINT_PREFIXES,
    count_to_text,
    format_annotation,
    format_example,
    points_to_text,
)
from molmo.data.pixmo import Annotation, Example
from molmo.pointing import count_points, parse_points


def test_one_point_is_a_point_tag_with_one_decimal():
    assert points_to_text([(10.54, 20.06)], "cat") == '<point x="10.5" y="20.1" alt="cat">cat</point>'


def test_several_points_are_numbered_left_to_right_then_top_to_bottom():
    points = [(60.0, 5.0), (10.0, 90.0), (10.0, 30.0), (33.33, 50.0)]
    assert points_to_text(points, "dogs", alt="the dogs") == (
        '<points x1="10.0" y1="30.0" x2="10.0" y2="90.0" x3="33.3" y3="50.0" x4="60.0" y4="5.0" '
        'alt="the dogs">dogs</points>'
    )


def test_no_points_and_counting_targets():
    assert points_to_text([], "cats") == "There are none."
    assert count_to_text([], "cats") == "There are none."
    text = count_to_text([(50.0, 50.0), (20.0, 80.0)], "cats")
    assert text == ('Counting the <points x1="20.0" y1="80.0" x2="50.0" y2="50.0" alt="cats">cats</points> '
                    "shows a total of 2.")


def test_the_serialised_points_parse_back_with_molmo_pointing():
    rng = random.Random(0)
    points = [(round(rng.uniform(0, 100), 1), round(rng.uniform(0, 100), 1)) for _ in range(7)]
    (parsed,) = parse_points(points_to_text(points, "stars"), 100.0, 100.0)
    assert [(round(x, 1), round(y, 1)) for x, y in sorted(parsed.points)] == sorted(points)
    assert parsed.alt == parsed.label == "stars"
    assert count_points(count_to_text(points, "stars")) == 7


def test_role_format_with_a_style_prefix():
    turn = format_annotation(Annotation("What is the value of X?", "7", "chart_qa"), random.Random(0))
    assert (turn.prompt, turn.answer) == (" User: chart_qa: What is the value of X? Assistant:", " 7")


def test_demo_styles_keep_their_prefix_one_time_in_ten():
    annotation = Annotation("Tell me about it.", "Sure.", "user_qa")
    kept = sum(format_annotation(annotation, random.Random(seed)).prompt.startswith(" User: user_qa: ")
               for seed in range(2000))
    assert 140 < kept < 260
    plain = format_annotation(annotation, random.Random(1))
    assert plain.prompt in (" User: Tell me about it. Assistant:", " User: user_qa: Tell me about it. Assistant:")


def test_android_control_never_has_a_prefix():
    turn = format_annotation(Annotation("low_level: tap the icon", "tap(3)", "android_control"), random.Random(0))
    assert turn.prompt == " User: low_level: tap the icon Assistant:"


def test_pointing_and_counting_prompts_name_the_label_and_targets_hold_the_points():
    annotation = Annotation("", "", "point_count", label="red circles", points=((50.0, 50.0),))
    turn = format_annotation(annotation, random.Random(3))
    assert "red circles" in turn.prompt and turn.prompt.endswith(" Assistant:")
    assert turn.answer == (' Counting the <point x="50.0" y="50.0" alt="red circles">red circles</point> '
                           "shows a total of 1.")
    pointing = format_annotation(Annotation("", "", "pointing", label="dogs", points=()), random.Random(0))
    assert pointing.answer == " There are none."


def test_style_and_length_hint_for_captions():
    caption = "x" * 300
    hints = []
    for seed in range(1000):
        turn = format_annotation(Annotation("", caption, "long_caption"), random.Random(seed), "style_and_length",
                                 "none")
        assert turn.answer == " " + caption
        match = re.fullmatch(r" long_caption (\d*):", turn.prompt)
        assert match, turn.prompt
        hints.append(match[1])
    numbers = [int(h) for h in hints if h]
    assert 60 < hints.count("") < 140  # the hint is left out 10% of the time
    assert min(numbers) >= 14 and max(numbers) <= 26 and 19 <= sum(numbers) / len(numbers) <= 21  # (300 +- 25) / 15


def test_captions_at_sft_take_a_natural_prompt():
    turn = format_annotation(Annotation("", "A cat.", "long_caption"), random.Random(5))
    assert turn.prompt.removeprefix(" User: ").removeprefix("long_caption: ").removesuffix(" Assistant:") in (
        CAPTION_PROMPTS)


def test_multiple_choice_lists_lettered_options_and_targets_the_letter():
    turn = format_annotation(Annotation("Which animal?", "dog", "a_okvqa_mc", options=("cat", "dog", "cow")),
                             random.Random(0))
    assert turn.prompt == " User: a_okvqa_mc: Which animal?\nA: cat\nB: dog\nC: cow\n Assistant:"
    assert turn.answer == " B"
    letters = format_annotation(Annotation("Which label?", "C", "ai2_diagram", options=("A", "B", "C")),
                                random.Random(0))
    assert letters.prompt == " User: ai2_diagram_no_letter: Which label?\nA\nB\nC\n Assistant:"
    assert letters.answer == " C"


def test_several_answers_train_on_the_most_frequent():
    annotation = Annotation("Colour?", "blue", "vqa2", answer_votes=("blue", "red", "red", "green"))
    assert format_annotation(annotation, random.Random(0)).answer == " red"
    tied = Annotation("Colour?", "blue", "vqa2", answer_votes=("blue", "red"))
    assert {format_annotation(tied, random.Random(s)).answer for s in range(50)} == {" blue", " red"}


def test_how_many_questions_in_free_form_qa_get_a_no_pointing_prefix():
    turn = format_annotation(Annotation("How many cars are there?", "Three.", "synthetic_qa"), random.Random(0))
    body = turn.prompt.removeprefix(" User: synthetic_qa: ")
    assert any(body.startswith(prefix + "How many cars") for prefix in NO_POINT_PREFIXES)


def test_examples_are_deterministic_keep_one_transcript_and_shuffle():
    example = Example("e", b"", (
        Annotation("", "The caption.", "long_caption"),
        Annotation("", "first transcript", "transcript"),
        Annotation("", "second transcript", "transcript"),
    ))
    turns = format_example(example, 7, system_prompt="style_and_length", message_format="none")
    assert turns == format_example(example, 7, system_prompt="style_and_length", message_format="none")
    assert len(turns) == 2 and turns[0].answer == " The caption."
    chosen = {format_example(example, s, system_prompt="style_and_length")[1].answer for s in range(40)}
    assert chosen == {" first transcript", " second transcript"}
    qa = Example("q", b"", tuple(Annotation(f"Q{k}", f"A{k}", "vqa2") for k in range(5)))
    orders = {tuple(t.answer for t in format_example(qa, s, shuffle=True)) for s in range(20)}
    assert len(orders) > 1 and all(sorted(o) == [f" A{k}" for k in range(5)] for o in orders)


def test_unknown_settings_are_errors():
    with pytest.raises(ValueError, match="unknown system_prompt"):
        format_annotation(Annotation("q", "a", "vqa2"), random.Random(0), system_prompt="chat")
    with pytest.raises(ValueError, match="unknown message_format"):
        format_annotation(Annotation("q", "a", "vqa2"), random.Random(0), message_format="chatml")
