"""The answer renderer against known Markdown/HTML injection cases and random mixtures of them: what comes out
holds only allow-listed tags and attributes (checked by parsing it), and shows what the answer typed."""

import html
import random
from html.parser import HTMLParser

import pytest

from arena.render import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, clean_html, render_markdown

from .markdown_attacks import CASES

URL, HOST = "http://127.0.0.1:9/trap", "127.0.0.1:9"


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text, of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.tags.append(("<!--", [("comment", data)]))


def _parse(fragment: str) -> _Elements:
    parser = _Elements()
    parser.feed(fragment)
    parser.close()
    return parser


def _assert_only_allowed(fragment: str) -> None:
    for tag, attributes in _parse(fragment).tags:
        assert tag in ALLOWED_TAGS, (tag, fragment)
        for name, value in attributes:
            assert name in ALLOWED_ATTRIBUTES.get(tag, ()), (tag, name, fragment)
            if name == "style":
                assert value is not None and value.replace(" ", "") in (
                    "text-align:left", "text-align:right", "text-align:center"), fragment


@pytest.mark.parametrize(("name", "source", "visible"), CASES, ids=[case[0] for case in CASES])
def test_known_injections_render_to_allowed_tags_only(name, source, visible):
    shown = render_markdown(source.format(url=f"{URL}/{name}", host=HOST))
    _assert_only_allowed(shown)
    text = "".join(_parse(shown).text)
    if visible is not None:
        assert visible in text


@pytest.mark.parametrize(("name", "source", "visible"), CASES, ids=[case[0] for case in CASES])
def test_the_last_step_alone_removes_what_the_parser_would_have_let_through(name, source, visible):
    """The allow-list holds by itself: raw HTML fed straight to it, as if the parser had passed it on."""
    raw = source.format(url=f"{URL}/{name}", host=HOST)
    _assert_only_allowed(clean_html(raw))
    _assert_only_allowed(clean_html(f"<p style=\"background:url({URL})\"><a href=\"{URL}\">{raw}</a></p>"))


def test_random_mixtures_of_the_cases_stay_within_the_allow_list():
    rng = random.Random(0)
    glue = ["", "\n", "\n\n", " ", "\n- ", "\n> ", "\n1. ", "\n    ", "|", "\n\n| x |\n|---|\n| "]
    sources = [source for _, source, _ in CASES]
    for _ in range(400):
        parts = [rng.choice(sources).format(url=URL, host=HOST) for _ in range(rng.randint(2, 5))]
        mixed = "".join(part + rng.choice(glue) for part in parts)
        cut = rng.randint(0, len(mixed))  # and broken off anywhere, as an answer cut at max_new_tokens is
        for text in (mixed, mixed[:cut]):
            _assert_only_allowed(render_markdown(text))


def test_what_the_issue_found_no_longer_gets_through():
    """Issue 15 item 5, case by case."""
    assert render_markdown("![a [b]](//host/x.png)") == "<p>[image: a [b]]</p>\n"
    assert render_markdown("[a [b]](//host/y)") == "<p>a [b]</p>\n"
    assert render_markdown("- item\n\n  [r]: //host/r\n\n  [x][r]") == (
        "<ul>\n<li>\n<p>item</p>\n<p>x</p>\n</li>\n</ul>\n")
    assert render_markdown("write to a@b.org or <a@b.org>") == "<p>write to a@b.org or a@b.org</p>\n"
    assert render_markdown("`a < b && c > d`") == "<p><code>a &lt; b &amp;&amp; c &gt; d</code></p>\n"
    assert render_markdown("[click me](javascript:alert(3))") == "<p>click me</p>\n"


def test_html_is_shown_as_typed():
    shown = render_markdown("<script>alert(1)</script> <b>bold</b> & <point x=\"1\" y=\"2\">p</point>")
    assert html.unescape("".join(_parse(shown).text)).strip() == (
        "<script>alert(1)</script> <b>bold</b> & <point x=\"1\" y=\"2\">p</point>")


def test_ordinary_markdown_keeps_its_formatting():
    shown = render_markdown("**Two** cats:\n\n- one *black*\n- one `white`\n\n| a | b |\n|--:|---|\n| 1 | 2 |\n\n"
                            "3. third\n\n~~old~~\n\n```\nx = 1\n```")
    assert shown == (
        "<p><strong>Two</strong> cats:</p>\n<ul>\n<li>one <em>black</em></li>\n<li>one <code>white</code></li>\n"
        "</ul>\n<table>\n<thead>\n<tr>\n<th style=\"text-align:right\">a</th>\n<th>b</th>\n</tr>\n</thead>\n"
        "<tbody>\n<tr>\n<td style=\"text-align:right\">1</td>\n<td>2</td>\n</tr>\n</tbody>\n</table>\n"
        "<ol start=\"3\">\n<li>third</li>\n</ol>\n<p><s>old</s></p>\n<pre><code>x = 1\n</code></pre>\n")
