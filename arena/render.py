"""Showing model answers (and questions) safely: Markdown to HTML that loads, links and runs nothing.

One path for every text the arena shows, in three steps:

1. markdown-it-py parses the text as CommonMark with tables and strikethrough, raw HTML off (an HTML tag in an
   answer is text, shown as typed), bare URLs not turned into links;
2. on the parsed tree, every image becomes the text "[image: ALT]", however it was written (inline, by
   reference, inside a link);
3. nh3 (the ammonia sanitizer) parses the rendered HTML and keeps only an allow-list of formatting tags with no
   URL attribute at all: every link (inline, by a reference defined anywhere, autolink, e-mail) keeps only its
   text, and nothing can fetch or run anything.

The allow-list and the attack cases it is tested against are described in docs/arena.md.
"""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
})
# The only attributes kept: a list's start number and a table column's alignment (style: text-align alone).
ALLOWED_ATTRIBUTES = {"ol": {"start"}, "th": {"style"}, "td": {"style"}}
ALLOWED_STYLE_PROPERTIES = frozenset({"text-align"})


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    # Accept every link destination at parse time (javascript: included): links lose their target in the
    # cleaning step, so a refused destination would only leave the source's brackets on the screen.
    parser.validateLink = lambda _url: True
    return parser


_MARKDOWN = _parser()


@functools.lru_cache(maxsize=1024)
def render_markdown(text: str) -> str:
    """HTML for `text` read as Markdown, with every link reduced to its text, every image to "[image: ALT]",
    raw HTML shown as text, and only `ALLOWED_TAGS` / `ALLOWED_ATTRIBUTES` left in the result. Cached: the vote
    page renders the same question and answers on each of its runs."""
    tokens = _MARKDOWN.parse(text)
    for token in tokens:
        if token.children is not None:
            token.children = [_as_text(child) if child.type == "image" else child for child in token.children]
    return clean_html(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}))


def clean_html(html: str) -> str:
    """`html` with every tag outside `ALLOWED_TAGS` and every attribute outside `ALLOWED_ATTRIBUTES` removed
    (script and style elements with their content), by nh3; no URL scheme is allowed anywhere."""
    return nh3.clean(html, tags=set(ALLOWED_TAGS), attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
                     filter_style_properties=set(ALLOWED_STYLE_PROPERTIES), url_schemes=set(), link_rel=None,
                     strip_comments=True)


def _as_text(image: Token) -> Token:
    alt = "".join(child.content for child in image.children or [] if child.type in ("text", "code_inline"))
    return Token("text", "", 0, content=f"[image: {alt}]")
