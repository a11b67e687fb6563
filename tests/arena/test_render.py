from arena.render import safe_markdown


def test_html_is_shown_as_text():
    assert safe_markdown("<script>alert(1)</script> <b>bold</b>") == (
        "&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;bold&lt;/b&gt;"
    )


def test_images_and_links_lose_their_targets():
    text = "See ![a chart](http://evil.test/x.png) and [the docs](https://evil.test/docs) or <https://evil.test>."
    shown = safe_markdown(text)
    assert "evil.test/x.png" not in shown and "(https://evil.test/docs)" not in shown
    assert shown.startswith("See [image: a chart] and the docs or https:\u200b//evil.test.")


def test_reference_links_and_bare_urls_cannot_become_links():
    shown = safe_markdown("[click][1]\n\n[1]: http://evil.test/a\nvisit www.evil.test or http://evil.test")
    assert "\\[1\\]: http:\u200b//evil.test/a" in shown
    assert "www\u200b.evil.test" in shown and "http://" not in shown


def test_ordinary_markdown_survives():
    text = "**Two** cats:\n\n- one *black*\n- one `white`\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    assert safe_markdown(text) == text
