import base64
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from leaderboard.simulate import write_battles_jsonl
from molmo_arena import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "results/samples/battles_simulated_molmo27.jsonl.gz"
TABLE1 = ROOT / "results/reference/molmo_paper_table1.csv"


@pytest.fixture
def battles_file(tmp_path, battles):
    path = tmp_path / "battles.jsonl"
    write_battles_jsonl(battles, path)
    return path


def test_fit_writes_ratings_files_byte_identically(tmp_path, battles_file, capsys):
    for out in ("one", "two"):
        assert main(["leaderboard", "fit", str(battles_file), "--out", str(tmp_path / out), "--rounds", "200"]) == 0
    for name in ("ratings.csv", "ratings.json", "pairwise.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    table = pd.read_csv(tmp_path / "one/ratings.csv", keep_default_na=False)
    assert list(table.columns) == ["model", "rating", "lower", "upper", "rank", "battles", "wins", "losses", "ties",
                                   "flags"]
    assert list(table["model"]) == ["alpha", "bravo", "charlie", "delta", "echo"]
    document = json.loads((tmp_path / "one/ratings.json").read_text())
    assert document["settings"]["rounds"] == 200 and document["settings"]["ci"] == "bootstrap"
    assert re.fullmatch(r"[0-9a-f]{64}", document["input"]["sha256"])
    assert document["ratings"][0]["model"] == "alpha"
    assert document["selection"] == {"read": 6000, "self_battles": 0, "named": 0, "used": 6000}
    pairwise = pd.read_csv(tmp_path / "one/pairwise.csv")
    assert len(pairwise) == 10 and pairwise["decided"].dtype == bool
    assert "alpha" in capsys.readouterr().out


def test_fit_options_reach_the_fit(tmp_path, battles_file):
    out = tmp_path / "out"
    assert main(["leaderboard", "fit", str(battles_file), "--out", str(out), "--ci", "sandwich", "--ties", "drop",
                 "--anchor", "echo=800", "--min-battles", "5000", "--category", "ocr", "--quiet"]) == 0
    document = json.loads((out / "ratings.json").read_text())
    assert document["settings"]["anchor"] == ["echo", 800.0]
    echo = next(r for r in document["ratings"] if r["model"] == "echo")
    assert echo["rating"] == echo["lower"] == echo["upper"] == 800.0
    assert echo["ties"] == 0 and echo["flags"] == ["few_battles"]
    assert document["selection"]["other_categories"] > 0


def test_bad_input_exits_non_zero_and_leaves_the_output_alone(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"model_a": "x", "model_b": "y", "winner": "model_a"}\n'
                   '{"model_a": "x", "model_b": "y", "winner": "x"}\n')
    out = tmp_path / "out"
    out.mkdir()
    (out / "ratings.csv").write_text("earlier results\n")
    assert main(["leaderboard", "report", str(bad), "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert error == ("molmo-arena: error: " + str(bad) + ": line 2: field 'winner': unknown value 'x' "
                     "(expected one of model_a, model_b, tie, tie (bothbad))")
    assert sorted(p.name for p in out.iterdir()) == ["ratings.csv"]
    assert (out / "ratings.csv").read_text() == "earlier results\n"
    assert not list(tmp_path.glob(".out-*"))


def test_bad_anchor_and_missing_file_are_one_line_errors(tmp_path, battles_file, capsys):
    assert main(["leaderboard", "fit", str(battles_file), "--out", str(tmp_path / "o"), "--anchor", "nobody=1"]) == 2
    assert "model 'nobody' is not in the battles" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["leaderboard", "fit", str(battles_file), "--out", str(tmp_path / "o"), "--anchor", "no-equals"])
    assert main(["leaderboard", "fit", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "absent.csv: no such file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_report_on_the_shipped_sample_shows_every_plot(tmp_path):
    out = tmp_path / "report"
    assert main(["leaderboard", "report", str(SAMPLE), "--benchmarks", str(TABLE1), "--out", str(out),
                 "--rounds", "200", "--quiet", "--title", "Simulated <votes>"]) == 0
    page = (out / "report.html").read_text()
    assert "<title>Simulated &lt;votes&gt;</title>" in page
    images = re.findall(r'<figure id="(\w+)"><img alt="[^"]+" src="data:image/png;base64,([^"]+)"', page)
    assert [name for name, _ in images] == ["ratings", "win_fraction", "battle_counts", "win_probability",
                                            "benchmarks"]
    for _, data in images:
        width, height = Image.open(io.BytesIO(base64.b64decode(data))).size
        assert width > 300 and height > 200
    markdown = (out / "report.md").read_text()
    for name, _ in images:
        assert f"(plots/{name}.png)" in markdown
        assert (out / "plots" / f"{name}.png").stat().st_size > 10_000
    assert "## By category" in markdown and "| model | captioning | charts | counting |" in markdown
    assert "Spearman rank correlation" in markdown
    assert "Molmo-72B" in markdown and "Warning" not in markdown


def test_simulate_writes_a_reproducible_sample(tmp_path, capsys):
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("model,elo\nx,1100\ny,1000\nz,900\n")
    paths = [tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"]
    for path in paths:
        assert main(["leaderboard", "simulate", "--ratings", str(ratings), "--battles", "300", "--seed", "4",
                     "--categories", "chart,ocr", "--out", str(path)]) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    frame = pd.read_json(paths[0], lines=True)
    assert len(frame) == 300 and set(frame["category"]) == {"chart", "ocr"}
    assert frame["judge"].str.startswith("simulated-annotator-").all()


def test_the_shipped_sample_is_what_simulate_makes(tmp_path):
    """The sample in results/samples/ can be re-created from the paper's ratings by the documented command."""
    out = tmp_path / "sample.jsonl.gz"
    assert main(["leaderboard", "simulate", "--ratings", str(TABLE1), "--battles", "20000", "--seed", "0",
                 "--categories", "output format,fine-grained QA,general,document,captioning,counting,homework,"
                 "charts,named entities,creative", "--out", str(out)]) == 0
    assert out.read_bytes() == SAMPLE.read_bytes()


def test_the_command_starts_without_heavy_imports():
    code = "import sys, molmo_arena; molmo_arena.build_parser(); print(sorted({'numpy', 'pandas', 'matplotlib', " \
           "'torch', 'scipy'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    help_text = subprocess.run([sys.executable, "-m", "molmo_arena", "leaderboard", "fit", "--help"],
                               capture_output=True, text=True, check=True).stdout
    assert "--ci {bootstrap,sandwich}" in help_text


def test_style_control_and_voter_options_reach_the_fit(tmp_path):
    from leaderboard.simulate import simulate_battles, write_battles_parquet

    battles = simulate_battles({"a": 1100, "b": 1000, "c": 950, "d": 900}, 4000, seed=2, judges=8,
                               style={"tokens": 0.3, "bold": 0.1, "headers": 0.0, "lists": 0.05, "points": 0.2})
    path = tmp_path / "battles.parquet"
    write_battles_parquet(battles, path)
    out = tmp_path / "out"
    assert main(["leaderboard", "fit", str(path), "--out", str(out), "--ci", "sandwich", "--style-control",
                 "--style-ridge", "0.5", "--daily-votes-per-judge", "20", "--outlier-test", "--keep-outliers",
                 "--reweight-pairs", "--quiet"]) == 0
    document = json.loads((out / "ratings.json").read_text())
    settings = document["settings"]
    assert settings["style_control"] and settings["style_ridge"] == 0.5 and settings["reweight_pairs"]
    assert settings["style_features"] == ["tokens", "headers", "lists", "bold", "points"]
    assert document["selection"]["over_daily_cap"] > 0
    coefficients = document["style_control"]["coefficients"]
    assert [c["feature"] for c in coefficients] == settings["style_features"]
    assert all(c["lower"] < c["beta"] < c["upper"] for c in coefficients)
    table = pd.read_csv(out / "ratings.csv")
    styled = {r["model"]: r["rating"] for r in document["ratings"]}
    plain = {r["model"]: r["rating"] for r in document["style_control"]["without_style_control"]}
    assert dict(zip(table["model"], table["rating"], strict=True)) == styled != plain
    assert main(["leaderboard", "fit", str(path), "--out", str(out), "--style-features", "tokens,colour",
                 "--style-control"]) == 2


def test_a_wildvision_dump_with_self_battles_fits_and_says_what_it_dropped(tmp_path, capsys):
    from .dumps import wildvision_battles

    path = wildvision_battles(tmp_path / "wildvision_battles.parquet", n=300, self_battles=12)
    out = tmp_path / "out"
    assert main(["leaderboard", "report", str(path), "--out", str(out), "--ci", "sandwich", "--quiet"]) == 0
    assert "warning: 12 battles of a model against itself were dropped" in capsys.readouterr().err
    document = json.loads((out / "ratings.json").read_text())
    assert document["diagnostics"]["self_battles"] == document["selection"]["self_battles"] == 12
    assert "removed: 12 self battles" in (out / "report.md").read_text()
