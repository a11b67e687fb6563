"""Showing model answers safely: Markdown that runs no HTML and loads no image, link or script."""

from __future__ import annotations

import html
import re

_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto|data|javascript):[^>]*)>", re.IGNORECASE)
_BARE_URL = re.compile(r"\b((?:https?|ftp)://|www\.)", re.IGNORECASE)


def safe_markdown(text: str) -> str:
    """Markdown with every way to fetch or run something neutralised, the rest of the formatting kept.

    Images become "[image: alt]", links keep only their text, reference definitions and autolinks are
    shown as plain text, bare URLs are broken so no renderer turns them into links, and every HTML tag is
    escaped so it shows as text.
    """
    text = _IMAGE.sub(lambda m: f"[image: {m.group(1)}]", text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _REFERENCE_DEFINITION.sub(lambda m: m.group(0).replace("[", "\\[").replace("]", "\\]"), text)
    text = _AUTOLINK.sub(lambda m: m.group(1), text)
    text = html.escape(text, quote=False)
    return _BARE_URL.sub(lambda m: m.group(1).replace("://", ":\u200b//").replace("www.", "www\u200b."), text)
