"""Parsing, counting and drawing Molmo's `<point>` / `<points>` output: the one set of cases for the one reader
(`molmo.pointing`), which the counting metric (tests/evals/test_metric_counting.py reuses POINT_CASES), the
arena and the demo all use."""

import random
import re

import numpy as np
import pytest
from PIL import Image

from molmo.pointing import PALETTE, PointSet, count_points, draw_points, parse_points, without_points

# (model output, how many valid points it holds). None of them writes a count in words or digits outside its tags.
POINT_CASES = [
    ('<point x="10.5" y="20.1" alt="cat">cat</point>', 1),
    ('<points x1="10" y1="20" x2="30" y2="40" x3="50" y3="60" alt="dogs">dogs</points>', 3),
    ('<point x="1" y="2" alt="a">a</point> and <point x="3" y="4" alt="b">b</point>', 2),
    ('<point x="100" y="0" alt="edge">edge</point>', 1),  # 0 and 100 are on the image
    ('<point x="150" y="20">', 0),  # above 100: the release's reader drops the point
    ('<points x1="-5" y1="20" x2="50" y2="50">', 1),  # no sign in the release's numbers
    ('<point x=" 5" y="6">', 1),  # leading spaces are allowed...
    ('<point x="5 " y="6">', 0),  # ...trailing ones are not
    ('<point x="1e1" y="5">', 0),
    ('<point x="nan" y="5">', 0),
    ('<point x="3." y="5">', 0),
    ('<points x1="1" y1="2" x2="3"', 1),  # cut off by the token limit: the complete pair counts
    ('<points x1="1" y1="2" x2="3" y2="4"</points>', 2),
    ("<points x1=abc y1=>", 0),
    ("<points", 0),
    ("<point>", 0),
    ("</points></point><<>>", 0),
    ('<points x1="1e5" y1="--" alt=">">', 0),
]


@pytest.mark.parametrize(("text", "count"), POINT_CASES)
def test_point_cases(text, count):
    assert count_points(text) == count
    assert sum(len(p.points) for p in parse_points(text, 640, 480)) == count


def release_format(points: list[tuple[float, float]], alt: str, label: str) -> str:
    """Points (0-100) written as the Molmo training data writes them: one decimal, sorted by x then y."""
    points = sorted(((round(x, 1), round(y, 1)) for x, y in points), key=lambda p: p[0] * 10000 + p[1])
    if len(points) == 1:
        (x, y) = points[0]
        return f'<point x="{x:0.1f}" y="{y:0.1f}" alt="{alt}">{label}</point>'
    coords = " ".join(f'x{i}="{x:0.1f}" y{i}="{y:0.1f}"' for i, (x, y) in enumerate(points, start=1))
    return f'<points {coords} alt="{alt}">{label}</points>'


def test_single_point_to_pixels():
    parsed = parse_points('<point x="10.5" y="20" alt="cat">cat</point>', width=200, height=100)
    assert parsed == [PointSet(points=((21.0, 20.0),), alt="cat", label="cat")]


def test_multiple_points_to_pixels():
    text = '<points x1="10.0" y1="20.0" x2="30.5" y2="40.0" x3="100" y3="0" alt="three cats">cats</points>'
    (parsed,) = parse_points(text, width=640, height=480)
    np.testing.assert_allclose(parsed.points, [(64.0, 96.0), (195.2, 192.0), (640.0, 0.0)])
    assert (parsed.alt, parsed.label) == ("three cats", "cats")
    assert count_points(text) == 3


def test_counting_answer_and_several_tags():
    text = (
        'Counting the <points x1="12.0" y1="50.0" x2="40.1" y2="55.5" alt="dog">dog</points> shows a total '
        'of 2. The cat: <point x="90.0" y="10.0" alt="a cat">cat</point>'
    )
    parsed = parse_points(text, width=100, height=100)
    assert [p.label for p in parsed] == ["dog", "cat"]
    np.testing.assert_allclose(parsed[0].points, [(12.0, 50.0), (40.1, 55.5)])
    assert count_points(text) == 3


def test_no_points():
    assert parse_points("There are none.", 100, 100) == []
    assert count_points("There are none.") == 0
    assert count_points("") == 0


def test_numbering_order_not_attribute_order():
    text = '<points x2="50" y2="60" x1="10" y1="20" alt="a">a</points>'
    assert parse_points(text, 100, 100)[0].points == ((10.0, 20.0), (50.0, 60.0))


def test_lenient_forms():
    # single quotes, upper case, spaces around "=", a missing closing tag, a tag cut off by the token limit
    assert parse_points("<point x='5' y='6' alt='a'>a</point>", 100, 100)[0].points == ((5.0, 6.0),)
    assert parse_points('<POINT X="5" Y="6" ALT="a">a</POINT>', 100, 100)[0].label == "a"
    assert parse_points('<point x = "5" y= "6">', 100, 100)[0].points == ((5.0, 6.0),)
    unclosed = parse_points('<point x="5" y="6" alt="cat">cat', 100, 100)
    assert unclosed == [PointSet(((5.0, 6.0),), "cat", "")]
    truncated = parse_points('Counting the <points x1="1.0" y1="2.0" x2="3.0" y2=', 100, 100)
    assert truncated == [PointSet(((1.0, 2.0),), "", "")]


def test_malformed_points_are_skipped():
    text = (
        '<points x1="10" y1="10" x2="abc" y2="5" x3="101" y3="5" x4="5" y4="-1" x5="nan" y5="5" '
        'x6="inf" y6="5" x7="7" x8="8" y8="" y9="9" x10="20" y10="30" alt="mixed">m</points>'
    )
    (parsed,) = parse_points(text, 100, 100)
    assert parsed.points == ((10.0, 10.0), (20.0, 30.0))
    assert parse_points('<point y="5" alt="no x">no x</point>', 100, 100) == []
    assert parse_points('<pointer x="5" y="5">', 100, 100) == []
    assert count_points('<point x="1" y="1">a</point> <point x="200" y="1">b</point>') == 1


def test_without_points_keeps_only_the_prose():
    text = 'Counting the <points x1="1" y1="2" x2="3" y2="4" alt="2 dogs">2 dogs</points> shows a total of 2.'
    assert without_points(text).split() == ["Counting", "the", "shows", "a", "total", "of", "2."]
    assert without_points("3 cats</point>").split() == ["3", "cats"]


# The release's own reader of point tags (allenai/molmo olmo/util.py `extract_points`, its x/y attribute pattern):
# an x attribute followed by a y attribute, each a plain decimal after optional spaces, a point over 100 dropped.
_RELEASE_PAIR = re.compile(r'x\d*="\s*([0-9]+(?:\.[0-9]+)?)"\s+y\d*="\s*([0-9]+(?:\.[0-9]+)?)"')


def _release_count(text: str) -> int:
    return sum(max(float(x), float(y)) <= 100 for x, y in _RELEASE_PAIR.findall(text))


def test_counts_equal_the_release_reader_on_release_formatted_output():
    rng = random.Random(7)
    values = ["0", "100", "12.5", " 7", "99.9", "100.1", "150", "-5", "1e2", "abc", "3.", "", "0.0"]
    for _ in range(2000):
        n = rng.randint(1, 8)
        pairs = [(rng.choice(values), rng.choice(values)) for _ in range(n)]
        if n == 1:
            text = f'<point x="{pairs[0][0]}" y="{pairs[0][1]}" alt="a">a</point>'
        else:
            coords = " ".join(f'x{i}="{x}" y{i}="{y}"' for i, (x, y) in enumerate(pairs, start=1))
            text = f'Counting the <points {coords} alt="things">things</points> shows a total of {n}.'
        assert count_points(text) == _release_count(text), text


def test_round_trip_of_the_release_format():
    rng = random.Random(0)
    for n in range(1, 30):
        points = [(rng.uniform(0, 100), rng.uniform(0, 100)) for _ in range(n)]
        text = release_format(points, alt="thing", label="things")
        (parsed,) = parse_points(text, width=1000, height=500)
        expected = sorted(((round(x, 1), round(y, 1)) for x, y in points), key=lambda p: p[0] * 10000 + p[1])
        np.testing.assert_allclose(parsed.points, [(x * 10, y * 5) for x, y in expected], atol=1e-9)
        assert count_points(f"Counting the {text} shows a total of {n}.") == n


def test_fuzz_never_raises():
    rng = random.Random(1234)
    alphabet = [*"<>/=\"' xy0123456789.-eEnaifpointsalt\n", "<point", "<points", "</point>", 'x1="', "nan"]
    valid = release_format([(10.0, 20.0), (30.0, 40.0), (55.5, 66.6)], alt="a", label="b")
    for _ in range(3000):
        if rng.random() < 0.5:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        else:  # a valid answer with a few characters deleted, replaced or inserted
            chars = list(valid)
            for _ in range(rng.randint(1, 6)):
                k = rng.randrange(len(chars))
                op = rng.random()
                if op < 0.4:
                    del chars[k]
                elif op < 0.7:
                    chars[k] = rng.choice(alphabet)
                else:
                    chars.insert(k, rng.choice(alphabet))
            text = "".join(chars)
        width, height = rng.randint(1, 4000), rng.randint(1, 4000)
        parsed = parse_points(text, width, height)
        for point_set in parsed:
            assert point_set.points
            for x, y in point_set.points:
                assert 0 <= x <= width and 0 <= y <= height
        assert count_points(text) == sum(len(p.points) for p in parsed)


def test_drawing_marks_the_points():
    image = Image.new("RGB", (100, 80), (0, 0, 0))
    point_sets = parse_points(
        '<point x="25" y="75" alt="a">a</point><points x1="80" y1="20" x2="80" y2="50" alt="b">b</points>',
        width=100,
        height=80,
    )
    drawn = draw_points(image, point_sets, radius=6)
    assert drawn.mode == "RGB" and drawn.size == image.size
    assert image.getpixel((25, 60)) == (0, 0, 0)  # the original is untouched
    assert drawn.getpixel((25, 60)) == PALETTE[0]  # 25 % of 100, 75 % of 80
    assert drawn.getpixel((80, 16)) == PALETTE[1]
    assert drawn.getpixel((80, 40)) == PALETTE[1]
    assert drawn.getpixel((25 + 6, 60)) == (255, 255, 255)  # the outline
    assert drawn.getpixel((50, 40)) == (0, 0, 0)
    changed = np.any(np.asarray(drawn) != 0, axis=-1)
    assert 3 * 80 < changed.sum() < 3 * 170  # three discs of radius 6, about 113 pixels each


def test_drawing_converts_and_defaults_the_radius():
    image = Image.new("RGBA", (400, 200), (0, 0, 0, 255))
    drawn = draw_points(image, [PointSet(((200.0, 100.0),), "x", "x")])
    assert drawn.mode == "RGB"
    assert drawn.getpixel((200, 100)) == PALETTE[0]
    assert drawn.getpixel((200 + 10, 100)) == (0, 0, 0)  # default radius: 1.5 % of 200 = 3 px
