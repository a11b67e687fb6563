"""Known ways to make Markdown or HTML fetch, link or run something, as model answers could carry them.

Drawn from the CommonMark 0.31.2 specification's edge cases (links 6.3, images 6.4, autolinks 6.5, raw HTML
6.6, link reference definitions 4.7, list items 5.2), GitHub Flavored Markdown's autolink extension, the OWASP
XSS Filter Evasion Cheat Sheet (event handlers, encoded schemes, SVG/MathML, CSS url()), and the cases found
against the arena (issue 15 item 5). `{url}` stands for an absolute URL on the trap server, `{host}` for its
host and port (so `//{host}/...` is a protocol-relative URL); each case gets its own path, so a request that
reaches the trap names the case that leaked.

Each case is (name, Markdown, text that must be visible in the rendered answer or None).
"""

from __future__ import annotations

CASES: list[tuple[str, str, str | None]] = [
    # Images, by every Markdown route.
    ("image", "![chart]({url})", "[image: chart]"),
    ("image-nested-brackets", "![a [b]](//{host}/x.png)", "[image: a [b]]"),
    ("image-title", '![t]({url} "title")', "[image: t]"),
    ("image-angle-destination", "![t](<{url}>)", "[image: t]"),
    ("image-reference", "![ref image][pic]\n\n[pic]: {url}", "[image: ref image]"),
    ("image-collapsed-reference", "![pic2][]\n\n[pic2]: //{host}/c.png", "[image: pic2]"),
    ("image-shortcut-reference", "![pic3]\n\n[pic3]: {url}", "[image: pic3]"),
    ("image-in-link", "[![inner]({url})]({url})", "[image: inner]"),
    ("image-emphasis-alt", "![*bold* alt]({url})", "[image: bold alt]"),
    ("image-in-table", "| a |\n|---|\n| ![cell]({url}) |", "[image: cell]"),
    ("image-in-heading", "# ![head]({url})", "[image: head]"),
    # Links, by every Markdown route.
    ("link", "[the docs]({url})", "the docs"),
    ("link-nested-brackets", "[a [b]](//{host}/x)", "a [b]"),
    ("link-javascript", "[click me](javascript:alert(3))", "click me"),
    ("link-javascript-mixed-case", "[mixed](JaVaScRiPt:alert(1))", "mixed"),
    ("link-javascript-entity", "[entity](javascript&#58;alert(1))", "entity"),
    ("link-data-uri", "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "data"),
    ("link-vbscript", "[vb](vbscript:msgbox(1))", "vb"),
    ("link-title-attribute-break", '[t]({url} "a\\" onmouseover=\\"alert(1)")', None),
    ("link-angle-destination-with-space", "[spaced](<{url}/a b>)", "spaced"),
    ("link-reference", "[click][1]\n\n[1]: {url}", "click"),
    ("link-reference-in-list-item", "- item\n\n  [r]: //{host}/list\n\n  [in list][r]", "in list"),
    ("link-reference-in-blockquote", "> [q]: {url}\n>\n> [quoted][q]", "quoted"),
    ("link-reference-case-folded", "[Folded]\n\n[FOLDED]: {url}", "Folded"),
    ("link-in-table", "| a |\n|---|\n| [cell link]({url}) |", "cell link"),
    ("link-escaped-brackets", "[\\[esc\\]]({url})", "[esc]"),
    # Autolinks and things that look like links.
    ("autolink", "<{url}>", None),
    ("autolink-mailto", "<mailto:someone@example.org>", "mailto:someone@example.org"),
    ("autolink-email", "<someone@example.org>", "someone@example.org"),
    ("bare-email", "write to someone@example.org", "someone@example.org"),
    ("bare-url", "see {url} now", None),
    ("bare-www", "visit www.example.org today", "www.example.org"),
    # Raw HTML, which must show as text.
    ("html-img", "<img src='{url}'>", "<img src="),
    ("html-img-onerror", "<img src=x onerror=\"fetch('{url}')\">", "onerror"),
    ("html-script", "<script>fetch('{url}'); window.pwned = 1</script>", "<script>"),
    ("html-block-script", "<script>\nwindow.pwned = 1\n</script>", None),
    ("html-svg-onload", "<svg onload=\"fetch('{url}')\"></svg>", "<svg"),
    ("html-svg-image", "<svg><image href='{url}'/></svg>", None),
    ("html-iframe", "<iframe src='{url}'></iframe>", "<iframe"),
    ("html-anchor", "<a href='{url}'>html link</a>", "html link"),
    ("html-style-import", "<style>@import url('{url}');</style>", None),
    ("html-inline-style", "<div style=\"background:url('{url}')\">styled</div>", "styled"),
    ("html-link-stylesheet", "<link rel=stylesheet href='{url}'>", None),
    ("html-meta-refresh", "<meta http-equiv=refresh content=\"0;url={url}\">", None),
    ("html-object", "<object data='{url}'></object>", None),
    ("html-embed", "<embed src='{url}'>", None),
    ("html-video-poster", "<video poster='{url}'></video>", None),
    ("html-audio", "<audio src='{url}' autoplay></audio>", None),
    ("html-source-srcset", "<picture><source srcset='{url}'></picture>", None),
    ("html-input-image", "<input type=image src='{url}'>", None),
    ("html-form", "<form action='{url}'><button>send</button></form>", None),
    ("html-base", "<base href='{url}/'>", None),
    ("html-details-ontoggle", "<details open ontoggle=\"fetch('{url}')\">x</details>", None),
    ("html-math", "<math><maction actiontype=statusline xlink:href='{url}'>m</maction></math>", None),
    ("html-comment", "<!-- <img src='{url}'> -->", None),
    ("html-entities", "&lt;img src='{url}'&gt;", "<img src="),
    ("html-numeric-entities", "&#60;script&#62;window.pwned=1&#60;/script&#62;", "<script>"),
    ("html-inside-link-text", "[<img src='{url}'>]({url})", "<img src="),
    ("html-inside-image-alt", "![<img src='{url}'>]({url})", None),
    # Text that must survive as typed.
    ("code-span-specials", "`a < b && c > d`", "a < b && c > d"),
    ("code-span-entity", "`<b>&amp;</b>`", "<b>&amp;</b>"),
    ("code-block-html", "```html\n<img src='{url}'>\n```", "<img src="),
    ("indented-code-html", "    <script>window.pwned = 1</script>", "<script>"),
]
