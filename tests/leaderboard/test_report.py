import re

import numpy as np
import pytest

from leaderboard import plots
from leaderboard.ratings import FitSettings, fit_leaderboard
from leaderboard.report import build_report
from leaderboard.simulate import simulate_battles

STYLE = {"tokens": 0.3, "headers": 0.02, "lists": 0.05, "bold": 0.1, "points": 0.15}


def _arena(models: int, battles: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = {f"vendor-{i % 13}/model-{i:03d}-instruct-preview": r for i, r in enumerate(rng.normal(1000, 100, models))}
    return simulate_battles(truth, battles, seed=seed, popularity=rng.lognormal(0, 1, models), style=STYLE,
                            categories=("ocr", "charts"))


@pytest.mark.parametrize("models", [27, 250])
def test_no_text_of_any_figure_is_cut_off(models):
    table = fit_leaderboard(_arena(models, 20 * models), FitSettings(ci="sandwich")).table()
    labels = list(table["model"])[:25]
    matrix = np.random.default_rng(0).random((25, 25))
    title = "Predicted probability that model A beats model B (the top 25 of 250 models by rating)"
    for figure in (plots.ratings_figure(table, "Ratings with 95% intervals (style control)"),
                   plots.matrix_figure(matrix, labels, title, ".2f", "RdBu", 0, 1),
                   plots.benchmark_figure(table.assign(avg=np.arange(len(table))), "avg", title)):
        assert plots.clipped_texts(figure) == []


def test_a_title_too_long_for_one_line_is_wrapped_not_cut():
    table = fit_leaderboard(_arena(5, 500), FitSettings(ci="sandwich")).table()
    figure = plots.ratings_figure(table, "A report title long enough to run past the edge of the figure " * 3)
    assert plots.clipped_texts(figure) == []
    assert "\n" in figure.get_suptitle()


def test_style_control_report_shows_both_rankings_and_the_coefficients():
    battles = _arena(27, 20_000)
    board = fit_leaderboard(battles, FitSettings(ci="sandwich", style_control=True))
    files = build_report(battles, board, {"file": "battles.parquet", "sha256": "ab" * 32}, "Arena v2")
    markdown = files["report.md"].decode()
    assert "| rank | rank without style control | rank change | model |" in markdown
    assert "## Style control" in markdown and "| answer length (tokens) |" in markdown
    assert "Without it the ratings move by at most" in markdown
    assert "Last updated: 2023-11-" in markdown and "| votes |" in markdown
    page = files["report.html"].decode()
    assert "<code>battles.parquet</code>" in page and "`" not in re.sub(r"<[^>]+>", "", page)
    assert "(the top 25 of 27 models by rating)" in page


@pytest.mark.slow
@pytest.mark.parametrize("models", [27, 250])
def test_report_in_chromium_at_1280_pixels(tmp_path, models):
    """Nothing overflows the page, every plot is loaded and inside it, no Markdown shows through."""
    import shutil

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("no Chromium on this machine (Debian: apt-get install chromium)")
    battles = _arena(models, 40 * models)
    settings = FitSettings(ci="sandwich", style_control=True)
    files = build_report(battles, fit_leaderboard(battles, settings), {"file": "b.parquet", "sha256": "0" * 64},
                         "Simulated arena: " + "a title that goes on " * 6)
    (tmp_path / "report.html").write_bytes(files["report.html"])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((tmp_path / "report.html").as_uri())
        page.screenshot(path=str(tmp_path / "top.png"))
        width = page.evaluate("document.documentElement.scrollWidth")
        images = page.evaluate("""[...document.images].map(i => ({w: i.naturalWidth,
            right: i.getBoundingClientRect().right, box: i.parentElement.getBoundingClientRect().right}))""")
        title = page.evaluate("(() => { const h = document.querySelector('h1'); "
                              "return [h.scrollWidth, h.clientWidth]; })()")
        text = page.evaluate("document.body.innerText")
        browser.close()
    assert width <= 1280
    assert len(images) == 4 and all(i["w"] > 300 and i["right"] <= i["box"] + 0.5 for i in images)
    assert title[0] <= title[1]
    assert "`" not in text and "**" not in text
